//! The interior agency (being written; see docs/adding-an-agency.md).

//! The municipal agency (being written; see docs/adding-an-agency.md).

//! rabt-store

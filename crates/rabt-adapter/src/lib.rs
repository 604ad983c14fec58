//! rabt-adapter

//! rabt-tests

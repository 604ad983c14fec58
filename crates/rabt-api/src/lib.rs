//! rabt-api

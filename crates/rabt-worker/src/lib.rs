//! rabt-worker

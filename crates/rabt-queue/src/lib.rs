//! rabt-queue

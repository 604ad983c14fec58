//! rabt

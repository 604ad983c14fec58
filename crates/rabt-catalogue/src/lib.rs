//! rabt-catalogue

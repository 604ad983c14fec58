//! rabt-adapter-saudi-post

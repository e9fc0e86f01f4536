//! The follower against a writer in another thread.

//! Integration tests of flatstream-tokio, in one binary.

mod codec;
mod streams;

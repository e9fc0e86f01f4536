//! Integration tests of flatstream-tokio, in one binary.

mod attacks;
mod both_worlds;
mod codec;
mod common;
mod streams;

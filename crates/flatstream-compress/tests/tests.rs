//! The integration tests of flatstream-compress, one binary.

mod allocation;
mod chunked;
mod common;
mod hostile;
mod per_frame;
mod reader_modes;

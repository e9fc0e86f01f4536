//! The integration tests of flatstream-encrypt, one binary.

mod allocation;
mod attack6;
mod attacks;
mod common;
mod conformance;
mod detection;
mod oracle;
mod reader_modes;

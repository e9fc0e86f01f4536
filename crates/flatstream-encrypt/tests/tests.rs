//! The integration tests of flatstream-encrypt, one binary.

mod allocation;
mod attacks;
mod common;
mod conformance;
mod detection;
mod forgeries;
mod oracle;
mod reader_modes;

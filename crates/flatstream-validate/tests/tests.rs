//! Integration tests of flatstream-validate, in one binary.

mod hostile;
mod schema;

//! flatstream-inspect's integration tests: one binary (see the crate's `autotests = false`).

mod json;
mod schema;

use std::path::PathBuf;

/// A file under `tests/data/`.
pub(crate) fn data(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

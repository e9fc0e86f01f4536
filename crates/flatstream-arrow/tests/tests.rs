//! flatstream-arrow's integration tests: one binary (see the crate's `autotests = false`).

mod telemetry;
mod types;

use std::path::PathBuf;

/// A file under `tests/data/`, or under flatstream-inspect's.
pub(crate) fn data(name: &str) -> Vec<u8> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = [
        root.join("tests/data"),
        root.join("../flatstream-inspect/tests/data"),
    ]
    .into_iter()
    .map(|dir| dir.join(name))
    .find(|path| path.exists())
    .unwrap_or_else(|| panic!("{name} in neither tests/data"));
    std::fs::read(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A stream (no checksum) of `payloads`.
pub(crate) fn stream_of<'a>(payloads: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut writer = flatstream_io::StreamWriter::new(Vec::new(), flatstream_io::DefaultFramer);
    for payload in payloads {
        writer.write_payload(payload).unwrap();
    }
    writer.flush().unwrap();
    writer.into_inner()
}

//! What the test modules share: checksums by name.

use flatstream::ChecksumKind;
use flatstream_core::Checksum;

/// The checksum of a conformance vector or a test case, by the name `Checksum::name` gives.
pub(crate) fn checksum_by_name(name: &str) -> Box<dyn Checksum + Send + Sync> {
    name.parse::<ChecksumKind>()
        .unwrap_or_else(|error| panic!("{error}"))
        .checksum()
}

/// Every algorithm's name.
pub(crate) fn algorithms() -> impl Iterator<Item = &'static str> {
    ChecksumKind::all().iter().copied().map(ChecksumKind::name)
}

// The README's quick start uses CRC-32C. It is the crate doc always, and a doctest only with
// feature `crc32c`: a README shows no rustdoc-hidden `#[cfg]` lines.
#![cfg_attr(any(not(doctest), feature = "crc32c"), doc = include_str!("../README.md"))]
#![cfg_attr(
    all(doctest, not(feature = "crc32c")),
    doc = "Streams of FlatBuffers messages (the README's quick start needs feature `crc32c`)."
)]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use flatstream_core::{
    Checksum, DEFAULT_MAX_FRAME_LEN, Deframer, Error, ErrorKind, FramePart, Framer, NoChecksum,
    Result, StreamDeserialize, StreamSerialize, Validator, flatbuffers, verified_root, wire,
};
pub use flatstream_io::{
    BoundedDeframer, BoundedFramer, Buffered, ChecksumDeframer, ChecksumFramer, Copying,
    DEFAULT_BUFFER_SIZE, DEFAULT_FRAME_BUFFER_SIZE, DefaultDeframer, DefaultFramer, DeframerExt,
    FrameBuffer, FrameSink, FramerExt, InPlace, IntoInnerError, MemoryPolicy, Messages,
    ObserverDeframer, ObserverFramer, Progress, ReadMode, RecoveryReport, SalvageReport,
    SliceReader, StreamEnd, StreamReader, StreamWriter, Truncate, TypedMessages,
    ValidatingDeframer, ValidatingFramer, WriteProgress, ZERO_FILL_MIN_LEN, ZeroFillCheck,
    ZeroFillGuard, find_intact_frame, placed_builder, recover, recover_file,
    recover_file_with_progress, salvage, salvage_slice, salvage_slice_with_progress,
};

mod detect;
pub use detect::{
    ChecksumKind, DETECT_FRAMES, Detected, UnknownChecksum, detect_checksum,
    detect_checksum_with_limit,
};

#[cfg(feature = "mmap")]
#[cfg_attr(docsrs, doc(cfg(feature = "mmap")))]
pub use flatstream_io::{MappedBytes, MmapReader};

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub use flatstream_tokio::{
    AsyncStreamReader, AsyncStreamWriter, ChecksumCodec, FlatstreamCodec, FrameDecoder,
    FrameEncoder,
};

#[cfg(feature = "follow")]
#[cfg_attr(docsrs, doc(cfg(feature = "follow")))]
pub use flatstream_follow::{Follow, FollowConfig};

/// Compression: per-frame adapters (`framer.compressed(codec)`,
/// `deframer.decompressed(codec)`) and compressed chunks; the codecs by feature (`zstd`,
/// `lz4`). See [`flatstream-compress`](flatstream_compress).
#[cfg(feature = "compress")]
#[cfg_attr(docsrs, doc(cfg(feature = "compress")))]
pub use flatstream_compress as compress;

/// Encryption: `framer.encrypted(&key)`, `deframer.decrypted(&key)`, XChaCha20-Poly1305 or
/// AES-256-GCM per frame, bound to the stream and the frame's place in it. See
/// [`flatstream-encrypt`](flatstream_encrypt).
#[cfg(feature = "encrypt")]
#[cfg_attr(docsrs, doc(cfg(feature = "encrypt")))]
pub use flatstream_encrypt as encrypt;
/// Schema-aware reading: binary schemas (`.bfbs`), the reflection verifier as a
/// [`Validator`], JSON output. See [`flatstream-inspect`](flatstream_inspect).
#[cfg(feature = "inspect")]
#[cfg_attr(docsrs, doc(cfg(feature = "inspect")))]
pub use flatstream_inspect as inspect;

/// Arrow export: a stream and a binary schema as record batches (an iterator), written as
/// Parquet or Arrow IPC. See [`flatstream-arrow`](flatstream_arrow).
#[cfg(feature = "arrow")]
#[cfg_attr(docsrs, doc(cfg(feature = "arrow")))]
pub use flatstream_arrow as arrow;

#[cfg(feature = "validate")]
#[cfg_attr(docsrs, doc(cfg(feature = "validate")))]
pub use flatstream_validate::{
    CompositeValidator, NoValidator, SizeValidator, StructuralValidator, TableRootValidator,
    TypedValidator,
};

#[cfg(feature = "crc16")]
#[cfg_attr(docsrs, doc(cfg(feature = "crc16")))]
pub use flatstream_checksum_crc16::Crc16;
#[cfg(feature = "crc32")]
#[cfg_attr(docsrs, doc(cfg(feature = "crc32")))]
pub use flatstream_checksum_crc32::Crc32;
#[cfg(feature = "crc32c")]
#[cfg_attr(docsrs, doc(cfg(feature = "crc32c")))]
pub use flatstream_checksum_crc32c::Crc32c;
#[cfg(feature = "crc64")]
#[cfg_attr(docsrs, doc(cfg(feature = "crc64")))]
pub use flatstream_checksum_crc64::Crc64;
#[cfg(feature = "xxh3")]
#[cfg_attr(docsrs, doc(cfg(feature = "xxh3")))]
pub use flatstream_checksum_xxh3::{XxHash64, Xxh3};

// The repository README's Rust example compiles and runs as a doctest.
#[cfg(all(doctest, feature = "crc32c"))]
#[doc = include_str!("../../../README.md")]
struct RepositoryReadme;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every checksum compiled in, with its name: what a feature flag switches on.
    fn compiled_checksums() -> Vec<&'static str> {
        // Not mutated when no checksum feature is on.
        #[allow(unused_mut)]
        let mut names = vec![NoChecksum.name()];
        #[cfg(feature = "crc16")]
        names.push(Crc16.name());
        #[cfg(feature = "crc32")]
        names.push(Crc32.name());
        #[cfg(feature = "crc32c")]
        names.push(Crc32c.name());
        #[cfg(feature = "crc64")]
        names.push(Crc64.name());
        #[cfg(feature = "xxh3")]
        names.push(Xxh3.name());
        names
    }

    #[test]
    fn features_select_the_checksums() {
        let names = compiled_checksums();
        assert_eq!(names.contains(&"crc16"), cfg!(feature = "crc16"));
        assert_eq!(names.contains(&"crc32"), cfg!(feature = "crc32"));
        assert_eq!(names.contains(&"crc32c"), cfg!(feature = "crc32c"));
        assert_eq!(names.contains(&"crc64"), cfg!(feature = "crc64"));
        assert_eq!(names.contains(&"xxh3"), cfg!(feature = "xxh3"));
    }

    #[cfg(feature = "validate")]
    #[test]
    fn validate_feature_brings_the_validators() {
        let mut writer = StreamWriter::new(
            Vec::new(),
            DefaultFramer::new().with_validator(StructuralValidator::new()),
        );
        assert!(writer.write_payload(b"not a flatbuffer").is_err());
        assert!(writer.write("a string root is a FlatBuffer").is_err());
        assert!(writer.get_ref().is_empty());
    }

    #[cfg(feature = "validate")]
    #[test]
    fn the_seed_spellings_work_through_the_facade() {
        let framer = DefaultFramer.with_validator(TableRootValidator::new());
        let mut writer = StreamWriter::new(Vec::new(), framer);
        assert!(writer.write_payload(b"not a flatbuffer").is_err());
        let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
        writer.write_payload(b"12345").unwrap();
        let stream = writer.into_inner();
        let deframer: BoundedDeframer<DefaultDeframer> = DefaultDeframer::new().bounded(4);
        let error = SliceReader::new(&stream, deframer)
            .next()
            .unwrap()
            .unwrap_err();
        assert!(matches!(
            error.kind(),
            ErrorKind::FrameTooLarge { len: 5, max: 4 }
        ));
    }

    #[test]
    fn round_trip_without_any_checksum_crate() {
        let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
        writer.write("no features needed").unwrap();
        let stream = writer.into_inner();
        let mut reader = StreamReader::new(stream.as_slice(), DefaultDeframer::new());
        let mut seen = Vec::new();
        reader
            .process_typed::<str, _>(|text| {
                seen.push(text.to_owned());
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, ["no features needed"]);
    }
}

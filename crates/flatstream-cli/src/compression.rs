//! `--compress`, `--level`, `--dict`, `--chunk`: the codec a command writes or reads with,
//! the writer that applies it, and the reader's side (per-frame decompression in the
//! deframer chain, or chunks unpacked after the outer frame was read).

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use flatstream::compress::{
    AnyCodec, ChunkDecoder, ChunkWriter, CompressFramerExt, CompressingFramer,
    DecompressDeframerExt, DecompressingDeframer, Lz4, Zstd, is_chunk,
};
use flatstream::wire::LENGTH_LEN;
use flatstream::{
    ChecksumKind, Deframer, DeframerExt, Error, FrameBuffer, NoValidator, Result, StreamSerialize,
    StreamWriter, ValidatingDeframer, Validator,
};

use crate::encryption::{CliFramer, EncryptionArgs};
use crate::failure::Failure;
use crate::maybe::OrPlain;

/// A codec by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CompressName {
    /// No compression.
    None,
    /// zstd (with --level, and --dict for small messages).
    Zstd,
    /// lz4: fast, no levels, no dictionary.
    Lz4,
}

/// Compression options: every writing and reading command takes them.
#[derive(Debug, Clone, Args)]
pub(crate) struct CompressionArgs {
    /// Compress the messages written, or decompress those read (recover and salvage need
    /// none: a compressed stream's frames are ordinary frames).
    #[arg(long, global = true, value_enum, default_value_t = CompressName::None)]
    pub(crate) compress: CompressName,
    /// The zstd compression level (1 fastest to 22 smallest).
    #[arg(long, global = true, default_value_t = Zstd::DEFAULT_LEVEL, allow_negative_numbers = true)]
    pub(crate) level: i32,
    /// A zstd dictionary (from `flatstream dict train`): writing compresses with it, reading
    /// needs the same one.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) dict: Option<PathBuf>,
    /// Gather messages into compressed chunks of this many uncompressed bytes (0: compress
    /// each frame alone, the default for writing). Reading detects chunks when omitted.
    #[arg(long, global = true, value_name = "BYTES")]
    pub(crate) chunk: Option<usize>,
}

impl CompressionArgs {
    /// No compression.
    pub(crate) fn none() -> Self {
        CompressionArgs {
            compress: CompressName::None,
            level: Zstd::DEFAULT_LEVEL,
            dict: None,
            chunk: None,
        }
    }

    /// The codec named, with its level and dictionary; `None` for `--compress none`.
    ///
    /// # Errors
    ///
    /// Exit status 2 for a dictionary that cannot be read or is not one, or given for a
    /// codec that takes none.
    pub(crate) fn codec(&self) -> std::result::Result<Option<AnyCodec>, Failure> {
        let dictionary = match &self.dict {
            Some(path) => Some(std::fs::read(path).map_err(|error| Failure::usage(path, error))?),
            None => None,
        };
        Ok(match (self.compress, dictionary) {
            (CompressName::None, None) => None,
            (CompressName::Zstd, None) => Some(Zstd::new(self.level).into()),
            (CompressName::Zstd, Some(dictionary)) => Some(
                Zstd::with_dictionary(self.level, dictionary)
                    .map_err(|error| {
                        Failure::usage(self.dict.as_deref().unwrap_or(Path::new("")), error)
                    })?
                    .into(),
            ),
            (CompressName::Lz4, None) => Some(Lz4::new().into()),
            (name, Some(_)) => {
                return Err(Failure::Usage(format!(
                    "--dict needs --compress zstd (not {})",
                    name.to_possible_value()
                        .map_or_else(String::new, |value| value.get_name().to_owned())
                )));
            }
        })
    }

    /// Whether to read a stream as chunks: `--chunk` says so (0 is per frame), or else
    /// `first_payload_is_chunk` (the first frame's payload, decrypted when it must be,
    /// begins with the chunk marker). Only with a codec.
    pub(crate) fn reads_chunks(&self, first_payload_is_chunk: impl FnOnce() -> bool) -> bool {
        if self.compress == CompressName::None {
            return false;
        }
        if let Some(chunk) = self.chunk {
            return chunk > 0;
        }
        first_payload_is_chunk()
    }
}

/// Whether the first frame's payload in `path` begins with the chunk marker, read as it is
/// on the wire.
pub(crate) fn first_payload_is_chunk(path: &Path, checksum_len: usize) -> bool {
    let mut start = Vec::new();
    File::open(path)
        .and_then(|file| {
            file.take((LENGTH_LEN + checksum_len + 4) as u64)
                .read_to_end(&mut start)
        })
        .is_ok_and(|_| {
            start.len() > LENGTH_LEN + checksum_len && is_chunk(&start[LENGTH_LEN + checksum_len..])
        })
}

type BoxedFramer = CliFramer;

/// A stream writer that compresses as the options say, gathering frames for its writer in a
/// [`FrameBuffer`].
pub(crate) enum MessageWriter<W: Write> {
    Plain(StreamWriter<FrameBuffer<W>, BoxedFramer>),
    PerFrame(StreamWriter<FrameBuffer<W>, CompressingFramer<BoxedFramer, AnyCodec>>),
    Chunked(ChunkWriter<FrameBuffer<W>, BoxedFramer, AnyCodec>),
}

impl<W: Write> MessageWriter<W> {
    /// A writer of frames checksummed by `checksum`, compressed as `compression` says,
    /// then encrypted as `encryption` says, none with a payload over `max_frame_len` on the
    /// wire, written to `writer` through a buffer of `buffer_size` bytes.
    ///
    /// # Errors
    ///
    /// As [`CompressionArgs::codec`] and [`EncryptionArgs::key`].
    pub(crate) fn new(
        writer: W,
        buffer_size: usize,
        checksum: ChecksumKind,
        compression: &CompressionArgs,
        encryption: &EncryptionArgs,
        max_frame_len: usize,
        output: &Path,
    ) -> std::result::Result<Self, Failure> {
        let framer = CliFramer::new(checksum, encryption.key()?.as_ref(), max_frame_len, output)?;
        let writer = FrameBuffer::with_capacity(buffer_size, writer);
        Ok(
            match (compression.codec()?, compression.chunk.unwrap_or(0)) {
                (None, _) => MessageWriter::Plain(StreamWriter::new(writer, framer)),
                (Some(codec), 0) => {
                    MessageWriter::PerFrame(StreamWriter::new(writer, framer.compressed(codec)))
                }
                // Chunks no longer, uncompressed, than the readers' limit on them (the same
                // `--max-frame-len`).
                (Some(codec), chunk_len) => MessageWriter::Chunked(
                    ChunkWriter::new(writer, framer, codec)
                        .with_max_chunk_len(max_frame_len)
                        .with_chunk_len(chunk_len),
                ),
            },
        )
    }

    pub(crate) fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()> {
        match self {
            MessageWriter::Plain(writer) => writer.write(message),
            MessageWriter::PerFrame(writer) => writer.write(message),
            MessageWriter::Chunked(writer) => writer.write(message),
        }
    }

    pub(crate) fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        match self {
            MessageWriter::Plain(writer) => writer.write_payload(payload),
            MessageWriter::PerFrame(writer) => writer.write_payload(payload),
            MessageWriter::Chunked(writer) => writer.write_payload(payload),
        }
    }

    /// Flushes, writing the open chunk first.
    pub(crate) fn flush(&mut self) -> Result<()> {
        match self {
            MessageWriter::Plain(writer) => writer.flush(),
            MessageWriter::PerFrame(writer) => writer.flush(),
            MessageWriter::Chunked(writer) => writer.flush(),
        }
    }

    /// Ends the stream (an encrypted stream's final frame, the open chunk), flushes, and
    /// returns the buffer, empty, whose `into_inner` returns the underlying writer.
    pub(crate) fn finish(self) -> Result<FrameBuffer<W>> {
        match self {
            MessageWriter::Plain(mut writer) => writer.finish().map(|()| writer.into_inner()),
            MessageWriter::PerFrame(mut writer) => writer.finish().map(|()| writer.into_inner()),
            MessageWriter::Chunked(writer) => writer.finish(),
        }
    }

    /// Whether an I/O error stopped the writer (then a flush is refused, naming it).
    pub(crate) fn is_stopped(&self) -> bool {
        match self {
            MessageWriter::Plain(writer) => writer.is_stopped(),
            MessageWriter::PerFrame(writer) => writer.is_stopped(),
            MessageWriter::Chunked(writer) => writer.is_stopped(),
        }
    }

    /// Bytes of whole frames written.
    pub(crate) fn position(&self) -> u64 {
        match self {
            MessageWriter::Plain(writer) => writer.position(),
            MessageWriter::PerFrame(writer) => writer.position(),
            MessageWriter::Chunked(writer) => writer.position(),
        }
    }
}

/// A deframer that decompresses each payload, or passes it through.
pub(crate) type MaybeDecompressing<D> = OrPlain<D, DecompressingDeframer<D, AnyCodec>>;

impl<D: Deframer> MaybeDecompressing<D> {
    /// The deframer inside, decompressing or not.
    pub(crate) fn inner(&self) -> &D {
        match self {
            OrPlain::Plain(inner) => inner,
            OrPlain::Adapted(decompressing) => decompressing.get_ref(),
        }
    }
}

impl<D: Deframer> MaybeDecompressing<D> {
    /// Decompressing with `codec` (up to `max_frame_len`), or not.
    pub(crate) fn new(inner: D, codec: Option<AnyCodec>, max_frame_len: usize) -> Self {
        match codec {
            None => OrPlain::Plain(inner),
            Some(codec) => {
                OrPlain::Adapted(inner.decompressed(codec).with_max_frame_len(max_frame_len))
            }
        }
    }
}

/// The deframer of a scan: decompressing or not, then validating.
pub(crate) type ScanDeframer<D> = ValidatingDeframer<MaybeDecompressing<D>, Box<dyn Validator>>;

/// The deframer a scan reads with: decompressing per frame and validating messages, or for
/// a chunked stream (said by `--chunk`, or by `first_payload_is_chunk`) a
/// plain one, with an unchunker that validates each message.
///
/// # Errors
///
/// As [`CompressionArgs::codec`].
pub(crate) fn reading<D: Deframer>(
    compression: &CompressionArgs,
    (first_payload_is_chunk, max_frame_len): (impl FnOnce() -> bool, usize),
    inner: D,
    validator: Box<dyn Validator>,
) -> std::result::Result<(ScanDeframer<D>, Option<Unchunker>), Failure> {
    let codec = compression.codec()?;
    Ok(match codec {
        Some(codec) if compression.reads_chunks(first_payload_is_chunk) => (
            MaybeDecompressing::new(inner, None, max_frame_len)
                .with_validator(Box::new(NoValidator)),
            Some(Unchunker {
                decoder: ChunkDecoder::new(codec).with_max_chunk_len(max_frame_len),
                validator,
            }),
        ),
        codec => (
            MaybeDecompressing::new(inner, codec, max_frame_len).with_validator(validator),
            None,
        ),
    })
}

/// Hands `payload` to `on_payload`, or each of its messages when it is a chunk.
///
/// # Errors
///
/// `Ok(Err(..))`: the chunk's error or a message the validator rejects, without a
/// location (the caller adds the frame's); `Err(..)`: `on_payload`'s failure.
pub(crate) fn deliver(
    unchunker: Option<&mut Unchunker>,
    payload: &[u8],
    mut on_payload: impl FnMut(&[u8]) -> std::result::Result<(), Failure>,
) -> std::result::Result<std::result::Result<(), Error>, Failure> {
    let Some(unchunker) = unchunker else {
        on_payload(payload)?;
        return Ok(Ok(()));
    };
    if let Err(error) = unchunker.decoder.start(payload) {
        return Ok(Err(error));
    }
    loop {
        match unchunker.decoder.next_message() {
            Ok(Some((_, message))) => {
                if let Err(error) = unchunker.validator.validate(message) {
                    return Ok(Err(error));
                }
                on_payload(message)?;
            }
            Ok(None) => return Ok(Ok(())),
            Err(error) => return Ok(Err(error)),
        }
    }
}

/// Unpacks each chunk's messages, for a scan of a chunked stream.
pub(crate) struct Unchunker {
    decoder: ChunkDecoder<AnyCodec>,
    validator: Box<dyn Validator>,
}

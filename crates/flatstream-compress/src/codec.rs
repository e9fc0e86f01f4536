//! The [`Codec`] trait and its implementations: [`Zstd`], [`Lz4`], and [`AnyCodec`] for a
//! codec chosen at run time.
//!
//! A codec's output is self-describing about its size: a zstd frame carries its content
//! size in its header (the writer always sets it), and an lz4 block is preceded by its
//! uncompressed length as a `u32` LE. A reader learns the size from those few bytes and
//! refuses an oversized payload before it allocates anything.

use flatstream_core::Result;

/// The codec of a chunk, as its header records it (see [`crate::chunk`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CodecId {
    /// zstd frames.
    Zstd,
    /// lz4 blocks behind a `u32` LE uncompressed length.
    Lz4,
}

impl CodecId {
    /// The byte that stands for the codec in a chunk header.
    pub fn to_byte(self) -> u8 {
        match self {
            CodecId::Zstd => 1,
            CodecId::Lz4 => 2,
        }
    }

    /// The codec a chunk header's byte names, if any.
    pub fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            1 => Some(CodecId::Zstd),
            2 => Some(CodecId::Lz4),
            _ => None,
        }
    }

    /// The codec's name: `zstd` or `lz4`.
    pub fn name(self) -> &'static str {
        match self {
            CodecId::Zstd => "zstd",
            CodecId::Lz4 => "lz4",
        }
    }
}

/// Compresses and decompresses payloads, reusing its own state between calls.
///
/// Both directions work on caller-owned buffers, so a reader or writer that keeps its
/// buffers allocates nothing per message once they have grown to size.
pub trait Codec {
    /// Which codec this is.
    fn id(&self) -> CodecId;

    /// Appends the compressed form of `input` to `output`.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) when the codec fails (an
    /// input over 4 GiB - 1 for lz4, a zstd context that cannot be made).
    fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()>;

    /// How many bytes `input` declares it decompresses to, read from its first bytes.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) when the size cannot be
    /// read (too short, not this codec's format, no size recorded).
    fn declared_len(&self, input: &[u8]) -> Result<u64>;

    /// Replaces the contents of `output` with the decompressed form of `input`.
    ///
    /// The declared size is checked against `max_len` before `output` is grown, and the
    /// decompressed bytes must be exactly the declared size.
    ///
    /// # Errors
    ///
    /// [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge) for a declared size over
    /// `max_len`; [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) for corrupt
    /// compressed bytes or a wrong or missing dictionary.
    fn decompress(&mut self, input: &[u8], output: &mut Vec<u8>, max_len: usize) -> Result<()>;
}

impl<C: Codec + ?Sized> Codec for &mut C {
    fn id(&self) -> CodecId {
        (**self).id()
    }

    fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()> {
        (**self).compress(input, output)
    }

    fn declared_len(&self, input: &[u8]) -> Result<u64> {
        (**self).declared_len(input)
    }

    fn decompress(&mut self, input: &[u8], output: &mut Vec<u8>, max_len: usize) -> Result<()> {
        (**self).decompress(input, output, max_len)
    }
}

/// The declared size, refused when over `max_len`.
#[cfg(any(feature = "zstd", feature = "lz4"))]
pub(crate) fn checked_len<C: Codec + ?Sized>(
    codec: &C,
    input: &[u8],
    max_len: usize,
) -> Result<usize> {
    let declared = codec.declared_len(input)?;
    match usize::try_from(declared) {
        Ok(len) if len <= max_len => Ok(len),
        _ => Err(flatstream_core::Error::frame_too_large(declared, max_len)),
    }
}

#[cfg(feature = "zstd")]
pub use self::zstd_codec::Zstd;

#[cfg(feature = "zstd")]
mod zstd_codec {
    use std::fmt;
    use std::io::Cursor;
    use std::num::NonZeroU32;
    use std::sync::Arc;

    use flatstream_core::{Error, Result};
    use zstd::bulk::{Compressor, Decompressor};
    use zstd::zstd_safe::{CParameter, DParameter, FrameFormat};

    use super::{Codec, CodecId, checked_len};

    /// zstd through its bulk API, optionally with a dictionary.
    ///
    /// Each compressed payload is one zstd frame in zstd's magicless format (the four-byte
    /// magic number says nothing here: the codec is known, and it would cost 10% of a small
    /// message), with its content size set (so a reader checks the size before allocating)
    /// and, with a dictionary, the dictionary's id (so a reader with another dictionary, or
    /// none, refuses it by name instead of producing garbage). No zstd checksum: the
    /// flatstream frame's checksum already covers the bytes.
    ///
    /// The compression and decompression contexts are made on first use and load the
    /// dictionary once, so it is digested once per codec, not once per message.
    pub struct Zstd {
        level: i32,
        dictionary: Option<Arc<[u8]>>,
        dictionary_id: Option<NonZeroU32>,
        compressor: Option<Compressor<'static>>,
        decompressor: Option<Decompressor<'static>>,
    }

    impl Zstd {
        /// The default compression level, zstd's own default.
        pub const DEFAULT_LEVEL: i32 = 3;

        /// zstd at `level` (1 to 22; 3 is zstd's default, negative levels are faster still),
        /// without a dictionary.
        pub fn new(level: i32) -> Self {
            Zstd {
                level,
                dictionary: None,
                dictionary_id: None,
                compressor: None,
                decompressor: None,
            }
        }

        /// zstd at `level` with a dictionary, such as one from [`Zstd::train`] or `zstd
        /// --train`. Readers must load the same dictionary: its id is written into every
        /// compressed payload and checked on reading.
        ///
        /// # Errors
        ///
        /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) when `dictionary` is
        /// not a zstd dictionary with an id (raw-content dictionaries have none to check).
        pub fn with_dictionary(level: i32, dictionary: impl Into<Arc<[u8]>>) -> Result<Self> {
            let dictionary = dictionary.into();
            let Some(id) = zstd::zstd_safe::get_dict_id_from_dict(&dictionary) else {
                return Err(Error::invalid_frame(
                    "not a zstd dictionary: it has no dictionary id",
                ));
            };
            Ok(Zstd {
                dictionary: Some(dictionary),
                dictionary_id: Some(id),
                ..Zstd::new(level)
            })
        }

        /// Trains a dictionary of at most `max_size` bytes from sample payloads (16 KiB suits
        /// small messages such as telemetry events).
        ///
        /// The dictionary's id is set from a hash of its contents, in zstd's private range
        /// of two-byte ids (32768 to 65535), so each frame spends two bytes on it rather than
        /// four. Two different dictionaries share an id once in 32768 tries; the check is a
        /// guard against mix-ups, which zstd itself usually also refuses.
        ///
        /// # Errors
        ///
        /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) when zstd cannot train
        /// one (too few or too similar samples).
        pub fn train<S: AsRef<[u8]>>(samples: &[S], max_size: usize) -> Result<Vec<u8>> {
            let mut dictionary = zstd::dict::from_samples(samples, max_size).map_err(|error| {
                Error::invalid_frame(format!("cannot train a zstd dictionary: {error}"))
            })?;
            // A trained dictionary starts with its magic number, then its id (u32 LE).
            if dictionary.len() > 8 {
                let fnv = dictionary[8..]
                    .iter()
                    .fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
                        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
                    });
                let id = 32_768 + (fnv % 32_768) as u32;
                dictionary[4..8].copy_from_slice(&id.to_le_bytes());
            }
            Ok(dictionary)
        }

        /// The compression level.
        pub fn level(&self) -> i32 {
            self.level
        }

        /// The id of the dictionary in use, if any.
        pub fn dictionary_id(&self) -> Option<u32> {
            self.dictionary_id.map(NonZeroU32::get)
        }

        fn compressor(&mut self) -> Result<&mut Compressor<'static>> {
            if self.compressor.is_none() {
                let compressor = match &self.dictionary {
                    Some(dictionary) => Compressor::with_dictionary(self.level, dictionary),
                    None => Compressor::new(self.level),
                }
                .and_then(|mut compressor| {
                    compressor.set_parameter(CParameter::Format(FrameFormat::Magicless))?;
                    compressor.set_parameter(CParameter::ContentSizeFlag(true))?;
                    compressor.set_parameter(CParameter::ChecksumFlag(false))?;
                    Ok(compressor)
                })
                .map_err(|error| {
                    Error::invalid_frame(format!("cannot make a zstd compressor: {error}"))
                })?;
                self.compressor = Some(compressor);
            }
            Ok(self.compressor.as_mut().expect("made above"))
        }

        fn decompressor(&mut self) -> Result<&mut Decompressor<'static>> {
            if self.decompressor.is_none() {
                let decompressor = match &self.dictionary {
                    Some(dictionary) => Decompressor::with_dictionary(dictionary),
                    None => Decompressor::new(),
                }
                .and_then(|mut decompressor| {
                    decompressor.set_parameter(DParameter::Format(FrameFormat::Magicless))?;
                    Ok(decompressor)
                })
                .map_err(|error| {
                    Error::invalid_frame(format!("cannot make a zstd decompressor: {error}"))
                })?;
                self.decompressor = Some(decompressor);
            }
            Ok(self.decompressor.as_mut().expect("made above"))
        }

        /// Refuses a frame made with another dictionary, or with one when none is loaded.
        fn check_dictionary(&self, header: FrameHeader) -> Result<()> {
            let frame_id = NonZeroU32::new(header.dictionary_id);
            if frame_id == self.dictionary_id || frame_id.is_none() {
                // A frame without a dictionary id was written without a dictionary (ours
                // always record it); zstd itself refuses it if it needs one.
                return Ok(());
            }
            Err(Error::invalid_frame(match self.dictionary_id {
                Some(ours) => format!(
                    "wrong zstd dictionary: the data needs dictionary {}, the loaded one is {ours}",
                    header.dictionary_id
                ),
                None => format!(
                    "missing zstd dictionary: the data needs dictionary {}",
                    header.dictionary_id
                ),
            }))
        }
    }

    /// What a zstd frame header says, read by [`FrameHeader::parse`].
    #[derive(Debug, Clone, Copy)]
    struct FrameHeader {
        content_size: Option<u64>,
        dictionary_id: u32,
    }

    impl FrameHeader {
        /// Reads the header of a magicless zstd frame (RFC 8878, 3.1.1.1 without the magic
        /// number): the frame header descriptor, then an optional window descriptor, the
        /// dictionary id and the content size, each sized by the descriptor's flags.
        fn parse(frame: &[u8]) -> Result<Self> {
            let truncated = || Error::invalid_frame("corrupt zstd data: truncated frame header");
            let &descriptor = frame.first().ok_or_else(truncated)?;
            if descriptor & 0b0000_1000 != 0 {
                return Err(Error::invalid_frame(
                    "corrupt zstd data: reserved bit set in the frame header",
                ));
            }
            let single_segment = descriptor & 0b0010_0000 != 0;
            let dictionary_id_len = [0, 1, 2, 4][usize::from(descriptor & 0b11)];
            let content_size_len = match descriptor >> 6 {
                0 if single_segment => 1,
                0 => 0,
                1 => 2,
                2 => 4,
                _ => 8,
            };
            let mut at = 1 + usize::from(!single_segment);
            let mut field = |len: usize| -> Result<u64> {
                let bytes = frame.get(at..at + len).ok_or_else(truncated)?;
                at += len;
                Ok(bytes
                    .iter()
                    .rev()
                    .fold(0, |value, byte| (value << 8) | u64::from(*byte)))
            };
            let dictionary_id = field(dictionary_id_len)? as u32;
            let content_size = match content_size_len {
                0 => None,
                // The two-byte form is offset by 256 (RFC 8878, 3.1.1.1.4).
                2 => Some(field(2)? + 256),
                len => Some(field(len)?),
            };
            Ok(FrameHeader {
                content_size,
                dictionary_id,
            })
        }
    }

    impl Default for Zstd {
        fn default() -> Self {
            Zstd::new(Zstd::DEFAULT_LEVEL)
        }
    }

    impl Clone for Zstd {
        /// A codec with the same level and dictionary; its contexts are made anew on use.
        fn clone(&self) -> Self {
            Zstd {
                level: self.level,
                dictionary: self.dictionary.clone(),
                dictionary_id: self.dictionary_id,
                compressor: None,
                decompressor: None,
            }
        }
    }

    impl fmt::Debug for Zstd {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Zstd")
                .field("level", &self.level)
                .field("dictionary_id", &self.dictionary_id())
                .finish_non_exhaustive()
        }
    }

    impl Codec for Zstd {
        fn id(&self) -> CodecId {
            CodecId::Zstd
        }

        fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()> {
            let start = output.len();
            output.reserve(zstd::zstd_safe::compress_bound(input.len()));
            let compressor = self.compressor()?;
            // Writes after `start`, into capacity reserved above: no allocation here.
            let mut cursor = Cursor::new(output);
            cursor.set_position(start as u64);
            compressor
                .compress_to_buffer(input, &mut cursor)
                .map_err(|error| {
                    Error::invalid_frame(format!("zstd compression failed: {error}"))
                })?;
            Ok(())
        }

        fn declared_len(&self, input: &[u8]) -> Result<u64> {
            FrameHeader::parse(input)?.content_size.ok_or_else(|| {
                Error::invalid_frame("zstd frame does not declare its uncompressed size")
            })
        }

        fn decompress(&mut self, input: &[u8], output: &mut Vec<u8>, max_len: usize) -> Result<()> {
            let len = checked_len(self, input, max_len)?;
            self.check_dictionary(FrameHeader::parse(input)?)?;
            output.clear();
            output.reserve(len);
            let decompressor = self.decompressor()?;
            let written = decompressor
                .decompress_to_buffer(input, output)
                .map_err(|error| Error::invalid_frame(format!("corrupt zstd data: {error}")))?;
            if written != len {
                return Err(Error::invalid_frame(format!(
                    "corrupt zstd data: {written} bytes decompressed, {len} declared"
                )));
            }
            Ok(())
        }
    }
}

#[cfg(feature = "lz4")]
pub use self::lz4_codec::Lz4;

#[cfg(feature = "lz4")]
mod lz4_codec {
    use std::fmt;

    use flatstream_core::{Error, Result};
    use lz4_flex::block::{CompressTable, compress_into_with_table, get_maximum_output_size};

    use super::{Codec, CodecId, checked_len};

    /// The length of the uncompressed-size prefix.
    const SIZE_LEN: usize = 4;

    /// lz4 block compression (the pure-Rust `lz4_flex`): each compressed payload is the
    /// uncompressed length as a `u32` LE, then one lz4 block.
    ///
    /// lz4 keeps no dictionary and has no levels: it trades ratio for speed.
    #[derive(Default)]
    pub struct Lz4 {
        /// The match table, made on first compression (a reader never needs it) and kept so
        /// that compressing allocates nothing per message.
        table: Option<CompressTable>,
    }

    impl Lz4 {
        /// An lz4 codec.
        pub fn new() -> Self {
            Lz4::default()
        }
    }

    impl Clone for Lz4 {
        fn clone(&self) -> Self {
            Lz4::new()
        }
    }

    impl fmt::Debug for Lz4 {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Lz4").finish_non_exhaustive()
        }
    }

    impl Codec for Lz4 {
        fn id(&self) -> CodecId {
            CodecId::Lz4
        }

        fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()> {
            let Ok(input_len) = u32::try_from(input.len()) else {
                return Err(Error::invalid_frame(format!(
                    "lz4 input of {} bytes does not fit its 32-bit length",
                    input.len()
                )));
            };
            let start = output.len();
            output.extend_from_slice(&input_len.to_le_bytes());
            output.resize(start + SIZE_LEN + get_maximum_output_size(input.len()), 0);
            let table = self.table.get_or_insert_with(CompressTable::default);
            let written = compress_into_with_table(input, &mut output[start + SIZE_LEN..], table)
                .map_err(|error| {
                Error::invalid_frame(format!("lz4 compression failed: {error}"))
            })?;
            output.truncate(start + SIZE_LEN + written);
            Ok(())
        }

        fn declared_len(&self, input: &[u8]) -> Result<u64> {
            match input.first_chunk::<SIZE_LEN>() {
                Some(prefix) => Ok(u64::from(u32::from_le_bytes(*prefix))),
                None => Err(Error::invalid_frame(
                    "corrupt lz4 data: shorter than its 4-byte length",
                )),
            }
        }

        fn decompress(&mut self, input: &[u8], output: &mut Vec<u8>, max_len: usize) -> Result<()> {
            let len = checked_len(self, input, max_len)?;
            output.clear();
            output.resize(len, 0);
            let written = lz4_flex::block::decompress_into(&input[SIZE_LEN..], output)
                .map_err(|error| Error::invalid_frame(format!("corrupt lz4 data: {error}")))?;
            if written != len {
                return Err(Error::invalid_frame(format!(
                    "corrupt lz4 data: {written} bytes decompressed, {len} declared"
                )));
            }
            Ok(())
        }
    }
}

/// A codec chosen at run time (from a command line, a configuration), dispatching by
/// `match`: one predictable branch per payload, no `dyn`.
#[cfg(any(feature = "zstd", feature = "lz4"))]
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyCodec {
    /// zstd.
    #[cfg(feature = "zstd")]
    #[cfg_attr(docsrs, doc(cfg(feature = "zstd")))]
    Zstd(Zstd),
    /// lz4.
    #[cfg(feature = "lz4")]
    #[cfg_attr(docsrs, doc(cfg(feature = "lz4")))]
    Lz4(Lz4),
}

#[cfg(feature = "zstd")]
impl From<Zstd> for AnyCodec {
    fn from(codec: Zstd) -> Self {
        AnyCodec::Zstd(codec)
    }
}

#[cfg(feature = "lz4")]
impl From<Lz4> for AnyCodec {
    fn from(codec: Lz4) -> Self {
        AnyCodec::Lz4(codec)
    }
}

#[cfg(any(feature = "zstd", feature = "lz4"))]
/// Runs `$body` with `$codec` bound to the variant's codec.
macro_rules! dispatch {
    ($self:expr, |$codec:ident| $body:expr) => {
        match $self {
            #[cfg(feature = "zstd")]
            AnyCodec::Zstd($codec) => $body,
            #[cfg(feature = "lz4")]
            AnyCodec::Lz4($codec) => $body,
        }
    };
}

#[cfg(any(feature = "zstd", feature = "lz4"))]
impl Codec for AnyCodec {
    fn id(&self) -> CodecId {
        dispatch!(self, |codec| codec.id())
    }

    fn compress(&mut self, input: &[u8], output: &mut Vec<u8>) -> Result<()> {
        dispatch!(self, |codec| codec.compress(input, output))
    }

    fn declared_len(&self, input: &[u8]) -> Result<u64> {
        dispatch!(self, |codec| codec.declared_len(input))
    }

    fn decompress(&mut self, input: &[u8], output: &mut Vec<u8>, max_len: usize) -> Result<()> {
        dispatch!(self, |codec| codec.decompress(input, output, max_len))
    }
}

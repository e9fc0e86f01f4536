//! [`FlatstreamCodec`]: the wire format as a `tokio_util` codec, both halves in one value.

use bytes::{Bytes, BytesMut};
use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{Checksum, Deframer, Error, Framer, Result};
use flatstream_io::{ChecksumDeframer, ChecksumFramer};
use tokio_util::codec::{Decoder, Encoder};

use crate::{FrameDecoder, FrameEncoder};

/// Decodes frames into [`Bytes`] payloads and encodes payloads into frames, in the same
/// wire format as the blocking reader and writer, with the same framers and deframers, so
/// every adapter (validators, bounds, observers, compression) works here too, with the same
/// errors (frame index and byte offset):
///
/// ```
/// use bytes::BytesMut;
/// use flatstream_checksum_crc32c::Crc32c;
/// use flatstream_tokio::FlatstreamCodec;
/// use tokio_util::codec::{Decoder, Encoder};
///
/// let mut codec = FlatstreamCodec::new(Crc32c::new());
/// let mut wire = BytesMut::new();
/// codec.encode(&b"hello"[..], &mut wire)?;
/// let payload = codec.decode(&mut wire)?.expect("a whole frame");
/// assert_eq!(&payload[..], b"hello");
/// # Ok::<(), flatstream_core::Error>(())
/// ```
///
/// With adapters, built from a framer and a deframer:
///
/// ```
/// use flatstream_checksum_xxh3::Xxh3;
/// use flatstream_io::{ChecksumDeframer, ChecksumFramer, DeframerExt, FramerExt};
/// use flatstream_tokio::FlatstreamCodec;
/// use flatstream_validate::SizeValidator;
///
/// let codec = FlatstreamCodec::from_parts(
///     ChecksumFramer::new(Xxh3::new()).with_validator(SizeValidator::at_least(1)),
///     ChecksumDeframer::new(Xxh3::new()).bounded(4096),
/// );
/// # let _ = codec;
/// ```
///
/// The halves are [`FrameDecoder`] and [`FrameEncoder`]; see them for limits and copying.
/// As with any `tokio_util` codec, `FramedRead` ends its stream after the first error; the
/// [`AsyncStreamReader`](crate::AsyncStreamReader) goes on after an error that consumed its
/// frame (a checksum mismatch, a rejected payload), as the blocking reader does.
#[derive(Debug)]
pub struct FlatstreamCodec<F, D> {
    encoder: FrameEncoder<F>,
    decoder: FrameDecoder<D>,
}

/// The codec of [`FlatstreamCodec::new`]: frames carrying checksum `C`.
pub type ChecksumCodec<C> = FlatstreamCodec<ChecksumFramer<C>, ChecksumDeframer<C>>;

impl<C: Checksum + Clone> FlatstreamCodec<ChecksumFramer<C>, ChecksumDeframer<C>> {
    /// A codec whose frames carry `checksum`, with the default limit of 64 MiB per payload
    /// both ways.
    pub fn new(checksum: C) -> Self {
        FlatstreamCodec::from_parts(
            ChecksumFramer::new(checksum.clone()),
            ChecksumDeframer::new(checksum),
        )
    }

    /// Sets the longest payload, decoded or encoded (default 64 MiB). A frame that declares
    /// more is a [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge) error when
    /// decoding, checked before the buffer is reserved for it; a longer payload is refused
    /// when encoding. Both reading and writing.
    #[must_use]
    pub fn with_max_frame_len(self, max_frame_len: usize) -> Self {
        let FlatstreamCodec { encoder, decoder } = self;
        let deframer = decoder.into_deframer().with_max_frame_len(max_frame_len);
        FlatstreamCodec {
            encoder: encoder.with_max_frame_len(max_frame_len),
            decoder: FrameDecoder::new(deframer),
        }
    }
}

impl<F: Framer, D: Deframer> FlatstreamCodec<F, D> {
    /// A codec that encodes with `framer` and decodes with `deframer`.
    pub fn from_parts(framer: F, deframer: D) -> Self {
        FlatstreamCodec {
            encoder: FrameEncoder::new(framer),
            decoder: FrameDecoder::new(deframer),
        }
    }

    /// Frames decoded whole so far: the index of the next one.
    pub fn frames_decoded(&self) -> u64 {
        self.decoder.frames_read()
    }

    /// Bytes of whole frames decoded: the offset of the next frame in the input.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoder.position()
    }

    /// Frames encoded so far.
    pub fn frames_encoded(&self) -> u64 {
        self.encoder.frames_written()
    }

    /// Bytes of frames encoded so far.
    pub fn encoded_bytes(&self) -> u64 {
        self.encoder.position()
    }

    /// The decoding half.
    pub fn decoder(&self) -> &FrameDecoder<D> {
        &self.decoder
    }

    /// The encoding half.
    pub fn encoder(&self) -> &FrameEncoder<F> {
        &self.encoder
    }

    /// The two halves, for a `FramedRead` and a `FramedWrite` of their own.
    pub fn into_parts(self) -> (FrameEncoder<F>, FrameDecoder<D>) {
        (self.encoder, self.decoder)
    }
}

impl<F, D: Deframer> Decoder for FlatstreamCodec<F, D> {
    type Item = Bytes;
    type Error = Error;

    #[inline]
    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        self.decoder.decode(src)
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        self.decoder.decode_eof(src)
    }
}

impl<F: Framer, D> Encoder<&[u8]> for FlatstreamCodec<F, D> {
    type Error = Error;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.encoder.encode(payload, dst)
    }
}

impl<F: Framer, D> Encoder<Bytes> for FlatstreamCodec<F, D> {
    type Error = Error;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<()> {
        self.encoder.encode(payload, dst)
    }
}

/// A finished builder: its finished bytes become the frame's payload.
impl<F: Framer, D, A: Allocator> Encoder<&FlatBufferBuilder<'_, A>> for FlatstreamCodec<F, D> {
    type Error = Error;

    fn encode(&mut self, builder: &FlatBufferBuilder<'_, A>, dst: &mut BytesMut) -> Result<()> {
        self.encoder.encode(builder, dst)
    }
}

//! [`FlatstreamCodec`]: the wire format as a `tokio_util` codec.

use std::fmt;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::wire::{FrameHeader, LENGTH_LEN, split_frame};
use flatstream_core::{Checksum, DEFAULT_MAX_FRAME_LEN, Error, Result, Validator};
use tokio_util::codec::{Decoder, Encoder};

/// Decodes frames into [`Bytes`] payloads split from the read buffer (no copy) and encodes
/// payloads into frames, in the same wire format, with the same limit and the same errors
/// (with frame index and byte offset) as the blocking reader and writer.
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
/// The declared length is checked against [`with_max_frame_len`](Self::with_max_frame_len)
/// as soon as the length field has arrived, before the read buffer is reserved for the
/// frame. At end of stream a partial frame is an
/// [`UnexpectedEof`](flatstream_core::ErrorKind::UnexpectedEof) error naming the torn
/// part: bytes are never dropped silently.
pub struct FlatstreamCodec<C> {
    checksum: C,
    max_frame_len: usize,
    validator: Option<Box<dyn Validator + Send + Sync>>,
    frames_decoded: u64,
    decoded_bytes: u64,
    frames_encoded: u64,
    encoded_bytes: u64,
}

impl<C: fmt::Debug> fmt::Debug for FlatstreamCodec<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlatstreamCodec")
            .field("checksum", &self.checksum)
            .field("max_frame_len", &self.max_frame_len)
            .field("validator", &self.validator.as_ref().map(Validator::name))
            .field("frames_decoded", &self.frames_decoded)
            .field("decoded_bytes", &self.decoded_bytes)
            .field("frames_encoded", &self.frames_encoded)
            .field("encoded_bytes", &self.encoded_bytes)
            .finish()
    }
}

impl<C: Checksum + Default> Default for FlatstreamCodec<C> {
    fn default() -> Self {
        Self::new(C::default())
    }
}

impl<C: Checksum> FlatstreamCodec<C> {
    /// A codec whose frames carry `checksum`, with the default limit of 64 MiB.
    pub fn new(checksum: C) -> Self {
        FlatstreamCodec {
            checksum,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            validator: None,
            frames_decoded: 0,
            decoded_bytes: 0,
            frames_encoded: 0,
            encoded_bytes: 0,
        }
    }

    /// Sets the largest payload accepted when decoding (default 64 MiB); a frame that
    /// declares more is a [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge)
    /// error.
    #[must_use]
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// Checks every payload, decoded or encoded, with `validator`. A rejected payload is
    /// not encoded; a rejected decoded frame is consumed and reported, and decoding goes on.
    #[must_use]
    pub fn with_validator(mut self, validator: impl Validator + Send + Sync + 'static) -> Self {
        self.validator = Some(Box::new(validator));
        self
    }

    /// Frames decoded whole so far: the index of the next one.
    pub fn frames_decoded(&self) -> u64 {
        self.frames_decoded
    }

    /// Bytes of whole frames decoded: the offset of the next frame in the input.
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// Frames encoded so far.
    pub fn frames_encoded(&self) -> u64 {
        self.frames_encoded
    }

    /// Bytes of frames encoded so far.
    pub fn encoded_bytes(&self) -> u64 {
        self.encoded_bytes
    }

    /// Encodes `payload` as one frame at the end of `dst`.
    fn encode_payload(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        let located = |error: Error| error.at_frame(self.frames_encoded, self.encoded_bytes);
        if let Some(validator) = &self.validator {
            validator.validate(payload).map_err(located)?;
        }
        let header = FrameHeader::for_payload(&self.checksum, payload)
            .map_err(located)?
            .encode(self.checksum.size());
        let frame_len = header.as_bytes().len() + payload.len();
        dst.reserve(frame_len);
        dst.put_slice(header.as_bytes());
        dst.put_slice(payload);
        self.frames_encoded += 1;
        self.encoded_bytes += frame_len as u64;
        Ok(())
    }

    /// Locates an error at the frame being decoded; a frame consumed whole is counted.
    fn decode_failure(&mut self, error: Error) -> Error {
        let error = error.at_frame(self.frames_decoded, self.decoded_bytes);
        if let Some(frame_len) = error.frame_len() {
            self.frames_decoded += 1;
            self.decoded_bytes += frame_len;
        }
        error
    }
}

impl<C: Checksum> Decoder for FlatstreamCodec<C> {
    type Item = Bytes;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        let header_len = LENGTH_LEN + self.checksum.size();
        if src.len() < LENGTH_LEN {
            src.reserve(header_len - src.len());
            return Ok(None);
        }
        // The limit is checked as soon as the length is known, before reserving for it.
        let payload_len = FrameHeader::decode(&src[..LENGTH_LEN])
            .checked_payload_len(self.max_frame_len)
            .map_err(|error| self.decode_failure(error))?;
        let frame_len = header_len + payload_len;
        if src.len() < frame_len {
            src.reserve(frame_len - src.len());
            return Ok(None);
        }
        // The frame is whole: the shared parser verifies it.
        let verified = split_frame(&src[..frame_len], &self.checksum, self.max_frame_len);
        if let Err(error) = verified {
            src.advance(frame_len);
            return Err(self.decode_failure(error));
        }
        let frame = src.split_to(frame_len).freeze();
        let payload = frame.slice(header_len..);
        if let Some(validator) = &self.validator
            && let Err(error) = validator.validate(&payload)
        {
            return Err(self.decode_failure(error.with_frame_len(frame_len as u64)));
        }
        self.frames_decoded += 1;
        self.decoded_bytes += frame_len as u64;
        Ok(Some(payload))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<Bytes>> {
        if let Some(payload) = self.decode(src)? {
            return Ok(Some(payload));
        }
        if src.is_empty() {
            return Ok(None);
        }
        // A partial frame at the end of the stream: the shared parser names the torn part.
        let error = match split_frame(src, &self.checksum, self.max_frame_len) {
            Err(error) => error,
            Ok(_) => Error::invalid_frame("a whole frame was left undecoded at end of stream"),
        };
        src.clear();
        Err(self.decode_failure(error))
    }
}

impl<C: Checksum> Encoder<&[u8]> for FlatstreamCodec<C> {
    type Error = Error;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(payload, dst)
    }
}

impl<C: Checksum> Encoder<Bytes> for FlatstreamCodec<C> {
    type Error = Error;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(&payload, dst)
    }
}

/// A finished builder: its finished bytes become the frame's payload.
impl<C: Checksum, A: Allocator> Encoder<&FlatBufferBuilder<'_, A>> for FlatstreamCodec<C> {
    type Error = Error;

    fn encode(&mut self, builder: &FlatBufferBuilder<'_, A>, dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(builder.finished_data(), dst)
    }
}

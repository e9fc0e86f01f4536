//! [`FrameEncoder`]: the write half of the codec.

use bytes::{BufMut, Bytes, BytesMut};
use flatbuffers::{Allocator, FlatBufferBuilder};
use flatstream_core::{DEFAULT_MAX_FRAME_LEN, Error, Framer, Result};
use flatstream_io::WriteProgress;
use tokio_util::codec::Encoder;

/// Encodes payloads into frames with any [`Framer`] (checksums, validators, bounds,
/// observers, compression): a `tokio_util` [`Encoder`] of `&[u8]`, [`Bytes`] and finished
/// builders.
///
/// A payload longer than [`max_frame_len`](Self::with_max_frame_len) (default 64 MiB, the
/// readers' default limit) is refused before anything is written, so the encoder never
/// writes a frame a default decoder would reject. A refused or failed payload leaves `dst`
/// as it was. Errors name the frame index and the offset the frame would have had.
#[derive(Debug, Clone)]
pub struct FrameEncoder<F> {
    framer: F,
    max_frame_len: usize,
    progress: WriteProgress,
}

impl<F: Framer> FrameEncoder<F> {
    /// An encoder that writes frames with `framer`.
    pub fn new(framer: F) -> Self {
        FrameEncoder {
            framer,
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
            progress: WriteProgress::default(),
        }
    }

    /// Sets the longest payload encoded (default 64 MiB); a longer one is a
    /// [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge) error. Writing only.
    #[must_use]
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// Frames encoded so far.
    pub fn frames_written(&self) -> u64 {
        self.progress.frames_written()
    }

    /// Bytes of frames encoded so far.
    pub fn position(&self) -> u64 {
        self.progress.position()
    }

    /// The framer in use.
    pub fn framer(&self) -> &F {
        &self.framer
    }

    /// Encodes `payload` as one frame at the end of `dst`.
    fn encode_payload(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.progress.check_usable()?;
        if payload.len() > self.max_frame_len {
            return Err(self.progress.locate(Error::frame_too_large(
                payload.len() as u64,
                self.max_frame_len,
            )));
        }
        let before = dst.len();
        let mut writer = dst.writer();
        match self.framer.frame_and_write(&mut writer, payload) {
            Ok(frame_len) => {
                self.progress.advance(frame_len);
                Ok(())
            }
            Err(error) => {
                // Nothing of a refused frame stays in the buffer.
                writer.into_inner().truncate(before);
                Err(self.progress.fail(error))
            }
        }
    }
}

impl<F: Framer> Encoder<&[u8]> for FrameEncoder<F> {
    type Error = Error;

    fn encode(&mut self, payload: &[u8], dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(payload, dst)
    }
}

impl<F: Framer> Encoder<Bytes> for FrameEncoder<F> {
    type Error = Error;

    fn encode(&mut self, payload: Bytes, dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(&payload, dst)
    }
}

/// A finished builder: its finished bytes become the frame's payload.
impl<F: Framer, A: Allocator> Encoder<&FlatBufferBuilder<'_, A>> for FrameEncoder<F> {
    type Error = Error;

    fn encode(&mut self, builder: &FlatBufferBuilder<'_, A>, dst: &mut BytesMut) -> Result<()> {
        self.encode_payload(builder.finished_data(), dst)
    }
}

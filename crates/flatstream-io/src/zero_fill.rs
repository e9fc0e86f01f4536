//! [`ZeroFillCheck`]: report zero-filled damage instead of reading it as empty frames.

use std::io::Read;

use flatstream_core::wire::{Frame, LENGTH_LEN};
use flatstream_core::{Checksum, Deframer, Error, Result};

use crate::ChecksumDeframer;
use crate::recovery::ZERO_FILL_MIN_LEN;

/// A [`ChecksumDeframer`] that reports a run of zero bytes reading as empty frames as
/// [`ErrorKind::ZeroFilled`](flatstream_core::ErrorKind::ZeroFilled), once the run reaches
/// [`ZERO_FILL_MIN_LEN`] bytes; so is a frame whose checksum and payload are that many zero
/// bytes (what a zeroed block leaves of a frame whose length survived, which still verifies
/// under CRC-16/XMODEM, whose checksum of zeros is 0).
///
/// A file system that crashes before the data reached the disk can leave blocks of zeros
/// where frames should be. Every CRC here maps the empty payload to 0 (and without a
/// checksum there is nothing to fail), so those zeros are valid empty frames on the wire, and
/// a plain deframer delivers them: the format allows empty payloads. With this check they are
/// an error instead, at the frame where the run reaches the threshold; the error's
/// [`frame_len`](Error::frame_len) is set, so reading can go on (each further zero frame of
/// the run is reported too), and the run began `len - frame_len` bytes before that frame.
/// Under XXH3, whose empty-payload checksum is not zero, zero fill fails the checksum anyway
/// and this check never fires.
///
/// ```
/// use flatstream_io::{ChecksumDeframer, StreamReader, ZeroFillCheck};
/// use flatstream_core::{ErrorKind, NoChecksum};
///
/// let zeros = [0u8; 4096]; // a block a file system allocated but never wrote
/// let deframer = ZeroFillCheck::new(ChecksumDeframer::new(NoChecksum));
/// let mut reader = StreamReader::new(&zeros[..], deframer);
/// let error = loop {
///     match reader.read_message() {
///         Ok(Some(_)) => {}
///         Ok(None) => unreachable!("zero fill is reported"),
///         Err(error) => break error,
///     }
/// };
/// assert!(matches!(error.kind(), ErrorKind::ZeroFilled { len: 64 }));
/// ```
#[derive(Debug, Clone)]
pub struct ZeroFillCheck<C> {
    inner: ChecksumDeframer<C>,
    /// Whether a verified empty frame is all zero bytes under this checksum.
    empty_is_zero: bool,
    /// Bytes of the current run of zero frames.
    run: u64,
    /// Whether an empty frame is damage whatever the run's length.
    no_empty_frames: bool,
}

impl<C: Checksum> ZeroFillCheck<C> {
    /// Adds the check to `inner`.
    pub fn new(inner: ChecksumDeframer<C>) -> Self {
        let empty_is_zero = inner.checksum().calculate(&[]) == 0;
        ZeroFillCheck {
            inner,
            empty_is_zero,
            run: 0,
            no_empty_frames: false,
        }
    }

    /// For streams that never hold an empty frame (an encrypted stream: every payload
    /// carries a 40-byte header and tag): the first empty frame of zero bytes is reported as
    /// zero fill at once, not after [`ZERO_FILL_MIN_LEN`] bytes of them, so that a decrypting
    /// adapter over this check never sees it as a payload too short to open.
    #[must_use]
    pub fn no_empty_frames(mut self) -> Self {
        self.no_empty_frames = true;
        self
    }

    /// The deframer inside.
    pub fn get_ref(&self) -> &ChecksumDeframer<C> {
        &self.inner
    }

    fn observe(&mut self, frame_len: usize, payload: &[u8]) -> Result<()> {
        // A verified frame whose payload is all zero bytes has a zero checksum field when
        // zeros checksum to 0 (empty payloads under every CRC here, any length under
        // CRC-16/XMODEM and without a checksum): its bytes after the length are zeros.
        let zero_after_length = self.empty_is_zero
            && payload.iter().all(|byte| *byte == 0)
            && self.inner.checksum().calculate(payload) == 0;
        if zero_after_length && (payload.is_empty() || frame_len - LENGTH_LEN >= ZERO_FILL_MIN_LEN)
        {
            self.run += frame_len as u64;
            if self.run >= ZERO_FILL_MIN_LEN as u64 || (self.no_empty_frames && payload.is_empty())
            {
                return Err(Error::zero_filled(self.run).with_frame_len(frame_len as u64));
            }
        } else {
            self.run = 0;
        }
        Ok(())
    }
}

impl<C: Checksum> Deframer for ZeroFillCheck<C> {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let frame_len = self.inner.read_frame(reader, payload);
        if let Ok(Some(frame_len)) = frame_len {
            self.observe(frame_len, payload)?;
        }
        frame_len
    }

    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        let frame = self.inner.parse_frame(input)?;
        if let Some(frame) = frame {
            self.observe(frame.len, frame.payload)?;
        }
        Ok(frame)
    }

    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }
}

#[cfg(test)]
mod tests {
    use flatstream_core::{ErrorKind, NoChecksum};

    use super::*;
    use crate::{SliceReader, StreamWriter};

    #[test]
    fn short_runs_of_empty_frames_are_data() {
        let mut writer = StreamWriter::new(Vec::new(), crate::DefaultFramer::new());
        for _ in 0..15 {
            writer.write_payload(b"").unwrap(); // 60 bytes of zeros
        }
        writer.write_payload(b"x").unwrap();
        for _ in 0..15 {
            writer.write_payload(b"").unwrap();
        }
        let stream = writer.into_inner();
        let reader = SliceReader::new(
            &stream,
            ZeroFillCheck::new(ChecksumDeframer::new(NoChecksum)),
        );
        assert_eq!(reader.map(Result::unwrap).count(), 31);
    }

    #[test]
    fn with_no_empty_frames_the_first_zero_frame_is_reported() {
        let mut stream = b"\x01\0\0\0x".to_vec();
        stream.extend_from_slice(&[0; 12]);
        let mut reader = SliceReader::new(
            &stream,
            ZeroFillCheck::new(ChecksumDeframer::new(NoChecksum)).no_empty_frames(),
        );
        assert_eq!(reader.read_message().unwrap(), Some(&b"x"[..]));
        for run in [4, 8, 12] {
            let error = reader.read_message().unwrap_err();
            assert!(matches!(error.kind(), ErrorKind::ZeroFilled { len } if *len == run));
            assert_eq!(error.offset(), Some(5 + run - 4));
            assert!(error.is_resumable());
        }
        assert_eq!(reader.read_message().unwrap(), None);
    }

    #[test]
    fn a_long_run_is_reported_where_it_reaches_the_threshold() {
        let mut stream = b"\x01\0\0\0x".to_vec();
        stream.extend_from_slice(&[0; 100]);
        let mut reader = SliceReader::new(
            &stream,
            ZeroFillCheck::new(ChecksumDeframer::new(NoChecksum)),
        );
        assert_eq!(reader.read_message().unwrap(), Some(&b"x"[..]));
        for _ in 0..15 {
            assert_eq!(reader.read_message().unwrap(), Some(&b""[..]));
        }
        let error = reader.read_message().unwrap_err();
        assert!(matches!(error.kind(), ErrorKind::ZeroFilled { len: 64 }));
        assert_eq!((error.frame_index(), error.offset()), (Some(16), Some(65)));
        // The run began `len - frame_len` bytes before this frame.
        assert_eq!(error.offset().unwrap() + 4 - 64, 5);
    }
}

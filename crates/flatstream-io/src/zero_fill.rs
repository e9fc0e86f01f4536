//! [`ZeroFillCheck`]: report zero-filled damage instead of reading it as empty frames; and
//! [`ZeroFillGuard`]: never write frames that such a check would report.

use std::io::{Read, Write};

use flatstream_core::wire::{Frame, LENGTH_LEN};
use flatstream_core::{Checksum, Deframer, Error, Framer, Result};

use crate::recovery::ZERO_FILL_MIN_LEN;
use crate::{ChecksumDeframer, ChecksumFramer};

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
        debug_assert_eq!(
            frame_len - LENGTH_LEN,
            self.inner.checksum().size() + payload.len()
        );
        if counts_as_zero_fill(self.inner.checksum(), self.empty_is_zero, payload) {
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

/// Whether a frame with `payload` under `checksum` is zero bytes after its length field, and
/// counts towards zero fill as [`ZeroFillCheck`] sees it: with a checksum, any such frame
/// (an empty payload under every CRC here, a payload of zeros under CRC-16/XMODEM: what a
/// zeroed block leaves of a frame whose length survived); without one, an empty payload or
/// `ZERO_FILL_MIN_LEN` bytes or more of zeros (a payload of fewer zeros is data).
fn counts_as_zero_fill<C: Checksum>(checksum: &C, empty_is_zero: bool, payload: &[u8]) -> bool {
    let after_length = checksum.size() + payload.len();
    empty_is_zero
        && (payload.is_empty() || checksum.size() > 0 || after_length >= ZERO_FILL_MIN_LEN)
        && payload.iter().all(|byte| *byte == 0)
        && checksum.calculate(payload) == 0
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

/// A [`ChecksumFramer`] that refuses to write what [`ZeroFillCheck`] would read as
/// zero-filled damage: the frame that would make a run of [`ZERO_FILL_MIN_LEN`] bytes of
/// frames that are zeros after their length (empty payloads under a checksum whose value for
/// no bytes is 0: every CRC here, and none; payloads of zeros under CRC-16/XMODEM), or,
/// without a checksum, a payload of that many zero bytes.
///
/// The wire format allows such frames, but a file system that crashes before the data
/// reached the disk leaves the same bytes, so readers that check for zero fill (the command
/// line's among them) report them as damage, and `recover` cuts them off the end of a
/// file. A writer whose streams must read back as intact under that check refuses them
/// instead, with an [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) error that
/// writes nothing (the writer goes on).
///
/// ```
/// use flatstream_core::{ErrorKind, NoChecksum};
/// use flatstream_io::{ChecksumFramer, StreamWriter, ZeroFillGuard};
///
/// let mut writer = StreamWriter::new(Vec::new(), ZeroFillGuard::new(ChecksumFramer::new(NoChecksum)));
/// for _ in 0..15 {
///     writer.write_payload(b"")?; // 4 zero bytes each: 60 in a row
/// }
/// let refused = writer.write_payload(b"").unwrap_err();
/// assert!(matches!(refused.kind(), ErrorKind::InvalidFrame { .. }));
/// writer.write_payload(b"x")?; // the run ends: empty payloads may follow again
/// writer.write_payload(b"")?;
/// assert_eq!(writer.frames_written(), 17);
/// # Ok::<(), flatstream_core::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ZeroFillGuard<C> {
    inner: ChecksumFramer<C>,
    /// Whether an empty frame is all zero bytes under this checksum.
    empty_is_zero: bool,
    /// Bytes of the current run of zero frames written.
    run: usize,
}

impl<C: Checksum> ZeroFillGuard<C> {
    /// Adds the guard to `inner`.
    pub fn new(inner: ChecksumFramer<C>) -> Self {
        let empty_is_zero = inner.checksum().calculate(&[]) == 0;
        ZeroFillGuard {
            inner,
            empty_is_zero,
            run: 0,
        }
    }

    /// The framer inside.
    pub fn get_ref(&self) -> &ChecksumFramer<C> {
        &self.inner
    }
}

impl<C: Checksum> Framer for ZeroFillGuard<C> {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        let checksum = self.inner.checksum();
        let zero = counts_as_zero_fill(checksum, self.empty_is_zero, payload);
        if zero {
            let frame_len = LENGTH_LEN + checksum.size() + payload.len();
            let run = self.run + frame_len;
            if run >= ZERO_FILL_MIN_LEN {
                let what = if payload.is_empty() {
                    let most = (ZERO_FILL_MIN_LEN - 1) / frame_len;
                    format!(
                        "an empty payload here would make {run} zero bytes of empty frames in \
                         a row (at most {most} empty payloads in a row under {})",
                        checksum.name()
                    )
                } else {
                    format!(
                        "a payload of {} zero bytes is a frame of {} zero bytes after its \
                         length under {}",
                        payload.len(),
                        frame_len - LENGTH_LEN,
                        checksum.name()
                    )
                };
                return Err(Error::invalid_frame(format!(
                    "refused: {what}, which readers that check for zero fill report as \
                     zero-filled damage (a crash leaves the same bytes)"
                )));
            }
        }
        let written = self.inner.frame_and_write(writer, payload)?;
        self.run = if zero { self.run + written } else { 0 };
        Ok(written)
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
    fn the_guard_writes_exactly_what_the_check_reads_as_intact() {
        // Every payload the guard lets through reads back through the check, and each one
        // it refuses would have been reported: under a checksum whose empty value is zero
        // (none, CRC-32C), one whose is not (XXH3 stand-in: a constant), and CRC-16's
        // zeros-to-zero.
        #[derive(Debug, Clone, Copy)]
        struct NonZero;
        impl Checksum for NonZero {
            fn size(&self) -> usize {
                8
            }
            fn calculate(&self, _: &[u8]) -> u64 {
                0x5a5a
            }
            fn name(&self) -> &'static str {
                "nonzero"
            }
        }
        fn run<C: Checksum + Copy>(checksum: C, payloads: &[&[u8]]) -> (usize, usize) {
            let mut writer = StreamWriter::new(
                Vec::new(),
                ZeroFillGuard::new(ChecksumFramer::new(checksum)),
            );
            let refused = payloads
                .iter()
                .filter(|payload| writer.write_payload(payload).is_err())
                .count();
            let stream = writer.into_inner();
            let read =
                SliceReader::new(&stream, ZeroFillCheck::new(ChecksumDeframer::new(checksum)))
                    .map(Result::unwrap)
                    .count();
            (read, refused)
        }
        let zeros = [0u8; 70];
        let mut payloads: Vec<&[u8]> = vec![b""; 20];
        payloads.push(b"x");
        payloads.extend([&b""[..]; 3]);
        payloads.push(&zeros[..59]);
        payloads.push(&zeros);
        // None: 4-byte empty frames, 15 in a row at most; 70 zero bytes is zero fill.
        assert_eq!(run(NoChecksum, &payloads), (20, 6));
        // A checksum whose value is never zero: nothing is zero fill.
        assert_eq!(run(NonZero, &payloads), (26, 0));
        assert!(!counts_as_zero_fill(&NonZero, false, b""));
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

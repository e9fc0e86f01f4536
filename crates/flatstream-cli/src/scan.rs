//! Reading a whole stream: the loop shared by `stats`, `verify`, `cat` and `convert`.

use std::fs::File;
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

use flatstream::compress::is_chunk;
use flatstream::wire::MAX_HEADER_LEN;
use flatstream::{
    Checksum, ChecksumKind, Error, ErrorKind, StreamReader, Validator, ZeroFillCheck,
    find_intact_frame,
};

use crate::args::Options;
use crate::choose::{self, Chosen};
use crate::compression::{self, ScanDeframer, Unchunker, deliver, reading};
use crate::encryption::{self, MaybeDecrypting};
use crate::failure::Failure;
use crate::progress::{ProgressRead, bar};

/// What reading a stream found.
#[derive(Debug)]
pub(crate) struct Scan {
    /// Intact frames before the first bad one (or all of them).
    pub(crate) frames: u64,
    /// Bytes read from the file: all of it when the stream is clean, at least up to the
    /// first bad frame otherwise (reading goes ahead in 256 KiB blocks). Never less than
    /// `last_good_offset`, even when the file grew after it was opened.
    pub(crate) bytes_read: u64,
    /// One past the last intact frame.
    pub(crate) last_good_offset: u64,
    /// The first bad frame, if any.
    pub(crate) error: Option<Error>,
    /// Frames missing from an encrypted stream's sequence, read past with `--accept-gaps`.
    pub(crate) frames_missing: u64,
    /// The checksum read with.
    pub(crate) checksum: Chosen,
    /// Zero-filled damage: the byte range of zeros read as empty frames, when that is the
    /// error (it ends where reading stopped).
    pub(crate) zero_filled: Option<[u64; 2]>,
    /// When a given checksum fails at the first frame: the one the stream verifies under.
    pub(crate) suggested: Option<ChecksumKind>,
    /// When the stream looks torn but a frame that verifies begins after the point where
    /// it stopped: that frame's offset (the stream is damaged, not torn).
    pub(crate) intact_after: Option<u64>,
}

impl Scan {
    /// The outcome's name in `--json` output.
    pub(crate) fn end(&self) -> &'static str {
        match self.error.as_ref().map(Error::kind) {
            None => "clean",
            Some(ErrorKind::UnexpectedEof { .. }) if self.intact_after.is_some() => "damaged",
            Some(ErrorKind::UnexpectedEof { .. }) => "torn_tail",
            Some(ErrorKind::ChecksumMismatch { .. }) => "checksum_mismatch",
            Some(ErrorKind::FrameTooLarge { .. }) => "frame_too_large",
            Some(ErrorKind::ValidationFailed { .. }) => "validation_failed",
            Some(ErrorKind::ZeroFilled { .. }) => "zero_filled",
            Some(ErrorKind::AuthenticationFailed) => "authentication_failed",
            Some(ErrorKind::FramesMissing { .. }) => "frames_missing",
            Some(ErrorKind::OutOfSequence { .. }) => "out_of_sequence",
            Some(_) => "invalid",
        }
    }

    /// Exit status 1, without a further message, when the bad frame's error was printed in
    /// the report (`--json`).
    pub(crate) fn reported(&self) -> Result<(), Failure> {
        match self.error {
            Some(_) => Err(Failure::already_reported()),
            None => Ok(()),
        }
    }

    /// Exit status 1 with the error's message when the stream was bad; 2 for I/O errors.
    pub(crate) fn into_result(self, file: &Path) -> Result<(), Failure> {
        let Some(error) = &self.error else {
            return Ok(());
        };
        let failure = Failure::from_error(file, error);
        if let Some(intact) = self.intact_after {
            return Err(failure.context(format!(
                "but an intact frame begins at byte offset {intact}: the stream is damaged \
                 here, not torn (a length field is wrong); salvage copies the intact frames"
            )));
        }
        Err(match (self.zero_filled, self.suggested) {
            (Some([start, end]), _) => failure.context(format!(
                "bytes {start}..{end} are zeros, not frames: space the file system allocated \
                 but never wrote; the intact frames end at byte offset {start}"
            )),
            (None, Some(kind)) => failure.context(format!(
                "the stream's frames verify under {kind}: try -c {kind} (--from {kind} for \
                 convert), or -c auto"
            )),
            (None, None) => failure,
        })
    }
}

/// Reads every frame of `path` up to the first bad one, handing each payload to
/// `on_payload`.
pub(crate) fn scan(
    path: &Path,
    options: &Options,
    validator: Box<dyn Validator>,
    mut on_payload: impl FnMut(&[u8]) -> Result<(), Failure>,
) -> Result<Scan, Failure> {
    let file = File::open(path).map_err(|error| Failure::usage(path, error))?;
    // The length at open sizes the bar only: the file may grow while it is read.
    let metadata = file
        .metadata()
        .map_err(|error| Failure::usage(path, error))?;
    let mut progress = ProgressRead::new(file, bar(metadata.len(), options.quiet));
    // Detection reads the first bytes; they are read again, from memory, as the stream.
    let mut prefix = Vec::new();
    let checksum = match Chosen::given(options.checksum) {
        Some(chosen) => chosen,
        None => choose::detect_from(path, &mut progress, &mut prefix, options.max_frame_len)?,
    };
    let (deframer, mut unchunker) = deframer(path, options, checksum, validator)?;
    let source = Cursor::new(prefix).chain(progress);
    let mut reader = StreamReader::with_buffer_size(source, deframer, 256 * 1024);
    let mut largest_payload = 0;
    let mut error = loop {
        match reader.read_message() {
            Ok(Some(payload)) => {
                largest_payload = largest_payload.max(payload.len());
                if let Err(error) = deliver(unchunker.as_mut(), payload, &mut on_payload)? {
                    // Located at the frame's place on the wire (its payload may have been
                    // decrypted or decompressed: its length says nothing of the frame's).
                    let frame_index = reader.frames_read() - 1;
                    break Some(error.at_frame(frame_index, reader.last_frame_offset()));
                }
            }
            Ok(None) => break None,
            Err(error) => break Some(error),
        }
    };
    if let Some(error) = &error
        && let ErrorKind::Io(_) = error.kind()
    {
        return Err(Failure::from_error(path, error));
    }
    let mut zero_filled = None;
    let (frames, last_good_offset) = match &mut error {
        Some(first) => {
            let frames = first.frame_index().unwrap_or(0);
            let offset = first.offset().unwrap_or(0);
            match (first.kind(), first.frame_len()) {
                (ErrorKind::ZeroFilled { len }, Some(frame_len)) => {
                    // The run began before the frame that reached the threshold: the intact
                    // frames end where it began. Follow it to its end in a regular file (a
                    // device such as /dev/zero has none).
                    let frames = frames + 1 - len / frame_len;
                    let start = offset + frame_len - len;
                    let mut end = offset + frame_len;
                    if metadata.is_file() {
                        while let Err(next) = reader.read_message() {
                            match (next.kind(), next.offset(), next.frame_len()) {
                                (ErrorKind::ZeroFilled { .. }, Some(at), Some(frame_len)) => {
                                    end = at + frame_len;
                                }
                                // Zeros too few for a whole frame at the very end.
                                (ErrorKind::UnexpectedEof { .. }, ..) => {
                                    end += zeros_to_end(path, end).unwrap_or(0);
                                    break;
                                }
                                _ => break,
                            }
                        }
                    }
                    *first = Error::zero_filled(end - start).at_frame(frames, start);
                    zero_filled = Some([start, end]);
                    (frames, start)
                }
                _ => (frames, offset),
            }
        }
        // A clean end: the position counts every frame, an encrypted stream's final frame
        // included.
        None => (reader.frames_read(), reader.position()),
    };
    let intact_after = match &error {
        Some(error) if error.is_torn_tail() && metadata.is_file() => intact_after(
            path,
            last_good_offset,
            checksum,
            options.max_frame_len,
            largest_payload,
        ),
        _ => None,
    };
    let suggested = match &error {
        Some(error) if error.frame_index() == Some(0) && zero_filled.is_none() => {
            choose::suggestion(path, checksum, options.max_frame_len)
        }
        _ => None,
    };
    let frames_missing = reader.deframer().get_ref().inner().frames_missing();
    Ok(Scan {
        frames,
        bytes_read: reader.get_ref().get_ref().1.bytes_read(),
        last_good_offset,
        error,
        frames_missing,
        checksum,
        zero_filled,
        suggested,
        intact_after,
    })
}

/// Every deframer of a scan, innermost first: checksum and zero fill, decryption,
/// decompression, validation.
type FullDeframer = ScanDeframer<MaybeDecrypting<ZeroFillCheck<ChecksumKind>>>;

/// The deframer a scan reads with: checksum (and zero fill), then decryption, then
/// decompression or unchunking, then validation, as the options say (`--follow` reads with
/// it too).
pub(crate) fn deframer(
    path: &Path,
    options: &Options,
    checksum: Chosen,
    validator: Box<dyn Validator>,
) -> Result<(FullDeframer, Option<Unchunker>), Failure> {
    let first_payload_is_chunk = || {
        if options.encryption.key_file.is_some() {
            encryption::first_payload(
                path,
                checksum.deframer(options.max_frame_len),
                &options.encryption,
            )
            .is_some_and(|payload| is_chunk(&payload))
        } else {
            compression::first_payload_is_chunk(path, checksum.kind.size())
        }
    };
    reading(
        &options.compression,
        (first_payload_is_chunk, options.max_frame_len),
        MaybeDecrypting::new(
            {
                let check = ZeroFillCheck::new(checksum.deframer(options.max_frame_len));
                // Encrypted, every frame carries at least 40 bytes: an empty one is damage,
                // and zeros, not a payload too short to open.
                if options.encryption.key_file.is_some() {
                    check.no_empty_frames()
                } else {
                    check
                }
            },
            &options.encryption,
        )?,
        validator,
    )
}

/// How many bytes follow `offset` in the file, if they are few (shorter than a header) and
/// all zero.
pub(crate) fn zeros_to_end(path: &Path, offset: u64) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut rest = Vec::new();
    file.take(MAX_HEADER_LEN as u64)
        .read_to_end(&mut rest)
        .ok()?;
    rest.iter()
        .all(|byte| *byte == 0)
        .then_some(rest.len() as u64)
}

/// Whether a frame that verifies begins in what looks like the torn tail from `offset`: the
/// tail is read again from the file (it is shorter than a header and the largest payload).
fn intact_after(
    path: &Path,
    offset: u64,
    checksum: Chosen,
    max_frame_len: usize,
    largest_payload: usize,
) -> Option<u64> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(offset)).ok()?;
    let mut tail = Vec::new();
    file.take(max_frame_len.saturating_add(MAX_HEADER_LEN) as u64)
        .read_to_end(&mut tail)
        .ok()?;
    find_intact_frame(&tail, 1, &checksum.deframer(max_frame_len), largest_payload)
        .map(|at| offset + at as u64)
}

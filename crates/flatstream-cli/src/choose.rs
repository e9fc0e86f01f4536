//! Which checksum a reading command uses: the one `-c` names, or the one the stream's first
//! frames verify under (`-c auto`, the default).

use std::fs::File;
use std::io::Read;
use std::path::Path;

use flatstream::{
    Checksum, ChecksumDeframer, ChecksumKind, detect_checksum_with_limit, wire::MAX_HEADER_LEN,
};

use crate::args::ChecksumName;
use crate::failure::Failure;

/// The checksum in use, and how it was chosen.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chosen {
    pub(crate) kind: ChecksumKind,
    /// Whether it was detected (`-c auto`) rather than given.
    pub(crate) detected: bool,
    /// Detected without evidence: the stream holds no whole frame under any checksum (it
    /// is empty, or torn inside its first frame), so it reads the same under every one and
    /// `kind` is the writing default. Never evidence against a checksum `-c` names.
    pub(crate) assumed: bool,
}

impl Chosen {
    /// The one named, or `None` for `auto`.
    pub(crate) fn given(name: ChecksumName) -> Option<Chosen> {
        name.given().map(|kind| Chosen {
            kind,
            detected: false,
            assumed: false,
        })
    }

    pub(crate) fn name(self) -> &'static str {
        self.kind.name()
    }

    pub(crate) fn deframer(self, max_frame_len: usize) -> ChecksumDeframer<ChecksumKind> {
        ChecksumDeframer::new(self.kind).with_max_frame_len(max_frame_len)
    }
}

/// How much of a stream detection reads: a MiB holds the first frames of any stream of
/// small messages; more only when the first frame is larger, up to one whole frame.
pub(crate) fn prefix_steps(max_frame_len: usize) -> [usize; 3] {
    let whole_frame = max_frame_len.saturating_add(MAX_HEADER_LEN);
    [1 << 20, (16 << 20).min(whole_frame), whole_frame]
}

/// Detects the checksum of the stream `reader` starts, reading its first bytes into
/// `prefix` (which the caller must read first, before the rest of `reader`).
///
/// # Errors
///
/// Exit status 2 naming the candidates, when no algorithm fits or two do; the read's error.
pub(crate) fn detect_from(
    file: &Path,
    reader: &mut impl Read,
    prefix: &mut Vec<u8>,
    max_frame_len: usize,
) -> Result<Chosen, Failure> {
    let mut error = None;
    for step in prefix_steps(max_frame_len) {
        if step > prefix.len() {
            let wanted = (step - prefix.len()) as u64;
            reader
                .by_ref()
                .take(wanted)
                .read_to_end(prefix)
                .map_err(|error| Failure::usage(file, error))?;
        }
        match detect(file, prefix, prefix.len() < step, max_frame_len) {
            Ok(chosen) => return Ok(chosen),
            Err(failure) => error = Some(failure),
        }
        if prefix.len() < step {
            break; // The whole stream was read: more cannot help.
        }
    }
    Err(error.unwrap_or_else(|| Failure::usage(file, "cannot detect the checksum")))
}

/// Detects the checksum of the stream that `bytes` holds (or starts, when longer than
/// detection reads), in the steps of [`detect_from`]: a prefix that settles it spares
/// detection the rest (each algorithm that does not fit salvages the prefix it is given).
/// Each step's prefix is copied out of `bytes`: a MiB, unless the first frame is larger.
///
/// # Errors
///
/// Exit status 2 naming the candidates, when no algorithm fits or two do.
pub(crate) fn detect_in(
    file: &Path,
    bytes: &[u8],
    max_frame_len: usize,
) -> Result<Chosen, Failure> {
    detect_from(file, &mut &*bytes, &mut Vec::new(), max_frame_len)
}

/// Detects the checksum of `bytes`, the `whole` stream or its start (a start that does not
/// settle it makes [`detect_from`] read more).
///
/// A whole stream that is empty or torn inside its first frame under every checksum reads
/// the same under any: it is reported as crc32c, the writing default,
/// [`assumed`](Chosen::assumed).
fn detect(file: &Path, bytes: &[u8], whole: bool, max_frame_len: usize) -> Result<Chosen, Failure> {
    match detect_checksum_with_limit(bytes, max_frame_len) {
        Ok(detected) => Ok(Chosen {
            kind: detected.checksum,
            detected: true,
            assumed: false,
        }),
        Err(_) if whole && torn_first_frame_under_every_width(bytes, max_frame_len) => Ok(Chosen {
            kind: ChecksumKind::Crc32c,
            detected: true,
            assumed: true,
        }),
        Err(error) => Err(Failure::usage(
            file,
            format_args!("cannot detect the checksum: {error}; name it with -c"),
        )),
    }
}

/// Whether `bytes` is empty or ends inside its first frame under every checksum's header
/// width: a length field cut short, or a length within the limit whose frame runs past the
/// end whatever the header. A length over the limit is not: such bytes are more likely no
/// stream at all, which detection reports naming every candidate.
fn torn_first_frame_under_every_width(bytes: &[u8], max_frame_len: usize) -> bool {
    let Some(payload_len) = flatstream::wire::declared_len(bytes) else {
        return true;
    };
    let payload_len = payload_len as usize;
    payload_len <= max_frame_len
        && ChecksumKind::all().iter().all(|kind| {
            let header_len = flatstream::wire::LENGTH_LEN + kind.size();
            header_len.saturating_add(payload_len) > bytes.len()
        })
}

/// The checksum given, or the one detected from the start of the file at `path`.
///
/// # Errors
///
/// As [`detect_from`], and the errors of opening the file.
pub(crate) fn for_file(
    name: ChecksumName,
    path: &Path,
    max_frame_len: usize,
) -> Result<Chosen, Failure> {
    if let Some(chosen) = Chosen::given(name) {
        return Ok(chosen);
    }
    let mut file = File::open(path).map_err(|error| Failure::usage(path, error))?;
    detect_from(path, &mut file, &mut Vec::new(), max_frame_len)
}

/// When a stream read with a given checksum fails at its first frame: the checksum it does
/// verify under, if it is another (read again from the start of a regular file). "none" is
/// never suggested: it reads anything, damage included.
pub(crate) fn suggestion(
    path: &Path,
    chosen: Chosen,
    max_frame_len: usize,
) -> Option<ChecksumKind> {
    if chosen.detected {
        return None;
    }
    contradiction(path, chosen.kind, max_frame_len)
}

/// The checksum the stream at `path` (a regular file) verifies under, when it is neither
/// `given` nor "none": evidence that `-c` names the wrong algorithm.
pub(crate) fn contradiction(
    path: &Path,
    given: ChecksumKind,
    max_frame_len: usize,
) -> Option<ChecksumKind> {
    if !std::fs::metadata(path).ok()?.is_file() {
        return None;
    }
    let mut file = File::open(path).ok()?;
    let detected = detect_from(path, &mut file, &mut Vec::new(), max_frame_len).ok()?;
    (!detected.assumed && detected.kind != given && detected.kind != ChecksumKind::None)
        .then_some(detected.kind)
}

//! Checksums by name, and telling which one a stream carries from its first frames.

use std::fmt;
use std::str::FromStr;

use flatstream_core::{Checksum, DEFAULT_MAX_FRAME_LEN, Error, NoChecksum, Result};
use flatstream_io::{ChecksumDeframer, SliceReader, salvage_slice};

/// A checksum algorithm of the format, by name: the inverse of [`Checksum::name`].
///
/// Only the algorithms whose features are on are variants (`none` always is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChecksumKind {
    /// No checksum field.
    None,
    /// CRC-16/XMODEM, 2 bytes.
    #[cfg(feature = "crc16")]
    Crc16,
    /// CRC-32/ISO-HDLC, 4 bytes.
    #[cfg(feature = "crc32")]
    Crc32,
    /// CRC-32C (Castagnoli), 4 bytes.
    #[cfg(feature = "crc32c")]
    Crc32c,
    /// CRC-64/XZ, 8 bytes.
    #[cfg(feature = "crc64")]
    Crc64,
    /// XXH3-64 seed 0, 8 bytes.
    #[cfg(feature = "xxh3")]
    Xxh3,
}

/// `$body` with `$checksum` bound to the algorithm `$kind` names, as its own type: the one
/// table from variant to type, which every method that dispatches on the variant goes
/// through.
macro_rules! with_algorithm {
    ($kind:expr, $checksum:ident => $body:expr) => {
        match $kind {
            ChecksumKind::None => {
                let $checksum = NoChecksum;
                $body
            }
            #[cfg(feature = "crc16")]
            ChecksumKind::Crc16 => {
                let $checksum = crate::Crc16::new();
                $body
            }
            #[cfg(feature = "crc32")]
            ChecksumKind::Crc32 => {
                let $checksum = crate::Crc32::new();
                $body
            }
            #[cfg(feature = "crc32c")]
            ChecksumKind::Crc32c => {
                let $checksum = crate::Crc32c::new();
                $body
            }
            #[cfg(feature = "crc64")]
            ChecksumKind::Crc64 => {
                let $checksum = crate::Crc64::new();
                $body
            }
            #[cfg(feature = "xxh3")]
            ChecksumKind::Xxh3 => {
                let $checksum = crate::Xxh3::new();
                $body
            }
        }
    };
}

impl ChecksumKind {
    /// Every algorithm compiled in, `none` first.
    pub fn all() -> &'static [ChecksumKind] {
        &[
            ChecksumKind::None,
            #[cfg(feature = "crc16")]
            ChecksumKind::Crc16,
            #[cfg(feature = "crc32")]
            ChecksumKind::Crc32,
            #[cfg(feature = "crc32c")]
            ChecksumKind::Crc32c,
            #[cfg(feature = "crc64")]
            ChecksumKind::Crc64,
            #[cfg(feature = "xxh3")]
            ChecksumKind::Xxh3,
        ]
    }

    /// The algorithm, ready to frame or verify with.
    pub fn checksum(self) -> Box<dyn Checksum + Send + Sync> {
        with_algorithm!(self, checksum => Box::new(checksum))
    }

    /// Its name, as [`Checksum::name`] gives it and [`FromStr`] takes it.
    pub fn name(self) -> &'static str {
        with_algorithm!(self, checksum => checksum.name())
    }
}

/// The algorithm itself, chosen at run time without a `Box`: `ChecksumFramer::new(kind)` and
/// `ChecksumDeframer::new(kind)` frame and verify with it, the width a `match` on the variant
/// and each algorithm one direct call. Reading 64 B CRC-32C frames from a file with
/// `StreamReader::new`, a `Box<dyn Checksum>` ([`checksum`](ChecksumKind::checksum)) ran at
/// 0.74 to 0.87× the algorithm's own type, a `ChecksumKind` at 0.89 to 0.92× (one process,
/// AMD EPYC; `docs/benchmarks.md`, session 10).
///
/// ```
/// use flatstream::{ChecksumDeframer, ChecksumFramer, ChecksumKind, StreamReader, StreamWriter};
///
/// # #[cfg(feature = "crc32c")] {
/// let kind: ChecksumKind = "crc32c".parse()?;
/// let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(kind));
/// writer.write_payload(b"chosen at run time")?;
/// let stream = writer.into_inner();
///
/// // The same frames as the algorithm's own type writes and reads.
/// let mut reader = StreamReader::new(&stream[..], ChecksumDeframer::new(flatstream::Crc32c::new()));
/// assert_eq!(reader.read_message()?, Some(&b"chosen at run time"[..]));
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Checksum for ChecksumKind {
    #[inline]
    fn size(&self) -> usize {
        with_algorithm!(self, checksum => checksum.size())
    }

    #[inline]
    fn calculate(&self, payload: &[u8]) -> u64 {
        with_algorithm!(self, checksum => out_of_line::calculate(&checksum, payload))
    }

    fn name(&self) -> &'static str {
        ChecksumKind::name(*self)
    }

    /// As each algorithm's own `verify`: `none` accepts any stored value, as [`NoChecksum`]
    /// does (found by an outside attack: the trait's default compared it with 0); the others
    /// compare, as the trait's default does. The comparison stays inline: each algorithm's
    /// `verify` called out of line instead ran at 0.85 to 0.87× the algorithm's own type
    /// (64 B CRC-32C frames from a file) against 0.89 to 0.92× this way.
    #[inline]
    fn verify(&self, expected: u64, payload: &[u8]) -> Result<()> {
        if *self == ChecksumKind::None {
            return NoChecksum.verify(expected, payload);
        }
        let calculated = self.calculate(payload);
        if calculated == expected {
            Ok(())
        } else {
            Err(Error::checksum_mismatch(expected, calculated))
        }
    }
}

/// Each algorithm behind one call, for [`ChecksumKind`]'s `calculate`: inlined, every
/// algorithm's code would sit in the caller's per-frame loop.
mod out_of_line {
    use flatstream_core::Checksum;

    #[inline(never)]
    pub(super) fn calculate<C: Checksum>(checksum: &C, payload: &[u8]) -> u64 {
        checksum.calculate(payload)
    }
}

impl fmt::Display for ChecksumKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is no compiled-in checksum, from [`ChecksumKind::from_str`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownChecksum(String);

impl fmt::Display for UnknownChecksum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = ChecksumKind::all()
            .iter()
            .copied()
            .map(ChecksumKind::name)
            .collect();
        write!(
            f,
            "unknown checksum {:?} (known: {})",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for UnknownChecksum {}

impl FromStr for ChecksumKind {
    type Err = UnknownChecksum;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        ChecksumKind::all()
            .iter()
            .copied()
            .find(|kind| kind.name() == name)
            .ok_or_else(|| UnknownChecksum(name.to_owned()))
    }
}

/// How many frames [`detect_checksum`] reads under each algorithm, at most.
pub const DETECT_FRAMES: u64 = 256;

/// What [`detect_checksum`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Detected {
    /// The algorithm the stream's first frames verify under.
    pub checksum: ChecksumKind,
    /// How many frames verified under it (at most [`DETECT_FRAMES`]).
    pub frames_checked: u64,
}

/// Tells which checksum a stream carries, from its start.
///
/// `input` is the start of the stream (its first MiB or so): it may end inside a frame. Each
/// checksum is scored by how many frames verify under it in `input`, counting only payloads
/// that are neither empty nor all zero bytes (zero fill verifies under every CRC), and
/// stepping over damage as [`salvage`](crate::salvage) does, so a damaged first frame does
/// not hide the stream's checksum; the one with the most wins. Any frame verified under a
/// checksum outweighs "none", which fits whatever parses; "none" is detected only when no
/// checksum verifies a frame and the input reads without a checksum as at least two frames,
/// frame after frame, to its very end or for [`DETECT_FRAMES`] frames (a torn end under
/// "none" is more likely a checksummed stream with a damaged first frame, and a single frame
/// proves nothing), or when a 2-byte checksum matched a single frame (one chance in 65 536)
/// where "none" reads further. So for a stream without a checksum whose frames are large,
/// pass enough of it for [`DETECT_FRAMES`] frames, or all of it.
///
/// ```
/// use flatstream::{ChecksumFramer, ChecksumKind, StreamWriter, detect_checksum};
///
/// // Any compiled-in algorithm; the facade's default features include xxh3 and crc32c.
/// let kind = *ChecksumKind::all().last().unwrap();
/// let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(kind.checksum()));
/// writer.write_payload(b"a telemetry event")?;
/// writer.write_payload(b"another one")?;
/// let detected = detect_checksum(&writer.into_inner())?;
/// assert_eq!(detected.checksum, kind);
/// # Ok::<(), flatstream::Error>(())
/// ```
///
/// # Errors
///
/// [`ErrorKind::InvalidFrame`](crate::ErrorKind::InvalidFrame) naming the candidates when
/// the input is empty, when no algorithm fits its first frame, or when two fit equally far.
pub fn detect_checksum(input: &[u8]) -> Result<Detected> {
    detect_checksum_with_limit(input, DEFAULT_MAX_FRAME_LEN)
}

/// [`detect_checksum`] with a payload limit other than the default 64 MiB.
///
/// # Errors
///
/// As [`detect_checksum`].
pub fn detect_checksum_with_limit(input: &[u8], max_frame_len: usize) -> Result<Detected> {
    if input.is_empty() {
        return Err(Error::invalid_frame(
            "an empty stream carries no checksum to detect",
        ));
    }
    let fits: Vec<Fit> = ChecksumKind::all()
        .iter()
        .map(|kind| Fit::of(*kind, input, max_frame_len))
        .collect();
    let (plain, checksummed): (Vec<&Fit>, Vec<&Fit>) =
        fits.iter().partition(|fit| fit.kind.checksum().size() == 0);
    let best = checksummed.iter().map(|fit| fit.frames).max().unwrap_or(0);
    let leaders: Vec<&Fit> = checksummed
        .iter()
        .copied()
        .filter(|fit| best > 0 && fit.frames == best)
        .collect();
    let plain = plain.first().copied();
    let detected = match (leaders.as_slice(), plain) {
        ([only], Some(plain))
            if only.frames == 1
                && only.kind.checksum().size() < 4
                && plain.clean
                && plain.data_frames > 1 =>
        {
            plain
        }
        ([only], _) => only,
        ([], Some(plain)) if plain.frames > 1 && plain.clean => plain,
        ([], _) => {
            let tried: Vec<String> = fits.iter().map(Fit::summary).collect();
            return Err(Error::invalid_frame(format!(
                "no checksum fits the stream's first frame ({})",
                tried.join("; ")
            )));
        }
        (several, _) => {
            let names: Vec<&str> = several.iter().map(|fit| fit.kind.name()).collect();
            return Err(Error::invalid_frame(format!(
                "the checksum cannot be told: the first {best} frames verify under each of {}",
                names.join(", ")
            )));
        }
    };
    Ok(Detected {
        checksum: detected.kind,
        frames_checked: detected.frames,
    })
}

/// How far the start of a stream reads under one algorithm.
struct Fit {
    kind: ChecksumKind,
    /// Frames verified: for a checksum, only those whose bytes after the length field are
    /// not all zero (zero fill verifies as empty frames under every CRC, and as frames of
    /// zeros under CRC-16/XMODEM; a payload of zeros whose stored checksum is not zero is
    /// evidence like any other).
    frames: u64,
    /// Without a checksum: of `frames`, those whose payload is neither empty nor all zero.
    data_frames: u64,
    /// Whether reading (without a checksum) met no error: the end, or the frame limit.
    clean: bool,
    first_error: Option<Error>,
}

impl Fit {
    fn of(kind: ChecksumKind, input: &[u8], max_frame_len: usize) -> Fit {
        let checksum = kind.checksum();
        let deframer = || ChecksumDeframer::new(&*checksum).with_max_frame_len(max_frame_len);
        let mut fit = Fit {
            kind,
            frames: 0,
            data_frames: 0,
            clean: true,
            first_error: None,
        };
        if checksum.size() > 0 {
            fit.first_error = SliceReader::new(input, deframer())
                .next()
                .and_then(Result::err);
            // Count what verifies anywhere in the input, past damage as salvage steps over
            // it: a damaged first frame must not hide the stream's checksum.
            let mut kept = Vec::new();
            if salvage_slice(input, deframer(), &mut kept).is_ok() {
                fit.frames = SliceReader::new(&kept, deframer())
                    .take(DETECT_FRAMES as usize)
                    .filter_map(Result::ok)
                    .filter(|payload| {
                        payload.iter().any(|byte| *byte != 0) || checksum.calculate(payload) != 0
                    })
                    .count() as u64;
            }
            return fit;
        }
        let mut reader = SliceReader::new(input, deframer());
        for _ in 0..DETECT_FRAMES {
            match reader.read_message() {
                Ok(Some(payload)) => {
                    fit.frames += 1;
                    if payload.iter().any(|byte| *byte != 0) {
                        fit.data_frames += 1;
                    }
                }
                Ok(None) => break,
                Err(error) => {
                    fit.clean = false;
                    fit.first_error = Some(error);
                    break;
                }
            }
        }
        fit
    }

    fn summary(&self) -> String {
        match &self.first_error {
            Some(error) => format!("{}: {error}", self.kind.name()),
            None => format!("{}: no frame with data", self.kind.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChecksumFramer, StreamWriter};

    fn stream(kind: ChecksumKind, payloads: &[&[u8]]) -> Vec<u8> {
        let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(kind.checksum()));
        for payload in payloads {
            writer.write_payload(payload).unwrap();
        }
        writer.into_inner()
    }

    #[test]
    fn a_kind_is_the_checksum_it_names() {
        let data: Vec<u8> = (0..300u32)
            .map(|i| (i.wrapping_mul(0x9e37_79b9) >> 13) as u8)
            .collect();
        for kind in ChecksumKind::all() {
            let boxed = kind.checksum();
            assert_eq!(Checksum::size(kind), boxed.size(), "{kind}");
            assert_eq!(Checksum::name(kind), boxed.name(), "{kind}");
            for len in 0..=data.len() {
                let input = &data[..len];
                assert_eq!(
                    kind.calculate(input),
                    boxed.calculate(input),
                    "{kind}, {len} B"
                );
            }
        }
    }

    #[test]
    fn a_stream_framed_with_a_kind_is_the_algorithms_stream() {
        let payloads: Vec<Vec<u8>> = (0..50u8).map(|i| vec![i; usize::from(i) * 3]).collect();
        for kind in ChecksumKind::all() {
            let mut writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(*kind));
            for payload in &payloads {
                writer.write_payload(payload).unwrap();
            }
            let by_kind = writer.into_inner();
            let refs: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
            assert_eq!(by_kind, stream(*kind, &refs), "{kind}");
            let mut reader = crate::StreamReader::new(&by_kind[..], ChecksumDeframer::new(*kind));
            for payload in &payloads {
                assert_eq!(reader.read_message().unwrap(), Some(&payload[..]), "{kind}");
            }
            assert_eq!(reader.read_message().unwrap(), None, "{kind}");
            // A flipped payload bit is a mismatch for every algorithm but none.
            let mut damaged = by_kind.clone();
            let last = damaged.len() - 1;
            damaged[last] ^= 1;
            let mut reader = crate::StreamReader::new(&damaged[..], ChecksumDeframer::new(*kind));
            let outcome = reader.process_all(|_| Ok(()));
            assert_eq!(outcome.is_err(), Checksum::size(kind) != 0, "{kind}");
        }
    }

    #[test]
    fn names_round_trip() {
        for kind in ChecksumKind::all() {
            assert_eq!(kind.name().parse::<ChecksumKind>().unwrap(), *kind);
            assert_eq!(kind.to_string(), kind.name());
        }
        let error = "crc99".parse::<ChecksumKind>().unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("unknown checksum \"crc99\" (known: none")
        );
    }

    #[test]
    fn every_algorithm_is_detected_from_its_own_stream() {
        let payloads: Vec<Vec<u8>> = (0..40u8)
            .map(|i| vec![i.wrapping_mul(37) | 1; 20 + usize::from(i)])
            .collect();
        let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        for kind in ChecksumKind::all() {
            let bytes = stream(*kind, &payloads);
            let detected = detect_checksum(&bytes).unwrap();
            assert_eq!(detected.checksum, *kind);
            assert_eq!(detected.frames_checked, 40);
            // A torn prefix is detected too under a checksum: the input may be the start of
            // a file (without one, only past DETECT_FRAMES frames).
            let torn = detect_checksum(&bytes[..bytes.len() / 2 + 3]);
            if *kind == ChecksumKind::None {
                assert!(torn.is_err());
            } else {
                assert_eq!(torn.unwrap().checksum, *kind);
            }
        }
    }

    #[test]
    fn one_frame_is_enough_under_a_checksum() {
        for kind in ChecksumKind::all().iter().skip(1) {
            let bytes = stream(*kind, &[b"a single frame of telemetry"]);
            assert_eq!(detect_checksum(&bytes).unwrap().checksum, *kind);
        }
    }

    #[test]
    fn a_damaged_first_frame_does_not_hide_the_checksum() {
        // Payloads ending in zeros (FlatBuffers padding) used to let "none" win once frame 0
        // was damaged: it then read the rest as frames.
        let payloads: Vec<Vec<u8>> = (1..30u8)
            .map(|i| {
                let mut payload = vec![i; 12 + usize::from(i % 5)];
                payload.extend_from_slice(&[0; 8]);
                payload
            })
            .collect();
        let payloads: Vec<&[u8]> = payloads.iter().map(Vec::as_slice).collect();
        for kind in ChecksumKind::all().iter().skip(1) {
            let clean = stream(*kind, &payloads);
            for damage in [0, 2, 9, 20] {
                let mut bytes = clean.clone();
                bytes[damage] ^= 0x04;
                let detected = detect_checksum(&bytes).unwrap();
                assert_eq!(detected.checksum, *kind, "byte {damage}");
            }
        }
    }

    #[test]
    fn none_must_read_two_frames_to_the_end() {
        let bytes = stream(ChecksumKind::None, &[b"first", b"second"]);
        assert_eq!(
            detect_checksum(&bytes).unwrap().checksum,
            ChecksumKind::None
        );
        // Torn, or a single frame: a damaged checksummed frame reads like that too.
        assert!(detect_checksum(&bytes[..bytes.len() - 2]).is_err());
        assert!(detect_checksum(&stream(ChecksumKind::None, &[b"only"])).is_err());
        // A one-frame CRC-32C stream whose length grew by the checksum's width reads as one
        // whole frame without a checksum: not "none" either.
        let mut damaged = stream(*ChecksumKind::all().last().unwrap(), &[b"one frame only"]);
        damaged[0] += 8;
        assert!(detect_checksum(&damaged).is_err());
        // Enough frames in a prefix are enough, torn end or not.
        let many: Vec<&[u8]> = vec![b"frame"; 300];
        let bytes = stream(ChecksumKind::None, &many);
        assert_eq!(
            detect_checksum(&bytes[..bytes.len() - 2]).unwrap().checksum,
            ChecksumKind::None
        );
    }

    #[test]
    fn zeros_empty_input_and_noise_are_not_guessed() {
        assert!(
            detect_checksum(&[])
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
        // Zeros read as empty frames under every algorithm: only "none" parses them, and
        // it fits, which is what they are on the wire (zero fill is judged elsewhere).
        assert_eq!(
            detect_checksum(&[0; 4096]).unwrap().checksum,
            ChecksumKind::None
        );
        let noise = [0xff_u8; 100];
        let error = detect_checksum(&noise).unwrap_err();
        assert!(error.to_string().contains("no checksum fits"), "{error}");
    }
}

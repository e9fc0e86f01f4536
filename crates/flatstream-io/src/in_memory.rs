//! The sources that hold their whole stream in memory behind [`Read`](std::io::Read)
//! (`&[u8]`, `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`), which the buffered reader of
//! [`StreamReader::new`](crate::StreamReader::new) recognises by type and parses where the
//! bytes lie, as `SliceReader` does, instead of copying them into its buffer.
//!
//! Stable Rust has no specialization, and `Any` needs `'static` types, which these are not;
//! so the reader compares lifetime-erased type ids (the `typeid` crate) and, on a match,
//! views the source as the type it is. That view is this crate's second `unsafe` (the first
//! maps files, in `mmap`): one pointer cast per kind, below, each with its argument.
//!
//! Measured (single-cell harness, 64 B frames without a checksum, `Cursor<&[u8]>`):
//! copying the bytes into the reader's buffer first ran at 0.64× the minimal `read_exact`
//! loop on a 64 MiB stream and 0.67× with 1 KiB frames on a 1 MiB one; see
//! `docs/benchmarks.md` for the table with this path.
#![allow(unsafe_code)]

use std::io::Cursor;

use flatstream_core::{Deframer, Error, Result};

use crate::progress::Progress;
use crate::reader::{Plain, Stride, plain_frame, process_plain_frames};

/// Which in-memory source a type is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `&[u8]`: reading moves the slice's start.
    Slice,
    /// `Cursor<&[u8]>`: reading moves the position.
    CursorSlice,
    /// `Cursor<&Vec<u8>>`: reading moves the position.
    CursorVec,
}

/// The in-memory kind of `R`, whatever its lifetimes; `None` for every other type. After
/// inlining, the comparisons are of constants.
#[inline]
pub(crate) fn kind_of<R>() -> Option<Kind> {
    let id = typeid::of::<R>();
    if id == typeid::of::<&[u8]>() {
        Some(Kind::Slice)
    } else if id == typeid::of::<Cursor<&[u8]>>() {
        Some(Kind::CursorSlice)
    } else if id == typeid::of::<Cursor<&Vec<u8>>>() {
        Some(Kind::CursorVec)
    } else {
        None
    }
}

/// The bytes an in-memory source has left, from its position on; `None` if `R` is not one.
///
/// They belong to whoever lent them to the source, not to the source, so they are returned
/// borrowed for as long as the source itself may live (`R: 'a`), not for the short borrow of
/// `source`: a payload may keep borrowing them while the source is moved on
/// ([`advance`]), which does not touch them.
#[inline]
pub(crate) fn rest<'a, R: 'a>(source: &R) -> Option<&'a [u8]> {
    let source = std::ptr::from_ref(source);
    // SAFETY (all three): `kind_of::<R>()` said `R` is this type up to its lifetimes, so the
    // cast pointer points to a valid value of it (same layout and fields), read here through
    // a shared borrow while `source` is. The cast changes one thing: the lifetime of the
    // borrowed bytes inside, from the `'r` the caller chose to `'a`; `R: 'a` says `'r`
    // outlives `'a`, so the bytes are valid for all of `'a`, and nothing writes them (the
    // source holds them through a shared reference).
    Some(match kind_of::<R>()? {
        Kind::Slice => unsafe { *source.cast::<&'a [u8]>() },
        Kind::CursorSlice => {
            let cursor = unsafe { &*source.cast::<Cursor<&'a [u8]>>() };
            after(cursor.get_ref(), cursor.position())
        }
        Kind::CursorVec => {
            let cursor = unsafe { &*source.cast::<Cursor<&'a Vec<u8>>>() };
            after(cursor.get_ref(), cursor.position())
        }
    })
}

/// Moves an in-memory source `consumed` bytes on (past frames delivered from its
/// [`rest`]), as reading them through `Read` would have; nothing for any other `R`.
#[inline]
pub(crate) fn advance<R>(source: &mut R, consumed: usize) {
    let Some(kind) = kind_of::<R>() else { return };
    let source = std::ptr::from_mut(source);
    // SAFETY (all three): as in `rest`, the cast pointer points to a valid value of the type
    // `kind_of` named, borrowed uniquely here as `source` is. What is written: a cursor's
    // position (no reference), or a slice's start moved within the slice that was there,
    // whose bytes are valid for as long as the original was (the lifetime the cast forgets).
    match kind {
        Kind::Slice => {
            let slice = unsafe { &mut *source.cast::<&[u8]>() };
            *slice = &slice[consumed.min(slice.len())..];
        }
        Kind::CursorSlice => {
            let cursor = unsafe { &mut *source.cast::<Cursor<&[u8]>>() };
            cursor.set_position(cursor.position() + consumed as u64);
        }
        Kind::CursorVec => {
            let cursor = unsafe { &mut *source.cast::<Cursor<&Vec<u8>>>() };
            cursor.set_position(cursor.position() + consumed as u64);
        }
    }
}

/// What [`next_frame`] found.
pub(crate) enum Taken<'a> {
    /// A whole plain frame, taken where it lies: its payload and its length; the source
    /// has moved past it.
    Frame(&'a [u8], usize),
    /// A whole frame the deframer rejected (a validator), with the error `decode_frame`
    /// would return; the source has moved past it.
    Rejected(Error),
    /// The end: nothing left (the bytes are borrowed, so they cannot grow).
    End,
    /// `R` is not in memory, or the next frame is not a whole plain one: the caller reads
    /// it its own way, from where the source stands.
    Elsewhere,
}

/// The next frame of an in-memory source, taken where it lies (see [`Taken`]). The payload
/// borrows the caller's bytes, not `source`, which the caller may use again.
// Always: the readers' per-frame path (a nested `Option<Result<Option<..>>>` return here
// cost `read_message` 10% against returning from the caller directly).
#[allow(clippy::inline_always)]
#[inline(always)]
pub(crate) fn next_frame<'a, R: 'a, D: Deframer>(
    source: &mut R,
    deframer: &D,
    stride: &mut Stride,
) -> Taken<'a> {
    let Some(rest) = rest::<R>(source) else {
        return Taken::Elsewhere;
    };
    if rest.is_empty() {
        return Taken::End;
    }
    match plain_frame(deframer, rest) {
        Plain::Frame(frame) => {
            advance(source, stride.next(frame.len));
            Taken::Frame(&rest[frame.payload.start..frame.payload.end], frame.len)
        }
        Plain::Rejected(error, frame_len) => {
            advance(source, frame_len);
            Taken::Rejected(error)
        }
        Plain::General => Taken::Elsewhere,
    }
}

/// `process_all`'s run of plain frames over an in-memory source, where they lie: `None`
/// when `R` is not in memory (the caller runs over its own bytes), else whether the source
/// has ended (`Ok(true)`) or the run stopped at a frame that is not a whole plain one. The
/// source is moved past the frames delivered when the run ends, however it ends (a panic
/// in `process` too). Per run, not per frame: the nested return costs nothing measurable.
#[inline]
pub(crate) fn process_run<R, D: Deframer, F: FnMut(&[u8]) -> Result<()>>(
    source: &mut R,
    deframer: &D,
    progress: &mut Progress,
    process: &mut F,
) -> Option<Result<bool>> {
    let rest = rest::<R>(source)?;
    if rest.is_empty() {
        return Some(Ok(true));
    }
    let mut moved = MovesOn::new(source);
    Some(
        process_plain_frames(rest, &mut moved.consumed, deframer, progress, process)
            .map(|()| false),
    )
}

/// An in-memory source, moved on by `consumed` bytes when this is dropped: when a run of
/// frames taken from its [`rest`] ends, however it ends (a panic in the caller's closure
/// too), so that no frame is delivered twice.
struct MovesOn<'s, R> {
    source: &'s mut R,
    /// Bytes of the frames delivered from the source's `rest`.
    consumed: usize,
}

impl<'s, R> MovesOn<'s, R> {
    fn new(source: &'s mut R) -> Self {
        MovesOn {
            source,
            consumed: 0,
        }
    }
}

impl<R> Drop for MovesOn<'_, R> {
    fn drop(&mut self) {
        advance(self.source, self.consumed);
    }
}

/// `bytes` from `position` on (a cursor may stand past its end: nothing is left then).
#[inline]
fn after(bytes: &[u8], position: u64) -> &[u8] {
    let start = usize::try_from(position).map_or(bytes.len(), |start| start.min(bytes.len()));
    &bytes[start..]
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use super::*;

    #[test]
    fn the_in_memory_kinds_are_told_apart_from_every_other_source() {
        assert_eq!(kind_of::<&[u8]>(), Some(Kind::Slice));
        assert_eq!(kind_of::<Cursor<&[u8]>>(), Some(Kind::CursorSlice));
        assert_eq!(kind_of::<Cursor<&Vec<u8>>>(), Some(Kind::CursorVec));
        assert_eq!(kind_of::<Cursor<Vec<u8>>>(), None);
        assert_eq!(kind_of::<&mut &[u8]>(), None);
        assert_eq!(kind_of::<&mut [u8]>(), None);
        assert_eq!(kind_of::<std::io::Empty>(), None);
        assert_eq!(kind_of::<std::io::BufReader<&[u8]>>(), None);
        assert_eq!(kind_of::<std::io::Chain<&[u8], &[u8]>>(), None);
    }

    /// Seen, moved on, read on: the source then reads exactly where the bytes taken from
    /// `rest` ended, through its own `Read`, for each kind (and under Miri), and the bytes
    /// taken stay readable after the move.
    #[test]
    fn a_source_moved_on_reads_on_from_there() {
        let bytes: Vec<u8> = (0..=255u8).collect();

        let mut slice: &[u8] = &bytes[10..];
        let taken = rest(&slice).unwrap();
        assert_eq!(taken, &bytes[10..]);
        advance(&mut slice, 5);
        advance(&mut slice, 20);
        assert_eq!(taken[25], 35, "the bytes stay readable after the move");
        assert_eq!(slice, &bytes[35..]);

        let mut cursor = Cursor::new(&bytes[..]);
        cursor.set_position(5);
        let taken = rest(&cursor).unwrap();
        assert_eq!(taken, &bytes[5..]);
        advance(&mut cursor, 40);
        advance(&mut cursor, 100);
        assert_eq!(taken[0], 5);
        let mut read = Vec::new();
        cursor.read_to_end(&mut read).unwrap();
        assert_eq!(read, bytes[145..]);

        let mut cursor = Cursor::new(&bytes);
        cursor.set_position(300);
        assert!(
            rest(&cursor).unwrap().is_empty(),
            "a cursor past its end has nothing left"
        );
        cursor.set_position(250);
        let taken = rest(&cursor).unwrap();
        advance(&mut cursor, 6);
        assert_eq!(taken, &bytes[250..]);
        assert_eq!(cursor.position(), 256);

        let mut owned = Cursor::new(bytes.clone());
        assert!(rest(&owned).is_none());
        advance(&mut owned, 3);
        assert_eq!(owned.position(), 0, "other sources are not moved");
    }
}

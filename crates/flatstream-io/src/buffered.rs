//! [`Buffered`]: the mode of [`StreamReader::new`](crate::StreamReader::new), frames parsed
//! in place out of the reader's own buffer.

use std::io::{self, BufRead, Read};

use flatstream_core::{Deframer, Result};

use crate::in_memory;
use crate::progress::Progress;
use crate::reader::{
    Found, Needed, Plain, ReadMode, Stride, find_frame, plain_frame, process_plain_frames,
    source_ended,
};

/// Bytes of a [`Buffered`] reader's buffer: a 64 KiB payload and its header fit whole (so
/// 64 KiB chunks are parsed in place too), and the allocation stays under the allocator's
/// threshold for mapping fresh pages, so a reader made per stream does not fault them in.
pub const DEFAULT_BUFFER_SIZE: usize = 64 * 1024 + 64;

/// Bytes of a [`Buffered`] reader's buffer until the source first fills it: a reader of a
/// short stream (a received batch of a few frames) zeroes 1 KiB, not the whole buffer.
/// Measured, a new reader per stream of 3 frames of 64 B from a `Cursor`, `process_all`:
/// 434 ns per stream with the whole buffer at once, 61 ns with a 4 KiB first buffer, 35 ns
/// with 1 KiB; the minimal `read_exact` loop takes 19 ns. The first read that fills it grows
/// it to the full size, once.
const FIRST_BUFFER_SIZE: usize = 1024;

/// The mode of [`StreamReader::new`](crate::StreamReader::new): the reader reads its source
/// in large pieces into a buffer of its own and parses each frame where it lies there, as
/// [`InPlace`](crate::InPlace) does in a `BufRead`'s buffer. A payload borrows that buffer;
/// only frames larger than the buffer, and payloads an adapter transforms, are copied into
/// the payload buffer.
///
/// A source that holds its stream in memory (`&[u8]`, `Cursor<&[u8]>`, `Cursor<&Vec<u8>>`)
/// is recognised by its type under [`StreamReader::new`](crate::StreamReader::new) and parsed
/// where its bytes lie, as [`SliceReader`](crate::SliceReader) does: copying them into the
/// buffer first cost 0.64× the minimal `read_exact` loop on a 64 MiB stream of 64 B frames.
///
/// One read of the source serves many small frames, so a plain `File` or socket needs no
/// `BufReader` around it. The buffer starts at 1 KiB and grows to its full size the first
/// time a read fills it, so a reader made for a short stream (a received batch of a few
/// frames) does not allocate and zero the whole buffer. The price: the source moves ahead
/// of the frames delivered (by up to the buffer's size), as it does under a `BufReader`. [`StreamReader::buffer`](
/// crate::StreamReader::buffer) shows the bytes read but not yet delivered, and
/// [`StreamReader::into_parts`](crate::StreamReader::into_parts) gives them back with the
/// source; a source whose bytes after the stream belong to someone else wants
/// [`StreamReader::unbuffered`](crate::StreamReader::unbuffered).
///
/// Errors, positions, limits and adapters are those of the other modes: a torn tail is
/// reported with the same counts, and [`position`](crate::StreamReader::position) is where
/// the last good frame ended.
#[derive(Debug, Clone)]
pub struct Buffered {
    /// Read from the source; empty until the first read (a reader made and never read
    /// allocates nothing), then [`FIRST_BUFFER_SIZE`] bytes until the source fills it, then
    /// `size`.
    buffer: Vec<u8>,
    /// Where the next frame begins in `buffer`.
    start: usize,
    /// How many bytes of `buffer` hold data.
    end: usize,
    /// The buffer's full size, which it grows to the first time the source fills it.
    size: usize,
    /// The last frame's length, which `read_frame` moves `start` by when the next frame's
    /// is the same (see [`Stride`]).
    stride: Stride,
    /// Whether a source holding its stream in memory (`&[u8]`, `Cursor<&[u8]>`,
    /// `Cursor<&Vec<u8>>`) is parsed where its bytes lie rather than copied into the buffer:
    /// so for `StreamReader::new`, not for `with_buffer_size`, which asks for the buffer.
    in_place: bool,
}

impl Buffered {
    /// A buffer of `size` bytes (at least 16), allocated at the first read.
    pub(crate) fn with_size(size: usize) -> Self {
        Buffered {
            buffer: Vec::new(),
            start: 0,
            end: 0,
            size: size.max(16),
            stride: Stride::default(),
            in_place: false,
        }
    }

    /// The same, parsing a source that holds its stream in memory where its bytes lie.
    pub(crate) fn in_place_in_memory(size: usize) -> Self {
        Buffered {
            in_place: true,
            ..Self::with_size(size)
        }
    }

    /// The bytes read from the source and not yet delivered.
    pub(crate) fn unread(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// Reads more of the source behind the bytes held, moving them to the front first (and
    /// allocating the buffer on the first read, growing it to its full size when the source
    /// has filled it). Returns how many bytes came: 0 at the end of the source.
    #[cold]
    #[inline(never)]
    fn fill<R: Read>(&mut self, source: &mut R) -> io::Result<usize> {
        if self.start != 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buffer.is_empty() {
            self.buffer = vec![0; FIRST_BUFFER_SIZE.min(self.size)];
        }
        loop {
            match source.read(&mut self.buffer[self.end..]) {
                Ok(read) => {
                    // A `Read` that claims more than it was given is refused, never trusted.
                    let room = self.buffer.len() - self.end;
                    if read > room {
                        return Err(over_claimed(read, room));
                    }
                    self.end += read;
                    // The source had at least a buffer's worth: the full size from now on.
                    if self.end == self.buffer.len() && self.buffer.len() < self.size {
                        self.buffer.resize(self.size, 0);
                    }
                    return Ok(read);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// The frame that does not lie whole in the buffer, read by the deframer through
    /// [`Read`] into `payload`: a frame larger than the buffer, or, `at_end`, the torn tail
    /// the source ended in (reported with the counts the other modes give: the source is
    /// not read again in this call, as a reader of one frame at a time would not).
    #[cold]
    #[inline(never)]
    fn read_through<'a, R: Read, D: Deframer>(
        &mut self,
        source: &mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        at_end: bool,
    ) -> Result<Option<(&'a [u8], usize)>> {
        let start = self.start;
        let mut through = Through {
            held: self,
            source,
            at_end,
            pulled: false,
        };
        match deframer.read_frame(&mut through, payload) {
            Ok(frame_len) => Ok(frame_len.map(|frame_len| (&payload[..], frame_len))),
            Err(error) => {
                // An error that stops the reader leaves its position where the frame began:
                // the frame's bytes are held again, so that `buffer` and `into_parts` give
                // back the stream from `position` on. All of them are, unless the deframer
                // read past the bytes held (a frame larger than the buffer, torn in its
                // payload): those went into the payload buffer and are not kept.
                if error.frame_len().is_none() && !through.pulled {
                    self.start = start;
                }
                Err(error)
            }
        }
    }

    /// The next frame, from the bytes held or after reading more: [`ReadMode::read_frame`]
    /// when the next frame is not known to be whole in the buffer, and after a frame
    /// without a message. Out of line, off the per-frame path.
    #[inline(never)]
    fn next_frame<'a, R: Read, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>> {
        // A payload may land in the payload buffer here.
        progress.schedule_upkeep();
        loop {
            let held = &self.buffer[self.start..self.end];
            let needed = if held.is_empty() {
                Needed::Header
            } else {
                match find_frame(held, deframer, payload)? {
                    Found::Whole {
                        payload_start,
                        payload_len,
                        frame_len,
                    } => {
                        let begin = self.start + payload_start;
                        self.advance(frame_len);
                        // The payload buffer holds no payload now (the memory policy counts
                        // it).
                        payload.clear();
                        return Ok(Some((&self.buffer[begin..begin + payload_len], frame_len)));
                    }
                    Found::Decoded {
                        payload_start,
                        payload_len,
                        frame_len,
                    } => {
                        self.advance(frame_len);
                        return Ok(Some((
                            &payload[payload_start..payload_start + payload_len],
                            frame_len,
                        )));
                    }
                    Found::Marker(frame_len) => {
                        self.advance(frame_len);
                        progress.skip(frame_len);
                        continue;
                    }
                    // Consumed whole: reading may go on.
                    Found::Rejected(error, frame_len) => {
                        self.advance(frame_len);
                        return Err(error);
                    }
                    Found::Straddles(needed) => needed,
                }
            };
            // Not whole yet: read more if the frame fits in the buffer (a header longer than
            // a full buffer does not); at the end of the source, or for a larger frame, the
            // deframer reads it through.
            let fits = match needed {
                Needed::Header => self.end - self.start < self.size,
                Needed::Frame(frame_len) => frame_len <= self.size,
                Needed::ReadThrough => false,
            };
            if !fits {
                return self.read_through(source, deframer, payload, false);
            }
            if self.fill(source)? != 0 {
                continue;
            }
            // The source ended (for now: a file may grow, and the next call reads on):
            // cleanly between frames, or in a torn frame.
            if self.start == self.end {
                return source_ended(deframer, payload, progress);
            }
            return self.read_through(source, deframer, payload, true);
        }
    }

    /// Moves past `frame_len` bytes of the held ones.
    fn advance(&mut self, frame_len: usize) {
        self.start = self.start.saturating_add(frame_len).min(self.end);
    }
}

impl<R: Read> ReadMode<R> for Buffered {
    // Always: left to `#[inline]`, LLVM kept this out of callers' per-message loops
    // (measured on the `everyday` bench cells with 64 B frames).
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn read_frame<'a, D: Deframer>(
        &'a mut self,
        source: &'a mut R,
        deframer: &mut D,
        payload: &'a mut Vec<u8>,
        progress: &mut Progress,
    ) -> Result<Option<(&'a [u8], usize)>> {
        // A source with its stream in memory, with nothing held: the frame where it lies
        // there, and the source moved past it, as reading it would have.
        // (The payload buffer is empty on entry: the reader's upkeep empties it.)
        if self.in_place && self.start == self.end {
            match in_memory::next_frame(source, deframer, &mut self.stride) {
                in_memory::Taken::Frame(frame, frame_len) => return Ok(Some((frame, frame_len))),
                in_memory::Taken::Rejected(error) => return Err(error),
                in_memory::Taken::End => return source_ended(deframer, payload, progress),
                in_memory::Taken::Elsewhere => {}
            }
        }
        // The frame per call: whole in the buffer and passed through, delivered from there.
        // Anything else (more to read, the end, a frame larger than the buffer, a payload an
        // adapter transforms, an error) takes `next_frame`, which reads an in-memory source
        // through `Read` like any other.
        let (start, end) = (self.start, self.end);
        let frame = match plain_frame(deframer, &self.buffer[start..end]) {
            Plain::Frame(frame) => frame,
            // Consumed whole, as `next_frame` would.
            Plain::Rejected(error, frame_len) => {
                self.start = start + frame_len;
                return Err(error);
            }
            Plain::General => return self.next_frame(source, deframer, payload, progress),
        };
        self.start = start + self.stride.next(frame.len);
        // The held bytes sliced again by the same bounds, which the optimizer knows to hold
        // the payload (the parse checked it against them): one bounds check, against the
        // buffer's length, where slicing the payload out of the whole buffer took three.
        // (Not the first slice kept: a borrow returned on this path and not on the other
        // is refused, the borrow checker's "problem case 3".)
        let held = &self.buffer[start..end];
        Ok(Some((&held[frame.payload], frame.len)))
    }

    #[inline]
    fn settle(&mut self, _source: &mut R) {}

    #[inline]
    fn process_held<D: Deframer, F: FnMut(&[u8]) -> Result<()>>(
        &mut self,
        source: &mut R,
        deframer: &D,
        progress: &mut Progress,
        process: &mut F,
    ) -> Result<bool> {
        if self.in_place
            && self.start == self.end
            && let Some(ended) = in_memory::process_run(source, deframer, progress, process)
        {
            return ended;
        }
        let held = &self.buffer[self.start..self.end];
        process_plain_frames(held, &mut self.start, deframer, progress, process)?;
        Ok(false)
    }
}

/// The error for a `Read` that claims more bytes than it was given room for: refused, never
/// trusted (the same words as the other modes').
#[cold]
fn over_claimed(read: usize, room: usize) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("reader returned {read} bytes for a {room}-byte buffer"),
    )
}

/// The held bytes, then the source: what [`Buffered::read_through`] hands the deframer.
struct Through<'s, R> {
    held: &'s mut Buffered,
    source: &'s mut R,
    /// The source just reported its end: give the held bytes, then the end, and do not
    /// read it again.
    at_end: bool,
    /// Whether bytes came from the source itself, not only from the bytes held.
    pulled: bool,
}

impl<R: Read> Read for Through<'_, R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let held = &mut *self.held;
        if held.start == held.end {
            if self.at_end {
                return Ok(0);
            }
            // Nothing held: a large read goes straight to the caller's buffer.
            if out.len() >= held.size {
                self.pulled = true;
                let read = self.source.read(out)?;
                if read > out.len() {
                    return Err(over_claimed(read, out.len()));
                }
                return Ok(read);
            }
        }
        let available = self.fill_buf()?;
        let read = available.len().min(out.len());
        out[..read].copy_from_slice(&available[..read]);
        self.consume(read);
        Ok(read)
    }
}

impl<R: Read> BufRead for Through<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.held.start == self.held.end && !self.at_end {
            self.pulled = true;
            self.held.fill(self.source)?;
        }
        Ok(self.held.unread())
    }

    fn consume(&mut self, amount: usize) {
        self.held.start = (self.held.start + amount).min(self.held.end);
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};
    use std::panic::{AssertUnwindSafe, catch_unwind};

    use crate::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};

    /// Bytes in memory behind `Read` are read where they lie (every payload borrows the
    /// caller's bytes; nothing is buffered) and the source moves on exactly past the frames
    /// delivered: one at a time, in `process_all`'s runs, and after a panic in a run. For
    /// each kind of source, and under Miri, which checks the views `in_memory` makes.
    #[test]
    fn bytes_in_memory_are_read_where_they_lie() {
        let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
        for i in 0..12u8 {
            writer
                .write_payload(&vec![i; 5 + usize::from(i % 3)])
                .unwrap();
        }
        let stream = writer.into_inner();
        let ends: Vec<usize> = {
            let mut end = 0;
            (0..12u8)
                .map(|i| {
                    end += 4 + 5 + usize::from(i % 3);
                    end
                })
                .collect()
        };
        let within = |payload: &[u8]| {
            let (start, end) = (
                stream.as_ptr().addr(),
                stream.as_ptr().addr() + stream.len(),
            );
            assert!(payload.as_ptr().addr() >= start && payload.as_ptr().addr() < end);
        };

        // A cursor over a slice, one at a time: the source stands right after each frame.
        let mut reader = StreamReader::new(Cursor::new(&stream[..]), DefaultDeframer::new());
        for (i, end) in ends.iter().enumerate().take(4) {
            let payload = reader.read_message().unwrap().unwrap();
            within(payload);
            assert_eq!(payload[0], i as u8);
            assert!(reader.buffer().is_empty(), "nothing is buffered");
            assert_eq!(reader.get_ref().position(), *end as u64);
        }
        // A run, with a panic in it at frame 7: the source stands after frame 7.
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            reader
                .process_all(|payload| {
                    within(payload);
                    assert!(payload[0] != 7, "frame 7");
                    Ok(())
                })
                .unwrap();
        }));
        assert!(outcome.is_err());
        assert_eq!(reader.get_ref().position(), ends[7] as u64);
        assert_eq!(reader.position(), ends[7] as u64);
        let mut rest = Vec::new();
        reader
            .process_all(|payload| {
                within(payload);
                rest.push(payload[0]);
                Ok(())
            })
            .unwrap();
        assert_eq!(rest, [8, 9, 10, 11]);
        let (mut source, unread) = reader.into_parts();
        assert!(unread.is_empty());
        assert_eq!(source.read(&mut [0; 4]).unwrap(), 0);

        // A slice: it is the source, moved on as reading moves it.
        let mut reader = StreamReader::new(&stream[..], DefaultDeframer::new());
        let payload = reader.read_message().unwrap().unwrap();
        within(payload);
        assert_eq!(reader.get_ref().len(), stream.len() - ends[0]);
        let mut count = 1;
        reader
            .process_all(|payload| {
                within(payload);
                count += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 12);
        assert!(reader.get_ref().is_empty());

        // A cursor over a `Vec`.
        let mut reader = StreamReader::new(Cursor::new(&stream), DefaultDeframer::new());
        let mut count = 0;
        while let Some(payload) = reader.read_message().unwrap() {
            within(payload);
            count += 1;
        }
        assert_eq!(count, 12);
        assert_eq!(reader.get_ref().position(), stream.len() as u64);
    }

    /// (attack7) A small stream: frames of 3, 4 and 5 bytes of `i`, then a bad checksum
    /// frame's stand-in (a torn tail) only when asked.
    fn small_stream() -> Vec<u8> {
        let mut writer = StreamWriter::new(Vec::new(), DefaultFramer::new());
        for i in 0..6u8 {
            writer
                .write_payload(&vec![i; 3 + usize::from(i % 3)])
                .unwrap();
        }
        writer.into_inner()
    }

    fn drain_all<R: Read>(mut reader: StreamReader<R, DefaultDeframer>) -> (Vec<Vec<u8>>, usize) {
        let mut got = Vec::new();
        while let Some(payload) = reader.read_message().unwrap() {
            got.push(payload.to_vec());
        }
        let held = reader.buffer().len();
        (got, held)
    }

    /// (attack7) Sources that look like bytes in memory but are not one of the three kinds
    /// are read through the buffer, as before (the source runs ahead: bytes are held), with
    /// the same payloads; under Miri, no view of them is made.
    #[test]
    fn look_alike_sources_are_read_through_the_buffer() {
        use std::io::{Chain, Take};
        /// A user's type around bytes in memory: not one the reader knows.
        struct Wrap<'a>(&'a [u8]);
        impl Read for Wrap<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                self.0.read(buf)
            }
        }
        /// Bytes the reader holds after one frame.
        fn held_after_one<R: Read>(source: R) -> usize {
            let mut reader = StreamReader::new(source, DefaultDeframer::new());
            reader.read_message().unwrap().unwrap();
            reader.buffer().len()
        }
        let stream = small_stream();
        let expected = drain_all(StreamReader::new(&stream[..], DefaultDeframer::new())).0;
        assert_eq!(expected.len(), 6);
        // After one frame, the buffered path holds the rest; the in-place one nothing.
        let rest = stream.len() - 7;
        assert_eq!(held_after_one(&stream[..]), 0);
        assert_eq!(held_after_one(Cursor::new(&stream[..])), 0);
        assert_eq!(held_after_one(Cursor::new(&stream)), 0);
        let mut slice = &stream[..];
        assert_eq!(held_after_one(&mut slice), rest, "&mut &[u8]");
        assert!(slice.is_empty(), "&mut &[u8] was read through Read");
        assert_eq!(
            held_after_one(Cursor::new(stream.clone())),
            rest,
            "Cursor<Vec<u8>>"
        );
        let mut copy = stream.clone();
        assert_eq!(
            held_after_one(Cursor::new(&mut copy[..])),
            rest,
            "Cursor<&mut [u8]>"
        );
        assert_eq!(
            held_after_one(Cursor::new(&mut copy)),
            rest,
            "Cursor<&mut Vec<u8>>"
        );
        let boxed: Box<[u8]> = stream.clone().into_boxed_slice();
        assert_eq!(
            held_after_one(Cursor::new(boxed)),
            rest,
            "Cursor<Box<[u8]>>"
        );
        let array: [u8; 7] = stream[..7].try_into().unwrap();
        assert_eq!(
            held_after_one(Cursor::new(&array)),
            0,
            "Cursor<&[u8; 7]>: one frame"
        );
        let mut reader = StreamReader::new(Cursor::new(&array), DefaultDeframer::new());
        reader.read_message().unwrap().unwrap();
        assert_eq!(reader.get_ref().position(), 7);
        let chain: Chain<&[u8], &[u8]> = (&stream[..10]).chain(&stream[10..]);
        assert_eq!(held_after_one(chain), 3, "Chain: its first part read whole");
        let take: Take<&[u8]> = (&stream[..]).take(1000);
        assert_eq!(held_after_one(take), rest, "Take");
        assert_eq!(held_after_one(Wrap(&stream)), rest, "a wrapper");
        let mut cursor = Cursor::new(&stream[..]);
        assert_eq!(held_after_one(&mut cursor), rest, "&mut Cursor<&[u8]>");
        assert_eq!(cursor.position(), stream.len() as u64);
        // Payloads are the same over each.
        let mut slice = &stream[..];
        assert_eq!(
            drain_all(StreamReader::new(&mut slice, DefaultDeframer::new())).0,
            expected
        );
        assert_eq!(
            drain_all(StreamReader::new(
                Cursor::new(&mut copy[..]),
                DefaultDeframer::new()
            ))
            .0,
            expected
        );
        assert_eq!(
            drain_all(StreamReader::new(
                (&stream[..10]).chain(&stream[10..]),
                DefaultDeframer::new()
            ))
            .0,
            expected
        );
        assert_eq!(
            drain_all(StreamReader::new(Wrap(&stream), DefaultDeframer::new())).0,
            expected
        );
    }

    /// (attack7) A cursor over a borrowed `Vec` and a slice, moved by the caller between
    /// calls (back, into a frame, past the end), through a panic in a run and an error a
    /// closure returns: payloads borrow the caller's bytes, read after the source moved;
    /// under Miri, every view is checked.
    #[test]
    fn moved_sources_and_panics_under_miri() {
        let stream = small_stream();
        let mut reader = StreamReader::new(Cursor::new(&stream), DefaultDeframer::new());
        let first = reader.read_message().unwrap().unwrap();
        assert_eq!(first, [0, 0, 0]);
        reader.get_mut().set_position(0);
        let again = reader.read_message().unwrap().unwrap().to_vec();
        assert_eq!(again, [0, 0, 0]);
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            reader
                .process_all(|payload| {
                    assert!(payload[0] != 2, "frame 2");
                    Ok(())
                })
                .unwrap();
        }));
        assert!(outcome.is_err());
        assert_eq!(reader.get_ref().position(), 7 + 8 + 9);
        let error = reader
            .process_all(|payload| {
                if payload[0] == 4 {
                    Err(flatstream_core::Error::invalid_frame("no"))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert_eq!(error.frame_index(), Some(5));
        assert_eq!(reader.get_ref().position(), 7 + 8 + 9 + 7 + 8);
        reader.get_mut().set_position(u64::MAX);
        assert!(reader.read_message().unwrap().is_none());
        reader.get_mut().set_position(7 + 8 + 9 + 7 + 8);
        assert_eq!(reader.read_message().unwrap().unwrap(), [5; 5]);
        let (cursor, unread) = reader.into_parts();
        assert!(unread.is_empty());
        assert_eq!(cursor.position(), stream.len() as u64);

        // A slice re-sliced between calls; a payload taken before is copied, then the
        // bytes read after the source moved on.
        let whole = &stream[..];
        let mut reader = StreamReader::new(whole, DefaultDeframer::new());
        let mut count = 0;
        reader
            .process_all(|payload| {
                count += payload.len();
                Ok(())
            })
            .unwrap();
        assert_eq!(count, 3 + 4 + 5 + 3 + 4 + 5);
        *reader.get_mut() = &whole[7..];
        assert_eq!(reader.read_message().unwrap().unwrap(), [1; 4]);
        *reader.get_mut() = &whole[3..];
        // Into a frame: a length of 0x00000000 then ... read as the other paths do.
        // The payloads, or whether both fail (the frame index and offset differ: this
        // reader read two frames before).
        let mut other = StreamReader::unbuffered(&whole[3..], DefaultDeframer::new());
        let expected = other.read_message().map(|p| p.map(<[u8]>::to_vec));
        let got = reader.read_message().map(|p| p.map(<[u8]>::to_vec));
        match (&got, &expected) {
            (Ok(got), Ok(expected)) => assert_eq!(got, expected),
            _ => assert_eq!(got.is_ok(), expected.is_ok()),
        }
    }
}

//! Chunked compression: [`ChunkWriter`] gathers messages into chunks and writes each chunk,
//! compressed, as one frame of an ordinary stream; [`ChunkReader`] hands the messages back
//! one by one.
//!
//! Small messages compress poorly one by one (a 67-byte telemetry event has little to
//! repeat), but thousands of them together compress well. The outer stream stays an
//! ordinary flatstream stream, one frame per chunk, so `verify`, `recover` and `salvage`
//! work on it unchanged, and damage costs at most the chunks it touches.
//!
//! A chunk's payload (all integers little-endian):
//!
//! ```text
//! +--------+---------+-------+-------+---------------+---------+------------------+------------+
//! | marker | version | codec | flags | first message | message | uncompressed len | compressed |
//! | f5 43  | 1 byte  | 1 byte| u16,0 | index, u64    | count,  | u32: bytes of    | inner      |
//! | 48 4b  | (1)     |       |       |               | u32     | inner frames     | frames     |
//! +--------+---------+-------+-------+---------------+---------+------------------+------------+
//! ```
//!
//! The inner frames are flatstream frames with no checksum (`[u32 LE length][payload]`): the
//! outer frame's checksum already covers the chunk. The compressed bytes are the codec's
//! per-frame form (a zstd frame, or a `u32` length and an lz4 block).

use std::io::Read;
use std::ops::Range;

use flatbuffers::FlatBufferBuilder;
use flatstream_core::wire::{LENGTH_LEN, split_frame};
use flatstream_core::{
    DEFAULT_MAX_FRAME_LEN, Deframer, Error, Framer, NoChecksum, Result, StreamSerialize,
};
use flatstream_io::{ChecksumFramer, FrameSink, StreamReader, StreamWriter};

use crate::codec::{Codec, CodecId};

/// The first four bytes of every chunk's payload.
pub const CHUNK_MARKER: [u8; 4] = [0xf5, b'C', b'H', b'K'];
/// The chunk layout version this crate writes and reads.
pub const CHUNK_VERSION: u8 = 1;
/// Bytes of a chunk header, before the compressed inner frames.
pub const CHUNK_HEADER_LEN: usize = 24;
/// The default amount of uncompressed inner frames gathered into a chunk: 64 KiB.
pub const DEFAULT_CHUNK_LEN: usize = 64 * 1024;

/// Whether `payload` begins with a chunk marker: how a reader tells a chunked stream from
/// its first frame.
pub fn is_chunk(payload: &[u8]) -> bool {
    payload.starts_with(&CHUNK_MARKER)
}

/// A chunk's header, as read from the start of its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// The codec of the compressed bytes.
    pub codec: CodecId,
    /// The index, in the whole stream of messages, of the chunk's first message.
    pub first_message_index: u64,
    /// How many messages the chunk holds.
    pub message_count: u32,
    /// How many bytes of inner frames the compressed bytes decompress to.
    pub uncompressed_len: u32,
}

impl ChunkHeader {
    /// The header's bytes.
    pub fn encode(&self) -> [u8; CHUNK_HEADER_LEN] {
        let mut header = [0; CHUNK_HEADER_LEN];
        header[..4].copy_from_slice(&CHUNK_MARKER);
        header[4] = CHUNK_VERSION;
        header[5] = self.codec.to_byte();
        // 6..8: flags, none defined.
        header[8..16].copy_from_slice(&self.first_message_index.to_le_bytes());
        header[16..20].copy_from_slice(&self.message_count.to_le_bytes());
        header[20..24].copy_from_slice(&self.uncompressed_len.to_le_bytes());
        header
    }

    /// Reads the header at the start of a chunk's payload.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) for a payload that is not a
    /// chunk (no marker, too short), of another version, codec or with unknown flags.
    pub fn decode(payload: &[u8]) -> Result<Self> {
        let Some(header) = payload.first_chunk::<CHUNK_HEADER_LEN>() else {
            return Err(Error::invalid_frame(format!(
                "not a chunk: {} bytes, shorter than a chunk header",
                payload.len()
            )));
        };
        if !is_chunk(header) {
            return Err(Error::invalid_frame("not a chunk: no chunk marker"));
        }
        if header[4] != CHUNK_VERSION {
            return Err(Error::invalid_frame(format!(
                "chunk version {} is not supported (this reader knows {CHUNK_VERSION})",
                header[4]
            )));
        }
        let Some(codec) = CodecId::from_byte(header[5]) else {
            return Err(Error::invalid_frame(format!(
                "chunk codec {} is unknown",
                header[5]
            )));
        };
        if header[6..8] != [0, 0] {
            return Err(Error::invalid_frame("chunk flags are unknown"));
        }
        let field = |at: usize, len: usize| {
            header[at..at + len]
                .iter()
                .rev()
                .fold(0_u64, |value, byte| (value << 8) | u64::from(*byte))
        };
        Ok(ChunkHeader {
            codec,
            first_message_index: field(8, 8),
            message_count: field(16, 4) as u32,
            uncompressed_len: field(20, 4) as u32,
        })
    }
}

/// Writes messages into compressed chunks, each one frame of an ordinary stream written by
/// an inner [`StreamWriter`] with framer `F` (which sets the checksum).
///
/// A chunk is written when the next message would take it past the chunk length (default
/// 64 KiB of uncompressed inner frames; a larger message gets a chunk of its own), on
/// [`flush`](Self::flush) and on [`finish`](Self::finish). Until then its messages are only
/// in memory: **a crash, or dropping the writer without `finish`, loses at most the messages
/// of the open chunk**. Every written chunk is a whole frame, so the stream stays
/// recoverable up to the last chunk written.
///
/// The chunk, the compressed bytes and the builder are reused, so steady state allocates
/// nothing per message.
pub struct ChunkWriter<W, F, C> {
    outer: StreamWriter<W, F>,
    codec: C,
    /// Inner frames of the open chunk.
    chunk: Vec<u8>,
    /// The chunk's header and compressed bytes: the outer frame's payload.
    chunk_payload: Vec<u8>,
    chunk_len: usize,
    /// The largest chunk, uncompressed, a message may make (readers refuse larger ones).
    max_chunk_len: usize,
    message_count: u32,
    messages_written: u64,
    builder: FlatBufferBuilder<'static>,
}

impl<W: std::fmt::Debug, F: std::fmt::Debug, C: std::fmt::Debug> std::fmt::Debug
    for ChunkWriter<W, F, C>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChunkWriter")
            .field("outer", &self.outer)
            .field("codec", &self.codec)
            .field("chunk_len", &self.chunk_len)
            .field("message_count", &self.message_count)
            .field("messages_written", &self.messages_written)
            .finish_non_exhaustive()
    }
}

impl<W: FrameSink, F: Framer, C: Codec> ChunkWriter<W, F, C> {
    /// A writer of chunks compressed with `codec`, framed by `framer` into `writer`.
    pub fn new(writer: W, framer: F, codec: C) -> Self {
        ChunkWriter {
            outer: StreamWriter::new(writer, framer),
            codec,
            chunk: Vec::new(),
            chunk_payload: Vec::new(),
            chunk_len: DEFAULT_CHUNK_LEN,
            max_chunk_len: DEFAULT_MAX_FRAME_LEN,
            message_count: 0,
            messages_written: 0,
            builder: FlatBufferBuilder::new(),
        }
    }

    /// Sets how many bytes of uncompressed inner frames make a chunk (default 64 KiB; at
    /// least 1). Larger chunks compress better and lose more on a crash. Writing only.
    #[must_use]
    pub fn with_chunk_len(mut self, chunk_len: usize) -> Self {
        self.chunk_len = chunk_len.clamp(1, self.max_chunk_len.max(1));
        self
    }

    /// Sets the largest chunk written, uncompressed (default 64 MiB): the limit its readers
    /// hold chunks to ([`ChunkReader::with_max_chunk_len`]), so that a writer never writes a
    /// chunk they refuse. The chunk length is held under it, and a message whose inner frame
    /// alone is longer is refused with
    /// [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge), nothing written.
    #[must_use]
    pub fn with_max_chunk_len(mut self, max_chunk_len: usize) -> Self {
        self.max_chunk_len = max_chunk_len;
        self.chunk_len = self.chunk_len.clamp(1, max_chunk_len.max(1));
        self
    }

    /// Serializes `message` and adds it to the open chunk.
    ///
    /// # Errors
    ///
    /// As [`write_payload`](Self::write_payload), and the message's own serialization error.
    pub fn write<T: StreamSerialize + ?Sized>(&mut self, message: &T) -> Result<()> {
        self.builder.reset();
        message
            .serialize(&mut self.builder)
            .map_err(|error| error.at_frame(self.outer.frames_written(), self.outer.position()))?;
        let payload = self.builder.finished_data();
        Self::add(
            &mut self.outer,
            &mut self.codec,
            &mut self.chunk,
            &mut self.chunk_payload,
            (self.chunk_len, self.max_chunk_len),
            &mut self.message_count,
            &mut self.messages_written,
            payload,
        )
    }

    /// Adds `payload` to the open chunk, writing the chunk first if `payload` would take it
    /// past the chunk length.
    ///
    /// # Errors
    ///
    /// Writing a chunk: the codec's error or the inner writer's (an I/O error, with the
    /// chunk's frame index and offset). A payload over 4 GiB - 1 is refused.
    pub fn write_payload(&mut self, payload: &[u8]) -> Result<()> {
        Self::add(
            &mut self.outer,
            &mut self.codec,
            &mut self.chunk,
            &mut self.chunk_payload,
            (self.chunk_len, self.max_chunk_len),
            &mut self.message_count,
            &mut self.messages_written,
            payload,
        )
    }

    // A free function over the fields, so the builder's data can be borrowed meanwhile.
    #[allow(clippy::too_many_arguments)]
    fn add(
        outer: &mut StreamWriter<W, F>,
        codec: &mut C,
        chunk: &mut Vec<u8>,
        chunk_payload: &mut Vec<u8>,
        (chunk_len, max_chunk_len): (usize, usize),
        message_count: &mut u32,
        messages_written: &mut u64,
        payload: &[u8],
    ) -> Result<()> {
        let frame_len = LENGTH_LEN + payload.len();
        if frame_len > max_chunk_len {
            return Err(Error::frame_too_large(frame_len as u64, max_chunk_len)
                .at_frame(outer.frames_written(), outer.position()));
        }
        if !chunk.is_empty() && chunk.len() + frame_len > chunk_len {
            Self::seal(
                outer,
                codec,
                chunk,
                chunk_payload,
                message_count,
                *messages_written,
            )?;
        }
        if chunk.len() + frame_len > u32::MAX as usize {
            return Err(Error::invalid_frame(format!(
                "a message of {} bytes does not fit a chunk",
                payload.len()
            ))
            .at_frame(outer.frames_written(), outer.position()));
        }
        // Writing to a Vec fails only on a length the check above has refused.
        ChecksumFramer::new(NoChecksum).frame_and_write(chunk, payload)?;
        *message_count += 1;
        *messages_written += 1;
        if chunk.len() >= chunk_len {
            Self::seal(
                outer,
                codec,
                chunk,
                chunk_payload,
                message_count,
                *messages_written,
            )?;
        }
        Ok(())
    }

    /// Compresses the open chunk and writes it as one frame.
    fn seal(
        outer: &mut StreamWriter<W, F>,
        codec: &mut C,
        chunk: &mut Vec<u8>,
        chunk_payload: &mut Vec<u8>,
        message_count: &mut u32,
        messages_written: u64,
    ) -> Result<()> {
        if *message_count == 0 {
            return Ok(());
        }
        let header = ChunkHeader {
            codec: codec.id(),
            first_message_index: messages_written - u64::from(*message_count),
            message_count: *message_count,
            uncompressed_len: chunk.len() as u32,
        };
        chunk_payload.clear();
        chunk_payload.extend_from_slice(&header.encode());
        codec
            .compress(chunk, chunk_payload)
            .map_err(|error| error.at_frame(outer.frames_written(), outer.position()))?;
        outer.write_payload(chunk_payload)?;
        chunk.clear();
        *message_count = 0;
        Ok(())
    }

    /// Writes the open chunk, if it holds any message, without flushing.
    ///
    /// # Errors
    ///
    /// As [`write_payload`](Self::write_payload).
    pub fn write_chunk(&mut self) -> Result<()> {
        Self::seal(
            &mut self.outer,
            &mut self.codec,
            &mut self.chunk,
            &mut self.chunk_payload,
            &mut self.message_count,
            self.messages_written,
        )
    }

    /// Writes the open chunk, if it holds any message, and flushes the underlying writer.
    ///
    /// Flushing often makes small chunks, which compress less well.
    ///
    /// # Errors
    ///
    /// As [`write_payload`](Self::write_payload), and the flush's I/O error.
    pub fn flush(&mut self) -> Result<()> {
        self.write_chunk()?;
        self.outer.flush()
    }

    /// Writes the open chunk, ends the stream as the framer closes it (an encrypting
    /// framer's final frame, see `StreamWriter::finish`), flushes, and returns the
    /// underlying writer.
    ///
    /// # Errors
    ///
    /// As [`flush`](Self::flush), and the framer's error closing the stream.
    pub fn finish(mut self) -> Result<W> {
        self.write_chunk()?;
        self.outer.finish()?;
        Ok(self.outer.into_inner())
    }

    /// Returns the underlying writer, unflushed, **without** writing the open chunk: call
    /// [`flush`](Self::flush) first (or use [`finish`](Self::finish)).
    pub fn into_inner(self) -> W {
        self.outer.into_inner()
    }

    /// How many messages were given to the writer (written, or in the open chunk).
    pub fn messages_written(&self) -> u64 {
        self.messages_written
    }

    /// How many chunks were written in full.
    pub fn chunks_written(&self) -> u64 {
        self.outer.frames_written()
    }

    /// Bytes of whole chunks written: where the next chunk's frame begins.
    pub fn position(&self) -> u64 {
        self.outer.position()
    }

    /// Whether an I/O error stopped the writer: the stream may end in a partial chunk, and
    /// every later write, [`flush`](Self::flush) included, is refused.
    pub fn is_stopped(&self) -> bool {
        self.outer.is_stopped()
    }

    /// The underlying writer.
    pub fn get_ref(&self) -> &W {
        self.outer.get_ref()
    }
}

/// Decompresses one chunk's payload at a time and hands out its messages: the part of
/// [`ChunkReader`] that any reader of outer frames can use (a command-line scan, an async
/// reader).
///
/// Its buffers are reused, so steady state allocates nothing. Errors carry no location:
/// the caller knows which outer frame it handed in, and adds it with `at_frame`.
#[derive(Debug, Clone)]
pub struct ChunkDecoder<C> {
    codec: C,
    /// Inner frames of the current chunk.
    chunk: Vec<u8>,
    /// Where the next inner frame begins in `chunk`.
    cursor: usize,
    /// Messages of the current chunk not yet handed out.
    remaining: u32,
    header: Option<ChunkHeader>,
    next_message_index: u64,
    max_chunk_len: usize,
}

impl<C: Codec> ChunkDecoder<C> {
    /// A decoder of chunks compressed with `codec`, up to 64 MiB uncompressed each.
    pub fn new(codec: C) -> Self {
        ChunkDecoder {
            codec,
            chunk: Vec::new(),
            cursor: 0,
            remaining: 0,
            header: None,
            next_message_index: 0,
            max_chunk_len: DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// Sets the largest uncompressed chunk accepted (default 64 MiB).
    #[must_use]
    pub fn with_max_chunk_len(mut self, max_chunk_len: usize) -> Self {
        self.max_chunk_len = max_chunk_len;
        self
    }

    /// Reads the header of a chunk's `payload`, checks it, and decompresses the inner
    /// frames, dropping whatever was left of the previous chunk.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame) for a payload that is not
    /// a chunk, a codec other than this decoder's, corrupt compressed bytes, a wrong or
    /// missing dictionary, or compressed bytes that declare another length than the header;
    /// [`FrameTooLarge`](flatstream_core::ErrorKind::FrameTooLarge) for an uncompressed
    /// length over the limit, before anything is allocated.
    pub fn start(&mut self, payload: &[u8]) -> Result<ChunkHeader> {
        self.remaining = 0;
        self.header = None;
        self.cursor = 0;
        self.chunk.clear();
        let header = ChunkHeader::decode(payload)?;
        if header.codec != self.codec.id() {
            return Err(Error::invalid_frame(format!(
                "chunk compressed with {}, the reader decompresses {}",
                header.codec.name(),
                self.codec.id().name()
            )));
        }
        if header.uncompressed_len as usize > self.max_chunk_len {
            return Err(Error::frame_too_large(
                u64::from(header.uncompressed_len),
                self.max_chunk_len,
            ));
        }
        let compressed = &payload[CHUNK_HEADER_LEN..];
        let declared = self.codec.declared_len(compressed)?;
        if declared != u64::from(header.uncompressed_len) {
            return Err(Error::invalid_frame(format!(
                "chunk header says {} uncompressed bytes, its compressed bytes {declared}",
                header.uncompressed_len
            )));
        }
        self.codec.decompress(
            compressed,
            &mut self.chunk,
            header.uncompressed_len as usize,
        )?;
        self.remaining = header.message_count;
        self.next_message_index = header.first_message_index;
        self.header = Some(header);
        Ok(header)
    }

    /// The next message of the current chunk with its original index, or `None` when the
    /// chunk is done.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame), naming the message, for a
    /// torn inner frame, fewer inner frames than the header's message count, or more; the
    /// rest of the chunk is dropped.
    pub fn next_message(&mut self) -> Result<Option<(u64, &[u8])>> {
        let Some(range) = self.next_range()? else {
            return Ok(None);
        };
        Ok(Some((self.next_message_index - 1, &self.chunk[range])))
    }

    /// Where the next message lies in the chunk buffer.
    fn next_range(&mut self) -> Result<Option<Range<usize>>> {
        let Some(header) = self.header else {
            return Ok(None);
        };
        if self.remaining == 0 {
            self.header = None;
            if self.cursor != self.chunk.len() {
                return Err(self.chunk_error(format!(
                    "chunk holds more inner frames than its message count of {} (after \
                     message {})",
                    header.message_count,
                    self.next_message_index.saturating_sub(1)
                )));
            }
            return Ok(None);
        }
        let count = header.message_count;
        let position_in_chunk = count - self.remaining;
        match split_frame(&self.chunk[self.cursor..], &NoChecksum, usize::MAX) {
            Ok(Some(frame)) => {
                let start = self.cursor + LENGTH_LEN;
                self.cursor += frame.len;
                self.remaining -= 1;
                self.next_message_index += 1;
                Ok(Some(start..self.cursor))
            }
            Ok(None) => Err(self.chunk_error(format!(
                "message {} missing: chunk ends after {position_in_chunk} messages, its \
                 header says {count}",
                self.next_message_index
            ))),
            Err(error) => Err(self.chunk_error(format!(
                "message {} (message {position_in_chunk} of the chunk): {error}",
                self.next_message_index
            ))),
        }
    }

    /// An error about the current chunk, after which its remaining messages are dropped.
    #[cold]
    fn chunk_error(&mut self, reason: String) -> Error {
        self.remaining = 0;
        self.header = None;
        self.cursor = self.chunk.len();
        Error::invalid_frame(reason)
    }

    /// The original index of the next message to be handed out.
    pub fn next_message_index(&self) -> u64 {
        self.next_message_index
    }
}

/// Reads a chunked stream (written by [`ChunkWriter`]) with deframer `D` (which checks the
/// outer frames' checksums) and hands out the original messages, one by one.
///
/// Each message borrows the decompressed chunk (zero-copy) until the next call; the chunk
/// buffers are reused, so steady state allocates nothing.
/// [`read_indexed_message`](Self::read_indexed_message) and
/// [`message_index`](Self::message_index) give a message's original index, taken from the
/// chunk header, so it stays right after a damaged chunk was skipped.
///
/// A chunk that declares more than the chunk limit (`max_chunk_len`, 64 MiB by default) is
/// refused before anything is allocated for it. Errors name the outer frame (the chunk) and
/// its byte offset; an error inside a chunk names the message too. After an error in a
/// chunk that was read whole (a checksum mismatch, corrupt compressed bytes, a message
/// count that does not match) the rest of that chunk is dropped and reading goes on with
/// the next chunk.
#[derive(Debug)]
pub struct ChunkReader<R, D, C> {
    outer: StreamReader<R, D>,
    decoder: ChunkDecoder<C>,
    /// The outer frame index and offset of the current chunk.
    chunk_frame: (u64, u64),
}

impl<R: Read, D: Deframer, C: Codec> ChunkReader<R, D, C> {
    /// A reader of the chunks in `reader`, decompressed with `codec`.
    pub fn new(reader: R, deframer: D, codec: C) -> Self {
        ChunkReader {
            outer: StreamReader::new(reader, deframer),
            decoder: ChunkDecoder::new(codec),
            chunk_frame: (0, 0),
        }
    }

    /// Sets the largest uncompressed chunk accepted (default 64 MiB). Reading only.
    #[must_use]
    pub fn with_max_chunk_len(mut self, max_chunk_len: usize) -> Self {
        self.decoder = self.decoder.with_max_chunk_len(max_chunk_len);
        self
    }

    /// The next message, or `None` at a clean end of the stream.
    ///
    /// # Errors
    ///
    /// The outer reader's errors (torn, oversized or damaged chunk frames), and
    /// [`ChunkDecoder::start`]'s and [`ChunkDecoder::next_message`]'s, each with the chunk's
    /// frame index and offset.
    pub fn read_message(&mut self) -> Result<Option<&[u8]>> {
        Ok(self.read_indexed_message()?.map(|(_, message)| message))
    }

    /// [`read_message`](Self::read_message), with the message's original index.
    ///
    /// # Errors
    ///
    /// As [`read_message`](Self::read_message).
    pub fn read_indexed_message(&mut self) -> Result<Option<(u64, &[u8])>> {
        loop {
            // Two steps so that the borrow of the decoder ends before the next chunk.
            let (index, offset) = self.chunk_frame;
            let more = match self.decoder.next_range() {
                Ok(range) => range,
                Err(error) => return Err(error.at_frame(index, offset)),
            };
            if let Some(range) = more {
                let index = self.decoder.next_message_index - 1;
                return Ok(Some((index, &self.decoder.chunk[range])));
            }
            self.chunk_frame = (self.outer.frames_read(), self.outer.position());
            let Some(payload) = self.outer.read_message()? else {
                return Ok(None);
            };
            let (index, offset) = self.chunk_frame;
            self.decoder
                .start(payload)
                .map_err(|error| error.at_frame(index, offset))?;
        }
    }

    /// The original index of the message last returned (0 for the stream's first message).
    pub fn message_index(&self) -> u64 {
        self.decoder.next_message_index.saturating_sub(1)
    }

    /// Calls `process` with every message until the end of the stream.
    ///
    /// # Errors
    ///
    /// The first read error, or the first error `process` returns.
    pub fn process_all<P>(&mut self, mut process: P) -> Result<()>
    where
        P: FnMut(&[u8]) -> Result<()>,
    {
        while let Some(message) = self.read_message()? {
            process(message)?;
        }
        Ok(())
    }

    /// How many chunks (outer frames) were consumed whole.
    pub fn chunks_read(&self) -> u64 {
        self.outer.frames_read()
    }

    /// Bytes of whole chunks consumed: where the next chunk's frame begins.
    pub fn position(&self) -> u64 {
        self.outer.position()
    }

    /// The outer reader.
    pub fn outer(&self) -> &StreamReader<R, D> {
        &self.outer
    }
}

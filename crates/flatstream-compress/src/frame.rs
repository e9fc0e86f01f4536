//! Per-frame compression: [`CompressingFramer`] and [`DecompressingDeframer`], made by
//! [`CompressFramerExt::compressed`] and [`DecompressDeframerExt::decompressed`].
//!
//! They wrap a framer or deframer as the io crate's adapters do. Writing, the payload is
//! compressed before the inner framer checksums and writes it; reading, the inner deframer
//! reads and verifies the frame as it is on the wire, then the payload is decompressed:
//!
//! ```text
//! write: payload -> [adapters outside] -> compress -> checksum + header -> wire
//! read:  wire -> header + checksum -> decompress -> [adapters outside] -> payload
//! ```
//!
//! So the checksum covers the compressed bytes on the wire (a torn or damaged frame is found
//! without decompressing it), and a validator or observer added *outside* sees the
//! uncompressed payload.

use std::io::{Read, Write};

use flatstream_core::wire::Frame;
use flatstream_core::{DEFAULT_MAX_FRAME_LEN, Deframer, Error, Framer, Result};

use crate::codec::Codec;

/// Compresses every payload with a [`Codec`] before the inner framer writes it.
///
/// The compressed bytes go to one buffer that is reused, so steady state allocates nothing.
#[derive(Debug, Clone)]
pub struct CompressingFramer<F, C> {
    inner: F,
    codec: C,
    compressed: Vec<u8>,
}

impl<F: Framer, C: Codec> CompressingFramer<F, C> {
    /// Wraps `inner`, compressing payloads with `codec`.
    pub fn new(inner: F, codec: C) -> Self {
        CompressingFramer {
            inner,
            codec,
            compressed: Vec::new(),
        }
    }

    /// The codec in use.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The wrapped framer.
    pub fn into_inner(self) -> F {
        self.inner
    }
}

impl<F: Framer, C: Codec> Framer for CompressingFramer<F, C> {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        self.compressed.clear();
        self.codec.compress(payload, &mut self.compressed)?;
        self.inner.frame_and_write(writer, &self.compressed)
    }

    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        self.inner.finish(writer)
    }
}

/// Decompresses every payload the inner deframer reads, refusing one that declares more
/// than `max_frame_len` uncompressed bytes before it allocates for it.
///
/// The compressed bytes are read into a buffer of the adapter's own, and decompressed into
/// the reader's payload buffer: both keep their capacity, so steady state allocates nothing.
///
/// A frame whose payload does not decompress was read whole, so the error records its length
/// and the reader can go on with the next frame.
///
/// Every reader can decompress: [`read_frame`](Deframer::read_frame) for readers of
/// `Read` sources, [`decode_frame`](Deframer::decode_frame) (into the reader's reused
/// buffer) for readers of bytes in memory (`StreamReader::in_place`, `SliceReader` and
/// `MmapReader`'s `process_all`, the async reader). Only
/// [`parse_frame`](Deframer::parse_frame), whose payload must borrow the input, returns an
/// error: decompressed bytes are not in the input.
#[derive(Debug, Clone)]
pub struct DecompressingDeframer<D, C> {
    inner: D,
    codec: C,
    compressed: Vec<u8>,
    max_frame_len: usize,
}

impl<D: Deframer, C: Codec> DecompressingDeframer<D, C> {
    /// Wraps `inner`, decompressing payloads with `codec`, up to 64 MiB each.
    pub fn new(inner: D, codec: C) -> Self {
        DecompressingDeframer {
            inner,
            codec,
            compressed: Vec::new(),
            max_frame_len: DEFAULT_MAX_FRAME_LEN,
        }
    }

    /// Sets the largest uncompressed payload accepted (default 64 MiB). The inner
    /// deframer's own limit still applies to the compressed bytes. Reading only.
    #[must_use]
    pub fn with_max_frame_len(mut self, max_frame_len: usize) -> Self {
        self.max_frame_len = max_frame_len;
        self
    }

    /// The largest uncompressed payload accepted.
    pub fn max_frame_len(&self) -> usize {
        self.max_frame_len
    }

    /// The codec in use.
    pub fn codec(&self) -> &C {
        &self.codec
    }

    /// The wrapped deframer.
    pub fn get_ref(&self) -> &D {
        &self.inner
    }

    /// The wrapped deframer.
    pub fn into_inner(self) -> D {
        self.inner
    }
}

impl<D: Deframer, C: Codec> Deframer for DecompressingDeframer<D, C> {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        let Some(frame_len) = self.inner.read_frame(reader, &mut self.compressed)? else {
            return Ok(None);
        };
        self.codec
            .decompress(&self.compressed, payload, self.max_frame_len)
            .map_err(|error| error.with_frame_len(frame_len as u64))?;
        Ok(Some(frame_len))
    }

    fn parse_frame<'a>(&mut self, _input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        Err(Error::invalid_frame(
            "a decompressing deframer's payloads are not in its input: read them with \
             process_all (SliceReader, MmapReader) or a StreamReader",
        ))
    }

    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Frame<'a>>> {
        let Some(frame) = self.inner.decode_frame(input, &mut self.compressed)? else {
            return Ok(None);
        };
        let frame_len = frame.len;
        self.codec
            .decompress(frame.payload, scratch, self.max_frame_len)
            .map_err(|error| error.with_frame_len(frame_len as u64))?;
        Ok(Some(Frame {
            payload: scratch,
            len: frame_len,
        }))
    }

    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        self.inner.peek_frame_len(input)
    }

    #[inline]
    fn take_skipped(&mut self) -> usize {
        self.inner.take_skipped()
    }
}

/// [`compressed`](Self::compressed) for every [`Framer`].
pub trait CompressFramerExt: Framer + Sized {
    /// Compresses each payload with `codec` before this framer checksums and writes it.
    fn compressed<C: Codec>(self, codec: C) -> CompressingFramer<Self, C> {
        CompressingFramer::new(self, codec)
    }
}

impl<F: Framer> CompressFramerExt for F {}

/// [`decompressed`](Self::decompressed) for every [`Deframer`].
pub trait DecompressDeframerExt: Deframer + Sized {
    /// Decompresses each payload with `codec` after this deframer reads and verifies it.
    fn decompressed<C: Codec>(self, codec: C) -> DecompressingDeframer<Self, C> {
        DecompressingDeframer::new(self, codec)
    }
}

impl<D: Deframer> DecompressDeframerExt for D {}

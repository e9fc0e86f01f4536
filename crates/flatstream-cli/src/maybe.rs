//! [`OrPlain`]: a deframer adapter the command line may or may not apply.

use std::io::Read;

use flatstream::wire::Frame;
use flatstream::{Deframer, Result};

/// A deframer with an adapter (decompression, decryption) or without it, as the command's
/// options say: one type for both, forwarding every call to the one in use.
#[derive(Debug)]
pub(crate) enum OrPlain<D, A> {
    Plain(D),
    Adapted(A),
}

impl<D: Deframer, A: Deframer> Deframer for OrPlain<D, A> {
    fn read_frame<R: Read + ?Sized>(
        &mut self,
        reader: &mut R,
        payload: &mut Vec<u8>,
    ) -> Result<Option<usize>> {
        match self {
            OrPlain::Plain(inner) => inner.read_frame(reader, payload),
            OrPlain::Adapted(inner) => inner.read_frame(reader, payload),
        }
    }

    fn parse_frame<'a>(&mut self, input: &'a [u8]) -> Result<Option<Frame<'a>>> {
        match self {
            OrPlain::Plain(inner) => inner.parse_frame(input),
            OrPlain::Adapted(inner) => inner.parse_frame(input),
        }
    }

    fn decode_frame<'a>(
        &mut self,
        input: &'a [u8],
        scratch: &'a mut Vec<u8>,
    ) -> Result<Option<Frame<'a>>> {
        match self {
            OrPlain::Plain(inner) => inner.decode_frame(input, scratch),
            OrPlain::Adapted(inner) => inner.decode_frame(input, scratch),
        }
    }

    fn peek_frame_len(&self, input: &[u8]) -> Result<Option<usize>> {
        match self {
            OrPlain::Plain(inner) => inner.peek_frame_len(input),
            OrPlain::Adapted(inner) => inner.peek_frame_len(input),
        }
    }

    #[inline]
    fn take_skipped(&mut self) -> usize {
        match self {
            OrPlain::Plain(inner) => inner.take_skipped(),
            OrPlain::Adapted(inner) => inner.take_skipped(),
        }
    }
}

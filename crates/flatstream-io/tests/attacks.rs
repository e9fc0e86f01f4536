//! Sources that keep to the letter of `BufRead` but not its spirit: found by an outside
//! attack on the in-place reader.

use std::io::{self, BufRead, Read};

use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};

use crate::common::read_via_fill_buf;

/// A `BufRead` whose `fill_buf`, called again without a `consume`, returns a shorter view of
/// the same buffer (same address): every other call shows at most 3 bytes.
struct Shrinking {
    data: Vec<u8>,
    pos: usize,
    calls: usize,
}

impl Read for Shrinking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl BufRead for Shrinking {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.calls += 1;
        let rest = &self.data[self.pos..];
        let len = if self.calls % 2 == 1 {
            rest.len()
        } else {
            rest.len().min(3)
        };
        Ok(&rest[..len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
    }
}

/// It once indexed past the shorter view and panicked. Now a frame is delivered only from a
/// view that holds all of it (the reader asks the source again to borrow the payload, and
/// the view it gets then depends on this source's count of calls), or refused with an I/O
/// error that says what the source did: never a panic, never bytes from past the view.
#[test]
fn a_fill_buf_that_shrinks_without_a_consume_is_an_error_not_a_panic() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"hello world").unwrap();
    writer.write_payload(b"second").unwrap();
    let data = writer.into_inner();
    for calls in 0..4 {
        let source = Shrinking {
            data: data.clone(),
            pos: 0,
            calls,
        };
        let mut reader = StreamReader::in_place(source, DefaultDeframer::new());
        let mut delivered = Vec::new();
        let outcome = loop {
            match reader.read_message() {
                Ok(Some(payload)) => delivered.push(payload.to_vec()),
                Ok(None) => break None,
                Err(error) => break Some(error),
            }
        };
        let expected: [&[u8]; 2] = [b"hello world", b"second"];
        assert_eq!(delivered, expected[..delivered.len()], "calls {calls}");
        match outcome {
            None => assert_eq!(delivered.len(), 2, "calls {calls}"),
            Some(error) => {
                assert!(
                    error
                        .to_string()
                        .contains("different buffer without a consume"),
                    "calls {calls}: {error}"
                );
                let index = delivered.len() as u64;
                let offset = [0u64, 15, 25][delivered.len()];
                assert_eq!(
                    (error.frame_index(), error.offset()),
                    (Some(index), Some(offset)),
                    "calls {calls}"
                );
            }
        }
    }
}

/// A `BufRead` whose `fill_buf` shows everything at the first look after a `consume` and at
/// most 3 bytes at every look after that, until the next `consume`.
struct ShrinksOnceLooked {
    data: Vec<u8>,
    pos: usize,
    looked: bool,
}

impl Read for ShrinksOnceLooked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        read_via_fill_buf(self, buf)
    }
}

impl BufRead for ShrinksOnceLooked {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        let rest = &self.data[self.pos..];
        let len = if self.looked {
            rest.len().min(3)
        } else {
            rest.len()
        };
        self.looked = true;
        Ok(&rest[..len])
    }

    fn consume(&mut self, amt: usize) {
        self.pos += amt;
        self.looked = false;
    }
}

/// The payload is borrowed from a second look at the buffer; a source whose second look is
/// shorter than the first is refused with an error at the frame, not indexed past.
#[test]
fn a_fill_buf_shorter_at_every_second_look_is_an_error() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"hello world").unwrap();
    let source = ShrinksOnceLooked {
        data: writer.into_inner(),
        pos: 0,
        looked: false,
    };
    let mut reader = StreamReader::in_place(source, DefaultDeframer::new());
    let error = reader.read_message().unwrap_err();
    assert!(
        error
            .to_string()
            .contains("different buffer without a consume"),
        "{error}"
    );
    assert_eq!((error.frame_index(), error.offset()), (Some(0), Some(0)));
}

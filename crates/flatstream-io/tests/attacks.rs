//! Sources that keep to the letter of `BufRead` but not its spirit: found by an outside
//! attack on the in-place reader.

use std::io::{self, BufRead, Read};

use flatstream_io::{DefaultDeframer, DefaultFramer, StreamReader, StreamWriter};

/// A `BufRead` whose `fill_buf`, called again without a `consume`, returns a shorter view of
/// the same buffer (same address): every other call shows at most 3 bytes.
struct Shrinking {
    data: Vec<u8>,
    pos: usize,
    calls: usize,
}

impl Read for Shrinking {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let available = self.fill_buf()?;
            let n = available.len().min(buf.len());
            buf[..n].copy_from_slice(&available[..n]);
            n
        };
        self.consume(n);
        Ok(n)
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

/// It once indexed past the shorter view and panicked; now the first frame parsed in place is
/// refused with an I/O error that says what the source did.
#[test]
fn a_fill_buf_that_shrinks_without_a_consume_is_an_error_not_a_panic() {
    let mut writer = StreamWriter::new(Vec::new(), DefaultFramer);
    writer.write_payload(b"hello world").unwrap();
    writer.write_payload(b"second").unwrap();
    let data = writer.into_inner();
    let source = Shrinking {
        data,
        pos: 0,
        calls: 0,
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

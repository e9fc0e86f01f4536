//! Calls each per-message method of the everyday path from three functions of its own, as
//! a program of some size does, for `cargo xtask inlining` to look for an out-of-line call
//! in the release binary. Left to `#[inline]`, LLVM kept `write_finished`,
//! `SliceReader::read_message` and `TypedMessages::next` out of loops like these, and they
//! ran at 0.6 to 0.7x their inlined speed (`docs/benchmarks.md`, session 18).
//!
//! Not a benchmark: it reads and writes a few frames so that nothing is optimized away.

mod blob;

use std::hint::black_box;
use std::io::{Cursor, Read};

use blob::Blob;
use flatbuffers::FlatBufferBuilder;
use flatstream::{
    ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer, DeframerExt, SizeValidator,
    SliceReader, StreamReader, StreamSerialize, StreamWriter, Xxh3,
};

/// A source that is only `Read`: the reader's own buffer.
struct OnlyRead<'a>(&'a [u8]);

impl Read for OnlyRead<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

type Writer = StreamWriter<Vec<u8>, ChecksumFramer<Xxh3>>;
type Plain = StreamWriter<Vec<u8>, DefaultFramer>;

/// Three functions with the same body (each adds its own constant, so that none is folded
/// into another before the inliner has seen three callers).
macro_rules! three {
    ($k:literal, [$a:ident, $b:ident, $c:ident], |$($arg:ident: $ty:ty),*| $body:block) => {
        #[inline(never)]
        fn $a($($arg: $ty),*) -> usize { $k + $body }
        #[inline(never)]
        fn $b($($arg: $ty),*) -> usize { 2 * $k + $body }
        #[inline(never)]
        fn $c($($arg: $ty),*) -> usize { 3 * $k + $body }
    };
}

three!(
    1,
    [write_a, write_b, write_c],
    |w: &mut Writer, p: &[&[u8]]| {
        for x in p {
            w.write(&Blob(x)).unwrap();
        }
        w.get_ref().len()
    }
);
three!(
    2,
    [plain_a, plain_b, plain_c],
    |w: &mut Plain, p: &[&[u8]]| {
        for x in p {
            w.write(&Blob(x)).unwrap();
        }
        w.get_ref().len()
    }
);
three!(
    3,
    [payload_a, payload_b, payload_c],
    |w: &mut Writer, p: &[&[u8]]| {
        for x in p {
            w.write_payload(x).unwrap();
        }
        w.get_ref().len()
    }
);
three!(
    4,
    [finished_a, finished_b, finished_c],
    |w: &mut Writer, b: &mut FlatBufferBuilder<'static>| {
        for _ in 0..black_box(4) {
            w.write_finished(b).unwrap();
        }
        w.get_ref().len()
    }
);
three!(5, [read_a, read_b, read_c], |s: &[u8]| {
    let mut reader = StreamReader::new(Cursor::new(s), ChecksumDeframer::new(Xxh3::new()));
    let mut n = 0;
    while let Some(p) = reader.read_message().unwrap() {
        n += p.len();
    }
    n
});
three!(6, [buffered_a, buffered_b, buffered_c], |s: &[u8]| {
    let mut reader = StreamReader::new(OnlyRead(s), ChecksumDeframer::new(Xxh3::new()));
    let mut n = 0;
    while let Some(p) = reader.read_message().unwrap() {
        n += p.len();
    }
    n
});
three!(7, [messages_a, messages_b, messages_c], |s: &[u8]| {
    let mut reader = StreamReader::new(Cursor::new(s), ChecksumDeframer::new(Xxh3::new()));
    let mut messages = reader.messages();
    let mut n = 0;
    while let Some(p) = messages.next() {
        n += p.unwrap().len();
    }
    n
});
three!(8, [typed_a, typed_b, typed_c], |s: &[u8]| {
    let mut reader = StreamReader::new(Cursor::new(s), ChecksumDeframer::new(Xxh3::new()));
    let mut views = reader.typed_messages::<[u8]>();
    let mut n = 0;
    while let Some(p) = views.next() {
        n += p.unwrap().len();
    }
    n
});
three!(9, [slice_a, slice_b, slice_c], |s: &[u8]| {
    let mut reader = SliceReader::new(s, ChecksumDeframer::new(Xxh3::new()));
    let mut n = 0;
    while let Some(p) = reader.read_message().unwrap() {
        n += p.len();
    }
    n
});
three!(10, [iter_a, iter_b, iter_c], |s: &[u8]| {
    SliceReader::new(s, ChecksumDeframer::new(Xxh3::new()))
        .map(|p| p.unwrap().len())
        .sum::<usize>()
});
three!(11, [validated_a, validated_b, validated_c], |s: &[u8]| {
    let deframer =
        ChecksumDeframer::new(Xxh3::new()).with_validator(SizeValidator::at_most(1 << 20));
    let mut reader = StreamReader::new(Cursor::new(s), deframer);
    let mut n = 0;
    while let Some(p) = reader.read_message().unwrap() {
        n += p.len();
    }
    n
});
three!(12, [bounded_a, bounded_b, bounded_c], |s: &[u8]| {
    let mut reader = StreamReader::new(Cursor::new(s), DefaultDeframer::new().bounded(1 << 20));
    let mut n = 0;
    while let Some(p) = reader.read_message().unwrap() {
        n += p.len();
    }
    n
});

fn main() {
    let source: Vec<u8> = (0..64 * 16).map(|i: u32| i.to_le_bytes()[0]).collect();
    let payloads: Vec<&[u8]> = source.chunks(56).collect();
    let mut total = 0;
    let mut writer: Writer = StreamWriter::new(Vec::new(), ChecksumFramer::new(Xxh3::new()));
    for write in [write_a, write_b, write_c, payload_a, payload_b, payload_c] {
        total += write(&mut writer, black_box(&payloads));
    }
    let mut builder = FlatBufferBuilder::new();
    Blob(payloads[0]).serialize(&mut builder).unwrap();
    for write in [finished_a, finished_b, finished_c] {
        total += write(&mut writer, &mut builder);
    }
    let mut plain: Plain = StreamWriter::new(Vec::new(), DefaultFramer::new());
    for write in [plain_a, plain_b, plain_c] {
        total += write(&mut plain, black_box(&payloads));
    }
    let stream = writer.into_inner();
    let readers = [
        read_a,
        read_b,
        read_c,
        buffered_a,
        buffered_b,
        buffered_c,
        messages_a,
        messages_b,
        messages_c,
        typed_a,
        typed_b,
        typed_c,
        slice_a,
        slice_b,
        slice_c,
        iter_a,
        iter_b,
        iter_c,
        validated_a,
        validated_b,
        validated_c,
    ];
    for read in readers {
        total += read(black_box(&stream));
    }
    let plain = plain.into_inner();
    for read in [bounded_a, bounded_b, bounded_c] {
        total += read(black_box(&plain));
    }
    println!("{total}");
}

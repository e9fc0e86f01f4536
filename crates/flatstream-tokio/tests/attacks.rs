//! Found by an outside attack on the async engine: cancellation of writes and reads,
//! `Interrupted`, what a declared length reserves, sources that end and then grow.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use flatstream_checksum_crc32c::Crc32c;
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader};
use flatstream_tokio::{AsyncStreamReader, AsyncStreamWriter, FlatstreamCodec};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::codec::Decoder;

/// Accepts 7 bytes per call, and is Pending on every other call (wakes itself at once).
#[derive(Default)]
struct Slow {
    out: Vec<u8>,
    tick: bool,
}
impl AsyncWrite for Slow {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.tick = !self.tick;
        if self.tick {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(7);
        self.out.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn read_blocking(bytes: &[u8]) -> (Vec<Vec<u8>>, Option<String>) {
    let mut reader = StreamReader::new(bytes, ChecksumDeframer::new(Crc32c::new()));
    let mut got = Vec::new();
    loop {
        match reader.read_message() {
            Ok(Some(p)) => got.push(p.to_vec()),
            Ok(None) => return (got, None),
            Err(e) => return (got, Some(e.to_string())),
        }
    }
}

/// A flush cut short by `select!`/`timeout` and then retried goes on where the sink stopped
/// taking bytes (it once wrote the buffered frames again from their start: bytes duplicated,
/// a frame read twice with no error).
#[test]
fn a_flush_cancelled_then_retried_sends_each_byte_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(async {
        let mut writer =
            AsyncStreamWriter::new(Slow::default(), ChecksumFramer::new(Crc32c::new()));
        for i in 0..5u8 {
            writer.write_payload(&[i; 20]).await.unwrap();
        }
        // Poll the flush a few times, then drop it (what a select! arm losing does).
        let mut fut = Box::pin(writer.flush());
        for _ in 0..5 {
            let _ = futures_poll_once(fut.as_mut()).await;
        }
        drop(fut);
        writer.flush().await.unwrap();
        writer.into_inner().out
    });
    let (got, error) = read_blocking(&out);
    assert_eq!(error, None);
    assert_eq!(
        out.len(),
        5 * 28,
        "bytes duplicated after a cancelled flush"
    );
    assert_eq!(got.len(), 5);
}

async fn futures_poll_once<F: std::future::Future + Unpin>(fut: F) -> Option<F::Output> {
    let mut fut = Some(fut);
    std::future::poll_fn(move |cx| {
        let f = fut.as_mut().unwrap();
        Poll::Ready(match Pin::new(f).poll(cx) {
            Poll::Ready(v) => Some(v),
            Poll::Pending => None,
        })
    })
    .await
}

/// Returns `Interrupted` once, in the middle of the stream, then the rest.
struct InterruptOnce {
    data: Vec<u8>,
    at: usize,
    interrupted: bool,
}
impl AsyncRead for InterruptOnce {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.at >= 10 && !self.interrupted {
            self.interrupted = true;
            return Poll::Ready(Err(io::ErrorKind::Interrupted.into()));
        }
        let n = buf.remaining().min(self.data.len() - self.at).min(10);
        let at = self.at;
        buf.put_slice(&self.data[at..at + n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

/// `Interrupted` is retried, as the blocking readers (and `read_exact`) do; the async reader
/// once stopped at it.
#[test]
fn the_async_reader_retries_interrupted_reads() {
    let mut stream = Vec::new();
    let mut w = flatstream_io::StreamWriter::new(&mut stream, ChecksumFramer::new(Crc32c::new()));
    for i in 0..3u8 {
        w.write_payload(&[i; 20]).unwrap();
    }
    drop(w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let outcome = rt.block_on(async {
        let src = InterruptOnce {
            data: stream.clone(),
            at: 0,
            interrupted: false,
        };
        let mut r = AsyncStreamReader::new(src, ChecksumDeframer::new(Crc32c::new()));
        let mut n = 0;
        loop {
            match r.read_message().await {
                Ok(Some(_)) => n += 1,
                Ok(None) => return Ok(n),
                Err(e) => return Err((n, e.to_string())),
            }
        }
    });
    assert_eq!(
        outcome,
        Ok(3),
        "blocking readers read all 3 frames through an Interrupted"
    );
}

/// 12 bytes that declare a 60 MiB payload reserve little: memory follows the bytes that
/// arrive, not what a header declares (the codec once reserved the whole 60 MiB).
#[test]
fn the_codec_reserves_no_more_than_64_kib_ahead_of_the_bytes() {
    let mut codec = FlatstreamCodec::new(Crc32c::new());
    let mut buffer = BytesMut::from(&(60u32 << 20).to_le_bytes()[..]);
    buffer.extend_from_slice(&[0; 8]);
    assert!(codec.decode(&mut buffer).unwrap().is_none());
    assert!(
        buffer.capacity() < 1 << 20,
        "reserved {} bytes for a 12-byte input",
        buffer.capacity()
    );
}

/// Read cancellation: every read raced against a tiny timeout; nothing lost or duplicated.
#[test]
fn cancelled_reads_lose_and_repeat_nothing() {
    let mut stream = Vec::new();
    let mut w = flatstream_io::StreamWriter::new(&mut stream, ChecksumFramer::new(Crc32c::new()));
    for i in 0..200u32 {
        w.write_payload(&vec![i as u8; (i as usize * 37) % 300])
            .unwrap();
    }
    drop(w);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let (mut tx, rx) = tokio::io::duplex(13);
        let data = stream.clone();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for c in data.chunks(5) {
                tx.write_all(c).await.unwrap();
                tokio::task::yield_now().await;
            }
        });
        let mut r = AsyncStreamReader::new(rx, ChecksumDeframer::new(Crc32c::new()));
        let mut got = Vec::new();
        loop {
            match tokio::time::timeout(Duration::from_micros(1), r.read_message()).await {
                Err(_elapsed) => {}
                Ok(Ok(Some(p))) => got.push(p.to_vec()),
                Ok(Ok(None)) => break,
                Ok(Err(e)) => panic!("{e}"),
            }
        }
        got
    });
    assert_eq!(got, read_blocking(&stream).0);
}

/// A source that reports end of stream once, then has more (a file being appended to): the
/// next call reads the later frames, as the blocking reader does (the async reader once
/// returned `None` for ever).
#[test]
fn the_async_reader_reads_again_after_an_end() {
    struct Gap {
        parts: Vec<Vec<u8>>,
    }
    impl AsyncRead for Gap {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<io::Result<()>> {
            if !self.parts.is_empty() {
                let part = self.parts.remove(0);
                buf.put_slice(&part);
            }
            Poll::Ready(Ok(()))
        }
    }
    impl io::Read for Gap {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.parts.is_empty() {
                return Ok(0);
            }
            let n = self.parts[0].len().min(buf.len());
            buf[..n].copy_from_slice(&self.parts[0][..n]);
            self.parts[0].drain(..n);
            // A part read to its end, or the empty part (one end of stream), is done.
            if self.parts[0].is_empty() {
                self.parts.remove(0);
            }
            Ok(n)
        }
    }
    let mut frame = Vec::new();
    flatstream_io::StreamWriter::new(&mut frame, ChecksumFramer::new(Crc32c::new()))
        .write_payload(b"abc")
        .unwrap();
    let parts = vec![frame.clone(), Vec::new(), frame.clone()];
    let mut blocking = StreamReader::new(
        Gap {
            parts: parts.clone(),
        },
        ChecksumDeframer::new(Crc32c::new()),
    );
    let b: Vec<_> = (0..3)
        .map(|_| blocking.read_message().unwrap().map(<[u8]>::to_vec))
        .collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let a: Vec<_> = rt.block_on(async {
        let mut r = AsyncStreamReader::new(Gap { parts }, ChecksumDeframer::new(Crc32c::new()));
        let mut v = Vec::new();
        for _ in 0..3 {
            v.push(r.read_message().await.unwrap().map(<[u8]>::to_vec));
        }
        v
    });
    assert_eq!(a, b);
}

/// Returns `Interrupted` `left` times, then the end.
struct Interrupting {
    left: u64,
}

impl AsyncRead for Interrupting {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Ok(()));
        }
        self.left -= 1;
        Poll::Ready(Err(io::ErrorKind::Interrupted.into()))
    }
}

/// A source interrupted 50 million times: the retries yield to the executor, so a 10 ms
/// timeout around the read fires (found by a second attack: the retry loop held the
/// executor thread until the source relented, for ever for one that never does).
#[test]
fn retries_of_an_interrupted_source_let_a_timeout_fire() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let timed_out = runtime.block_on(async {
        let mut reader = AsyncStreamReader::new(
            Interrupting { left: 50_000_000 },
            flatstream_io::DefaultDeframer::new(),
        );
        tokio::time::timeout(Duration::from_millis(10), reader.read_message())
            .await
            .is_err()
    });
    assert!(timed_out, "the read held the executor past its timeout");
}

//! The async writer and reader over real sockets and pipes.

use std::time::Duration;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{Error, ErrorKind, StreamSerialize};
use flatstream_io::{ChecksumDeframer, ChecksumFramer};
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};
use flatstream_tokio::{AsyncStreamReader, AsyncStreamWriter, FlatstreamCodec};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

const MESSAGES: u64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_million_messages_over_tcp_on_loopback() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut reader = AsyncStreamReader::new(socket, ChecksumDeframer::new(Crc32c::new()));
        let mut next_id = 0u64;
        reader
            .process_typed::<EventRoot, _>(|event| {
                assert_eq!(event.id(), next_id);
                next_id += 1;
                Ok(())
            })
            .await
            .unwrap();
        (next_id, reader.position())
    });
    let client = tokio::spawn(async move {
        let socket = TcpStream::connect(address).await.unwrap();
        let mut writer = AsyncStreamWriter::new(socket, ChecksumFramer::new(Crc32c::new()));
        for id in 0..MESSAGES {
            writer.write(&TelemetryEvent::nth(id)).await.unwrap();
        }
        writer.shutdown().await.unwrap();
        writer.flushed_bytes()
    });
    let bounded = tokio::time::timeout(Duration::from_secs(120), async {
        let sent = client.await.unwrap();
        let (received, position) = server.await.unwrap();
        (sent, received, position)
    });
    let (sent_bytes, received, position) = bounded.await.expect("finished within two minutes");
    assert_eq!(
        received, MESSAGES,
        "every message arrived, every checksum verified"
    );
    assert_eq!(position, sent_bytes);
}

#[tokio::test]
async fn a_slow_reader_bounds_the_writers_memory() {
    // A pipe of 16 KiB: the writer can only get ahead by that much plus its own buffer.
    let (near, far) = tokio::io::duplex(16 * 1024);
    let writer_task = tokio::spawn(async move {
        let mut writer = AsyncStreamWriter::new(near, ChecksumFramer::new(Xxh3::new()))
            .with_buffer_limit(32 * 1024);
        let mut largest_buffer = 0;
        let payload = vec![7u8; 1000];
        for _ in 0..20_000 {
            writer.write_payload(&payload).await.unwrap();
            largest_buffer = largest_buffer.max(writer.buffer_capacity());
        }
        writer.shutdown().await.unwrap();
        largest_buffer
    });
    let mut reader = AsyncStreamReader::new(far, ChecksumDeframer::new(Xxh3::new()));
    let mut count = 0u32;
    while let Some(payload) = reader.read_message().await.unwrap() {
        assert_eq!(payload.len(), 1000);
        count += 1;
        if count.is_multiple_of(500) {
            tokio::time::sleep(Duration::from_millis(1)).await; // a slow consumer
        }
    }
    assert_eq!(count, 20_000);
    let largest_buffer = writer_task.await.unwrap();
    // 20 MB went through; the writer never held more than its limit and a frame or so.
    assert!(
        largest_buffer <= 64 * 1024,
        "writer buffer grew to {largest_buffer}"
    );
}

#[tokio::test]
async fn a_torn_stream_is_an_error_not_a_silent_end() {
    let (mut near, far) = tokio::io::duplex(4096);
    let mut codec_bytes = bytes::BytesMut::new();
    let mut codec = FlatstreamCodec::new(Crc32c::new());
    tokio_util::codec::Encoder::encode(&mut codec, &b"first"[..], &mut codec_bytes).unwrap();
    tokio_util::codec::Encoder::encode(&mut codec, &b"second"[..], &mut codec_bytes).unwrap();
    near.write_all(&codec_bytes[..codec_bytes.len() - 3])
        .await
        .unwrap();
    drop(near);
    let mut reader = AsyncStreamReader::new(far, ChecksumDeframer::new(Crc32c::new()));
    assert_eq!(reader.read_message().await.unwrap().unwrap(), b"first");
    let error = reader.read_message().await.unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::UnexpectedEof { .. }),
        "{error:?}"
    );
    assert_eq!((error.frame_index(), error.offset()), (Some(1), Some(13)));
}

#[tokio::test]
async fn async_closures_and_finished_builders() {
    let (near, far) = tokio::io::duplex(64 * 1024);
    let writing = tokio::spawn(async move {
        let mut writer = AsyncStreamWriter::new(near, ChecksumFramer::new(Crc32c::new()));
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        for id in 0..100 {
            builder.reset();
            TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
            writer.write_finished(&mut builder).await.unwrap();
        }
        writer.shutdown().await.unwrap();
    });
    let mut reader = AsyncStreamReader::new(far, ChecksumDeframer::new(Crc32c::new()));
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1000);
    reader
        .process_all_async(|payload| {
            let sender = sender.clone();
            async move { sender.send(payload.len()).await.map_err(Error::other) }
        })
        .await
        .unwrap();
    drop(sender);
    writing.await.unwrap();
    let mut count = 0;
    while receiver.recv().await.is_some() {
        count += 1;
    }
    assert_eq!(count, 100);
}

/// An `AsyncWrite` that takes `room` bytes, then fails every write.
struct FailsAfter {
    room: usize,
    taken: usize,
    writes_after_failure: usize,
}

impl tokio::io::AsyncWrite for FailsAfter {
    fn poll_write(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        let take = buf.len().min(self.room - self.taken);
        if take == 0 {
            self.writes_after_failure += 1;
            return std::task::Poll::Ready(Err(std::io::Error::other("disk full")));
        }
        self.taken += take;
        std::task::Poll::Ready(Ok(take))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// Frames as `ChecksumFramer` over CRC-32C, but for the payload `b"refused"` writes its
/// header and then refuses it, and for `b"panics"` writes its header and then panics: a
/// frame torn by its framer.
struct RefusesAfterItsHeader(ChecksumFramer<Crc32c>);

impl flatstream_core::Framer for RefusesAfterItsHeader {
    fn frame_and_write<W: std::io::Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> flatstream_core::Result<usize> {
        if payload == b"refused" {
            writer.write_all(&[7, 0, 0, 0])?;
            return Err(Error::invalid_frame("refused after its header"));
        }
        if payload == b"panics" {
            writer.write_all(&[6, 0, 0, 0])?;
            panic!("the framer panics after its header");
        }
        self.0.frame_and_write(writer, payload)
    }
}

#[tokio::test]
async fn a_frame_its_framer_refused_part_way_never_reaches_the_sink() {
    let mut writer = AsyncStreamWriter::new(
        Vec::new(),
        RefusesAfterItsHeader(ChecksumFramer::new(Crc32c::new())),
    );
    writer.write_payload(b"before").await.unwrap();
    let error = writer.write_payload(b"refused").await.unwrap_err();
    assert_eq!(error.frame_index(), Some(1));
    writer.write_payload(b"after").await.unwrap();
    writer.flush().await.unwrap();
    assert_eq!(writer.flushed_bytes(), writer.position());
    // The sink holds the two whole frames, which read back as they were written.
    let sent = writer.into_inner();
    let mut reader = flatstream_io::StreamReader::new(
        std::io::Cursor::new(&sent[..]),
        ChecksumDeframer::new(Crc32c::new()),
    );
    assert_eq!(reader.read_message().unwrap(), Some(&b"before"[..]));
    assert_eq!(reader.read_message().unwrap(), Some(&b"after"[..]));
    assert_eq!(reader.read_message().unwrap(), None);
    assert_eq!(sent.len(), 2 * 8 + 6 + 5);
}

#[test]
fn a_frame_its_framer_panicked_in_part_way_never_reaches_the_sink() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // The panic caught, then another frame or straight a flush: the sink gets whole frames.
    for frame_after in [true, false] {
        let mut writer = AsyncStreamWriter::new(
            Vec::new(),
            RefusesAfterItsHeader(ChecksumFramer::new(Crc32c::new())),
        );
        runtime.block_on(writer.write_payload(b"before")).unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            runtime.block_on(writer.write_payload(b"panics"))
        }));
        assert!(panicked.is_err());
        // Before the next call cuts them, the torn bytes count neither as sent nor as queued.
        assert_eq!((writer.flushed_bytes(), writer.buffered_len()), (0, 14));
        if frame_after {
            runtime.block_on(writer.write_payload(b"after")).unwrap();
        }
        runtime.block_on(writer.flush()).unwrap();
        assert_eq!(writer.flushed_bytes(), writer.position());
        assert_eq!(writer.frames_written(), 1 + u64::from(frame_after));
        let sent = writer.into_inner();
        assert_eq!(sent.len() as u64, 14 + if frame_after { 13 } else { 0 });
        let mut reader = flatstream_io::StreamReader::new(
            std::io::Cursor::new(&sent[..]),
            ChecksumDeframer::new(Crc32c::new()),
        );
        assert_eq!(reader.read_message().unwrap(), Some(&b"before"[..]));
        if frame_after {
            assert_eq!(reader.read_message().unwrap(), Some(&b"after"[..]));
        }
        assert_eq!(reader.read_message().unwrap(), None);
    }
}

#[tokio::test]
async fn the_writer_stops_after_an_io_error() {
    let sink = FailsAfter {
        room: 10_000,
        taken: 0,
        writes_after_failure: 0,
    };
    let mut writer =
        AsyncStreamWriter::new(sink, ChecksumFramer::new(Crc32c::new())).with_buffer_limit(4096);
    let payload = [5u8; 92]; // 100-byte frames
    let mut first_error = None;
    for _ in 0..200 {
        if let Err(error) = writer.write_payload(&payload).await {
            first_error = Some(error);
            break;
        }
    }
    let error = first_error.expect("the sink filled up");
    assert!(matches!(error.kind(), ErrorKind::Io(_)), "{error}");
    // Located at the first frame not known to be written: the start of the failed batch.
    assert_eq!(error.offset(), Some(writer.flushed_bytes()));
    assert_eq!(error.frame_index(), Some(writer.flushed_bytes() / 100));
    let failures = writer.get_ref().writes_after_failure;
    let mut finished = flatbuffers::FlatBufferBuilder::new();
    let text = finished.create_string("finished");
    finished.finish_minimal(text);
    // Started and never finished: a stopped writer refuses it before reading it (reading
    // an unfinished builder trips `flatbuffers`' debug assertion).
    let mut unfinished = flatbuffers::FlatBufferBuilder::new();
    unfinished.create_string("unfinished");
    for attempt in [
        writer.write_payload(&payload).await,
        writer.write("text").await,
        writer.write_finished(&mut finished).await,
        writer.write_finished(&mut unfinished).await,
        writer.flush().await,
        writer.shutdown().await,
    ] {
        let refusal = attempt.expect_err("a stopped writer refuses");
        assert!(refusal.to_string().contains("disk full"), "{refusal}");
        assert!(refusal.to_string().contains("stopped"), "{refusal}");
    }
    assert_eq!(
        writer.get_ref().writes_after_failure,
        failures,
        "nothing more was sent to the sink"
    );
}

#[tokio::test]
async fn errors_from_closures_name_the_frame_they_were_given() {
    let mut stream = flatstream_io::StreamWriter::new(Vec::new(), ChecksumFramer::new(Xxh3::new()));
    for id in 0..10 {
        stream.write(&TelemetryEvent::nth(id)).unwrap();
    }
    let stream = stream.into_inner();
    let starts: Vec<u64> = {
        let mut starts = Vec::new();
        let mut reader =
            flatstream_io::StreamReader::new(&stream[..], ChecksumDeframer::new(Xxh3::new()));
        loop {
            let at = reader.position();
            if reader.read_message().unwrap().is_none() {
                break starts;
            }
            starts.push(at);
        }
    };

    let mut reader = AsyncStreamReader::new(&stream[..], ChecksumDeframer::new(Xxh3::new()));
    let mut seen = 0;
    let error = reader
        .process_all(|_| {
            seen += 1;
            if seen == 4 {
                Err(Error::other("boom"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(3), Some(starts[3]))
    );
    assert!(error.is_resumable());
    // The reader goes on after it.
    assert!(reader.read_message().await.unwrap().is_some());

    let mut reader = AsyncStreamReader::new(&stream[..], ChecksumDeframer::new(Xxh3::new()));
    let error = reader
        .process_all_async(|payload| async move {
            if !payload.is_empty()
                && flatbuffers::root::<flatstream_telemetry_schema::Event<'_>>(&payload)
                    .unwrap()
                    .id()
                    == 6
            {
                Err(Error::other("async boom"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(6), Some(starts[6]))
    );

    let mut reader = AsyncStreamReader::new(&stream[..], ChecksumDeframer::new(Xxh3::new()));
    let error = reader
        .process_typed::<EventRoot, _>(|event| {
            if event.id() == 8 {
                Err(Error::other("typed boom"))
            } else {
                Ok(())
            }
        })
        .await
        .unwrap_err();
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(8), Some(starts[8]))
    );
}

#[tokio::test]
async fn decompressed_payloads_are_lent_or_shared_async() {
    use flatstream_compress::{CompressFramerExt, DecompressDeframerExt, Zstd};
    let (near, far) = tokio::io::duplex(4096);
    let writing = tokio::spawn(async move {
        let mut writer = AsyncStreamWriter::new(
            near,
            ChecksumFramer::new(Crc32c::new()).compressed(Zstd::new(3)),
        );
        for id in 0..1000 {
            writer.write(&TelemetryEvent::nth(id)).await.unwrap();
        }
        writer.shutdown().await.unwrap();
    });
    let mut reader = AsyncStreamReader::new(
        far,
        ChecksumDeframer::new(Crc32c::new()).decompressed(Zstd::new(3)),
    );
    let mut next_id = 0;
    while next_id < 500 {
        let payload = reader.read_message().await.unwrap().unwrap();
        let event = flatbuffers::root::<flatstream_telemetry_schema::Event<'_>>(payload).unwrap();
        assert_eq!(event.id(), next_id);
        next_id += 1;
    }
    while let Some(payload) = reader.read_bytes().await.unwrap() {
        let event = flatbuffers::root::<flatstream_telemetry_schema::Event<'_>>(&payload).unwrap();
        assert_eq!(event.id(), next_id);
        next_id += 1;
    }
    assert_eq!(next_id, 1000);
    writing.await.unwrap();
}

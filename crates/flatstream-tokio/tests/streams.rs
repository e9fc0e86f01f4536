//! The async writer and reader over real sockets and pipes.

use std::time::Duration;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_checksum_xxh3::Xxh3;
use flatstream_core::{ErrorKind, StreamSerialize};
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
        let mut reader = AsyncStreamReader::new(socket, Crc32c::new());
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
        let mut writer = AsyncStreamWriter::new(socket, Crc32c::new());
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
        let mut writer = AsyncStreamWriter::new(near, Xxh3::new()).with_buffer_limit(32 * 1024);
        let mut largest_buffer = 0;
        let payload = vec![7u8; 1000];
        for _ in 0..20_000 {
            writer.write_payload(&payload).await.unwrap();
            largest_buffer = largest_buffer.max(writer.buffer_capacity());
        }
        writer.shutdown().await.unwrap();
        largest_buffer
    });
    let mut reader = AsyncStreamReader::new(far, Xxh3::new());
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
    let mut reader = AsyncStreamReader::new(far, Crc32c::new());
    assert_eq!(&reader.read_message().await.unwrap().unwrap()[..], b"first");
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
        let mut writer = AsyncStreamWriter::new(near, Crc32c::new());
        let mut builder = flatbuffers::FlatBufferBuilder::new();
        for id in 0..100 {
            builder.reset();
            TelemetryEvent::nth(id).serialize(&mut builder).unwrap();
            writer.write_finished(&mut builder).await.unwrap();
        }
        writer.shutdown().await.unwrap();
    });
    let mut reader = AsyncStreamReader::new(far, Crc32c::new());
    let (sender, mut receiver) = tokio::sync::mpsc::channel(1000);
    reader
        .process_all_async(|payload| {
            let sender = sender.clone();
            async move {
                sender
                    .send(payload.len())
                    .await
                    .map_err(flatstream_core::Error::other)
            }
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

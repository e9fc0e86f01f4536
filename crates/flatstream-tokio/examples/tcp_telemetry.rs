//! Telemetry over TCP: a server task reads events from a socket while a client task writes
//! them, both on 127.0.0.1, with CRC-32C on every frame. Prints counts and throughput.
//!
//! ```text
//! cargo run --release -p flatstream-tokio --example tcp_telemetry -- [COUNT]
//! ```

use std::time::Instant;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};
use flatstream_tokio::{AsyncStreamReader, AsyncStreamWriter};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: u64 = std::env::args()
        .nth(1)
        .map_or(Ok(1_000_000), |arg| arg.parse())?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let started = Instant::now();

    let server = tokio::spawn(async move {
        let (socket, peer) = listener.accept().await?;
        let mut reader = AsyncStreamReader::new(socket, Crc32c::new());
        let mut value_sum = 0.0;
        reader
            .process_typed::<EventRoot, _>(|event| {
                value_sum += event.value();
                Ok(())
            })
            .await?;
        println!(
            "server: {} events ({} bytes) from {peer}, value sum {value_sum}",
            reader.frames_read(),
            reader.position()
        );
        Ok::<u64, flatstream_core::Error>(reader.frames_read())
    });

    let socket = TcpStream::connect(address).await?;
    socket.set_nodelay(true)?;
    let mut writer = AsyncStreamWriter::new(socket, Crc32c::new());
    for id in 0..count {
        writer.write(&TelemetryEvent::nth(id)).await?;
    }
    writer.shutdown().await?;
    let received = server.await??;
    let seconds = started.elapsed().as_secs_f64();
    #[allow(clippy::cast_precision_loss)] // Throughput for display.
    let rate = received as f64 / seconds / 1e6;
    println!(
        "client: {} events, {} bytes; {received} received in {seconds:.3} s: {rate:.2} M msg/s",
        writer.frames_written(),
        writer.flushed_bytes(),
    );
    Ok(())
}

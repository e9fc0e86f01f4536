//! Telemetry over TCP, with CRC-32C on every frame. Prints counts and throughput.
//!
//! ```text
//! cargo run --release -p flatstream-tokio --example tcp_telemetry -- [COUNT]
//! cargo run --release -p flatstream-tokio --example tcp_telemetry -- server 127.0.0.1:7878
//! cargo run --release -p flatstream-tokio --example tcp_telemetry -- client 127.0.0.1:7878 1000
//! ```
//!
//! With no mode, a server task and a client task talk over 127.0.0.1 in one process (COUNT
//! events, a million by default). `server ADDR` listens on ADDR and reads every connection
//! until stopped; `client ADDR COUNT` sends COUNT events to a server and exits. `--help`
//! prints the usage; arguments it cannot read are a usage line on stderr and status 2.
//! The arguments are read by hand: an example needs no argument-parsing dependency.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Instant;

use flatstream_checksum_crc32c::Crc32c;
use flatstream_io::{ChecksumDeframer, ChecksumFramer};
use flatstream_telemetry_schema::{EventRoot, TelemetryEvent};
use flatstream_tokio::{AsyncStreamReader, AsyncStreamWriter};
use tokio::net::{TcpListener, TcpStream};

const USAGE: &str = "usage: tcp_telemetry [COUNT] | server ADDR | client ADDR COUNT | --help";

const HELP: &str = "\
Telemetry events over TCP, CRC-32C on every frame.

usage:
  tcp_telemetry [COUNT]              server and client in one process on 127.0.0.1
                                     (COUNT events, default 1000000)
  tcp_telemetry server ADDR          listen on ADDR (e.g. 127.0.0.1:7878) and read every
                                     connection until stopped (Ctrl-C)
  tcp_telemetry client ADDR COUNT    send COUNT events to the server at ADDR
  tcp_telemetry --help               this text";

const DEFAULT_COUNT: u64 = 1_000_000;

/// What the arguments ask for.
#[derive(Debug, PartialEq)]
enum Command {
    Help,
    Both { count: u64 },
    Server { address: SocketAddr },
    Client { address: SocketAddr, count: u64 },
}

/// Reads the arguments (without the program name); the error is the line to print above the
/// usage.
fn parse(args: &[String]) -> Result<Command, String> {
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        return Ok(Command::Help);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        [] => Ok(Command::Both {
            count: DEFAULT_COUNT,
        }),
        ["server", address] => Ok(Command::Server {
            address: parse_address(address)?,
        }),
        ["client", address, count] => Ok(Command::Client {
            address: parse_address(address)?,
            count: parse_count(count)?,
        }),
        ["server" | "client", ..] => Err(format!("wrong number of arguments for `{}`", args[0])),
        [count] => Ok(Command::Both {
            count: parse_count(count)?,
        }),
        _ => Err(format!("unexpected argument `{}`", args[1])),
    }
}

fn parse_count(arg: &str) -> Result<u64, String> {
    arg.parse()
        .map_err(|_| format!("COUNT must be a whole number of events, got `{arg}`"))
}

fn parse_address(arg: &str) -> Result<SocketAddr, String> {
    arg.parse()
        .map_err(|_| format!("ADDR must be an IP address and port (127.0.0.1:7878), got `{arg}`"))
}

/// The whole command: the exit status for `args`.
fn run_command(args: &[String]) -> u8 {
    let command = match parse(args) {
        Ok(Command::Help) => {
            println!("{HELP}");
            return 0;
        }
        Ok(command) => command,
        Err(message) => {
            eprintln!("tcp_telemetry: {message}\n{USAGE}");
            return 2;
        }
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tcp_telemetry: cannot start the runtime: {error}");
            return 2;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("tcp_telemetry: {error}");
            1
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    ExitCode::from(run_command(&args))
}

async fn run(command: Command) -> Result<(), Box<dyn std::error::Error>> {
    match command {
        Command::Help => println!("{HELP}"),
        Command::Both { count } => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let address = listener.local_addr()?;
            let started = Instant::now();
            let server = tokio::spawn(async move {
                let (socket, peer) = listener.accept().await?;
                serve(socket, peer).await
            });
            let (frames_written, bytes) = send(address, count).await?;
            let received = server.await??;
            let seconds = started.elapsed().as_secs_f64();
            #[allow(clippy::cast_precision_loss)] // Throughput for display.
            let rate = received as f64 / seconds / 1e6;
            println!(
                "client: {frames_written} events, {bytes} bytes; {received} received in \
                 {seconds:.3} s: {rate:.2} M msg/s"
            );
        }
        Command::Server { address } => {
            let listener = TcpListener::bind(address).await?;
            println!("server: listening on {}", listener.local_addr()?);
            loop {
                let (socket, peer) = listener.accept().await?;
                tokio::spawn(async move {
                    if let Err(error) = serve(socket, peer).await {
                        eprintln!("server: {peer}: {error}");
                    }
                });
            }
        }
        Command::Client { address, count } => {
            let started = Instant::now();
            let (frames_written, bytes) = send(address, count).await?;
            println!(
                "client: {frames_written} events, {bytes} bytes to {address} in {:.3} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    Ok(())
}

/// Reads one connection's events to its end; returns how many.
async fn serve(socket: TcpStream, peer: SocketAddr) -> Result<u64, flatstream_core::Error> {
    let mut reader = AsyncStreamReader::new(socket, ChecksumDeframer::new(Crc32c::new()));
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
    Ok(reader.frames_read())
}

/// Sends `count` events to `address` and closes the connection; returns the frames and bytes
/// written.
async fn send(address: SocketAddr, count: u64) -> Result<(u64, u64), Box<dyn std::error::Error>> {
    let socket = TcpStream::connect(address).await?;
    socket.set_nodelay(true)?;
    let mut writer = AsyncStreamWriter::new(socket, ChecksumFramer::new(Crc32c::new()));
    for id in 0..count {
        writer.write(&TelemetryEvent::nth(id)).await?;
    }
    writer.shutdown().await?;
    Ok((writer.frames_written(), writer.flushed_bytes()))
}

// Built and run by `cargo test` (`test = true` in Cargo.toml), so the modes cannot rot.
#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|&arg| arg.to_owned()).collect()
    }

    #[test]
    fn parses_each_mode() {
        let address: SocketAddr = "127.0.0.1:7878".parse().unwrap();
        assert_eq!(
            parse(&args(&[])),
            Ok(Command::Both {
                count: DEFAULT_COUNT
            })
        );
        assert_eq!(parse(&args(&["10"])), Ok(Command::Both { count: 10 }));
        assert_eq!(
            parse(&args(&["server", "127.0.0.1:7878"])),
            Ok(Command::Server { address })
        );
        assert_eq!(
            parse(&args(&["client", "127.0.0.1:7878", "5"])),
            Ok(Command::Client { address, count: 5 })
        );
    }

    #[test]
    fn help_is_answered_whatever_else_is_given() {
        assert_eq!(parse(&args(&["--help"])), Ok(Command::Help));
        assert_eq!(parse(&args(&["-h"])), Ok(Command::Help));
        assert_eq!(parse(&args(&["server", "--help"])), Ok(Command::Help));
        assert_eq!(run_command(&args(&["--help"])), 0);
    }

    #[test]
    fn bad_arguments_are_usage_errors_with_status_2() {
        let error = parse(&args(&["abc"])).unwrap_err();
        assert!(error.contains("`abc`"), "{error}");
        assert_eq!(run_command(&args(&["abc"])), 2);
        for bad in [
            &["server"][..],
            &["server", "localhost"],
            &["client", "127.0.0.1:7878"],
            &["client", "127.0.0.1:7878", "many"],
            &["1", "2"],
        ] {
            assert!(parse(&args(bad)).is_err(), "{bad:?}");
            assert_eq!(run_command(&args(bad)), 2, "{bad:?}");
        }
    }

    #[tokio::test]
    async fn client_sends_to_a_server_over_loopback() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (socket, peer) = listener.accept().await.unwrap();
            serve(socket, peer).await.unwrap()
        });
        let (frames_written, bytes) = send(address, 100).await.unwrap();
        assert_eq!(frames_written, 100);
        assert!(bytes > 100 * 8);
        assert_eq!(server.await.unwrap(), 100);
    }

    #[test]
    fn the_default_mode_runs_with_a_small_count() {
        assert_eq!(run_command(&args(&["50"])), 0);
    }
}

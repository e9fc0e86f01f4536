//! How long a frame takes from its write to its delivery by a follower: a writer thread
//! appends frames stamped with their write time (nanoseconds since a shared start), one every
//! `GAP` microseconds, and the follower measures each one's delay. Printed for change
//! notification and for polling alone; nothing is asserted (timings depend on the machine).
//!
//! ```text
//! cargo run --release -p flatstream-follow --example latency [COUNT] [GAP_MICROS]
//! ```

use std::fs::OpenOptions;
use std::io::Write;
use std::thread;
use std::time::{Duration, Instant};

use flatstream_checksum_crc32c::Crc32c;
use flatstream_follow::FollowConfig;
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamWriter};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let count: usize = args.next().map_or(Ok(1000), |arg| arg.parse())?;
    let gap = Duration::from_micros(args.next().map_or(Ok(2000), |arg| arg.parse())?);
    println!("{count} frames, one every {gap:?}; delay from write to delivery:");
    for (name, config) in [
        ("notify (+100 ms poll)", FollowConfig::new()),
        ("polling, 100 ms", FollowConfig::new().notify(false)),
        (
            "polling, 10 ms",
            FollowConfig::new()
                .notify(false)
                .poll_interval(Duration::from_millis(10)),
        ),
    ] {
        let delays = measure(config, count, gap)?;
        let at = |per_mille: usize| delays[(delays.len() * per_mille / 1000).min(delays.len() - 1)];
        println!(
            "  {name:<22} median {:>9.3?}  p99 {:>9.3?}  max {:>9.3?}",
            at(500),
            at(990),
            delays[delays.len() - 1]
        );
    }
    Ok(())
}

/// Each frame's delay from its write to its delivery, sorted.
fn measure(
    config: FollowConfig,
    count: usize,
    gap: Duration,
) -> Result<Vec<Duration>, Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("flatstream-latency-{}.fs", std::process::id()));
    std::fs::File::create(&path)?;
    let mut follow = config.open(&path, ChecksumDeframer::new(Crc32c::new()))?;
    let start = Instant::now();
    let writer_path = path.clone();
    let writer = thread::spawn(move || -> std::io::Result<()> {
        let mut file = OpenOptions::new().append(true).open(writer_path)?;
        let mut framed = StreamWriter::new(Vec::new(), ChecksumFramer::new(Crc32c::new()));
        for _ in 0..count {
            thread::sleep(gap);
            framed.get_mut().clear();
            // The stamp is taken just before the write: the delay includes the write itself.
            let stamp = start.elapsed().as_nanos() as u64;
            framed
                .write_payload(&stamp.to_le_bytes())
                .map_err(std::io::Error::from)?;
            file.write_all(framed.get_ref())?;
        }
        Ok(())
    });
    let mut delays = Vec::with_capacity(count);
    while delays.len() < count {
        match follow.next(Duration::from_secs(10))? {
            Some(payload) => {
                let stamp = u64::from_le_bytes(payload.try_into()?);
                delays.push(start.elapsed().saturating_sub(Duration::from_nanos(stamp)));
            }
            None => return Err("no frame for 10 s".into()),
        }
    }
    writer.join().map_err(|_| "writer panicked")??;
    std::fs::remove_file(&path)?;
    delays.sort();
    Ok(delays)
}

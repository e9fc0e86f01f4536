//! A file that grows: every frame delivered once, in order, through torn tails at every byte,
//! damaged frames and timeouts.

use std::thread;
use std::time::{Duration, Instant};

use flatstream_follow::{ErrorKind, Follow, FollowConfig};
use flatstream_io::{ChecksumDeframer, DeframerExt};

use crate::{
    PATIENCE, append, appender, configs, deframer, expect_frame, frame, fresh_file, payload,
};

const FRAMES: usize = 600;

/// How the writer thread cuts its frames into writes.
fn pieces(index: usize, frame: &[u8]) -> Vec<&[u8]> {
    match index {
        // Whole frames.
        0..200 => vec![frame],
        // Cut in two, at each point in turn (the header's bytes included).
        200..400 => {
            let cut = index % (frame.len() + 1);
            vec![&frame[..cut], &frame[cut..]]
        }
        // A byte at a time: a torn tail at every byte.
        400..430 => frame.chunks(1).collect(),
        // Cut in pieces of seven bytes.
        _ => frame.chunks(7).collect(),
    }
}

#[test]
fn reads_every_frame_once_in_order_while_a_writer_thread_appends() {
    for (name, config) in configs() {
        let path = fresh_file(&format!("growing-{name}.fs"));
        let mut follow = config.open(&path, deframer()).unwrap();
        let writer_path = path.to_path_buf();
        let writer = thread::spawn(move || {
            let mut file = appender(&writer_path);
            for index in 0..FRAMES {
                let frame = frame(&payload(index));
                for piece in pieces(index, &frame) {
                    append(&mut file, piece);
                    if index % 3 == 0 {
                        // Now and then, give the follower time to find the torn tail.
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            }
        });
        for index in 0..FRAMES {
            assert_eq!(
                expect_frame(&mut follow),
                payload(index),
                "{name}: frame {index}"
            );
        }
        writer.join().unwrap();
        assert_eq!(
            follow.next(Duration::ZERO).unwrap(),
            None,
            "{name}: nothing more"
        );
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(follow.position(), len, "{name}");
        assert_eq!(follow.bytes_read(), len, "{name}");
        assert_eq!(follow.frames_read(), FRAMES as u64, "{name}");
        assert_eq!(follow.pending_len(), 0, "{name}");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn waits_at_a_torn_tail_at_every_byte_of_a_frame() {
    let path = fresh_file("torn-every-byte.fs");
    let mut file = appender(&path);
    let mut follow = Follow::new(&path, deframer()).unwrap();
    let mut position = 0;
    for index in [0, 1, 2, 8, 100] {
        let payload = payload(index);
        let frame = frame(&payload);
        for (cut, byte) in frame.iter().enumerate() {
            assert_eq!(
                follow.next(Duration::ZERO).unwrap(),
                None,
                "frame {index} torn after {cut} bytes"
            );
            assert_eq!(follow.pending_len(), cut, "frame {index}");
            append(&mut file, &[*byte]);
        }
        assert_eq!(
            follow.next(Duration::ZERO).unwrap(),
            Some(&payload[..]),
            "frame {index}, its last byte written"
        );
        position += frame.len() as u64;
        assert_eq!(follow.position(), position);
        assert_eq!(follow.pending_len(), 0);
    }
}

#[test]
fn the_timeout_passes_when_no_frame_is_whole() {
    for (name, config) in configs() {
        let path = fresh_file(&format!("timeout-{name}.fs"));
        let mut follow = config.open(&path, deframer()).unwrap();
        // An empty file: the whole timeout passes, then `None`.
        let timeout = Duration::from_millis(50);
        let started = Instant::now();
        assert_eq!(follow.next(timeout).unwrap(), None, "{name}");
        assert!(
            started.elapsed() >= timeout,
            "{name}: returned before the timeout"
        );
        // A torn tail: the same.
        let mut file = appender(&path);
        let frame = frame(b"payload");
        append(&mut file, &frame[..3]);
        assert_eq!(
            follow.next(Duration::from_millis(20)).unwrap(),
            None,
            "{name}"
        );
        assert_eq!(
            (follow.frames_read(), follow.pending_len()),
            (0, 3),
            "{name}"
        );
        // The rest, written while the follower waits: delivered in that same call.
        let writer = thread::spawn(move || {
            thread::sleep(Duration::from_millis(30));
            append(&mut file, &frame[3..]);
        });
        assert_eq!(
            follow.next(PATIENCE).unwrap(),
            Some(&b"payload"[..]),
            "{name}"
        );
        writer.join().unwrap();
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_damaged_frame_is_reported_with_its_index_and_offset_and_reading_goes_on() {
    let path = fresh_file("damaged.fs");
    let mut file = appender(&path);
    let frames: Vec<Vec<u8>> = (1..=3).map(|index| frame(&payload(index))).collect();
    let mut damaged = frames[1].clone();
    *damaged.last_mut().unwrap() ^= 0x40;
    append(&mut file, &frames[0]);
    append(&mut file, &damaged);
    let mut follow = Follow::new(&path, deframer()).unwrap();
    assert_eq!(expect_frame(&mut follow), payload(1));
    // Before the frame after it has arrived: the damage is reported at once.
    let error = follow.next(Duration::ZERO).unwrap_err();
    assert!(
        matches!(error.kind(), ErrorKind::ChecksumMismatch { .. }),
        "{error}"
    );
    assert_eq!(error.frame_index(), Some(1));
    assert_eq!(error.offset(), Some(frames[0].len() as u64));
    assert!(
        error
            .to_string()
            .ends_with(&format!("(frame 1 at byte offset {})", frames[0].len())),
        "{error}"
    );
    assert!(error.is_resumable());
    append(&mut file, &frames[2]);
    assert_eq!(expect_frame(&mut follow), payload(3));
    assert_eq!(follow.frames_read(), 3);
    assert_eq!(follow.position(), std::fs::metadata(&path).unwrap().len());
}

#[test]
fn an_oversized_length_stops_the_follower_as_soon_as_it_arrives() {
    let path = fresh_file("oversized.fs");
    let mut file = appender(&path);
    let good = frame(b"good");
    append(&mut file, &good);
    // A length over the limit, and no payload: refused without waiting for one.
    append(&mut file, &(2048u32).to_le_bytes());
    let mut follow = Follow::new(&path, deframer().bounded(1024)).unwrap();
    assert_eq!(follow.next(Duration::ZERO).unwrap(), Some(&b"good"[..]));
    let error = follow.next(PATIENCE).unwrap_err();
    assert!(
        matches!(
            error.kind(),
            ErrorKind::FrameTooLarge {
                len: 2048,
                max: 1024
            }
        ),
        "{error}"
    );
    assert_eq!(
        (error.frame_index(), error.offset()),
        (Some(1), Some(good.len() as u64))
    );
    assert!(follow.is_stopped());
    // Stopped: later calls say where, without reading on.
    let refusal = follow.next(Duration::ZERO).unwrap_err();
    assert_eq!(refusal.offset(), Some(good.len() as u64), "{refusal}");
    assert_eq!(follow.position(), good.len() as u64);
}

#[test]
fn a_long_stream_already_written_is_read_to_its_end() {
    let path = fresh_file("catch-up.fs");
    let mut file = appender(&path);
    let mut stream = Vec::new();
    for index in 0..5000 {
        stream.extend_from_slice(&frame(&payload(index)));
    }
    append(&mut file, &stream);
    let mut follow = FollowConfig::new()
        .notify(false)
        .open(
            &path,
            ChecksumDeframer::new(flatstream_checksum_crc32c::Crc32c::new()),
        )
        .unwrap();
    for index in 0..5000 {
        assert_eq!(
            follow.next(Duration::ZERO).unwrap(),
            Some(&payload(index)[..]),
            "frame {index}"
        );
    }
    assert_eq!(follow.next(Duration::ZERO).unwrap(), None);
    assert_eq!(follow.position(), stream.len() as u64);
}

#[test]
fn a_compressed_stream_is_followed_through_its_deframer() {
    use flatstream_compress::{CompressFramerExt, DecompressDeframerExt, Lz4};
    use flatstream_io::{ChecksumFramer, StreamWriter};

    let path = fresh_file("compressed.fs");
    let mut file = appender(&path);
    let mut follow = Follow::new(&path, deframer().decompressed(Lz4::new())).unwrap();
    for index in 0..50 {
        let payload = payload(index).repeat(3);
        let mut framed = StreamWriter::new(
            Vec::new(),
            ChecksumFramer::new(flatstream_checksum_crc32c::Crc32c::new()).compressed(Lz4::new()),
        );
        framed.write_payload(&payload).unwrap();
        let frame = framed.into_inner();
        let cut = index % frame.len();
        append(&mut file, &frame[..cut]);
        if cut > 0 {
            assert_eq!(follow.next(Duration::ZERO).unwrap(), None, "frame {index}");
        }
        append(&mut file, &frame[cut..]);
        assert_eq!(
            follow.next(PATIENCE).unwrap(),
            Some(&payload[..]),
            "frame {index}"
        );
    }
}

#[test]
fn an_encrypted_stream_is_followed_past_its_final_frame() {
    use flatstream_encrypt::{DecryptDeframerExt, EncryptFramerExt, Key};
    use flatstream_io::{ChecksumFramer, StreamWriter};

    let key = Key::from_bytes([7; 32]);
    let mut writer = StreamWriter::new(
        Vec::new(),
        ChecksumFramer::new(flatstream_checksum_crc32c::Crc32c::new())
            .encrypted(&key)
            .unwrap(),
    );
    let mut ends = Vec::new();
    for index in 0..20 {
        writer.write_payload(&payload(index)).unwrap();
        ends.push(writer.get_ref().len());
    }
    // The final frame: no message, but bytes the follower must account for.
    writer.finish().unwrap();
    let stream = writer.into_inner();
    ends.push(stream.len());

    let path = fresh_file("encrypted.fs");
    let mut file = appender(&path);
    let mut follow = Follow::new(&path, deframer().decrypted(&key)).unwrap();
    let mut start = 0;
    for (index, end) in ends.iter().copied().enumerate() {
        // Each frame torn first, in a different place.
        let cut = start + (index * 13) % (end - start);
        append(&mut file, &stream[start..cut]);
        append(&mut file, &stream[cut..end]);
        start = end;
        if index < 20 {
            assert_eq!(expect_frame(&mut follow), payload(index), "frame {index}");
        }
    }
    assert_eq!(follow.next(Duration::ZERO).unwrap(), None);
    assert_eq!(follow.frames_read(), 20, "the final frame holds no message");
    assert_eq!(
        follow.position(),
        stream.len() as u64,
        "but its bytes are read"
    );
    assert_eq!(follow.pending_len(), 0);
}

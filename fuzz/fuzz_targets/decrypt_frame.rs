//! Decryption over arbitrary bytes: no panic, every error located and either resumable or
//! final, no payload longer than its frame less the 40 bytes of header and tag; and any
//! bytes encrypt and decrypt back to themselves, with either cipher.
#![no_main]

use flatstream::encrypt::{
    Cipher, DecryptDeframerExt, EncryptingFramer, Key, OVERHEAD, StreamId,
};
use flatstream::{ChecksumDeframer, ChecksumFramer, Crc32c, NoChecksum, StreamReader, StreamWriter};
use libfuzzer_sys::fuzz_target;

/// The key of `crates/flatstream-encrypt/tests/data/*.json`, so those vectors are seeds
/// whose frames authenticate.
fn key() -> Key {
    let mut bytes = [0; 32];
    for (index, byte) in bytes.iter_mut().enumerate() {
        *byte = 0x80 + index as u8;
    }
    Key::from_bytes(bytes)
}

// Bit 0 of the selector picks the cipher, bit 1 a CRC-32C (else no checksum, so the
// fuzzer can change frames freely), bit 2 requires the final frame, bit 3 accepts gaps.
fuzz_target!(|data: &[u8]| {
    let Some((&selector, stream)) = data.split_first() else {
        return;
    };
    let cipher = if selector & 1 == 0 {
        Cipher::XChaCha20Poly1305
    } else {
        Cipher::Aes256Gcm
    };
    let key = key();
    let require_final = selector & 4 != 0;
    let accept_gaps = selector & 8 != 0;
    macro_rules! read_all {
        ($inner:expr, $header_len:expr) => {{
            let deframer = $inner
                .with_max_frame_len(1 << 20)
                .decrypted_with(&key, cipher)
                .require_final(require_final)
                .accept_gaps(accept_gaps);
            let mut reader = StreamReader::new(stream, deframer);
            let mut last_position = 0;
            loop {
                match reader.read_message() {
                    Ok(Some(payload)) => {
                        let payload_len = payload.len();
                        let frame_len = (reader.position() - last_position) as usize;
                        assert!(payload_len + OVERHEAD + $header_len <= frame_len);
                    }
                    Ok(None) => break,
                    Err(error) => {
                        assert!(error.offset().is_some(), "reader errors carry an offset");
                        if error.frame_len().is_none() {
                            break;
                        }
                    }
                }
                last_position = reader.position();
            }
        }};
    }
    if selector & 2 == 0 {
        read_all!(ChecksumDeframer::new(NoChecksum), 4);
    } else {
        read_all!(ChecksumDeframer::new(Crc32c::new()), 8);
    }

    // Round trip: the input as one payload, then as many small ones, sealed and opened.
    let framer =
        EncryptingFramer::with_stream_id(ChecksumFramer::new(NoChecksum), &key, cipher, StreamId([selector; 16]));
    let mut writer = StreamWriter::new(Vec::new(), framer);
    writer.write_payload(stream).expect("seals");
    for piece in stream.chunks(7) {
        writer.write_payload(piece).expect("seals");
    }
    writer.finish().expect("finishes");
    let sealed = writer.into_inner();
    let deframer = ChecksumDeframer::new(NoChecksum)
        .decrypted_with(&key, cipher)
        .require_final(true);
    let mut reader = StreamReader::new(&sealed[..], deframer);
    let mut opened = Vec::new();
    reader
        .process_all(|payload| {
            opened.push(payload.to_vec());
            Ok(())
        })
        .expect("opens what it sealed");
    assert_eq!(opened[0], stream);
    assert_eq!(opened[1..].concat(), stream);
});

//! ring against an independent implementation: RustCrypto's `XChaCha20Poly1305` and
//! `Aes256Gcm` (dev-dependencies only), each frame built as `docs/wire-format.md` says. What
//! this crate seals, RustCrypto opens, and the reverse, for every length from 0 to 299 and a
//! few large ones; a flipped bit fails both.

use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use flatstream_checksum_crc32c::Crc32c;
use flatstream_encrypt::{
    AES_KEY_INFO, Cipher, DOMAIN, DecryptDeframerExt, EncryptingFramer, FINAL_FLAG, HEADER_LEN,
    Key, STREAM_ID_LEN, StreamId, TAG_LEN,
};
use flatstream_io::{ChecksumDeframer, ChecksumFramer, StreamReader, StreamWriter};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::common::{CIPHERS, deframer, delivered, kind_name, read_all, reframe, sealed_frames};

/// Sizes past the short ones: a page, 64 KiB either side, over a MiB.
const LARGE_LENGTHS: [usize; 5] = [4096, 65_535, 65_536, 65_537, (1 << 20) + 13];

/// xorshift64*: the same pseudo-random bytes on every run, no dependency.
struct Bytes(u64);

impl Bytes {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn fill(&mut self, bytes: &mut [u8]) {
        for byte in bytes {
            *byte = (self.next() >> 56) as u8;
        }
    }

    fn vec(&mut self, len: usize) -> Vec<u8> {
        let mut bytes = vec![0; len];
        self.fill(&mut bytes);
        bytes
    }
}

/// Payloads of every length 0..300 then the large ones, each with its own bytes.
fn payloads(bytes: &mut Bytes) -> Vec<Vec<u8>> {
    (0..300)
        .chain(LARGE_LENGTHS)
        .map(|len| bytes.vec(len))
        .collect()
}

fn key_and_stream_id(bytes: &mut Bytes) -> (Key, StreamId) {
    let mut key = [0; 32];
    bytes.fill(&mut key);
    let mut stream_id = [0; STREAM_ID_LEN];
    bytes.fill(&mut stream_id);
    (Key::from_bytes(key), StreamId(stream_id))
}

fn header(stream_id: StreamId, sequence_word: u64) -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..STREAM_ID_LEN].copy_from_slice(&stream_id.0);
    header[STREAM_ID_LEN..].copy_from_slice(&sequence_word.to_le_bytes());
    header
}

/// The associated data as the wire format spells it, cipher ids written out here.
fn associated_data(cipher: Cipher, header: &[u8; HEADER_LEN]) -> Vec<u8> {
    let id = match cipher {
        Cipher::XChaCha20Poly1305 => 1,
        Cipher::Aes256Gcm => 2,
    };
    [DOMAIN, &[id], header].concat()
}

/// RustCrypto's seal of one frame's payload: header, ciphertext, tag.
fn oracle_seal(key: &Key, cipher: Cipher, header: [u8; HEADER_LEN], plaintext: &[u8]) -> Vec<u8> {
    let associated_data = associated_data(cipher, &header);
    let mut body = plaintext.to_vec();
    let tag = match cipher {
        Cipher::XChaCha20Poly1305 => XChaCha20Poly1305::new(key.expose_bytes().into())
            .encrypt_in_place_detached((&header).into(), &associated_data, &mut body),
        Cipher::Aes256Gcm => aes(key, &header).encrypt_in_place_detached(
            &aes_nonce(&header).into(),
            &associated_data,
            &mut body,
        ),
    }
    .expect("seals");
    [&header[..], &body, &tag].concat()
}

/// RustCrypto's open of one frame's payload, or `None` if it does not authenticate.
fn oracle_open(key: &Key, cipher: Cipher, sealed: &[u8]) -> Option<Vec<u8>> {
    let header: [u8; HEADER_LEN] = sealed[..HEADER_LEN].try_into().expect("a header");
    let (ciphertext, tag) = sealed[HEADER_LEN..].split_at(sealed.len() - HEADER_LEN - TAG_LEN);
    let associated_data = associated_data(cipher, &header);
    let mut plaintext = ciphertext.to_vec();
    let opened = match cipher {
        Cipher::XChaCha20Poly1305 => XChaCha20Poly1305::new(key.expose_bytes().into())
            .decrypt_in_place_detached(
                (&header).into(),
                &associated_data,
                &mut plaintext,
                tag.into(),
            ),
        Cipher::Aes256Gcm => aes(key, &header).decrypt_in_place_detached(
            &aes_nonce(&header).into(),
            &associated_data,
            &mut plaintext,
            tag.into(),
        ),
    };
    opened.ok().map(|()| plaintext)
}

/// AES-256-GCM under the stream's HKDF-SHA256 key.
fn aes(key: &Key, header: &[u8; HEADER_LEN]) -> Aes256Gcm {
    let mut stream_key = [0; 32];
    Hkdf::<Sha256>::new(Some(&header[..STREAM_ID_LEN]), key.expose_bytes())
        .expand(AES_KEY_INFO, &mut stream_key)
        .expect("32 bytes of HKDF output");
    Aes256Gcm::new((&stream_key).into())
}

/// The sequence word, then four zero bytes.
fn aes_nonce(header: &[u8; HEADER_LEN]) -> [u8; 12] {
    let mut nonce = [0; 12];
    nonce[..8].copy_from_slice(&header[STREAM_ID_LEN..]);
    nonce
}

/// The sealed frames this crate writes for `payloads`, the final frame last.
fn ring_sealed(
    key: &Key,
    cipher: Cipher,
    stream_id: StreamId,
    payloads: &[Vec<u8>],
) -> Vec<Vec<u8>> {
    let framer = EncryptingFramer::with_stream_id(
        ChecksumFramer::new(Crc32c::new()),
        key,
        cipher,
        stream_id,
    );
    let mut writer = StreamWriter::new(Vec::new(), framer);
    for payload in payloads {
        writer.write_payload(payload).expect("writes");
    }
    writer.finish().expect("finishes");
    sealed_frames(&writer.into_inner())
}

/// What this crate's reader makes of one sealed frame on its own: the payload, or the error's
/// kind.
fn ring_open_one(key: &Key, cipher: Cipher, sealed: &[u8]) -> Result<Vec<u8>, String> {
    let stream = reframe(&[sealed.to_vec()]);
    let deframer = ChecksumDeframer::new(Crc32c::new())
        .decrypted_with(key, cipher)
        .accept_gaps(true);
    let mut reader = StreamReader::new(&stream[..], deframer);
    match reader.read_message() {
        Ok(payload) => Ok(payload.expect("one message").to_vec()),
        Err(error) => Err(kind_name(error.kind())),
    }
}

#[test]
fn frames_sealed_by_ring_open_with_rustcrypto() {
    let mut bytes = Bytes(0x9E37_79B9_7F4A_7C15);
    for cipher in CIPHERS {
        let (key, stream_id) = key_and_stream_id(&mut bytes);
        let payloads = payloads(&mut bytes);
        let frames = ring_sealed(&key, cipher, stream_id, &payloads);
        assert_eq!(
            frames.len(),
            payloads.len() + 1,
            "{cipher}: the final frame"
        );
        for (sequence, (sealed, payload)) in frames.iter().zip(&payloads).enumerate() {
            let len = payload.len();
            assert_eq!(
                sealed[..HEADER_LEN],
                header(stream_id, sequence as u64),
                "{cipher}: header of the {len}-byte payload"
            );
            let opened = oracle_open(&key, cipher, sealed);
            assert_eq!(
                opened.as_ref(),
                Some(payload),
                "{cipher}: RustCrypto opening the {len}-byte payload"
            );
        }
        let last = frames.last().expect("the final frame");
        let final_word = FINAL_FLAG | payloads.len() as u64;
        assert_eq!(
            last[..HEADER_LEN],
            header(stream_id, final_word),
            "{cipher}"
        );
        assert_eq!(
            oracle_open(&key, cipher, last),
            Some(Vec::new()),
            "{cipher}: final"
        );
    }
}

#[test]
fn frames_sealed_by_rustcrypto_open_with_ring() {
    let mut bytes = Bytes(0xD1B5_4A32_D192_ED03);
    for cipher in CIPHERS {
        let (key, stream_id) = key_and_stream_id(&mut bytes);
        let payloads = payloads(&mut bytes);
        let mut frames: Vec<Vec<u8>> = payloads
            .iter()
            .enumerate()
            .map(|(sequence, payload)| {
                oracle_seal(&key, cipher, header(stream_id, sequence as u64), payload)
            })
            .collect();
        let final_word = FINAL_FLAG | payloads.len() as u64;
        frames.push(oracle_seal(
            &key,
            cipher,
            header(stream_id, final_word),
            &[],
        ));
        // The same bytes as this crate writes: both AEADs are deterministic.
        assert_eq!(
            frames,
            ring_sealed(&key, cipher, stream_id, &payloads),
            "{cipher}"
        );
        let seen = read_all(
            &reframe(&frames),
            deframer(&key, cipher).require_final(true),
        );
        assert_eq!(
            seen,
            delivered(&payloads),
            "{cipher}: reading RustCrypto's frames"
        );
    }
}

/// Sequence numbers far apart, so that every byte of the sequence word (and so of each
/// cipher's nonce) takes values other than zero, which a stream's first frames never reach.
#[test]
fn frames_sealed_by_rustcrypto_at_high_sequence_numbers_open_with_ring() {
    let mut bytes = Bytes(0xA076_1D64_78BD_642F);
    for cipher in CIPHERS {
        let (key, stream_id) = key_and_stream_id(&mut bytes);
        for shift in (0..63u32).step_by(7) {
            let sequence_word = (1u64 << shift) | bytes.next() >> (64 - shift.max(1));
            let sequence_word = sequence_word & !FINAL_FLAG;
            let payload = bytes.vec(shift as usize * 3);
            let sealed = oracle_seal(&key, cipher, header(stream_id, sequence_word), &payload);
            assert_eq!(
                ring_open_one(&key, cipher, &sealed),
                Ok(payload),
                "{cipher}: sequence word {sequence_word:#x}"
            );
        }
    }
}

#[test]
fn a_flipped_bit_fails_ring_and_rustcrypto_alike() {
    let mut bytes = Bytes(0x8CB9_2BA7_2F3D_8DD7);
    for cipher in CIPHERS {
        let (key, stream_id) = key_and_stream_id(&mut bytes);
        for len in [0, 1, 15, 16, 17, 63, 64, 65, 299, 4096] {
            let payload = bytes.vec(len);
            let by_ring =
                ring_sealed(&key, cipher, stream_id, std::slice::from_ref(&payload)).swap_remove(0);
            let by_rustcrypto = oracle_seal(&key, cipher, header(stream_id, 0), &payload);
            assert_eq!(by_ring, by_rustcrypto, "{cipher}: {len} bytes");
            assert_eq!(ring_open_one(&key, cipher, &by_ring), Ok(payload.clone()));
            // Every bit of the header and the tag, and bits of the ciphertext at random.
            let sealed_len = by_ring.len();
            let ciphertext_bits = (0..64).map(|_| {
                (HEADER_LEN * 8 + (bytes.next() % (len as u64 * 8).max(1)) as usize)
                    .min(sealed_len * 8 - 1)
            });
            let bits = (0..HEADER_LEN * 8)
                .chain((sealed_len - TAG_LEN) * 8..sealed_len * 8)
                .chain(ciphertext_bits);
            for bit in bits {
                let mut flipped = by_ring.clone();
                flipped[bit / 8] ^= 1 << (bit % 8);
                assert_eq!(
                    oracle_open(&key, cipher, &flipped),
                    None,
                    "{cipher}: RustCrypto, {len} bytes, bit {bit} flipped"
                );
                assert_eq!(
                    ring_open_one(&key, cipher, &flipped),
                    Err("authentication failed".to_owned()),
                    "{cipher}: ring, {len} bytes, bit {bit} flipped"
                );
            }
        }
    }
}

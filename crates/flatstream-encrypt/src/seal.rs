//! The one place that seals and opens a frame's payload (see `docs/wire-format.md`).

use aes_gcm::Aes256Gcm;
use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use flatstream_core::{Error, Result};
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroize;

use crate::key::{Cipher, KEY_LEN, Key, STREAM_ID_LEN, StreamId};

/// Bytes before the ciphertext: the stream id and the sequence word.
pub const HEADER_LEN: usize = STREAM_ID_LEN + 8;
/// Bytes of the authentication tag after the ciphertext.
pub const TAG_LEN: usize = 16;
/// Bytes an encrypted payload adds to the plaintext: 40.
pub const OVERHEAD: usize = HEADER_LEN + TAG_LEN;
/// The sequence word's bit that marks the final frame.
pub const FINAL_FLAG: u64 = 1 << 63;
/// The largest sequence number (the bits below [`FINAL_FLAG`]).
pub const MAX_SEQUENCE: u64 = FINAL_FLAG - 1;
/// The associated data's prefix, before the cipher's id byte and the header.
pub const DOMAIN: &[u8] = b"flatstream-encrypt v1";
/// HKDF's `info` for AES-256-GCM's per-stream key.
pub const AES_KEY_INFO: &[u8] = b"flatstream-encrypt v1 aes256gcm stream key";

/// The header of an encrypted payload.
pub(crate) fn header(stream_id: StreamId, sequence_word: u64) -> [u8; HEADER_LEN] {
    let mut header = [0; HEADER_LEN];
    header[..STREAM_ID_LEN].copy_from_slice(&stream_id.0);
    header[STREAM_ID_LEN..].copy_from_slice(&sequence_word.to_le_bytes());
    header
}

/// The associated data: domain, cipher id, header.
fn associated_data(
    cipher: Cipher,
    header: &[u8; HEADER_LEN],
) -> [u8; DOMAIN.len() + 1 + HEADER_LEN] {
    let mut data = [0; DOMAIN.len() + 1 + HEADER_LEN];
    data[..DOMAIN.len()].copy_from_slice(DOMAIN);
    data[DOMAIN.len()] = cipher.id();
    data[DOMAIN.len() + 1..].copy_from_slice(header);
    data
}

/// A cipher keyed for one stream: XChaCha20-Poly1305 under the key itself (its nonce, the
/// header, already derives a per-stream subkey), AES-256-GCM under an HKDF key per stream.
#[derive(Clone)]
pub(crate) enum StreamCipher {
    XChaCha(Box<XChaCha20Poly1305>),
    Aes(Box<Aes256Gcm>),
}

impl StreamCipher {
    pub(crate) fn new(key: &Key, cipher: Cipher, stream_id: StreamId) -> Self {
        match cipher {
            Cipher::XChaCha20Poly1305 => {
                StreamCipher::XChaCha(Box::new(XChaCha20Poly1305::new(key.expose_bytes().into())))
            }
            Cipher::Aes256Gcm => {
                let mut stream_key = [0; KEY_LEN];
                Hkdf::<Sha256>::new(Some(&stream_id.0), key.expose_bytes())
                    .expand(AES_KEY_INFO, &mut stream_key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                let aes = Aes256Gcm::new((&stream_key).into());
                stream_key.zeroize();
                StreamCipher::Aes(Box::new(aes))
            }
        }
    }

    pub(crate) fn cipher(&self) -> Cipher {
        match self {
            StreamCipher::XChaCha(_) => Cipher::XChaCha20Poly1305,
            StreamCipher::Aes(_) => Cipher::Aes256Gcm,
        }
    }

    /// Appends `header`, `plaintext` sealed, and the tag to `sealed`.
    pub(crate) fn seal(
        &self,
        header: &[u8; HEADER_LEN],
        plaintext: &[u8],
        sealed: &mut Vec<u8>,
    ) -> Result<()> {
        let start = sealed.len();
        sealed.reserve(OVERHEAD + plaintext.len());
        sealed.extend_from_slice(header);
        sealed.extend_from_slice(plaintext);
        let associated_data = associated_data(self.cipher(), header);
        let body = &mut sealed[start + HEADER_LEN..];
        let tag = match self {
            StreamCipher::XChaCha(cipher) => {
                cipher.encrypt_in_place_detached(header.into(), &associated_data, body)
            }
            StreamCipher::Aes(cipher) => {
                cipher.encrypt_in_place_detached(&aes_nonce(header), &associated_data, body)
            }
        }
        .map_err(|_| Error::invalid_frame("payload too long to encrypt"))?;
        sealed.extend_from_slice(&tag);
        Ok(())
    }

    /// Opens `body` (ciphertext then tag) in place into `plaintext`; on failure `plaintext`
    /// is left empty, so no unauthenticated byte is ever handed on.
    pub(crate) fn open(
        &self,
        header: &[u8; HEADER_LEN],
        body: &[u8],
        plaintext: &mut Vec<u8>,
    ) -> Result<()> {
        let (ciphertext, tag) = body.split_at(body.len() - TAG_LEN);
        plaintext.clear();
        plaintext.extend_from_slice(ciphertext);
        let associated_data = associated_data(self.cipher(), header);
        let opened = match self {
            StreamCipher::XChaCha(cipher) => cipher.decrypt_in_place_detached(
                header.into(),
                &associated_data,
                plaintext,
                tag.into(),
            ),
            StreamCipher::Aes(cipher) => cipher.decrypt_in_place_detached(
                &aes_nonce(header),
                &associated_data,
                plaintext,
                tag.into(),
            ),
        };
        if opened.is_err() {
            plaintext.clear();
            return Err(Error::new(flatstream_core::ErrorKind::AuthenticationFailed));
        }
        Ok(())
    }
}

/// AES-GCM's 96-bit nonce: the sequence word, then four zero bytes. Unique per stream key,
/// since each stream has its own key.
fn aes_nonce(header: &[u8; HEADER_LEN]) -> aes_gcm::Nonce<aes_gcm::aes::cipher::consts::U12> {
    let mut nonce = [0; 12];
    nonce[..8].copy_from_slice(&header[STREAM_ID_LEN..]);
    nonce.into()
}

//! The one place that seals and opens a frame's payload (see `docs/wire-format.md`).

use chacha20::cipher::consts::U10;
use chacha20::hchacha;
use flatstream_core::{Error, Result};
use hkdf::Hkdf;
use ring::aead::{self, Aad, LessSafeKey, NONCE_LEN, Nonce, Tag, UnboundKey};
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

/// A cipher keyed for one stream, on ring's AEADs (see the crate docs for why ring):
///
/// - XChaCha20-Poly1305 is HChaCha20 then IETF ChaCha20-Poly1305 (draft-irtf-cfrg-xchacha).
///   Its subkey, HChaCha20(key, stream id), is the same for every frame of a stream, so it is
///   derived once here; each frame's 12-byte nonce is four zero bytes then the sequence word.
/// - AES-256-GCM under an HKDF key per stream, nonce from [`aes_nonce`].
///
/// The subkey and the HKDF key are wiped once ring holds them; ring's own expanded key
/// schedule is not wiped on drop (it has no such hook).
#[derive(Clone)]
pub(crate) struct StreamCipher {
    cipher: Cipher,
    // Boxed: ring's AES key schedule is hundreds of bytes, moved with every framer.
    key: Box<LessSafeKey>,
}

impl StreamCipher {
    pub(crate) fn new(key: &Key, cipher: Cipher, stream_id: StreamId) -> Self {
        let mut stream_key: [u8; KEY_LEN] = match cipher {
            Cipher::XChaCha20Poly1305 => {
                let mut subkey = hchacha::<U10>(key.expose_bytes().into(), (&stream_id.0).into());
                let stream_key = subkey.into();
                subkey.as_mut_slice().zeroize();
                stream_key
            }
            Cipher::Aes256Gcm => {
                let mut stream_key = [0; KEY_LEN];
                Hkdf::<Sha256>::new(Some(&stream_id.0), key.expose_bytes())
                    .expand(AES_KEY_INFO, &mut stream_key)
                    .expect("32 bytes is a valid HKDF-SHA256 output length");
                stream_key
            }
        };
        let algorithm = match cipher {
            Cipher::XChaCha20Poly1305 => &aead::CHACHA20_POLY1305,
            Cipher::Aes256Gcm => &aead::AES_256_GCM,
        };
        let unbound = UnboundKey::new(algorithm, &stream_key)
            .expect("both algorithms take the 32-byte key given");
        stream_key.zeroize();
        StreamCipher {
            cipher,
            key: Box::new(LessSafeKey::new(unbound)),
        }
    }

    pub(crate) fn cipher(&self) -> Cipher {
        self.cipher
    }

    /// The frame's 12-byte nonce under the stream key: the sequence word, placed as each
    /// cipher's construction puts it.
    fn nonce(&self, header: &[u8; HEADER_LEN]) -> Nonce {
        match self.cipher {
            Cipher::XChaCha20Poly1305 => xchacha_nonce(header),
            Cipher::Aes256Gcm => aes_nonce(header),
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
        let associated_data = associated_data(self.cipher, header);
        let body = &mut sealed[start + HEADER_LEN..];
        let tag = self
            .key
            .seal_in_place_separate_tag(self.nonce(header), Aad::from(&associated_data), body)
            .map_err(|_| Error::invalid_frame("payload too long to encrypt"))?;
        sealed.extend_from_slice(tag.as_ref());
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
        let tag = Tag::try_from(tag).expect("the tag is TAG_LEN bytes");
        plaintext.clear();
        plaintext.extend_from_slice(ciphertext);
        let associated_data = associated_data(self.cipher, header);
        let opened = self.key.open_in_place_separate_tag(
            self.nonce(header),
            Aad::from(&associated_data),
            tag,
            plaintext,
            0..,
        );
        if opened.is_err() {
            plaintext.clear();
            return Err(Error::new(flatstream_core::ErrorKind::AuthenticationFailed));
        }
        Ok(())
    }
}

/// ChaCha20-Poly1305's 96-bit nonce under the XChaCha subkey: four zero bytes, then the
/// last 8 bytes of the 24-byte XChaCha nonce (the header), which are the sequence word.
fn xchacha_nonce(header: &[u8; HEADER_LEN]) -> Nonce {
    let mut nonce = [0; NONCE_LEN];
    nonce[4..].copy_from_slice(&header[STREAM_ID_LEN..]);
    Nonce::assume_unique_for_key(nonce)
}

/// AES-GCM's 96-bit nonce: the sequence word, then four zero bytes. Unique per stream key,
/// since each stream has its own key.
fn aes_nonce(header: &[u8; HEADER_LEN]) -> Nonce {
    let mut nonce = [0; NONCE_LEN];
    nonce[..8].copy_from_slice(&header[STREAM_ID_LEN..]);
    Nonce::assume_unique_for_key(nonce)
}

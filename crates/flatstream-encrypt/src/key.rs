//! [`Key`], [`Cipher`] and [`StreamId`].

use std::fmt;

use zeroize::Zeroize;

/// Bytes in a key: both ciphers take 256-bit keys.
pub const KEY_LEN: usize = 32;

/// A 256-bit key, wiped from memory when dropped and never shown by `Debug`.
///
/// Clones are wiped too, and so is the per-stream key derived from it. The cipher keyed
/// from that (ring's expanded key schedule, inside each encrypting framer and decrypting
/// deframer) is not wiped when dropped: ring has no way to. The bytes are only reachable through
/// [`expose_bytes`](Self::expose_bytes), named so that a reviewer sees every use.
#[derive(Clone)]
pub struct Key {
    bytes: [u8; KEY_LEN],
}

impl Key {
    /// A key made of `bytes`. The caller's array is a copy the key cannot wipe: wipe it
    /// (`zeroize`) if it came from anywhere but a constant.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Key { bytes }
    }

    /// A key made of `bytes`, which must be exactly 32 bytes long.
    ///
    /// # Errors
    ///
    /// [`InvalidKeyLength`] for any other length; the error holds the length only.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, InvalidKeyLength> {
        let bytes: [u8; KEY_LEN] = bytes
            .try_into()
            .map_err(|_| InvalidKeyLength { len: bytes.len() })?;
        Ok(Key { bytes })
    }

    /// A new key of 32 bytes from the operating system's random source.
    ///
    /// # Errors
    ///
    /// The random source's failure, as an I/O error.
    pub fn generate() -> std::io::Result<Self> {
        let mut bytes = [0; KEY_LEN];
        getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
        Ok(Key { bytes })
    }

    /// The key's bytes, for writing a key file.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.bytes
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.bytes.zeroize();
    }
}

impl zeroize::ZeroizeOnDrop for Key {}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

/// A key of the wrong length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidKeyLength {
    /// The length given.
    pub len: usize,
}

impl fmt::Display for InvalidKeyLength {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a key is {KEY_LEN} bytes, not {}", self.len)
    }
}

impl std::error::Error for InvalidKeyLength {}

/// The AEAD that seals each frame. The stream does not name it (see the wire format): a
/// reader with the other cipher fails to authenticate frame 0, as with a wrong key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Cipher {
    /// XChaCha20-Poly1305: fast everywhere, constant time without special instructions.
    #[default]
    XChaCha20Poly1305,
    /// AES-256-GCM: fastest where the CPU has AES and carry-less multiply instructions.
    Aes256Gcm,
}

impl Cipher {
    /// The byte that names the cipher in each frame's associated data.
    pub(crate) fn id(self) -> u8 {
        match self {
            Cipher::XChaCha20Poly1305 => 1,
            Cipher::Aes256Gcm => 2,
        }
    }

    /// The cipher's name, as the command line spells it.
    pub fn name(self) -> &'static str {
        match self {
            Cipher::XChaCha20Poly1305 => "xchacha20poly1305",
            Cipher::Aes256Gcm => "aes256gcm",
        }
    }
}

impl fmt::Display for Cipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Bytes in a stream id.
pub const STREAM_ID_LEN: usize = 16;

/// The random id of one encrypted stream, carried in every frame: frames of another stream
/// under the same key are told apart by it.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId(pub [u8; STREAM_ID_LEN]);

impl StreamId {
    /// A new id from the operating system's random source.
    ///
    /// # Errors
    ///
    /// The random source's failure, as an I/O error.
    pub fn generate() -> std::io::Result<Self> {
        let mut id = [0; STREAM_ID_LEN];
        getrandom::fill(&mut id).map_err(std::io::Error::other)?;
        Ok(StreamId(id))
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StreamId({self})")
    }
}

//! `--key-file`, `--cipher`, `--allow-unfinished` and `keygen`: the key a command encrypts or
//! decrypts with, the framer that applies it, and the reader's side.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use flatstream::encrypt::{
    Cipher, DecryptDeframerExt, DecryptingDeframer, EncryptFramerExt, EncryptingFramer, KEY_LEN,
    Key,
};
use flatstream::{
    BoundedFramer, ChecksumFramer, ChecksumKind, Deframer, Framer, FramerExt, Result, StreamReader,
    ZeroFillGuard,
};
use zeroize::Zeroize;

use crate::failure::Failure;
use crate::maybe::OrPlain;

/// A cipher by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum CipherName {
    /// XChaCha20-Poly1305: fast everywhere.
    Xchacha20poly1305,
    /// AES-256-GCM: fastest where the CPU has AES instructions.
    Aes256gcm,
}

impl CipherName {
    pub(crate) fn cipher(self) -> Cipher {
        match self {
            CipherName::Xchacha20poly1305 => Cipher::XChaCha20Poly1305,
            CipherName::Aes256gcm => Cipher::Aes256Gcm,
        }
    }
}

/// Encryption options: every writing and reading command takes them.
#[derive(Debug, Clone, Args)]
pub(crate) struct EncryptionArgs {
    /// Encrypt the messages written, or decrypt those read, with the 32-byte key in FILE
    /// (from `flatstream keygen`; mode 0600 or stricter). recover and salvage need none.
    #[arg(long, global = true, env = "FLATSTREAM_KEY_FILE", value_name = "FILE")]
    pub(crate) key_file: Option<PathBuf>,
    /// The cipher, with --key-file (it must be the one the stream was written with).
    #[arg(long, global = true, value_enum, default_value_t = CipherName::Xchacha20poly1305)]
    pub(crate) cipher: CipherName,
    /// Read an encrypted stream that lacks its final frame (still being written, or cut
    /// short) without calling it bad data.
    #[arg(long, global = true)]
    pub(crate) allow_unfinished: bool,
    /// Read on past frames missing from an encrypted stream's sequence (as a salvage of a
    /// damaged stream leaves it), counting them, instead of stopping at the first gap.
    #[arg(long, global = true)]
    pub(crate) accept_gaps: bool,
}

impl EncryptionArgs {
    /// The key and cipher, or `None` without --key-file.
    ///
    /// # Errors
    ///
    /// Exit status 2 for a key file that cannot be read, is not 32 bytes, or is open to
    /// other users.
    pub(crate) fn key(&self) -> std::result::Result<Option<(Key, Cipher)>, Failure> {
        match &self.key_file {
            None => Ok(None),
            Some(path) => Ok(Some((read_key_file(path)?, self.cipher.cipher()))),
        }
    }
}

/// Reads a key file: exactly 32 bytes, readable by its owner only. Its bytes are never part
/// of a message.
fn read_key_file(path: &Path) -> std::result::Result<Key, Failure> {
    // Looked at before it is opened: opening a FIFO waits for a writer, for ever.
    let named = std::fs::metadata(path).map_err(|error| Failure::usage(path, error))?;
    if !named.is_file() {
        return Err(Failure::usage(path, "a key file must be a regular file"));
    }
    let mut file = File::open(path).map_err(|error| Failure::usage(path, error))?;
    let metadata = file
        .metadata()
        .map_err(|error| Failure::usage(path, error))?;
    if !metadata.is_file() {
        return Err(Failure::usage(path, "a key file must be a regular file"));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(Failure::usage(
                path,
                format_args!(
                    "key file mode {mode:04o} lets other users read it; refusing it (chmod 600 \
                     {})",
                    path.display()
                ),
            ));
        }
    }
    if metadata.len() != KEY_LEN as u64 {
        return Err(Failure::usage(
            path,
            format_args!(
                "a key file holds exactly {KEY_LEN} bytes, this one {} (flatstream keygen makes \
                 one)",
                metadata.len()
            ),
        ));
    }
    let mut bytes = [0; KEY_LEN];
    let read = file.read_exact(&mut bytes);
    let key = Key::from_bytes(bytes);
    bytes.zeroize();
    read.map_err(|error| Failure::usage(path, error))?;
    Ok(key)
}

/// `flatstream keygen -o FILE`: 32 bytes from the operating system, in a new file of mode
/// 0600.
pub(crate) fn keygen(output: &Path) -> std::result::Result<(), Failure> {
    let key = Key::generate().map_err(|error| Failure::usage(output, error))?;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(output).map_err(|error| {
        Failure::usage(
            output,
            format_args!("{error} (keygen never overwrites a file)"),
        )
    })?;
    let written = file
        .write_all(key.expose_bytes())
        .and_then(|()| file.sync_all());
    if let Err(error) = written {
        drop(file);
        let _ = std::fs::remove_file(output);
        return Err(Failure::usage(output, error));
    }
    Ok(())
}

/// The first payload of `path`, decrypted: for telling a chunked stream by its first frame.
pub(crate) fn first_payload<D: Deframer>(
    path: &Path,
    deframer: D,
    encryption: &EncryptionArgs,
) -> Option<Vec<u8>> {
    let encryption = EncryptionArgs {
        allow_unfinished: true,
        ..encryption.clone()
    };
    let deframer = MaybeDecrypting::new(deframer, &encryption).ok()?;
    let file = File::open(path).ok()?;
    let mut reader = StreamReader::new(file, deframer);
    reader.read_message().ok().flatten().map(<[u8]>::to_vec)
}

/// The framer of a writing command: checksum only, or encrypting first.
pub(crate) enum CliFramer {
    Plain(WireFramer),
    Encrypting(EncryptingFramer<WireFramer>),
}

/// The innermost framer: checksums each payload as it goes on the wire, and refuses one
/// over `--max-frame-len`, the limit the reading commands hold frames to (a compressed or
/// encrypted payload is measured as written, not as the message it carries), and frames the
/// reading commands would report as zero fill (a run of empty payloads: every stream this
/// command writes verifies).
type WireFramer = BoundedFramer<ZeroFillGuard<ChecksumKind>>;

impl CliFramer {
    /// A framer checksumming with `checksum`, encrypting with `key` when given, that writes
    /// no payload longer than `max_frame_len` on the wire.
    ///
    /// # Errors
    ///
    /// Exit status 2 when the operating system gives no random stream id.
    pub(crate) fn new(
        checksum: ChecksumKind,
        key: Option<&(Key, Cipher)>,
        max_frame_len: usize,
        output: &Path,
    ) -> std::result::Result<Self, Failure> {
        let framer = ZeroFillGuard::new(ChecksumFramer::new(checksum)).bounded(max_frame_len);
        Ok(match key {
            None => CliFramer::Plain(framer),
            Some((key, cipher)) => CliFramer::Encrypting(
                framer
                    .encrypted_with(key, *cipher)
                    .map_err(|error| Failure::usage(output, error))?,
            ),
        })
    }
}

impl Framer for CliFramer {
    fn frame_and_write<W: Write + ?Sized>(
        &mut self,
        writer: &mut W,
        payload: &[u8],
    ) -> Result<usize> {
        match self {
            CliFramer::Plain(framer) => framer.frame_and_write(writer, payload),
            CliFramer::Encrypting(framer) => framer.frame_and_write(writer, payload),
        }
    }

    fn finish<W: Write + ?Sized>(&mut self, writer: &mut W) -> Result<usize> {
        match self {
            CliFramer::Plain(framer) => framer.finish(writer),
            CliFramer::Encrypting(framer) => framer.finish(writer),
        }
    }
}

/// A deframer that decrypts each payload, or passes it through.
pub(crate) type MaybeDecrypting<D> = OrPlain<D, DecryptingDeframer<D>>;

impl<D: Deframer> MaybeDecrypting<D> {
    /// Frames missing from the sequence that `--accept-gaps` read past (0 for plain streams).
    pub(crate) fn frames_missing(&self) -> u64 {
        match self {
            OrPlain::Plain(_) => 0,
            OrPlain::Adapted(decrypting) => decrypting.frames_missing(),
        }
    }
}

impl<D: Deframer> MaybeDecrypting<D> {
    /// Decrypting as `encryption` says (the final frame required unless
    /// --allow-unfinished), or not.
    ///
    /// # Errors
    ///
    /// As [`EncryptionArgs::key`].
    pub(crate) fn new(inner: D, encryption: &EncryptionArgs) -> std::result::Result<Self, Failure> {
        Ok(match encryption.key()? {
            None => OrPlain::Plain(inner),
            Some((key, cipher)) => OrPlain::Adapted(
                inner
                    .decrypted_with(&key, cipher)
                    .require_final(!encryption.allow_unfinished)
                    .accept_gaps(encryption.accept_gaps),
            ),
        })
    }
}

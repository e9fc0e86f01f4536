#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod frame;
mod key;
mod seal;

pub use flatstream_core::{Deframer, Error, ErrorKind, Framer, Result};
pub use frame::{DecryptDeframerExt, DecryptingDeframer, EncryptFramerExt, EncryptingFramer};
pub use key::{Cipher, InvalidKeyLength, KEY_LEN, Key, STREAM_ID_LEN, StreamId};
pub use seal::{AES_KEY_INFO, DOMAIN, FINAL_FLAG, HEADER_LEN, MAX_SEQUENCE, OVERHEAD, TAG_LEN};

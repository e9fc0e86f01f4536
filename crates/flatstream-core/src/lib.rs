#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod checksum;
#[cfg(feature = "dev")]
#[cfg_attr(docsrs, doc(cfg(feature = "dev")))]
pub mod dev;
mod error;
mod framing;
mod serialize;
mod validate;
pub mod wire;

pub use checksum::{Checksum, CpuCheck, NoChecksum};
pub use error::{Error, ErrorKind, FramePart, Result};
pub use framing::{Deframer, Framer};
pub use serialize::{StreamDeserialize, StreamSerialize, verified_root};
pub use validate::Validator;
pub use wire::{DEFAULT_MAX_FRAME_LEN, PlainFrame};

/// The `flatbuffers` crate this one is built against, so callers use the same version.
pub use flatbuffers;

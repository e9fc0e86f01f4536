#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod chunk;
mod codec;
mod frame;

pub use chunk::{ChunkDecoder, ChunkHeader, ChunkReader, ChunkWriter, DEFAULT_CHUNK_LEN, is_chunk};
#[cfg(any(feature = "zstd", feature = "lz4"))]
pub use codec::AnyCodec;
#[cfg(feature = "lz4")]
#[cfg_attr(docsrs, doc(cfg(feature = "lz4")))]
pub use codec::Lz4;
#[cfg(feature = "zstd")]
#[cfg_attr(docsrs, doc(cfg(feature = "zstd")))]
pub use codec::Zstd;
pub use codec::{Codec, CodecId};
pub use flatstream_core::{Deframer, Error, ErrorKind, Framer, Result};
pub use frame::{
    CompressFramerExt, CompressingFramer, DecompressDeframerExt, DecompressingDeframer,
};

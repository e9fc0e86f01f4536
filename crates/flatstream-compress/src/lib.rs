// The README's example uses both codecs. It is the crate doc always, and a doctest only when
// both features are on: a README shows no rustdoc-hidden `#[cfg]` lines.
#![cfg_attr(
    any(not(doctest), all(feature = "zstd", feature = "lz4")),
    doc = include_str!("../README.md")
)]
#![cfg_attr(
    all(doctest, not(all(feature = "zstd", feature = "lz4"))),
    doc = "Compression for flatstream streams (the README's example needs features `zstd` and `lz4`)."
)]
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

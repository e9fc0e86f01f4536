#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod codec;
mod decoder;
mod encoder;
mod reader;
mod writer;

pub use codec::{ChecksumCodec, FlatstreamCodec};
pub use decoder::FrameDecoder;
pub use encoder::FrameEncoder;
pub use reader::AsyncStreamReader;
pub use writer::AsyncStreamWriter;

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod codec;
mod reader;
mod writer;

pub use codec::FlatstreamCodec;
pub use reader::AsyncStreamReader;
pub use writer::AsyncStreamWriter;

#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod framing;
mod reader;
mod writer;

pub use framing::{ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer};
pub use reader::{Messages, StreamReader, TypedMessages};
pub use writer::StreamWriter;

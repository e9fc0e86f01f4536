#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapters;
mod framing;
mod reader;
mod writer;

pub use adapters::{
    BoundedFramer, DeframerExt, FramerExt, ObserverDeframer, ObserverFramer, ValidatingDeframer,
    ValidatingFramer,
};
pub use framing::{ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer};
pub use reader::{Messages, StreamReader, TypedMessages};
pub use writer::StreamWriter;

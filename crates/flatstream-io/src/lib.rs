#![doc = include_str!("../README.md")]
// `deny` rather than `forbid`: the `mmap` module (feature `mmap`) maps a file, which needs
// one `unsafe` call with its contract spelled out there, and `in_memory` views a source of
// bytes in memory as the type it is (pointer casts, each argued there), and `vec_sink`
// appends a frame to a `Vec<u8>` writer in one step (a cast and an inline copy into its
// spare capacity). Everything else is safe code.
#![deny(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod adapters;
mod buffered;
mod builder_placement;
mod frame_buffer;
mod framing;
mod in_memory;
mod memory;
#[cfg(feature = "mmap")]
#[cfg_attr(docsrs, doc(cfg(feature = "mmap")))]
mod mmap;
mod place;
mod progress;
mod reader;
mod recovery;
mod slice;
mod vec_sink;
mod writer;
mod zero_fill;

pub use adapters::{
    BoundedDeframer, BoundedFramer, DeframerExt, FramerExt, ObserverDeframer, ObserverFramer,
    ValidatingDeframer, ValidatingFramer,
};
pub use buffered::{Buffered, DEFAULT_BUFFER_SIZE};
pub use builder_placement::placed_builder;
pub use frame_buffer::{DEFAULT_FRAME_BUFFER_SIZE, FrameBuffer, FrameSink, IntoInnerError};
pub use framing::{ChecksumDeframer, ChecksumFramer, DefaultDeframer, DefaultFramer};
pub use memory::MemoryPolicy;
#[cfg(feature = "mmap")]
pub use mmap::{MappedBytes, MmapReader};
pub use place::{PayloadPlace, address_range};
pub use progress::{Progress, WriteProgress};
pub use reader::{Copying, InPlace, Messages, ReadMode, StreamReader, TypedMessages};
pub use recovery::{
    RecoveryReport, SalvageReport, StreamEnd, Truncate, ZERO_FILL_MIN_LEN, find_intact_frame,
    recover, recover_file, recover_file_with_progress, salvage, salvage_slice,
    salvage_slice_with_progress,
};
pub use slice::SliceReader;
pub use writer::StreamWriter;
pub use zero_fill::{ZeroFillCheck, ZeroFillGuard};

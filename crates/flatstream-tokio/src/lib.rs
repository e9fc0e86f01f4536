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

/// Lets the executor run other tasks once: wakes itself and is pending one time. Any
/// runtime's, so the crate needs no more of tokio than its I/O traits.
pub(crate) async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            std::task::Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
    .await;
}

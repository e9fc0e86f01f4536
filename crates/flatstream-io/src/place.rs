//! [`PayloadPlace`]: where a payload that [`Deframer::decode_frame`] returned lies, for the
//! reader engines that hold bytes in memory (the in-place reader here, the async decoder,
//! the follower).
//!
//! [`Deframer::decode_frame`]: flatstream_core::Deframer::decode_frame

use std::ops::Range;

use flatstream_core::{Error, Result};

/// Where a decoded payload lies: in the input the deframer was given, or in the scratch
/// buffer, each as the offset of its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadPlace {
    /// `input[start..start + len]`: nothing was copied.
    Input(usize),
    /// `scratch[start..start + len]`: a transforming deframer wrote it there.
    Scratch(usize),
}

impl PayloadPlace {
    /// Finds a payload of `len` bytes at address `at` (`payload.as_ptr().addr()`), given the
    /// address ranges of the input and of the scratch buffer's contents. The engines read
    /// the addresses while the payload is borrowed and call this once it is not.
    ///
    /// An empty payload is `Scratch(0)` wherever it points: it borrows nothing.
    ///
    /// # Errors
    ///
    /// [`InvalidFrame`](flatstream_core::ErrorKind::InvalidFrame), with the frame's
    /// `frame_len` recorded (it was consumed whole), for a payload in neither.
    #[inline]
    pub fn locate(
        at: usize,
        len: usize,
        input: Range<usize>,
        scratch: Range<usize>,
        frame_len: usize,
    ) -> Result<Self> {
        if len == 0 {
            Ok(PayloadPlace::Scratch(0))
        } else if input.contains(&at) && len <= input.end - at {
            Ok(PayloadPlace::Input(at - input.start))
        } else if scratch.contains(&at) && len <= scratch.end - at {
            Ok(PayloadPlace::Scratch(at - scratch.start))
        } else {
            Err(nowhere(frame_len))
        }
    }
}

#[cold]
fn nowhere(frame_len: usize) -> Error {
    Error::invalid_frame(
        "the deframer's payload is neither in its input nor in the scratch buffer it was given",
    )
    .with_frame_len(frame_len as u64)
}

/// The address range of `bytes`, for [`PayloadPlace::locate`].
#[inline]
pub fn address_range(bytes: &[u8]) -> Range<usize> {
    let start = bytes.as_ptr().addr();
    start..start + bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payload_is_found_in_the_input_or_the_scratch_buffer_or_neither() {
        let input = [0u8; 16];
        let scratch = [0u8; 8];
        let (input_at, scratch_at) = (address_range(&input), address_range(&scratch));
        let place = |payload: &[u8]| {
            PayloadPlace::locate(
                payload.as_ptr().addr(),
                payload.len(),
                input_at.clone(),
                scratch_at.clone(),
                16,
            )
        };
        assert_eq!(place(&input[4..10]).unwrap(), PayloadPlace::Input(4));
        assert_eq!(place(&scratch[2..8]).unwrap(), PayloadPlace::Scratch(2));
        assert_eq!(place(&input[16..]).unwrap(), PayloadPlace::Scratch(0));
        let elsewhere = [0u8; 4];
        let error = place(&elsewhere).unwrap_err();
        assert_eq!(error.frame_len(), Some(16));
    }
}

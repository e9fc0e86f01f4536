//! [`StreamSerialize`] and [`StreamDeserialize`]: typed messages in and out of payloads.

use flatbuffers::{Allocator, FlatBufferBuilder, Follow, Verifiable};

use crate::error::Result;

/// A value that can build itself as a finished FlatBuffer.
///
/// The writer hands over a builder that has just been reset; the implementation builds the
/// message and calls one of the builder's `finish` methods. The finished bytes are the
/// frame's payload.
///
/// ```
/// use flatbuffers::{Allocator, FlatBufferBuilder};
/// use flatstream_core::{Result, StreamSerialize};
///
/// struct Greeting<'a>(&'a str);
///
/// impl StreamSerialize for Greeting<'_> {
///     fn serialize<'fbb, A: Allocator + 'fbb>(
///         &self,
///         builder: &mut FlatBufferBuilder<'fbb, A>,
///     ) -> Result<()> {
///         let text = builder.create_string(self.0);
///         builder.finish(text, None);
///         Ok(())
///     }
/// }
///
/// let mut builder = FlatBufferBuilder::new();
/// Greeting("hello").serialize(&mut builder)?;
/// assert_eq!(flatbuffers::root::<&str>(builder.finished_data())?, "hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait StreamSerialize {
    /// Builds `self` into `builder` and finishes the buffer.
    ///
    /// # Errors
    ///
    /// Whatever the implementation reports; the writer then writes nothing for this value.
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()>;
}

/// A string becomes a FlatBuffer whose root is that string.
impl StreamSerialize for str {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        let text = builder.create_string(self);
        builder.finish(text, None);
        Ok(())
    }
}

impl StreamSerialize for String {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        self.as_str().serialize(builder)
    }
}

impl<T: StreamSerialize + ?Sized> StreamSerialize for &T {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        (**self).serialize(builder)
    }
}

impl<T: StreamSerialize + ?Sized> StreamSerialize for Box<T> {
    fn serialize<'fbb, A: Allocator + 'fbb>(
        &self,
        builder: &mut FlatBufferBuilder<'fbb, A>,
    ) -> Result<()> {
        (**self).serialize(builder)
    }
}

/// A typed, zero-copy view of a payload.
///
/// It is implemented on a marker type with no lifetime, and [`Root`](Self::Root) names the
/// view that borrows the payload. That keeps `T: for<'a> StreamDeserialize<'a>` writable, so
/// a reader can hand a fresh view of each message to one closure while it reuses its buffer.
///
/// ```
/// use flatstream_core::{Result, StreamDeserialize, verified_root};
///
/// /// Marker for payloads whose root is a FlatBuffer string.
/// struct Text;
///
/// impl<'a> StreamDeserialize<'a> for Text {
///     type Root = &'a str;
///     fn from_payload(payload: &'a [u8]) -> Result<&'a str> {
///         verified_root::<&str>(payload)
///     }
/// }
///
/// let mut builder = flatbuffers::FlatBufferBuilder::new();
/// let text = builder.create_string("hi");
/// builder.finish(text, None);
/// assert_eq!(Text::from_payload(builder.finished_data())?, "hi");
/// assert!(Text::from_payload(&[0xff; 3]).is_err());
/// # Ok::<(), flatstream_core::Error>(())
/// ```
pub trait StreamDeserialize<'a> {
    /// The typed view, borrowing the payload (for generated tables, `MyTable<'a>`).
    type Root;

    /// Checks `payload` and returns the typed view of it.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::FlatBuffers`](crate::ErrorKind::FlatBuffers) (or any other kind the
    /// implementation chooses) when the payload is not a valid message of this type.
    fn from_payload(payload: &'a [u8]) -> Result<Self::Root>;
}

/// `str` as a marker: the payload is a FlatBuffer whose root is a string, as written by
/// [`StreamSerialize`] for `str`.
impl<'a> StreamDeserialize<'a> for str {
    type Root = &'a str;

    fn from_payload(payload: &'a [u8]) -> Result<&'a str> {
        verified_root::<&str>(payload)
    }
}

/// `[u8]` as a marker: the payload itself, unchecked.
impl<'a> StreamDeserialize<'a> for [u8] {
    type Root = &'a [u8];

    #[inline]
    fn from_payload(payload: &'a [u8]) -> Result<&'a [u8]> {
        Ok(payload)
    }
}

/// The root of a FlatBuffer of type `T`, verified with the `flatbuffers` verifier's default
/// options: the one-line body of most [`StreamDeserialize`] implementations.
///
/// # Errors
///
/// [`ErrorKind::FlatBuffers`](crate::ErrorKind::FlatBuffers) when verification fails.
#[inline]
pub fn verified_root<'a, T>(payload: &'a [u8]) -> Result<T::Inner>
where
    T: Follow<'a> + Verifiable + 'a,
{
    Ok(flatbuffers::root::<T>(payload)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    #[test]
    fn str_round_trips_through_a_builder() {
        let mut builder = FlatBufferBuilder::new();
        "telemetry".serialize(&mut builder).unwrap();
        assert_eq!(
            <str as StreamDeserialize>::from_payload(builder.finished_data()).unwrap(),
            "telemetry"
        );
        builder.reset();
        String::from("again").serialize(&mut builder).unwrap();
        assert_eq!(
            <str as StreamDeserialize>::from_payload(builder.finished_data()).unwrap(),
            "again"
        );
    }

    #[test]
    fn truncated_string_root_is_a_flatbuffers_error() {
        let mut builder = FlatBufferBuilder::new();
        "telemetry".serialize(&mut builder).unwrap();
        let payload = builder.finished_data();
        let error =
            <str as StreamDeserialize>::from_payload(&payload[..payload.len() - 6]).unwrap_err();
        assert!(
            matches!(error.kind(), ErrorKind::FlatBuffers(_)),
            "{error:?}"
        );
    }

    #[test]
    fn bytes_marker_returns_the_payload() {
        assert_eq!(
            <[u8] as StreamDeserialize>::from_payload(b"raw").unwrap(),
            b"raw"
        );
    }
}

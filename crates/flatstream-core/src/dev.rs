//! The known-answer test harness shared by the checksum crates (feature `dev`).
//!
//! Vectors live as text under each crate's `tests/data/`, one file per algorithm, and the
//! test is named for the file's stem:
//!
//! ```text
//! # comment
//! width 4
//! ascii:123456789   0xcbf43926
//! empty             0x0
//! seq:1048576       0x...
//! ```
//!
//! Inputs are `empty`, `ascii:TEXT` (no spaces), `hex:HEX`, `zeros:N`, `ones:N` (`0xff`
//! bytes) and `seq:N` (byte `i` is `i % 251`, a pattern with no short period). The `width`
//! line states the checksum field's width in bytes; beyond the file's vectors, the harness
//! also checks that values on other inputs fit that width.

use crate::checksum::Checksum;

/// Declares a `#[test]` that checks `$checksum` against `tests/data/$name.txt`.
///
/// Invoke it from a file directly under `tests/` (such as `tests/tests.rs`), as the path is
/// resolved from there.
#[macro_export]
macro_rules! known_answer_test {
    ($name:ident, $checksum:expr) => {
        #[test]
        fn $name() {
            $crate::dev::check_known_answers(
                &$checksum,
                concat!("tests/data/", stringify!($name), ".txt"),
                include_str!(concat!("data/", stringify!($name), ".txt")),
            );
        }
    };
}

/// Checks every vector in `vectors` (the text of the file `file`) against `checksum`.
///
/// # Panics
///
/// On the first vector that fails, naming the file, the line and both values; on a
/// malformed line; when the file holds no vectors; and when a value has bits above the
/// declared width (`8 * size()`).
pub fn check_known_answers<C: Checksum + ?Sized>(checksum: &C, file: &str, vectors: &str) {
    let mut checked = 0;
    for (index, line) in vectors.lines().enumerate() {
        let line_no = index + 1;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut fields = line.split_whitespace();
        let (Some(first), Some(second), None) = (fields.next(), fields.next(), fields.next())
        else {
            panic!("{file}:{line_no}: expected `INPUT EXPECTED` or `width N`, got {line:?}");
        };
        if first == "width" {
            let width: usize = second
                .parse()
                .unwrap_or_else(|_| panic!("{file}:{line_no}: bad width {second:?}"));
            assert_eq!(
                checksum.size(),
                width,
                "{file}:{line_no}: {} declares width {}, vectors say {width}",
                checksum.name(),
                checksum.size()
            );
            continue;
        }
        let input =
            parse_input(first).unwrap_or_else(|| panic!("{file}:{line_no}: bad input {first:?}"));
        let expected = second
            .strip_prefix("0x")
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .unwrap_or_else(|| panic!("{file}:{line_no}: bad expected value {second:?}"));
        let calculated = checksum.calculate(&input);
        assert!(
            calculated == expected,
            "{file}:{line_no}: {} of {first}: expected {expected:#x}, calculated {calculated:#x}",
            checksum.name()
        );
        assert!(
            checksum.verify(expected, &input).is_ok(),
            "{file}:{line_no}: verify rejected the expected value"
        );
        checked += 1;
    }
    assert!(checked > 0, "{file}: no vectors");
    check_values_fit_width(checksum, file);
}

/// Checks that `checksum`'s values fit the width it declares, on inputs beyond the file's.
fn check_values_fit_width<C: Checksum + ?Sized>(checksum: &C, file: &str) {
    let bits = 8 * checksum.size();
    for len in [0, 1, 5, 100, 5000] {
        let value = checksum.calculate(&vec![0xa5; len]);
        assert!(
            bits == 64 || value >> bits == 0,
            "{file}: {} of {len} bytes 0xa5: {value:#x} is wider than {bits} bits",
            checksum.name()
        );
    }
}

fn parse_input(spec: &str) -> Option<Vec<u8>> {
    if spec == "empty" {
        return Some(Vec::new());
    }
    let (kind, value) = spec.split_once(':')?;
    match kind {
        "ascii" => Some(value.as_bytes().to_vec()),
        "hex" => decode_hex(value),
        "zeros" => Some(vec![0; value.parse().ok()?]),
        "ones" => Some(vec![0xff; value.parse().ok()?]),
        "seq" => Some(sequence(value.parse().ok()?)),
        _ => None,
    }
}

/// `len` bytes where byte `i` is `i % 251`: the `seq:N` input.
fn sequence(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i % 251) as u8).collect()
}

/// Decodes lowercase or uppercase hex with no separators: the `hex:HEX` input. (The
/// repository's tests have their own copy in `flatstream-test-support`; this one is part of
/// the harness's input syntax and stays private.)
fn decode_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Len;

    impl Checksum for Len {
        fn size(&self) -> usize {
            8
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            payload.len() as u64
        }
        fn name(&self) -> &'static str {
            "len"
        }
    }

    #[test]
    fn parses_every_input_kind() {
        assert_eq!(parse_input("empty").unwrap(), b"");
        assert_eq!(parse_input("ascii:abc").unwrap(), b"abc");
        assert_eq!(parse_input("hex:00ff10").unwrap(), [0, 0xff, 0x10]);
        assert_eq!(parse_input("zeros:3").unwrap(), [0, 0, 0]);
        assert_eq!(parse_input("ones:2").unwrap(), [0xff, 0xff]);
        assert_eq!(parse_input("seq:253").unwrap()[250..], [250, 0, 1]);
        assert!(parse_input("hex:0").is_none());
        assert!(parse_input("nope:1").is_none());
    }

    #[test]
    fn passing_vectors_pass() {
        check_known_answers(
            &Len,
            "inline",
            "width 8\nascii:abc 0x3\n# note\nzeros:10 0xa\n",
        );
    }

    #[test]
    #[should_panic(expected = "inline:2: len of ascii:abcd: expected 0x3, calculated 0x4")]
    fn failing_vector_names_its_line() {
        check_known_answers(&Len, "inline", "ascii:abc 0x3\nascii:abcd 0x3\n");
    }

    struct Wide;

    impl Checksum for Wide {
        fn size(&self) -> usize {
            2
        }
        fn calculate(&self, payload: &[u8]) -> u64 {
            0x1_0000 + payload.len() as u64
        }
        fn name(&self) -> &'static str {
            "wide"
        }
    }

    #[test]
    #[should_panic(expected = "inline: wide of 0 bytes 0xa5: 0x10000 is wider than 16 bits")]
    fn value_wider_than_the_field_fails() {
        // The file's own vectors are consistent; only the width check catches the stray bit.
        check_known_answers(&Wide, "inline", "empty 0x10000\n");
    }

    #[test]
    #[should_panic(expected = "no vectors")]
    fn empty_file_fails() {
        check_known_answers(&Len, "inline", "# nothing\n");
    }
}

//! Byte sizes in scenario files: an integer (`16384`) or a string with a binary or decimal
//! unit (`"16KiB"`, `"64 KiB"`, `"1MiB"`, `"512B"`, `"20kB"`).

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

/// The expected form of every size, as error messages print it.
pub const SIZE_FORM: &str = "a size in bytes such as 16384, \"16KiB\", \"64 KiB\" or \"1MiB\"";

/// A number of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub usize);

impl Size {
    /// Parses `"16KiB"`, `"16 KiB"`, `"20kB"`, `"512B"` or `"16384"`.
    pub fn parse(s: &str) -> Option<Size> {
        let s = s.trim();
        let digits = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let n: usize = s[..digits].parse().ok()?;
        let mult: usize = match s[digits..].trim() {
            "" | "B" => 1,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "kB" | "KB" => 1_000,
            "MB" => 1_000_000,
            _ => return None,
        };
        n.checked_mul(mult).map(Size)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Size;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(SIZE_FORM)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Size, E> {
                usize::try_from(n)
                    .map(Size)
                    .map_err(|_| E::invalid_value(de::Unexpected::Signed(n), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Size, E> {
                usize::try_from(n)
                    .map(Size)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Size, E> {
                Size::parse(s).ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::Size;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        let cases = [
            ("16KiB", Some(16 * 1024)),
            ("64 KiB", Some(65536)),
            ("1MiB", Some(1 << 20)),
            ("512B", Some(512)),
            ("20kB", Some(20_000)),
            ("16384", Some(16384)),
            ("16 kib", None),
            ("KiB", None),
            ("-1", None),
            ("99999999999999999999GiB", None),
        ];
        for (s, want) in cases {
            assert_eq!(Size::parse(s).map(|s| s.0), want, "{s}");
        }
    }
}

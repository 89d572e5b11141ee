//! The `x-seq` request header: which workload request a message is. A leaf — it imports nothing
//! of httpsim — so the client (which writes it), the server (which reads it) and the socket
//! layer (which spots it in a request head on the wire) share one definition without depending
//! on one another.

/// The header every workload request carries with its request number, so the server side of a
/// trace can say which request arrived (`Event::ServerRequest { seq }`).
pub const SEQ_HEADER: &str = "x-seq";

/// [`SEQ_HEADER`] as a header name (a `&str` key is parsed and hashed on every lookup).
pub(crate) static SEQ_NAME: http::HeaderName = http::HeaderName::from_static(SEQ_HEADER);

/// The request number a request carries in [`SEQ_HEADER`], if any.
pub fn request_seq<B>(req: &hyper::Request<B>) -> Option<u64> {
    req.headers()
        .get(&SEQ_NAME)
        .and_then(|v| parse_u64(v.as_bytes()))
}

/// `bytes` as `str::parse::<u64>` reads them (an optional `+`, then decimal digits, no
/// overflow), without its UTF-8 check first: every byte it accepts is an ASCII digit.
fn parse_u64(bytes: &[u8]) -> Option<u64> {
    let digits = bytes.strip_prefix(b"+").unwrap_or(bytes);
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        n.checked_mul(10)?.checked_add(u64::from(d))
    })
}

/// The value of a raw header line (`x-seq: 17`) when the line is [`SEQ_HEADER`], in any case.
pub(crate) fn header_line_value(line: &[u8]) -> Option<&[u8]> {
    let name = SEQ_HEADER.len();
    match line.get(..=name) {
        Some(head)
            if head[..name].eq_ignore_ascii_case(SEQ_HEADER.as_bytes()) && head[name] == b':' =>
        {
            Some(&line[name + 1..])
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::parse_u64;

    #[test]
    fn parse_u64_reads_as_str_parse_does() {
        let cases: &[&[u8]] = &[
            b"0",
            b"17",
            b"+17",
            b"",
            b"+",
            b"-1",
            b" 1",
            b"1 ",
            b"18446744073709551615",
            b"18446744073709551616",
            b"00042",
            b"4x",
            b"\xff1",
        ];
        for c in cases {
            let expected = std::str::from_utf8(c).ok().and_then(|s| s.parse().ok());
            assert_eq!(parse_u64(c), expected, "{:?}", String::from_utf8_lossy(c));
        }
    }
}

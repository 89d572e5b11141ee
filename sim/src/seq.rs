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
        .and_then(|v| v.to_str().ok())
        .and_then(|s| s.parse().ok())
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

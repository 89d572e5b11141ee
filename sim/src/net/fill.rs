//! The static bytes httpsim's bodies are made of, which a simulated socket sends without
//! copying.
//!
//! A response body of httpsim's own handlers is `x` bytes: each chunk is a window of [`FILL`]
//! (consecutive chunks are consecutive windows while they fit), so a response allocates no
//! body bytes of its own. hyper hands the socket a body chunk as a slice (`poll_write_vectored`),
//! and a slice cannot be kept; but a slice that lies in [`FILL`] *is* a window of it, which the
//! simulated kernel can share for as long as it likes (`OwnedWriteHalf::poll_write_shared` in
//! the turmoil-net fork): its segments and the peer's receive buffer then slice the static
//! bytes, and a 64 KiB response held unread pins no memory of its own. The bytes, and so
//! everything observable, are the same as a copy's.

use std::ops::Range;

use bytes::Bytes;

/// Every body byte of httpsim's own handlers: 64 KiB of `x`.
pub(crate) static FILL: [u8; 64 * 1024] = [b'x'; 64 * 1024];

/// The chunk of `n` body bytes at `offset` of its body: the window of [`FILL`] at `offset`
/// (modulo its size) where it fits, so that a body's chunks are contiguous windows, else its
/// start; fresh bytes above 64 KiB.
pub(crate) fn chunk(offset: usize, n: usize) -> Bytes {
    let at = offset % FILL.len();
    match FILL.get(at..at + n).or_else(|| FILL.get(..n)) {
        Some(s) => Bytes::from_static(s),
        None => Bytes::from(vec![b'x'; n]),
    }
}

/// Where `buf` lies in [`FILL`], if it is a window of it.
pub(crate) fn window(buf: &[u8]) -> Option<Range<usize>> {
    let base = FILL.as_ptr() as usize;
    let start = (buf.as_ptr() as usize).checked_sub(base)?;
    let end = start.checked_add(buf.len())?;
    (end <= FILL.len() && !buf.is_empty()).then_some(start..end)
}

/// The window `range` of [`FILL`] as shared bytes.
pub(crate) fn shared(range: Range<usize>) -> Bytes {
    Bytes::from_static(&FILL[range])
}

#[cfg(test)]
mod tests {
    use super::{chunk, window, FILL};

    #[test]
    fn chunks_are_contiguous_windows_and_are_recognised() {
        let a = chunk(0, 16384);
        let b = chunk(16384, 16384);
        assert_eq!(a.as_ptr() as usize + a.len(), b.as_ptr() as usize);
        assert_eq!(window(&a), Some(0..16384));
        assert_eq!(window(&b[10..20]), Some(16394..16404));
        // Past the end: the window restarts at the beginning; above 64 KiB: fresh bytes.
        assert_eq!(window(&chunk(60 * 1024, 8192)), Some(0..8192));
        assert_eq!(window(&chunk(80 * 1024, 8192)), Some(16384..24576));
        let big = chunk(0, 70 * 1024);
        assert!(big.iter().all(|b| *b == b'x'));
        assert_eq!(window(&big), None);
        // Other memory, even holding the same bytes, is not a window.
        let copy = FILL[..100].to_vec();
        assert_eq!(window(&copy), None);
        assert_eq!(window(&[]), None);
    }
}

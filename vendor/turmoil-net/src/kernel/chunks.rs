//! httpsim patch: a TCP byte queue made of `Bytes` chunks.
//!
//! A socket's send and receive buffers used to be one `BytesMut` each,
//! and a byte was copied four times inside the kernel: a write into the
//! send buffer, each segment's payload out of it, a delivered payload
//! into the peer's receive buffer, and a read out of that. Each copy
//! went to freshly allocated memory (buffers are allocated on demand,
//! see `FORK.md`), so it cost page faults and allocator work as well.
//!
//! With a queue of chunks a byte is copied at most once on its way
//! through the kernel: when a write hands it over as a slice (which
//! cannot be kept), into one chunk of exactly what the buffer took; a
//! write of `Bytes` (`poll_send_shared`) is not copied at all.
//! Everything after that shares the chunk: a segment is a
//! [`Bytes::slice`] of one chunk, a retransmission slices it again, the
//! receiver queues the segment's payload as it arrived, and a reader
//! that takes `Bytes` gets a chunk, or a part of one, without a copy.
//! Only a range that spans chunks is gathered into one new buffer (a
//! segment across two writes, a read across two segments). With
//! segmentation offload a segment may end anywhere, so it ends at a
//! chunk boundary rather than gather more than a few KiB
//! ([`ChunkQueue::cut`]): a large shared chunk crosses the network
//! without ever being copied.
//!
//! Memory on demand is kept: the queue owns only its chunks (the first
//! is held inline, further ones in a `VecDeque` that is given back when
//! the queue empties), so an empty queue holds no allocation.

use std::collections::VecDeque;

use bytes::{Buf, Bytes};

/// One chunk holding the first `n` bytes of `bufs` concatenated (`n`
/// at most their total), allocated for exactly those bytes: the one
/// copy a written byte makes in the kernel.
pub fn chunk_of<B: std::ops::Deref<Target = [u8]>>(bufs: &[B], n: usize) -> Bytes {
    let mut v = Vec::with_capacity(n);
    for b in bufs {
        let take = b.len().min(n - v.len());
        v.extend_from_slice(&b[..take]);
        if v.len() == n {
            break;
        }
    }
    Bytes::from(v)
}

/// Bytes in order, as a queue of non-empty chunks.
#[derive(Debug, Default)]
pub struct ChunkQueue {
    /// The first chunk; empty iff the queue is.
    head: Bytes,
    /// The chunks after `head`.
    rest: VecDeque<Bytes>,
    /// Bytes in the queue.
    len: usize,
}

impl ChunkQueue {
    /// An empty queue (no allocation).
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes queued.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no byte is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Drops every byte and the queue's own allocation.
    pub fn clear(&mut self) {
        *self = Self::new();
    }

    /// Appends `chunk` (shared, not copied).
    pub fn push(&mut self, chunk: Bytes) {
        if chunk.is_empty() {
            return;
        }
        self.len += chunk.len();
        if self.head.is_empty() {
            self.head = chunk;
        } else {
            self.rest.push_back(chunk);
        }
    }

    /// Removes the first chunk (the queue must not be empty).
    fn pop_head(&mut self) -> Bytes {
        let next = self.rest.pop_front().unwrap_or_default();
        let head = std::mem::replace(&mut self.head, next);
        self.len -= head.len();
        if self.rest.is_empty() && self.rest.capacity() > 0 {
            self.rest = VecDeque::new();
        }
        head
    }

    /// Drops the first `n` bytes (at most [`len`](Self::len)).
    pub fn advance(&mut self, mut n: usize) {
        debug_assert!(n <= self.len);
        while n > 0 && !self.is_empty() {
            if n < self.head.len() {
                self.head.advance(n);
                self.len -= n;
                return;
            }
            n -= self.pop_head().len();
        }
    }

    /// Removes the first `n` bytes (at most [`len`](Self::len)), none of
    /// them copied: returns the chunk (or part of one) they start in and
    /// appends the chunks (or parts) they go on in to `more`, in order.
    /// Nothing is gathered, so a reader that keeps several `Bytes` takes a
    /// range across chunks without a copy (httpsim patch).
    pub fn take_pieces(&mut self, n: usize, more: &mut Vec<Bytes>) -> Bytes {
        debug_assert!(n <= self.len);
        if n == 0 || self.is_empty() {
            return Bytes::new();
        }
        if n < self.head.len() {
            self.len -= n;
            return self.head.split_to(n);
        }
        let first = self.pop_head();
        let mut left = n - first.len();
        while left > 0 && !self.is_empty() {
            if left < self.head.len() {
                self.len -= left;
                more.push(self.head.split_to(left));
                break;
            }
            let next = self.pop_head();
            left -= next.len();
            more.push(next);
        }
        first
    }

    /// Copies the first `dst.len()` bytes (at most [`len`](Self::len))
    /// into `dst` and removes them.
    pub fn take_into(&mut self, dst: &mut [u8]) {
        self.copy_to(0, dst);
        self.advance(dst.len());
    }

    /// Copies the bytes from offset `start` on into `dst`, which must
    /// not reach past the end; the queue is unchanged.
    pub fn copy_to(&self, start: usize, dst: &mut [u8]) {
        debug_assert!(start + dst.len() <= self.len);
        let mut filled = 0;
        let mut skip = start;
        for chunk in self.chunks() {
            if filled == dst.len() {
                break;
            }
            if skip >= chunk.len() {
                skip -= chunk.len();
                continue;
            }
            let avail = &chunk[skip..];
            skip = 0;
            let n = avail.len().min(dst.len() - filled);
            dst[filled..filled + n].copy_from_slice(&avail[..n]);
            filled += n;
        }
    }

    /// The bytes `start..end` (within [`len`](Self::len)), the queue
    /// unchanged: a slice of one chunk when they lie in one (no copy),
    /// else gathered into a new buffer.
    pub fn slice(&self, start: usize, end: usize) -> Bytes {
        debug_assert!(start <= end && end <= self.len);
        if start == end {
            return Bytes::new();
        }
        let mut offset = 0;
        for chunk in self.chunks() {
            let chunk_end = offset + chunk.len();
            if start < chunk_end {
                if end <= chunk_end {
                    return chunk.slice(start - offset..end - offset);
                }
                break;
            }
            offset = chunk_end;
        }
        // Gathered without zeroing first (`extend_from_slice` per chunk).
        let mut out = Vec::with_capacity(end - start);
        let mut offset = 0;
        for chunk in self.chunks() {
            let chunk_end = offset + chunk.len();
            if chunk_end > start {
                let from = start.saturating_sub(offset);
                let to = chunk.len().min(end - offset);
                out.extend_from_slice(&chunk[from..to]);
                if chunk_end >= end {
                    break;
                }
            }
            offset = chunk_end;
        }
        Bytes::from(out)
    }

    /// How many of the `n` bytes from offset `start` (within
    /// [`len`](Self::len)) one segment should carry when it may be cut
    /// anywhere (segmentation offload): all of them when they lie in
    /// one chunk or are at most `gather_max` (gathered into one
    /// buffer), else up to the last chunk boundary within `gather_max`
    /// bytes, or the end of the first chunk if there is none. A large
    /// chunk a write shared (a body of static bytes) thus crosses as
    /// its own segment, sliced, never copied.
    pub fn cut(&self, start: usize, n: usize, gather_max: usize) -> usize {
        debug_assert!(start + n <= self.len);
        if n <= gather_max {
            return n;
        }
        let end = start + n;
        let mut offset = 0;
        let mut cut = None;
        for chunk in self.chunks() {
            let chunk_end = offset + chunk.len();
            offset = chunk_end;
            if chunk_end <= start {
                continue;
            }
            if chunk_end >= end {
                break;
            }
            if chunk_end - start > gather_max {
                return cut.unwrap_or(chunk_end) - start;
            }
            cut = Some(chunk_end);
        }
        cut.map_or(n, |c| c - start)
    }

    /// The chunks, in order.
    fn chunks(&self) -> impl Iterator<Item = &Bytes> {
        std::iter::once(&self.head)
            .filter(|h| !h.is_empty())
            .chain(self.rest.iter())
    }
}

#[cfg(test)]
mod tests {
    use super::{chunk_of, ChunkQueue};
    use bytes::Bytes;

    fn queue(parts: &[&'static [u8]]) -> ChunkQueue {
        let mut q = ChunkQueue::new();
        for p in parts {
            q.push(Bytes::from_static(p));
        }
        q
    }

    #[test]
    fn a_chunk_holds_the_first_bytes_of_the_slices() {
        let c = chunk_of(&[&b"abc"[..], &b""[..], &b"defg"[..]], 5);
        assert_eq!(c, Bytes::from_static(b"abcde"));
        assert_eq!(chunk_of(&[&b"abc"[..]], 0), Bytes::new());
    }

    #[test]
    fn a_cut_keeps_large_chunks_whole_and_gathers_small_ones() {
        static BIG: [u8; 100] = [b'x'; 100];
        let q = queue(&[b"head", &BIG[..], b"tail"]);
        // Within one chunk, or small enough to gather: as asked.
        assert_eq!(q.cut(10, 50, 8), 50);
        assert_eq!(q.cut(0, 8, 8), 8);
        // Across a large chunk: the head alone, then the chunk alone.
        assert_eq!(q.cut(0, 108, 8), 4);
        assert_eq!(q.cut(4, 104, 8), 100);
        assert_eq!(q.cut(2, 50, 8), 2);
        // Small chunks gather up to the last boundary within the limit.
        let q = queue(&[b"ab", b"cd", b"ef", &BIG[..]]);
        assert_eq!(q.cut(0, 50, 5), 4);
        assert_eq!(q.cut(1, 50, 5), 5);
        assert_eq!(q.cut(0, 106, 6), 6);
    }

    #[test]
    fn pieces_are_the_chunks_a_range_lies_in() {
        let mut q = queue(&[b"abc", b"defg", b"h"]);
        let mut more = Vec::new();
        assert_eq!(q.take_pieces(2, &mut more), Bytes::from_static(b"ab"));
        assert!(more.is_empty());
        assert_eq!(q.take_pieces(3, &mut more), Bytes::from_static(b"c"));
        assert_eq!(more, [Bytes::from_static(b"de")]);
        more.clear();
        assert_eq!(q.take_pieces(3, &mut more), Bytes::from_static(b"fg"));
        assert_eq!(more, [Bytes::from_static(b"h")]);
        assert!(q.is_empty());
        assert_eq!(q.rest.capacity(), 0, "an empty queue holds no allocation");
    }

    #[test]
    fn advance_and_copies_keep_the_order() {
        let mut q = queue(&[b"abc", b"defg", b"h", b"ijkl"]);
        q.advance(9);
        let mut peek = [0u8; 2];
        q.copy_to(1, &mut peek);
        assert_eq!(&peek, b"kl");
        q.advance(1);
        let mut out = [0u8; 2];
        q.take_into(&mut out);
        assert_eq!(&out, b"kl");
        assert!(q.is_empty());
        assert_eq!(q.rest.capacity(), 0, "an empty queue holds no allocation");
        q.push(Bytes::from_static(b"xy"));
        q.push(Bytes::from_static(b"z"));
        q.advance(3);
        assert_eq!((q.len(), q.head.len()), (0, 0));
    }
}

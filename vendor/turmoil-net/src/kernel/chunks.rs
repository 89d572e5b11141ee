//! httpsim patch: a TCP byte queue made of `Bytes` chunks.
//!
//! A socket's send and receive buffers used to be one `BytesMut` each,
//! and a byte was copied four times inside the kernel: a write into the
//! send buffer, each segment's payload out of it, a delivered payload
//! into the peer's receive buffer, and a read out of that. Each copy
//! went to freshly allocated memory (buffers are allocated on demand,
//! see `FORK.md`), so it cost page faults and allocator work as well.
//!
//! With a queue of chunks a byte is copied once on its way through the
//! kernel, when a write hands it over (the caller's slice cannot be
//! kept). Everything after that shares the chunk: a segment is a
//! [`Bytes::slice`] of one chunk, a retransmission slices it again, the
//! receiver queues the segment's payload as it arrived, and a reader
//! that takes `Bytes` gets a chunk, or a part of one, without a copy.
//! Only a range that spans chunks is gathered into one new buffer (a
//! segment across two writes, a read across two segments): one copy,
//! as before.
//!
//! Memory on demand is kept: the queue owns only its chunks (the first
//! is held inline, further ones in a `VecDeque` that is given back when
//! the queue empties), so an empty queue holds no allocation.
//!
//! ## Large chunks are reused ([`chunk_of`])
//!
//! A chunk lives until its last byte is acknowledged *and* read by the
//! peer's application, which may hold a response unread for minutes
//! of simulated time. Freed, a large block goes back to the C
//! allocator, which returns the top of its heap to the OS as soon as
//! more than 128 KiB is free there (glibc frees of 64 KiB and more
//! consolidate and trim), and the next large write faults fresh pages
//! in again: one page fault per 4 KiB written, more costly than the
//! copy itself. Chunks of 16 to 64 KiB are therefore made with a
//! capacity of a power of two and, once the last `Bytes` sharing one is
//! dropped (wherever that is), kept in a small per-thread free list
//! (at most [`POOL_PER_CLASS`] per size, 896 KiB per thread) for the
//! next write. Smaller chunks are exact allocations, as before.

use std::cell::RefCell;
use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Smallest chunk whose block is reused.
const POOL_MIN: usize = 16 * 1024;
/// Largest chunk whose block is reused.
const POOL_MAX: usize = 64 * 1024;
/// Size classes between them: 16, 32, 64 KiB.
const POOL_CLASSES: usize = 3;
/// Free blocks kept per size class and thread.
pub const POOL_PER_CLASS: usize = 8;

thread_local! {
    /// Free blocks by size class (see the module docs).
    static POOL: RefCell<[Vec<Vec<u8>>; POOL_CLASSES]> = const {
        RefCell::new([Vec::new(), Vec::new(), Vec::new()])
    };
}

/// The size class of a block of `cap` bytes, if blocks of it are reused.
fn class_of(cap: usize) -> Option<usize> {
    (POOL_MIN..=POOL_MAX)
        .contains(&cap)
        .then(|| cap.is_power_of_two())
        .filter(|p| *p)
        .map(|_| (cap / POOL_MIN).trailing_zeros() as usize)
}

/// A block of a reused size class, given back to the free list when
/// the last `Bytes` sharing it is dropped.
struct Pooled(Vec<u8>);

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Pooled {
    fn drop(&mut self) {
        let Some(class) = class_of(self.0.capacity()) else {
            return;
        };
        let v = std::mem::take(&mut self.0);
        // A thread being torn down drops the block instead.
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p[class].len() < POOL_PER_CLASS {
                p[class].push(v);
            }
        });
    }
}

/// One chunk holding the first `n` bytes of `bufs` concatenated (`n`
/// at most their total): the one copy a written byte makes in the
/// kernel. Between 16 and 64 KiB its block comes from (and goes back
/// to) the per-thread free list (see the module docs).
pub fn chunk_of<B: std::ops::Deref<Target = [u8]>>(bufs: &[B], n: usize) -> Bytes {
    let fill = |v: &mut Vec<u8>| {
        for b in bufs {
            let take = b.len().min(n - v.len());
            v.extend_from_slice(&b[..take]);
            if v.len() == n {
                break;
            }
        }
    };
    if !(POOL_MIN..=POOL_MAX).contains(&n) {
        let mut v = Vec::with_capacity(n);
        fill(&mut v);
        return Bytes::from(v);
    }
    let cap = n.next_power_of_two();
    let class = class_of(cap).expect("a reused size");
    let mut v = POOL
        .try_with(|p| p.borrow_mut()[class].pop())
        .ok()
        .flatten()
        .unwrap_or_else(|| Vec::with_capacity(cap));
    v.clear();
    fill(&mut v);
    Bytes::from_owner(Pooled(v))
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

    /// Removes the first `n` bytes (at most [`len`](Self::len)) and
    /// returns them as one `Bytes`: the first chunk or a part of it
    /// when it holds them all (no copy), else gathered into a new
    /// buffer of exactly `n` bytes.
    pub fn take_front(&mut self, n: usize) -> Bytes {
        debug_assert!(n <= self.len);
        if n == 0 {
            return Bytes::new();
        }
        if n == self.head.len() {
            return self.pop_head();
        }
        if n < self.head.len() {
            self.len -= n;
            return self.head.split_to(n);
        }
        let mut out = BytesMut::with_capacity(n);
        while out.len() < n {
            let want = n - out.len();
            if want < self.head.len() {
                out.extend_from_slice(&self.head[..want]);
                self.advance(want);
            } else {
                out.extend_from_slice(&self.pop_head());
            }
        }
        out.freeze()
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
        let mut out = vec![0; end - start];
        self.copy_to(start, &mut out);
        Bytes::from(out)
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

    #[test]
    fn large_chunks_reuse_their_blocks_small_ones_are_exact() {
        let body = vec![7u8; 40_000];
        let a = chunk_of(&[&b"head"[..], &body[..]], 30_000);
        assert_eq!(a.len(), 30_000);
        assert_eq!(&a[..6], &[b'h', b'e', b'a', b'd', 7, 7]);
        let block = a.as_ptr();
        let part = a.slice(10..20);
        drop(a);
        // Still shared by `part`: a new chunk gets another block.
        let b = chunk_of(&[&body[..]], 20_000);
        assert_ne!(b.as_ptr(), block);
        drop(part);
        // Freed: the next chunk of its size class reuses it.
        let c = chunk_of(&[&body[..]], 17_000);
        assert_eq!(c.as_ptr(), block);
        assert_eq!(c.len(), 17_000);
        let small = chunk_of(&[&b"abc"[..], &b"def"[..]], 5);
        assert_eq!(small, Bytes::from_static(b"abcde"));
        drop((b, c));
    }

    fn queue(parts: &[&'static [u8]]) -> ChunkQueue {
        let mut q = ChunkQueue::new();
        for p in parts {
            q.push(Bytes::from_static(p));
        }
        q
    }

    #[test]
    fn slices_within_a_chunk_share_it_and_across_chunks_gather() {
        let q = queue(&[b"hello", b"", b" wor", b"ld"]);
        assert_eq!(q.len(), 11);
        assert_eq!(q.slice(1, 4), Bytes::from_static(b"ell"));
        // Shares the chunk's memory: same address as the source.
        assert_eq!(q.slice(6, 9).as_ptr(), b" wor"[1..].as_ptr());
        assert_eq!(q.slice(3, 10), Bytes::from_static(b"lo worl"));
        assert_eq!(q.slice(0, 11), Bytes::from_static(b"hello world"));
        assert_eq!(q.slice(4, 4), Bytes::new());
    }

    #[test]
    fn take_front_advance_and_copies_keep_the_order() {
        let mut q = queue(&[b"abc", b"defg", b"h", b"ijkl"]);
        assert_eq!(q.take_front(2), Bytes::from_static(b"ab"));
        assert_eq!(q.take_front(1), Bytes::from_static(b"c"));
        assert_eq!(q.take_front(6), Bytes::from_static(b"defghi"));
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

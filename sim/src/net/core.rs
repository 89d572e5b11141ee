//! What a socket, its pump task, its write path and every handle on it share: the receive
//! buffer, the activity clock, the peer-close signal, the close reason. One allocation per
//! socket (see [`Core`]); [`StreamHandle`] is the cheap clone the server and pools keep.

use std::collections::VecDeque;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Waker;

use bytes::Bytes;
use tokio::sync::Notify;

use super::conn::{ConnShared, Side};
use super::HostNet;
use crate::trace::{CloseReason, ConnId};

/// The receive side: filled by the pump task, drained by the application.
pub(crate) struct Recv {
    /// What the pump took, read by read, each read as the received chunks it lies in.
    pub(super) chunks: VecDeque<Piece>,
    pub(super) buffered: usize,
    pub(super) eof: bool,
    pub(super) error: Option<io::ErrorKind>,
    pub(super) read_waker: Option<Waker>,
}

/// Part of one read of the pump: a received chunk, or a part of one.
pub(crate) struct Piece {
    pub(super) bytes: Bytes,
    /// The last piece of its read. The application's read stops there, so that it returns
    /// what it did when the pump gathered each read into one buffer: the same sizes to
    /// hyper, read by read.
    pub(super) ends_read: bool,
}

impl Recv {
    /// Fails the application's reads with `kind` from now on (the socket is gone).
    pub(crate) fn fail(&mut self, kind: io::ErrorKind) {
        if self.error.is_none() {
            self.error = Some(kind);
            self.chunks.clear();
            self.buffered = 0;
        }
        self.wake_reader();
    }

    pub(super) fn wake_reader(&mut self) {
        if let Some(w) = self.read_waker.take() {
            w.wake();
        }
    }
}

/// Per-socket state, one allocation per socket: what the socket, its pump task, its write path
/// ([`Wire`]) and every [`StreamHandle`] share. (At 10k connections, one `Arc` each for these
/// parts, a `watch` channel for the peer-close signal and a larger pump task cost ~1 KB per
/// socket more.)
pub(crate) struct Core {
    pub(super) conn: ConnId,
    pub(crate) side: Side,
    pub(crate) host: HostNet,
    pub(crate) shared: Arc<ConnShared>,
    /// Simulated time (µs) of the last byte read or written.
    pub(super) last_activity: Mutex<u64>,
    pub(super) close_reason: Mutex<Option<CloseReason>>,
    /// `true` once the peer's FIN or RST arrived.
    pub(super) peer_closed: AtomicBool,
    /// Wakes every [`StreamHandle::peer_closed`] waiter when `peer_closed` is set.
    pub(super) peer_closed_wake: Notify,
    /// The receive buffer.
    pub(crate) recv: Mutex<Recv>,
    /// The application read from `recv`: room for the pump.
    pub(super) space: Notify,
    /// Unread bytes at which the pump stops reading ahead (`AgentConfig::read_pause`); 0: the
    /// run's receive buffer.
    pub(super) read_pause: AtomicUsize,
    /// Wakes the shaper task of a shaped socket (`net/wire.rs`).
    pub(crate) shaper: Notify,
}

/// A cheap, cloneable handle on a [`SimStream`](super::SimStream): its id, activity clock, peer-close signal, and
/// the reason to record when it closes.
#[derive(Clone)]
pub struct StreamHandle {
    pub(crate) inner: Arc<Core>,
}

impl StreamHandle {
    /// The connection id (the same on both ends).
    pub fn conn(&self) -> ConnId {
        self.inner.conn
    }

    /// Simulated time (µs) of the last byte read or written on this socket.
    pub fn last_activity_us(&self) -> u64 {
        *self.inner.last_activity.lock().unwrap()
    }

    /// Sets the reason recorded when the socket closes. [`CloseReason::Reset`] (and reasons that
    /// imply an abort: shutdown deadline, faults) make the close an RST for the peer.
    pub fn set_close_reason(&self, reason: CloseReason) {
        *self.inner.close_reason.lock().unwrap() = Some(reason);
    }

    /// Whether the peer's FIN or RST has arrived.
    pub fn is_peer_closed(&self) -> bool {
        self.inner.peer_closed.load(Ordering::Relaxed)
    }

    /// Waits until the peer's FIN or RST arrives.
    pub async fn peer_closed(&self) {
        loop {
            // Created before the check: `notify_waiters` also wakes a `Notified` not yet polled.
            let woken = self.inner.peer_closed_wake.notified();
            if self.is_peer_closed() {
                return;
            }
            woken.await;
        }
    }

    /// Stops the pump reading ahead once `bytes` of data are buffered unread, as Node's
    /// sockets stop at their `highWaterMark`: it then reads again only when the application
    /// has taken the buffer below `bytes`, and each read takes up to 64 KiB of what the kernel
    /// holds (libuv's read size), so a response that arrived whole before the pause is read
    /// whole, with the close behind it.
    pub fn set_read_pause(&self, bytes: usize) {
        self.inner.read_pause.store(bytes, Ordering::Relaxed);
        self.inner.space.notify_one();
    }

    pub(super) fn set_peer_closed(&self) {
        self.inner.peer_closed.store(true, Ordering::Relaxed);
        self.inner.peer_closed_wake.notify_waiters();
    }

    pub(super) fn touch(&self, now_us: u64) {
        *self.inner.last_activity.lock().unwrap() = now_us;
    }
}

//! The sending half of a socket with its per-connection faults: what every `SimStream` write
//! goes through.
//!
//! A socket with none of `latency`, `bandwidth`, `slicer` writes straight to the kernel; with one
//! of them, writes go to a queue of up to the receive-buffer size that a shaper task drains at
//! the pace the faults set (so the application's writes back-pressure as on a slow link). Byte
//! triggers (`reset`, `limit-data`, `half-open` after N bytes) trip at exactly their byte as it
//! leaves; time triggers trip from a timer the socket owns. Closing sends the FIN after queued
//! bytes and any `slow-close` delay, as a kernel lingers; an abort discards them.

use std::collections::VecDeque;
use std::io;

use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use rand::rngs::SmallRng;

use super::conn::{ConnShared, Side};
use super::conn_fault::{rng_for, Active, Trip};
use crate::trace::{CloseReason, Event};

/// The sending half of a socket, with its faults: what `SimStream` writes through.
pub(crate) struct Out {
    pub(super) half: Option<super::tcp::WriteHalf>,
    /// A write found the send buffer full (the peer's window closed) and is waiting: traced
    /// once per episode as `write_blocked`.
    pub(super) blocked: bool,
    /// `None` for a socket without write faults (most): at 10k connections the fault state
    /// inline cost ~200 bytes per socket.
    pub(super) faults: Option<Box<Faults>>,
    /// Bytes the application handed over so far.
    pub(super) accepted: u64,
    /// Shaped mode: bytes the shaper handed to the kernel so far.
    pub(super) wire_sent: u64,
    /// Returned to the application's next write.
    pub(super) error: Option<io::ErrorKind>,
    /// Shaped mode: bytes waiting for the shaper, with the time they were written (µs).
    pub(super) queue: VecDeque<(Bytes, u64)>,
    pub(super) queued: usize,
    pub(super) cap: usize,
    pub(super) write_waker: Option<Waker>,
    /// The application closed (or shut down) the socket: FIN once the queue is empty.
    pub(super) closing: bool,
}

/// The write faults of one socket, with the random draws they make.
pub(super) struct Faults {
    pub(super) active: Active,
    pub(super) rng: SmallRng,
}

/// The faults of a socket that has none.
static NO_FAULTS: Active = Active::NONE;

impl Out {
    pub(super) fn active(&self) -> &Active {
        self.faults.as_ref().map_or(&NO_FAULTS, |f| &f.active)
    }

    /// Takes the next byte trigger (there is one: the caller just saw it).
    pub(super) fn pop_byte_trip(&mut self) {
        if let Some(f) = self.faults.as_mut() {
            f.active.byte_trips.remove(0);
        }
    }
}

/// Everything a fault needs to act on a connection from a task of its own.
#[derive(Clone)]
pub(crate) struct Wire {
    pub(crate) out: Arc<Mutex<Out>>,
    /// The socket's shared state (`net/stream.rs`): connection, side, host, receive buffer.
    handle: super::StreamHandle,
    /// Held while the write half may still be used: the port is free once both halves are gone.
    _port: Option<Arc<super::ports::PortLease>>,
}

impl Wire {
    pub(crate) fn new(
        half: super::tcp::WriteHalf,
        active: Active,
        cap: usize,
        seed: u64,
        port: Option<Arc<super::ports::PortLease>>,
        handle: super::StreamHandle,
    ) -> Self {
        let core = &handle.inner;
        let conn = core.shared.id();
        let shaped = active.shaped();
        let faults =
            (shaped || !active.byte_trips.is_empty() || active.slow_close.is_some()).then(|| {
                Box::new(Faults {
                    active,
                    rng: rng_for(seed, conn, u64::MAX - core.side as u64),
                })
            });
        let wire = Wire {
            out: Arc::new(Mutex::new(Out {
                half: Some(half),
                blocked: false,
                faults,
                accepted: 0,
                wire_sent: 0,
                error: None,
                queue: VecDeque::new(),
                queued: 0,
                cap: cap.max(1),
                write_waker: None,
                closing: false,
            })),
            handle,
            _port: port,
        };
        if shaped {
            tokio::task::spawn_local(super::shaper::shaper(wire.clone()));
        }
        wire
    }

    pub(super) fn core(&self) -> &super::core::Core {
        &self.handle.inner
    }

    pub(super) fn shared(&self) -> &ConnShared {
        &self.core().shared
    }

    pub(super) fn side(&self) -> Side {
        self.core().side
    }

    fn record(&self, what: String) {
        self.core().host.record(Event::ConnFault {
            conn: self.shared().id(),
            what,
        });
    }

    /// Traces the start of a blocked episode: the application's write waits for the peer's
    /// window (its receive buffers are full because nobody reads).
    fn note_blocked(&self, out: &mut Out, pending: bool) {
        if pending && !out.blocked {
            out.blocked = true;
            self.core().host.record(Event::WriteBlocked {
                conn: self.shared().id(),
                sent: self.shared().sent(self.side()),
            });
        } else if !pending {
            out.blocked = false;
        }
    }

    /// Sends the FIN now (drops the write half).
    pub(super) fn fin(&self, out: &mut Out) {
        if out.half.take().is_some() {
            self.shared().on_fin_sent(self.side());
        }
    }

    /// Writes the bytes of `bufs`, in order, for the application at simulated time `now_us`, as
    /// one write of the same bytes concatenated would.
    pub(crate) fn poll_write_slices(
        &self,
        cx: &mut Context<'_>,
        bufs: &[&[u8]],
        now_us: u64,
    ) -> Poll<io::Result<usize>> {
        match bufs {
            [] => Poll::Ready(Ok(0)),
            [one] => self.poll_write(cx, one, now_us),
            _ => {
                let direct = !self.shared().peer_vanished(self.side()) && {
                    let out = self.out.lock().unwrap();
                    out.error.is_none()
                        && out.half.is_some()
                        && !out.active().shaped()
                        && out.active().byte_trips.is_empty()
                };
                if !direct {
                    // Shaping, byte triggers and faults work on one buffer (rare: flatten).
                    return self.poll_write(cx, &bufs.concat(), now_us);
                }
                let mut out = self.out.lock().unwrap();
                let Some(half) = out.half.as_mut() else {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                };
                let res = half.poll_write_slices(cx, bufs);
                if let Poll::Ready(Ok(n)) = res {
                    self.shared().on_sent(self.side(), n as u64, now_us);
                    out.accepted += n as u64;
                }
                self.note_blocked(&mut out, res.is_pending());
                res
            }
        }
    }

    /// Writes `buf` for the application at simulated time `now_us`.
    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
        now_us: u64,
    ) -> Poll<io::Result<usize>> {
        if self.shared().peer_vanished(self.side()) {
            // Nobody is there: the bytes go nowhere, as into a dead peer's window.
            return Poll::Ready(Ok(buf.len()));
        }
        let mut out = self.out.lock().unwrap();
        if let Some(kind) = out.error {
            return Poll::Ready(Err(io::Error::new(kind, "connection closed by a fault")));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        // Stop at the next byte trigger so it trips at exactly its byte. A shaped socket trips
        // when the byte leaves (in the shaper), not when the application hands it over.
        let next_trip = match out.active().shaped() {
            true => None,
            false => out.active().byte_trips.first().copied(),
        };
        let mut len = buf.len();
        if let Some((at, _)) = next_trip {
            len = len.min(at.saturating_sub(out.accepted) as usize);
        }
        let n = if len == 0 {
            0
        } else if out.active().shaped() {
            if out.queued >= out.cap {
                out.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let n = len.min(out.cap - out.queued);
            out.queue
                .push_back((Bytes::copy_from_slice(&buf[..n]), now_us));
            out.queued += n;
            self.core().shaper.notify_one();
            n
        } else {
            let Some(half) = out.half.as_mut() else {
                return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
            };
            let res = half.poll_write(cx, &buf[..len]);
            self.note_blocked(&mut out, res.is_pending());
            match res {
                Poll::Ready(Ok(n)) => {
                    self.shared().on_sent(self.side(), n as u64, now_us);
                    n
                }
                other => return other,
            }
        };
        out.accepted += n as u64;
        if let Some((at, trip)) = next_trip {
            if out.accepted >= at {
                out.pop_byte_trip();
                self.trip(&mut out, trip, format!("after {at} bytes"));
                if n == 0 {
                    return Poll::Ready(Err(io::Error::new(
                        out.error.unwrap_or(io::ErrorKind::BrokenPipe),
                        "connection closed by a fault",
                    )));
                }
            }
        }
        Poll::Ready(Ok(n))
    }

    /// Shuts the sending direction down (FIN), after any queued bytes and slow-close delay.
    pub(crate) fn poll_shutdown(&self) -> Poll<io::Result<()>> {
        let mut out = self.out.lock().unwrap();
        self.close(&mut out);
        Poll::Ready(Ok(()))
    }

    /// The application closed the socket; `reset`: abort (discard queued bytes, FIN now, which
    /// the peer turns into an RST).
    pub(crate) fn on_drop(&self, reset: bool) {
        let mut out = self.out.lock().unwrap();
        if reset {
            out.queue.clear();
            out.queued = 0;
            self.fin(&mut out);
            self.core().shaper.notify_one();
        } else {
            self.close(&mut out);
        }
    }

    fn close(&self, out: &mut Out) {
        if out.closing {
            return;
        }
        out.closing = true;
        if out.active().shaped() {
            self.core().shaper.notify_one();
            return;
        }
        match out.active().slow_close {
            Some(d) if out.half.is_some() => {
                let wire = self.clone();
                tokio::task::spawn_local(async move {
                    crate::net::clock::sleep(d).await;
                    let mut out = wire.out.lock().unwrap();
                    wire.fin(&mut out);
                });
            }
            _ => self.fin(out),
        }
    }

    /// Applies `trip` now.
    pub(crate) fn trip_now(&self, trip: Trip, why: String) {
        let mut out = self.out.lock().unwrap();
        self.trip(&mut out, trip, why);
    }

    /// Ends this socket by a fault: reads and writes fail with a reset, queued bytes are
    /// dropped, `mark` tells the connection how (reset or vanished), then the FIN goes.
    fn kill(&self, out: &mut Out, mark: impl FnOnce()) {
        self.handle.set_close_reason(CloseReason::Fault);
        out.error = Some(io::ErrorKind::ConnectionReset);
        out.queue.clear();
        out.queued = 0;
        mark();
        self.core()
            .recv
            .lock()
            .unwrap()
            .fail(io::ErrorKind::ConnectionReset);
        self.fin(out);
    }

    pub(super) fn trip(&self, out: &mut Out, trip: Trip, why: String) {
        if out.error.is_some() {
            return;
        }
        match trip {
            Trip::Reset => {
                self.record(format!("reset {why}"));
                self.kill(out, || self.shared().set_reset(self.side()));
            }
            Trip::Vanish => {
                self.record(format!("half-open {why}: this end vanished"));
                self.kill(out, || self.shared().set_vanished(self.side()));
            }
            Trip::Limit => {
                self.record(format!("limit-data {why}: direction closed"));
                out.error = Some(io::ErrorKind::BrokenPipe);
                out.closing = true;
                out.queue.clear();
                out.queued = 0;
                self.fin(out);
            }
        }
        if let Some(w) = out.write_waker.take() {
            w.wake();
        }
    }
}

//! The shaper of a socket with pacing faults (`latency`, `bandwidth`, `slicer`): a task that
//! drains the socket's write queue (`net/wire.rs`) into the kernel at the pace the faults set,
//! trips byte-triggered faults at exactly their byte, and sends the FIN after the queue and any
//! `slow-close` delay.

use std::io;
use std::task::Poll;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::Rng;

use super::clock;
use super::conn_fault::Active;
use super::wire::Wire;

/// On a real socket (`httpsim run --real`) whose `latency` stands for the network's, the FIN
/// must travel as late as data does: loopback would deliver it at once, and a client would
/// learn of a server's close a latency earlier than in the simulation, where every packet
/// crosses the network. (A simulated socket's FIN crosses the simulated network instead.)
fn real_fin_latency(wire: &Wire) -> Option<Duration> {
    if !wire.core().host.config().real {
        return None;
    }
    let mut out = wire.out.lock().unwrap();
    let f = out.faults.as_deref_mut()?;
    draw_latency(&f.active, &mut f.rng)
}

/// How late a write leaves under a `latency` fault: its latency plus a uniform draw in
/// `[0, jitter]` (µs resolution).
fn draw_latency(a: &Active, rng: &mut SmallRng) -> Option<Duration> {
    let (lat, jitter) = a.latency?;
    let extra = if jitter.is_zero() {
        0
    } else {
        rng.gen_range(0..=jitter.as_micros() as u64)
    };
    Some(lat + Duration::from_micros(extra))
}

/// Drains a shaped socket's queue into the kernel at the pace its faults set.
pub(super) async fn shaper(wire: Wire) {
    let mut due_us: u64 = 0;
    loop {
        let notified = wire.core().shaper.notified();
        let (next, closing, slow) = {
            let mut out = wire.out.lock().unwrap();
            if out.half.is_none() {
                return;
            }
            (out.queue.pop_front(), out.closing, out.active().slow_close)
        };
        let Some((bytes, written_us)) = next else {
            if closing {
                if let Some(d) = slow {
                    crate::net::clock::sleep(d).await;
                }
                if let Some(d) = real_fin_latency(&wire) {
                    crate::net::clock::sleep(d).await;
                }
                let mut out = wire.out.lock().unwrap();
                wire.fin(&mut out);
                return;
            }
            notified.await;
            continue;
        };
        let pieces = {
            let mut out = wire.out.lock().unwrap();
            let out = &mut *out;
            let Some(f) = out.faults.as_deref_mut() else {
                return; // Only a socket with faults is shaped.
            };
            if let Some(d) = draw_latency(&f.active, &mut f.rng) {
                due_us = due_us.max(written_us + d.as_micros() as u64);
            }
            split(&bytes, &f.active, &mut f.rng)
        };
        for (mut piece, gap_after) in pieces {
            loop {
                // Cut the piece at the next byte trigger, so it trips at exactly its byte.
                let (next_trip, sent) = {
                    let out = wire.out.lock().unwrap();
                    (out.active().byte_trips.first().copied(), out.wire_sent)
                };
                let take = match next_trip {
                    Some((at, _)) => piece.len().min(at.saturating_sub(sent) as usize),
                    None => piece.len(),
                };
                let part = piece.split_to(take);
                if !part.is_empty() {
                    due_us = due_us.max(clock::now_us());
                    sleep_until_us(due_us).await;
                    if !write_all(&wire, &part).await {
                        return;
                    }
                    let bandwidth = wire.out.lock().unwrap().active().bandwidth;
                    if let Some(bps) = bandwidth {
                        due_us += part.len() as u64 * 1_000_000 / bps;
                    }
                }
                if let Some((at, trip)) = next_trip {
                    let mut out = wire.out.lock().unwrap();
                    if out.wire_sent >= at {
                        out.pop_byte_trip();
                        wire.trip(&mut out, trip, format!("after {at} bytes"));
                        return;
                    }
                }
                if piece.is_empty() {
                    break;
                }
            }
            due_us += gap_after.as_micros() as u64;
        }
        let mut out = wire.out.lock().unwrap();
        out.queued = out.queued.saturating_sub(bytes.len());
        if let Some(w) = out.write_waker.take() {
            w.wake();
        }
    }
}

/// Splits one write into the pieces its faults send separately, each with the pause after it.
fn split(bytes: &Bytes, a: &Active, rng: &mut SmallRng) -> Vec<(Bytes, Duration)> {
    let mut out = Vec::new();
    let mut rest = bytes.clone();
    while !rest.is_empty() {
        let (mut size, gap) = match a.slicer {
            Some((avg, var, delay)) => {
                let lo = avg.saturating_sub(var).max(1);
                (rng.gen_range(lo..=avg + var), delay)
            }
            None => (rest.len(), Duration::ZERO),
        };
        if let Some(bps) = a.bandwidth {
            size = size.min((bps / 100).max(1) as usize);
        }
        let piece = rest.split_to(size.min(rest.len()));
        out.push((piece, gap));
    }
    out
}

async fn sleep_until_us(t_us: u64) {
    let now = clock::now_us();
    if t_us > now {
        crate::net::clock::sleep(Duration::from_micros(t_us - now)).await;
    }
}

/// Writes `piece` to the kernel in full; `false` when the socket is gone or failed.
async fn write_all(wire: &Wire, piece: &Bytes) -> bool {
    let mut off = 0;
    while off < piece.len() {
        let res = std::future::poll_fn(|cx| {
            let mut out = wire.out.lock().unwrap();
            match out.half.as_mut() {
                Some(h) => h.poll_write(cx, &piece[off..]),
                None => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            }
        })
        .await;
        match res {
            Ok(n) => {
                wire.shared()
                    .on_sent(wire.side(), n as u64, clock::now_us());
                wire.out.lock().unwrap().wire_sent += n as u64;
                off += n;
            }
            Err(e) => {
                let mut out = wire.out.lock().unwrap();
                out.error.get_or_insert(e.kind());
                out.queue.clear();
                out.queued = 0;
                if let Some(w) = out.write_waker.take() {
                    w.wake();
                }
                return false;
            }
        }
    }
    true
}

//! TCP state machine.
//!
//! Handshake, streaming data, FIN/RST, half-close, and go-back-N
//! retransmit.
//!
//! httpsim patch: retransmission is time-based — see [`fire_timers`].
//! Each socket has at most one timer (retransmission or persist) in
//! the kernel's deadline set; time is tokio's (paused, virtual) clock.
//! RTO follows RFC 6298 with Linux's bounds: before an RTT sample
//! 200 ms (`TCP_RTO_MIN`), then `srtt + max(200 ms, 4·rttvar)`,
//! doubled per retransmission, capped at 120 s; SYN and SYN-ACK start
//! at 1 s. Karn's rule: retransmitted segments are never timed.
//!
//! ## Go-back-N, not SACK
//!
//! On retransmit we rewind `snd_nxt = snd_una` and re-emit the entire
//! unacked window. Real TCP typically negotiates SACK and resends
//! only the gaps. We don't, for two reasons:
//!
//! - **No reassembly on receive.** Our receiver accepts segments
//!   strictly in order (`seq == rcv_nxt`, else drop). Selective retx
//!   would only pay off if the receiver buffered out-of-order
//!   segments; without that, resending the tail is necessary anyway.
//! - **Simpler state.** No per-segment tracking, no retx queue, no
//!   SACK option parsing.
//!
//! App-visible behavior is identical: bytes arrive in-order and
//! intact. The cost is wire inefficiency under loss — a test that
//! counts packets could tell the difference, but the socket API
//! can't.
//!
//! # Performance (httpsim patch)
//! Egress looks only at sockets touched since the last call (the
//! kernel's dirty set) and at timers due (its deadline set), so its
//! cost is O(sockets that changed), not O(sockets).

use std::io::{Error, ErrorKind, Result};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::kernel::chunks::ChunkQueue; // httpsim patch
use crate::kernel::packet::{self, Packet, TcpFlags, TcpSegment, Transport};
use crate::kernel::socket::{Addr, BindKey, Domain, Fd, Socket, Tcb, TcpState, TimerKind, Type};
use crate::kernel::{Kernel, KernelEvent};

/// Drives `Kernel::poll_connect` for `SOCK_STREAM`. First poll builds a
/// TCB in `SynSent`, enqueues the SYN, and parks. Later polls observe
/// the TCB transitioning to `Established` (handshake done) and return
/// `Ready`.
pub(super) fn poll_connect(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    domain: Domain,
    peer: SocketAddr,
    is_bound: bool,
) -> Poll<Result<()>> {
    // Already in flight? Just check state and re-park.
    if let Some(tcb) = &k.lookup(fd).expect("fd validated").tcb {
        return match tcb.state {
            TcpState::Established => Poll::Ready(Ok(())),
            TcpState::SynSent | TcpState::SynReceived => {
                park_connect(k, fd, cx);
                Poll::Pending
            }
            // Close mid-connect: SYN retx exhaustion surfaces as
            // TimedOut (Linux's ETIMEDOUT); anything else is the
            // peer RST'ing, which Linux reports as ECONNREFUSED.
            TcpState::Closed
            | TcpState::FinWait1
            | TcpState::FinWait2
            | TcpState::CloseWait
            | TcpState::LastAck
            | TcpState::Closing => {
                if tcb.timed_out {
                    Poll::Ready(Err(Error::from(ErrorKind::TimedOut)))
                } else {
                    Poll::Ready(Err(Error::from(ErrorKind::ConnectionRefused)))
                }
            }
        };
    }

    // First poll: auto-bind if needed, build the TCB, emit SYN.
    if !is_bound {
        if let Err(e) = auto_bind(k, fd, domain, peer.ip()) {
            return Poll::Ready(Err(e));
        }
    }
    let src = local_endpoint(k, fd);
    let isn = initial_sequence(k);
    {
        let st = k.lookup_mut(fd).expect("fd validated");
        // httpsim patch: Tcb::new; the SYN is timed for the first RTT sample.
        let mut tcb = Tcb::new(TcpState::SynSent, peer, isn, DEFAULT_WINDOW, 0);
        tcb.rtt_probe = Some((isn.wrapping_add(1), super::now()));
        st.tcb = Some(tcb);
        st.peer = Some(Addr::Inet(peer));
    }
    k.sockets.insert_connection(src, peer, fd);
    emit(
        k,
        src,
        peer,
        TcpSegment {
            src_port: src.port(),
            dst_port: peer.port(),
            seq: isn,
            ack: 0,
            flags: TcpFlags {
                syn: true,
                ..TcpFlags::default()
            },
            window: DEFAULT_WINDOW,
            payload: Bytes::new(),
        },
    );
    // httpsim patch: SYN retransmission timer (1 s, doubling).
    k.set_timer(fd, Some(super::now() + super::TCP_TIMEOUT_INIT));
    park_connect(k, fd, cx);
    Poll::Pending
}

/// Inbound TCP dispatch.
pub(super) fn deliver(k: &mut Kernel, pkt: &Packet, s: &TcpSegment) {
    let local = SocketAddr::new(pkt.dst, s.dst_port);
    let remote = SocketAddr::new(pkt.src, s.src_port);

    // First try to demux to an established/in-progress connection by
    // 4-tuple. Listener fallback only runs if that misses.
    if let Some(fd) = k.sockets.find_connection(local, remote) {
        // httpsim patch: a closed connection no longer owns its tuple;
        // the segment goes on to the listener / RST path.
        let closed = k
            .lookup(fd)
            .ok()
            .and_then(|st| st.tcb.as_ref())
            .is_none_or(|t| t.state == TcpState::Closed);
        if !closed {
            handle_on_connection(k, fd, local, remote, s);
            return;
        }
        k.sockets.unhash_connection(fd);
    }

    // Listener fallback — SYN on an otherwise-unknown 4-tuple.
    if s.flags.syn && !s.flags.ack {
        if let Some(listener) = find_listener(k, local) {
            accept_syn(k, listener, local, remote, s);
            return;
        }
        // No listener at this port — reply with RST so the peer sees
        // `ConnectionRefused` instead of timing out.
        emit_rst(k, local, remote, s);
        return;
    }

    // Non-SYN to an unknown 4-tuple. RFC 793 says RST, unless the
    // segment is itself a RST (that would be infinite ping-pong).
    if !s.flags.rst {
        emit_rst(k, local, remote, s);
    }
}

/// Emit a RST in response to `s`. Follows RFC 793's ACK/SEQ rules:
/// if the offending segment carried ACK, reflect `ack` as our `seq`
/// and leave the RST unacked; otherwise set `ack = seq + segment_len`
/// and flag ACK.
fn emit_rst(k: &mut Kernel, local: SocketAddr, remote: SocketAddr, s: &TcpSegment) {
    let (seq, ack, ack_flag) = if s.flags.ack {
        (s.ack, 0, false)
    } else {
        let seg_len = s.payload.len() as u32
            + if s.flags.syn { 1 } else { 0 }
            + if s.flags.fin { 1 } else { 0 };
        (0, s.seq.wrapping_add(seg_len), true)
    };
    emit(
        k,
        local,
        remote,
        TcpSegment {
            src_port: local.port(),
            dst_port: remote.port(),
            seq,
            ack,
            flags: TcpFlags {
                rst: true,
                ack: ack_flag,
                ..TcpFlags::default()
            },
            window: 0,
            payload: Bytes::new(),
        },
    );
}

fn handle_on_connection(
    k: &mut Kernel,
    fd: Fd,
    local: SocketAddr,
    remote: SocketAddr,
    s: &TcpSegment,
) {
    // httpsim patch: whatever arrives may open a window, ack data, or
    // finish a close: egress looks at this socket next.
    k.mark_dirty(fd);
    // RST trumps all other processing. Tear the connection down and
    // wake every parked task with ConnectionReset.
    if s.flags.rst {
        // httpsim patch: a reset half-open child is dropped (nobody
        // could ever accept or close it), as Linux drops the request.
        let half_open = k
            .lookup(fd)
            .ok()
            .and_then(|st| st.tcb.as_ref())
            .is_some_and(|t| t.state == TcpState::SynReceived);
        if half_open {
            drop_half_open(k, fd);
        } else {
            abort_connection(k, fd);
        }
        return;
    }

    let state = k
        .lookup(fd)
        .expect("fd present")
        .tcb
        .as_ref()
        .expect("tcb present")
        .state;
    match state {
        // Client received SYN-ACK. Move to Established and ACK.
        TcpState::SynSent if s.flags.syn && s.flags.ack => {
            if s.ack != k.lookup(fd).unwrap().tcb.as_ref().unwrap().snd_nxt {
                return;
            }
            let (snd_nxt, rcv_nxt) = {
                let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
                tcb.state = TcpState::Established;
                tcb.rcv_nxt = s.seq.wrapping_add(1);
                tcb.snd_wnd = s.window;
                // httpsim patch: RTT sample from the handshake, timers reset.
                handshake_done(tcb);
                (tcb.snd_nxt, tcb.rcv_nxt)
            };
            k.set_timer(fd, None);
            let window = window_for(k, fd);
            wake_connect(k, fd);
            emit(
                k,
                local,
                remote,
                TcpSegment {
                    src_port: local.port(),
                    dst_port: remote.port(),
                    seq: snd_nxt,
                    ack: rcv_nxt,
                    flags: TcpFlags {
                        ack: true,
                        ..TcpFlags::default()
                    },
                    window,
                    payload: Bytes::new(),
                },
            );
        }
        // Server received ACK of its SYN-ACK. Promote to Established
        // and push onto the listener's ready queue.
        TcpState::SynReceived if s.flags.ack && !s.flags.syn => {
            let expected_ack = k.lookup(fd).unwrap().tcb.as_ref().unwrap().snd_nxt;
            if s.ack != expected_ack {
                return;
            }
            {
                let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
                tcb.state = TcpState::Established;
                tcb.snd_wnd = s.window;
                // httpsim patch: RTT sample from the handshake, timers reset.
                handshake_done(tcb);
            }
            k.set_timer(fd, None);
            push_to_listener(k, fd, local);
        }
        // httpsim patch: a SYN on a synchronized connection gets a
        // challenge ACK (RFC 5961, Linux).
        TcpState::Established
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck
            if s.flags.syn && !s.flags.ack =>
        {
            let (seq, ack) = {
                let tcb = k.lookup(fd).unwrap().tcb.as_ref().unwrap();
                (tcb.snd_nxt, tcb.rcv_nxt)
            };
            let window = window_for(k, fd);
            emit(
                k,
                local,
                remote,
                TcpSegment {
                    src_port: local.port(),
                    dst_port: remote.port(),
                    seq,
                    ack,
                    flags: TcpFlags {
                        ack: true,
                        ..TcpFlags::default()
                    },
                    window,
                    payload: Bytes::new(),
                },
            );
        }
        // Data / ACK / FIN on an open or half-closed connection.
        TcpState::Established
        | TcpState::FinWait1
        | TcpState::FinWait2
        | TcpState::CloseWait
        | TcpState::Closing
        | TcpState::LastAck => handle_established(k, fd, s),
        TcpState::Closed => {
            // Socket is torn down but the TCB lingers until the shim
            // drops its Fd. Ignore any late inbound traffic.
        }
        // httpsim patch: a retransmitted SYN means our SYN-ACK was lost;
        // answer it at once as Linux does.
        TcpState::SynReceived if s.flags.syn && !s.flags.ack => emit_handshake(k, fd),
        // httpsim patch: an ACK that doesn't acknowledge our SYN (e.g. a
        // challenge ACK from a stale connection on this tuple) is
        // answered with RST <SEQ=SEG.ACK> (RFC 793), which clears the
        // stale side so the SYN retransmission gets through.
        TcpState::SynSent
            if s.flags.ack && s.ack != k.lookup(fd).unwrap().tcb.as_ref().unwrap().snd_nxt =>
        {
            emit_rst(k, local, remote, s)
        }
        TcpState::SynSent | TcpState::SynReceived => {
            // Handshake still in progress but segment doesn't match
            // the expected SYN-ACK / ACK. Drop for v1 — RST-on-
            // unexpected is a polish pass.
        }
    }
}

/// ACK processing, in-order data receipt, FIN handling, and waker
/// plumbing. Out-of-order segments are dropped — v1's fabric is
/// reliable.
// httpsim patch: no addresses, its ACK is owed, not emitted here.
fn handle_established(k: &mut Kernel, fd: Fd, s: &TcpSegment) {
    let mut wake_write = false;
    let mut wake_read = false;
    let mut send_ack = false;
    let mut progress = false;
    let recv_cap = k.recv_buf_cap;

    {
        let st = k.lookup_mut(fd).unwrap();
        let tcb = st.tcb.as_mut().unwrap();

        // ACK: drain ACK'd bytes from send_buf, refresh advertised
        // window. Any ACK is worth waking a parked writer for — either
        // bytes drained or the window grew.
        if s.flags.ack {
            let acked = s.ack.wrapping_sub(tcb.snd_una);
            // httpsim patch: after a go-back-N rewind an ACK may cover
            // bytes sent before it, up to `snd_max`.
            let in_flight = tcb.snd_max.wrapping_sub(tcb.snd_una);
            if acked > 0 && acked <= in_flight {
                // FIN (if sent) sits at `fin_seq` and consumes one seq
                // past the data. Don't try to drain buffer bytes for
                // the FIN's byte.
                let fin_acked = tcb
                    .fin_seq
                    .map(|fs| s.ack == fs.wrapping_add(1))
                    .unwrap_or(false);
                let data_bytes = if fin_acked { acked - 1 } else { acked };
                if data_bytes > 0 {
                    // httpsim patch: acknowledged chunks are dropped (an
                    // emptied queue holds no memory).
                    tcb.send_buf.advance(data_bytes as usize);
                }
                tcb.snd_una = s.ack;
                if tcb.snd_nxt.wrapping_sub(tcb.snd_una) as i32 <= 0 {
                    tcb.snd_nxt = tcb.snd_una;
                }
                // httpsim patch: progress — RTT sample, RTO back to its
                // base, retransmission timer restarted by egress.
                if let Some((end, sent)) = tcb.rtt_probe {
                    if s.ack.wrapping_sub(end) as i32 >= 0 {
                        rtt_sample(tcb, super::now().saturating_duration_since(sent));
                        tcb.rtt_probe = None;
                    }
                }
                tcb.retx_attempts = 0;
                tcb.rto = base_rto(tcb);
                progress = true;

                // Advance state machine on FIN-ACK.
                if fin_acked {
                    tcb.state = match tcb.state {
                        TcpState::FinWait1 => TcpState::FinWait2,
                        TcpState::Closing => TcpState::Closed,
                        TcpState::LastAck => TcpState::Closed,
                        other => other,
                    };
                }
            }
            // httpsim patch: any ACK answers the zero-window probes; a
            // reopened window ends the persist backoff.
            tcb.probes_out = 0;
            if tcb.snd_wnd == 0 && s.window > 0 && !progress {
                tcb.retx_attempts = 0;
            }
            tcb.snd_wnd = s.window;
            wake_write = true;
        }

        // Data: accept if it lands exactly at rcv_nxt and fits under
        // the receive cap. Gaps, overlaps, and overruns all drop.
        let tcb = st.tcb.as_mut().unwrap();
        // httpsim patch: a segment whose data or FIN is not (fully)
        // accepted — duplicate, out of order, no room — or a
        // zero-window probe (empty, `seq = rcv_nxt - 1`) is answered
        // with an ACK carrying our window (RFC 793), so the sender
        // learns where we are.
        let mut data_ok = s.payload.is_empty();
        if s.payload.is_empty() && !s.flags.fin && s.seq == tcb.rcv_nxt.wrapping_sub(1) {
            send_ack = true;
        }
        if !s.payload.is_empty() && s.seq == tcb.rcv_nxt && !tcb.peer_fin {
            let room = recv_cap.saturating_sub(tcb.recv_buf.len());
            let n = s.payload.len().min(room);
            data_ok = n == s.payload.len();
            if n > 0 {
                // httpsim patch: the payload is queued as it arrived
                // (shared, not copied).
                tcb.recv_buf.push(s.payload.slice(..n));
                tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(n as u32);
                wake_read = true;
                send_ack = true;
            }
        }
        if !data_ok {
            send_ack = true;
        }

        // FIN: consumes one sequence number right after any payload.
        // Accept only if it lands in order.
        let tcb = st.tcb.as_mut().unwrap();
        if s.flags.fin && (tcb.peer_fin || !data_ok) {
            // httpsim patch: duplicate or unreachable FIN — re-ACK.
            send_ack = true;
        }
        if s.flags.fin && !tcb.peer_fin && data_ok {
            let fin_seq = s.seq.wrapping_add(s.payload.len() as u32);
            if fin_seq != tcb.rcv_nxt {
                send_ack = true;
            }
            if fin_seq == tcb.rcv_nxt {
                tcb.peer_fin = true;
                tcb.rcv_nxt = tcb.rcv_nxt.wrapping_add(1);
                send_ack = true;
                // Wake any parked reader so it can observe EOF once
                // the buffer drains.
                wake_read = true;
                let tcb = st.tcb.as_mut().unwrap();
                tcb.state = match tcb.state {
                    TcpState::Established => TcpState::CloseWait,
                    TcpState::FinWait1 => TcpState::Closing,
                    TcpState::FinWait2 => TcpState::Closed,
                    other => other,
                };
            }
        }

        if wake_write {
            st.wake_write();
        }
        if wake_read {
            st.wake_read();
        }
    }
    if progress {
        k.set_timer(fd, None);
    }

    // httpsim patch: the ACK is owed, not sent: the socket is dirty
    // (`handle_on_connection`), so the egress pass of this same instant
    // sends one ACK for every segment delivered before it, or none if
    // a data segment or FIN of that pass carries it.
    if send_ack {
        k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap().ack_pending = true;
    }
}

fn accept_syn(
    k: &mut Kernel,
    listener_fd: Fd,
    local: SocketAddr,
    remote: SocketAddr,
    s: &TcpSegment,
) {
    // Check backlog capacity before we allocate anything.
    let (backlog, domain, ty) = {
        let st = k.lookup(listener_fd).expect("listener present");
        let listen = st.listen.as_ref().expect("listener has ListenState");
        (listen.backlog, st.domain, st.ty)
    };
    // Count in-progress (SynReceived) children + ready children
    // against backlog. Linux separates SYN backlog from accept backlog;
    // we collapse them for v1.
    // httpsim patch: half-open children are counted, not scanned for.
    let (in_flight, ready) = {
        let listen = k.lookup(listener_fd).unwrap().listen.as_ref().unwrap();
        (listen.half_open, listen.ready.len())
    };
    let _ = local;
    if in_flight + ready >= backlog {
        return; // drop — client will perceive as SYN loss
    }
    k.lookup_mut(listener_fd)
        .unwrap()
        .listen
        .as_mut()
        .unwrap()
        .half_open += 1;

    let child = k.sockets.insert(Socket::new(domain, ty));
    let bind_key = BindKey {
        domain,
        ty,
        local_addr: local.ip(),
        local_port: local.port(),
    };
    // Server child shares the listener's tuple. insert_binding allows
    // multiple fds at one key (REUSEPORT); demux to an accepted child
    // runs by 4-tuple (find_connection) before listener fallback, so
    // this doesn't cross wires.
    k.sockets.insert_binding(bind_key.clone(), child);
    let isn = initial_sequence(k);
    {
        let st = k.sockets.get_mut(child).unwrap();
        st.bound = Some(bind_key);
        st.peer = Some(Addr::Inet(remote));
        // httpsim patch: Tcb::new; the SYN-ACK is timed for the first RTT sample.
        let mut tcb = Tcb::new(
            TcpState::SynReceived,
            remote,
            isn,
            s.window,
            s.seq.wrapping_add(1),
        );
        tcb.rtt_probe = Some((isn.wrapping_add(1), super::now()));
        st.tcb = Some(tcb);
    }
    k.sockets.insert_connection(local, remote, child);
    emit(
        k,
        local,
        remote,
        TcpSegment {
            src_port: local.port(),
            dst_port: remote.port(),
            seq: isn,
            ack: s.seq.wrapping_add(1),
            flags: TcpFlags {
                syn: true,
                ack: true,
                ..TcpFlags::default()
            },
            window: DEFAULT_WINDOW,
            payload: Bytes::new(),
        },
    );
    // httpsim patch: SYN-ACK retransmission timer (1 s, doubling).
    k.set_timer(child, Some(super::now() + super::TCP_TIMEOUT_INIT));
}

fn push_to_listener(k: &mut Kernel, child: Fd, local: SocketAddr) {
    // The listener shares `local` with the child. Find it.
    let Some(listener_fd) = find_listener(k, local) else {
        return;
    };
    let wakers: Vec<_> = {
        let listen = k
            .lookup_mut(listener_fd)
            .unwrap()
            .listen
            .as_mut()
            .expect("listener");
        listen.ready.push_back(child);
        listen.half_open = listen.half_open.saturating_sub(1);
        listen.accept_wakers.drain(..).collect()
    };
    for w in wakers {
        w.wake();
    }
}

fn park_connect(k: &mut Kernel, fd: Fd, cx: &mut Context<'_>) {
    let st = k.lookup_mut(fd).expect("fd present");
    st.connect_waker = Some(cx.waker().clone());
}

fn wake_connect(k: &mut Kernel, fd: Fd) {
    if let Some(w) = k.lookup_mut(fd).unwrap().connect_waker.take() {
        w.wake();
    }
}

/// Decide how to close a TCP socket being dropped by the shim. Returns
/// `true` if the caller should reap the table entry immediately; `false`
/// means "leave the entry alive so the kernel can keep draining queued
/// bytes / FIN / ACKs, reap later in `segment_dirty`" (httpsim patch).
///
/// RST-worthy cases (unread bytes, or dropping with a live write side)
/// get an immediate RST and are reaped here. Clean drops on a
/// still-active connection queue FIN (if not already) and leave the
/// TCB alive through its close states. Non-TCP / listener / already
/// terminal sockets are reaped immediately.
pub(super) fn on_close(k: &mut Kernel, fd: Fd) -> bool {
    enum Action {
        Reap,
        Linger,
        Rst {
            local: SocketAddr,
            remote: SocketAddr,
        },
        CloseListener {
            local: SocketAddr,
        },
    }

    let action = {
        let Some(st) = k.sockets.get(fd) else {
            return true;
        };
        match (st.ty, st.tcb.as_ref(), st.listen.as_ref()) {
            (Type::Stream, None, Some(_)) => {
                // Listener being closed — RST any unaccepted children
                // (both accept-ready and still-handshaking) before
                // reaping the listener itself.
                Action::CloseListener {
                    local: bound_endpoint(st),
                }
            }
            (Type::Stream, Some(tcb), _)
                if !tcb.reset
                    && !tcb.timed_out
                    && tcb.state != TcpState::Closed
                    && tcb.state != TcpState::SynSent
                    && tcb.state != TcpState::SynReceived =>
            {
                if !tcb.recv_buf.is_empty() {
                    // Unread bytes on drop → RST (Linux behavior).
                    Action::Rst {
                        local: bound_endpoint(st),
                        remote: tcb.peer,
                    }
                } else {
                    // Clean drop: let TCP finish closing in the
                    // background. Our helper path below queues FIN if
                    // the app never called shutdown.
                    Action::Linger
                }
            }
            _ => Action::Reap,
        }
    };

    match action {
        Action::Reap => true,
        Action::Rst { local, remote } => {
            let (seq, ack) = {
                let tcb = k.lookup(fd).unwrap().tcb.as_ref().unwrap();
                (tcb.snd_nxt, tcb.rcv_nxt)
            };
            emit(
                k,
                local,
                remote,
                TcpSegment {
                    src_port: local.port(),
                    dst_port: remote.port(),
                    seq,
                    ack,
                    flags: TcpFlags {
                        rst: true,
                        ack: true,
                        ..TcpFlags::default()
                    },
                    window: 0,
                    payload: Bytes::new(),
                },
            );
            true
        }
        Action::Linger => {
            // Mark the socket as fd-closed and, if the app hasn't
            // shut the write side yet, queue a FIN. The TCB stays in
            // the table so egress / deliver can finish the close
            // handshake. `segment_dirty` reaps once TCP reaches a
            // terminal state.
            let st = k.sockets.get_mut(fd).unwrap();
            st.fd_closed = true;
            let tcb = st.tcb.as_mut().unwrap();
            if !tcb.wr_closed {
                let fin_seq = tcb.snd_una.wrapping_add(tcb.send_buf.len() as u32);
                tcb.fin_seq = Some(fin_seq);
                tcb.wr_closed = true;
                tcb.state = match tcb.state {
                    TcpState::Established => TcpState::FinWait1,
                    TcpState::CloseWait => TcpState::LastAck,
                    other => other,
                };
            }
            false
        }
        Action::CloseListener { local } => {
            // Collect every unaccepted child and RST each. Real Linux
            // does this synchronously on listener destroy.
            //
            // Unaccepted = sitting in `listen.ready` (established but
            // not yet handed to the app) OR still handshaking in
            // SynReceived. Accepted children own their own lifecycle
            // via the user's TcpStream.
            let listener_port = local.port();
            let wildcard = local.ip().is_unspecified();
            let mut children: Vec<Fd> = k
                .sockets
                .get(fd)
                .and_then(|s| s.listen.as_ref())
                .map(|l| l.ready.iter().copied().collect())
                .unwrap_or_default();
            for (child_fd, st) in k.sockets.iter() {
                if child_fd == fd || children.contains(&child_fd) {
                    continue;
                }
                let (Some(tcb), Some(bind)) = (st.tcb.as_ref(), st.bound.as_ref()) else {
                    continue;
                };
                if tcb.state != TcpState::SynReceived {
                    continue;
                }
                if bind.local_port != listener_port {
                    continue;
                }
                if !wildcard && bind.local_addr != local.ip() {
                    continue;
                }
                children.push(child_fd);
            }
            for child in children {
                let Some(st) = k.sockets.get(child) else {
                    continue;
                };
                let Some(tcb) = st.tcb.as_ref() else {
                    k.remove_socket(child);
                    continue;
                };
                let child_local = bound_endpoint(st);
                let (seq, ack, peer) = (tcb.snd_nxt, tcb.rcv_nxt, tcb.peer);
                emit(
                    k,
                    child_local,
                    peer,
                    TcpSegment {
                        src_port: child_local.port(),
                        dst_port: peer.port(),
                        seq,
                        ack,
                        flags: TcpFlags {
                            rst: true,
                            ack: true,
                            ..TcpFlags::default()
                        },
                        window: 0,
                        payload: Bytes::new(),
                    },
                );
                k.remove_socket(child);
            }
            true
        }
    }
}

/// Mark a connection as aborted. Buffers are cleared (post-RST reads
/// should see the error, not stale data), state moves to `Closed`,
/// `reset` is set so subsequent ops return `ConnectionReset`, and all
/// parked tasks wake so they can observe the new state.
fn abort_connection(k: &mut Kernel, fd: Fd) {
    abort_with(k, fd, AbortReason::Reset);
}

/// Abort via retransmit exhaustion. Same flush/wake as
/// [`abort_connection`] but surfaces as `TimedOut` rather than
/// `ConnectionReset`, matching Linux's `ETIMEDOUT` from
/// `tcp_retries2`. No RST is emitted — exhaustion means packets
/// weren't reaching the peer, so another RST would fare no better.
fn abort_timed_out(k: &mut Kernel, fd: Fd) {
    abort_with(k, fd, AbortReason::TimedOut);
}

enum AbortReason {
    Reset,
    TimedOut,
}

/// Returns the post-abort error a syscall should surface, if any.
/// `reset` wins over `timed_out` when both somehow land — RST is the
/// stronger signal — but in practice only one ever fires per TCB.
fn abort_error(tcb: &Tcb) -> Option<Error> {
    if tcb.reset {
        Some(Error::from(ErrorKind::ConnectionReset))
    } else if tcb.timed_out {
        Some(Error::from(ErrorKind::TimedOut))
    } else {
        None
    }
}

fn abort_with(k: &mut Kernel, fd: Fd, reason: AbortReason) {
    let st = k.lookup_mut(fd).unwrap();
    if let Some(tcb) = st.tcb.as_mut() {
        tcb.state = TcpState::Closed;
        match reason {
            AbortReason::Reset => tcb.reset = true,
            AbortReason::TimedOut => tcb.timed_out = true,
        }
        tcb.send_buf.clear();
        tcb.recv_buf.clear();
    }
    if let Some(w) = st.connect_waker.take() {
        w.wake();
    }
    st.wake_read();
    st.wake_write();
    // httpsim patch: no timer on a dead connection; egress reaps it if closed.
    k.set_timer(fd, None);
    k.mark_dirty(fd);
}

/// Find a listening socket bound to `local` (or the matching wildcard).
fn find_listener(k: &Kernel, local: SocketAddr) -> Option<Fd> {
    let domain = match local {
        SocketAddr::V4(_) => Domain::Inet,
        SocketAddr::V6(_) => Domain::Inet6,
    };
    let exact = BindKey {
        domain,
        ty: Type::Stream,
        local_addr: local.ip(),
        local_port: local.port(),
    };
    let wildcard_ip = match local {
        SocketAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        SocketAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let wildcard = BindKey {
        domain,
        ty: Type::Stream,
        local_addr: wildcard_ip,
        local_port: local.port(),
    };
    // httpsim patch: the listener index, not a scan of every child
    // sharing the listener's key.
    for key in [&exact, &wildcard] {
        if let Some(&fd) = k.sockets.find_listeners(key).first() {
            return Some(fd);
        }
    }
    None
}

/// Remove a half-open (`SynReceived`) child and release its backlog
/// slot on the listener.
// httpsim patch: keeps `ListenState::half_open` exact.
fn drop_half_open(k: &mut Kernel, fd: Fd) {
    if let Some(local) = k.lookup(fd).ok().and_then(|st| {
        st.bound
            .as_ref()
            .map(|b| SocketAddr::new(b.local_addr, b.local_port))
    }) {
        if let Some(l) = find_listener(k, local) {
            if let Some(listen) = k.lookup_mut(l).unwrap().listen.as_mut() {
                listen.half_open = listen.half_open.saturating_sub(1);
            }
        }
    }
    k.remove_socket(fd);
}

fn emit(k: &mut Kernel, src: SocketAddr, dst: SocketAddr, seg: TcpSegment) {
    k.push_outbound(Packet {
        src: src.ip(),
        dst: dst.ip(),
        ttl: 64,
        payload: Transport::Tcp(seg),
    });
}

fn local_endpoint(k: &Kernel, fd: Fd) -> SocketAddr {
    let bind = k
        .lookup(fd)
        .unwrap()
        .bound
        .as_ref()
        .expect("fd bound by now");
    let ip = if bind.local_addr.is_unspecified() {
        // Pick a concrete source IP. For loopback peers the shim-side
        // bind uses 127.0.0.1/::1 already; wildcard binds only arise
        // from `0.0.0.0:0`. Match against the TCB peer.
        let peer = k.lookup(fd).unwrap().tcb.as_ref().map(|t| t.peer.ip());
        match peer {
            Some(p) if p.is_loopback() => match p {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
            },
            Some(p) => k
                .addresses
                .iter()
                .copied()
                .find(|a| a.is_ipv4() == p.is_ipv4())
                .unwrap_or(bind.local_addr),
            None => bind.local_addr,
        }
    } else {
        bind.local_addr
    };
    SocketAddr::new(ip, bind.local_port)
}

fn auto_bind(k: &mut Kernel, fd: Fd, domain: Domain, dst: IpAddr) -> Result<()> {
    let local_ip = if dst.is_loopback() {
        match dst {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        }
    } else {
        k.addresses
            .iter()
            .copied()
            .find(|a| a.is_ipv4() == dst.is_ipv4())
            .ok_or_else(|| Error::from(ErrorKind::AddrNotAvailable))?
    };
    // httpsim patch: ephemeral ports exhausted is EADDRNOTAVAIL on
    // Linux's connect(2), not EADDRINUSE.
    let port = k
        .sockets
        .allocate_port(domain, Type::Stream)
        .ok_or_else(|| Error::from(ErrorKind::AddrNotAvailable))?;
    let key = BindKey {
        domain,
        ty: Type::Stream,
        local_addr: local_ip,
        local_port: port,
    };
    k.sockets.insert_binding(key.clone(), fd);
    k.sockets.get_mut(fd).expect("fd present").bound = Some(key);
    Ok(())
}

fn initial_sequence(k: &mut Kernel) -> u32 {
    let v = k.tcp_isn;
    // Deterministic bump — real kernels randomize, but we want
    // reproducibility. Large step to keep successive connections'
    // sequence spaces from colliding visually.
    k.tcp_isn = k.tcp_isn.wrapping_add(0x1_0000);
    v
}

/// Copy bytes into the socket's `send_buf`, up to the remaining
/// capacity. Returns `Pending` (parking write-side waker) when the buffer
/// is already full. Segmentation and the actual wire emit happen later,
/// in `segment_dirty` during `egress` (httpsim patch).
pub(super) fn poll_send(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<Result<usize>> {
    poll_send_slices(k, fd, cx, &[buf])
}

/// [`poll_send`] of the slices in order, as one write of them
/// concatenated (httpsim patch: `writev(2)`). What the buffer takes
/// becomes one chunk of exactly that many bytes: the only copy a byte
/// makes in the kernel (segments share the chunk, see `chunks.rs`).
pub(super) fn poll_send_slices<B: std::ops::Deref<Target = [u8]>>(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    bufs: &[B],
) -> Poll<Result<usize>> {
    let total = bufs.iter().map(|b| b.len()).sum();
    poll_send_with(k, fd, cx, total, |q, n| {
        q.push(super::chunks::chunk_of(bufs, n))
    })
}

/// [`poll_send`] of bytes the send buffer shares instead of copying
/// (httpsim patch: a writer that holds its bytes as `Bytes`, static
/// ones for instance, hands them over without a copy).
pub(super) fn poll_send_shared(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    bytes: &Bytes,
) -> Poll<Result<usize>> {
    poll_send_with(k, fd, cx, bytes.len(), |q, n| q.push(bytes.slice(..n)))
}

/// The body of the sends: checks the socket, then `push` queues the
/// first `n` of the `total` bytes offered, `n` being what fits.
// httpsim patch: shared by the copying and the sharing send.
fn poll_send_with(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    total: usize,
    push: impl FnOnce(&mut ChunkQueue, usize),
) -> Poll<Result<usize>> {
    let send_cap = k.send_buf_cap;
    let st = match k.lookup_mut(fd) {
        Ok(st) => st,
        Err(e) => return Poll::Ready(Err(e)),
    };
    let Some(tcb) = st.tcb.as_ref() else {
        return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
    };
    if let Some(e) = abort_error(tcb) {
        return Poll::Ready(Err(e));
    }
    if tcb.wr_closed {
        return Poll::Ready(Err(Error::from(ErrorKind::BrokenPipe)));
    }
    // Accept writes while the connection is open for sending. CloseWait
    // means the peer finished but we can keep sending until the app
    // closes too.
    if !matches!(tcb.state, TcpState::Established | TcpState::CloseWait) {
        return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
    }
    let space = send_cap.saturating_sub(tcb.send_buf.len());
    if space == 0 {
        st.register_write_waker(cx.waker());
        return Poll::Pending;
    }
    let n = total.min(space);
    if n > 0 {
        push(&mut st.tcb.as_mut().unwrap().send_buf, n);
    }
    // httpsim patch: egress segments only dirty sockets.
    k.mark_dirty(fd);
    Poll::Ready(Ok(n))
}

/// Close the write side. Queues a FIN to ride out after any buffered
/// data drains; state advances on FIN-ACK. Idempotent on an already-
/// shut side.
pub(super) fn poll_shutdown_write(
    k: &mut Kernel,
    fd: Fd,
    _cx: &mut Context<'_>,
) -> Poll<Result<()>> {
    let st = match k.lookup_mut(fd) {
        Ok(st) => st,
        Err(e) => return Poll::Ready(Err(e)),
    };
    let Some(tcb) = st.tcb.as_mut() else {
        return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
    };
    if let Some(e) = abort_error(tcb) {
        return Poll::Ready(Err(e));
    }
    if tcb.wr_closed {
        return Poll::Ready(Ok(()));
    }
    // FIN rides out after any queued bytes — its seq sits right past
    // the last byte the app accepted into send_buf.
    let fin_seq = tcb.snd_una.wrapping_add(tcb.send_buf.len() as u32);
    tcb.fin_seq = Some(fin_seq);
    tcb.wr_closed = true;
    tcb.state = match tcb.state {
        TcpState::Established => TcpState::FinWait1,
        TcpState::CloseWait => TcpState::LastAck,
        other => other,
    };
    // httpsim patch: the FIN goes out at the next egress.
    k.mark_dirty(fd);
    Poll::Ready(Ok(()))
}

/// Drain bytes from the socket's `recv_buf` into `buf`. Returns
/// `Pending` (parking read-side waker) when the buffer is empty. An ACK
/// is emitted afterward if the drain opened enough window to be worth
/// advertising — avoids silly-window syndrome on tiny reads.
pub(super) fn poll_recv(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize>> {
    let max = buf.len();
    // httpsim patch: read chunks are dropped (an emptied queue holds no memory).
    poll_recv_with(k, fd, cx, max, |rb, n| rb.take_into(&mut buf[..n]))
}

/// [`poll_recv`] handing over the drained bytes (at most `max`) as the
/// chunks they lie in, the first returned (empty at EOF), any further
/// ones appended to `more` (httpsim patch: a reader that keeps what it
/// reads as `Bytes` needs no scratch buffer of its own, and takes a
/// range across segments without a copy).
pub(super) fn poll_recv_pieces(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    max: usize,
    more: &mut Vec<Bytes>,
) -> Poll<Result<Bytes>> {
    let mut first = Bytes::new();
    poll_recv_with(k, fd, cx, max, |rb, n| first = rb.take_pieces(n, more)).map_ok(|_| first)
}

/// The body of [`poll_recv`] and [`poll_recv_pieces`]: `take` gets the
/// receive buffer and how many of its bytes (at most `max`, never none)
/// to remove from its front (httpsim patch).
fn poll_recv_with(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    max: usize,
    take: impl FnOnce(&mut ChunkQueue, usize),
) -> Poll<Result<usize>> {
    let recv_cap = k.recv_buf_cap;
    let (n, local) = {
        let st = match k.lookup_mut(fd) {
            Ok(st) => st,
            Err(e) => return Poll::Ready(Err(e)),
        };
        // Inspect without holding a borrow across the mutable ops.
        let (empty, peer_fin, abort_err, readable_state) = match st.tcb.as_ref() {
            None => return Poll::Ready(Err(Error::from(ErrorKind::NotConnected))),
            Some(t) => (
                t.recv_buf.is_empty(),
                t.peer_fin,
                abort_error(t),
                matches!(
                    t.state,
                    TcpState::Established
                        | TcpState::FinWait1
                        | TcpState::FinWait2
                        | TcpState::CloseWait
                ),
            ),
        };
        // Abort wins over buffered data — callers need the error.
        if let Some(e) = abort_err {
            return Poll::Ready(Err(e));
        }
        if empty {
            // Clean EOF — peer sent FIN and we've drained everything.
            // `Ready(Ok(0))` is the standard EOF signal.
            if peer_fin {
                return Poll::Ready(Ok(0));
            }
            if !readable_state {
                return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
            }
            st.register_read_waker(cx.waker());
            return Poll::Pending;
        }
        let local = bound_endpoint(st);
        let tcb = st.tcb.as_mut().unwrap();
        let n = tcb.recv_buf.len().min(max);
        if n == 0 {
            return Poll::Ready(Ok(0));
        }
        take(&mut tcb.recv_buf, n);
        (n, local)
    };

    // httpsim patch: window update as Linux's __tcp_cleanup_rbuf: when
    // the window we could offer now is at least twice the one last
    // advertised (so always when it reopens from zero), or reopens
    // from below one MSS to at least one MSS.
    let should_update_window = {
        let tcb = k.lookup(fd).unwrap().tcb.as_ref().unwrap();
        let old = tcb.rcv_wnd_adv as usize;
        let new = advertised_window(recv_cap, tcb.recv_buf.len()) as usize;
        let mss = mss_for(k, local.ip());
        !tcb.peer_fin && new > old && (new >= 2 * old || (old < mss && new >= mss))
    };
    // httpsim patch: owed like an ACK (see `handle_established`): the
    // egress pass of this instant sends it, with the window as it is
    // then, on a data segment if there is one.
    if should_update_window {
        k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap().ack_pending = true;
        k.mark_dirty(fd);
    }

    Poll::Ready(Ok(n))
}

/// Like [`poll_read`] but leaves `recv_buf` intact. No window update
/// is emitted — we haven't actually freed any buffer space.
pub(super) fn poll_peek(
    k: &mut Kernel,
    fd: Fd,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<Result<usize>> {
    let st = match k.lookup_mut(fd) {
        Ok(st) => st,
        Err(e) => return Poll::Ready(Err(e)),
    };
    let Some(tcb) = st.tcb.as_ref() else {
        return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
    };
    if let Some(e) = abort_error(tcb) {
        return Poll::Ready(Err(e));
    }
    if tcb.recv_buf.is_empty() {
        if tcb.peer_fin {
            return Poll::Ready(Ok(0));
        }
        if !matches!(
            tcb.state,
            TcpState::Established | TcpState::FinWait1 | TcpState::FinWait2 | TcpState::CloseWait
        ) {
            return Poll::Ready(Err(Error::from(ErrorKind::NotConnected)));
        }
        st.register_read_waker(cx.waker());
        return Poll::Pending;
    }
    let n = tcb.recv_buf.len().min(buf.len());
    tcb.recv_buf.copy_to(0, &mut buf[..n]);
    Poll::Ready(Ok(n))
}

/// Fire every TCP timer due at `now` (httpsim patch: replaces the
/// count-based sweep). Per socket, by state and timer kind:
///
/// - `SynSent` / `SynReceived`: re-send the SYN / SYN-ACK, double the
///   RTO; after `tcp_syn_retries` / `tcp_synack_retries` the next
///   expiry fails the connect with `TimedOut` (client) or drops the
///   half-open child (server).
/// - data in flight: go-back-N — rewind `snd_nxt = snd_una`, double
///   the RTO (cap 120 s); after `tcp_retries2` retransmissions the
///   next expiry fails the socket with `TimedOut`.
/// - persist (peer window zero, bytes waiting): send a zero-window
///   probe, back off like the RTO; `tcp_retries2` unanswered probes
///   fail the socket.
///
/// O(timers due · log n).
pub(super) fn fire_timers(k: &mut Kernel, now: Instant) {
    while let Some(&(at, fd)) = k.timers.first() {
        if at > now {
            break;
        }
        k.timers.pop_first();
        let Some(st) = k.sockets.get_mut(fd) else {
            continue;
        };
        let Some(tcb) = st.tcb.as_mut() else {
            continue;
        };
        if tcb.timer != Some(at) {
            continue;
        }
        tcb.timer = None;
        let local = bound_endpoint(st);
        let tcb = st.tcb.as_mut().unwrap();
        let remote = tcb.peer;
        match tcb.state {
            TcpState::SynSent | TcpState::SynReceived => {
                let syn_ack = tcb.state == TcpState::SynReceived;
                let max = if syn_ack {
                    k.tcp_synack_retries
                } else {
                    k.tcp_syn_retries
                };
                if tcb.retx_attempts >= max {
                    k.events.push(KernelEvent::TimedOut {
                        local,
                        remote,
                        handshake: true,
                    });
                    if syn_ack {
                        // Linux drops the request sock: the half-open
                        // child was never visible to the application.
                        drop_half_open(k, fd);
                    } else {
                        abort_timed_out(k, fd);
                    }
                    continue;
                }
                tcb.retx_attempts += 1;
                tcb.rto = (tcb.rto * 2).min(super::TCP_RTO_MAX);
                tcb.rtt_probe = None;
                let (attempt, rto) = (tcb.retx_attempts, tcb.rto);
                k.events.push(KernelEvent::SynRetransmit {
                    local,
                    remote,
                    syn_ack,
                    attempt,
                });
                emit_handshake(k, fd);
                k.set_timer(fd, Some(now + rto));
            }
            TcpState::Closed => {}
            TcpState::FinWait2 if tcb.timer_kind == TimerKind::FinWait2 => {
                if st.fd_closed {
                    k.remove_socket(fd);
                }
            }
            _ => {
                let in_flight = tcb.snd_nxt.wrapping_sub(tcb.snd_una);
                let unsent = tcb.send_buf.len().saturating_sub(in_flight as usize);
                if in_flight > 0 {
                    if tcb.retx_attempts >= k.tcp_retries2 {
                        k.events.push(KernelEvent::TimedOut {
                            local,
                            remote,
                            handshake: false,
                        });
                        abort_timed_out(k, fd);
                        continue;
                    }
                    tcb.retx_attempts += 1;
                    tcb.rto = (tcb.rto * 2).min(super::TCP_RTO_MAX);
                    tcb.rtt_probe = None;
                    let fin_in_flight = tcb
                        .fin_seq
                        .is_some_and(|fs| tcb.snd_nxt == fs.wrapping_add(1));
                    let bytes = in_flight as usize - usize::from(fin_in_flight);
                    let (seq, attempt, rto) = (tcb.snd_una, tcb.retx_attempts, tcb.rto);
                    // Go-back-N: segment_dirty re-chops from snd_una.
                    tcb.snd_nxt = tcb.snd_una;
                    tcb.timer_kind = TimerKind::Retransmit;
                    k.events.push(KernelEvent::Retransmit {
                        local,
                        remote,
                        seq,
                        bytes,
                        attempt,
                    });
                    k.set_timer(fd, Some(now + rto));
                    k.mark_dirty(fd);
                } else if unsent > 0 && tcb.snd_wnd == 0 {
                    if tcb.probes_out >= k.tcp_retries2 {
                        k.events.push(KernelEvent::TimedOut {
                            local,
                            remote,
                            handshake: false,
                        });
                        abort_timed_out(k, fd);
                        continue;
                    }
                    tcb.probes_out += 1;
                    tcb.retx_attempts += 1;
                    let attempt = tcb.probes_out;
                    let (seq, ack) = (tcb.snd_una.wrapping_sub(1), tcb.rcv_nxt);
                    let next = persist_interval(tcb);
                    tcb.timer_kind = TimerKind::Persist;
                    k.events.push(KernelEvent::WindowProbe {
                        local,
                        remote,
                        attempt,
                    });
                    let window = window_for(k, fd);
                    emit(
                        k,
                        local,
                        remote,
                        TcpSegment {
                            src_port: local.port(),
                            dst_port: remote.port(),
                            seq,
                            ack,
                            flags: TcpFlags {
                                ack: true,
                                ..TcpFlags::default()
                            },
                            window,
                            payload: Bytes::new(),
                        },
                    );
                    k.set_timer(fd, Some(now + next));
                } else {
                    // Stale: let egress decide afresh.
                    k.mark_dirty(fd);
                }
            }
        }
    }
}

/// Handshake finished: take the RTT sample if the SYN / SYN-ACK was
/// never retransmitted (Karn), and start data at the base RTO.
fn handshake_done(tcb: &mut Tcb) {
    if let Some((_, sent)) = tcb.rtt_probe.take() {
        if tcb.retx_attempts == 0 {
            rtt_sample(tcb, super::now().saturating_duration_since(sent));
        }
    }
    tcb.retx_attempts = 0;
    tcb.rto = base_rto(tcb);
}

/// RFC 6298 §2 estimator.
fn rtt_sample(tcb: &mut Tcb, r: Duration) {
    match tcb.srtt {
        None => {
            tcb.srtt = Some(r);
            tcb.rttvar = r / 2;
        }
        Some(srtt) => {
            let err = srtt.abs_diff(r);
            tcb.rttvar = (tcb.rttvar * 3 + err) / 4;
            tcb.srtt = Some((srtt * 7 + r) / 8);
        }
    }
}

/// Un-backed-off RTO: Linux's `srtt + max(TCP_RTO_MIN, 4·rttvar)`,
/// `TCP_RTO_MIN` before any sample, never above `TCP_RTO_MAX`.
fn base_rto(tcb: &Tcb) -> Duration {
    match tcb.srtt {
        None => super::TCP_RTO_MIN,
        Some(srtt) => (srtt + (tcb.rttvar * 4).max(super::TCP_RTO_MIN)).min(super::TCP_RTO_MAX),
    }
}

/// Next zero-window probe interval: the base RTO backed off per probe.
fn persist_interval(tcb: &Tcb) -> Duration {
    let shift = tcb.retx_attempts.min(16);
    (base_rto(tcb) * (1u32 << shift)).min(super::TCP_RTO_MAX)
}

/// Arm, keep or disarm `fd`'s timer after egress looked at it: the
/// retransmission timer while anything is in flight, the persist
/// timer while bytes wait on a zero window, none otherwise.
/// Handshake timers are armed where the SYN / SYN-ACK is sent.
fn update_timer(k: &mut Kernel, fd: Fd) {
    let Some(tcb) = k.sockets.get(fd).and_then(|s| s.tcb.as_ref()) else {
        return;
    };
    let orphan = k.sockets.get(fd).unwrap().fd_closed;
    let want = match tcb.state {
        TcpState::SynSent | TcpState::SynReceived => return,
        TcpState::Closed => None,
        // httpsim patch: an orphaned FinWait2 socket is dropped after
        // tcp_fin_timeout, so a peer that never closes cannot pin the
        // port forever.
        TcpState::FinWait2 if orphan => {
            if tcb.timer.is_some() && tcb.timer_kind == TimerKind::FinWait2 {
                return;
            }
            Some((super::now() + super::TCP_FIN_TIMEOUT, TimerKind::FinWait2))
        }
        _ => {
            let in_flight = tcb.snd_nxt.wrapping_sub(tcb.snd_una);
            let unsent = tcb.send_buf.len().saturating_sub(in_flight as usize);
            let armed = |kind| tcb.timer.is_some() && tcb.timer_kind == kind;
            if in_flight > 0 {
                if armed(TimerKind::Retransmit) {
                    return;
                }
                Some((super::now() + tcb.rto, TimerKind::Retransmit))
            } else if unsent > 0 && tcb.snd_wnd == 0 {
                if armed(TimerKind::Persist) {
                    return;
                }
                Some((super::now() + persist_interval(tcb), TimerKind::Persist))
            } else {
                None
            }
        }
    };
    if let Some((_, kind)) = want {
        k.sockets
            .get_mut(fd)
            .unwrap()
            .tcb
            .as_mut()
            .unwrap()
            .timer_kind = kind;
    }
    k.set_timer(fd, want.map(|(at, _)| at));
}

/// Re-emit the SYN (client, `SynSent`) or SYN-ACK (server,
/// `SynReceived`) for a handshake that's been stuck. Reuses
/// `snd_una - 1` as the seq — matches the ISN used at initial emit,
/// since `snd_una` was set to `isn + 1` there.
fn emit_handshake(k: &mut Kernel, fd: Fd) {
    let st = k.lookup(fd).expect("retx candidate");
    let tcb = st.tcb.as_ref().expect("handshake state has tcb");
    let local = bound_endpoint(st);
    let remote = tcb.peer;
    let seq = tcb.snd_una.wrapping_sub(1);
    let (ack_flag, ack) = match tcb.state {
        TcpState::SynSent => (false, 0),
        TcpState::SynReceived => (true, tcb.rcv_nxt),
        _ => unreachable!("emit_handshake only called for SynSent/SynReceived"),
    };
    emit(
        k,
        local,
        remote,
        TcpSegment {
            src_port: local.port(),
            dst_port: remote.port(),
            seq,
            ack,
            flags: TcpFlags {
                syn: true,
                ack: ack_flag,
                ..TcpFlags::default()
            },
            window: DEFAULT_WINDOW,
            payload: Bytes::new(),
        },
    );
}

/// Segment, re-time and reap the sockets touched since the last
/// egress (httpsim patch: the dirty set replaces sweeping every
/// socket, and absorbs `reap_closed`). Invoked by `egress` before the
/// outbound drain, so newly-segmented packets ride the same pump that
/// handles UDP and handshake traffic.
pub(super) fn segment_dirty(k: &mut Kernel) {
    let mut batch = std::mem::take(&mut k.dirty);
    for &fd in &batch {
        let Some(st) = k.sockets.get(fd) else {
            continue;
        };
        let Some(t) = st.tcb.as_ref() else {
            if st.fd_closed {
                k.remove_socket(fd);
            }
            continue;
        };
        let transmittable = matches!(
            t.state,
            TcpState::Established
                | TcpState::CloseWait
                | TcpState::FinWait1
                | TcpState::Closing
                | TcpState::LastAck
        );
        if transmittable {
            segment_one(k, fd);
        }
        flush_ack(k, fd);
        update_timer(k, fd);
        let st = k.sockets.get(fd).unwrap();
        let t = st.tcb.as_ref().unwrap();
        if st.fd_closed && (t.state == TcpState::Closed || t.reset) {
            k.remove_socket(fd);
        }
    }
    // httpsim patch: the emptied set goes back, so the next pass's
    // marks reuse its table instead of allocating one.
    if k.dirty.is_empty() {
        batch.clear();
        k.dirty = batch;
    }
}

/// Sends the ACK a socket owes if no segment of this egress pass
/// carried it (httpsim patch, see `Tcb::ack_pending`). A reset or
/// timed-out connection owes nothing.
fn flush_ack(k: &mut Kernel, fd: Fd) {
    let st = k.lookup_mut(fd).unwrap();
    let local = bound_endpoint(st);
    let tcb = st.tcb.as_mut().unwrap();
    if !std::mem::take(&mut tcb.ack_pending) || tcb.reset || tcb.timed_out {
        return;
    }
    let (remote, seq, ack) = (tcb.peer, tcb.snd_nxt, tcb.rcv_nxt);
    let window = window_for(k, fd);
    emit(
        k,
        local,
        remote,
        TcpSegment {
            src_port: local.port(),
            dst_port: remote.port(),
            seq,
            ack,
            flags: TcpFlags {
                ack: true,
                ..TcpFlags::default()
            },
            window,
            payload: Bytes::new(),
        },
    );
}

fn segment_one(k: &mut Kernel, fd: Fd) {
    let local = {
        let st = k.lookup(fd).unwrap();
        bound_endpoint(st)
    };
    // httpsim patch: segmentation offload (`KernelConfig::tso_bytes`).
    let mss = mss_for(k, local.ip()).max(k.tso_bytes);
    let tso = k.tso_bytes > 0;

    loop {
        let (seq, payload, is_fin) = {
            let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
            let in_flight = tcb.snd_nxt.wrapping_sub(tcb.snd_una) as usize;
            let unsent = tcb.send_buf.len().saturating_sub(in_flight);
            let wnd_remaining = (tcb.snd_wnd as usize).saturating_sub(in_flight);
            let fin_pending = tcb.fin_seq.map(|fs| tcb.snd_nxt == fs).unwrap_or(false);

            if unsent > 0 && wnd_remaining > 0 {
                let mut n = unsent.min(mss).min(wnd_remaining);
                // httpsim patch: with segmentation offload, where a
                // segment ends is not observable; a large shared chunk
                // then crosses as its own segments instead of being
                // gathered (copied) together with its neighbours.
                if tso {
                    n = tcb.send_buf.cut(in_flight, n, TSO_GATHER_MAX);
                }
                let start = in_flight;
                let end = start + n;
                // httpsim patch: a slice of the written chunk, not a copy.
                let payload = tcb.send_buf.slice(start, end);
                let seq = tcb.snd_nxt;
                tcb.snd_nxt = tcb.snd_nxt.wrapping_add(n as u32);
                (seq, payload, false)
            } else if fin_pending && unsent == 0 {
                // Emit the FIN. It occupies one sequence number but
                // carries no payload. httpsim patch: a FIN after all
                // data goes out even on a zero window, as on Linux,
                // so a close never waits on the persist timer.
                let seq = tcb.snd_nxt;
                tcb.snd_nxt = tcb.snd_nxt.wrapping_add(1);
                (seq, Bytes::new(), true)
            } else {
                return;
            }
        };
        // httpsim patch: track the highest sequence sent and time one
        // new segment at a time (never a retransmission: Karn).
        {
            let now = super::now();
            let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
            if tcb.snd_nxt.wrapping_sub(tcb.snd_max) as i32 > 0 {
                if tcb.rtt_probe.is_none() && seq.wrapping_sub(tcb.snd_max) as i32 >= 0 {
                    tcb.rtt_probe = Some((tcb.snd_nxt, now));
                }
                tcb.snd_max = tcb.snd_nxt;
            }
        }
        let (remote, rcv_nxt) = {
            let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
            // httpsim patch: this segment carries the owed ACK.
            tcb.ack_pending = false;
            (tcb.peer, tcb.rcv_nxt)
        };
        let window = window_for(k, fd);
        emit(
            k,
            local,
            remote,
            TcpSegment {
                src_port: local.port(),
                dst_port: remote.port(),
                seq,
                ack: rcv_nxt,
                flags: TcpFlags {
                    ack: true,
                    psh: !is_fin && !payload.is_empty(),
                    fin: is_fin,
                    ..TcpFlags::default()
                },
                window,
                payload,
            },
        );
    }
}

/// Maximum TCP payload for a segment leaving `src_ip`. Mirrors the UDP
/// MTU math: pick the right MTU (loopback vs. external), subtract IP +
/// TCP headers.
fn mss_for(k: &Kernel, src_ip: IpAddr) -> usize {
    let ip_hdr = match src_ip {
        IpAddr::V4(_) => packet::IPV4_HEADER_SIZE as u32,
        IpAddr::V6(_) => packet::IPV6_HEADER_SIZE as u32,
    };
    let mtu = if src_ip.is_loopback() {
        k.loopback_mtu
    } else {
        k.mtu
    };
    mtu.saturating_sub(ip_hdr)
        .saturating_sub(packet::TCP_HEADER_SIZE as u32) as usize
}

/// Pull the local endpoint for an established socket — wildcard binds
/// never reach here (the handshake path concretizes the source IP
/// before inserting into the TCB).
fn bound_endpoint(st: &Socket) -> SocketAddr {
    let bind = st.bound.as_ref().expect("bound at handshake time");
    SocketAddr::new(bind.local_addr, bind.local_port)
}

/// The window to put in a segment leaving `fd` now, remembered as the
/// last advertised one.
// httpsim patch: window updates compare against what was advertised.
fn window_for(k: &mut Kernel, fd: Fd) -> u16 {
    let cap = k.recv_buf_cap;
    let tcb = k.lookup_mut(fd).unwrap().tcb.as_mut().unwrap();
    let w = advertised_window(cap, tcb.recv_buf.len());
    tcb.rcv_wnd_adv = w;
    w
}

fn advertised_window(recv_buf_cap: usize, recv_buf_len: usize) -> u16 {
    recv_buf_cap
        .saturating_sub(recv_buf_len)
        .min(u16::MAX as usize) as u16
}

const DEFAULT_WINDOW: u16 = 65535;

/// With segmentation offload, the most bytes of several send-buffer
/// chunks one segment gathers (copies) into one payload; a segment
/// that would gather more ends at a chunk boundary (httpsim patch, see
/// `ChunkQueue::cut`). A response head and a small body still cross as
/// one segment.
const TSO_GATHER_MAX: usize = 16 * 1024;

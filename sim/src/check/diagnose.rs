//! Why requests waited: the sentence a stall or a lost request is reported with.
//!
//! Given a time window and the requests pending during it, [`why_waiting`] looks at what the trace
//! says held them: faults in force, the client's sockets to the server (busy at the server, held by
//! a response body the caller never read, idle), where each pending request was (queued for a
//! socket, at the server unanswered, never delivered), and what ended the wait. For example:
//! "requests 6-20 waited 180 s: all 5 sockets to server:80 were held by responses whose bodies
//! were never read; it ended when the server's idle timeout closed conns 1-5".
//!
//! It reads the trace only; it cannot see inside a pool, so a pool that emits no `checkout`
//! events is described by its sockets alone.

use std::collections::BTreeMap;

use super::ranges;
use super::timeline::Timeline;
use crate::error::ErrorKind;
use crate::fmt::secs;
use crate::trace::{CloseReason, ConnId, ReqId};

/// Faults in force at some point of the window `[from, to)`, described.
fn faults_in_force(tl: &Timeline, from: u64, to: u64) -> Vec<String> {
    // Faults that last until undone: (start verb, undo verb).
    const LASTING: [(&str, &str); 3] = [
        ("partition", "repair"),
        ("hold", "release"),
        ("crash", "bounce"),
    ];
    let mut active: BTreeMap<(&str, &str), u64> = BTreeMap::new();
    let mut out = Vec::new();
    for (t, what) in &tl.faults {
        if *t >= to {
            break;
        }
        let (verb, rest) = what.split_once(' ').unwrap_or((what.as_str(), ""));
        if let Some((start, _)) = LASTING.iter().find(|(s, _)| *s == verb) {
            active.insert((start, rest), *t);
        } else if let Some((start, _)) = LASTING.iter().find(|(_, u)| *u == verb) {
            if let Some(began) = active.remove(&(*start, rest)) {
                if *t > from {
                    out.push(format!(
                        "{start} {rest} from {} to {}",
                        secs(began),
                        secs(*t)
                    ));
                }
            }
        } else if *t >= from {
            // One-shot changes (latency, fail rate) inside the window.
            out.push(format!("{what} at {}", secs(*t)));
        }
    }
    for ((start, rest), began) in active {
        out.push(format!("{start} {rest} in force since {}", secs(began)));
    }
    out
}

/// What one client socket was doing at `t`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SocketState {
    /// The server had received a request on it and not answered.
    AtServer,
    /// Its last response's body was not read (yet).
    HeldBody { never_read: bool },
    /// Nothing in flight.
    Idle,
}

fn socket_state(tl: &Timeline, conn: ConnId, t: u64) -> SocketState {
    if let Some(c) = tl.conns.get(&conn) {
        if !c.unanswered_at(t).is_empty() {
            return SocketState::AtServer;
        }
    }
    // The last request whose response head came on this socket before `t`.
    let last = tl
        .reqs
        .values()
        .flat_map(|f| f.heads.iter().map(move |h| (h, f)))
        .filter(|(h, _)| h.1 == Some(conn) && h.0 <= t)
        .max_by_key(|(h, _)| h.0);
    if let Some((_, f)) = last {
        match f.body_end {
            None => return SocketState::HeldBody { never_read: true },
            Some((e, _)) if e > t => return SocketState::HeldBody { never_read: false },
            _ => {}
        }
    }
    SocketState::Idle
}

/// Explains why `reqs` waited from `from` to `to` (µs), in one line.
pub fn why_waiting(tl: &Timeline, reqs: &[ReqId], from: u64, to: u64) -> String {
    let mut causes: Vec<String> = Vec::new();
    // The state in the middle of the wait: at its very start, sockets may still be connecting
    // and requests on their way, which would describe the moment rather than the wait.
    let at = from + (to - from) / 2;

    let faults = faults_in_force(tl, from, to);
    if !faults.is_empty() {
        causes.push(faults.join(", "));
    }
    let by_target = client_sockets(tl, at);
    if by_target.is_empty() {
        causes.push("no socket to the server was open".into());
    }
    for (target, socks) in &by_target {
        causes.push(sockets_cause(target, socks));
    }
    let all_idle = !by_target.is_empty()
        && by_target
            .values()
            .flatten()
            .all(|s| s.1 == SocketState::Idle);
    causes.extend(request_causes(tl, reqs, at, all_idle));

    let mut line = format!(
        "{} waited {}: {}",
        req_words(reqs),
        secs(to - from),
        if causes.is_empty() {
            "the trace shows no cause".to_string()
        } else {
            causes.join("; ")
        }
    );
    if let Some(end) = what_ended(tl, to) {
        line.push_str("; ");
        line.push_str(&end);
    }
    line
}

/// The client's sockets open at `at`, by target, each with its state then.
fn client_sockets(tl: &Timeline, at: u64) -> BTreeMap<&str, Vec<(ConnId, SocketState)>> {
    let mut by_target: BTreeMap<&str, Vec<(ConnId, SocketState)>> = BTreeMap::new();
    for (id, c) in &tl.conns {
        if c.client_open_at(at) {
            by_target
                .entry(c.to.as_str())
                .or_default()
                .push((*id, socket_state(tl, *id, at)));
        }
    }
    by_target
}

/// What the sockets to one target were doing: all held by unread bodies (the stall's usual
/// cause, said in one sentence), or how many were waiting, holding a body or idle.
fn sockets_cause(target: &str, socks: &[(ConnId, SocketState)]) -> String {
    let n = socks.len();
    let plural = if n == 1 { "socket" } else { "sockets" };
    let held: Vec<_> = socks
        .iter()
        .filter(|s| matches!(s.1, SocketState::HeldBody { .. }))
        .collect();
    if held.len() == n {
        let never = held
            .iter()
            .all(|s| s.1 == SocketState::HeldBody { never_read: true });
        let all = if n == 1 { "the only" } else { "all" };
        return format!(
            "{all} {n} {plural} to {target} {} held by responses whose bodies were {}",
            if n == 1 { "was" } else { "were" },
            if never { "never read" } else { "not read yet" }
        );
    }
    let mut parts = Vec::new();
    for (label, pick) in [
        ("waiting for the server", SocketState::AtServer),
        (
            "holding an unread body",
            SocketState::HeldBody { never_read: true },
        ),
        ("idle", SocketState::Idle),
    ] {
        let ids: Vec<u64> = socks
            .iter()
            .filter(|s| std::mem::discriminant(&s.1) == std::mem::discriminant(&pick))
            .map(|s| s.0)
            .collect();
        if !ids.is_empty() {
            parts.push(format!("{label}: conn {}", ranges(&ids)));
        }
    }
    format!("{n} {plural} to {target} ({})", parts.join("; "))
}

/// Where each waiting request was at `at`: queued in the pool (and for what), at the server
/// without a response, written on a socket that never answered, or not delivered yet.
/// `all_idle`: every open client socket was idle then.
fn request_causes(tl: &Timeline, reqs: &[ReqId], at: u64, all_idle: bool) -> Vec<String> {
    let mut causes = Vec::new();
    let mut queued = Vec::new();
    let mut at_server = Vec::new();
    let mut undelivered = Vec::new();
    for r in reqs {
        let Some(f) = tl.reqs.get(r) else { continue };
        let delivered = f.delivered.iter().any(|d| d.0 <= at);
        let last_checkout = f.checkouts.iter().rfind(|c| c.0 <= at);
        if delivered {
            at_server.push(*r);
        } else if matches!(last_checkout, Some((_, None, _))) {
            queued.push(*r);
        } else {
            undelivered.push(*r);
        }
    }
    if !queued.is_empty() {
        let who = if queued.len() == reqs.len() {
            "they".to_string()
        } else {
            req_words(&queued)
        };
        causes.push(queued_cause(tl, at, &who, all_idle));
    }
    if !at_server.is_empty() {
        causes.push(format!(
            "{} had reached the server and had no response",
            req_words(&at_server)
        ));
    }
    // A request written on a socket that never answered (its peer vanished, or what it sent
    // was lost): name the socket.
    for r in reqs {
        if let Some((conn, since)) = tl.reqs.get(r).and_then(|f| f.waiting_on) {
            causes.push(format!(
                "request {r} was written on conn {conn} at {} and not one byte came back on it",
                secs(since)
            ));
        }
    }
    if !undelivered.is_empty() && queued.is_empty() {
        causes.push(format!(
            "{} had not reached the server",
            req_words(&undelivered)
        ));
    }
    causes
}

/// Why `who` sat queued in the pool at `at`: every HTTP/2 stream busy, idle sockets the pool
/// did not hand out, or no socket free.
fn queued_cause(tl: &Timeline, at: u64, who: &str, all_idle: bool) -> String {
    let busy = busy_streams(tl, at);
    if !busy.is_empty() {
        // HTTP/2: several streams at once on one connection, and every one in use.
        let conns: Vec<String> = busy
            .iter()
            .map(|(c, n)| format!("all {n} streams of conn {c} busy"))
            .collect();
        format!(
            "{who} were queued in the pool for a stream: {}",
            conns.join(", ")
        )
    } else if all_idle {
        format!(
            "{who} were queued in the pool while its sockets sat idle: the pool did not hand \
             them out"
        )
    } else {
        format!("{who} were queued in the pool for a socket")
    }
}

/// Connections carrying more than one request at once at `t` (HTTP/2 streams), with how many:
/// a request holds its stream from its checkout on the connection to the end of its body (or
/// its failure). Empty when no connection multiplexed, so HTTP/1 runs read as before.
fn busy_streams(tl: &Timeline, t: u64) -> Vec<(ConnId, usize)> {
    let mut streams: BTreeMap<ConnId, usize> = BTreeMap::new();
    for f in tl.reqs.values() {
        let Some(&(since, Some(conn), _)) = f.checkouts.iter().rfind(|c| c.0 <= t) else {
            continue;
        };
        let body_done = f.body_end.is_some_and(|(e, _)| e <= t);
        let failed = f
            .attempts
            .iter()
            .any(|a| a.end.is_some_and(|e| e >= since && e <= t) && a.failed.is_some());
        if !body_done && !failed {
            *streams.entry(conn).or_default() += 1;
        }
    }
    streams.retain(|_, n| *n > 1);
    streams.into_iter().collect()
}

/// What happened at `t` that ended a wait: server-side closes, timeouts.
fn what_ended(tl: &Timeline, t: u64) -> Option<String> {
    let mut by_reason: BTreeMap<CloseReason, Vec<u64>> = BTreeMap::new();
    for (id, c) in &tl.conns {
        if let Some((ct, reason)) = c.server_closed {
            // Within a few ms before the client noticed.
            if ct <= t && t - ct <= 50_000 {
                by_reason.entry(reason).or_default().push(*id);
            }
        }
    }
    let mut out = Vec::new();
    for (reason, ids) in by_reason {
        let who = match reason {
            CloseReason::IdleTimeout => "the server's idle timeout",
            CloseReason::Shutdown | CloseReason::ShutdownDeadline => "the server's shutdown",
            CloseReason::Crash => "the server's crash",
            _ => "the server",
        };
        out.push(format!("{who} closed conn {}", ranges(&ids)));
    }
    let timed_out: Vec<u64> = tl
        .reqs
        .iter()
        .filter(|(_, f)| {
            f.attempts
                .iter()
                .any(|a| a.end == Some(t) && a.failed == Some(ErrorKind::Timeout))
        })
        .map(|(id, _)| *id)
        .collect();
    if !timed_out.is_empty() {
        out.push(format!("{} timed out", req_words(&timed_out)));
    }
    (!out.is_empty()).then(|| format!("it ended when {}", out.join(" and ")))
}

/// "request 7" or "requests 6-20".
pub fn req_words(reqs: &[ReqId]) -> String {
    if reqs.len() == 1 {
        format!("request {}", reqs[0])
    } else {
        format!("requests {}", ranges(reqs))
    }
}

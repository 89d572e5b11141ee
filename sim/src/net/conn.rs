//! What both ends of one connection share: its id, and the out-of-band facts a real TCP stack
//! would carry in segments httpsim models itself — an emulated RST, a vanished peer — plus the
//! byte accounting (`net/flow.rs`) that lets data the network kept be reported on its connection.
//!
//! Both [`super::SimStream`]s of a connection hold the same [`ConnShared`]; the registry in
//! `net/mod.rs` hands it to whichever end is seen first and attaches the other to it.

use std::sync::{Arc, Mutex};

use super::clock;
use super::flow::{Flow, Gap};
use crate::trace::{ConnId, ReqId};

/// Which end of a connection a socket is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    Client,
    Server,
}

impl Side {
    pub(crate) fn idx(self) -> usize {
        match self {
            Side::Client => 0,
            Side::Server => 1,
        }
    }
}

#[derive(Default)]
struct SharedState {
    attached: [bool; 2],
    detached: [bool; 2],
    /// The end at this index reset the connection.
    reset: [bool; 2],
    /// The end at this index vanished: nothing it sends after that (FIN included) reaches the
    /// peer, and nothing the peer sends reaches it.
    vanished: [bool; 2],
    /// The host of each end.
    hosts: [Option<Arc<str>>; 2],
    flow: Flow,
    /// The last request head the client end wrote: `(x-seq, when µs, bytes the client had
    /// received by then)`.
    last_request: Option<(ReqId, u64, u64)>,
}

/// State both ends of one connection share: its id and out-of-band close semantics (RST).
pub(crate) struct ConnShared {
    id: ConnId,
    state: Mutex<SharedState>,
}

impl ConnShared {
    pub(crate) fn new(id: ConnId) -> Self {
        Self {
            id,
            state: Mutex::new(SharedState::default()),
        }
    }

    pub(crate) fn id(&self) -> ConnId {
        self.id
    }

    pub(crate) fn try_attach(&self, side: Side) -> bool {
        let mut s = self.state.lock().unwrap();
        if s.attached[side.idx()] {
            return false;
        }
        s.attached[side.idx()] = true;
        true
    }

    pub(crate) fn both_detached(&self) -> bool {
        let s = self.state.lock().unwrap();
        s.detached
            .iter()
            .zip(s.attached.iter())
            .all(|(d, a)| *d || !*a)
    }

    pub(super) fn peer_reset(&self, me: Side) -> bool {
        let peer = 1 - me.idx();
        self.state.lock().unwrap().reset[peer]
    }

    pub(crate) fn set_reset(&self, side: Side) {
        self.state.lock().unwrap().reset[side.idx()] = true;
    }

    pub(crate) fn set_vanished(&self, side: Side) {
        self.state.lock().unwrap().vanished[side.idx()] = true;
    }

    pub(crate) fn vanished(&self, side: Side) -> bool {
        self.state.lock().unwrap().vanished[side.idx()]
    }

    pub(crate) fn peer_vanished(&self, me: Side) -> bool {
        self.state.lock().unwrap().vanished[1 - me.idx()]
    }

    pub(super) fn set_host(&self, side: Side, host: Arc<str>) {
        self.state.lock().unwrap().hosts[side.idx()] = Some(host);
    }

    /// `n` bytes left `side` at `now_us` (the caller's clock reading: one per write).
    pub(crate) fn on_sent(&self, side: Side, n: u64, now_us: u64) {
        self.state
            .lock()
            .unwrap()
            .flow
            .on_sent(side.idx(), n, now_us);
    }

    /// Bytes that left `side` so far.
    pub(crate) fn sent(&self, side: Side) -> u64 {
        self.state.lock().unwrap().flow.sent[side.idx()]
    }

    pub(crate) fn on_fin_sent(&self, side: Side) {
        let now = clock::now_us();
        self.state.lock().unwrap().flow.on_fin_sent(side.idx(), now);
    }

    pub(super) fn on_received(&self, side: Side, n: u64) {
        self.state.lock().unwrap().flow.on_received(side.idx(), n);
    }

    pub(super) fn on_fin_received(&self, side: Side) {
        self.state.lock().unwrap().flow.on_fin_received(side.idx());
    }

    /// Notes that the client wrote the head of `req`; returns whether an earlier request went
    /// out on this connection (the socket is being reused).
    pub(super) fn on_request_written(&self, req: ReqId, now_us: u64) -> bool {
        let mut s = self.state.lock().unwrap();
        let got = s.flow.received[Side::Client.idx()];
        s.last_request.replace((req, now_us, got)).is_some()
    }

    /// The request the client end is waiting on: written on this connection, and not one byte
    /// came back since. `(request, written at µs, client host)`.
    pub(crate) fn waiting(&self) -> Option<(ReqId, u64, String)> {
        let s = self.state.lock().unwrap();
        let c = Side::Client.idx();
        if !s.attached[c] || s.detached[c] || s.vanished[c] {
            return None;
        }
        let (req, at, got) = s.last_request?;
        if s.flow.received[c] != got {
            return None;
        }
        Some((req, at, s.hosts[c].as_deref().unwrap_or("?").to_string()))
    }

    pub(super) fn set_recv_full(&self, side: Side, full: bool) {
        self.state.lock().unwrap().flow.recv_full[side.idx()] = full;
    }

    /// Directions of this connection in which bytes (or the FIN) sent at or before
    /// `older_than_us` never reached a receiver that is still open: `(gap, receiver host, sender
    /// host)`.
    /// Marks `side` as gone; `reset` makes its close an RST for the peer.
    pub(super) fn detach(&self, side: Side, reset: bool) {
        let mut s = self.state.lock().unwrap();
        s.detached[side.idx()] = true;
        if reset {
            s.reset[side.idx()] = true;
        }
    }

    pub(crate) fn gaps(&self, older_than_us: u64) -> Vec<(Gap, String, String)> {
        let s = self.state.lock().unwrap();
        let mut out = Vec::new();
        for r in 0..2 {
            let open = s.attached[r] && !s.detached[r] && !s.vanished[r];
            if !open || s.vanished[1 - r] || s.reset[1 - r] {
                continue;
            }
            if let Some(g) = s.flow.gap(r, older_than_us) {
                let name = |i: usize| s.hosts[i].as_deref().unwrap_or("?").to_string();
                out.push((g, name(r), name(1 - r)));
            }
        }
        out
    }
}

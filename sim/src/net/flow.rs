//! What each end of a connection put on the wire and what the other end got: the evidence that
//! a stream stalled because the network kept its bytes.
//!
//! TCP retransmits what a partition or a broken link drops, but until the path heals (or the
//! connection gives up after `tcp_retries2`) the bytes simply do not arrive, and nothing at the
//! socket says why. httpsim counts bytes (and the FIN) leaving each end and reaching the other end's
//! receive buffer; at the end of a run, a direction with bytes written long enough ago and
//! never received — while the receiver was still open and its buffer not full — is reported as
//! an `undelivered` event on the receiving host, naming the connection. A held link
//! (`hold` without `release`) shows the same way: the bytes are not lost, but they never came.

use std::collections::VecDeque;

/// Per-direction counters; index 0 is the client end, 1 the server end.
#[derive(Default)]
pub(crate) struct Flow {
    /// Bytes each end handed to the network.
    pub(crate) sent: [u64; 2],
    /// Bytes each end's receive buffer took from the network.
    pub(crate) received: [u64; 2],
    /// When each end sent its FIN (µs), if it did.
    pub(crate) fin_sent: [Option<u64>; 2],
    /// Whether each end received the peer's FIN (or RST).
    pub(crate) fin_received: [bool; 2],
    /// `(cumulative bytes sent after this write, time µs)` for writes not yet fully received.
    marks: [VecDeque<(u64, u64)>; 2],
    /// Each end's receive buffer is full (the application does not read): a gap toward it is
    /// back-pressure, not loss.
    pub(crate) recv_full: [bool; 2],
}

/// A direction in which written data never arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Gap {
    /// The end that is waiting (index).
    pub(crate) receiver: usize,
    /// Bytes written and not received.
    pub(crate) bytes: u64,
    /// Whether a FIN is missing too.
    pub(crate) fin: bool,
    /// When the oldest missing byte (or the FIN) was sent, µs.
    pub(crate) since_us: u64,
}

impl Flow {
    pub(crate) fn on_sent(&mut self, from: usize, n: u64, now_us: u64) {
        if n == 0 {
            return;
        }
        self.sent[from] += n;
        self.marks[from].push_back((self.sent[from], now_us));
    }

    pub(crate) fn on_fin_sent(&mut self, from: usize, now_us: u64) {
        self.fin_sent[from].get_or_insert(now_us);
    }

    pub(crate) fn on_received(&mut self, to: usize, n: u64) {
        self.received[to] += n;
        let from = 1 - to;
        let got = self.received[to];
        while matches!(self.marks[from].front(), Some((end, _)) if *end <= got) {
            self.marks[from].pop_front();
        }
    }

    pub(crate) fn on_fin_received(&mut self, to: usize) {
        self.fin_received[to] = true;
    }

    /// The gap toward `receiver`, if some data or the FIN sent before `older_than_us` has not
    /// arrived.
    pub(crate) fn gap(&self, receiver: usize, older_than_us: u64) -> Option<Gap> {
        let from = 1 - receiver;
        if self.recv_full[receiver] {
            return None;
        }
        let bytes = self.sent[from] - self.received[receiver].min(self.sent[from]);
        let fin_missing = self.fin_sent[from].filter(|_| !self.fin_received[receiver]);
        let data_since = self.marks[from].front().map(|(_, t)| *t);
        let since = match (data_since, fin_missing) {
            (Some(d), _) => d,
            (None, Some(f)) => f,
            (None, None) => return None,
        };
        if since > older_than_us {
            return None;
        }
        Some(Gap {
            receiver,
            bytes,
            fin: fin_missing.is_some(),
            since_us: since,
        })
    }
}

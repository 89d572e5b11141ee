//! Each host's ephemeral ports, counted so turmoil never runs out, and what a connect does
//! when the network drops its SYN.
//!
//! turmoil 0.7 gives every outgoing connection a port from 49152..=65535 and panics ("ports
//! exhausted") when none is free. It also keeps the port of every connect that failed (the
//! socket it created is never removed), for the rest of the run. httpsim counts, per host, the
//! ports of live connections and the ports failed connects took; a connect that would need one
//! more than the range holds (less a small margin for sockets turmoil frees a little later
//! than httpsim) fails with `AddrNotAvailable` ("EADDRNOTAVAIL"), as `connect(2)` does, and is
//! traced as a `connect_failed` of kind `connect` naming the host.

use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Size of turmoil's default ephemeral range, 49152..=65535.
pub(crate) const TURMOIL_EPHEMERAL_PORTS: usize = 65535 - 49152 + 1;

/// Ports kept in reserve for sockets turmoil has not freed yet.
const MARGIN: usize = 16;

/// Waits before each SYN retransmission, as Linux's exponential back-off from a 1 s initial
/// RTO with `tcp_syn_retries = 6`.
pub(crate) const SYN_RETRANSMITS: [Duration; 6] = [
    Duration::from_secs(1),
    Duration::from_secs(2),
    Duration::from_secs(4),
    Duration::from_secs(8),
    Duration::from_secs(16),
    Duration::from_secs(32),
];

/// After the last retransmission, how long until the connect gives up (1+2+…+32+64 = 127 s).
pub(crate) const SYN_LAST_WAIT: Duration = Duration::from_secs(64);

/// What a connect does when the network drops its SYN (a partition, a broken link).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectMode {
    /// As a real network: the SYN is lost, the connect retransmits it (after 1, 2, 4, 8, 16 and
    /// 32 s) and times out 127 s after it started unless the network heals before; a caller's
    /// connect timeout ends it sooner. The default, because the bench exists to show what real
    /// clients see, and a real client never sees "refused" from a partition.
    #[default]
    DropSyn,
    /// turmoil 0.7's own behaviour: the connect is refused at once (`ConnectionRefused`).
    Refuse,
}

#[derive(Default)]
struct Use {
    live: usize,
    leaked: usize,
}

/// One host's port budget. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Ports {
    limit: usize,
    used: Arc<Mutex<Use>>,
}

impl Ports {
    pub(crate) fn new(range: usize) -> Self {
        Self {
            limit: range.saturating_sub(MARGIN),
            used: Arc::new(Mutex::new(Use::default())),
        }
    }

    /// Takes a port for a connect from `host`, or fails with `AddrNotAvailable`.
    pub(crate) fn lease(&self, host: &str) -> io::Result<PortLease> {
        let mut u = self.used.lock().unwrap();
        if u.live + u.leaked >= self.limit {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "host {host}: no free ephemeral port (EADDRNOTAVAIL): {} in use by open \
                     connections, {} kept by failed connects (turmoil never frees those), \
                     limit {}",
                    u.live, u.leaked, self.limit
                ),
            ));
        }
        u.live += 1;
        Ok(PortLease {
            used: self.used.clone(),
            connected: false,
        })
    }
}

/// A port in use. Dropped before [`PortLease::connected`] (the connect failed or was
/// abandoned), the port stays taken for the rest of the run, as it does in turmoil; after, it
/// is given back when the connection's last turmoil half is gone.
pub(crate) struct PortLease {
    used: Arc<Mutex<Use>>,
    connected: bool,
}

impl PortLease {
    /// The connect succeeded: the port is freed with the connection.
    pub(crate) fn connected(mut self) -> Self {
        self.connected = true;
        self
    }
}

impl Drop for PortLease {
    fn drop(&mut self) {
        let mut u = self.used.lock().unwrap();
        u.live -= 1;
        if !self.connected {
            u.leaked += 1;
        }
    }
}

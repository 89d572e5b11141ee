//! Each host's ephemeral ports, and what a connect does when the network drops its SYN.
//!
//! Every outgoing connection takes a port from the host's range (49152..=65535 by default).
//! httpsim counts, per host, the ports of live connections; a connect that would need one more
//! than the range holds (less a small margin for sockets the kernel frees a little later than
//! httpsim, in TIME-WAIT-like closing states) fails with `AddrNotAvailable` ("EADDRNOTAVAIL"),
//! as `connect(2)` does, and is traced as a `connect_failed` of kind `connect` naming the host.

use std::io;
use std::sync::{Arc, Mutex};

/// Size of the default ephemeral range, 49152..=65535.
pub(crate) const DEFAULT_EPHEMERAL_PORTS: usize = 65535 - 49152 + 1;

/// Ports kept in reserve for sockets the kernel has not freed yet.
const MARGIN: usize = 16;

/// What a connect does when the network drops its SYN (a partition, a broken link).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ConnectMode {
    /// As a real network: the SYN is lost, the connect retransmits it (after 1, 2, 4, 8, 16 and
    /// 32 s) and times out 127 s after it started unless the network heals before; a caller's
    /// connect timeout ends it sooner. The default, because the bench exists to show what real
    /// clients see, and a real client never sees "refused" from a partition.
    #[default]
    DropSyn,
    /// The network answers a dropped SYN with a reset: the connect is refused at once
    /// (`ConnectionRefused`), as behind a router that rejects instead of dropping.
    Refuse,
}

/// One host's port budget. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Ports {
    limit: usize,
    live: Arc<Mutex<usize>>,
}

impl Ports {
    pub(crate) fn new(range: usize) -> Self {
        Self {
            limit: range.saturating_sub(MARGIN),
            live: Arc::new(Mutex::new(0)),
        }
    }

    /// Takes a port for a connect from `host`, or fails with `AddrNotAvailable`.
    pub(crate) fn lease(&self, host: &str) -> io::Result<PortLease> {
        let mut live = self.live.lock().unwrap();
        if *live >= self.limit {
            return Err(io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!(
                    "host {host}: no free ephemeral port (EADDRNOTAVAIL): {} in use by open \
                     connections, limit {}",
                    *live, self.limit
                ),
            ));
        }
        *live += 1;
        Ok(PortLease {
            live: self.live.clone(),
        })
    }
}

/// A port in use, given back when the connection's last half is gone (or the connect failed).
pub(crate) struct PortLease {
    live: Arc<Mutex<usize>>,
}

impl Drop for PortLease {
    fn drop(&mut self) {
        *self.live.lock().unwrap() -= 1;
    }
}

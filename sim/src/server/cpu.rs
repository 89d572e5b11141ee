//! The CPU of a simulated server host.
//!
//! A handler that burns CPU in a single-threaded server (Node's event loop, a tokio
//! `current_thread` runtime) blocks everything else on that host: other handlers, other
//! connections' reads and writes, the accept loop. turmoil runs host software in simulated time,
//! where a busy loop would take no time at all, so httpsim models the CPU explicitly: burning
//! takes the host's CPU for a simulated duration (FIFO among burners), and every other server
//! action on that host waits for the CPU to be free before it proceeds.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

/// One host's CPU. Cheap to clone.
#[derive(Clone, Default)]
pub struct HostCpu {
    lock: Arc<Mutex<()>>,
}

impl HostCpu {
    /// A free CPU.
    pub fn new() -> Self {
        Self::default()
    }

    /// Occupies the CPU for `busy` of simulated time; waits (FIFO) while someone else holds it.
    pub async fn burn(&self, busy: Duration) {
        let _held = self.lock.lock().await;
        tokio::time::sleep(busy).await;
    }

    /// Waits until the CPU is free (used by every other action on the host).
    pub async fn idle(&self) {
        drop(self.lock.lock().await);
    }
}

//! `Debug` for the engine's handles (`world::World`, `net::Net`, `net::HostNet`, the socket,
//! listener and connector), written here rather than beside them while the engine behind the
//! two doors is being rewritten. Each is opaque: a handle's state is the simulation's, and a
//! test reads it through the trace, not through `{:?}`.

use std::fmt;

use crate::net::{HostNet, Net, SimConnector, SimListener, StreamHandle};
use crate::world::World;

impl fmt::Debug for World {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("World")
            .field("elapsed", &self.elapsed())
            .field("tick", &self.tick())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Net {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Net")
            .field("peak_fds", &self.peak_fds())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for HostNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostNet")
            .field("name", &self.name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SimListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimListener")
            .field("host", &self.host().name())
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for SimConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConnector").finish_non_exhaustive()
    }
}

impl fmt::Debug for StreamHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamHandle").finish_non_exhaustive()
    }
}

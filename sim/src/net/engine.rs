//! Which simulated host a kernel call is for, without naming the engine.
//!
//! turmoil-net resolves every socket call against a thread-local *current host*. Tasks of a
//! host normally run inside that host's `LocalSet`, which `world` polls with the host current;
//! but a socket can also be polled from elsewhere (a task the user spawned with `tokio::spawn`,
//! a drop at the end of a run), so every kernel call in `net/` first scopes itself to its
//! socket's host ([`scoped`]).
//!
//! Nothing here wakes the engine after a call that queues packets: every such kernel change
//! (a packet queued, a socket marked for egress, a timer armed) already notifies the engine's
//! driver through turmoil-net's egress waker, so a second wake-up of our own only cost time.

pub(crate) use turmoil_net::HostId;

/// Runs `f` with `host` as turmoil-net's current host.
pub(crate) fn scoped<R>(host: HostId, f: impl FnOnce() -> R) -> R {
    turmoil_net::set_current(host);
    f()
}

//! Accepting simulated connections, with fd accounting.
//!
//! turmoil completes a connect only when the server calls `accept`, and panics when more SYNs
//! queue up than its `tcp_capacity` (the world builder sets that capacity far above any realistic
//! burst). httpsim's listener models the kernel side a real server sees:
//!
//! - an accepted connection takes an fd; when the table is full, `accept` fails with EMFILE and
//!   the connection stays queued in the listener's backlog (as in Linux, where the handshake is
//!   already done) to be handed out by a later `accept` once an fd is free;
//! - the backlog is bounded ([`SimListener::set_backlog`]); a connection arriving when it is full
//!   is reset at once, and the client sees its request fail with a reset/closed error. The event
//!   is traced as `accept_failed` with kind `refused`.

use std::collections::VecDeque;
use std::io;

use super::fd::is_emfile;
use super::stream::Side;
use super::{HostNet, SimStream};
use crate::error::ErrorKind;
use crate::trace::Event;

/// A listening socket on a simulated host.
pub struct SimListener {
    host: HostNet,
    inner: turmoil::net::TcpListener,
    port: u16,
    backlog: VecDeque<turmoil::net::TcpStream>,
    backlog_limit: usize,
}

impl SimListener {
    pub(crate) fn new(host: HostNet, inner: turmoil::net::TcpListener, port: u16) -> Self {
        Self {
            host,
            inner,
            port,
            backlog: VecDeque::new(),
            backlog_limit: 4096,
        }
    }

    /// Sets how many handshaken connections may wait for an fd. The default is 4096 (Linux's
    /// `somaxconn` default).
    pub fn set_backlog(&mut self, n: usize) -> &mut Self {
        self.backlog_limit = n;
        self
    }

    /// The listening port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The host this listener lives on.
    pub fn host(&self) -> &HostNet {
        &self.host
    }

    /// Accepts the next connection. Fails with EMFILE (and keeps the connection queued) when the
    /// host's fd table is full.
    pub async fn accept(&mut self) -> io::Result<SimStream> {
        let tcp = match self.backlog.pop_front() {
            Some(tcp) => tcp,
            None => self.inner.accept().await?.0,
        };
        match self.host.fds().acquire() {
            Ok(fd) => {
                let remote = tcp.peer_addr()?;
                let local = tcp.local_addr()?;
                let shared = self.host.net().attach(remote, local, Side::Server);
                self.host.record(Event::Accepted {
                    conn: shared.id(),
                    port: self.port,
                    fds: self.host.fds().in_use(),
                });
                Ok(SimStream::new(
                    self.host.clone(),
                    tcp,
                    fd,
                    shared,
                    Side::Server,
                    (remote, local),
                    None,
                ))
            }
            Err(e) => {
                debug_assert!(is_emfile(&e));
                let kind = if self.backlog.len() < self.backlog_limit {
                    self.backlog.push_front(tcp);
                    ErrorKind::Emfile
                } else {
                    // Dropping the handshaken stream closes it: the client's request fails.
                    drop(tcp);
                    ErrorKind::Refused
                };
                self.host.record(Event::AcceptFailed {
                    port: self.port,
                    kind: kind.to_string(),
                });
                Err(e)
            }
        }
    }
}

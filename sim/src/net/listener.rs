//! Accepting simulated connections, with fd accounting and a modelled listen backlog.
//!
//! The simulated kernel (turmoil-net) completes handshakes on its own and queues them for
//! `accept` in a kernel backlog (the world's `tcp_capacity`, 65536 by default; beyond it SYNs are
//! dropped and retransmitted). httpsim's listener models the application-visible side on top:
//!
//! - **a kernel task** takes connections from the kernel as soon as they arrive (the client's
//!   connect has completed, as with Linux) and parks them in the backlog, whatever the
//!   application is doing (even while its CPU is busy);
//! - **the backlog is bounded** ([`SimListener::set_backlog`]). What happens to connects beyond
//!   it is [`BacklogOverflow`]: `Delay` (the default, Linux's `tcp_abort_on_overflow = 0`: the
//!   handshake is not completed, the client's connect waits until an accept makes room; traced
//!   once per episode as `backlog_full`) or `Refuse` (`tcp_abort_on_overflow = 1`: the
//!   connection is closed at once and the client's request fails with a closed/reset error;
//!   traced as `accept_failed` with kind `refused`). With `Delay`, waiting connects sit in
//!   the kernel's queue (`tcp_capacity`), and beyond that retransmit their SYN;
//! - **an accepted connection takes an fd**; when the table is full, [`SimListener::accept`]
//!   fails with EMFILE (traced as `accept_failed` with kind `emfile`) and the connection stays
//!   at the head of the backlog for a later accept, as in Linux;
//! - **closing the listener** (dropping it) refuses every connection still in the backlog, each
//!   traced as `accept_failed` with kind `refused`; connects still in the kernel's queue are
//!   reset by it.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::rc::Rc;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::conn::Side;
use super::fd::is_emfile;
use super::{HostNet, SimStream};
use crate::error::ErrorKind;
use crate::trace::Event;

/// What the kernel does with a connect that finds the backlog full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum BacklogOverflow {
    /// Leave it unanswered: the client's connect waits until the backlog has room
    /// (Linux's default). The default.
    #[default]
    Delay,
    /// Reset it: the client's connect or request fails at once.
    Refuse,
}

/// Kernel-side state shared by the listener and its kernel task.
struct Backlog {
    queue: RefCell<VecDeque<super::tcp::Tcp>>,
    limit: Cell<usize>,
    overflow: Cell<BacklogOverflow>,
    /// A connection was queued.
    ready: Notify,
    /// A connection left the queue.
    space: Notify,
    /// `backlog_full` was traced and the backlog has not had room since.
    full_traced: Cell<bool>,
}

/// A listening socket on a simulated host.
pub struct SimListener {
    host: HostNet,
    port: u16,
    backlog: Rc<Backlog>,
    kernel: JoinHandle<()>,
}

impl SimListener {
    pub(crate) fn new(host: HostNet, inner: super::tcp::Listener, port: u16) -> Self {
        let backlog = Rc::new(Backlog {
            queue: RefCell::new(VecDeque::new()),
            limit: Cell::new(1024),
            overflow: Cell::new(BacklogOverflow::Delay),
            ready: Notify::new(),
            space: Notify::new(),
            full_traced: Cell::new(false),
        });
        let kernel = tokio::task::spawn_local(kernel(host.clone(), inner, port, backlog.clone()));
        Self {
            host,
            port,
            backlog,
            kernel,
        }
    }

    /// Sets how many handshaken connections may wait to be accepted. The default is 1024
    /// (what tokio's `TcpListener::bind`, used by hyper servers, asks for).
    pub fn set_backlog(&mut self, n: usize) -> &mut Self {
        self.backlog.limit.set(n.max(1));
        self.backlog.space.notify_one();
        self
    }

    /// Sets what happens to connects beyond the backlog. The default is
    /// [`BacklogOverflow::Delay`].
    pub fn set_overflow(&mut self, overflow: BacklogOverflow) -> &mut Self {
        self.backlog.overflow.set(overflow);
        self.backlog.space.notify_one();
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

    /// Connections waiting in the backlog now.
    pub fn queued(&self) -> usize {
        self.backlog.queue.borrow().len()
    }

    /// Accepts the next connection, waiting for one. Fails with EMFILE (and keeps the
    /// connection queued) when the host's fd table is full.
    pub async fn accept(&mut self) -> io::Result<SimStream> {
        let tcp = loop {
            let ready = self.backlog.ready.notified();
            if let Some(tcp) = self.backlog.queue.borrow_mut().pop_front() {
                break tcp;
            }
            ready.await;
        };
        match self.host.fds().acquire() {
            Ok(fd) => {
                self.backlog.space.notify_one();
                let (local, remote) = tcp.addrs()?;
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
                self.backlog.queue.borrow_mut().push_front(tcp);
                self.host.record(Event::AcceptFailed {
                    port: self.port,
                    kind: ErrorKind::Emfile,
                });
                Err(e)
            }
        }
    }
}

impl Drop for SimListener {
    fn drop(&mut self) {
        self.kernel.abort();
        let refused = std::mem::take(&mut *self.backlog.queue.borrow_mut());
        for tcp in refused {
            drop(tcp);
            self.host.record(Event::AcceptFailed {
                port: self.port,
                kind: ErrorKind::Refused,
            });
        }
    }
}

/// How long a real listener waits after a failed accept(2): the server's default
/// `accept_backoff`.
const REAL_ACCEPT_BACKOFF: std::time::Duration = std::time::Duration::from_millis(10);

/// Completes handshakes into the backlog, as the kernel does, independent of the application.
async fn kernel(host: HostNet, inner: super::tcp::Listener, port: u16, backlog: Rc<Backlog>) {
    loop {
        loop {
            let space = backlog.space.notified();
            let full = backlog.queue.borrow().len() >= backlog.limit.get();
            if !full || backlog.overflow.get() == BacklogOverflow::Refuse {
                if !full {
                    backlog.full_traced.set(false);
                }
                break;
            }
            if !backlog.full_traced.replace(true) {
                host.record(Event::BacklogFull {
                    port,
                    backlog: backlog.limit.get(),
                });
            }
            space.await;
        }
        let tcp = match inner.accept().await {
            Ok(tcp) => tcp,
            // A real listener's accept(2) takes the fd itself, so the kernel's EMFILE shows
            // here (a simulated host's shows in `accept`, from its fd table). The connection
            // stays queued in the kernel; back off as a server's accept loop does.
            Err(e) if inner.is_real() => {
                if is_emfile(&e) {
                    host.record(Event::AcceptFailed {
                        port,
                        kind: ErrorKind::Emfile,
                    });
                }
                crate::net::clock::sleep(REAL_ACCEPT_BACKOFF).await;
                continue;
            }
            Err(_) => continue,
        };
        if backlog.queue.borrow().len() >= backlog.limit.get() {
            // Refuse: dropping the handshaken stream closes it; the client's request fails.
            drop(tcp);
            host.record(Event::AcceptFailed {
                port,
                kind: ErrorKind::Refused,
            });
            continue;
        }
        backlog.queue.borrow_mut().push_back(tcp);
        backlog.ready.notify_one();
    }
}

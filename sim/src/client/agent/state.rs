//! The Agent's bookkeeping: sockets per host, free sockets, the queue of waiting requests, and
//! the one function ([`Inner::dispatch`]) that hands free sockets and free slots to waiters.
//!
//! Every change that can make a socket or a slot available (a body finished, a socket closed, a
//! connect failed, a request queued) ends by calling `dispatch`, so at every await point it holds
//! that no live waiter exists while its host has a free socket or a free slot. The proptest
//! suite samples that invariant through [`super::Agent::check_invariants`].

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, VecDeque};
use std::rc::Rc;

use hyper::client::conn::http1::SendRequest;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::connect::{Connect, Watch};
use super::{Inner, Scheduling};

/// One socket the Agent opened, shared by the pool, its lease and its tasks.
pub(super) struct Conn {
    pub(super) id: Option<u64>,
    pub(super) key: Rc<str>,
    pub(super) watch: Option<Rc<dyn Watch>>,
    /// Never handed out again (peer closed, hyper's connection ended, or the Agent closed it).
    pub(super) dead: Cell<bool>,
    /// Counts against the limits. Cleared exactly once, when the socket stops being usable.
    pub(super) holds_slot: Cell<bool>,
    /// Bumped each time the socket becomes free, so a stale idle timer does nothing.
    pub(super) idle_gen: Cell<u64>,
    /// hyper's connection task: aborting it closes the socket at once.
    pub(super) task: RefCell<Option<JoinHandle<()>>>,
    /// Waits for the peer's close.
    pub(super) watcher: RefCell<Option<JoinHandle<()>>>,
}

impl Conn {
    pub(super) fn new(key: Rc<str>, watch: Option<Rc<dyn Watch>>) -> Self {
        Self {
            id: watch.as_ref().and_then(|w| w.id()),
            key,
            watch,
            dead: Cell::new(false),
            holds_slot: Cell::new(true),
            idle_gen: Cell::new(0),
            task: RefCell::new(None),
            watcher: RefCell::new(None),
        }
    }

    /// Whether a request may be written on this socket.
    pub(super) fn usable<B>(&self, sender: &SendRequest<B>) -> bool {
        !self.dead.get()
            && !sender.is_closed()
            && !self.watch.as_ref().is_some_and(|w| w.is_peer_closed())
    }
}

/// A free socket.
pub(super) struct Idle<B> {
    pub(super) conn: Rc<Conn>,
    pub(super) sender: SendRequest<B>,
    /// When it became free, in Agent-wide order.
    pub(super) freed: u64,
}

/// What a waiting request is given.
pub(super) enum Grant<C: Connect, B: 'static> {
    /// A free socket.
    Reuse(Idle<B>),
    /// Permission to open a new socket.
    Connect(Slot<C, B>),
}

pub(super) struct Waiter<C: Connect, B: 'static> {
    pub(super) seq: u64,
    pub(super) tx: oneshot::Sender<Grant<C, B>>,
}

/// The sockets of one host.
pub(super) struct HostState<C: Connect, B: 'static> {
    /// Sockets counted against `max_sockets`: connecting, busy or free.
    pub(super) open: usize,
    pub(super) free: VecDeque<Idle<B>>,
    pub(super) waiters: VecDeque<Waiter<C, B>>,
}

impl<C: Connect, B: 'static> Default for HostState<C, B> {
    fn default() -> Self {
        Self {
            open: 0,
            free: VecDeque::new(),
            waiters: VecDeque::new(),
        }
    }
}

pub(super) struct State<C: Connect, B: 'static> {
    pub(super) hosts: BTreeMap<Rc<str>, HostState<C, B>>,
    pub(super) total: usize,
    pub(super) next_seq: u64,
}

impl<C: Connect, B: 'static> Default for State<C, B> {
    fn default() -> Self {
        Self {
            hosts: BTreeMap::new(),
            total: 0,
            next_seq: 0,
        }
    }
}

impl<C: Connect, B: 'static> State<C, B> {
    pub(super) fn host(&mut self, key: &Rc<str>) -> &mut HostState<C, B> {
        self.hosts.entry(key.clone()).or_default()
    }

    pub(super) fn seq(&mut self) -> u64 {
        self.next_seq += 1;
        self.next_seq
    }

    /// Marks `conn` dead and gives back its slot (no dispatch: the caller does that).
    pub(super) fn kill(&mut self, conn: &Conn) {
        conn.dead.set(true);
        if conn.holds_slot.replace(false) {
            let h = self.host(&conn.key);
            h.open -= 1;
            self.total -= 1;
        }
        if let Some(w) = conn.watcher.borrow_mut().take() {
            w.abort();
        }
    }

    /// Takes `conn` out of its host's free list, if it is there.
    pub(super) fn remove_free(&mut self, conn: &Rc<Conn>) -> Option<Idle<B>> {
        let h = self.hosts.get_mut(&conn.key)?;
        let i = h.free.iter().position(|f| Rc::ptr_eq(&f.conn, conn))?;
        h.free.remove(i)
    }

    /// A usable free socket of `key`, chosen by `scheduling`; dead ones met on the way are
    /// killed (and dropped by the caller through `trash`).
    fn take_free(
        &mut self,
        key: &Rc<str>,
        scheduling: Scheduling,
        trash: &mut Vec<Idle<B>>,
    ) -> Option<Idle<B>> {
        loop {
            let h = self.host(key);
            let idle = match scheduling {
                Scheduling::Fifo => h.free.pop_front(),
                Scheduling::Lifo => h.free.pop_back(),
            }?;
            if idle.conn.usable(&idle.sender) {
                return Some(idle);
            }
            self.kill(&idle.conn);
            trash.push(idle);
        }
    }

    /// The free socket that has been free longest on any host but `except`.
    fn oldest_free_elsewhere(&self, except: &Rc<str>) -> Option<(Rc<str>, usize)> {
        self.hosts
            .iter()
            .filter(|(k, _)| *k != except)
            .flat_map(|(k, h)| h.free.iter().enumerate().map(move |(i, f)| (f.freed, k, i)))
            .min_by_key(|(freed, _, _)| *freed)
            .map(|(_, k, i)| (k.clone(), i))
    }
}

/// Permission to open one socket: a counted slot that is given back if dropped unused (the
/// connect failed or the request was cancelled) and transferred to the socket once open.
pub(super) struct Slot<C: Connect, B: 'static> {
    pub(super) agent: Rc<Inner<C, B>>,
    pub(super) key: Rc<str>,
    pub(super) armed: bool,
}

impl<C: Connect, B: 'static> Slot<C, B> {
    /// The slot now belongs to `conn` (its `holds_slot` is set at creation).
    pub(super) fn transfer(mut self) {
        self.armed = false;
    }
}

impl<C: Connect, B: 'static> Drop for Slot<C, B> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        {
            let mut st = self.agent.state.borrow_mut();
            st.host(&self.key).open -= 1;
            st.total -= 1;
        }
        self.agent.dispatch();
    }
}

/// Things to drop once the state is no longer borrowed (their drops may call back into it).
/// Never read: holding them is the point.
#[allow(dead_code)]
enum Trash<C: Connect, B: 'static> {
    Grant(Grant<C, B>),
    Idle(Idle<B>),
}

impl<C: Connect, B: 'static> Inner<C, B> {
    /// Serves waiting requests, oldest first, while a free socket or a free slot is available
    /// for them.
    pub(super) fn dispatch(self: &Rc<Self>) {
        loop {
            let mut trash = Vec::new();
            let progressed = {
                let mut st = self.state.borrow_mut();
                self.serve_one(&mut st, &mut trash)
            };
            drop(trash);
            if !progressed {
                return;
            }
        }
    }

    fn serve_one(self: &Rc<Self>, st: &mut State<C, B>, trash: &mut Vec<Trash<C, B>>) -> bool {
        // Waiters whose caller gave up are dropped when they reach the front: a queue's head is
        // then its oldest live waiter, and a queue is empty exactly when none is live, as a
        // sweep of every queue would leave it (that sweep, once per dispatch, was quadratic in
        // the waiters of a pool-stall run).
        for h in st.hosts.values_mut() {
            while h.waiters.front().is_some_and(|w| w.tx.is_closed()) {
                h.waiters.pop_front();
            }
        }
        let mut heads: Vec<(u64, Rc<str>)> = st
            .hosts
            .iter()
            .filter_map(|(k, h)| h.waiters.front().map(|w| (w.seq, k.clone())))
            .collect();
        heads.sort();
        for (_, key) in heads {
            let mut dead = Vec::new();
            let free = st.take_free(&key, self.config.scheduling, &mut dead);
            let killed = !dead.is_empty();
            trash.extend(dead.into_iter().map(Trash::Idle));
            if let Some(idle) = free {
                let w = st.host(&key).waiters.pop_front().expect("head waiter");
                if let Err(g) = w.tx.send(Grant::Reuse(idle)) {
                    trash.push(Trash::Grant(g));
                }
                return true;
            }
            if killed {
                // Slots came free: look again from the oldest waiter.
                return true;
            }
            if st.host(&key).open >= self.config.max_sockets {
                continue;
            }
            if st.total >= self.config.max_total_sockets {
                if let Some((victim_key, i)) = st.oldest_free_elsewhere(&key) {
                    let idle = st
                        .hosts
                        .get_mut(&victim_key)
                        .and_then(|h| h.free.remove(i))
                        .expect("victim exists");
                    st.kill(&idle.conn);
                    trash.push(Trash::Idle(idle));
                    return true;
                }
                continue;
            }
            st.host(&key).open += 1;
            st.total += 1;
            let slot = Slot {
                agent: self.clone(),
                key: key.clone(),
                armed: true,
            };
            let w = st.host(&key).waiters.pop_front().expect("head waiter");
            if let Err(g) = w.tx.send(Grant::Connect(slot)) {
                trash.push(Trash::Grant(g));
            }
            return true;
        }
        false
    }
}

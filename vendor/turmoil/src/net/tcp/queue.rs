//! httpsim patch: the bounded queue of in-order segments from the host to a `TcpStream`'s read
//! half, in place of a `tokio::sync::mpsc::channel` (same observable behaviour, a fraction of
//! the memory).
//!
//! Why: a tokio mpsc channel allocates a 512-byte cache-padded `Chan` and a first block of 32
//! slots up front, about 1.6 KiB per socket (3 KiB per connection) although a stream seldom has
//! more than a segment or two queued. This queue is one small `Arc` and a `VecDeque` that grows
//! only as segments queue up.
//!
//! What is kept identical to the bounded mpsc it replaces, so runs are unchanged:
//! - `try_reserve` fails with `Closed` once the receiver is gone and with `Full` when `capacity`
//!   values are queued (a value's slot is freed when it is received, as the mpsc's permit);
//! - `poll_recv` consumes tokio's cooperative budget (`coop::poll_proceed`) like the mpsc's,
//!   returns queued values first, then `None` once the sender is gone, and wakes the receiving
//!   task on every send and when the sender is dropped;
//! - `try_recv` takes a queued value without touching the budget.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll, Waker};

use tokio::sync::mpsc::error::{TryRecvError, TrySendError};

struct Shared<T> {
    values: VecDeque<T>,
    /// The receiving task, woken by the next send or by the sender's drop.
    waker: Option<Waker>,
    capacity: usize,
    tx_closed: bool,
    rx_closed: bool,
}

/// The sending side (one per stream, owned by the host's socket).
pub(crate) struct Sender<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

/// The receiving side (owned by the stream's read half).
pub(crate) struct Receiver<T> {
    shared: Arc<Mutex<Shared<T>>>,
}

/// A bounded queue of `capacity` values (`capacity` > 0).
pub(crate) fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(capacity > 0, "mpsc bounded channel requires buffer > 0");
    let shared = Arc::new(Mutex::new(Shared {
        values: VecDeque::new(),
        waker: None,
        capacity,
        tx_closed: false,
        rx_closed: false,
    }));
    (
        Sender {
            shared: shared.clone(),
        },
        Receiver { shared },
    )
}

fn lock<T>(shared: &Mutex<Shared<T>>) -> MutexGuard<'_, Shared<T>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> Sender<T> {
    /// Whether a value can be sent now: `Closed` when the receiver is gone, `Full` when
    /// `capacity` values are queued.
    pub(crate) fn try_reserve(&self) -> Result<Permit<'_, T>, TrySendError<()>> {
        let shared = lock(&self.shared);
        if shared.rx_closed {
            Err(TrySendError::Closed(()))
        } else if shared.values.len() >= shared.capacity {
            Err(TrySendError::Full(()))
        } else {
            Ok(Permit { sender: self })
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut shared = lock(&self.shared);
            shared.tx_closed = true;
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Room for one value, from [`Sender::try_reserve`].
pub(crate) struct Permit<'a, T> {
    sender: &'a Sender<T>,
}

impl<T> Permit<'_, T> {
    /// Queues `value` and wakes the receiving task.
    pub(crate) fn send(self, value: T) {
        let waker = {
            let mut shared = lock(&self.sender.shared);
            shared.values.push_back(value);
            shared.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next value; `None` once the sender is gone and every value was received.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let mut shared = lock(&self.shared);
        if let Some(value) = shared.values.pop_front() {
            coop.made_progress();
            return Poll::Ready(Some(value));
        }
        if shared.tx_closed {
            coop.made_progress();
            return Poll::Ready(None);
        }
        match &mut shared.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            slot => *slot = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// The next value if one is queued.
    pub(crate) fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut shared = lock(&self.shared);
        match shared.values.pop_front() {
            Some(value) => Ok(value),
            None if shared.tx_closed => Err(TryRecvError::Disconnected),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // Closes the queue for the sender; queued values are dropped outside the lock.
        let values = {
            let mut shared = lock(&self.shared);
            shared.rx_closed = true;
            shared.waker = None;
            std::mem::take(&mut shared.values)
        };
        drop(values);
    }
}

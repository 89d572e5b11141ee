//! A harness shaped like httpsim's engine driver, for tests of the
//! kernel's harness hooks (httpsim patch): one paused current-thread
//! runtime; each host's tasks on their own `LocalSet`, polled with
//! `turmoil_net::set_current(host)`; a driver that calls `egress_all`
//! ONLY when the egress notification fires or at the next deadline
//! (held packet or `next_deadline`), and delivers each packet after a
//! fixed one-way latency, FIFO per link. No fixed tick: if the kernel
//! missed a notification, the simulation would stall and the root's
//! own `timeout` would fire.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::task::LocalSet;
use tokio::time::{sleep_until, Instant};
use turmoil_net::{EnterGuard, HostId, KernelConfig, KernelEvent, Net, Packet, Verdict};

/// Polls `inner` with `host` as the current host.
struct Scoped {
    host: HostId,
    inner: Pin<Box<dyn Future<Output = ()>>>,
}

impl Future for Scoped {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        turmoil_net::set_current(self.host);
        self.inner.as_mut().poll(cx)
    }
}

/// What the driver saw, for assertions.
#[derive(Debug, Default)]
pub struct Stats {
    /// `egress_all` calls.
    pub egress_calls: u64,
    /// Packets put on the wire (after rules).
    pub packets: u64,
    /// Kernel retransmission events, drained after every egress.
    pub events: Vec<(HostId, KernelEvent)>,
}

pub struct Sim {
    net: Net,
    hosts: Vec<(HostId, LocalSet)>,
    pub latency: Duration,
}

impl Sim {
    pub fn new(cfg: KernelConfig) -> Self {
        Self {
            net: Net::with_config(cfg),
            hosts: Vec::new(),
            latency: Duration::from_millis(10),
        }
    }

    pub fn net(&mut self) -> &mut Net {
        &mut self.net
    }

    /// Add a host and spawn `fut` on its LocalSet.
    pub fn host<F: Future<Output = ()> + 'static>(&mut self, name: &str, fut: F) -> HostId {
        let id = self.net.add_host(name);
        let set = LocalSet::new();
        set.spawn_local(fut);
        self.hosts.push((id, set));
        id
    }

    /// Run until `root` (on host `name`) finishes; returns its output and
    /// the driver's stats.
    pub fn run<T: 'static, F: Future<Output = T> + 'static>(
        mut self,
        name: &str,
        root: F,
    ) -> (T, Stats) {
        let id = self.net.add_host(name);
        let set = LocalSet::new();
        let handle = set.spawn_local(root);
        self.hosts.push((id, set));
        let latency = self.latency;
        let guard = self.net.enter();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        let mut stats = Stats::default();
        let out = rt.block_on(async {
            let hosts: Vec<Scoped> = self
                .hosts
                .into_iter()
                .map(|(host, set)| Scoped {
                    host,
                    inner: Box::pin(set),
                })
                .collect();
            let all_hosts = async {
                let mut hosts = hosts;
                poll_fn(|cx| {
                    for h in hosts.iter_mut() {
                        let _ = Pin::new(h).poll(cx);
                    }
                    Poll::<()>::Pending
                })
                .await
            };
            tokio::select! {
                biased;
                r = handle => r.expect("root panicked"),
                _ = all_hosts => unreachable!(),
                _ = driver(&guard, latency, &mut stats) => unreachable!(),
            }
        });
        drop(guard);
        (out, stats)
    }
}

async fn driver(guard: &EnterGuard, latency: Duration, stats: &mut Stats) {
    let mut held: VecDeque<(Instant, Packet)> = VecDeque::new();
    let mut buf = Vec::new();
    loop {
        let deadline = match (held.front().map(|(at, _)| *at), guard.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let notified = poll_fn(|cx| {
            guard.set_egress_waker(cx.waker());
            if guard.egress_pending() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        let timer = async {
            match deadline {
                Some(at) => sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            _ = notified => {}
            _ = timer => {}
        }
        let now = Instant::now();
        while held.front().is_some_and(|(at, _)| *at <= now) {
            guard.deliver(held.pop_front().unwrap().1);
        }
        guard.egress_all(&mut buf);
        stats.egress_calls += 1;
        guard.take_events(&mut stats.events);
        for pkt in buf.drain(..) {
            match guard.evaluate(&pkt) {
                Verdict::Drop => {}
                _ => {
                    stats.packets += 1;
                    held.push_back((now + latency, pkt));
                }
            }
        }
    }
}

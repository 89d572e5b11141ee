//! What the client side asks for, and when.
//!
//! - [`Workload`] — how many requests, when (sequential, parallel, rate), and what the caller
//!   does with bodies. Start here.
//! - [`request`] — which requests: httpsim's default, a list of yours, or a function of the
//!   request number.
//!
//! A workload runs in memory bounded by what is in flight, not by how many requests it sends:
//! requests are built one at a time and nothing is kept per finished request (the trace aside).

pub mod request;

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;

pub use request::{MakeRequest, RequestSource, RequestTemplate};

use crate::client::driver::{Driver, RequestSpec};
use crate::client::BodyMode;

/// When requests are issued.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WorkloadKind {
    /// One at a time: the next starts when the previous one's response head arrives or it fails,
    /// as a callback-driven loop does.
    Sequential,
    /// All at once.
    Parallel,
    /// At a fixed rate, in requests per second, regardless of completions.
    Rate(f64),
}

/// The client workload. Every field documents its default.
#[derive(Clone, Debug, PartialEq)]
pub struct Workload {
    /// When requests are issued. The default is sequential.
    pub kind: WorkloadKind,
    /// How many requests. The default is 1.
    pub requests: u64,
    /// `GET` or `POST` (POST bodies carry the sequence number). The default is `GET`.
    pub method: Method,
    /// What the caller does with each response body. The default is to read it.
    pub body: BodyMode,
    /// Path requested. The default is `/`.
    pub path: String,
    /// Which requests are sent. The default is [`RequestSource::Default`]: [`method`](Self::method)
    /// to [`path`](Self::path).
    pub request: RequestSource,
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            kind: WorkloadKind::Sequential,
            requests: 1,
            method: Method::GET,
            body: BodyMode::Read,
            path: "/".into(),
            request: RequestSource::Default,
        }
    }
}

impl Workload {
    /// Sends the requests `make` builds from each request number (from 1) instead of the
    /// default ones: any method, URI (a path goes to the server under test), headers and body.
    ///
    /// ```
    /// let mut setup = httpsim::Setup::default();
    /// setup.workload.requests = 4;
    /// setup.workload.each_request(|n| {
    ///     http::Request::put(format!("/items/{n}"))
    ///         .header("content-type", "application/json")
    ///         .body(bytes::Bytes::from(format!("{{\"n\":{n}}}")))
    ///         .unwrap()
    /// });
    /// ```
    pub fn each_request(
        &mut self,
        make: impl Fn(u64) -> http::Request<Bytes> + 'static,
    ) -> &mut Self {
        self.request = RequestSource::Fn(MakeRequest(Rc::new(make)));
        self
    }

    fn spec(&self, id: u64, base: &http::Uri, authority: &str) -> RequestSpec {
        match &self.request {
            RequestSource::Default => {
                let body = if self.method == Method::POST {
                    Bytes::from(format!("seq={id}"))
                } else {
                    Bytes::new()
                };
                RequestSpec {
                    id,
                    method: self.method.clone(),
                    uri: base.clone(),
                    headers: http::HeaderMap::new(),
                    body,
                }
            }
            RequestSource::Cycle(list) if !list.is_empty() => {
                let t = &list[((id - 1) % list.len() as u64) as usize];
                RequestSpec {
                    id,
                    method: t.method.clone(),
                    uri: absolute(&t.path, authority),
                    headers: t.headers.clone(),
                    body: t.body.clone(),
                }
            }
            RequestSource::Cycle(_) => RequestSpec {
                id,
                method: self.method.clone(),
                uri: base.clone(),
                headers: http::HeaderMap::new(),
                body: Bytes::new(),
            },
            RequestSource::Fn(make) => {
                let (parts, body) = (make.0)(id).into_parts();
                let uri = if parts.uri.scheme().is_some() {
                    parts.uri
                } else {
                    absolute(
                        parts.uri.path_and_query().map_or("/", |p| p.as_str()),
                        authority,
                    )
                };
                RequestSpec {
                    id,
                    method: parts.method,
                    uri,
                    headers: parts.headers,
                    body,
                }
            }
        }
    }

    /// Issues every request through `driver` to `authority` (`host:port`) and waits until each
    /// has a response head or has failed, and every body read has finished. Held bodies are
    /// given up at the end. Memory stays bounded by the requests in flight: a request is built
    /// when it is issued and nothing is kept once it has ended.
    pub async fn run(&self, driver: Rc<Driver>, authority: &str) {
        // Parsed once: every default request goes to the same URI.
        let uri: http::Uri = match format!("http://{authority}{}", self.path).parse() {
            Ok(uri) => uri,
            // `Setup::validate` refuses such host names and paths; a workload run on its own
            // issues nothing rather than panic.
            Err(_) => return,
        };
        match self.kind {
            WorkloadKind::Sequential => {
                for id in 1..=self.requests {
                    driver.execute(&self.spec(id, &uri, authority)).await;
                }
            }
            WorkloadKind::Parallel | WorkloadKind::Rate(_) => {
                let gap = match self.kind {
                    WorkloadKind::Rate(r) if r > 0.0 => Some(Duration::from_secs_f64(1.0 / r)),
                    _ => None,
                };
                // Requests still running, and the one waiting for them: no handle kept per
                // request. Awaited as join handles would be, oldest first: the order in which
                // this task wakes decides how its sockets close at the end of a run.
                let slots: Rc<std::cell::RefCell<std::collections::VecDeque<Rc<Done>>>> =
                    Default::default();
                // On real sockets (`--real`) each request is due at a fixed time from the first:
                // a real timer wakes up to a millisecond late, and gaps measured from each wake
                // would drift (12 requests, 15 ms). A simulated timer wakes exactly on time, where
                // both forms agree; the simulated one keeps its original form.
                let real = driver.host.config().real;
                let first = tokio::time::Instant::now();
                for id in 1..=self.requests {
                    if let (Some(gap), true) = (gap, id > 1) {
                        if real {
                            let due = first + gap.mul_f64((id - 1) as f64);
                            crate::net::clock::sleep_until(due).await;
                        } else {
                            crate::net::clock::sleep(gap).await;
                        }
                    }
                    let driver = driver.clone();
                    let spec = self.spec(id, &uri, authority);
                    let done = Rc::new(Done::default());
                    let mark = DoneOnDrop(done.clone());
                    tokio::task::spawn_local(async move {
                        let _mark = mark;
                        driver.execute(&spec).await;
                    });
                    let mut slots = slots.borrow_mut();
                    slots.push_back(done);
                    // A long run forgets finished requests at the front, so it keeps about what
                    // is in flight. Only past a bound: awaiting a finished request still takes
                    // a unit of tokio's budget, and so decides when this task yields at the end
                    // (the traces of ordinary runs stay as they were).
                    if slots.len() > PRUNE_AT {
                        while slots.front().is_some_and(|d| d.done.get()) {
                            slots.pop_front();
                        }
                    }
                }
                loop {
                    let next = slots.borrow_mut().pop_front();
                    match next {
                        Some(d) => std::future::poll_fn(|cx| d.poll(cx)).await,
                        None => break,
                    }
                }
            }
        }
        driver.keeper.wait_reads().await;
        driver.keeper.release_held();
    }
}

/// Requests remembered before finished ones are forgotten (see [`Workload::run`]).
const PRUNE_AT: usize = 1 << 16;

/// `path` (or an absolute URI) as an absolute URI on `authority`.
fn absolute(path: &str, authority: &str) -> http::Uri {
    if path.starts_with("http://") || path.starts_with("https://") {
        if let Ok(u) = path.parse() {
            return u;
        }
    }
    format!("http://{authority}{path}")
        .parse()
        .unwrap_or_else(|_| {
            format!("http://{authority}/")
                .parse()
                .expect("a valid authority")
        })
}

/// The end of one request task, as its join handle would report it.
#[derive(Default)]
struct Done {
    done: Cell<bool>,
    waiter: Cell<Option<std::task::Waker>>,
}

impl Done {
    /// As `JoinHandle::poll`: one unit of tokio's cooperative budget per poll that finds it done.
    fn poll(&self, cx: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        let coop = std::task::ready!(tokio::task::coop::poll_proceed(cx));
        if self.done.get() {
            coop.made_progress();
            std::task::Poll::Ready(())
        } else {
            self.waiter.set(Some(cx.waker().clone()));
            std::task::Poll::Pending
        }
    }
}

/// Held by a request task: marks it done when the task ends (or is dropped with its host).
struct DoneOnDrop(Rc<Done>);

impl Drop for DoneOnDrop {
    fn drop(&mut self) {
        self.0.done.set(true);
        if let Some(w) = self.0.waiter.take() {
            w.wake();
        }
    }
}

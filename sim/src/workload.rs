//! What the client side asks for, and when.

use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Method;

use crate::client::driver::{Driver, Outcome, RequestSpec};
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
}

impl Default for Workload {
    fn default() -> Self {
        Self {
            kind: WorkloadKind::Sequential,
            requests: 1,
            method: Method::GET,
            body: BodyMode::Read,
            path: "/".into(),
        }
    }
}

impl Workload {
    fn spec(&self, id: u64, uri: &http::Uri) -> RequestSpec {
        let body = if self.method == Method::POST {
            Bytes::from(format!("seq={id}"))
        } else {
            Bytes::new()
        };
        RequestSpec {
            id,
            method: self.method.clone(),
            uri: uri.clone(),
            body,
        }
    }

    /// Issues every request through `driver` to `authority` (`host:port`) and waits until each
    /// has a response head or has failed, and every body read has finished. Held bodies are
    /// given up at the end.
    pub async fn run(&self, driver: Rc<Driver>, authority: &str) -> Vec<Outcome> {
        // Parsed once: every request of a workload goes to the same URI.
        let uri: http::Uri = match format!("http://{authority}{}", self.path).parse() {
            Ok(uri) => uri,
            // `Setup::validate` refuses such host names and paths; a workload run on its own
            // issues nothing rather than panic.
            Err(_) => return Vec::new(),
        };
        // Reserved up to a bound: `requests` may be large, and memory grows as requests run.
        let capacity = self.requests.min(4096) as usize;
        let outcomes = match self.kind {
            WorkloadKind::Sequential => {
                let mut out = Vec::with_capacity(capacity);
                for id in 1..=self.requests {
                    out.push(driver.execute(&self.spec(id, &uri)).await);
                }
                out
            }
            WorkloadKind::Parallel | WorkloadKind::Rate(_) => {
                let gap = match self.kind {
                    WorkloadKind::Rate(r) if r > 0.0 => Some(Duration::from_secs_f64(1.0 / r)),
                    _ => None,
                };
                let mut handles = Vec::with_capacity(capacity);
                for id in 1..=self.requests {
                    if let (Some(gap), true) = (gap, id > 1) {
                        crate::net::clock::sleep(gap).await;
                    }
                    let driver = driver.clone();
                    let spec = self.spec(id, &uri);
                    handles.push(tokio::task::spawn_local(async move {
                        driver.execute(&spec).await
                    }));
                }
                let mut out = Vec::with_capacity(handles.len());
                for h in handles {
                    out.push(h.await.expect("request task is never cancelled"));
                }
                out
            }
        };
        driver.keeper.wait_reads().await;
        driver.keeper.release_held();
        outcomes
    }
}

//! Which requests a workload sends: httpsim's default (one method, one path, POST bodies
//! `seq=N`), a list of requests of yours cycled through, or a function of the request number.
//!
//! Every request also carries [`crate::server::SEQ_HEADER`] with its number, so the server side
//! of a trace says which request arrived (the `ordering` check reads it).

use std::fmt;
use std::rc::Rc;

use bytes::Bytes;
use http::{HeaderMap, Method, Request};

use crate::trace::ReqId;

/// One request of yours: method, path, headers, body.
#[derive(Clone, Debug, PartialEq)]
pub struct RequestTemplate {
    /// Any method.
    pub method: Method,
    /// Path and query, e.g. `/items/1?x=2`; or an absolute URI.
    pub path: String,
    /// Headers sent as they are (`content-length` is added for a body).
    pub headers: HeaderMap,
    /// The body; empty for none.
    pub body: Bytes,
}

impl Default for RequestTemplate {
    fn default() -> Self {
        Self {
            method: Method::GET,
            path: "/".into(),
            headers: HeaderMap::new(),
            body: Bytes::new(),
        }
    }
}

/// A function from the request number (from 1, as in traces) to the request to send. The
/// request's URI may be a path (`/items/7`, sent to the server under test) or absolute.
#[derive(Clone)]
pub struct MakeRequest(pub Rc<dyn Fn(ReqId) -> Request<Bytes>>);

impl fmt::Debug for MakeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MakeRequest(..)")
    }
}

impl PartialEq for MakeRequest {
    /// The same function (clones of one `MakeRequest`).
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

/// Where a workload's requests come from.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum RequestSource {
    /// [`Workload::method`](super::Workload::method) to
    /// [`Workload::path`](super::Workload::path); a POST carries the body `seq=N`.
    #[default]
    Default,
    /// Your requests: the `k`-th request sent (counting from 0) is entry `k mod n`, so
    /// request 1 is the first entry (scenario: `[[workload.request]]`).
    Cycle(Vec<RequestTemplate>),
    /// Your function of the request number.
    Fn(MakeRequest),
}

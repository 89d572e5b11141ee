//! No pool: one fresh connection per request, closed after the response.
//!
//! This is what a client without keep-alive does, and how a burst of requests turns into a
//! burst of sockets (and EMFILE once the fd table is full).

use std::time::Duration;

use hyper::Request;

use super::{ClientError, Pool, RequestBody, SendFuture};
use crate::error::ErrorKind;
use crate::net::{ConnInfo, HostNet};
use crate::trace::ReqId;

/// A fresh connection per request.
pub struct NoPool {
    host: HostNet,
    connect_timeout: Option<Duration>,
}

impl std::fmt::Debug for NoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoPool").finish_non_exhaustive()
    }
}

impl NoPool {
    /// Dials from `host`.
    pub fn new(host: HostNet, connect_timeout: Option<Duration>) -> Self {
        Self {
            host,
            connect_timeout,
        }
    }
}

/// Opens a connection to the host and port of `req`'s URI, with an optional connect timeout.
pub(crate) async fn connect_for(
    host: &HostNet,
    uri: &http::Uri,
    connect_timeout: Option<Duration>,
) -> Result<crate::net::SimStream, ClientError> {
    let name = uri.host().unwrap_or("server").to_string();
    let port = uri.port_u16().unwrap_or(80);
    let connect = host.connect(&name, port);
    let res = match connect_timeout {
        Some(t) => match crate::net::clock::timeout(t, connect).await {
            Ok(r) => r,
            Err(_) => {
                return Err(ClientError::new(
                    ErrorKind::Timeout,
                    format!("connect to {name}:{port} timed out after {t:?}"),
                    false,
                ))
            }
        },
        None => connect.await,
    };
    res.map_err(|e| ClientError::from_error(&e, false))
}

impl Pool for NoPool {
    fn numbers_attempts(&self) -> bool {
        false
    }

    fn send(&self, _id: ReqId, mut req: Request<RequestBody>) -> SendFuture {
        let host = self.host.clone();
        let connect_timeout = self.connect_timeout;
        Box::pin(async move {
            let stream = connect_for(&host, req.uri(), connect_timeout).await?;
            let conn = stream.conn();
            let (mut sender, connection) = hyper::client::conn::http1::handshake(stream)
                .await
                .map_err(|e| ClientError::from_error(&e, false))?;
            tokio::task::spawn_local(connection);
            req.headers_mut().insert(
                http::header::CONNECTION,
                http::HeaderValue::from_static("close"),
            );
            to_origin_form(&mut req);
            let mut res = sender
                .send_request(req)
                .await
                .map_err(|e| ClientError::from_error(&e, true))?;
            res.extensions_mut().insert(ConnInfo { conn });
            Ok(res.map(super::box_body))
        })
    }
}

/// Rewrites an absolute request URI to origin form (`/path`) and sets `Host`, as a client must
/// when it writes requests on a connection it opened itself.
pub(crate) fn to_origin_form<B>(req: &mut Request<B>) {
    let uri = req.uri().clone();
    if let Some(authority) = uri.authority() {
        if let Ok(v) = http::HeaderValue::from_str(authority.as_str()) {
            req.headers_mut().entry(http::header::HOST).or_insert(v);
        }
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    if let Ok(p) = path.parse() {
        *req.uri_mut() = p;
    }
}

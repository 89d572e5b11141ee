//! A connector that lets hyper-util's legacy `Client` dial simulated hosts.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Uri;

use super::{HostNet, SimStream};
use crate::trace::ConnId;

/// Put in each connection's `Connected::extra`, so every response carries the id of the
/// connection it arrived on (`response.extensions().get::<ConnInfo>()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnInfo {
    /// The connection id.
    pub conn: ConnId,
}

/// A `tower::Service<Uri>` that opens a [`SimStream`] from its host to the URI's host and port
/// (port 80 when the URI has none).
#[derive(Clone)]
pub struct SimConnector {
    host: HostNet,
    connect_timeout: Option<std::time::Duration>,
}

impl SimConnector {
    /// A connector dialling from `host`.
    pub fn new(host: HostNet) -> Self {
        Self {
            host,
            connect_timeout: None,
        }
    }

    /// Fails a connect that takes longer than `t` with a `TimedOut` error. The default is none.
    pub fn set_connect_timeout(&mut self, t: Option<std::time::Duration>) -> &mut Self {
        self.connect_timeout = t;
        self
    }
}

impl tower::Service<Uri> for SimConnector {
    type Response = SimStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<SimStream>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let host = self.host.clone();
        let timeout = self.connect_timeout;
        Box::pin(async move {
            let name = uri
                .host()
                .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "URI without host"))?
                .to_string();
            let port = uri.port_u16().unwrap_or(80);
            match timeout {
                Some(t) => crate::net::clock::timeout(t, host.connect(&name, port))
                    .await
                    .unwrap_or_else(|_| {
                        Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("connect to {name}:{port} timed out after {t:?}"),
                        ))
                    }),
                None => host.connect(&name, port).await,
            }
        })
    }
}

//! The HTTP/2 combinations a scenario file may not ask for, each pointing at its key: HTTP/2
//! settings on a server or client that speaks HTTP/1.1 (and HTTP/1.1-only server settings on an
//! `http2` server), a client protocol a pool does not have, and an HTTP/1.1-only pool against a server that speaks only HTTP/2 (hyper's h2c
//! server answers its request line with a connection error: there is nothing to simulate).
//!
//! An HTTP/2 client against an `http1` server is allowed: what happens (the server cannot parse
//! the preface and closes) is a finding of the run, not a malformed file.

use super::format::{PoolTable, ProtocolName, ScenarioFile, Server};
use super::validate::bad;
use super::{Ctx, ScenarioError};

type R = Result<(), ScenarioError>;

/// Checks the HTTP/2 rules of `f`.
pub(crate) fn validate(f: &ScenarioFile, ctx: &Ctx) -> R {
    let server_protocol = f
        .server
        .as_ref()
        .and_then(|s| s.protocol)
        .unwrap_or(ProtocolName::Http1);
    if let Some(s) = &f.server {
        server_settings(s, server_protocol, ctx)?;
    }
    let Some(pool) = f.client.as_ref().and_then(|c| c.pool.as_ref()) else {
        return http1_client(
            ctx,
            server_protocol,
            "server.protocol",
            "the default client (hyper-util, http1)",
        );
    };
    pool_protocol(pool, server_protocol, ctx)
}

/// The server's settings belong to the protocol it speaks: no HTTP/2 setting on an `http1`
/// server, no HTTP/1.1-only setting on an `http2` one.
fn server_settings(s: &Server, server_protocol: ProtocolName, ctx: &Ctx) -> R {
    let keys = [
        ("max_concurrent_streams", s.max_concurrent_streams.is_some()),
        (
            "initial_stream_window_size",
            s.initial_stream_window_size.is_some(),
        ),
        (
            "initial_connection_window_size",
            s.initial_connection_window_size.is_some(),
        ),
        ("keep_alive_interval", s.keep_alive_interval.is_some()),
        ("keep_alive_timeout", s.keep_alive_timeout.is_some()),
        (
            "max_pending_accept_reset_streams",
            s.max_pending_accept_reset_streams.is_some(),
        ),
    ];
    if server_protocol == ProtocolName::Http2 {
        // HTTP/1.1 settings hyper's HTTP/2 server has no use for: they would do nothing.
        let h1 = [
            ("keep_alive", s.keep_alive == Some(false)),
            (
                "max_requests_per_socket",
                s.max_requests_per_socket.is_some(),
            ),
            ("header_read_timeout", s.header_read_timeout.is_some()),
        ];
        if let Some((key, _)) = h1.iter().find(|(_, set)| *set) {
            return Err(bad(
                ctx,
                &format!("server.{key}"),
                format!(
                    "`{key}` is an HTTP/1.1 setting, and the server speaks HTTP/2 only \
                         (HTTP/2 has no `connection: close` and no header read timeout)"
                ),
                "protocol = \"auto\" (it applies to HTTP/1.1 connections), or no such key",
            ));
        }
    }
    if server_protocol == ProtocolName::Http1 {
        if let Some((key, _)) = keys.iter().find(|(_, set)| *set) {
            return Err(bad(
                ctx,
                &format!("server.{key}"),
                format!("`{key}` is an HTTP/2 setting, and the server speaks HTTP/1.1"),
                "protocol = \"http2\" or \"auto\" in [server], or no HTTP/2 setting",
            ));
        }
    }
    Ok(())
}

/// The pool speaks a protocol it has, with settings of that protocol, that the server speaks.
fn pool_protocol(pool: &PoolTable, server_protocol: ProtocolName, ctx: &Ctx) -> R {
    match pool {
        PoolTable::HyperUtil {
            protocol,
            keep_alive_interval,
            keep_alive_timeout,
            keep_alive_while_idle,
            adaptive_window,
            max_concurrent_reset_streams,
            initial_max_send_streams,
            max_idle_per_host,
            ..
        } => match protocol.unwrap_or(ProtocolName::Http1) {
            ProtocolName::Auto => Err(bad(
                ctx,
                "client.pool.protocol",
                "a client cannot speak `auto`: without TLS there is no ALPN to negotiate with",
                "\"http1\" or \"http2\"",
            )),
            ProtocolName::Http2 => {
                if max_idle_per_host.is_some() {
                    return Err(bad(
                        ctx,
                        "client.pool.max_idle_per_host",
                        "an HTTP/1 setting on an HTTP/2 client (it keeps one connection per host)",
                        "no max_idle_per_host with protocol = \"http2\"",
                    ));
                }
                Ok(())
            }
            ProtocolName::Http1 => {
                let set = [
                    ("keep_alive_interval", keep_alive_interval.is_some()),
                    ("keep_alive_timeout", keep_alive_timeout.is_some()),
                    ("keep_alive_while_idle", keep_alive_while_idle.is_some()),
                    ("adaptive_window", adaptive_window.is_some()),
                    (
                        "max_concurrent_reset_streams",
                        max_concurrent_reset_streams.is_some(),
                    ),
                    (
                        "initial_max_send_streams",
                        initial_max_send_streams.is_some(),
                    ),
                ];
                if let Some((key, _)) = set.iter().find(|(_, s)| *s) {
                    return Err(bad(
                        ctx,
                        &format!("client.pool.{key}"),
                        format!("`{key}` is an HTTP/2 setting, and this pool speaks HTTP/1.1"),
                        "protocol = \"http2\" in the pool table, or no HTTP/2 setting",
                    ));
                }
                http1_client(
                    ctx,
                    server_protocol,
                    "client.pool.kind",
                    "hyper-util (http1)",
                )
            }
        },
        PoolTable::H2 { .. } => Ok(()),
        PoolTable::Agent { .. } => {
            http1_client(ctx, server_protocol, "client.pool.kind", "the agent pool")
        }
        PoolTable::None {} => http1_client(ctx, server_protocol, "client.pool.kind", "no pool"),
    }
}

/// An HTTP/1.1 client is refused by an `http2` (prior knowledge) server.
fn http1_client(ctx: &Ctx, server: ProtocolName, key: &str, what: &str) -> R {
    if server != ProtocolName::Http2 {
        return Ok(());
    }
    Err(bad(
        ctx,
        key,
        format!("{what} speaks HTTP/1.1 only, and the server speaks HTTP/2 only (protocol = \"http2\")"),
        "pool = { kind = \"h2\" } or { kind = \"hyper-util\", protocol = \"http2\" }, or protocol = \"auto\" in [server]",
    ))
}

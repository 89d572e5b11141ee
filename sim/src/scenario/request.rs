//! `[[workload.request]]` and `[expect] status`: a scenario's own requests and the status codes
//! it expects, turned into a [`RequestTemplate`] list and checked for what cannot be sent or
//! counted, each error pointing at its key.

// See `scenario/mod.rs`: a `ScenarioError` ends the program; boxing it would only add noise.
#![allow(clippy::result_large_err)]

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use super::format::{Expect, RequestTable};
use super::{Ctx, ErrorClass, ScenarioError};
use crate::workload::RequestTemplate;

/// The requests of `[[workload.request]]`, in file order.
pub(super) fn convert(
    list: &[RequestTable],
    ctx: &Ctx,
) -> Result<Vec<RequestTemplate>, ScenarioError> {
    list.iter()
        .enumerate()
        .map(|(i, r)| one(r, i, ctx))
        .collect()
}

fn one(r: &RequestTable, i: usize, ctx: &Ctx) -> Result<RequestTemplate, ScenarioError> {
    let key = |k: &str| format!("workload.request[{i}].{k}");
    let mut t = RequestTemplate::default();
    if let Some(m) = &r.method {
        t.method = Method::from_bytes(m.as_bytes()).map_err(|_| {
            ctx.error(
                ErrorClass::Field,
                &key("method"),
                format!("{m:?} is not an HTTP method"),
            )
            .expected("a method token such as \"GET\", \"PUT\" or \"PATCH\"")
        })?;
    }
    if let Some(p) = &r.path {
        if !p.starts_with('/') || p.parse::<http::uri::PathAndQuery>().is_err() {
            return Err(ctx
                .error(
                    ErrorClass::Field,
                    &key("path"),
                    format!("{p:?} is not a request path"),
                )
                .expected("a path starting with `/`, e.g. \"/items/1\" or \"/items?page=2\""));
        }
        t.path = p.clone();
    }
    let mut headers = HeaderMap::new();
    for (name, value) in r.headers.iter().flatten() {
        let field = format!("{}.{name}", key("headers"));
        let n = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            ctx.error(
                ErrorClass::Field,
                &field,
                format!("{name:?} is not a header name"),
            )
            .expected("a header name such as content-type or x-team")
        })?;
        let v = HeaderValue::from_str(value).map_err(|_| {
            ctx.error(
                ErrorClass::Field,
                &field,
                format!("{value:?} is not a header value"),
            )
            .expected("visible ASCII text")
        })?;
        headers.append(n, v);
    }
    t.headers = headers;
    t.body = r.body.clone().map(Bytes::from).unwrap_or_default();
    Ok(t)
}

/// Refuses status codes in `[expect] status` that no response can have, and bounds that
/// cannot both hold.
pub(super) fn check_status(e: &Expect, ctx: &Ctx) -> Result<(), ScenarioError> {
    for (code, count) in e.status.iter().flatten() {
        let field = format!("expect.status.{code}");
        if !code.parse::<u16>().is_ok_and(|c| (100..=999).contains(&c)) {
            return Err(ctx
                .error(
                    ErrorClass::Field,
                    &field,
                    format!("{code:?} is not a status code"),
                )
                .expected("a status code from 100 to 999, e.g. 200 or 503"));
        }
        if let (Some(min), Some(max)) = (count.min, count.max) {
            if min > max {
                return Err(ctx
                    .error(
                        ErrorClass::Impossible,
                        &field,
                        format!("min {min} is above max {max}"),
                    )
                    .expected("min <= max"));
            }
        }
    }
    Ok(())
}

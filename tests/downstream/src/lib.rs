//! A team's own small HTTP service and the client it calls it with — the code under test in
//! `tests/`. Nothing here knows about httpsim: this is production code.
//!
//! - [`router`] — an axum router: `/slow` waits 2 s (a slow dependency), `/items` answers 503
//!   while the [`Flags::unavailable`] switch is on; tower-http's `TimeoutLayer` bounds both.
//! - [`client_builder`] — hyper-util's `Client` with the team's pool settings; the caller
//!   chooses the executor and the connector (plain TCP in production).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hyper_util::client::legacy::Builder;
use hyper_util::rt::TokioTimer;
use tower_http::timeout::TimeoutLayer;

/// How long a request may take before the service answers 408 itself.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Switches the service reads on every request.
#[derive(Clone, Debug, Default)]
pub struct Flags {
    /// `/items` answers 503 while this is on.
    pub unavailable: Arc<AtomicBool>,
}

/// The team's service.
pub fn router(flags: Flags) -> Router {
    Router::new()
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(2)).await;
                "slow but fine"
            }),
        )
        .route(
            "/items",
            get(move || {
                let down = flags.unavailable.load(Ordering::Relaxed);
                async move {
                    match down {
                        true => (StatusCode::SERVICE_UNAVAILABLE, "try later"),
                        false => (StatusCode::OK, "[1,2,3]"),
                    }
                }
            }),
        )
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
}

/// The team's pool settings: idle sockets kept 90 s (hyper-util's default, which the team never
/// changed), at most 8 per host.
pub fn client_builder<E>(exec: E) -> Builder
where
    E: hyper::rt::Executor<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>>
        + Send
        + Sync
        + Clone
        + 'static,
{
    let mut b = hyper_util::client::legacy::Client::builder(exec);
    b.pool_idle_timeout(Duration::from_secs(90))
        .pool_max_idle_per_host(8)
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new());
    b
}

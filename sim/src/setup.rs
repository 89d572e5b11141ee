//! A complete experiment in memory — world, server, client, workload, faults — and the function
//! that runs it. The scenario file format (`scenario/`) is one way to write a [`Setup`]; tests
//! build one directly.
//!
//! - [`Setup`] — the experiment; [`Setup::validate`] holds every rule it must satisfy
//!   ([`SetupError`] names the field), [`Setup::run`] runs it.
//! - [`Run`] — what a run produced; it judges itself ([`Run::summary`], [`Run::check`],
//!   [`Run::check_all`]).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant as WallInstant};

use crate::client::driver::{BodyKeeper, Driver};
use crate::client::{build_pool, ClientConfig, Pool};
use crate::net::HostNet;
use crate::server::{serve_with, ServerConfig, ShutdownDone};
use crate::workload::Workload;
use crate::world::{NetAction, WorldBuilder};

mod error;
mod run;
mod validate;

pub use error::SetupError;
pub use run::Run;
pub use validate::{MAX_BODY_BYTES, MAX_CHUNK_BYTES, MAX_DURATION, MAX_REQUESTS, MAX_RUN_BYTES};

/// The former name of [`Run`].
pub type RunResult = Run;

/// Builds the pool under test on the client host, in place of [`ClientConfig::pool`].
pub type PoolFactory = Rc<dyn Fn(HostNet) -> Box<dyn Pool>>;
/// Runs the server under test on the server host, in place of [`crate::server::serve`]. Called
/// again when the host is bounced.
pub type ServerSoftware = Rc<dyn Fn(HostNet) -> Pin<Box<dyn Future<Output = ()>>>>;

/// Your own components in place of httpsim's: a pool or a server of yours (or a deliberately
/// broken one, to show a check bites).
#[derive(Clone, Default)]
pub struct Custom {
    /// The pool under test.
    pub pool: Option<PoolFactory>,
    /// The server under test.
    pub server: Option<ServerSoftware>,
}

impl std::fmt::Debug for Custom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Custom")
            .field("pool", &self.pool.is_some())
            .field("server", &self.server.is_some())
            .finish()
    }
}

/// Everything one run needs.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// The world: seed, tick, duration, latency.
    pub world: WorldBuilder,
    /// The server under test.
    pub server: ServerConfig,
    /// The client under test.
    pub client: ClientConfig,
    /// What the client does.
    pub workload: Workload,
    /// Scheduled network and host events.
    pub faults: Vec<(Duration, NetAction)>,
    /// Components of your own in place of the configured ones.
    pub custom: Custom,
}

impl Setup {
    /// Runs the experiment once, after [`Setup::validate`]: a setup that breaks a rule does not
    /// run.
    pub fn run(&self) -> Result<Run, SetupError> {
        self.validate()?;
        let wall = WallInstant::now();
        let mut world = self.world.build();
        // `serve` takes an `Arc`; a config holding your own service (an `Rc`) is not `Send`,
        // which is fine: every host of a run lives on this one thread.
        #[allow(clippy::arc_with_non_send_sync)]
        let server = Arc::new(self.server.clone());
        let (name, limit, in_use) = (server.host.clone(), server.fd_limit, server.fd_in_use);
        // The run ends only once a scheduled shutdown has finished (a custom server cannot
        // report it, so then only the workload counts).
        let shutdown_done = ShutdownDone::new();
        let await_shutdown = server.shutdown.is_some() && self.custom.server.is_none();
        match self.custom.server.clone() {
            Some(software) => world.host(&name, limit, in_use, move |host| software(host)),
            None => {
                let done = shutdown_done.clone();
                world.host(&name, limit, in_use, move |host| {
                    serve_with(host, server.clone(), done.clone())
                })
            }
        }
        let custom_pool = self.custom.pool.clone();
        let client = self.client.clone();
        let workload = self.workload.clone();
        let authority = format!("{}:{}", self.server.host, self.server.port);
        let bodies: Rc<std::cell::RefCell<_>> = Default::default();
        let bodies_out = bodies.clone();
        let (name, limit, in_use) = (client.host.clone(), client.fd_limit, client.fd_in_use);
        world.client(&name, limit, in_use, move |host| async move {
            let driver = Rc::new(Driver {
                pool: match &custom_pool {
                    Some(make) => make(host.clone()),
                    None => build_pool(&client, host.clone()),
                },
                host,
                timeouts: client.timeouts,
                retry: client.retry,
                body: workload.body,
                keeper: BodyKeeper::default(),
            });
            workload.run(driver.clone(), &authority).await;
            *bodies.borrow_mut() = driver.keeper.take_kept();
            if await_shutdown {
                // The client process lives on with its pool (idle keep-alive sockets included)
                // until the server has shut down, as a long-running client would.
                shutdown_done.wait().await;
            }
            drop(driver);
        });
        for (at, action) in &self.faults {
            world.schedule(*at, action.clone());
        }
        let end = world.run();
        let sim_time = world.elapsed();
        let steps = world.steps();
        let net = world.net().clone();
        net.trace().seal();
        drop(world);
        let peak_fds = net.peak_fds();
        // Moved, not copied: `net.trace()` is empty afterwards.
        let records = net.trace().take();
        let times = (sim_time, wall.elapsed(), steps);
        Ok(Run::new(self.clone(), end, times, records, peak_fds).with_bodies(bodies_out.take()))
    }
}

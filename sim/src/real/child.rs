//! One child process of a real run: the scenario's server or its client, on loopback, with
//! real timers, under the scenario's fd limit (`RLIMIT_NOFILE`, soft and hard).
//!
//! The parent ([`super::parent`]) starts it as a copy of its own executable with
//! [`CHILD_ENV`] set; the `httpsim` binary calls [`child_main`] first thing. The protocol, one
//! line each on standard output: `fds MEASURED BASELINE` once the descriptors already open are
//! counted (and padded with `/dev/null` up to the scenario's `fd_in_use`), then `workload-done`
//! (client) or `shutdown-done` (server) when that happens. Standard input closing means stop:
//! the child writes its trace (JSON Lines) and one last line of figures to its `--out` file,
//! and exits. Both children start their clocks at the same wall instant, chosen by the parent,
//! so the two traces share one time zero.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::client::build_pool;
use crate::client::driver::{BodyKeeper, Driver};
use crate::error::ErrorKind;
use crate::net::real::RealNet;
use crate::net::{clock, Net};
use crate::server::{serve_with, ShutdownDone};
use crate::trace::{Event, Trace};

/// Set in a child's environment: its [`ChildArgs`] as JSON.
pub const CHILD_ENV: &str = "HTTPSIM_REAL_CHILD";

/// Which side a child runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// The scenario's server.
    Server,
    /// The scenario's client and workload.
    Client,
}

/// What the parent tells a child.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChildArgs {
    /// Server or client.
    pub role: Role,
    /// The scaled scenario text.
    pub scenario: String,
    /// The scenario file (for messages).
    pub file: PathBuf,
    /// The seed.
    pub seed: u64,
    /// Time zero: microseconds since the Unix epoch.
    pub t0_us: u64,
    /// The server's real address.
    pub server: SocketAddr,
    /// Where the trace and the figures go.
    pub out: PathBuf,
    /// A restarted server (`bounce`) whose predecessor already finished the scheduled shutdown:
    /// it serves again without shutting down a second time, as a simulated one does.
    #[serde(default)]
    pub shutdown_finished: bool,
}

/// The child's last line in its `--out` file, after the trace.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChildFigures {
    /// Descriptors open in the process before the software started.
    pub fds_measured: usize,
    /// The baseline the host started from: the measured count, padded up to `fd_in_use`.
    pub fds_baseline: usize,
    /// The most descriptors open at once (baseline included): the host's table, or the limit
    /// itself once the kernel refused a descriptor.
    pub peak_fds: usize,
    /// The fd limit set (`RLIMIT_NOFILE`), if the scenario has one.
    pub fd_limit: Option<usize>,
    /// When the child stopped, µs since time zero.
    pub end_us: u64,
}

/// Runs as a child of a real run if [`CHILD_ENV`] says so, and exits; returns otherwise.
pub fn child_main() {
    let Some(args) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let code = match serde_json::from_str::<ChildArgs>(&args.to_string_lossy())
        .map_err(|e| format!("bad {CHILD_ENV}: {e}"))
        .and_then(run)
    {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("httpsim real child: {e}");
            1
        }
    };
    std::process::exit(code);
}

fn run(args: ChildArgs) -> Result<(), String> {
    let scenario = crate::scenario::parse(&args.file, &args.scenario).map_err(|e| e.to_string())?;
    let mut setup = scenario.setup;
    setup.world.seed(args.seed);
    carry_latency(&mut setup.world);
    let side = Side::of(args.role, &setup);
    if let Some(limit) = side.limit {
        set_fd_limit(limit)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let local = tokio::task::LocalSet::new();
    let out = args.out.clone();
    let (records, figures) = local.block_on(&rt, side.run(args, setup));
    write_out(&out, &records, &figures)
}

/// This child's host in the scenario: its name and its fd figures.
struct Side {
    name: String,
    limit: Option<usize>,
    in_use: usize,
}

impl Side {
    fn of(role: Role, setup: &crate::setup::Setup) -> Side {
        let (name, limit, in_use) = match role {
            Role::Server => (
                &setup.server.host,
                setup.server.fd_limit,
                setup.server.fd_in_use,
            ),
            Role::Client => (
                &setup.client.host,
                setup.client.fd_limit,
                setup.client.fd_in_use,
            ),
        };
        Side {
            name: name.clone(),
            limit,
            in_use,
        }
    }

    /// Counts and pads the descriptors, tells the parent, runs the role from time zero until
    /// standard input closes, and returns the trace and the figures.
    async fn run(
        self,
        args: ChildArgs,
        setup: crate::setup::Setup,
    ) -> (Vec<crate::trace::Record>, ChildFigures) {
        // The listener's own descriptor is open during the run but not yet now.
        let listener = usize::from(args.role == Role::Server);
        let measured = open_fds() + listener;
        let padding: Vec<std::fs::File> = (measured..self.in_use)
            .filter_map(|_| std::fs::File::open("/dev/null").ok())
            .collect();
        let baseline = measured + padding.len();
        say(&format!("fds {measured} {baseline}"));
        let port = setup.server.port;
        let peers = BTreeMap::from([((setup.server.host.clone(), port), args.server)]);
        let real = RealNet::new(peers, BTreeMap::from([(port, args.server)]));
        let trace = Trace::new();
        let host = Net::real_host(
            trace.clone(),
            &setup.world,
            &self.name,
            real.clone(),
            baseline,
        );
        // Time zero is the same wall instant in both children. The server serves from now on
        // (its timers count from time zero), so the client's first connect finds it listening;
        // the client starts its workload at time zero.
        let _clock = clock::start_at(instant_of(args.t0_us));
        let peer = match args.role {
            Role::Server => &setup.client.host,
            Role::Client => &setup.server.host,
        };
        tokio::task::spawn_local(relay_schedule(&setup.faults, &self.name, peer, real));
        let stop = stdin_closed();
        match args.role {
            Role::Server => serve_until(stop, &host, &setup, args.shutdown_finished).await,
            Role::Client => {
                wait_until(args.t0_us).await;
                drive_until(stop, &host, &setup).await;
            }
        }
        let end_us = clock::now_us();
        trace.seal();
        let records = trace.take();
        let figures = ChildFigures {
            fds_measured: measured,
            fds_baseline: baseline,
            peak_fds: peak_fds(&records, self.limit, host.fds().peak()),
            fd_limit: self.limit,
            end_us,
        };
        drop(padding);
        (records, figures)
    }
}

/// Serves until `stop`; says `shutdown-done` when the scheduled shutdown finished first.
async fn serve_until(
    stop: impl std::future::Future<Output = ()>,
    host: &crate::net::HostNet,
    setup: &crate::setup::Setup,
    shutdown_finished: bool,
) {
    tokio::pin!(stop);
    #[allow(clippy::arc_with_non_send_sync)]
    let config = Arc::new(setup.server.clone());
    let done = ShutdownDone::new();
    if shutdown_finished {
        done.finish();
    }
    let serving = tokio::task::spawn_local(serve_with(host.clone(), config, done.clone()));
    tokio::select! {
        biased;
        _ = &mut stop => {}
        _ = done.wait() => {
            say("shutdown-done");
            stop.await;
        }
    }
    serving.abort();
}

/// Runs the workload until `stop`; says `workload-done` when it finished first.
async fn drive_until(
    stop: impl std::future::Future<Output = ()>,
    host: &crate::net::HostNet,
    setup: &crate::setup::Setup,
) {
    tokio::pin!(stop);
    let authority = format!("{}:{}", setup.server.host, setup.server.port);
    let driver = Rc::new(Driver {
        pool: build_pool(&setup.client, host.clone()),
        host: host.clone(),
        timeouts: setup.client.timeouts,
        retry: setup.client.retry,
        body: setup.workload.body,
        keeper: BodyKeeper::default(),
    });
    tokio::select! {
        biased;
        _ = &mut stop => {}
        _ = setup.workload.run(driver.clone(), &authority) => {
            say("workload-done");
            stop.await;
        }
    }
}

/// The host's peak of open descriptors. The table counts a real socket once it exists in
/// httpsim's hands (after connect or accept), so it can miss sockets still handshaking; a
/// kernel EMFILE proves the process had its whole limit open at that moment.
fn peak_fds(records: &[crate::trace::Record], limit: Option<usize>, table_peak: usize) -> usize {
    let kernel_emfile = records.iter().any(|r| {
        matches!(
            r.event,
            Event::ConnectFailed {
                kind: ErrorKind::Emfile,
                ..
            } | Event::AcceptFailed {
                kind: ErrorKind::Emfile,
                ..
            }
        )
    });
    match limit {
        Some(l) if kernel_emfile => table_peak.max(l),
        _ => table_peak,
    }
}

/// The trace (JSON Lines) and, last, the figures, to the `--out` file.
fn write_out(
    path: &std::path::Path,
    records: &[crate::trace::Record],
    figures: &ChildFigures,
) -> Result<(), String> {
    let mut out = std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut text = crate::trace::to_jsonl(records);
    text.push_str(&serde_json::to_string(figures).map_err(|e| e.to_string())?);
    text.push('\n');
    out.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The network's latency, carried as the socket layer's `latency` fault on every write of
/// both ends (after the scenario's own per-connection faults, whose draws keep their
/// positions): each write leaves a uniform draw in `[min, max]` later, in order — the relay
/// loopback lacks, run in-process by the sender. Like the simulation's, its timers have
/// tokio's millisecond resolution.
fn carry_latency(world: &mut crate::world::WorldBuilder) {
    use crate::net::{ConnFault, ConnFaultKind, Direction};
    let (min, max) = world.latency_bounds();
    if max.is_zero() {
        return;
    }
    for direction in [Direction::ToServer, Direction::ToClient] {
        world.conn_fault(ConnFault::always(
            ConnFaultKind::Latency {
                latency: min,
                jitter: max.saturating_sub(min),
            },
            direction,
        ));
    }
}

/// The scheduled partitions and holds that concern this host's traffic toward `peer`, applied
/// to the relay at their times (the other faults are not carried: `real/scale.rs` refused them
/// or the run is `--partial`).
fn relay_schedule(
    faults: &[(Duration, crate::world::NetAction)],
    me: &str,
    peer: &str,
    real: Arc<RealNet>,
) -> impl std::future::Future<Output = ()> {
    use crate::world::NetAction;
    let ours = |a: &str, b: &str, oneway: bool| {
        (a == me && b == peer) || (!oneway && a == peer && b == me)
    };
    let mut changes: Vec<(Duration, bool)> = faults
        .iter()
        .filter_map(|(at, action)| match action {
            NetAction::Partition { a, b, oneway } if ours(a, b, *oneway) => Some((*at, true)),
            NetAction::Repair { a, b, oneway } if ours(a, b, *oneway) => Some((*at, false)),
            NetAction::Hold { a, b } if ours(a, b, false) => Some((*at, true)),
            NetAction::Release { a, b } if ours(a, b, false) => Some((*at, false)),
            _ => None,
        })
        .collect();
    changes.sort_by_key(|(at, _)| *at);
    // What is due at time zero applies before the first connect, as in a simulation.
    let later = changes.split_off(changes.partition_point(|(at, _)| at.is_zero()));
    for (_, blocked) in changes {
        real.set_blocked(blocked);
    }
    let changes = later;
    async move {
        for (at, blocked) in changes {
            tokio::time::sleep_until(clock::at(at)).await;
            real.set_blocked(blocked);
        }
    }
}

/// One control line to the parent.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Completes when the parent closes our standard input (read on a thread of its own: the
/// runtime has no stdin support, and a blocking read must not hold the host's thread).
fn stdin_closed() -> impl std::future::Future<Output = ()> {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 64];
        while let Ok(n) = std::io::stdin().read(&mut buf) {
            if n == 0 {
                break;
            }
        }
        let _ = tx.send(());
    });
    async move {
        let _ = rx.await;
    }
}

fn now_epoch_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// The tokio instant of the wall time `t0_us` (µs since the epoch).
fn instant_of(t0_us: u64) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let epoch_now = now_epoch_us();
    if epoch_now >= t0_us {
        now.checked_sub(Duration::from_micros(epoch_now - t0_us))
            .unwrap_or(now)
    } else {
        now + Duration::from_micros(t0_us - epoch_now)
    }
}

async fn wait_until(t0_us: u64) {
    let now = now_epoch_us();
    if t0_us > now {
        tokio::time::sleep(Duration::from_micros(t0_us - now)).await;
    }
}

/// Descriptors open in this process now.
fn open_fds() -> usize {
    // The directory handle itself is one of them while it is read.
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1))
}

/// Sets `RLIMIT_NOFILE` (soft and hard) to `limit`.
fn set_fd_limit(limit: usize) -> Result<(), String> {
    let lim = libc::rlimit {
        rlim_cur: limit as libc::rlim_t,
        rlim_max: limit as libc::rlim_t,
    };
    // SAFETY: setrlimit reads the struct we pass and changes only this process's limit.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    if rc != 0 {
        return Err(format!(
            "setrlimit(RLIMIT_NOFILE, {limit}): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

//! The parent of a real run: starts the server's and the client's child processes
//! ([`super::child`]), ends the run as a simulated one ends (the workload done and any
//! shutdown finished, or the scenario's duration reached), and joins the two traces into one.
//!
//! Everything is bounded in time: a child that has not stopped 10 s after it was told to is
//! killed, and the run fails.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::child::{ChildArgs, ChildFigures, Role, CHILD_ENV};
use crate::trace::{Event, Record};
use crate::world::NetAction;

/// How long before time zero the children are started: enough for a process to start.
const STARTUP: Duration = Duration::from_millis(400);

/// How long a child may take to write its trace and exit once told to stop.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// One real run: both children's traces joined, and their figures.
#[derive(Debug)]
pub struct RealRun {
    /// The trace, in time order; connections numbered from 1 in order of first appearance.
    pub records: Vec<Record>,
    /// When the run ended, µs since time zero.
    pub end_us: u64,
    /// Whether it ended because the scenario's duration was reached.
    pub duration_reached: bool,
    /// Each host's figures (fds measured at start, baseline, peak, limit).
    pub hosts: BTreeMap<String, ChildFigures>,
    /// Wall time of the whole run, start-up included.
    pub wall: Duration,
}

/// What a real run needs to know about the scenario.
#[derive(Clone, Debug)]
pub struct Plan<'a> {
    /// The executable to start the children from (an `httpsim` binary).
    pub exe: &'a Path,
    /// The scenario file (for messages).
    pub file: &'a Path,
    /// The scaled scenario text.
    pub text: &'a str,
    /// Seed.
    pub seed: u64,
    /// The scaled run length.
    pub duration: Duration,
    /// Whether the server has a shutdown planned (the run then waits for it).
    pub shutdown: bool,
    /// The server's and the client's host names.
    pub hosts: (&'a str, &'a str),
    /// The scheduled faults (those of them loopback carries are carried).
    pub faults: &'a [(Duration, NetAction)],
}

/// What the parent itself does to the server's process at a scheduled time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kill {
    /// `crash` (with FIN): the process stops; its kernel closes every socket.
    Crash,
    /// `bounce`: crash if running, then start a new server process on the same port.
    Bounce,
}

/// A child process and where it writes.
struct Running {
    role: Role,
    child: Child,
    out: PathBuf,
}

/// Runs the scenario once on loopback.
pub fn run(plan: &Plan) -> Result<RealRun, String> {
    let wall = Instant::now();
    let server = free_port()?;
    let dir = std::env::temp_dir().join(format!(
        "httpsim-real-{}-{}",
        std::process::id(),
        epoch_us()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let t0_us = epoch_us() + STARTUP.as_micros() as u64;
    let t0 = Instant::now() + STARTUP;
    let (tx, rx) = mpsc::channel();
    let start =
        |role: Role, generation: usize, shutdown_finished: bool| -> Result<Running, String> {
            let out = dir.join(format!("{role:?}-{generation}.jsonl").to_lowercase());
            let args = ChildArgs {
                role,
                scenario: plan.text.to_string(),
                file: plan.file.to_path_buf(),
                seed: plan.seed,
                t0_us,
                server,
                out: out.clone(),
                shutdown_finished,
            };
            let child = spawn(plan.exe, &args, tx.clone())
                .map_err(|e| format!("cannot start the {role:?} child: {e}"))?;
            Ok(Running { role, child, out })
        };
    let mut server_now = Some(start(Role::Server, 1, false)?);
    let client = start(Role::Client, 1, false)?;
    let mut stopped: Vec<Running> = Vec::new();
    let mut kills: Vec<(Duration, Kill)> = kills(plan);
    kills.reverse();
    let mut generation = 1;
    let deadline = t0 + plan.duration;
    let mut duration_reached = false;
    let (mut workload_done, mut shutdown_done) = (false, !plan.shutdown);
    while !(workload_done && shutdown_done) {
        let next_kill = kills.last().map(|(at, _)| t0 + *at);
        let until = next_kill.map_or(deadline, |k| k.min(deadline));
        match rx.recv_timeout(until.saturating_duration_since(Instant::now())) {
            Ok((Role::Client, line)) if line == "workload-done" => workload_done = true,
            Ok((Role::Server, line)) if line == "shutdown-done" => shutdown_done = true,
            Ok(_) => {}
            Err(mpsc::RecvTimeoutError::Timeout) if next_kill == Some(until) => {
                let (_, kill) = kills.pop().expect("a kill is due");
                if let Some(mut s) = server_now.take() {
                    drop(s.child.stdin.take());
                    stopped.push(s);
                }
                if kill == Kill::Bounce {
                    generation += 1;
                    let finished = plan.shutdown && shutdown_done;
                    server_now = Some(start(Role::Server, generation, finished)?);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                duration_reached = true;
                break;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(tx);
    // Stop the client first (its sockets close as a process's do), then the server; each is
    // waited for before the next is told.
    let mut all = vec![client];
    all.extend(server_now);
    all.extend(stopped);
    let (mut traces, hosts, end_us) = collect(all, plan)?;
    traces.push(fault_records(plan));
    let _ = std::fs::remove_dir_all(&dir);
    let end_us = if duration_reached {
        plan.duration.as_micros() as u64
    } else {
        end_us
    };
    Ok(RealRun {
        records: join(traces),
        end_us,
        duration_reached,
        hosts,
        wall: wall.elapsed(),
    })
}

/// The children's traces, each host's figures, and when the last child stopped.
type Collected = (Vec<Vec<Record>>, BTreeMap<String, ChildFigures>, u64);

/// Tells each child to stop, in order, waits for it (bounded), and reads its trace and figures.
fn collect(all: Vec<Running>, plan: &Plan) -> Result<Collected, String> {
    let mut hosts: BTreeMap<String, ChildFigures> = BTreeMap::new();
    let mut traces = Vec::new();
    let mut end_us = 0;
    for mut r in all {
        drop(r.child.stdin.take());
        let status = wait_bounded(&mut r.child, STOP_GRACE)?;
        let role = r.role;
        let text = std::fs::read_to_string(&r.out).map_err(|e| {
            format!(
                "the {role:?} child wrote no trace ({status}): {e}; {}",
                stderr_of(&mut r.child)
            )
        })?;
        let (records, figures) = parse_out(&text).map_err(|e| format!("{role:?} child: {e}"))?;
        end_us = end_us.max(figures.end_us);
        let name = match role {
            Role::Server => plan.hosts.0,
            Role::Client => plan.hosts.1,
        };
        // A bounced server's processes: the first one's start, the highest peak.
        hosts
            .entry(name.to_string())
            .and_modify(|f| f.peak_fds = f.peak_fds.max(figures.peak_fds))
            .or_insert(figures);
        traces.push(records);
    }
    Ok((traces, hosts, end_us))
}

/// The crashes and bounces of the server the parent carries out, in time order.
fn kills(plan: &Plan) -> Vec<(Duration, Kill)> {
    let mut out: Vec<(Duration, Kill)> = plan
        .faults
        .iter()
        .filter_map(|(at, action)| match action {
            NetAction::Crash { host } if host == plan.hosts.0 => Some((*at, Kill::Crash)),
            NetAction::Bounce { host } if host == plan.hosts.0 => Some((*at, Kill::Bounce)),
            _ => None,
        })
        .collect();
    out.sort_by_key(|(at, _)| *at);
    out
}

/// The `fault` events of the carried schedule, as a simulated run records them (on host
/// `relay`), so reports and diagnoses name them.
fn fault_records(plan: &Plan) -> Vec<Record> {
    let carried = |a: &NetAction| match a {
        NetAction::Partition { .. }
        | NetAction::Repair { .. }
        | NetAction::Hold { .. }
        | NetAction::Release { .. } => true,
        NetAction::Crash { host } | NetAction::Bounce { host } => host == plan.hosts.0,
        _ => false,
    };
    plan.faults
        .iter()
        .filter(|(_, a)| carried(a))
        .map(|(at, a)| Record {
            t_us: at.as_micros() as u64,
            host: "relay".into(),
            event: Event::Fault {
                what: a.to_string(),
            },
        })
        .collect()
}

fn spawn(exe: &Path, args: &ChildArgs, tx: mpsc::Sender<(Role, String)>) -> std::io::Result<Child> {
    let json = serde_json::to_string(args).map_err(std::io::Error::other)?;
    let mut child = Command::new(exe)
        .env(CHILD_ENV, json)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let role = args.role;
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send((role, line)).is_err() {
                break;
            }
        }
    });
    Ok(child)
}

fn wait_bounded(child: &mut Child, grace: Duration) -> Result<std::process::ExitStatus, String> {
    let until = Instant::now() + grace;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "a child did not stop within {grace:?} of being told to; killed"
                ));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

fn stderr_of(child: &mut Child) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s.trim().to_string()
}

/// A child's `--out` file: trace lines, then one line of figures.
fn parse_out(text: &str) -> Result<(Vec<Record>, ChildFigures), String> {
    let mut lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let last = lines.pop().ok_or("empty output")?;
    let figures: ChildFigures =
        serde_json::from_str(last).map_err(|e| format!("bad figures line: {e}"))?;
    let records = lines
        .iter()
        .map(|l| serde_json::from_str::<Record>(l).map_err(|e| format!("bad trace line: {e}")))
        .collect::<Result<_, _>>()?;
    Ok((records, figures))
}

/// Joins the children's traces in time order (a stable sort: each child's own order is kept)
/// and renumbers connections — named by the client's port in both — from 1 in order of first
/// appearance, as a simulated trace numbers them.
fn join(traces: Vec<Vec<Record>>) -> Vec<Record> {
    let mut all: Vec<Record> = traces.into_iter().flatten().collect();
    all.sort_by_key(|r| r.t_us);
    let mut ids: BTreeMap<u64, u64> = BTreeMap::new();
    all.into_iter()
        .map(|r| {
            let mut v = serde_json::to_value(&r).expect("a record serialises");
            if let Some(port) = v.get("conn").and_then(serde_json::Value::as_u64) {
                let next = ids.len() as u64 + 1;
                let id = *ids.entry(port).or_insert(next);
                v["conn"] = id.into();
            }
            serde_json::from_value(v).unwrap_or(r)
        })
        .collect()
}

/// A loopback port free now (the server's child binds it a moment later).
fn free_port() -> Result<SocketAddr, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("no free loopback port: {e}"))
}

fn epoch_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

/// Where the children's executable is: `HTTPSIM_BIN` if set, else this executable.
pub fn child_exe() -> Result<PathBuf, String> {
    match std::env::var_os("HTTPSIM_BIN") {
        Some(p) => Ok(PathBuf::from(p)),
        None => std::env::current_exe().map_err(|e| format!("cannot find the httpsim binary: {e}")),
    }
}

//! Reading figures from a trace.

use std::collections::BTreeMap;
use std::time::Duration;

use httpsim::trace::{Event, Record};

/// `(request, µs)` of every response head, in time order.
pub fn heads(records: &[Record]) -> Vec<(u64, u64)> {
    records
        .iter()
        .filter_map(|r| match r.event {
            Event::ResponseHead { req, .. } => Some((req, r.t_us)),
            _ => None,
        })
        .collect()
}

/// Splits head times into batches: a new batch starts after a silence longer than `gap`.
pub fn batches(times: &[u64], gap: Duration) -> Vec<Vec<u64>> {
    let gap = gap.as_micros() as u64;
    let mut out: Vec<Vec<u64>> = Vec::new();
    for &t in times {
        match out.last_mut() {
            Some(b) if t - *b.last().expect("batches are never empty") <= gap => b.push(t),
            _ => out.push(vec![t]),
        }
    }
    out
}

/// The longest silence between consecutive head times, µs.
pub fn longest_gap(times: &[u64]) -> u64 {
    times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
}

/// The most client sockets alive at once on `host` (connected, neither closed nor closed by the
/// peer), from the trace.
pub fn peak_live_sockets(records: &[Record], host: &str) -> usize {
    let mut live: BTreeMap<u64, ()> = BTreeMap::new();
    let mut peak = 0;
    for r in records.iter().filter(|r| r.host == host) {
        match r.event {
            Event::Connected { conn, .. } => {
                live.insert(conn, ());
            }
            Event::Closed { conn, .. } | Event::PeerClosed { conn, .. } => {
                live.remove(&conn);
            }
            _ => {}
        }
        peak = peak.max(live.len());
    }
    peak
}

/// Prints the trace when `HTTPSIM_TRACE` is set (`HTTPSIM_TRACE=1 cargo test --test pools NAME
/// -- --nocapture`).
pub fn dump(records: &[Record]) {
    if std::env::var_os("HTTPSIM_TRACE").is_some() {
        eprintln!("{}", httpsim::trace::TraceText(records));
    }
}

/// Seconds, for messages.
pub fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// What a scripted run produced.
pub struct Scripted<T> {
    /// How the run ended.
    pub end: httpsim::RunEnd,
    /// The trace.
    pub records: Vec<Record>,
    /// What the script returned, if it finished in time.
    pub value: Option<T>,
}

/// A server, a client whose code is a script (given a driver), and the world around them:
/// for caller logic a workload cannot express (fallbacks, sends at exact times).
pub struct Rig {
    /// The world. The default is 1 ms latency and 30 s.
    pub world: httpsim::WorldBuilder,
    /// The server.
    pub server: httpsim::server::ServerConfig,
    /// The client.
    pub client: httpsim::client::ClientConfig,
    /// What the driver does with bodies. The default is to read them.
    pub body: httpsim::client::BodyMode,
    /// Scheduled faults. The default is none.
    pub faults: Vec<(Duration, httpsim::NetAction)>,
    /// Server software in place of httpsim's server (which `server` then only names the host
    /// of). The default is none.
    pub software: Option<httpsim::setup::ServerSoftware>,
    /// A pool in place of the one `client.pool` names. The default is none.
    pub pool: Option<httpsim::setup::PoolFactory>,
}

impl Rig {
    /// A rig with the defaults above.
    pub fn new(
        server: httpsim::server::ServerConfig,
        client: httpsim::client::ClientConfig,
    ) -> Self {
        let mut world = httpsim::WorldBuilder::new();
        world
            .latency(Duration::from_millis(1), Duration::from_millis(1))
            .duration(Duration::from_secs(30));
        Self {
            world,
            server,
            client,
            body: httpsim::client::BodyMode::Read,
            faults: Vec::new(),
            software: None,
            pool: None,
        }
    }

    /// Runs the script to its end (then waits for body reads), or until the duration.
    pub fn run<T, F, Fut>(&self, script: F) -> Scripted<T>
    where
        T: Clone + 'static,
        F: FnOnce(std::rc::Rc<httpsim::client::driver::Driver>) -> Fut + 'static,
        Fut: std::future::Future<Output = T> + 'static,
    {
        use httpsim::client::driver::{BodyKeeper, Driver};
        use std::cell::RefCell;
        use std::rc::Rc;

        let mut world = self.world.build();
        #[allow(clippy::arc_with_non_send_sync)] // one thread; see setup.rs
        let server = std::sync::Arc::new(self.server.clone());
        let name = server.host.clone();
        match self.software.clone() {
            Some(software) => world.host(&name, None, 0, move |h| software(h)),
            None => world.host(&name, None, 0, move |h| {
                httpsim::server::serve(h, server.clone())
            }),
        }
        let value: Rc<RefCell<Option<T>>> = Rc::default();
        let out = value.clone();
        let client = self.client.clone();
        let body = self.body;
        let factory = self.pool.clone();
        let (host_name, limit, in_use) = (client.host.clone(), client.fd_limit, client.fd_in_use);
        world.client(&host_name, limit, in_use, move |host| async move {
            let driver = Rc::new(Driver {
                pool: match &factory {
                    Some(make) => make(host.clone()),
                    None => httpsim::client::build_pool(&client, host.clone()),
                },
                host,
                timeouts: client.timeouts,
                retry: client.retry,
                body,
                keeper: BodyKeeper::default(),
            });
            let v = script(driver.clone()).await;
            *out.borrow_mut() = Some(v);
            driver.keeper.wait_reads().await;
            driver.keeper.release_held();
        });
        for (at, a) in &self.faults {
            world.schedule(*at, a.clone());
        }
        let end = world.run();
        world.net().trace().seal();
        let records = world.net().trace().records();
        dump(&records);
        let value = value.borrow().clone();
        Scripted {
            end,
            records,
            value,
        }
    }
}

/// A GET of `http://server:80/` numbered `id`.
pub fn get(id: u64) -> httpsim::client::driver::RequestSpec {
    httpsim::client::driver::RequestSpec {
        id,
        method: http::Method::GET,
        uri: http::Uri::from_static("http://server:80/"),
        headers: http::HeaderMap::new(),
        body: bytes::Bytes::new(),
    }
}

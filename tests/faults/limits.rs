use std::rc::Rc;
use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{Event, RunEnd, Setup};

use crate::Result;

#[test]
fn running_out_of_ephemeral_ports_fails_connects_instead_of_panicking() -> Result {
    let mut setup = Setup::default();
    // 100 ports, 16 kept in reserve: 84 connections can be open at once.
    setup.world.seed(2).ephemeral_ports(50000..=50099);
    setup.server.handler = Handler::Delay {
        delay: Duration::from_secs(1),
        body_bytes: 10,
        status: 200,
    };
    setup.client.pool = PoolConfig::None;
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 120;
    let run = setup.run();
    assert_eq!(run.end, RunEnd::Completed, "no panic, no limit");
    let s = run.summary();
    assert_eq!(s.requests.completed, 84);
    assert_eq!(s.requests.failed, 36);
    let cf = crate::all(&run.records, |e| matches!(e, Event::ConnectFailed { .. }));
    assert_eq!(cf.len(), 36);
    let Event::ConnectFailed { kind, message, .. } = &cf[0].event else {
        unreachable!()
    };
    assert_eq!(kind, "connect");
    assert!(
        message.contains("host client: no free ephemeral port"),
        "{message}"
    );
    Ok(())
}

#[test]
fn a_full_listen_queue_drops_syns_instead_of_panicking() -> Result {
    let mut setup = Setup::default();
    setup.world.seed(2).tcp_capacity(8);
    // A server that binds and never accepts: connects pile up in turmoil's listen queue.
    setup.custom.server = Some(Rc::new(|host| {
        Box::pin(async move {
            let _l = host.bind(80).await.expect("bind");
            std::future::pending::<()>().await;
        })
    }));
    setup.client.pool = PoolConfig::None;
    setup.client.timeouts.connect = Some(Duration::from_secs(2));
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 20;
    let run = setup.run();
    assert_eq!(run.end, RunEnd::Completed, "no panic, no limit");
    let s = run.summary();
    assert_eq!(s.requests.failed, 20);
    assert_eq!(s.requests.errors.get("timeout"), Some(&20));
    let last = crate::all(&run.records, |e| matches!(e, Event::RequestFailed { .. }));
    assert!(
        last.iter().all(|r| r.t_us == 2_000_000),
        "all fail at the connect timeout"
    );
    Ok(())
}

use std::rc::Rc;
use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::net::BacklogOverflow;
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
    let run = setup.run()?;
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
    // A server that binds with a backlog of 2 and never accepts: once its backlog is full
    // (overflow `delay`), connects pile up in turmoil's listen queue.
    setup.custom.server = Some(Rc::new(|host| {
        Box::pin(async move {
            let mut l = host.bind(80).await.expect("bind");
            l.set_backlog(2).set_overflow(BacklogOverflow::Delay);
            std::future::pending::<()>().await;
        })
    }));
    setup.client.pool = PoolConfig::None;
    setup.client.timeouts.connect = Some(Duration::from_secs(2));
    // The two connections in the backlog are established; their requests time out instead.
    setup.client.timeouts.total = Some(Duration::from_secs(2));
    setup.workload.kind = WorkloadKind::Parallel;
    setup.workload.requests = 20;
    let run = setup.run()?;
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

#[test]
fn a_fault_naming_an_unknown_host_is_refused_before_the_run() -> Result {
    let mut setup = Setup::default();
    setup.workload.kind = WorkloadKind::Rate(1.0);
    setup.workload.requests = 3;
    setup.faults = vec![(
        Duration::from_millis(1500),
        httpsim::NetAction::Partition {
            a: "client".into(),
            b: "cache".into(),
            oneway: false,
        },
    )];
    let Err(e) = setup.run() else {
        return Err("a fault on an unknown host must not run".into());
    };
    assert_eq!(e.field(), "fault[0].hosts");
    assert_eq!(e.message(), "no host is called \"cache\"");
    Ok(())
}

#[test]
fn the_same_seed_under_faults_gives_the_same_trace() -> Result {
    let setup = || {
        let mut s = Setup::default();
        s.world
            .seed(17)
            .latency(Duration::from_millis(1), Duration::from_millis(20))
            .fail_rate(0.01)
            .conn_fault(httpsim::net::ConnFault {
                fault: httpsim::net::ConnFaultKind::Latency {
                    latency: Duration::from_millis(5),
                    jitter: Duration::from_millis(30),
                },
                direction: httpsim::net::Direction::ToClient,
                probability: 0.5,
            });
        s.client.timeouts.response = Some(Duration::from_millis(500));
        s.workload.kind = WorkloadKind::Parallel;
        s.workload.requests = 100;
        s
    };
    let a = setup().run()?;
    let b = setup().run()?;
    assert_eq!(
        httpsim::trace::hash(&a.records),
        httpsim::trace::hash(&b.records)
    );
    Ok(())
}

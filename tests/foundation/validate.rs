//! `Setup::validate`, one case per rule: each breaks exactly one rule of a default setup and
//! names the field it expects; `Setup::run` refuses the same setup before anything runs.

use std::time::Duration;

use httpsim::client::PoolConfig;
use httpsim::net::{ConnFault, ConnFaultKind, Direction};
use httpsim::server::Handler;
use httpsim::workload::WorkloadKind;
use httpsim::{NetAction, Setup};

use crate::Result;

type Rule = (&'static str, fn(&mut Setup));

const RULES: &[Rule] = &[
    ("server.host", |s| s.server.host = String::new()),
    ("server.host", |s| s.server.host = "my server".into()),
    ("server.host", |s| s.server.host = "10.0.0.1".into()),
    ("client.host", |s| s.client.host = "cli/ent".into()),
    ("client.host", |s| s.client.host = s.server.host.clone()),
    ("server.port", |s| s.server.port = 0),
    ("server.fd_in_use", |s| {
        s.server.fd_limit = Some(4);
        s.server.fd_in_use = 4;
    }),
    ("client.fd_in_use", |s| {
        s.client.fd_limit = Some(1);
        s.client.fd_in_use = 3;
    }),
    ("workload.path", |s| s.workload.path = "items".into()),
    ("workload.requests", |s| s.workload.requests = u64::MAX),
    ("workload.rate", |s| {
        s.workload.kind = WorkloadKind::Rate(0.0)
    }),
    ("workload.rate", |s| {
        s.workload.kind = WorkloadKind::Rate(1e-300)
    }),
    ("tick", |s| {
        s.world.tick(Duration::ZERO);
    }),
    ("duration", |s| {
        s.world.duration(Duration::from_secs(u64::MAX));
    }),
    ("network.latency.min", |s| {
        s.world
            .latency(Duration::from_millis(5), Duration::from_millis(1));
    }),
    ("network.fail_rate", |s| {
        s.world.fail_rate(1.5);
    }),
    ("network.repair_rate", |s| {
        s.world.repair_rate(f64::NAN);
    }),
    ("server.backlog", |s| s.server.backlog = 0),
    ("server.max_requests_per_socket", |s| {
        s.server.max_requests_per_socket = Some(0)
    }),
    ("server.handler.chunk_bytes", |s| {
        s.server.handler = Handler::Fixed {
            body_bytes: 10,
            chunk_bytes: usize::MAX,
            status: 200,
        }
    }),
    ("server.handler.status", |s| {
        s.server.handler = Handler::Echo { status: 100 }
    }),
    ("client.pool.max_sockets", |s| {
        s.client.pool = PoolConfig::Agent(httpsim::client::AgentConfig {
            max_sockets: 0,
            ..Default::default()
        });
    }),
    ("client.retry.attempts", |s| s.client.retry.attempts = 0),
    ("client.timeout.total", |s| {
        s.client.timeouts.total = Some(Duration::from_secs(u64::MAX))
    }),
    ("conn_fault[0].fault.bytes_per_sec", |s| {
        s.world.conn_fault(ConnFault::always(
            ConnFaultKind::Bandwidth { bytes_per_sec: 0 },
            Direction::ToClient,
        ));
    }),
    ("conn_fault[0].probability", |s| {
        s.world.conn_fault(ConnFault {
            probability: 2.0,
            ..ConnFault::always(ConnFaultKind::LimitData { bytes: 1 }, Direction::ToServer)
        });
    }),
    ("fault[0].hosts", |s| {
        s.faults = vec![(
            Duration::from_secs(1),
            NetAction::Hold {
                a: "client".into(),
                b: "cache".into(),
            },
        )]
    }),
    ("fault[0].hosts", |s| {
        s.faults = vec![(
            Duration::from_secs(1),
            NetAction::Partition {
                a: "server".into(),
                b: "server".into(),
                oneway: false,
            },
        )]
    }),
    ("fault[0].hosts", |s| {
        s.faults = vec![(
            Duration::from_secs(1),
            NetAction::Crash {
                host: "client".into(),
            },
        )]
    }),
    ("fault[0].rate", |s| {
        s.faults = vec![(
            Duration::from_secs(1),
            NetAction::FailRate {
                a: "client".into(),
                b: "server".into(),
                rate: -1.0,
            },
        )]
    }),
];

#[test]
fn the_default_setup_is_valid() -> Result {
    Setup::default().validate()?;
    Ok(())
}

#[test]
fn each_rule_names_its_field_and_run_refuses_the_setup() -> Result {
    for (i, (field, breaks)) in RULES.iter().enumerate() {
        let mut setup = Setup::default();
        breaks(&mut setup);
        let err = setup
            .validate()
            .err()
            .ok_or(format!("rule {i} ({field}) was not enforced"))?;
        assert_eq!(err.field(), *field, "rule {i}: {err}");
        assert!(!err.expected().is_empty(), "rule {i} says what is expected");
        assert_eq!(setup.run().err(), Some(err), "rule {i}: run refuses it");
    }
    Ok(())
}

#[test]
fn bodies_that_would_not_fit_in_memory_are_refused() -> Result {
    let mut setup = Setup::default();
    setup.server.handler = Handler::Fixed {
        body_bytes: 9_000_000_000_000,
        chunk_bytes: 1,
        status: 200,
    };
    assert_eq!(
        setup.validate().err().map(|e| e.field().to_string()),
        Some("server.handler.body_bytes".into())
    );
    setup.server.handler = Handler::Fixed {
        body_bytes: 64 * 1024 * 1024,
        chunk_bytes: 16 * 1024,
        status: 200,
    };
    setup.workload.requests = 65;
    let err = setup.validate().err().ok_or("65 × 64 MiB accepted")?;
    assert_eq!(err.field(), "workload.requests");
    setup.workload.requests = 64;
    setup.validate()?;
    Ok(())
}

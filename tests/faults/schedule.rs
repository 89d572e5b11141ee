use std::time::Duration;

use httpsim::fault::plan::{self, Fault, Model};
use httpsim::fault::{ConnFault, ConnFaultKind, Direction, FaultEntry, FaultKind, Schedule};
use httpsim::NetAction;
use proptest::prelude::*;

use crate::Result;

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    fault: Vec<FaultEntry>,
}

#[test]
fn a_fault_table_reads_into_world_actions() -> Result {
    let text = r#"
        [[fault]]
        at = "2s"
        kind = "partition"
        hosts = ["client", "server"]
        oneway = true

        [[fault]]
        at = "250ms"
        kind = "latency"
        hosts = ["client", "server"]
        latency = "40ms"

        [[fault]]
        at = "3s"
        kind = "crash"
        hosts = ["server"]
        fin = false

        [[fault]]
        at = "4s"
        kind = "fail-rate"
        hosts = ["client", "server"]
        rate = 0.01
    "#;
    let file: File = toml::from_str(text)?;
    let schedule = Schedule::from_entries(&file.fault)?;
    let (c, s) = ("client".to_string(), "server".to_string());
    assert_eq!(
        schedule.0,
        vec![
            (
                Duration::from_millis(250),
                NetAction::Latency {
                    a: c.clone(),
                    b: s.clone(),
                    latency: Duration::from_millis(40)
                }
            ),
            (
                Duration::from_secs(2),
                NetAction::Partition {
                    a: c.clone(),
                    b: s.clone(),
                    oneway: true
                }
            ),
            (
                Duration::from_secs(3),
                NetAction::Vanish { host: s.clone() }
            ),
            (
                Duration::from_secs(4),
                NetAction::FailRate {
                    a: c,
                    b: s,
                    rate: 0.01
                }
            ),
        ]
    );
    Ok(())
}

#[test]
fn unknown_and_misplaced_keys_are_rejected_with_the_expected_form() -> Result {
    let unknown = r#"
        [[fault]]
        at = "2s"
        kind = "partition"
        hosts = ["client", "server"]
        direction = "both"
    "#;
    let err = toml::from_str::<File>(unknown).unwrap_err().to_string();
    assert!(err.contains("unknown field `direction`"), "{err}");

    let bad_duration = r#"
        [[fault]]
        at = "2 parsecs"
        kind = "partition"
        hosts = ["client", "server"]
    "#;
    let err = toml::from_str::<File>(bad_duration)
        .unwrap_err()
        .to_string();
    assert!(err.contains("expected e.g. \"250ms\""), "{err}");

    let mut e = FaultEntry::new(Duration::from_secs(1), FaultKind::Latency, &["a", "b"]);
    let err = e.action().unwrap_err().to_string();
    assert!(err.contains("missing field `latency`"), "{err}");
    e.latency = Some(Duration::from_millis(5));
    e.oneway = true;
    let err = e.action().unwrap_err().to_string();
    assert!(
        err.contains("`oneway` does not apply to fault kind \"latency\""),
        "{err}"
    );

    let one_host = FaultEntry::new(Duration::ZERO, FaultKind::Partition, &["client"]);
    let err = one_host.action().unwrap_err().to_string();
    assert!(err.contains("takes 2 host(s), got 1"), "{err}");
    let two_crashed = FaultEntry::new(Duration::ZERO, FaultKind::Crash, &["server", "client"]);
    let err = two_crashed.action().unwrap_err().to_string();
    assert!(err.contains("takes 1 host(s), got 2"), "{err}");
    Ok(())
}

#[test]
fn conn_faults_read_from_toml_and_reject_unknown_keys() -> Result {
    #[derive(serde::Deserialize)]
    struct F {
        conn_fault: Vec<ConnFault>,
    }
    let text = r#"
        [[conn_fault]]
        direction = "to-client"
        probability = 0.5
        fault = { kind = "bandwidth", bytes_per_sec = 10000 }

        [[conn_fault]]
        direction = "to-server"
        fault = { kind = "half-open", after = "2s" }
    "#;
    let f: F = toml::from_str(text)?;
    assert_eq!(
        f.conn_fault,
        vec![
            ConnFault {
                fault: ConnFaultKind::Bandwidth {
                    bytes_per_sec: 10_000
                },
                direction: Direction::ToClient,
                probability: 0.5,
            },
            ConnFault::always(
                ConnFaultKind::HalfOpen {
                    after_bytes: None,
                    after: Some(Duration::from_secs(2)),
                },
                Direction::ToServer
            ),
        ]
    );
    let bad = r#"
        [[conn_fault]]
        direction = "to-client"
        fault = { kind = "bandwidth", bytes_per_sec = 10000, burst = 5 }
    "#;
    let err = toml::from_str::<F>(bad)
        .err()
        .ok_or("unknown key accepted")?;
    assert!(err.to_string().contains("burst"), "{err}");
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Whatever proptest generates or shrinks to, the schedule respects every precondition,
    /// ends healed, and survives a round trip through `[[fault]]` entries.
    #[test]
    fn generated_plans_are_valid_healed_schedules(p in plan::plan(20, Duration::from_secs(2), true)) {
        let schedule = p.schedule("client", "server");
        let mut m = Model::default();
        let mut last = Duration::ZERO;
        for (at, action) in &schedule.0 {
            prop_assert!(*at >= last, "schedule out of time order");
            last = *at;
            let f = match action {
                NetAction::Partition { oneway, .. } => Fault::Partition { oneway: *oneway },
                NetAction::Repair { .. } => Fault::Repair,
                NetAction::Hold { .. } => Fault::Hold,
                NetAction::Release { .. } => Fault::Release,
                NetAction::Crash { .. } => Fault::Crash { fin: true },
                NetAction::Vanish { .. } => Fault::Crash { fin: false },
                NetAction::Bounce { .. } => Fault::Bounce,
                NetAction::Latency { latency, .. } => Fault::Latency(latency.as_millis() as u64),
                NetAction::FailRate { rate, .. } => Fault::FailRate((rate * 1000.0).round() as u32),
            };
            prop_assert!(f.precondition(&m), "{f:?} applied in {m:?}");
            f.apply(&mut m);
        }
        prop_assert_eq!(m, Model::default(), "the plan must end healed");
        let entries = schedule.to_entries();
        let text = toml::to_string(&std::collections::BTreeMap::from([("fault", &entries)]))?;
        let back: File = toml::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(Schedule::from_entries(&back.fault).map_err(|e| TestCaseError::fail(e.to_string()))?, schedule);
    }
}

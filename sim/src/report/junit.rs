//! `junit.xml` for CI systems, written with quick-junit: one test case per run, failing with the
//! broken expectations and the replay command. No timestamps or times, so the file is the same
//! on every run of the same scenarios.

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use super::markdown::requests_line;
use crate::scenario::Outcome;

/// The JUnit XML of `outcomes`. A run's test case is named after its scenario, with `@seed`
/// added when the same scenario ran at several seeds.
pub fn junit(outcomes: &[&Outcome], sweep: bool) -> String {
    let mut suite = TestSuite::new("httpsim scenarios");
    for o in outcomes {
        let name = if sweep {
            format!("{}@{}", o.name, o.seed)
        } else {
            o.name.clone()
        };
        let status = if o.passed {
            TestCaseStatus::success()
        } else {
            let mut broken: Vec<String> = o
                .expectations
                .iter()
                .filter(|e| !e.passed)
                .map(|e| format!("{}: {}", e.key, e.detail))
                .collect();
            if o.deterministic == Some(false) {
                broken.push(
                    "determinism: a second run at the same seed gave a different trace".into(),
                );
            }
            for i in o.invariants.iter().filter(|i| !i.passed) {
                for v in &i.violations {
                    broken.push(format!("invariant {}: {}", i.name, v.message));
                }
            }
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message(broken.first().cloned().unwrap_or_else(|| "failed".into()))
                .set_type("expectation")
                .set_description(format!("{}\nreplay: {}", broken.join("\n"), o.replay));
            s
        };
        let mut case = TestCase::new(name, status);
        case.set_classname(o.file.clone()).set_system_out(format!(
            "seed {}; {}; trace hash {}\nreplay: {}",
            o.seed,
            requests_line(o),
            o.trace_hash,
            o.replay
        ));
        suite.add_test_case(case);
    }
    let mut report = Report::new("httpsim");
    report.add_test_suite(suite);
    report.to_string().unwrap_or_default()
}

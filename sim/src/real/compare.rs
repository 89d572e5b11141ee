//! `--compare`: the same figures from a simulated run and from real runs, side by side, each
//! with a verdict (docs/FIDELITY.md "Comparing automatically").
//!
//! Rules: counts (completed, failed, errors by kind, batch sizes) agree only when equal; the
//! peak fds of a host with an fd limit too (that is where they matter), of a host without one
//! within 2 (how many sockets a pool opens at once is a race that latency decides, and a
//! relayed latency is not the simulated one packet for packet); the index of the first EMFILE must be equal (both runs' clients are
//! single-threaded: httpsim's client host and the real client's current-thread runtime); times
//! (longest stall, last completion, first error, shutdown length) agree within 5 % + 50 ms.
//! With `--repeat N`, a figure agrees when every real run agrees with the simulated one.

use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::Value;

use crate::scenario::Outcome;
use crate::trace::Event;

/// A gap between two completions longer than this, and than four times the run's median gap,
/// starts a new batch (so a steady rate of requests is one batch at any time scale).
pub const BATCH_GAP_MS: u64 = 50;
/// Time tolerance: relative part.
pub const TIME_TOLERANCE: f64 = 0.05;
/// Time tolerance: absolute part, ms.
pub const TIME_SLACK_MS: u64 = 50;

/// One figure of both runs.
#[derive(Clone, Debug, Serialize)]
pub struct Figure {
    /// Its name (`completed`, `batches`, `first_emfile_request`, `longest_stall_ms`, …).
    pub name: String,
    /// The simulated value.
    pub sim: Value,
    /// The first real run's value.
    pub real: Value,
    /// Every real run's value, when there were several (`--repeat`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub real_runs: Option<Vec<Value>>,
    /// Whether they agree by the rule of its kind.
    pub agree: bool,
    /// The rule: `exact` or `5% + 50ms`.
    pub rule: &'static str,
}

/// How a figure is judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Exact,
    Near(u64),
    Time,
}

impl Rule {
    fn name(self) -> &'static str {
        match self {
            Rule::Exact => "exact",
            Rule::Near(_) => "within 2",
            Rule::Time => "5% + 50ms",
        }
    }

    fn agree(self, sim: &Value, real: &Value) -> bool {
        match self {
            Rule::Exact => sim == real,
            Rule::Near(d) => match (sim.as_u64(), real.as_u64()) {
                (Some(s), Some(r)) => s.abs_diff(r) <= d,
                _ => sim == real,
            },
            Rule::Time => match (sim.as_u64(), real.as_u64()) {
                (Some(s), Some(r)) => {
                    let tol = (s as f64 * TIME_TOLERANCE) as u64 + TIME_SLACK_MS;
                    s.abs_diff(r) <= tol
                }
                _ => sim == real,
            },
        }
    }
}

/// The figures compared, in a fixed order. `limited`: the hosts with an fd limit.
fn figures_of(o: &Outcome, limited: &BTreeSet<String>) -> Vec<(String, Rule, Value)> {
    let s = &o.summary;
    let first_emfile = s
        .first_error
        .as_ref()
        .filter(|e| e.kind == crate::ErrorKind::Emfile)
        .map(|e| e.request);
    let named: Vec<(&str, Rule, Value)> = vec![
        ("completed", Rule::Exact, s.requests.completed.into()),
        ("failed", Rule::Exact, s.requests.failed.into()),
        (
            "errors",
            Rule::Exact,
            serde_json::to_value(&s.requests.errors).unwrap_or_default(),
        ),
        (
            "batches",
            Rule::Exact,
            serde_json::to_value(batches(o)).unwrap_or_default(),
        ),
        (
            "first_emfile_request",
            Rule::Exact,
            serde_json::to_value(first_emfile).unwrap_or_default(),
        ),
        ("longest_stall_ms", Rule::Time, s.longest_stall_ms.into()),
        (
            "last_completion_ms",
            Rule::Time,
            s.last_completion_ms.into(),
        ),
        (
            "first_error_ms",
            Rule::Time,
            serde_json::to_value(s.first_error.as_ref().map(|e| e.at_ms)).unwrap_or_default(),
        ),
    ];
    let mut out: Vec<(String, Rule, Value)> = named
        .into_iter()
        .map(|(n, r, v)| (n.to_string(), r, v))
        .collect();
    if let Some(sd) = &s.shutdown {
        out.push((
            "shutdown_ms".into(),
            Rule::Time,
            serde_json::to_value(sd.ended_ms.map(|e| e - sd.started_ms)).unwrap_or_default(),
        ));
    }
    for (host, peak) in &s.max_open_fds {
        let rule = if limited.contains(host) {
            Rule::Exact
        } else {
            Rule::Near(2)
        };
        out.push((format!("max_open_fds.{host}"), rule, (*peak as u64).into()));
    }
    out
}

/// Sizes of the groups of completions (response heads) separated by gaps longer than
/// [`BATCH_GAP_MS`] and four times the median gap.
pub fn batches(o: &Outcome) -> Vec<u64> {
    let mut times: Vec<u64> = o
        .records
        .iter()
        .filter(|r| matches!(r.event, Event::ResponseHead { .. }))
        .map(|r| r.t_us / 1000)
        .collect();
    times.sort_unstable();
    let mut gaps: Vec<u64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_unstable();
    let median = gaps.get(gaps.len() / 2).copied().unwrap_or(0);
    let split = BATCH_GAP_MS.max(4 * median);
    let mut out: Vec<u64> = Vec::new();
    let mut last = None;
    for t in times {
        match last {
            Some(l) if t - l <= split => *out.last_mut().expect("a batch") += 1,
            _ => out.push(1),
        }
        last = Some(t);
    }
    out
}

/// Every figure of `sim` beside the same figure of each real run; `limited`: the hosts with an
/// fd limit.
pub fn compare(sim: &Outcome, real: &[Outcome], limited: &BTreeSet<String>) -> Vec<Figure> {
    let sims = figures_of(sim, limited);
    let reals: Vec<Vec<(String, Rule, Value)>> =
        real.iter().map(|r| figures_of(r, limited)).collect();
    sims.into_iter()
        .map(|(name, rule, s)| {
            let values: Vec<Value> = reals
                .iter()
                .map(|r| {
                    r.iter()
                        .find(|f| f.0 == name)
                        .map_or(Value::Null, |f| f.2.clone())
                })
                .collect();
            let agree = values.iter().all(|r| rule.agree(&s, r));
            Figure {
                name,
                real: values.first().cloned().unwrap_or_default(),
                real_runs: (values.len() > 1).then_some(values),
                sim: s,
                agree,
                rule: rule.name(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_rule_is_five_percent_plus_fifty_ms() {
        assert!(Rule::Time.agree(&1800.into(), &1930.into()));
        assert!(!Rule::Time.agree(&1800.into(), &1941.into()));
        assert!(Rule::Time.agree(&0.into(), &50.into()));
        assert!(!Rule::Exact.agree(&5.into(), &6.into()));
        assert!(Rule::Near(2).agree(&11.into(), &9.into()));
        assert!(!Rule::Near(2).agree(&11.into(), &8.into()));
    }
}

//! The `[expect]` table as checks: each present key becomes one [`Expectation`] with a verdict
//! and a detail sentence that gives the measured value next to the expected one, so a failed run
//! says by how much it missed.

use std::time::Duration;

use serde::Serialize;

use super::format::{Expect, FirstErrorTable, Range};
use crate::check::InvariantResult;
use crate::fmt::ms;
use crate::summary::Summary;
use crate::world::RunEnd;

/// The verdict of one expectation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// The `[expect]` key (`completed`, `max_open_fds.client`, `invariants`, ...), or `end` for
    /// the implicit check that the run ended as a run may end.
    pub key: String,
    /// Whether it held.
    pub passed: bool,
    /// Measured against expected, in a sentence.
    pub detail: String,
}

fn item(key: &str, passed: bool, detail: String) -> Expectation {
    Expectation {
        key: key.to_string(),
        passed,
        detail,
    }
}

/// Evaluates every key of `e` against a run's figures and invariant verdicts. `duration` is the
/// scenario's time limit, for the implicit `end` check: a run that hits a simulation limit, whose
/// host software fails, or that reaches its duration with requests pending while the file does
/// not expect a stall (`longest_stall`) fails.
pub fn evaluate(
    e: &Expect,
    s: &Summary,
    end: &RunEnd,
    duration: Duration,
    invariants: &[InvariantResult],
) -> Vec<Expectation> {
    let mut out = end_checks(e, s, end, duration);
    out.extend(e.completed.map(|want| completed(s, want)));
    out.extend(statuses(e, s));
    out.extend(e.failed.map(|want| failed(s, want)));
    out.extend(max_open_fds(e, s));
    out.extend(e.first_error.as_ref().map(|want| first_error(s, want)));
    out.extend(e.longest_stall.as_ref().map(|r| longest_stall(s, r)));
    out.extend(e.last_completion.as_ref().map(|r| last_completion(s, r)));
    out.extend(
        e.shutdown_duration
            .as_ref()
            .map(|r| shutdown_duration(s, r)),
    );
    out.extend(e.invariants.as_ref().map(|_| invariants_held(invariants)));
    out
}

/// The implicit `end` check: how the run ended (none when it ended as a run may).
fn end_checks(e: &Expect, s: &Summary, end: &RunEnd, duration: Duration) -> Vec<Expectation> {
    let mut out = Vec::new();
    match end {
        RunEnd::Completed => {}
        RunEnd::DurationReached => {
            let pending = s.unfinished.len();
            if let Some(sd) = s.shutdown.as_ref().filter(|sd| sd.ended_ms.is_none()) {
                out.push(item(
                    "end",
                    false,
                    format!(
                        "the run reached its duration ({}) before the server's shutdown, started \
                         at {}, finished",
                        ms(duration.as_millis() as u64),
                        ms(sd.started_ms)
                    ),
                ));
            }
            if e.longest_stall.is_none() && pending > 0 {
                out.push(item(
                    "end",
                    false,
                    format!(
                        "the run reached its duration ({}) with {pending} request(s) pending: a \
                         stall (expect.longest_stall accepts one)",
                        ms(duration.as_millis() as u64)
                    ),
                ));
            }
        }
        RunEnd::Limit(m) => out.push(item(
            "end",
            false,
            format!("a simulation limit was hit: {m}"),
        )),
        RunEnd::HostError(m) => out.push(item("end", false, format!("host software failed: {m}"))),
    }
    out
}

/// `completed`: responses against the expected count.
fn completed(s: &Summary, want: u64) -> Expectation {
    let got = s.requests.completed;
    item(
        "completed",
        got == want,
        format!(
            "{got} of {} requests completed (expected {want})",
            s.requests.sent
        ),
    )
}

/// `status.<code>`: responses of each listed status against their bounds.
fn statuses(e: &Expect, s: &Summary) -> Vec<Expectation> {
    let mut out = Vec::new();
    for (code, count) in e.status.iter().flatten() {
        let got = s.statuses.get(code).copied().unwrap_or(0);
        let ok = count.min.is_none_or(|m| got >= m) && count.max.is_none_or(|m| got <= m);
        let want = match (count.min, count.max) {
            (Some(a), Some(b)) if a == b => format!("exactly {a}"),
            (Some(a), Some(b)) => format!("{a} to {b}"),
            (Some(a), None) => format!("at least {a}"),
            (None, Some(b)) => format!("at most {b}"),
            (None, None) => "any number".to_string(),
        };
        out.push(item(
            &format!("status.{code}"),
            ok,
            format!("{got} responses with status {code} (expected {want})"),
        ));
    }
    out
}

/// `failed`: failed requests, by kind, against the expected count.
fn failed(s: &Summary, want: u64) -> Expectation {
    let got = s.requests.failed;
    let kinds: Vec<String> = s
        .requests
        .errors
        .iter()
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
    let by_kind = if kinds.is_empty() {
        String::new()
    } else {
        format!(" ({})", kinds.join(", "))
    };
    item(
        "failed",
        got == want,
        format!("{got} requests failed{by_kind} (expected {want})"),
    )
}

/// `max_open_fds.<host>`: each host's fd peak against its limit.
fn max_open_fds(e: &Expect, s: &Summary) -> Vec<Expectation> {
    let mut out = Vec::new();
    if let Some(hosts) = &e.max_open_fds {
        for (host, limit) in hosts {
            let got = s.max_open_fds.get(host).copied().unwrap_or(0);
            out.push(item(
                &format!("max_open_fds.{host}"),
                got <= *limit,
                format!("{host} peaked at {got} open fds (expected at most {limit})"),
            ));
        }
    }
    out
}

/// `first_error`: the first failed request against the expected request, kind and time.
fn first_error(s: &Summary, want: &FirstErrorTable) -> Expectation {
    let (passed, detail) = match &s.first_error {
        None => (false, "no request failed (expected a failure)".to_string()),
        Some(f) => {
            let mut ok = true;
            let mut expected = Vec::new();
            if let Some(r) = want.request {
                ok &= f.request == r;
                expected.push(format!("request {r}"));
            }
            if let Some(k) = want.kind {
                ok &= f.kind == k;
                expected.push(format!("kind {k}"));
            }
            if let Some(r) = &want.at {
                ok &= within(f.at_ms, r);
                expected.push(format!("at {}", bounds(r)));
            }
            (
                ok,
                format!(
                    "request {} failed first, {} at {} (expected {})",
                    f.request,
                    f.kind,
                    ms(f.at_ms),
                    expected.join(", ")
                ),
            )
        }
    };
    item("first_error", passed, detail)
}

/// `longest_stall`: the longest stretch with requests pending and no progress.
fn longest_stall(s: &Summary, r: &Range) -> Expectation {
    let got = s.longest_stall_ms;
    let window = if got > 0 {
        format!(
            ", from {} to {} with {} request(s) pending",
            ms(s.stall.from_us / 1000),
            ms(s.stall.to_us / 1000),
            s.stall.pending.len()
        )
    } else {
        String::new()
    };
    item(
        "longest_stall",
        within_us(s.stall.to_us.saturating_sub(s.stall.from_us), r),
        format!("longest stall {}{window} (expected {})", ms(got), bounds(r)),
    )
}

/// `last_completion`: when the last response head arrived.
fn last_completion(s: &Summary, r: &Range) -> Expectation {
    let got = s.last_completion_ms;
    item(
        "last_completion",
        within(got, r),
        format!("last response head at {} (expected {})", ms(got), bounds(r)),
    )
}

/// `shutdown_duration`: how long the server's shutdown took.
fn shutdown_duration(s: &Summary, r: &Range) -> Expectation {
    let span = s
        .shutdown
        .as_ref()
        .and_then(|sd| sd.ended_ms.map(|end| (sd.started_ms, end)));
    match span {
        Some((start, end)) => item(
            "shutdown_duration",
            within(end.saturating_sub(start), r),
            format!(
                "shutdown took {} (from {} to {}; expected {})",
                ms(end.saturating_sub(start)),
                ms(start),
                ms(end),
                bounds(r)
            ),
        ),
        None => item(
            "shutdown_duration",
            false,
            format!(
                "{} (expected {})",
                if s.shutdown.is_some() {
                    "the shutdown never ended"
                } else {
                    "no shutdown ran"
                },
                bounds(r)
            ),
        ),
    }
}

/// `invariants`: whether every invariant held.
fn invariants_held(invariants: &[InvariantResult]) -> Expectation {
    let failed: Vec<String> = invariants
        .iter()
        .filter(|i| !i.passed)
        .map(|i| format!("{} ({} violation(s))", i.name, i.violations.len()))
        .collect();
    let names: Vec<&str> = invariants.iter().map(|i| i.name.as_str()).collect();
    item(
        "invariants",
        failed.is_empty(),
        if failed.is_empty() {
            format!("held: {}", names.join(", "))
        } else {
            format!("broken: {}", failed.join(", "))
        },
    )
}

fn within(ms: u64, r: &Range) -> bool {
    within_us(ms * 1000, r)
}

/// Microsecond precision, so a stall of 170.9 s does not pass `max = "170s"`.
fn within_us(us: u64, r: &Range) -> bool {
    r.min.is_none_or(|m| us >= m.0.as_micros() as u64)
        && r.max.is_none_or(|m| us <= m.0.as_micros() as u64)
}

fn bounds(r: &Range) -> String {
    let d = |x: Duration| ms(x.as_millis() as u64);
    match (r.min, r.max) {
        (Some(a), Some(b)) => format!("between {} and {}", d(a.0), d(b.0)),
        (Some(a), None) => format!("at least {}", d(a.0)),
        (None, Some(b)) => format!("at most {}", d(b.0)),
        (None, None) => "anything".into(),
    }
}

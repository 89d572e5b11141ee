//! `report.md` for one run and `index.md` for many: what a person reads in CI. Both are
//! functions of the outcome alone (no wall time, no paths outside the report folder), so the
//! committed reports change only when a run does.

use std::fmt::Write;

use crate::check::ranges;
use crate::fmt::fmt_ms;
use crate::fmt::ms;
use crate::scenario::{Outcome, Scenario};

/// The verdict word.
pub fn verdict(passed: bool) -> &'static str {
    if passed {
        "PASS"
    } else {
        "FAIL"
    }
}

/// One line on the request counts: `2000 sent, 242 completed, 1758 failed (emfile 1758)`.
pub fn requests_line(o: &Outcome) -> String {
    let r = &o.summary.requests;
    let mut s = format!(
        "{} sent, {} completed, {} failed",
        r.sent, r.completed, r.failed
    );
    if !r.errors.is_empty() {
        let kinds: Vec<String> = r.errors.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = write!(s, " ({})", kinds.join(", "));
    }
    s
}

fn first_error_line(o: &Outcome) -> String {
    match &o.summary.first_error {
        Some(f) => format!("request {}, `{}`, at {}", f.request, f.kind, ms(f.at_ms)),
        None => "none".into(),
    }
}

/// Where the first error is an EMFILE, which request meets it depends on the order the client
/// host connects in: the model is a single-threaded client host (one event loop, connects in
/// request order, as Node or a current-thread tokio runtime). A multi-threaded tokio client
/// connects in no fixed order (docs/FIDELITY.md), so the report states the assumption.
fn emfile_assumption(o: &Outcome) -> String {
    match &o.summary.first_error {
        Some(f) if f.kind == crate::ErrorKind::Emfile => {
            " (assumes a single-threaded client host, connecting in request order)".into()
        }
        _ => String::new(),
    }
}

fn stall_line(o: &Outcome) -> String {
    let s = &o.summary;
    if s.longest_stall_ms == 0 {
        return "none".into();
    }
    format!(
        "{} (from {} to {}; pending: requests {})",
        ms(s.longest_stall_ms),
        ms(s.stall.from_us / 1000),
        ms(s.stall.to_us / 1000),
        ranges(&s.stall.pending)
    )
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// `report.md` of one run: the figures, the longest stall explained, the expectations, the
/// invariants with their violations, the timeline and the replay command.
pub fn report(scenario: &Scenario, o: &Outcome) -> String {
    let mut m = String::new();
    let _ = writeln!(m, "# {} — {}\n", o.name, verdict(o.passed));
    if let Some(d) = &scenario.file.description {
        let _ = writeln!(m, "{}\n", d.trim());
    }
    let _ = writeln!(m, "| | |\n|---|---|");
    for (k, v) in figures(o) {
        let _ = writeln!(m, "| {k} | {} |", cell(&v));
    }
    longest_stall(&mut m, o);
    expectations(&mut m, o);
    invariants(&mut m, o);
    let _ = writeln!(m, "\n## Timeline\n\n![timeline](timeline.svg)\n");
    let _ = writeln!(m, "## Replay\n\n```sh\n{}\n```", o.replay);
    m
}

/// The table at the top: one row per figure of the run.
fn figures(o: &Outcome) -> [(&'static str, String); 13] {
    let s = &o.summary;
    let fds: Vec<String> = s
        .max_open_fds
        .iter()
        .map(|(h, n)| format!("{h} {n}"))
        .collect();
    let shutdown = match &s.shutdown {
        Some(sd) => format!(
            "started at {}, {}",
            ms(sd.started_ms),
            sd.ended_ms
                .map_or("never ended".into(), |e| format!("ended at {}", ms(e)))
        ),
        None => "none".into(),
    };
    let arrival = if s.reordered.is_empty() {
        "in send order".to_string()
    } else {
        let mut ids = s.reordered.clone();
        ids.sort_unstable();
        format!(
            "{} request(s) reached the server after a later-sent one: {}",
            ids.len(),
            ranges(&ids)
        )
    };
    [
        ("file", format!("`{}`", o.file)),
        ("seed", o.seed.to_string()),
        ("verdict", format!("**{}**", verdict(o.passed))),
        ("end", format!("{} at {} simulated", o.end, ms(o.sim_ms))),
        (
            "time",
            format!(
                "event-driven: quiet periods {} (every timer, yours included)",
                o.quiet_periods
            ),
        ),
        ("requests", requests_line(o)),
        ("first error", first_error_line(o) + &emfile_assumption(o)),
        ("longest stall", stall_line(o)),
        ("last completion", ms(s.last_completion_ms)),
        ("max open fds", fds.join(", ")),
        ("shutdown", shutdown),
        ("arrival order", arrival),
        (
            "trace",
            format!(
                "[trace.jsonl](trace.jsonl), {} records, hash `{}`",
                o.records.len(),
                o.trace_hash
            ),
        ),
    ]
}

/// The longest stall explained, whether or not an invariant asked: a report says why.
fn longest_stall(m: &mut String, o: &Outcome) {
    let s = &o.summary;
    if s.longest_stall_ms >= 1000 && !s.stall.pending.is_empty() {
        let why = crate::check::diagnose::why_waiting(
            o.timeline(),
            &s.stall.pending,
            s.stall.from_us,
            s.stall.to_us,
        );
        let _ = writeln!(m, "\n## Longest stall\n\n{}", cell(&why));
    }
}

fn expectations(m: &mut String, o: &Outcome) {
    let _ = writeln!(m, "\n## Expectations\n");
    if o.expectations.is_empty() {
        let _ = writeln!(m, "The scenario has no `[expect]` table.");
        return;
    }
    let _ = writeln!(m, "| key | verdict | detail |\n|---|---|---|");
    for e in &o.expectations {
        let _ = writeln!(
            m,
            "| `{}` | {} | {} |",
            e.key,
            verdict(e.passed),
            cell(&e.detail)
        );
    }
}

/// The verdict table, why any could not be judged, then every violation explained.
fn invariants(m: &mut String, o: &Outcome) {
    let _ = writeln!(m, "\n## Invariants\n");
    if o.invariants.is_empty() {
        let _ = writeln!(m, "The scenario checks no invariant.");
        return;
    }
    let _ = writeln!(m, "| invariant | verdict | violations |\n|---|---|---|");
    for i in &o.invariants {
        let _ = writeln!(
            m,
            "| `{}` | {} | {} |",
            i.name,
            match &i.reason {
                Some(_) => "cannot judge",
                None => verdict(i.passed),
            },
            i.violations.len()
        );
    }
    for i in o.invariants.iter().filter(|i| i.reason.is_some()) {
        let reason = i.reason.as_deref().unwrap_or_default();
        let _ = writeln!(m, "\n`{}`: {reason}", i.name);
    }
    for i in o
        .invariants
        .iter()
        .filter(|i| !i.passed && i.reason.is_none())
    {
        let _ = writeln!(m, "\n### Violations of `{}`\n", i.name);
        for v in &i.violations {
            let _ = write!(
                m,
                "- {} ({} to {}",
                v.message,
                fmt_ms(v.from_us),
                fmt_ms(v.to_us)
            );
            if !v.requests.is_empty() {
                let _ = write!(m, "; requests {}", ranges(&v.requests));
            }
            if !v.conns.is_empty() {
                let _ = write!(m, "; connections {}", ranges(&v.conns));
            }
            let _ = writeln!(m, ")");
        }
    }
}

/// `index.md`: one row per run, linking each report.
pub fn index(outcomes: &[&Outcome]) -> String {
    let rows: Vec<(bool, String)> = outcomes.iter().map(|o| (o.passed, index_row(o))).collect();
    index_page(&rows)
}

/// `index.md` from its rows (each a verdict and the line [`index_row`] wrote): how
/// `httpsim merge` puts the rows of several shards back into one page.
pub fn index_page(rows: &[(bool, String)]) -> String {
    let mut m = String::new();
    let passed = rows.iter().filter(|(p, _)| *p).count();
    let _ = writeln!(m, "# httpsim reports\n");
    let _ = writeln!(
        m,
        "{passed} of {} scenarios passed. Regenerate with \
         `httpsim run scenarios --report-dir reports`.\n",
        rows.len()
    );
    let _ = writeln!(
        m,
        "| scenario | verdict | seed | requests | first error | longest stall | last completion | report |"
    );
    let _ = writeln!(m, "|---|---|---|---|---|---|---|---|");
    for (_, row) in rows {
        let _ = writeln!(m, "{row}");
    }
    m
}

/// One run's row of `index.md` (without its line end).
pub fn index_row(o: &Outcome) -> String {
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | [report]({}/report.md) |",
        o.name,
        verdict(o.passed),
        o.seed,
        cell(&requests_line(o)),
        cell(&first_error_line(o)),
        ms(o.summary.longest_stall_ms),
        ms(o.summary.last_completion_ms),
        o.name
    )
}

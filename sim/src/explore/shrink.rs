//! Shrinking a failing [`Case`] to a smaller one that fails the same way: fewer faults, earlier,
//! shorter, smaller.
//!
//! Greedy and deterministic, as proptest's shrinking of a `Vec` of steps is, but without its
//! runner (explore works without the `proptest` feature): candidates are tried in a fixed order
//! — drop each fault, drop each per-connection fault, then move each value toward its lower
//! bound (all the way first, then half the way, a quarter, ... down to 1 ms) — and the first
//! that still fails becomes the new case, until no candidate fails or the tries run out. Every
//! candidate is strictly smaller ([`Case::size`]), so shrinking ends.
//!
//! "Fails the same way" is the caller's to judge (explore asks for the same invariant and a
//! diagnosis of the same shape), so a shrink cannot slide from one bug to another.

use std::time::Duration;

use super::draw::{Case, Drawn, Space};

/// Values between `floor` and `v`, nearest `floor` first: `floor`, then halfway, three
/// quarters, ... up to `v - 1` (integer steps).
fn toward(v: u64, floor: u64) -> Vec<u64> {
    let mut out = Vec::new();
    if v <= floor {
        return out;
    }
    let mut gap = v - floor;
    out.push(floor);
    while gap > 1 {
        gap /= 2;
        let c = v - gap;
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    out
}

fn toward_ms(v: Duration, floor: Duration) -> Vec<Duration> {
    toward(v.as_millis() as u64, floor.as_millis() as u64)
        .into_iter()
        .map(Duration::from_millis)
        .collect()
}

/// Every smaller case one step from `c`, in the order they are tried.
pub fn candidates(c: &Case, space: &Space) -> Vec<Case> {
    let mut out = Vec::new();
    for i in 0..c.faults.len() {
        let mut s = c.clone();
        s.faults.remove(i);
        out.push(s);
    }
    for i in 0..c.conn_faults.len() {
        let mut s = c.clone();
        s.conn_faults.remove(i);
        out.push(s);
    }
    for i in 0..c.faults.len() {
        let with = |f: Drawn| {
            let mut s = c.clone();
            s.faults[i] = f;
            s
        };
        match c.faults[i] {
            Drawn::Outage { kind, at, lasts } => {
                for a in toward_ms(at, space.window.0) {
                    out.push(with(Drawn::Outage { kind, at: a, lasts }));
                }
                for l in toward_ms(lasts, space.outage.0) {
                    out.push(with(Drawn::Outage { kind, at, lasts: l }));
                }
            }
            Drawn::Latency { at, latency } => {
                for a in toward_ms(at, space.window.0) {
                    out.push(with(Drawn::Latency { at: a, latency }));
                }
                for l in toward_ms(latency, space.latency.0) {
                    out.push(with(Drawn::Latency { at, latency: l }));
                }
            }
            Drawn::FailRate {
                at,
                per_mille,
                lasts,
            } => {
                for a in toward_ms(at, space.window.0) {
                    out.push(with(Drawn::FailRate {
                        at: a,
                        per_mille,
                        lasts,
                    }));
                }
                for l in toward_ms(lasts, space.outage.0) {
                    out.push(with(Drawn::FailRate {
                        at,
                        per_mille,
                        lasts: l,
                    }));
                }
                for r in toward(u64::from(per_mille), u64::from(space.rate.0)) {
                    out.push(with(Drawn::FailRate {
                        at,
                        per_mille: r as u32,
                        lasts,
                    }));
                }
            }
        }
    }
    for i in 0..c.conn_faults.len() {
        let floor = match c.conn_faults[i].kind {
            super::draw::ConnKind::Latency => space.latency.0,
            _ => space.outage.0,
        };
        for v in toward_ms(c.conn_faults[i].value, floor) {
            let mut s = c.clone();
            s.conn_faults[i].value = v;
            out.push(s);
        }
        for p in toward(
            u64::from(c.conn_faults[i].per_mille),
            u64::from(space.probability.0),
        ) {
            let mut s = c.clone();
            s.conn_faults[i].per_mille = p as u32;
            out.push(s);
        }
    }
    if let (Some(v), Some((floor, _))) = (c.server_idle_timeout, space.server_idle_timeout) {
        for t in toward_ms(v, floor) {
            let mut s = c.clone();
            s.server_idle_timeout = Some(t);
            out.push(s);
        }
    }
    out
}

/// What a shrink did.
#[derive(Clone, Debug)]
pub struct Shrunk<T> {
    /// The smallest failing case found.
    pub case: Case,
    /// What the last accepted run gave (the first failing run's, when nothing smaller failed).
    pub last: T,
    /// Candidates run.
    pub tries: usize,
}

/// Shrinks `case` (which failed, giving `first`): `fails` runs a candidate and returns `Some`
/// of what it gave when it failed the same way. Stops after `max_tries` candidates or when
/// `more` says so (a time budget).
pub fn shrink<T>(
    case: Case,
    first: T,
    space: &Space,
    max_tries: usize,
    mut more: impl FnMut() -> bool,
    mut fails: impl FnMut(&Case) -> Option<T>,
) -> Shrunk<T> {
    let mut best = Shrunk {
        case,
        last: first,
        tries: 0,
    };
    'outer: loop {
        for cand in candidates(&best.case, space) {
            if best.tries >= max_tries || !more() {
                break 'outer;
            }
            best.tries += 1;
            if let Some(t) = fails(&cand) {
                best.case = cand;
                best.last = t;
                continue 'outer;
            }
        }
        break;
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explore::draw::{draw, Space};
    use crate::explore::table::ExploreTable;

    #[test]
    fn toward_goes_floor_first_then_closer() {
        assert_eq!(toward(100, 0), vec![0, 50, 75, 88, 94, 97, 99]);
        assert_eq!(toward(3, 3), Vec::<u64>::new());
        assert_eq!(toward(4, 3), vec![3]);
    }

    #[test]
    fn every_candidate_is_smaller_and_shrinking_ends_at_the_essence() {
        let table: ExploreTable = toml::from_str(
            r#"
            faults = { min = 3, max = 5 }
            kinds = ["partition", "hold", "crash", "latency", "fail-rate"]
            conn_faults = { min = 1, max = 2 }
            conn_kinds = ["latency", "reset", "half-open", "slow-close"]
            probability = { min = 0.2, max = 1.0 }
            server_idle_timeout = { min = "1s", max = "9s" }
            "#,
        )
        .unwrap();
        let space = Space::new(&table, Duration::from_secs(30));
        for seed in 0..20 {
            let case = draw(&space, seed);
            for c in candidates(&case, &space) {
                assert!(c.size() < case.size(), "seed {seed}: {c:?} vs {case:?}");
            }
            // A "bug" that needs a crash and nothing else: shrinks to one crash at the window's
            // start, as short as allowed.
            let has_crash = |c: &Case| {
                c.faults.iter().any(|f| {
                    matches!(
                        f,
                        Drawn::Outage {
                            kind: crate::explore::draw::OutageKind::Crash,
                            ..
                        }
                    )
                })
            };
            if !has_crash(&case) {
                continue;
            }
            let s = shrink(
                case,
                (),
                &space,
                10_000,
                || true,
                |c| has_crash(c).then_some(()),
            );
            assert_eq!(s.case.faults.len(), 1, "seed {seed}");
            assert!(s.case.conn_faults.is_empty());
            assert_eq!(
                s.case.faults[0],
                Drawn::Outage {
                    kind: crate::explore::draw::OutageKind::Crash,
                    at: space.window.0,
                    lasts: space.outage.0
                }
            );
            assert_eq!(s.case.server_idle_timeout, Some(Duration::from_secs(1)));
        }
    }
}

//! The drawing vocabulary of the timeline: primitives rounded to 0.1 px, the legend, the time
//! axis's steps, and fault events turned into bands. Nothing here knows about a run.

use svg::node::element::{Group, Line, Rectangle, Text};

use super::{BODY, FAIL, FAILED_BAR, FAULT, STALL, WAIT};

/// Fault events become bands: `partition`/`hold`/`crash`/... open one, `repair`/`release`/
/// `bounce` close every open band; a band never closed runs to the end.
pub(super) fn fault_bands(faults: &[(u64, String)], end_us: u64) -> Vec<(u64, u64, String)> {
    let mut out = Vec::new();
    let mut open: Vec<(u64, String)> = Vec::new();
    for (t, what) in faults {
        let closes = ["repair", "release", "bounce"]
            .iter()
            .any(|k| what.starts_with(k));
        if closes {
            for (from, w) in open.drain(..) {
                out.push((from, *t, w));
            }
        } else {
            open.push((*t, what.clone()));
        }
    }
    for (from, w) in open {
        out.push((from, end_us, w));
    }
    out
}

/// A tick step of 1, 2 or 5 × 10^k giving 5 to 12 ticks, and the unit to label it in.
pub(super) fn axis_step(end_us: u64) -> (u64, &'static str, f64) {
    let mut step = 1u64;
    'outer: loop {
        for m in [1, 2, 5] {
            if end_us / (step * m) <= 10 {
                step *= m;
                break 'outer;
            }
        }
        step *= 10;
    }
    let (unit, div) = if end_us >= 600_000_000 {
        ("min", 60_000_000.0)
    } else if end_us >= 2_000_000 {
        ("s", 1_000_000.0)
    } else {
        ("ms", 1000.0)
    };
    // Minutes read best in whole multiples of 1, 2, 5, 10, 30 min.
    if unit == "min" {
        let minute = 60_000_000;
        step = [1, 2, 5, 10, 30, 60, 120, 300, 600]
            .iter()
            .map(|m| m * minute)
            .find(|s| end_us / s <= 10)
            .unwrap_or(600 * minute);
    }
    (step, unit, div)
}

pub(super) fn fmt_tick(t: u64, div: f64) -> String {
    let v = t as f64 / div;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

pub(super) fn legend(y: f64) -> Group {
    let items: [(&str, &str, f64); 7] = [
        (WAIT, "waiting for response head", 1.0),
        (BODY, "reading body", 1.0),
        (FAILED_BAR, "until it failed", 1.0),
        (STALL, "never answered / longest stall", 0.6),
        (FAULT, "fault / shutdown", 0.4),
        (FAIL, "attempt failed (x)", 1.0),
        ("#333333", "socket closed (|)", 1.0),
    ];
    let mut g = Group::new();
    // From the left edge, not the plot's: seven entries need nearly the whole width.
    let mut lx = 20.0;
    for (color, label, opacity) in items {
        g = g.add(rect(lx, y - 10.0, 12.0, 12.0, color).set("fill-opacity", opacity));
        g = g.add(text(lx + 16.0, y, label).set("font-size", 11));
        lx += 26.0 + 6.2 * label.len() as f64;
    }
    g
}

pub(super) fn rect(x: f64, y: f64, w: f64, h: f64, fill: &str) -> Rectangle {
    Rectangle::new()
        .set("x", r(x))
        .set("y", r(y))
        .set("width", r(w))
        .set("height", r(h))
        .set("fill", fill)
}

pub(super) fn line(x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) -> Line {
    Line::new()
        .set("x1", r(x1))
        .set("y1", r(y1))
        .set("x2", r(x2))
        .set("y2", r(y2))
        .set("stroke", stroke)
        .set("stroke-width", width)
}

pub(super) fn cross(cx: f64, cy: f64) -> Group {
    let d = 4.0;
    Group::new()
        .add(line(cx - d, cy - d, cx + d, cy + d, FAIL, 2.0))
        .add(line(cx - d, cy + d, cx + d, cy - d, FAIL, 2.0))
}

pub(super) fn text(x: f64, y: f64, s: &str) -> Text {
    Text::new(s).set("x", r(x)).set("y", r(y))
}

/// Rounds to 0.1 px so the file does not carry float noise.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

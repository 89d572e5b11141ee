//! `timeline.svg`: one lane per connection, a bar per request from its start to the end of its
//! body, the longest stall as a highlighted band, faults as bands, EMFILE and other failures as
//! red marks, closes as ticks, and a time axis with units. Drawn with the `svg` crate from the
//! trace alone.
//!
//! Big runs are summarised, not crammed: at most [`MAX_LANES`] connection lanes are drawn and a
//! note says how many more exist; requests that never got a connection share one lane.

use std::collections::BTreeMap;

use svg::node::element::{Group, Line, Rectangle, Text, Title};
use svg::Document;

use crate::error::ErrorKind;
use crate::fmt::ms;
use crate::scenario::Outcome;
use crate::trace::{CloseReason, ConnId, Event, ReqId};

/// Connection lanes drawn at most.
pub const MAX_LANES: usize = 40;

const WIDTH: f64 = 1100.0;
const LEFT: f64 = 120.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 86.0;
const LANE: f64 = 22.0;
const BAR: f64 = 14.0;
const FONT: &str = "DejaVu Sans, Helvetica, Arial, sans-serif";

const WAIT: &str = "#9ecae1";
const BODY: &str = "#2171b5";
const FAIL: &str = "#d62728";
const STALL: &str = "#ff9800";
const FAULT: &str = "#8e44ad";
const CONN: &str = "#bbbbbb";
const FAILED_BAR: &str = "#f4a6a6";

#[derive(Default)]
struct Req {
    start: Option<u64>,
    head: Option<u64>,
    body_end: Option<u64>,
    failed: Option<(u64, ErrorKind)>,
    /// Failed attempts that were retried.
    retried: Vec<u64>,
    conn: Option<ConnId>,
    /// When it last took its connection (a `checkout`): a stream opens then, not when the
    /// request started waiting for one.
    checked_out: Option<u64>,
}

#[derive(Default)]
struct Conn {
    open: Option<u64>,
    closes: Vec<(u64, String, CloseReason)>,
}

/// The timeline of one run.
pub fn timeline(o: &Outcome) -> String {
    let mut reqs: BTreeMap<ReqId, Req> = BTreeMap::new();
    let mut conns: BTreeMap<ConnId, Conn> = BTreeMap::new();
    let mut faults: Vec<(u64, String)> = Vec::new();
    let mut accept_fails: Vec<u64> = Vec::new();
    let mut shutdown: Option<(u64, Option<u64>, String)> = None;
    for r in &o.records {
        let t = r.t_us;
        match &r.event {
            Event::RequestStart { req, .. } => {
                reqs.entry(*req).or_default().start.get_or_insert(t);
            }
            Event::Checkout {
                req, conn: Some(c), ..
            } => {
                let q = reqs.entry(*req).or_default();
                q.conn = Some(*c);
                q.checked_out = Some(t);
            }
            Event::ResponseHead { req, conn, .. } => {
                let q = reqs.entry(*req).or_default();
                q.head = Some(t);
                q.conn = conn.or(q.conn);
            }
            Event::BodyEnd { req, .. } => reqs.entry(*req).or_default().body_end = Some(t),
            Event::RequestFailed {
                req,
                retrying: true,
                ..
            } => reqs.entry(*req).or_default().retried.push(t),
            Event::RequestFailed {
                req,
                kind,
                retrying: false,
                ..
            } => reqs.entry(*req).or_default().failed = Some((t, *kind)),
            Event::Connected { conn, .. } | Event::Accepted { conn, .. } => {
                conns.entry(*conn).or_default().open.get_or_insert(t);
            }
            Event::Closed { conn, reason } => {
                conns
                    .entry(*conn)
                    .or_default()
                    .closes
                    .push((t, r.host.to_string(), *reason))
            }
            Event::AcceptFailed { .. } => accept_fails.push(t),
            Event::Fault { what } => faults.push((t, what.clone())),
            Event::ShutdownStart { strategy } => {
                shutdown.get_or_insert((t, None, format!("shutdown ({strategy})")));
            }
            Event::ShutdownEnd { .. } => {
                if let Some(sd) = shutdown.as_mut() {
                    sd.1.get_or_insert(t);
                }
            }
            _ => {}
        }
    }
    let last_us = (o.sim_ms * 1000)
        .max(o.records.last().map_or(0, |r| r.t_us))
        .max(1);
    // 2 % of room on the right, so what happens at the very end is not drawn on the border.
    let end_us = last_us + last_us / 50;

    let lanes: Vec<ConnId> = conns.keys().copied().take(MAX_LANES).collect();
    let hidden = conns.len() - lanes.len();
    let lane_of: BTreeMap<ConnId, usize> = lanes.iter().enumerate().map(|(i, c)| (*c, i)).collect();
    let orphans: Vec<(&ReqId, &Req)> = reqs.iter().filter(|(_, q)| q.conn.is_none()).collect();
    let orphan_lane = lanes.len();
    let mut notes: Vec<String> = Vec::new();
    if hidden > 0 {
        notes.push(format!(
            "{hidden} more connections not drawn (only the first {MAX_LANES}); see trace.jsonl"
        ));
    }
    let mut orphan_kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, q) in &orphans {
        if let Some((_, k)) = &q.failed {
            *orphan_kinds.entry(k.as_str()).or_default() += 1;
        }
    }
    if !orphan_kinds.is_empty() || !accept_fails.is_empty() {
        let mut parts: Vec<String> = orphan_kinds
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        if !accept_fails.is_empty() {
            parts.push(format!(
                "{} server accepts failed (EMFILE)",
                accept_fails.len()
            ));
        }
        notes.push(format!(
            "\"conn unknown\": failures the trace ties to no connection: {}",
            parts.join(", ")
        ));
    }
    let orphan_lane_used = !orphans.is_empty() || !accept_fails.is_empty();
    let n_lanes = (lanes.len() + usize::from(orphan_lane_used)).max(1);
    let plot_h = n_lanes as f64 * LANE;
    let axis_y = TOP + plot_h + 8.0;
    let notes_y = axis_y + 58.0;
    let legend_y = notes_y + 18.0 * notes.len() as f64 + 10.0;
    let height = legend_y + 24.0;
    let x = |t: u64| LEFT + (t as f64 / end_us as f64) * (WIDTH - LEFT - RIGHT);
    let lane_y = |i: usize| TOP + i as f64 * LANE;

    let mut doc = Document::new()
        .set("viewBox", (0, 0, WIDTH as i64, height as i64))
        .set("width", WIDTH as i64)
        .set("height", height as i64)
        .set("font-family", FONT)
        .set("font-size", 12);
    doc = doc.add(rect(0.0, 0.0, WIDTH, height, "#ffffff"));
    let verdict = if o.passed { "PASS" } else { "FAIL" };
    doc = doc.add(
        text(
            LEFT,
            22.0,
            &format!("{} — {verdict}, seed {}", o.name, o.seed),
        )
        .set("font-size", 15)
        .set("font-weight", "bold"),
    );
    doc = doc.add(
        text(
            LEFT,
            40.0,
            &format!(
                "{} requests, {} completed, {} failed; longest stall {}; simulated {}",
                o.summary.requests.sent,
                o.summary.requests.completed,
                o.summary.requests.failed,
                ms(o.summary.longest_stall_ms),
                ms(o.sim_ms)
            ),
        )
        .set("fill", "#444444"),
    );

    // Lane backgrounds and labels.
    for i in 0..n_lanes {
        let y = lane_y(i);
        if i % 2 == 0 {
            doc = doc.add(rect(LEFT, y, WIDTH - LEFT - RIGHT, LANE, "#f4f4f4"));
        }
        let label = match lanes.get(i) {
            Some(c) => format!("conn {c}"),
            None => "conn unknown".to_string(),
        };
        doc = doc.add(text(LEFT - 8.0, y + LANE / 2.0 + 4.0, &label).set("text-anchor", "end"));
    }

    // Faults, the server's shutdown and the stall go under the bars, as translucent bands.
    let mut bands = fault_bands(&faults, last_us);
    if let Some((from, to, what)) = shutdown {
        bands.push((from, to.unwrap_or(last_us), what));
    }
    for (from, to, what) in bands {
        let w = (x(to) - x(from)).max(2.0);
        doc = doc.add(
            rect(x(from), TOP, w, plot_h, FAULT)
                .set("fill-opacity", 0.22)
                .add(Title::new(format!(
                    "fault: {what} ({} to {})",
                    ms(from / 1000),
                    ms(to / 1000)
                ))),
        );
        doc = doc.add(
            text(x(from) + 3.0, TOP - 24.0, &what)
                .set("fill", FAULT)
                .set("font-size", 11),
        );
    }
    let stall = &o.summary.stall;
    if o.summary.longest_stall_ms > 0 {
        let (a, b) = (x(stall.from_us), x(stall.to_us));
        doc = doc.add(
            rect(a, TOP, (b - a).max(2.0), plot_h, STALL)
                .set("fill-opacity", 0.25)
                .set("stroke", STALL)
                .set("stroke-dasharray", "4 3"),
        );
        // Above the plot, so no bar can hide it.
        let label = format!("longest stall {}", ms(o.summary.longest_stall_ms));
        let lx = a.min(WIDTH - RIGHT - 7.0 * label.len() as f64);
        doc = doc.add(line(a, TOP - 4.0, a, TOP, "#b35c00", 1.0));
        doc = doc.add(
            text(lx, TOP - 6.0, &label)
                .set("font-weight", "bold")
                .set("fill", "#b35c00"),
        );
    }

    // Connection lifetimes and closes.
    for (c, i) in &lane_of {
        let conn = &conns[c];
        let y = lane_y(*i) + LANE / 2.0;
        let open = conn.open.unwrap_or(0);
        let close = conn.closes.first().map_or(last_us, |c| c.0);
        doc = doc.add(line(x(open), y, x(close), y, CONN, 1.0));
        for (t, host, reason) in &conn.closes {
            let cx = x(*t);
            doc = doc.add(
                line(
                    cx,
                    y - BAR / 2.0 - 2.0,
                    cx,
                    y + BAR / 2.0 + 2.0,
                    "#333333",
                    2.0,
                )
                .add(Title::new(format!(
                    "closed by {host} at {}: {reason}",
                    ms(t / 1000)
                ))),
            );
        }
    }

    // HTTP/2: requests at once on one connection are its streams, drawn as rows of its lane.
    let rows = stream_rows(&reqs, &lane_of, last_us);

    // Request bars. Requests with no connection that would be drawn on the same pixels (an
    // EMFILE storm: thousands at once) are drawn once, with their count.
    let mut drawn: BTreeMap<(i64, i64, bool), usize> = BTreeMap::new();
    for (id, q) in &reqs {
        let Some(start) = q.start else { continue };
        if q.conn.is_none() {
            let stop = q.failed.as_ref().map_or(last_us, |f| f.0);
            let key = (x(start) as i64, x(stop) as i64, q.failed.is_some());
            let seen = drawn.entry(key).or_default();
            *seen += 1;
            if *seen > 1 {
                continue;
            }
        }
        let lane = match q.conn {
            Some(c) => match lane_of.get(&c) {
                Some(l) => *l,
                None => continue,
            },
            None => orphan_lane,
        };
        let (row, of) = rows.get(id).copied().unwrap_or((0, 1));
        // At least a pixel per row: beyond BAR streams, rows share pixels (row mod BAR).
        let shown = of.min(BAR as usize);
        let (row, bar) = (row % shown, BAR / shown as f64);
        let y = lane_y(lane) + (LANE - BAR) / 2.0 + row as f64 * bar;
        let head = q.head.or(q.failed.as_ref().map(|f| f.0)).unwrap_or(last_us);
        let done = q.body_end.unwrap_or(head).max(head);
        let waiting = match (&q.head, &q.failed) {
            (Some(_), _) => WAIT,
            (None, Some(_)) => FAILED_BAR,
            (None, None) => STALL,
        };
        let tip = format!(
            "request {id}: started {}, {}",
            ms(start / 1000),
            match (&q.head, &q.failed) {
                (Some(h), _) => format!("head {}, body done {}", ms(h / 1000), ms(done / 1000)),
                (None, Some((t, k))) => format!("failed ({k}) at {}", ms(t / 1000)),
                _ => "never answered".into(),
            }
        );
        let mut g = Group::new().add(Title::new(tip));
        // A stream's row shows it from when it took its connection; the wait for a free stream
        // before that is the lane's business no more (the stall band shows it).
        let from = if of > 1 {
            q.checked_out.unwrap_or(start).max(start)
        } else {
            start
        };
        g = g.add(rect(x(from), y, (x(head) - x(from)).max(1.5), bar, waiting));
        if q.head.is_some() && done > head {
            g = g.add(rect(x(head), y, (x(done) - x(head)).max(2.0), bar, BODY));
        }
        for t in q.retried.iter().chain(q.failed.as_ref().map(|f| &f.0)) {
            g = g.add(cross(x(*t), y + bar / 2.0));
        }
        let w = x(done) - x(start);
        let label = format!("#{id}");
        if of == 1 && w > 8.0 * label.len() as f64 + 6.0 {
            g = g.add(
                text(x(start) + 4.0, y + BAR - 3.0, &label)
                    .set("font-size", 10)
                    .set("fill", "#ffffff"),
            );
        }
        doc = doc.add(g);
    }
    for t in &accept_fails {
        doc = doc.add(
            cross(x(*t), lane_y(orphan_lane) + LANE / 2.0)
                .add(Title::new("server accept failed: EMFILE")),
        );
    }
    // Time axis.
    doc = doc.add(line(LEFT, axis_y, WIDTH - RIGHT, axis_y, "#333333", 1.0));
    let (step, unit, div) = axis_step(end_us);
    let mut t = 0u64;
    while t <= end_us {
        let tx = x(t);
        doc = doc.add(line(tx, axis_y, tx, axis_y + 5.0, "#333333", 1.0));
        doc = doc.add(line(tx, TOP, tx, TOP + plot_h, "#dddddd", 0.5));
        doc = doc.add(
            text(tx, axis_y + 18.0, &fmt_tick(t, div))
                .set("text-anchor", "middle")
                .set("font-size", 11),
        );
        t += step;
    }
    doc = doc.add(
        text(
            (LEFT + WIDTH - RIGHT) / 2.0,
            axis_y + 36.0,
            &format!("simulated time ({unit})"),
        )
        .set("text-anchor", "middle")
        .set("fill", "#444444"),
    );
    for (i, note) in notes.iter().enumerate() {
        doc = doc.add(text(LEFT, notes_y + 18.0 * i as f64, note).set("fill", "#444444"));
    }
    doc = doc.add(legend(legend_y));
    doc.to_string() + "\n"
}

/// Each drawn request's row in its connection's lane and the lane's number of rows: requests
/// overlapping in time on one connection (HTTP/2 streams) get rows of their own, the first free
/// one in order of start. A connection that carries one request at a time has one row, and its
/// bars are drawn as before.
fn stream_rows(
    reqs: &BTreeMap<ReqId, Req>,
    lane_of: &BTreeMap<ConnId, usize>,
    last_us: u64,
) -> BTreeMap<ReqId, (usize, usize)> {
    let mut by_conn: BTreeMap<ConnId, Vec<(u64, ReqId, u64)>> = BTreeMap::new();
    for (id, q) in reqs {
        let (Some(start), Some(c)) = (q.start, q.conn) else {
            continue;
        };
        if !lane_of.contains_key(&c) {
            continue;
        }
        let head = q.head.or(q.failed.as_ref().map(|f| f.0)).unwrap_or(last_us);
        let done = q.body_end.unwrap_or(head).max(head);
        let on_conn = q.checked_out.unwrap_or(start).max(start);
        by_conn.entry(c).or_default().push((on_conn, *id, done));
    }
    let mut out = BTreeMap::new();
    for (_, mut list) in by_conn {
        list.sort();
        // When each row is free again.
        let mut free_at: Vec<u64> = Vec::new();
        let mut assigned = Vec::with_capacity(list.len());
        for (start, id, done) in list {
            let row = match free_at.iter().position(|f| *f <= start) {
                Some(r) => r,
                None => {
                    free_at.push(0);
                    free_at.len() - 1
                }
            };
            free_at[row] = done;
            assigned.push((id, row));
        }
        let n = free_at.len().max(1);
        for (id, row) in assigned {
            out.insert(id, (row, n));
        }
    }
    out
}

/// Fault events become bands: `partition`/`hold`/`crash`/... open one, `repair`/`release`/
/// `bounce` close every open band; a band never closed runs to the end.
fn fault_bands(faults: &[(u64, String)], end_us: u64) -> Vec<(u64, u64, String)> {
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
fn axis_step(end_us: u64) -> (u64, &'static str, f64) {
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

fn fmt_tick(t: u64, div: f64) -> String {
    let v = t as f64 / div;
    if (v - v.round()).abs() < 1e-9 {
        format!("{}", v.round() as i64)
    } else {
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

fn legend(y: f64) -> Group {
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

fn rect(x: f64, y: f64, w: f64, h: f64, fill: &str) -> Rectangle {
    Rectangle::new()
        .set("x", r(x))
        .set("y", r(y))
        .set("width", r(w))
        .set("height", r(h))
        .set("fill", fill)
}

fn line(x1: f64, y1: f64, x2: f64, y2: f64, stroke: &str, width: f64) -> Line {
    Line::new()
        .set("x1", r(x1))
        .set("y1", r(y1))
        .set("x2", r(x2))
        .set("y2", r(y2))
        .set("stroke", stroke)
        .set("stroke-width", width)
}

fn cross(cx: f64, cy: f64) -> Group {
    let d = 4.0;
    Group::new()
        .add(line(cx - d, cy - d, cx + d, cy + d, FAIL, 2.0))
        .add(line(cx - d, cy + d, cx + d, cy - d, FAIL, 2.0))
}

fn text(x: f64, y: f64, s: &str) -> Text {
    Text::new(s).set("x", r(x)).set("y", r(y))
}

/// Rounds to 0.1 px so the file does not carry float noise.
fn r(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

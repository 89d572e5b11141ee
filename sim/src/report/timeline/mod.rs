//! `timeline.svg`: one lane per connection, a bar per request from its start to the end of its
//! body, the longest stall as a highlighted band, faults as bands, EMFILE and other failures as
//! red marks, closes as ticks, and a time axis with units. Drawn with the `svg` crate from the
//! run's trace index — the same [`Timeline`] its checks judged it from.
//!
//! Big runs are summarised, not crammed: at most [`MAX_LANES`] connection lanes are drawn and a
//! note says how many more exist; requests that never got a connection share one lane.
//!
//! [`timeline`] draws in layers, bottom to top, one function each: the header, the lanes, the
//! bands (faults, shutdown, stall), the connections, the request bars, the axis and the notes.

mod marks;

use std::collections::BTreeMap;

use svg::node::element::{Group, Title};
use svg::Document;

use crate::check::timeline::{ReqFacts, Timeline};
use crate::error::ErrorKind;
use crate::fmt::ms;
use crate::scenario::Outcome;
use crate::trace::{ConnId, ReqId};
use marks::{axis_step, cross, fault_bands, fmt_tick, legend, line, rect, text};

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

/// What the drawing needs of one request, read off its [`ReqFacts`].
struct Req {
    start: Option<u64>,
    /// The last response head.
    head: Option<u64>,
    body_end: Option<u64>,
    /// The final failure (not retried).
    failed: Option<(u64, ErrorKind)>,
    /// When attempts that were retried failed.
    retried: Vec<u64>,
    /// The socket it was last known on.
    conn: Option<ConnId>,
    /// When it last took its connection (a `checkout`): a stream opens then, not when the
    /// request started waiting for one.
    checked_out: Option<u64>,
}

impl Req {
    fn of(f: &ReqFacts) -> Req {
        Req {
            start: f.attempts.first().map(|a| a.start),
            head: f.heads.last().map(|h| h.0),
            body_end: f.body_end.map(|b| b.0),
            failed: f.failures.last().copied(),
            retried: f
                .attempts
                .iter()
                .filter(|a| a.retrying && a.failed.is_some())
                .filter_map(|a| a.end)
                .collect(),
            conn: f.conn_at(u64::MAX),
            checked_out: f
                .checkouts
                .iter()
                .rev()
                .find(|c| c.1.is_some())
                .map(|c| c.0),
        }
    }
}

/// Where everything goes: the lanes, the notes under the axis, the picture's height, and the
/// time → x mapping.
struct Layout {
    /// Connections drawn, in id order (at most [`MAX_LANES`]).
    lane_of: BTreeMap<ConnId, usize>,
    /// Lane labels, top to bottom ("conn unknown" last when used).
    labels: Vec<String>,
    /// The lane of requests no connection is known for.
    orphan_lane: usize,
    notes: Vec<String>,
    /// Time of the last thing that happened; the plot runs 2 % further.
    last_us: u64,
    end_us: u64,
    plot_h: f64,
    axis_y: f64,
    notes_y: f64,
    legend_y: f64,
    height: f64,
}

impl Layout {
    fn new(o: &Outcome, tl: &Timeline, reqs: &BTreeMap<ReqId, Req>) -> Layout {
        let last_us = (o.sim_ms * 1000).max(tl.end_us).max(1);
        let lanes: Vec<ConnId> = tl.conns.iter().map(|(c, _)| *c).take(MAX_LANES).collect();
        let hidden = tl.conns.len() - lanes.len();
        let mut notes: Vec<String> = Vec::new();
        if hidden > 0 {
            notes.push(format!(
                "{hidden} more connections not drawn (only the first {MAX_LANES}); see trace.jsonl"
            ));
        }
        let orphans: Vec<&Req> = reqs.values().filter(|q| q.conn.is_none()).collect();
        let accept_fails = accept_fails(tl).count();
        let mut orphan_kinds: BTreeMap<&str, usize> = BTreeMap::new();
        for q in &orphans {
            if let Some((_, k)) = &q.failed {
                *orphan_kinds.entry(k.as_str()).or_default() += 1;
            }
        }
        if !orphan_kinds.is_empty() || accept_fails > 0 {
            let mut parts: Vec<String> = orphan_kinds
                .iter()
                .map(|(k, n)| format!("{n} {k}"))
                .collect();
            if accept_fails > 0 {
                parts.push(format!("{accept_fails} server accepts failed (EMFILE)"));
            }
            notes.push(format!(
                "\"conn unknown\": failures the trace ties to no connection: {}",
                parts.join(", ")
            ));
        }
        let orphan_lane = lanes.len();
        let orphan_lane_used = !orphans.is_empty() || accept_fails > 0;
        let n_lanes = (lanes.len() + usize::from(orphan_lane_used)).max(1);
        let labels = (0..n_lanes)
            .map(|i| match lanes.get(i) {
                Some(c) => format!("conn {c}"),
                None => "conn unknown".to_string(),
            })
            .collect();
        let plot_h = n_lanes as f64 * LANE;
        let axis_y = TOP + plot_h + 8.0;
        let notes_y = axis_y + 58.0;
        let legend_y = notes_y + 18.0 * notes.len() as f64 + 10.0;
        Layout {
            lane_of: lanes.iter().enumerate().map(|(i, c)| (*c, i)).collect(),
            labels,
            orphan_lane,
            notes,
            last_us,
            // 2 % of room on the right, so what happens at the very end is not drawn on the
            // border.
            end_us: last_us + last_us / 50,
            plot_h,
            axis_y,
            notes_y,
            legend_y,
            height: legend_y + 24.0,
        }
    }

    fn x(&self, t: u64) -> f64 {
        LEFT + (t as f64 / self.end_us as f64) * (WIDTH - LEFT - RIGHT)
    }

    fn lane_y(&self, i: usize) -> f64 {
        TOP + i as f64 * LANE
    }
}

/// Times at which the server failed to accept (any kind: EMFILE in practice).
fn accept_fails(tl: &Timeline) -> impl Iterator<Item = u64> + '_ {
    tl.fd_errors.iter().filter(|e| e.2 == "accept").map(|e| e.0)
}

/// The timeline of one run.
pub fn timeline(o: &Outcome) -> String {
    let tl = o.timeline();
    let reqs: BTreeMap<ReqId, Req> = tl.reqs.iter().map(|(id, f)| (*id, Req::of(f))).collect();
    let at = Layout::new(o, tl, &reqs);
    let mut doc = header(o, &at);
    doc = lanes(doc, &at);
    doc = bands(doc, o, tl, &at);
    doc = connections(doc, tl, &at);
    doc = requests(doc, tl, &reqs, &at);
    doc = axis(doc, &at);
    for (i, note) in at.notes.iter().enumerate() {
        doc = doc.add(text(LEFT, at.notes_y + 18.0 * i as f64, note).set("fill", "#444444"));
    }
    doc = doc.add(legend(at.legend_y));
    doc.to_string() + "\n"
}

/// The page, its title (name, verdict, seed) and the figures under it.
fn header(o: &Outcome, at: &Layout) -> Document {
    let doc = Document::new()
        .set("viewBox", (0, 0, WIDTH as i64, at.height as i64))
        .set("width", WIDTH as i64)
        .set("height", at.height as i64)
        .set("font-family", FONT)
        .set("font-size", 12)
        .add(rect(0.0, 0.0, WIDTH, at.height, "#ffffff"));
    let verdict = if o.passed { "PASS" } else { "FAIL" };
    doc.add(
        text(
            LEFT,
            22.0,
            &format!("{} — {verdict}, seed {}", o.name, o.seed),
        )
        .set("font-size", 15)
        .set("font-weight", "bold"),
    )
    .add(
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
    )
}

/// Lane backgrounds and labels.
fn lanes(mut doc: Document, at: &Layout) -> Document {
    for (i, label) in at.labels.iter().enumerate() {
        let y = at.lane_y(i);
        if i % 2 == 0 {
            doc = doc.add(rect(LEFT, y, WIDTH - LEFT - RIGHT, LANE, "#f4f4f4"));
        }
        doc = doc.add(text(LEFT - 8.0, y + LANE / 2.0 + 4.0, label).set("text-anchor", "end"));
    }
    doc
}

/// Faults, the server's shutdown and the stall go under the bars, as translucent bands.
fn bands(mut doc: Document, o: &Outcome, tl: &Timeline, at: &Layout) -> Document {
    let mut bands = fault_bands(&tl.faults, at.last_us);
    if let Some((from, strategy)) = &tl.shutdown_start {
        let to = tl.shutdown_end.map_or(at.last_us, |e| e.0);
        bands.push((*from, to, format!("shutdown ({strategy})")));
    }
    for (from, to, what) in bands {
        let w = (at.x(to) - at.x(from)).max(2.0);
        doc = doc.add(
            rect(at.x(from), TOP, w, at.plot_h, FAULT)
                .set("fill-opacity", 0.22)
                .add(Title::new(format!(
                    "fault: {what} ({} to {})",
                    ms(from / 1000),
                    ms(to / 1000)
                ))),
        );
        doc = doc.add(
            text(at.x(from) + 3.0, TOP - 24.0, &what)
                .set("fill", FAULT)
                .set("font-size", 11),
        );
    }
    let stall = &o.summary.stall;
    if o.summary.longest_stall_ms > 0 {
        let (a, b) = (at.x(stall.from_us), at.x(stall.to_us));
        doc = doc.add(
            rect(a, TOP, (b - a).max(2.0), at.plot_h, STALL)
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
    doc
}

/// Connection lifetimes (a thin line from open to first close) and every close as a tick.
fn connections(mut doc: Document, tl: &Timeline, at: &Layout) -> Document {
    for (c, i) in &at.lane_of {
        let conn = &tl.conns[c];
        let y = at.lane_y(*i) + LANE / 2.0;
        let open = match (conn.connected, conn.accepted) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b).unwrap_or(0),
        };
        let close = conn.closes.first().map_or(at.last_us, |c| c.0);
        doc = doc.add(line(at.x(open), y, at.x(close), y, CONN, 1.0));
        for (t, host, reason) in &conn.closes {
            let cx = at.x(*t);
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
    doc
}

/// Request bars. Requests with no connection that would be drawn on the same pixels (an
/// EMFILE storm: thousands at once) are drawn once, with their count.
fn requests(
    mut doc: Document,
    tl: &Timeline,
    reqs: &BTreeMap<ReqId, Req>,
    at: &Layout,
) -> Document {
    let last_us = at.last_us;
    // HTTP/2: requests at once on one connection are its streams, drawn as rows of its lane.
    let rows = stream_rows(reqs, &at.lane_of, last_us);
    let mut drawn: BTreeMap<(i64, i64, bool), usize> = BTreeMap::new();
    for (id, q) in reqs {
        let Some(start) = q.start else { continue };
        if q.conn.is_none() {
            let stop = q.failed.as_ref().map_or(last_us, |f| f.0);
            let key = (at.x(start) as i64, at.x(stop) as i64, q.failed.is_some());
            let seen = drawn.entry(key).or_default();
            *seen += 1;
            if *seen > 1 {
                continue;
            }
        }
        let lane = match q.conn {
            Some(c) => match at.lane_of.get(&c) {
                Some(l) => *l,
                None => continue,
            },
            None => at.orphan_lane,
        };
        let (row, of) = rows.get(id).copied().unwrap_or((0, 1));
        doc = doc.add(bar(*id, q, (lane, row, of), at));
    }
    for t in accept_fails(tl) {
        doc = doc.add(
            cross(at.x(t), at.lane_y(at.orphan_lane) + LANE / 2.0)
                .add(Title::new("server accept failed: EMFILE")),
        );
    }
    doc
}

/// One request's bar in row `row` of the `of` rows of lane `lane`: waiting (or failing), then
/// reading its body; crosses where attempts failed; its number when it fits; a tooltip with its
/// times.
fn bar(id: ReqId, q: &Req, (lane, row, of): (usize, usize, usize), at: &Layout) -> Group {
    let x = |t| at.x(t);
    // At least a pixel per row: beyond BAR streams, rows share pixels (row mod BAR).
    let shown = of.min(BAR as usize);
    let (row, bar) = (row % shown, BAR / shown as f64);
    let y = at.lane_y(lane) + (LANE - BAR) / 2.0 + row as f64 * bar;
    let start = q.start.unwrap_or(0);
    let head = q
        .head
        .or(q.failed.as_ref().map(|f| f.0))
        .unwrap_or(at.last_us);
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
    g
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

/// The time axis: ticks of 1, 2 or 5 × 10^k, grid lines, the unit.
fn axis(mut doc: Document, at: &Layout) -> Document {
    let axis_y = at.axis_y;
    doc = doc.add(line(LEFT, axis_y, WIDTH - RIGHT, axis_y, "#333333", 1.0));
    let (step, unit, div) = axis_step(at.end_us);
    let mut t = 0u64;
    while t <= at.end_us {
        let tx = at.x(t);
        doc = doc.add(line(tx, axis_y, tx, axis_y + 5.0, "#333333", 1.0));
        doc = doc.add(line(tx, TOP, tx, TOP + at.plot_h, "#dddddd", 0.5));
        doc = doc.add(
            text(tx, axis_y + 18.0, &fmt_tick(t, div))
                .set("text-anchor", "middle")
                .set("font-size", 11),
        );
        t += step;
    }
    doc.add(
        text(
            (LEFT + WIDTH - RIGHT) / 2.0,
            axis_y + 36.0,
            &format!("simulated time ({unit})"),
        )
        .set("text-anchor", "middle")
        .set("fill", "#444444"),
    )
}

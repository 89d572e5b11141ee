//! A case written down: the base scenario's own text with the case's faults and knobs added,
//! a standalone scenario file that `httpsim run` replays.
//!
//! The base file is edited, not regenerated, so its comments, order and every key explore does
//! not touch stay as the author wrote them: the `[explore]` table is removed (a finding is a
//! fixed case), `name` becomes `NAME-seed-N` and `seed` becomes N, the drawn `[[fault]]` and
//! `[[conn_fault]]` entries are appended after the file's own, and a drawn server idle timeout
//! replaces `[server] idle_timeout`. Explore runs exactly this text (parsed as any scenario
//! file is), so what a finding's file says is what ran.

use std::time::Duration;

use toml_edit::{value, Array, ArrayOfTables, DocumentMut, InlineTable, Item, Table};

use super::draw::Case;
use crate::fault::{ConnFault, ConnFaultKind, Direction, FaultEntry};

/// A duration as the file format writes it: `"3s"` when whole seconds, else `"2500ms"`.
pub fn dur(d: Duration) -> String {
    let ms = d.as_millis();
    if d == Duration::from_millis(ms as u64) {
        if ms.is_multiple_of(1000) {
            format!("{}s", ms / 1000)
        } else {
            format!("{ms}ms")
        }
    } else {
        format!("{}us", d.as_micros())
    }
}

fn fault_table(e: &FaultEntry) -> Table {
    let mut t = Table::new();
    t["at"] = value(dur(e.at));
    t["kind"] = value(e.kind.to_string());
    let mut hosts = Array::new();
    for h in &e.hosts {
        hosts.push(h.as_str());
    }
    t["hosts"] = value(hosts);
    if e.oneway {
        t["oneway"] = value(true);
    }
    if !e.fin {
        t["fin"] = value(false);
    }
    if let Some(l) = e.latency {
        t["latency"] = value(dur(l));
    }
    if let Some(r) = e.rate {
        t["rate"] = value(r);
    }
    t
}

fn conn_fault_table(c: &ConnFault) -> Table {
    let mut t = Table::new();
    t["direction"] = value(match c.direction {
        Direction::ToServer => "to-server",
        Direction::ToClient => "to-client",
    });
    t["probability"] = value(c.probability);
    let mut f = InlineTable::new();
    match &c.fault {
        ConnFaultKind::Latency { latency, jitter } => {
            f.insert("kind", "latency".into());
            f.insert("latency", dur(*latency).into());
            if !jitter.is_zero() {
                f.insert("jitter", dur(*jitter).into());
            }
        }
        ConnFaultKind::Reset { after_bytes, after } => {
            f.insert("kind", "reset".into());
            after_keys(&mut f, *after_bytes, *after);
        }
        ConnFaultKind::HalfOpen { after_bytes, after } => {
            f.insert("kind", "half-open".into());
            after_keys(&mut f, *after_bytes, *after);
        }
        ConnFaultKind::SlowClose { delay } => {
            f.insert("kind", "slow-close".into());
            f.insert("delay", dur(*delay).into());
        }
        ConnFaultKind::Bandwidth { bytes_per_sec } => {
            f.insert("kind", "bandwidth".into());
            f.insert("bytes_per_sec", (*bytes_per_sec as i64).into());
        }
        ConnFaultKind::LimitData { bytes } => {
            f.insert("kind", "limit-data".into());
            f.insert("bytes", (*bytes as i64).into());
        }
        ConnFaultKind::Slicer {
            average,
            variation,
            delay,
        } => {
            f.insert("kind", "slicer".into());
            f.insert("average", (*average as i64).into());
            f.insert("variation", (*variation as i64).into());
            f.insert("delay", dur(*delay).into());
        }
    }
    t["fault"] = value(f);
    t
}

fn after_keys(f: &mut InlineTable, after_bytes: Option<u64>, after: Option<Duration>) {
    if let Some(b) = after_bytes {
        f.insert("after_bytes", (b as i64).into());
    }
    if let Some(a) = after {
        f.insert("after", dur(a).into());
    }
}

fn array_of_tables<'a>(doc: &'a mut DocumentMut, key: &str) -> Option<&'a mut ArrayOfTables> {
    if !doc.contains_key(key) {
        doc.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    doc.get_mut(key)?.as_array_of_tables_mut()
}

/// The scenario text of `case` on the base file `src`, named `name`, at `seed`, with `header`
/// (comment lines, each starting with `#`) on top. `client` and `server` are the hosts the
/// faults apply to. Fails only when `src` is not TOML (it was parsed once already).
pub fn render(
    src: &str,
    case: &Case,
    name: &str,
    seed: u64,
    (client, server): (&str, &str),
    header: &str,
) -> Result<String, String> {
    let mut doc: DocumentMut = src.parse().map_err(|e| format!("{e}"))?;
    doc.remove("explore");
    doc["name"] = value(name);
    doc["seed"] = value(seed as i64);
    if let Some(t) = case.server_idle_timeout {
        if !doc.contains_key("server") {
            doc.insert("server", Item::Table(Table::new()));
        }
        let server_table = doc
            .get_mut("server")
            .and_then(|s| s.as_table_like_mut())
            .ok_or("`server` is not a table")?;
        server_table.insert("idle_timeout", value(dur(t)));
    }
    let entries = case.entries(client, server);
    if !entries.is_empty() {
        let faults = array_of_tables(&mut doc, "fault").ok_or("`fault` is not [[fault]]")?;
        for e in &entries {
            faults.push(fault_table(e));
        }
    }
    let conns = case.conn_entries();
    if !conns.is_empty() {
        let list =
            array_of_tables(&mut doc, "conn_fault").ok_or("`conn_fault` is not [[conn_fault]]")?;
        for c in &conns {
            list.push(conn_fault_table(c));
        }
    }
    let mut text = format!("{header}{doc}");
    if !text.ends_with('\n') {
        text.push('\n');
    }
    Ok(text)
}

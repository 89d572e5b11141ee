//! `--time-scale K`: the scenario text with every duration divided by K (and every rate
//! multiplied by it), checked before anything starts.
//!
//! Scaling works on the file's text, so the scaled scenario goes through the same parser,
//! validation and conversion as the original, in the parent and in both child processes, and a
//! problem points at the original file's line and column. Rules:
//! - every string value that reads as a duration (`"180s"`, `"20ms"`) is divided by K, in
//!   `[expect]` too; `[workload] rate` is multiplied by K; names, descriptions, paths, methods,
//!   headers, bodies and the `[explore]` table are left alone;
//! - a duration that becomes shorter than 1 ms is refused (exit 2): a real timer cannot keep it
//!   (tokio's timer has millisecond resolution). `tick`, `[network] latency` and per-connection
//!   latencies are exempt: the simulation delivers packets on the same millisecond timer wheel,
//!   so both round a sub-millisecond latency up alike (said in [`Scaled::approximations`]);
//! - `[network] latency` is carried as a per-write delay on both ends (`real/child.rs`), and
//!   the `[[conn_fault]]` kinds that act on the sender alone (`latency`, `bandwidth`, `slicer`,
//!   `slow-close`, `limit-data`) run in the socket layer as they do in a simulation;
//! - scheduled partitions and holds (`[[fault]]` `partition`, `repair`, `hold`, `release`) are
//!   carried by blocking the relay (`net/real.rs`), the server's crashes (with FIN) and bounces
//!   by stopping and restarting its process (`real/parent.rs`);
//! - what loopback cannot carry is named in [`Scaled::not_carried`]: the other scheduled
//!   `[[fault]]`s (crashes without FIN, the client's crashes, latency changes, failure rates),
//!   `reset` and `half-open` connection faults (they need both ends in one process), link
//!   failures and packet loss.

// A scenario error is as large as the loader's (file, position, key, message, form): returned
// once per file, as `scenario::load` does.
#![allow(clippy::result_large_err)]

use std::path::Path;
use std::time::Duration;

use toml_edit::{ImDocument, Item, Value};

use crate::scenario::{ErrorClass, ScenarioError};

/// The run's length when the file names none (as in a simulated run).
const DEFAULT_DURATION: Duration = Duration::from_secs(60);

/// The shortest duration a real run can keep.
pub const MIN_REAL_DURATION: Duration = Duration::from_millis(1);

/// A scenario's text at a time scale, and what a real run of it leaves out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scaled {
    /// The scaled TOML text.
    pub text: String,
    /// The run's scaled length (the file's `duration`, 60 s when absent).
    pub duration: Duration,
    /// What a real run approximates (said in its output, not a reason to refuse).
    pub approximations: Vec<String>,
    /// What loopback cannot carry: each a key and why.
    pub not_carried: Vec<String>,
}

/// Scales `src` (the text of `path`) by `k`. Errors are the file's own: line, column, key.
pub fn scale(path: &Path, src: &str, k: f64) -> Result<Scaled, ScenarioError> {
    if !(k.is_finite() && k >= 1.0) {
        return Err(ScenarioError::new(
            ErrorClass::Impossible,
            path,
            format!("--time-scale {k} cannot run"),
        )
        .expected("a time scale of at least 1 (1: real time; 100: 180 s takes 1.8 s)"));
    }
    let doc = ImDocument::parse(src).map_err(|e| {
        ScenarioError::new(ErrorClass::Syntax, path, e.message().to_string()).expected("valid TOML")
    })?;
    let server_host = doc
        .get("server")
        .and_then(|s| s.get("host"))
        .and_then(Item::as_str)
        .unwrap_or("server")
        .to_string();
    let mut walk = Walk {
        path,
        src,
        k,
        server_host,
        edits: Vec::new(),
        approximations: Vec::new(),
        not_carried: Vec::new(),
        error: None,
    };
    for (key, item) in doc.as_table().iter() {
        walk.item(key, item);
    }
    if let Some(e) = walk.error {
        return Err(e);
    }
    let duration = match doc.get("duration").and_then(Item::as_str) {
        Some(d) => humantime::parse_duration(d).unwrap_or(DEFAULT_DURATION),
        None => DEFAULT_DURATION,
    };
    let duration = duration.div_f64(k);
    let mut text = src.to_string();
    walk.edits
        .sort_by_key(|(span, _)| std::cmp::Reverse(span.start));
    for (span, new) in walk.edits {
        text.replace_range(span, &new);
    }
    if doc.get("duration").is_none() {
        text = format!("duration = \"{}\"\n{text}", nanos(duration));
    }
    Ok(Scaled {
        text,
        duration,
        approximations: walk.approximations,
        not_carried: walk.not_carried,
    })
}

struct Walk<'a> {
    path: &'a Path,
    src: &'a str,
    k: f64,
    /// The server's host name: only its crashes and bounces are carried.
    server_host: String,
    edits: Vec<(std::ops::Range<usize>, String)>,
    approximations: Vec<String>,
    not_carried: Vec<String>,
    error: Option<ScenarioError>,
}

impl Walk<'_> {
    fn item(&mut self, key: &str, item: &Item) {
        if matches!(
            key,
            "name" | "description" | "seed" | "explore" | "path" | "body" | "method" | "headers"
        ) || key.ends_with(".path")
            || key.ends_with(".body")
            || key.ends_with(".method")
            || key.ends_with(".headers")
        {
            return;
        }
        match key {
            "fault" => {
                self.faults(item);
                return;
            }
            "conn_fault" => {
                self.conn_faults(item);
                return;
            }
            "network.fail_rate" | "network.loss" => {
                if item.as_float().unwrap_or(0.0) > 0.0 {
                    self.not_carried
                        .push(format!("{key} (loopback does not fail or drop packets)"));
                }
                return;
            }
            _ => {}
        }
        match item {
            Item::Value(v) => self.value(key, v),
            Item::Table(t) => {
                for (k, i) in t.iter() {
                    self.item(&format!("{key}.{k}"), i);
                }
            }
            Item::ArrayOfTables(a) => {
                for (n, t) in a.iter().enumerate() {
                    for (k, i) in t.iter() {
                        self.item(&format!("{key}[{n}].{k}"), i);
                    }
                }
            }
            Item::None => {}
        }
    }

    /// `[[fault]]`: partitions and holds are carried by blocking the relay, the server's crashes
    /// (with FIN) and bounces by stopping and restarting its process; crashes without FIN, the
    /// client's crashes, latency changes and failure rates are not.
    fn faults(&mut self, item: &Item) {
        let Item::ArrayOfTables(a) = item else {
            return;
        };
        for (n, t) in a.iter().enumerate() {
            let kind = t.get("kind").and_then(Item::as_str).unwrap_or("");
            let host = t
                .get("hosts")
                .and_then(Item::as_array)
                .and_then(|h| h.get(0))
                .and_then(|h| h.as_str())
                .unwrap_or("");
            let fin = t.get("fin").and_then(Item::as_bool).unwrap_or(true);
            let server = host == self.server_host;
            match kind {
                "hold" | "release" => {}
                "partition" | "repair" => {
                    if !self
                        .approximations
                        .iter()
                        .any(|a| a.starts_with("[[fault]] partition"))
                    {
                        self.approximations.push(
                            "[[fault]] partition: the relay holds what it blocks and sends it at the \
                             repair, where TCP would resend it at its next retransmission"
                                .into(),
                        );
                    }
                }
                "crash" | "bounce" if server && fin => {
                    if kind == "bounce"
                        && !self
                            .approximations
                            .iter()
                            .any(|a| a.starts_with("[[fault]] bounce"))
                    {
                        self.approximations.push(
                            "[[fault]] bounce: a new server process takes a few milliseconds to \
                             start listening; a simulated host restarts at once"
                                .into(),
                        );
                    }
                }
                "crash" if server => self.not_carried.push(format!(
                    "fault[{n}] kind = \"crash\" with fin = false (a real process cannot vanish \
                     without its kernel closing its sockets)"
                )),
                "crash" | "bounce" => self.not_carried.push(format!(
                    "fault[{n}] kind = \"{kind}\" of host \"{host}\" (only the server's process is \
                     stopped and restarted)"
                )),
                other => self.not_carried.push(format!(
                    "fault[{n}] kind = \"{other}\" (only partitions, holds and the server's \
                     crashes and bounces are carried)"
                )),
            }
            for (k, i) in t.iter() {
                self.item(&format!("fault[{n}].{k}"), i);
            }
        }
    }

    /// `[[conn_fault]]`: the kinds that need both ends in one process are not carried; the
    /// others are scaled like any table.
    fn conn_faults(&mut self, item: &Item) {
        let Item::ArrayOfTables(a) = item else {
            return;
        };
        for (n, t) in a.iter().enumerate() {
            let kind = t
                .get("fault")
                .and_then(|f| f.get("kind"))
                .and_then(Item::as_str)
                .unwrap_or("");
            if matches!(kind, "reset" | "half-open") {
                self.not_carried.push(format!(
                    "conn_fault[{n}] kind = \"{kind}\" (it needs both ends in one process)"
                ));
            }
            if t.get("probability").and_then(Item::as_float).unwrap_or(1.0) < 1.0 {
                self.approximations.push(format!(
                    "conn_fault[{n}] probability: drawn per connection as in a simulation, but \
                     real connections are named by port, so other connections draw it"
                ));
            }
            for (k, i) in t.iter() {
                self.item(&format!("conn_fault[{n}].{k}"), i);
            }
        }
    }

    fn value(&mut self, key: &str, v: &Value) {
        match v {
            Value::String(s) => self.duration(key, s.value(), v.span()),
            Value::InlineTable(t) => {
                for (k, i) in t.iter() {
                    let sub = format!("{key}.{k}");
                    self.item(&sub, &Item::Value(i.clone()));
                    // `Item::Value(i.clone())` keeps the span: spans live in the value.
                }
            }
            Value::Array(a) => {
                for (n, i) in a.iter().enumerate() {
                    self.value(&format!("{key}[{n}]"), i);
                }
            }
            Value::Integer(i) if key.ends_with(".bytes_per_sec") => {
                if let Some(span) = v.span() {
                    let scaled = (*i.value() as f64 * self.k).round() as i64;
                    self.edits.push((span, scaled.to_string()));
                }
            }
            Value::Float(_) | Value::Integer(_) if key == "workload.rate" => {
                let rate = v
                    .as_float()
                    .or_else(|| v.as_integer().map(|i| i as f64))
                    .unwrap_or(0.0);
                if let Some(span) = v.span() {
                    self.edits.push((span, format!("{:?}", rate * self.k)));
                }
            }
            _ => {}
        }
    }

    fn duration(&mut self, key: &str, text: &str, span: Option<std::ops::Range<usize>>) {
        let Ok(d) = humantime::parse_duration(text) else {
            return;
        };
        let Some(span) = span else {
            return;
        };
        let scaled = d.div_f64(self.k);
        let latency = key.starts_with("network.latency")
            || ((key.starts_with("conn_fault[") || key.starts_with("fault["))
                && (key.ends_with(".latency") || key.ends_with(".jitter")));
        if key == "tick" || latency {
            if latency && !d.is_zero() && scaled < MIN_REAL_DURATION {
                self.approximations.push(format!(
                    "{key} = \"{text}\" becomes {scaled:?}: both runs' timers round it up to \
                     the millisecond"
                ));
            }
        } else if !d.is_zero() && scaled < MIN_REAL_DURATION && self.error.is_none() {
            let max_k = d.as_secs_f64() / MIN_REAL_DURATION.as_secs_f64();
            self.error = Some(
                ScenarioError::new(
                    ErrorClass::Impossible,
                    self.path,
                    format!(
                        "--time-scale {} makes {key} = \"{text}\" {:?}, shorter than 1 ms: a real \
                         timer cannot keep it",
                        self.k, scaled
                    ),
                )
                .field(key)
                .at_offset(self.src, span.start)
                .expected(format!(
                    "a time scale of at most {max_k} for this file, or a longer {key}"
                )),
            );
        }
        let quoted = matches!(self.src.as_bytes().get(span.start), Some(b'"' | b'\''));
        let new = nanos(scaled);
        self.edits
            .push((span, if quoted { format!("\"{new}\"") } else { new }));
    }
}

/// A duration as the scenario format reads it, exactly.
fn nanos(d: Duration) -> String {
    format!("{}ns", d.as_nanos())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scaled(src: &str, k: f64) -> Result<Scaled, ScenarioError> {
        scale(Path::new("s.toml"), src, k)
    }

    #[test]
    fn durations_divide_and_rates_multiply() {
        let s = scaled(
            "name = \"x\"\nduration = \"30m\"\n[server]\nidle_timeout = \"180s\"\n\
             handler = { kind = \"delay\", delay = \"2s\" }\n[workload]\nrate = 10.0\n\
             [expect]\nlongest_stall = { min = \"14m\" }\n",
            100.0,
        )
        .unwrap();
        assert!(
            s.text.contains("idle_timeout = \"1800000000ns\""),
            "{}",
            s.text
        );
        assert!(s.text.contains("delay = \"20000000ns\""), "{}", s.text);
        assert!(s.text.contains("rate = 1000.0"), "{}", s.text);
        assert!(s.text.contains("min = \"8400000000ns\""), "{}", s.text);
        assert_eq!(s.duration, Duration::from_secs(18));
        assert!(s.not_carried.is_empty());
    }

    #[test]
    fn too_short_is_refused_at_its_position() {
        let e = scaled(
            "name = \"x\"\n[client]\ntimeout = { response = \"50ms\" }\n",
            100.0,
        )
        .unwrap_err();
        assert_eq!(e.position, Some((3, 24)));
        assert_eq!(e.field.as_deref(), Some("client.timeout.response"));
        assert!(e.message.contains("shorter than 1 ms"), "{}", e.message);
    }

    #[test]
    fn latency_is_approximated_and_faults_not_carried() {
        let s = scaled(
            "name = \"x\"\ntick = \"1ms\"\n[network]\nlatency = { min = \"1ms\", max = \"20ms\" }\n\
             [[fault]]\nat = \"1s\"\nkind = \"crash\"\nhosts = [\"client\"]\n[[fault]]\nat = \"2s\"\nkind = \"hold\"\n",
            100.0,
        )
        .unwrap();
        assert_eq!(s.approximations.len(), 2);
        assert_eq!(s.not_carried.len(), 1);
        assert!(
            s.text.starts_with("duration = \"600000000ns\"\n"),
            "{}",
            s.text
        );
        let s = scaled(
            "name = \"x\"\n[[conn_fault]]\nfault = { kind = \"half-open\", after = \"5s\" }\n\
             direction = \"to-client\"\n[[conn_fault]]\nfault = { kind = \"bandwidth\", \
             bytes_per_sec = 1000 }\ndirection = \"to-client\"\n",
            10.0,
        )
        .unwrap();
        assert_eq!(s.not_carried.len(), 1, "{:?}", s.not_carried);
        assert!(s.text.contains("bytes_per_sec = 10000"), "{}", s.text);
    }
}

//! The Agent's settings. Every option documents its default; the defaults follow Node.js's
//! `http.Agent` where it has an equivalent, because that is the pool whose behaviour users most
//! often want reproduced (and the one hyper issues #3785 and #2236 point at).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Which free socket is reused when several are free.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Scheduling {
    /// The socket that became free first (spreads requests over every socket, so fewer of them
    /// sit idle long enough to hit a server's idle timeout).
    Fifo,
    /// The socket that became free last (keeps a few sockets hot and lets the rest idle out).
    /// The default, as in Node.js since v15.
    #[default]
    Lifo,
}

impl FromStr for Scheduling {
    type Err = String;

    /// Parses `fifo` or `lifo` (the scenario format's spelling).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "fifo" => Ok(Scheduling::Fifo),
            "lifo" => Ok(Scheduling::Lifo),
            other => Err(format!(
                "unknown scheduling {other:?}: expected \"fifo\" or \"lifo\""
            )),
        }
    }
}

impl fmt::Display for Scheduling {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Scheduling::Fifo => "fifo",
            Scheduling::Lifo => "lifo",
        })
    }
}

/// Settings of an [`super::Agent`]. Every field documents its default.
///
/// A *host* is one origin (scheme, host and port). A socket counts against the limits from the
/// moment its connect starts until it is closed or its peer has closed it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AgentConfig {
    /// Sockets open per host (connecting, busy or free). Requests beyond it wait in a FIFO
    /// queue. The default is unlimited (`usize::MAX`), as Node's `maxSockets = Infinity`.
    pub max_sockets: usize,
    /// Sockets open over all hosts. When it is reached and another host has a free socket, that
    /// socket is closed to make room. The default is unlimited (`usize::MAX`).
    pub max_total_sockets: usize,
    /// Free sockets kept per host; a socket freed beyond this is closed. The default is 256,
    /// as Node's `maxFreeSockets`.
    pub max_free_sockets: usize,
    /// Whether a socket is kept for the next request once its response is finished. When
    /// `false`, every request says `connection: close` and its socket is closed after the
    /// response. The default is `true`.
    pub keep_alive: bool,
    /// How long a free socket may stay unused before it is closed. The default is none (kept
    /// until the peer closes it), as Node's `http.Agent` without `timeout`.
    pub idle_timeout: Option<Duration>,
    /// Which free socket is reused. The default is [`Scheduling::Lifo`].
    pub scheduling: Scheduling,
    /// Bytes of a response the caller has not read that a socket buffers before it stops
    /// reading ([`super::Transport::set_read_pause`]). A socket that stopped reading never sees
    /// its peer's close, so a held body keeps its slot and its fd until it is read or dropped:
    /// Node 20's `http.Agent` pauses at 16 KiB (the sockets' `highWaterMark`), Node 22's at
    /// 64 KiB. The default is none: the transport's own buffer decides (256 KiB in the
    /// simulation; with plain hyper, hyper's read buffer).
    pub read_pause: Option<usize>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            max_sockets: usize::MAX,
            max_total_sockets: usize::MAX,
            max_free_sockets: 256,
            keep_alive: true,
            idle_timeout: None,
            scheduling: Scheduling::Lifo,
            read_pause: None,
        }
    }
}

//! The bench report as the table `httpsim bench` prints: one `Display` per part, in the
//! order of docs/PERFORMANCE.md ("What is measured").

use std::fmt;

use super::{explore, multiplex, BenchReport, Idle, IdleUser, PerRequest, Scale};

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{}{}{}{}{}",
            self.per_request, self.scale, self.idle, self.idle_user, self.explore, self.multiplex
        )
    }
}

impl fmt::Display for PerRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "1. per request: {} sequential keep-alive GETs, {} B bodies",
            self.requests, self.body_bytes
        )?;
        writeln!(f, "   {:<28} {:>12}", "engine", "wall µs/req")?;
        writeln!(
            f,
            "   {:<28} {:>12.1}",
            "httpsim (run + checks)", self.httpsim_us
        )?;
        writeln!(
            f,
            "   {:<28} {:>12.1}",
            "bare turmoil-net + hyper", self.bare_us
        )?;
        writeln!(
            f,
            "   {:<28} {:>12.1}",
            "hyper over duplex (floor)", self.duplex_us
        )?;
        writeln!(
            f,
            "   {:<28} {:>12}",
            "real loopback (tokio)",
            opt(self.loopback_us, 1)
        )?;
        writeln!(
            f,
            "   httpsim / bare = {:.2}   httpsim / duplex = {:.2}   bare / duplex = {:.2}   httpsim / loopback = {}   ({:.1} simulated ms/req)",
            self.httpsim_over_bare,
            self.httpsim_over_duplex,
            self.bare_over_duplex,
            opt(self.httpsim_over_loopback, 2),
            self.sim_ms_per_request
        )?;
        Ok(())
    }
}

impl fmt::Display for Scale {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "2. scale: n connections at once, responses held")?;
        writeln!(
            f,
            "   {:>6} {:>12} {:>10} {:>14} {:>12}",
            "n", "httpsim ms", "peak MiB", "bare ms", "bare MiB"
        )?;
        for (i, h) in self.httpsim.iter().enumerate() {
            let b = self.bare.get(i);
            writeln!(
                f,
                "   {:>6} {:>12.0} {:>10} {:>14} {:>12}",
                h.connections,
                h.wall_ms,
                opt(h.peak_mib, 0),
                opt(b.map(|b| b.wall_ms), 0),
                opt(b.and_then(|b| b.peak_mib), 0)
            )?;
        }
        writeln!(
            f,
            "   growth exponent (first→last): httpsim time {:.2}, memory {:.2}; bare time {:.2}",
            self.httpsim_time_exponent, self.httpsim_memory_exponent, self.bare_time_exponent
        )?;
        if let Some(h) = &self.httpsim_hyper_util {
            writeln!(
                f,
                "   through hyper-util's pool instead (its O(n²) waiter sweep): {} connections {:.0} ms, {} MiB",
                h.connections,
                h.wall_ms,
                opt(h.peak_mib, 0)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Idle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "3. idle time: {} requests, {} sockets, {} s inactivity timeout, {} ms tick",
            self.requests, self.sockets, self.idle_timeout_s, self.tick_ms
        )?;
        writeln!(
            f,
            "   {} completed, longest stall {:.1} s, {:.0} simulated s in {:.4} wall s = {:.0} sim s / wall s",
            self.completed, self.longest_stall_s, self.sim_s, self.wall_s, self.sim_per_wall
        )?;
        Ok(())
    }
}

impl fmt::Display for IdleUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "4. idle time, your own timers: {} sequential requests, handler sleeps {} s (tokio::time::sleep)",
            self.requests, self.nap_s
        )?;
        writeln!(
            f,
            "   {} completed, {:.0} simulated s in {:.4} wall s = {:.0} sim s / wall s",
            self.completed, self.sim_s, self.wall_s, self.sim_per_wall
        )?;
        Ok(())
    }
}

impl fmt::Display for explore::ExploreBench {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "5. explore: {} catalog shapes, drawn faults, every check; one core",
            self.shapes
        )?;
        writeln!(
            f,
            "   {} runs ({} failing) in {:.2} wall s = {:.0} explored runs / wall s",
            self.runs, self.failing, self.wall_s, self.runs_per_s
        )?;
        Ok(())
    }
}

impl fmt::Display for multiplex::Multiplex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "6. HTTP/2 beside HTTP/1.1: {} GETs, {} in flight at a time, 4096 B bodies",
            self.requests, self.in_flight
        )?;
        writeln!(
            f,
            "   {:<34} {:>6} {:>10} {:>12} {:>8}",
            "", "conns", "wall ms", "wall µs/req", "sim ms"
        )?;
        for (name, s) in [
            ("HTTP/2, one connection (h2 pool)", &self.http2),
            ("HTTP/1.1, keep-alive (agent)", &self.http1),
        ] {
            writeln!(
                f,
                "   {:<34} {:>6} {:>10.1} {:>12.1} {:>8.0}",
                name, s.connections, s.wall_ms, s.wall_us_per_request, s.sim_ms
            )?;
        }
        Ok(())
    }
}

fn opt(v: Option<f64>, digits: usize) -> String {
    match v {
        Some(v) => format!("{v:.digits$}"),
        None => "n/a".into(),
    }
}

//! Peak memory of a process (`VmHWM`): what a scale point measures in the child that ran it
//! alone (see [`super::scale`]). A leaf: it knows nothing of the benchmark.

/// Peak resident set size of this process in KiB (`VmHWM` from `/proc/self/status`); `None`
/// where `/proc` is not available.
pub fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
}

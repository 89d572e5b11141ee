//! Catalog: every scenario file of `scenarios/`, run as written.
//!
//! - `snapshots` — one normalised trace and the text report per runnable scenario (insta glob),
//!   so any change in what a scenario does shows up in review.
//! - `determinism` — every scenario at two other seeds, twice each: identical traces.
//! - `pending` — scenarios that need features this build does not have yet are refused with
//!   "not supported yet", and the list of them is exactly [`PENDING`]: when a feature lands,
//!   this test says which files to move off the list.

mod determinism;
mod pending;
mod snapshots;

/// Test result: every test can use `?`.
pub type Result<T = ()> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Catalog files that cannot run in this build yet, and why.
pub const PENDING: &[(&str, &str)] = &[];

/// Whether the catalog file `path` is on the [`PENDING`] list.
pub fn is_pending(path: &std::path::Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    PENDING.iter().any(|(f, _)| *f == name)
}

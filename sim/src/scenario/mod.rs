//! Scenario files: the v1 TOML format, its loader and errors, and the runner.
//!
//! - [`load`] — reads one file into a runnable [`Scenario`], or a [`ScenarioError`] that names
//!   file, line, column, key and expected form. Start here.
//! - [`discover`] — expands files and folders into the sorted list of scenario files.
//! - [`format`](mod@format) — the file format as serde structs (the contract).
//! - `validate` — values that cannot hold together; `convert` — format → [`Setup`], the one
//!   place that knows both, and that refuses features this build does not have yet.
//! - [`size`] — byte sizes (`"16KiB"`) as scenario keys write them.
//! - `request` — `[[workload.request]]` (your own requests) and `[expect] status`.
//! - [`expect`] — the `[expect]` table as checks; `runner` — one run → an [`Outcome`], the
//!   JSON contract.
//!
//! Loading never panics and never runs anything: the CLI loads every file first, so bad input
//! exits 2 before any simulation starts.

// A `ScenarioError` is big (file, position, key, message, expected form) and rare: it ends the
// program. Boxing it would only make every `?` noisier.
#![allow(clippy::result_large_err)]

mod convert;
mod error;
pub mod expect;
pub mod format;
mod locate;
mod request;
mod runner;
pub mod size;
mod validate;
mod validate_h2;

use std::path::{Path, PathBuf};

pub use error::{line_col, ErrorClass, ScenarioError};
pub use runner::{judge, replay_command, run, Outcome};

use crate::setup::{Setup, SetupError};

/// A loaded scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from, as given.
    pub path: PathBuf,
    /// The parsed file.
    pub file: format::ScenarioFile,
    /// The experiment it describes (at its default seed).
    pub setup: Setup,
}

impl Scenario {
    /// The scenario's name.
    pub fn name(&self) -> &str {
        &self.file.name
    }

    /// The seed a run uses when none is given: the file's `seed`, else 1.
    pub fn default_seed(&self) -> u64 {
        self.file.seed.unwrap_or(1)
    }
}

/// Reads, parses, validates and converts one scenario file.
pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
    load_with_source(path).map(|(scenario, _)| scenario)
}

/// [`load`], keeping the file's text too (explore writes its findings from it).
pub fn load_with_source(path: &Path) -> Result<(Scenario, String), ScenarioError> {
    let src = std::fs::read_to_string(path).map_err(|e| {
        ScenarioError::new(
            ErrorClass::Unreadable,
            path,
            format!("cannot read the file: {e}"),
        )
        .expected("a readable UTF-8 TOML file")
    })?;
    parse(path, &src).map(|scenario| (scenario, src))
}

/// Parses, validates and converts `src`, the text of the file `path`.
pub fn parse(path: &Path, src: &str) -> Result<Scenario, ScenarioError> {
    // TOML syntax first, so a syntax error is never reported as a missing key.
    if let Err(e) = toml_edit::ImDocument::parse(src) {
        // toml_edit says `invalid string\nexpected `"`, `'``: the second line is the form.
        let mut lines = e.message().lines().map(str::trim).filter(|l| !l.is_empty());
        let message = lines.next().unwrap_or("invalid TOML").to_string();
        let expected = match lines.next().and_then(|l| l.strip_prefix("expected ")) {
            Some(x) => format!("valid TOML: {x}"),
            None => "valid TOML (https://toml.io)".to_string(),
        };
        let mut err = ScenarioError::new(ErrorClass::Syntax, path, message).expected(expected);
        if let Some(span) = e.span() {
            err = err.at_offset(src, span.start);
        }
        return Err(err);
    }
    let de = toml::Deserializer::new(src);
    let file: format::ScenarioFile = serde_path_to_error::deserialize(de).map_err(|e| {
        let field = e.path().to_string();
        let field_path = field.clone();
        let inner = e.into_inner();
        let (message, expected) = split_expected(inner.message());
        let mut err = ScenarioError::new(ErrorClass::Field, path, message).field(field_path);
        if let Some(x) = expected {
            err = err.expected(x);
        }
        // toml places an error inside an array on the whole array; an element's own span is
        // more precise.
        let element = field
            .ends_with(']')
            .then(|| locate::span(src, &field))
            .flatten();
        match element.or(inner.span()) {
            Some(span) => err.at_offset(src, span.start),
            None => err,
        }
    })?;
    let ctx = Ctx { path, src };
    validate::validate(&file, &ctx)?;
    validate_h2::validate(&file, &ctx)?;
    crate::explore::table::validate(&file, &ctx)?;
    let setup = convert::convert(&file, &ctx)?;
    setup
        .validate()
        .map_err(|e| ctx.setup_error(e, &fault_origins(&file)))?;
    Ok(Scenario {
        path: path.to_path_buf(),
        file,
        setup,
    })
}

/// What `validate` and `convert` need to point at a key.
pub(crate) struct Ctx<'a> {
    /// The file.
    pub(crate) path: &'a Path,
    /// Its text.
    pub(crate) src: &'a str,
}

impl Ctx<'_> {
    /// An error of `class` about the key at `field`, positioned on it.
    pub(crate) fn error(
        &self,
        class: ErrorClass,
        field: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        let err = ScenarioError::new(class, self.path, message).field(field);
        match locate::span(self.src, field) {
            Some(span) => err.at_offset(self.src, span.start),
            None => err,
        }
    }

    /// `e` as an error of this file: its field renamed from the setup's `fault[i]` to the
    /// file's (`origins[i]` is the `[[fault]]` entry setup fault `i` came from) and positioned.
    fn setup_error(&self, e: SetupError, origins: &[usize]) -> ScenarioError {
        let e = match e
            .field()
            .strip_prefix("fault[")
            .and_then(|r| r.split_once(']'))
        {
            Some((i, rest)) => match i.parse::<usize>().ok().and_then(|i| origins.get(i)) {
                Some(origin) => {
                    let field = format!("fault[{origin}]{rest}");
                    e.with_field(field)
                }
                None => e,
            },
            None => e,
        };
        self.error(ErrorClass::Impossible, e.field(), e.message())
            .expected(e.expected())
    }
}

/// For each fault of the converted setup, the index of the `[[fault]]` entry it came from:
/// [`convert`] makes one action per entry and sorts them by time, keeping file order for equal
/// times.
fn fault_origins(file: &format::ScenarioFile) -> Vec<usize> {
    let mut origins: Vec<usize> = (0..file.fault.len()).collect();
    origins.sort_by_key(|&i| file.fault[i].at);
    origins
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

/// serde says `invalid type: integer `5`, expected a string`; the part after `expected` is the
/// expected form.
fn split_expected(message: &str) -> (String, Option<String>) {
    let message = first_line(message);
    match message.split_once(", expected ") {
        Some((m, e)) => (m.to_string(), Some(e.to_string())),
        None => (message, None),
    }
}

/// Expands `paths` into scenario files: a file is taken as is, a folder contributes its
/// `*.toml` files (not recursing), sorted by name. A path that does not exist is an error.
pub fn discover(paths: &[PathBuf]) -> Result<Vec<PathBuf>, ScenarioError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| {
                ScenarioError::new(
                    ErrorClass::Unreadable,
                    p,
                    format!("cannot read the folder: {e}"),
                )
            })?;
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "toml") && f.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(ScenarioError::new(
                    ErrorClass::Unreadable,
                    p,
                    "the folder holds no scenario file",
                )
                .expected("a folder with *.toml scenario files"));
            }
            out.extend(files);
        } else if p.is_file() {
            out.push(p.clone());
        } else {
            return Err(
                ScenarioError::new(ErrorClass::Unreadable, p, "no such file or folder")
                    .expected("a scenario file (*.toml) or a folder of them"),
            );
        }
    }
    Ok(out)
}

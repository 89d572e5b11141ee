//! What is wrong with a scenario file, said so that a person can fix it: the file, the line and
//! column, the key (as a dotted path such as `client.pool.max_sockets`) and the expected form.
//!
//! Every problem with input — unreadable file, bad TOML, unknown key, wrong type, impossible
//! value, a feature this build does not have yet — is a [`ScenarioError`]; the CLI prints it and
//! exits 2. Nothing here panics.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of problem a [`ScenarioError`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorClass {
    /// The file or folder could not be read.
    Unreadable,
    /// Not valid TOML.
    Syntax,
    /// Valid TOML, but a key is unknown, missing or of the wrong type.
    Field,
    /// Every key is well formed but the values cannot all hold (`fd_in_use >= fd_limit`).
    Impossible,
    /// The key is part of the format but this build cannot run it yet.
    Unsupported,
}

/// A bad scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// What kind of problem.
    pub class: ErrorClass,
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column of the offending text, when known.
    pub position: Option<(usize, usize)>,
    /// The key, as a dotted path (`fault[2].kind`), when known.
    pub field: Option<String>,
    /// What is wrong.
    pub message: String,
    /// What would be right.
    pub expected: Option<String>,
}

impl ScenarioError {
    /// A problem of `class` in `file`.
    pub fn new(class: ErrorClass, file: &Path, message: impl Into<String>) -> Self {
        Self {
            class,
            file: file.to_path_buf(),
            position: None,
            field: None,
            message: message.into(),
            expected: None,
        }
    }

    /// Sets the position from a byte offset into `src`.
    pub fn at_offset(mut self, src: &str, offset: usize) -> Self {
        self.position = Some(line_col(src, offset));
        self
    }

    /// Sets the key.
    pub fn field(mut self, field: impl Into<String>) -> Self {
        let f = field.into();
        if !f.is_empty() && f != "." {
            self.field = Some(f);
        }
        self
    }

    /// Sets the expected form.
    pub fn expected(mut self, expected: impl Into<String>) -> Self {
        self.expected = Some(expected.into());
        self
    }

    /// Whether the problem is a feature not built yet (rather than a mistake in the file).
    pub fn is_unsupported(&self) -> bool {
        self.class == ErrorClass::Unsupported
    }
}

/// 1-based line and column (in characters) of byte `offset` in `src`.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if self.class == ErrorClass::Unsupported {
            f.write_str("not supported yet: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "`{field}`: ")?;
        }
        f.write_str(&self.message)?;
        if let Some(e) = &self.expected {
            write!(f, "\n  expected: {e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ScenarioError {}

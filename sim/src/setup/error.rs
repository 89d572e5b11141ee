//! What is wrong with a [`Setup`](super::Setup): the field, what is wrong with it and what would
//! be right.
//!
//! The field is named as the scenario format names it (`server.host`, `client.fd_in_use`,
//! `fault[2].hosts`), so one name serves a library user and a scenario file alike: the scenario
//! loader turns it back into the file's line and column. The one difference is `fault[i]`: in a
//! [`Setup`](super::Setup) it indexes [`Setup::faults`](super::Setup::faults), in a file the
//! `[[fault]]` table (the loader maps one to the other).

use std::fmt;

/// A [`Setup`](super::Setup) that cannot run as given. [`Setup::validate`](super::Setup::validate)
/// returns the first one found; [`Setup::run`](super::Setup::run) refuses to start with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetupError {
    field: String,
    message: String,
    expected: String,
}

impl SetupError {
    /// A problem with `field` (a dotted path such as `server.port`): what is wrong, and what
    /// would be right.
    pub fn new(
        field: impl Into<String>,
        message: impl Into<String>,
        expected: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
            expected: expected.into(),
        }
    }

    /// The offending field, as the scenario format names it (`server.host`, `fault[1].hosts`).
    pub fn field(&self) -> &str {
        &self.field
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// What would be right.
    pub fn expected(&self) -> &str {
        &self.expected
    }

    /// The same error about `field` instead (the scenario loader renames `fault[i]`).
    pub(crate) fn with_field(mut self, field: String) -> Self {
        self.field = field;
        self
    }
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}`: {}\n  expected: {}",
            self.field, self.message, self.expected
        )
    }
}

impl std::error::Error for SetupError {}

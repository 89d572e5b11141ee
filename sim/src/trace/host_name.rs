//! [`HostName`]: the host of a trace record, shared rather than copied.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// The name of a host, shared by every record of that host (a trace has one per event, and an
/// allocation per record was a measurable part of a simulated request). Compares with `&str`
/// and `String`, prints and serialises as the plain name.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostName(Arc<str>);

impl HostName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The shared name itself.
    pub(crate) fn arc(&self) -> Arc<str> {
        self.0.clone()
    }
}

impl std::ops::Deref for HostName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for HostName {
    fn from(s: &str) -> Self {
        HostName(s.into())
    }
}

impl From<&String> for HostName {
    fn from(s: &String) -> Self {
        HostName(s.as_str().into())
    }
}

impl From<String> for HostName {
    fn from(s: String) -> Self {
        HostName(s.into())
    }
}

impl From<Arc<str>> for HostName {
    fn from(s: Arc<str>) -> Self {
        HostName(s)
    }
}

impl PartialEq<str> for HostName {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for HostName {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for HostName {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl fmt::Debug for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for HostName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

impl Serialize for HostName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for HostName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(HostName::from)
    }
}

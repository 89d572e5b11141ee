//! What most uses of httpsim need, in one import: `use httpsim::prelude::*;`.
//!
//! A setup and its parts, the run and its verdicts, the trace, faults. Everything else stays
//! under its module (`httpsim::net`, `httpsim::check`, ...).
//!
//! ```
//! use httpsim::prelude::*;
//!
//! let mut setup = Setup::default();
//! setup.workload.kind = WorkloadKind::Parallel;
//! setup.workload.requests = 10;
//! let run = setup.run()?;
//! assert_eq!(run.summary().requests.completed, 10);
//! assert!(run.check_all().iter().all(|v| v.passed));
//! # Ok::<(), SetupError>(())
//! ```

pub use crate::check::{Invariant, InvariantResult, Violation};
pub use crate::client::{BodyMode, ClientConfig, PoolConfig, Retry, Timeouts};
pub use crate::error::ErrorKind;
pub use crate::fault::{ConnFault, ConnFaultKind, Direction, FaultEntry, FaultKind};
pub use crate::server::{Handler, ServerConfig, ShutdownPlan, ShutdownStrategy};
pub use crate::setup::{Run, Setup, SetupError};
pub use crate::summary::Summary;
pub use crate::trace::{Event, Record};
pub use crate::workload::{Workload, WorkloadKind};
pub use crate::world::{NetAction, RunEnd, WorldBuilder};

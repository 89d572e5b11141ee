//! Per-host file-descriptor table.
//!
//! The simulated kernel has no limit on file descriptors, yet running out of them is one of the most common
//! ways an HTTP client dies in production. Every simulated socket takes one [`Fd`] from its host's
//! [`FdTable`] before it exists and gives it back when it is really closed (dropped). A host with a
//! limit refuses the fd beyond it with the same error Linux gives: `EMFILE`, "Too many open files
//! (os error 24)".
//!
//! The table also remembers the peak number of fds in use, which is what the fd-limit checks and
//! reports look at.

use std::io;
use std::sync::{Arc, Mutex};

pub use crate::error::{emfile, is_emfile, EMFILE};

#[derive(Debug)]
struct Table {
    limit: Option<usize>,
    in_use: usize,
    peak: usize,
    emfiles: u64,
}

/// The fd table of one host. Cheap to clone; clones share the table.
#[derive(Clone, Debug)]
pub struct FdTable {
    inner: Arc<Mutex<Table>>,
}

impl FdTable {
    /// A table with at most `limit` fds (`None`: unlimited), `baseline` of which are already in use
    /// (stdio, log files, ...) and never released.
    ///
    /// # Panics
    /// If `baseline` is not below `limit`; scenario validation rejects that case with a clear error
    /// before it gets here.
    pub fn new(limit: Option<usize>, baseline: usize) -> Self {
        if let Some(l) = limit {
            assert!(
                baseline < l,
                "fd baseline {baseline} must be below the limit {l}"
            );
        }
        Self {
            inner: Arc::new(Mutex::new(Table {
                limit,
                in_use: baseline,
                peak: baseline,
                emfiles: 0,
            })),
        }
    }

    /// Takes one fd, or fails with EMFILE when the table is full.
    pub fn acquire(&self) -> io::Result<Fd> {
        let mut t = self.inner.lock().unwrap();
        if t.limit.is_some_and(|l| t.in_use >= l) {
            t.emfiles += 1;
            return Err(emfile());
        }
        t.in_use += 1;
        t.peak = t.peak.max(t.in_use);
        Ok(Fd {
            table: self.clone(),
        })
    }

    /// Fds in use now (including the baseline).
    pub fn in_use(&self) -> usize {
        self.inner.lock().unwrap().in_use
    }

    /// The most fds ever in use at once (including the baseline).
    pub fn peak(&self) -> usize {
        self.inner.lock().unwrap().peak
    }

    /// The limit, if any.
    pub fn limit(&self) -> Option<usize> {
        self.inner.lock().unwrap().limit
    }

    /// How many acquisitions failed with EMFILE.
    pub fn emfile_count(&self) -> u64 {
        self.inner.lock().unwrap().emfiles
    }

    fn release(&self) {
        let mut t = self.inner.lock().unwrap();
        t.in_use -= 1;
    }
}

/// One open file descriptor; released when dropped.
#[derive(Debug)]
pub struct Fd {
    table: FdTable,
}

impl Drop for Fd {
    fn drop(&mut self) {
        self.table.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_gives_emfile_and_release_frees() {
        let t = FdTable::new(Some(3), 1);
        let a = t.acquire().unwrap();
        let _b = t.acquire().unwrap();
        let e = t.acquire().unwrap_err();
        assert!(is_emfile(&e));
        assert_eq!(e.to_string(), "Too many open files (os error 24)");
        assert_eq!(t.peak(), 3);
        drop(a);
        assert_eq!(t.in_use(), 2);
        t.acquire().unwrap();
        assert_eq!(t.emfile_count(), 1);
    }
}

//! [`IdSet`]: a set of request (or connection) ids, which are small and dense.
//!
//! The summary and the checks keep sets of ids that change with almost every record (the
//! requests started, the requests pending); a tree insert and remove per request was most of
//! what a pass over a trace cost. Here an id up to a bound is a flag in a vector and an id above
//! it goes to a tree, so membership costs a few instructions and the set still lists its ids in
//! order. Listing costs a look at every flag up to the highest id: callers list rarely (a
//! violation, the end of a run), not per record.

use std::collections::BTreeSet;

/// A set of ids: a flag per id up to a bound, a tree above it.
#[derive(Clone, Debug, Default)]
pub(crate) struct IdSet {
    flags: Vec<bool>,
    bound: u64,
    above: BTreeSet<u64>,
    len: usize,
}

impl IdSet {
    /// A set with flags for ids up to `bound` (capped at 2^20), grown as they are used. A
    /// trace's length bounds the ids it names.
    pub(crate) fn new(bound: usize) -> Self {
        Self {
            flags: Vec::new(),
            bound: bound.min(1 << 20) as u64,
            above: BTreeSet::new(),
            len: 0,
        }
    }

    /// Adds `id`; whether it was new.
    pub(crate) fn insert(&mut self, id: u64) -> bool {
        let new = if id > self.bound {
            self.above.insert(id)
        } else {
            let i = id as usize;
            if i >= self.flags.len() {
                // Ids come one more at a time: grow by doubling (up to the bound), not by one.
                let len = (i + 1)
                    .max(self.flags.len() * 2)
                    .min(self.bound as usize + 1);
                self.flags.resize(len, false);
            }
            !std::mem::replace(&mut self.flags[i], true)
        };
        self.len += usize::from(new);
        new
    }

    /// Removes `id`; whether it was there.
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        let was = if id > self.bound {
            self.above.remove(&id)
        } else {
            self.flags
                .get_mut(id as usize)
                .is_some_and(|f| std::mem::replace(f, false))
        };
        self.len -= usize::from(was);
        was
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids, in increasing order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        let mut left = self.len - self.above.len();
        self.flags
            .iter()
            .enumerate()
            // Stops at the last flag set, not at the end of the vector.
            .take_while(move |(_, set)| {
                let more = left > 0;
                left -= usize::from(**set && more);
                more
            })
            .filter(|(_, set)| **set)
            .map(|(i, _)| i as u64)
            .chain(self.above.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::IdSet;

    #[test]
    fn lists_its_ids_in_order_whether_flagged_or_above_the_bound() {
        let mut set = IdSet::new(10);
        assert!(set.is_empty());
        for id in [7, 3, 12, 3, 0, 11] {
            set.insert(id);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 3, 7, 11, 12]);
        assert!(set.remove(3));
        assert!(!set.remove(3));
        assert!(set.remove(12));
        assert!(!set.remove(99));
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 7, 11]);
        for id in [0, 7, 11] {
            set.remove(id);
        }
        assert!(set.is_empty());
        assert_eq!(set.iter().count(), 0);
    }
}

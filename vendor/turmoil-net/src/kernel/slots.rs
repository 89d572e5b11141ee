//! httpsim patch: the socket table's store, indexed by fd number.
//!
//! Fds are handed out in increasing order and never reused, so the
//! live ones lie in a window `base..base + len` of numbers: a queue of
//! slots over that window finds a socket by subtraction, where the
//! `BTreeMap` it replaces searched a tree on every lookup (a dozen per
//! segment sent or delivered). Iteration stays in fd order, which was
//! the map's (and upstream's insertion) order. Sockets are boxed, so a
//! hole left by a closed socket costs one pointer until the slots
//! before it are gone too and the window moves past it.

use std::collections::VecDeque;

/// Values keyed by consecutive, increasing numbers.
#[derive(Debug)]
pub struct Slots<T> {
    /// The number of `slots[0]`.
    base: u64,
    slots: VecDeque<Option<Box<T>>>,
}

impl<T> Slots<T> {
    /// An empty store whose first key will be `first`.
    pub fn new(first: u64) -> Self {
        Self {
            base: first,
            slots: VecDeque::new(),
        }
    }

    /// Stores `value` under `key`, which must be above every key stored
    /// so far.
    pub fn insert(&mut self, key: u64, value: T) {
        if self.slots.is_empty() {
            self.base = key;
        }
        let at = (key - self.base) as usize;
        debug_assert!(at >= self.slots.len(), "keys increase");
        self.slots.resize_with(at, || None);
        self.slots.push_back(Some(Box::new(value)));
    }

    fn index(&self, key: u64) -> Option<usize> {
        key.checked_sub(self.base).map(|i| i as usize)
    }

    pub fn get(&self, key: u64) -> Option<&T> {
        self.slots.get(self.index(key)?)?.as_deref()
    }

    pub fn get_mut(&mut self, key: u64) -> Option<&mut T> {
        let i = self.index(key)?;
        self.slots.get_mut(i)?.as_deref_mut()
    }

    /// Removes `key`'s value; the window then shrinks past any empty
    /// slots at either end.
    pub fn remove(&mut self, key: u64) -> Option<T> {
        let i = self.index(key)?;
        let value = self.slots.get_mut(i)?.take()?;
        while matches!(self.slots.front(), Some(None)) {
            self.slots.pop_front();
            self.base += 1;
        }
        while matches!(self.slots.back(), Some(None)) {
            self.slots.pop_back();
        }
        Some(*value)
    }

    /// `(key, value)` in increasing key order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &T)> {
        let base = self.base;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| s.as_deref().map(|v| (base + i as u64, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::Slots;

    #[test]
    fn lookups_iteration_and_removal_follow_the_keys() {
        let mut s = Slots::new(1);
        for k in 1..=5 {
            s.insert(k, k * 10);
        }
        assert_eq!(s.get(3), Some(&30));
        assert_eq!(s.remove(3), Some(30));
        assert_eq!(s.get(3), None);
        assert_eq!(s.remove(3), None);
        assert_eq!(s.remove(1), Some(10));
        *s.get_mut(2).unwrap() += 1;
        assert_eq!(s.iter().collect::<Vec<_>>(), [(2, &21), (4, &40), (5, &50)]);
        assert_eq!((s.base, s.slots.len()), (2, 4));
        assert_eq!(s.remove(5), Some(50));
        assert_eq!(s.slots.len(), 3);
        assert_eq!((s.get(0), s.get(1), s.get(99)), (None, None, None));
        s.remove(2);
        s.remove(4);
        assert!(s.slots.is_empty());
        s.insert(9, 90);
        assert_eq!(s.iter().collect::<Vec<_>>(), [(9, &90)]);
    }
}

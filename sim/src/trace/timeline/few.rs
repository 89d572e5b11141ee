//! [`Few`]: the list a request's facts keep of its attempts, heads, deliveries: almost always
//! none or one.
//!
//! A `Vec` for each of them cost an allocation (and a free) per list per request, most of what
//! indexing a trace cost. `Few` keeps one item inline and moves to the heap only at the second.
//! It reads as a slice (`first`, `last`, `iter`, `len`, indexing) and prints like a `Vec`.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// A list of items that is nearly always empty or of one: that one is kept inline.
#[derive(Clone)]
pub struct Few<T>(Repr<T>);

#[derive(Clone)]
enum Repr<T> {
    /// No item or one, inline.
    Inline(Option<T>),
    /// Two or more (or once two or more), on the heap.
    Heap(Vec<T>),
}

impl<T> Few<T> {
    /// An empty list.
    pub const fn new() -> Self {
        Few(Repr::Inline(None))
    }

    /// Appends `item`.
    pub fn push(&mut self, item: T) {
        match &mut self.0 {
            Repr::Inline(slot @ None) => *slot = Some(item),
            Repr::Inline(slot) => {
                let first = slot.take().expect("an inline item");
                self.0 = Repr::Heap(vec![first, item]);
            }
            Repr::Heap(items) => items.push(item),
        }
    }
}

impl<T> Default for Few<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Deref for Few<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.0 {
            Repr::Inline(item) => item.as_slice(),
            Repr::Heap(items) => items,
        }
    }
}

impl<T> DerefMut for Few<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.0 {
            Repr::Inline(item) => item.as_mut_slice(),
            Repr::Heap(items) => items,
        }
    }
}

impl<'a, T> IntoIterator for &'a Few<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<T> From<Vec<T>> for Few<T> {
    fn from(items: Vec<T>) -> Self {
        Few(Repr::Heap(items))
    }
}

/// Equal when the items are, however they are kept.
impl<T: PartialEq> PartialEq for Few<T> {
    fn eq(&self, other: &Self) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for Few<T> {}

impl<T: fmt::Debug> fmt::Debug for Few<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Few;

    #[test]
    fn reads_as_the_slice_of_what_was_pushed() {
        let mut few = Few::new();
        assert!(few.is_empty());
        few.push(1);
        assert_eq!(&*few, &[1]);
        few.push(2);
        few.push(3);
        assert_eq!(&*few, &[1, 2, 3]);
        few[0] = 7;
        assert_eq!(few.first(), Some(&7));
        assert_eq!(format!("{few:?}"), "[7, 2, 3]");
        assert_eq!(Few::from(vec![5]), {
            let mut one = Few::new();
            one.push(5);
            one
        });
    }
}

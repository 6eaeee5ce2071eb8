//! A bounded map from [`LimitKey`] to a core's bucket, in least-recently-used order.
//!
//! Entries live in a slab (`Vec`) linked into a doubly linked list by index; a hash map
//! finds a key's index. Touching, inserting and removing are O(1); the oldest entry is
//! the list's tail. Keys are already SipHash outputs under a secret key, so the map
//! hashes them with the identity instead of hashing them again.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::key::LimitKey;

const NIL: u32 = u32::MAX;

#[derive(Debug)]
struct Node<V> {
    key: LimitKey,
    value: V,
    prev: u32,
    next: u32,
}

#[derive(Debug)]
pub(crate) struct LruMap<V> {
    index: HashMap<LimitKey, u32, BuildHasherDefault<KeyIdentity>>,
    nodes: Vec<Option<Node<V>>>,
    free: Vec<u32>,
    /// Most recently used.
    head: u32,
    /// Least recently used.
    tail: u32,
}

impl<V> LruMap<V> {
    pub fn new() -> LruMap<V> {
        LruMap {
            index: HashMap::default(),
            nodes: Vec::new(),
            free: Vec::new(),
            head: NIL,
            tail: NIL,
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    fn node(&mut self, i: u32) -> &mut Node<V> {
        // Invariant: every index in `index`, the list and `free`-complement points at a
        // `Some` slot; only `remove` empties a slot, after unlinking it.
        self.nodes[i as usize]
            .as_mut()
            .expect("linked LRU slot is live")
    }

    fn unlink(&mut self, i: u32) {
        let (prev, next) = {
            let n = self.node(i);
            (n.prev, n.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.node(p).next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.node(n).prev = prev,
        }
    }

    fn push_front(&mut self, i: u32) {
        let old = self.head;
        {
            let n = self.node(i);
            n.prev = NIL;
            n.next = old;
        }
        match old {
            NIL => self.tail = i,
            o => self.node(o).prev = i,
        }
        self.head = i;
    }

    /// The entry for `key`, marked most recently used.
    pub fn contains(&self, key: LimitKey) -> bool {
        self.index.contains_key(&key)
    }

    pub fn get_touch(&mut self, key: LimitKey) -> Option<&mut V> {
        let i = *self.index.get(&key)?;
        if self.head != i {
            self.unlink(i);
            self.push_front(i);
        }
        Some(&mut self.node(i).value)
    }

    /// The entry for `key`, order unchanged.
    pub fn get_mut(&mut self, key: LimitKey) -> Option<&mut V> {
        let i = *self.index.get(&key)?;
        Some(&mut self.node(i).value)
    }

    /// Inserts a key that is not in the map, as most recently used.
    pub fn insert(&mut self, key: LimitKey, value: V) -> &mut V {
        debug_assert!(!self.index.contains_key(&key));
        let node = Some(Node {
            key,
            value,
            prev: NIL,
            next: NIL,
        });
        let i = match self.free.pop() {
            Some(i) => {
                self.nodes[i as usize] = node;
                i
            }
            None => {
                self.nodes.push(node);
                u32::try_from(self.nodes.len() - 1).expect("fewer than 2^32 keys per core")
            }
        };
        self.index.insert(key, i);
        self.push_front(i);
        &mut self.node(i).value
    }

    /// The least recently used entry.
    pub fn oldest(&mut self) -> Option<(LimitKey, &mut V)> {
        match self.tail {
            NIL => None,
            t => {
                let n = self.node(t);
                Some((n.key, &mut n.value))
            }
        }
    }

    pub fn remove(&mut self, key: LimitKey) -> Option<V> {
        let i = self.index.remove(&key)?;
        self.unlink(i);
        self.free.push(i);
        self.nodes[i as usize].take().map(|n| n.value)
    }
}

/// Passes a [`LimitKey`]'s hash through.
#[derive(Debug, Default)]
pub(crate) struct KeyIdentity(u64);

impl Hasher for KeyIdentity {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used by `LimitKey`'s derived `Hash`; fold anything else.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_lru_order_through_touch_insert_remove() {
        let mut m = LruMap::new();
        for k in 1..=4 {
            m.insert(LimitKey(k), k * 10);
        }
        assert_eq!(m.oldest().map(|(k, _)| k), Some(LimitKey(1)));
        assert_eq!(m.get_touch(LimitKey(1)).copied(), Some(10));
        assert_eq!(m.oldest().map(|(k, _)| k), Some(LimitKey(2)));
        assert_eq!(m.remove(LimitKey(2)), Some(20));
        assert_eq!(m.oldest().map(|(k, _)| k), Some(LimitKey(3)));
        m.insert(LimitKey(5), 50);
        assert_eq!(m.len(), 4);
        for want in [3, 4, 1, 5] {
            let (k, _) = m.oldest().unwrap();
            assert_eq!(k, LimitKey(want));
            m.remove(k);
        }
        assert!(m.oldest().is_none());
        assert_eq!(m.len(), 0);
        // Slots are reused.
        m.insert(LimitKey(9), 90);
        assert!(m.nodes.len() <= 4);
    }
}

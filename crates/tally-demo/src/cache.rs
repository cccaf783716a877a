//! The result cache: a bounded map from (model, input) to a result, evicting a random
//! entry when full. The service keeps it behind a `tally_sync::MonitoredMutex`, so its
//! lock's acquisitions, contention and wait and hold times are metrics too.

use std::collections::HashMap;

/// A bounded map with random eviction, O(1) per operation.
#[derive(Debug)]
pub struct Cache {
    capacity: usize,
    /// Key → (result, index of the key in `keys`).
    map: HashMap<u64, (u64, usize)>,
    /// The keys present, for picking a victim in O(1).
    keys: Vec<u64>,
}

impl Cache {
    /// An empty cache of `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        Cache {
            capacity,
            map: HashMap::with_capacity(capacity),
            keys: Vec::with_capacity(capacity),
        }
    }

    /// The cached result of `key`.
    pub fn get(&self, key: u64) -> Option<u64> {
        self.map.get(&key).map(|&(value, _)| value)
    }

    /// Caches `value` under `key`; when full, evicts the entry at `victim % len` first.
    /// Whether the cache grew (it did not if `key` was there or an entry was evicted).
    pub fn insert(&mut self, key: u64, value: u64, victim: u64) -> bool {
        if let Some(entry) = self.map.get_mut(&key) {
            entry.0 = value;
            return false;
        }
        let grew = self.keys.len() < self.capacity;
        if self.keys.len() == self.capacity {
            let i = (victim % self.keys.len() as u64) as usize;
            let evicted = self.keys.swap_remove(i);
            self.map.remove(&evicted);
            if let Some(&moved) = self.keys.get(i)
                && let Some(entry) = self.map.get_mut(&moved)
            {
                entry.1 = i;
            }
        }
        self.map.insert(key, (value, self.keys.len()));
        self.keys.push(key);
        grew
    }

    /// Entries held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_at_most_its_capacity_and_keeps_index_consistent() {
        let mut cache = Cache::new(8);
        for k in 0..1000u64 {
            cache.insert(k % 37, k, k.wrapping_mul(2_654_435_761));
            assert!(cache.len() <= 8);
            assert_eq!(cache.map.len(), cache.keys.len());
            for (i, key) in cache.keys.iter().enumerate() {
                assert_eq!(cache.map[key].1, i);
            }
            assert_eq!(cache.get(k % 37), Some(k));
        }
    }
}

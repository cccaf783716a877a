//! The family's label → series table: write-once slots, open addressing, replaced whole
//! (never edited in place) when it grows or loses series. See the `# Orderings` section of
//! the family module for how it is published.

use std::hash::{Hash, Hasher};
use std::sync::{Arc, OnceLock};

/// The owned key of a series: its label values, each as its byte length (a native-endian
/// `usize`) then its bytes, in one allocation, shared by the tables a family outgrows. One
/// allocation rather than a box per value: a lookup of a series not in cache then waits for
/// one miss fewer (`family_with/spread` in `benches/benches/family.rs`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key(Arc<[u8]>);

/// The bytes of a value's length in a [`Key`].
const LEN: usize = size_of::<usize>();

impl Key {
    pub(super) fn new(values: &[&str]) -> Self {
        let mut bytes = Vec::with_capacity(values.iter().map(|v| LEN + v.len()).sum());
        for v in values {
            bytes.extend_from_slice(&v.len().to_ne_bytes());
            bytes.extend_from_slice(v.as_bytes());
        }
        Key(bytes.into())
    }

    /// The label values, in order (as given to [`Key::new`]).
    pub(super) fn values(&self) -> impl Iterator<Item = &str> {
        let mut rest = &self.0[..];
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<LEN>()?;
            let (value, tail) = tail.split_at(usize::from_ne_bytes(*len));
            rest = tail;
            Some(std::str::from_utf8(value).expect("written from a str"))
        })
    }

    /// The label values, owned.
    pub(super) fn to_labels(&self) -> Vec<String> {
        self.values().map(str::to_owned).collect()
    }
}

/// A borrowed key, for lookups without allocating. Only a `Lookup` is ever hashed for the
/// table: a `Slot` keeps the hash of the values it was created for.
pub(super) struct Lookup<'a>(pub(super) &'a [&'a str]);

impl Hash for Lookup<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for v in self.0 {
            // `str`'s Hash writes the bytes and a terminator, so ["ab", "c"] != ["a", "bc"].
            v.hash(state);
        }
    }
}

impl Lookup<'_> {
    /// Whether `key` holds exactly these values (lengths compared first, so `["ab", "c"]`
    /// never matches `["a", "bc"]`).
    pub(super) fn matches(&self, key: &Key) -> bool {
        let bytes = &key.0[..];
        let mut at = 0;
        for v in self.0 {
            let start = at + LEN;
            let end = start + v.len();
            if bytes.get(at..start) != Some(&v.len().to_ne_bytes()[..]) {
                return false;
            }
            if bytes.get(start..end) != Some(v.as_bytes()) {
                return false;
            }
            at = end;
        }
        at == bytes.len()
    }
}

/// A series in the [`Table`]: the hash of its label values (a probe past another series
/// compares hashes first), its label values and its set.
pub(super) struct Slot<S> {
    pub(super) hash: u64,
    pub(super) key: Key,
    pub(super) set: Arc<S>,
}

impl<S> Clone for Slot<S> {
    fn clone(&self) -> Self {
        Slot { hash: self.hash, key: self.key.clone(), set: Arc::clone(&self.set) }
    }
}

/// An open-addressing table (linear probing) of write-once slots.
///
/// Invariants, kept by the one writer, the holder of the family's writer mutex:
/// - the length is a power of two and at most half the slots are set, so that every probe
///   reaches an empty slot and ends;
/// - a slot, once set, is never cleared or changed, so that a series' probe sequence from its
///   hash to its slot is all set slots for as long as the table lives.
///
/// A table whose next series would make it more than half full is copied into one twice its
/// size, which replaces it (a slot's copy shares its key and set: two reference counts, no
/// allocation): each doubling copies as many series as were added since the last one, so a
/// new series costs amortised O(1). Removing series builds a new table of the others
/// ([`Table::rebuilt`]) rather than leaving tombstones: lookups stay exactly as they were
/// (no tombstone to probe past), and removal, which is rare, pays one copy.
pub(super) struct Table<S> {
    slots: Box<[OnceLock<Slot<S>>]>,
}

impl<S> Table<S> {
    /// The length of a new family's table.
    pub(super) const FIRST_LEN: usize = 8;

    pub(super) fn with_len(len: usize) -> Self {
        debug_assert!(len.is_power_of_two());
        Table { slots: (0..len).map(|_| OnceLock::new()).collect() }
    }

    /// A table holding exactly `series` (`count` of them), of this table's length (doubled
    /// as long as they would fill more than half of it), or a quarter of it while they would
    /// fill less than an eighth (a family that lost most of its series does not keep, and
    /// scan, a table sized for its peak).
    pub(super) fn rebuilt(&self, count: usize, series: impl IntoIterator<Item = Slot<S>>) -> Self {
        let mut len = self.slots.len();
        while len > Self::FIRST_LEN && count * 8 < len {
            len /= 4;
        }
        let mut len = len.max(Self::FIRST_LEN);
        while count * 2 > len {
            len *= 2;
        }
        let next = Table::with_len(len);
        for slot in series {
            debug_assert!(next.has_room_for_one_more(count - 1));
            next.place(slot);
        }
        next
    }

    /// The series of `values`, whose hash is `hash`, if this table has it.
    #[inline]
    pub(super) fn find(&self, hash: u64, values: &[&str]) -> Option<&Arc<S>> {
        let mask = self.slots.len() - 1;
        let mut i = hash as usize & mask;
        loop {
            // An empty slot ends the probe: the values have no series here.
            let slot = self.slots[i].get()?;
            if slot.hash == hash && Lookup(values).matches(&slot.key) {
                return Some(&slot.set);
            }
            i = (i + 1) & mask;
        }
    }

    /// Whether one more series keeps the table at most half full.
    pub(super) fn has_room_for_one_more(&self, len: usize) -> bool {
        (len + 1) * 2 <= self.slots.len()
    }

    /// Sets the first empty slot of `slot`'s probe sequence. Only the holder of the writer
    /// mutex calls it, on a table with room (so that no other thread sets a slot meanwhile).
    pub(super) fn place(&self, slot: Slot<S>) {
        let mask = self.slots.len() - 1;
        let mut i = slot.hash as usize & mask;
        while self.slots[i].get().is_some() {
            i = (i + 1) & mask;
        }
        let placed = self.slots[i].set(slot);
        debug_assert!(placed.is_ok(), "one writer: the slot found empty is still empty");
    }

    /// A copy twice the size, with every series of this one.
    pub(super) fn grown(&self) -> Self {
        let next = Table::with_len(self.slots.len() * 2);
        for slot in self.series() {
            next.place(slot.clone());
        }
        next
    }

    /// The series, in slot order.
    pub(super) fn series(&self) -> impl Iterator<Item = &Slot<S>> {
        self.slots.iter().filter_map(OnceLock::get)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::{Key, Lookup, Slot, Table};

    #[test]
    fn a_key_gives_back_its_values_and_matches_exactly_them() {
        let cases: &[&[&str]] = &[
            &[],
            &[""],
            &["", ""],
            &["ab", "c"],
            &["a", "bc"],
            &["abc"],
            &["ünïcödé ✓", "new\nline", "\u{0}"],
            &["model-001", "gpu12"],
        ];
        for (i, values) in cases.iter().enumerate() {
            let key = Key::new(values);
            assert_eq!(key.values().collect::<Vec<_>>(), *values);
            for (j, other) in cases.iter().enumerate() {
                assert_eq!(Lookup(other).matches(&key), i == j, "{other:?} against {values:?}");
            }
        }
    }

    #[test]
    fn a_rebuilt_table_finds_what_it_kept_and_shrinks_when_mostly_empty() {
        let slot = |i: u64| {
            let v = i.to_string();
            Slot {
                hash: i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
                key: Key::new(&[&v]),
                set: Arc::new(i),
            }
        };
        let mut table = Table::with_len(Table::<u64>::FIRST_LEN);
        for i in 0..1_000u64 {
            if !table.has_room_for_one_more(i as usize) {
                table = table.grown();
            }
            table.place(slot(i));
        }
        assert_eq!(table.slots.len(), 2048);
        let kept: Vec<_> = table.series().filter(|s| *s.set % 100 == 0).cloned().collect();
        let small = table.rebuilt(kept.len(), kept);
        assert_eq!(small.series().count(), 10);
        assert!(small.slots.len() < 2048 && small.slots.len() >= 20, "{}", small.slots.len());
        for i in 0..1_000u64 {
            let s = slot(i);
            let found = small.find(s.hash, &[&i.to_string()]).map(|set| **set);
            assert_eq!(found, (i % 100 == 0).then_some(i), "{i}");
        }
    }
}

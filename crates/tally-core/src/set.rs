//! A metric set of any layout: recording and collection.

use tally_snapshot::{FieldKind, SetSnapshot, Value};

use crate::event::Event;
use crate::latch::{Opened, mask_bit};
use crate::layout::Layout;
use crate::slot::with_thread_slot;
use crate::table::ShardTable;

/// A metric set whose fields are described at run time by a [`Layout`].
///
/// Sets declared with [`metric_set!`](crate::metric_set) wrap one and give it typed
/// methods; use `RawSet` directly for sets built at run time.
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, Layout, RawSet, Value};
///
/// let set = RawSet::new(
///     Layout::new(vec![
///         FieldDesc::new("total", FieldKind::Counter, ""),
///         FieldDesc::new("ok", FieldKind::Counter, ""),
///     ])
///     .unwrap(),
/// );
/// let (total, ok) = (set.field("total").unwrap(), set.field("ok").unwrap());
/// set.record(|e| {
///     e.add_counter(total, 1);
///     e.add_counter(ok, 1);
/// });
/// assert_eq!(set.snapshot().get("ok"), Some(Value::Counter(1)));
/// ```
#[derive(Debug)]
pub struct RawSet {
    layout: Layout,
    table: ShardTable,
}

/// A field of a [`RawSet`], checked against its layout by [`RawSet::field`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldId {
    word: usize,
    kind: FieldKind,
}

impl RawSet {
    /// An empty set (all fields zero) of this layout.
    pub fn new(layout: Layout) -> Self {
        let table = ShardTable::new(layout.width());
        RawSet { layout, table }
    }

    /// The set's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<FieldId> {
        let index = self.layout.index_of(name)?;
        Some(FieldId { word: self.layout.offset(index), kind: self.layout.fields()[index].kind })
    }

    /// Records one event: every update `f` makes through its [`Event`] is in a snapshot
    /// whole or not at all. If `f` panics, its updates are rolled back and the set stays
    /// usable. A record nested inside `f` on the same set joins this event.
    #[inline(always)]
    pub fn record<R>(&self, f: impl FnOnce(&Event<'_>) -> R) -> R {
        with_thread_slot(|slot| Event::run(self.table.get_or_create(slot), f))
    }

    /// One single-word update as its own event (the fast path of a lone `inc`).
    #[inline(always)]
    pub(crate) fn add_one(&self, word: usize, delta: u64) {
        debug_assert!(word < self.layout.width());
        with_thread_slot(|slot| {
            let shard = self.table.get_or_create(slot);
            match shard.begin() {
                Opened::New(s) => {
                    let v = shard.add0(word, delta);
                    shard.flip(s);
                    shard.set1(word, v);
                }
                Opened::Joined => {
                    shard.add0(word, delta);
                    shard.note_nested(mask_bit(word));
                }
            }
        })
    }

    /// Sums every shard into one copy of the set's words (counters and gauges added,
    /// last-value gauges by newest stamp). Never waits for a writer.
    pub fn collect_words(&self) -> Vec<u64> {
        let width = self.layout.width();
        let mut total = vec![0u64; width];
        let mut buf = vec![0u64; width];
        self.table.for_each(|shard| {
            shard.read(&mut buf);
            for (i, field) in self.layout.fields().iter().enumerate() {
                let off = self.layout.offset(i);
                match field.kind {
                    FieldKind::Counter | FieldKind::Gauge => {
                        total[off] = total[off].wrapping_add(buf[off]);
                    }
                    FieldKind::LastValue => {
                        let newer =
                            (buf[off + 1], buf[off] as i64) > (total[off + 1], total[off] as i64);
                        if newer {
                            total[off] = buf[off];
                            total[off + 1] = buf[off + 1];
                        }
                    }
                }
            }
        });
        total
    }

    /// A coherent snapshot of the whole set, typed at run time.
    pub fn snapshot(&self) -> SetSnapshot {
        let words = self.collect_words();
        let values = self
            .layout
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let off = self.layout.offset(i);
                match f.kind {
                    FieldKind::Counter => Value::Counter(words[off]),
                    FieldKind::Gauge => Value::Gauge(words[off] as i64),
                    FieldKind::LastValue => Value::LastValue(tally_snapshot::Last {
                        value: words[off] as i64,
                        stamp_ns: words[off + 1],
                    }),
                }
            })
            .collect();
        SetSnapshot::new(self.layout.fields().to_vec(), values)
            .expect("a layout's values match its fields")
    }

    /// How many shards this set has: one per thread slot that recorded into it, bounded
    /// by the peak number of threads recording at once.
    pub fn shard_count(&self) -> usize {
        let mut n = 0;
        self.table.for_each(|_| n += 1);
        n
    }
}

impl Event<'_> {
    /// Adds `n` to a counter field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a counter.
    #[inline]
    pub fn add_counter(&self, field: FieldId, n: u64) {
        assert_eq!(field.kind, FieldKind::Counter, "add_counter on a {:?} field", field.kind);
        self.add(field.word, n);
    }

    /// Adds `n` (possibly negative) to a gauge field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a gauge.
    #[inline]
    pub fn add_gauge(&self, field: FieldId, n: i64) {
        assert_eq!(field.kind, FieldKind::Gauge, "add_gauge on a {:?} field", field.kind);
        self.add(field.word, n as u64);
    }

    /// Sets a last-value field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a last-value gauge.
    #[inline]
    pub fn set_last(&self, field: FieldId, value: i64) {
        assert_eq!(field.kind, FieldKind::LastValue, "set_last on a {:?} field", field.kind);
        self.set(field.word, value as u64);
        self.set(field.word + 1, crate::clock::stamp_ns());
    }
}

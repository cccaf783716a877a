//! A metric set of any layout: recording and collection.

use tally_snapshot::{FieldKind, HistogramConfig, HistogramSnapshot, Last, SetSnapshot, Value};

use crate::event::Event;
use crate::latch::{Opened, mask_bit};
use crate::layout::{Layout, PAGE_BUCKETS};
use crate::slot::with_thread_slot;
use crate::table::ShardTable;

/// A metric set whose fields are described at run time by a [`Layout`].
///
/// Sets declared with [`metric_set!`](crate::metric_set) wrap one and give it typed
/// methods; use `RawSet` directly for sets built at run time.
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, HistogramConfig, Layout, RawSet, Value};
///
/// let set = RawSet::new(
///     Layout::new(vec![
///         FieldDesc::new("total", FieldKind::Counter, ""),
///         FieldDesc::new("ok", FieldKind::Counter, ""),
///         FieldDesc::new("latency_ns", FieldKind::Histogram(HistogramConfig::DEFAULT), ""),
///     ])
///     .unwrap(),
/// );
/// let total = set.field("total").unwrap();
/// let ok = set.field("ok").unwrap();
/// let latency = set.field("latency_ns").unwrap();
/// set.record(|e| {
///     e.add_counter(total, 1);
///     e.add_counter(ok, 1);
///     e.observe(latency, 1_500);
/// });
/// let snap = set.snapshot();
/// assert_eq!(snap.get("ok"), Some(&Value::Counter(1)));
/// match snap.get("latency_ns") {
///     Some(Value::Histogram(h)) => assert_eq!(h.count(), 1),
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Debug)]
pub struct RawSet {
    layout: Layout,
    table: ShardTable,
}

/// A field of a [`RawSet`]: where it lives in a shard, and its kind. Obtained from
/// [`RawSet::field`] (checked against the layout) or built by `metric_set!`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldId {
    word: usize,
    page_base: usize,
    kind: FieldKind,
}

impl FieldId {
    /// Field `index` of a set whose fields have `kinds`, in order. For `metric_set!`.
    #[doc(hidden)]
    pub const fn __of(kinds: &[FieldKind], index: usize) -> FieldId {
        let (mut word, mut page_base, mut i) = (0, 0, 0);
        while i < index {
            word += crate::layout::words_of(kinds[i]);
            page_base += crate::layout::pages_of(kinds[i]);
            i += 1;
        }
        FieldId { word, page_base, kind: kinds[index] }
    }

    /// The field's kind.
    pub const fn kind(&self) -> FieldKind {
        self.kind
    }

    pub(crate) const fn word(&self) -> usize {
        self.word
    }

    pub(crate) const fn page_base(&self) -> usize {
        self.page_base
    }
}

impl RawSet {
    /// An empty set (all fields zero) of this layout.
    pub fn new(layout: Layout) -> Self {
        let table = ShardTable::new(layout.width(), layout.pages());
        RawSet { layout, table }
    }

    /// The set's layout.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<FieldId> {
        let index = self.layout.index_of(name)?;
        Some(FieldId {
            word: self.layout.offset(index),
            page_base: self.layout.page_base(index),
            kind: self.layout.fields()[index].kind,
        })
    }

    /// Records one event: every update `f` makes through its [`Event`] is in a snapshot
    /// whole or not at all. If `f` panics, its updates are rolled back and the set stays
    /// usable.
    ///
    /// A record nested inside `f` on the same set and thread joins this event: its updates
    /// commit or roll back with the outer event. (If a nested record panics and `f` catches
    /// that panic, the nested record's updates made before the panic stay in the outer
    /// event, which then commits.)
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
                    shard.note_nested(crate::latch::Touched {
                        words: mask_bit(word),
                        ..Default::default()
                    });
                }
            }
        })
    }

    /// Collects every shard into one value per field (counters, gauges and histograms
    /// summed, last-value gauges by newest stamp), in layout order. Never waits for a
    /// writer.
    pub fn collect_values(&self) -> Vec<Value> {
        let layout = &self.layout;
        let width = layout.width();
        let mut total = vec![0u64; width];
        // Histogram sums are u128; kept apart from the u64 words.
        let mut sums = vec![0u128; layout.fields().len()];
        // Grown to the highest page any shard has allocated: most sets have few pages in use.
        let mut buckets: Vec<u64> = Vec::new();
        let mut buf = vec![0u64; width];
        let (mut page_ids, mut page_words) = (Vec::new(), Vec::new());
        self.table.for_each(|shard| {
            shard.read(&mut buf, &mut page_ids, &mut page_words);
            for (i, field) in layout.fields().iter().enumerate() {
                let off = layout.offset(i);
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
                    FieldKind::Histogram(_) => {
                        total[off] = total[off].wrapping_add(buf[off]);
                        let sum = (u128::from(buf[off + 2]) << 64) | u128::from(buf[off + 1]);
                        sums[i] = sums[i].wrapping_add(sum);
                        total[off + 3] = total[off + 3].max(buf[off + 3]);
                        total[off + 4] = total[off + 4].max(buf[off + 4]);
                        total[off + 5] = total[off + 5].wrapping_add(buf[off + 5]);
                    }
                }
            }
            for (p, words) in page_ids.iter().zip(page_words.chunks_exact(PAGE_BUCKETS)) {
                if buckets.len() < (p + 1) * PAGE_BUCKETS {
                    buckets.resize((p + 1) * PAGE_BUCKETS, 0);
                }
                let dst = &mut buckets[p * PAGE_BUCKETS..(p + 1) * PAGE_BUCKETS];
                for (d, w) in dst.iter_mut().zip(words) {
                    *d = d.wrapping_add(*w);
                }
            }
        });
        layout
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let off = layout.offset(i);
                match f.kind {
                    FieldKind::Counter => Value::Counter(total[off]),
                    FieldKind::Gauge => Value::Gauge(total[off] as i64),
                    FieldKind::LastValue => Value::LastValue(Last {
                        value: total[off] as i64,
                        stamp_ns: total[off + 1],
                    }),
                    FieldKind::Histogram(config) => {
                        // This field's buckets, as far as any page of it was allocated.
                        let first = (layout.page_base(i) * PAGE_BUCKETS).min(buckets.len());
                        let end = (first + config.bucket_count()).min(buckets.len());
                        Value::Histogram(Box::new(histogram_from(
                            config,
                            &total[off..off + 6],
                            sums[i],
                            &buckets[first..end],
                        )))
                    }
                }
            })
            .collect()
    }

    /// A coherent snapshot of the whole set, typed at run time.
    pub fn snapshot(&self) -> SetSnapshot {
        SetSnapshot::new(self.layout.fields().to_vec(), self.collect_values())
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

fn histogram_from(
    config: HistogramConfig,
    w: &[u64],
    sum: u128,
    dense: &[u64],
) -> HistogramSnapshot {
    let (count, min, max, overflow) = (w[0], u64::MAX - w[3], w[4], w[5]);
    // Each event adds 1 to count and to exactly one bucket or the overflow, in one latch
    // section, so a collection of whole events always adds up.
    HistogramSnapshot::from_dense(config, count, sum, min, max, overflow, dense)
        .expect("a collection of whole events is a consistent histogram (docs/DESIGN.md)")
}

impl Event<'_> {
    /// A `FieldId` of another set could point past this set's copy 0 (into copy 1, which
    /// readers may be reading): refuse it. Typed sets never get here with a foreign field.
    #[inline(always)]
    fn check_fits(&self, field: FieldId) {
        assert!(
            self.fits(
                field.word + crate::layout::words_of(field.kind),
                field.page_base + crate::layout::pages_of(field.kind)
            ),
            "this FieldId belongs to a set with another layout: get field ids from the set you record into"
        );
    }

    /// Adds `n` to a counter field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a counter, or belongs to a set of another layout.
    #[inline]
    pub fn add_counter(&self, field: FieldId, n: u64) {
        assert_eq!(field.kind, FieldKind::Counter, "add_counter on a {:?} field", field.kind);
        self.check_fits(field);
        self.add(field.word, n);
    }

    /// Adds `n` (possibly negative) to a gauge field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a gauge, or belongs to a set of another layout.
    #[inline]
    pub fn add_gauge(&self, field: FieldId, n: i64) {
        assert_eq!(field.kind, FieldKind::Gauge, "add_gauge on a {:?} field", field.kind);
        self.check_fits(field);
        self.add(field.word, n as u64);
    }

    /// Sets a last-value field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a last-value gauge, or belongs to a set of another layout.
    #[inline]
    pub fn set_last(&self, field: FieldId, value: i64) {
        assert_eq!(field.kind, FieldKind::LastValue, "set_last on a {:?} field", field.kind);
        self.check_fits(field);
        self.set(field.word, value as u64);
        self.set(field.word + 1, crate::clock::stamp_ns());
    }

    /// Records `value` into a histogram field of this event's set.
    ///
    /// # Panics
    ///
    /// If `field` is not a histogram, or belongs to a set of another layout.
    #[inline]
    pub fn observe(&self, field: FieldId, value: u64) {
        let FieldKind::Histogram(config) = field.kind else {
            panic!("observe on a {:?} field", field.kind);
        };
        self.check_fits(field);
        self.observe_at(field.word, field.page_base, config, value);
    }
}

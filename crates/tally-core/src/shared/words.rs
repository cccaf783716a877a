//! How a set's fields lie in a shared shard's words, the updates a writer applies to them,
//! and how a collector turns the words back into values.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::FieldUpdate;
use tally_snapshot::{
    FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, Last, LastF64, SetSnapshot, Value,
};

/// Words a histogram takes before its buckets: count, sum (low and high halves), min,
/// max, overflow.
const HISTOGRAM_HEAD: usize = 6;

/// The words one field takes.
pub(crate) fn words_of(kind: FieldKind) -> usize {
    match kind {
        FieldKind::Counter | FieldKind::Gauge | FieldKind::CounterF64 | FieldKind::GaugeF64 => 1,
        FieldKind::LastValue | FieldKind::LastValueF64 => 2,
        FieldKind::Histogram(config) => HISTOGRAM_HEAD + config.bucket_count(),
        // `FieldKind` is non-exhaustive: a kind this version does not store takes no words
        // and is refused at registration (`shared_kind_supported`).
        #[allow(unreachable_patterns)]
        _ => 0,
    }
}

/// Whether shared shards store this kind.
pub(crate) fn supported(kind: FieldKind) -> bool {
    words_of(kind) > 0
}

/// The first word of each field, and the words of all.
pub(crate) fn offsets(fields: &[FieldDesc]) -> (Vec<usize>, usize) {
    let mut at = 0;
    let offsets = fields
        .iter()
        .map(|f| {
            let o = at;
            at += words_of(f.kind);
            o
        })
        .collect();
    (offsets, at)
}

/// Applies `update` to the field of `kind` whose words are `w` (one copy), stamping last
/// values with `stamp_ns`. Only the shard's writer calls this, inside its section on this
/// copy; the loads and stores are `Relaxed`: the section's sequence stores order them
/// (see `ShardWriter::record`).
pub(crate) fn apply(w: &[AtomicU64], kind: FieldKind, update: FieldUpdate, stamp_ns: u64) {
    let load = |i: usize| w[i].load(Ordering::Relaxed);
    let store = |i: usize, v: u64| w[i].store(v, Ordering::Relaxed);
    match update {
        FieldUpdate::Counter(n) => store(0, load(0).saturating_add(n)),
        FieldUpdate::Gauge(n) => store(0, load(0).wrapping_add(n as u64)),
        FieldUpdate::Last(v) => {
            store(0, v as u64);
            store(1, stamp_ns);
        }
        FieldUpdate::CounterF64(x) | FieldUpdate::GaugeF64(x) => {
            store(0, (f64::from_bits(load(0)) + x).to_bits());
        }
        FieldUpdate::LastF64(x) => {
            store(0, x.to_bits());
            store(1, stamp_ns);
        }
        FieldUpdate::Observe(steps) => {
            let FieldKind::Histogram(config) = kind else { return };
            let count = load(0);
            let sum =
                (u128::from(load(2)) << 64 | u128::from(load(1))).wrapping_add(u128::from(steps));
            store(0, count + 1);
            store(1, sum as u64);
            store(2, (sum >> 64) as u64);
            store(3, if count == 0 { steps } else { load(3).min(steps) });
            store(4, if count == 0 { steps } else { load(4).max(steps) });
            match config.index(steps) {
                Some(i) => store(HISTOGRAM_HEAD + i, load(HISTOGRAM_HEAD + i) + 1),
                None => store(5, load(5) + 1),
            }
        }
    }
}

/// The value of a field of `kind` from its words (one coherent copy).
pub(crate) fn value_of(w: &[u64], kind: FieldKind) -> Result<Value, String> {
    Ok(match kind {
        FieldKind::Counter => Value::Counter(w[0]),
        FieldKind::Gauge => Value::Gauge(w[0] as i64),
        FieldKind::LastValue => Value::LastValue(Last { value: w[0] as i64, stamp_ns: w[1] }),
        FieldKind::CounterF64 => Value::CounterF64(f64::from_bits(w[0])),
        FieldKind::GaugeF64 => Value::GaugeF64(f64::from_bits(w[0])),
        FieldKind::LastValueF64 => {
            Value::LastValueF64(LastF64 { value: f64::from_bits(w[0]), stamp_ns: w[1] })
        }
        FieldKind::Histogram(config) => Value::Histogram(Box::new(histogram_of(w, config)?)),
        #[allow(unreachable_patterns)]
        other => return Err(format!("a {} is not stored in shared shards", other.as_str())),
    })
}

fn histogram_of(w: &[u64], config: HistogramConfig) -> Result<HistogramSnapshot, String> {
    let (count, sum) = (w[0], u128::from(w[2]) << 64 | u128::from(w[1]));
    HistogramSnapshot::from_dense(config, count, sum, w[3], w[4], w[5], &w[HISTOGRAM_HEAD..])
        .map_err(|e| format!("a histogram's words do not add up: {e}"))
}

/// A set's snapshot from one coherent copy of its words.
pub(crate) fn snapshot_of(words: &[u64], fields: &[FieldDesc]) -> Result<SetSnapshot, String> {
    let (offsets, total) = offsets(fields);
    if words.len() != total {
        return Err(format!("{} words for fields that take {total}", words.len()));
    }
    let values = fields
        .iter()
        .zip(&offsets)
        .map(|(f, &o)| value_of(&words[o..o + words_of(f.kind)], f.kind))
        .collect::<Result<Vec<_>, _>>()?;
    SetSnapshot::new(fields.to_vec(), values).map_err(|e| e.to_string())
}

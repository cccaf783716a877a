//! Idle expiry: which series were not recorded into for a family's configured duration.
//!
//! Nothing on the record path: a series counts as recorded into when its collected values
//! changed since the previous collection. Each collection reduces a series' snapshot to one
//! word per field (its [`signature`]) and compares it with the word list of the previous
//! collection; a series whose words have not changed since a time `after` ago or longer is
//! idle. The cost is paid by collections only: a word per field per series, kept between
//! collections.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use tally_snapshot::{SetSnapshot, Value};

use super::table::Key;

/// One word per field that changes whenever something is recorded into it: a counter's count
/// (except an `add(0)`, or past saturation), a gauge's level (except moves that cancel out
/// between two collections), a last value's stamp (every `set`, even of the same value), a
/// histogram's count (every `record`).
pub(super) fn signature(snapshot: &SetSnapshot) -> Vec<u64> {
    snapshot
        .values()
        .iter()
        .map(|v| match v {
            Value::Counter(n) => *n,
            Value::Gauge(n) => *n as u64,
            Value::LastValue(last) => last.stamp_ns,
            Value::Histogram(h) => h.count(),
            other => unreachable!("a value of a kind FieldKind does not have: {other:?}"),
        })
        .collect()
}

/// A series as last seen by a collection.
struct Seen {
    signature: Vec<u64>,
    /// When `signature` was first seen.
    since: Instant,
}

/// What a family with idle expiry remembers between collections.
pub(super) struct Idle {
    after: Duration,
    seen: HashMap<Key, Seen>,
}

impl Idle {
    pub(super) fn new(after: Duration) -> Self {
        Idle { after, seen: HashMap::new() }
    }

    /// Records the values one collection read, at `now`, and returns the series that have
    /// been idle for `after` or longer: unchanged since a collection at least `after` ago
    /// (and so since at least the previous collection). Series not in `series` (removed) are forgotten.
    pub(super) fn observe<'a>(
        &mut self,
        series: impl IntoIterator<Item = (&'a Key, &'a SetSnapshot)>,
        now: Instant,
    ) -> Vec<Key> {
        let mut previous = std::mem::take(&mut self.seen);
        let mut idle = Vec::new();
        for (key, snapshot) in series {
            let signature = signature(snapshot);
            // A series new, or changed, since the previous collection was recorded into:
            // it is not idle now, whatever the duration.
            let (since, unchanged) = match previous.remove(key) {
                Some(seen) if seen.signature == signature => (seen.since, true),
                _ => (now, false),
            };
            if unchanged && now.saturating_duration_since(since) >= self.after {
                idle.push(key.clone());
            }
            self.seen.insert(key.clone(), Seen { signature, since });
        }
        idle
    }

    /// Forgets removed series, so that a successor under the same labels starts its own
    /// idle time.
    pub(super) fn forget<'a>(&mut self, keys: impl IntoIterator<Item = &'a Key>) {
        for key in keys {
            self.seen.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use tally_snapshot::{FieldDesc, FieldKind, SetSnapshot, Value};

    use super::{Idle, Key};

    fn snap(n: u64) -> SetSnapshot {
        SetSnapshot::new(vec![FieldDesc::new("n", FieldKind::Counter, "")], vec![Value::Counter(n)])
            .unwrap()
    }

    #[test]
    fn a_series_is_idle_only_after_its_values_stood_still_for_the_duration() {
        let t0 = Instant::now();
        let after = Duration::from_secs(10);
        let mut idle = Idle::new(after);
        let key = Key::new(&["a"]);
        assert!(idle.observe([(&key, &snap(1))], t0).is_empty());
        assert!(idle.observe([(&key, &snap(1))], t0 + Duration::from_secs(9)).is_empty());
        // Recorded into at 9 s: the clock starts again.
        assert!(idle.observe([(&key, &snap(2))], t0 + Duration::from_secs(11)).is_empty());
        assert!(idle.observe([(&key, &snap(2))], t0 + Duration::from_secs(20)).is_empty());
        assert_eq!(
            idle.observe([(&key, &snap(2))], t0 + Duration::from_secs(21)),
            std::slice::from_ref(&key)
        );
        idle.forget([&key]);
        assert!(idle.observe([(&key, &snap(2))], t0 + Duration::from_secs(40)).is_empty());
    }
}

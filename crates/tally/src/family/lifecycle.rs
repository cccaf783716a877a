//! Removing series: [`Family::remove`], [`Family::retain`], and idle expiry at collection.
//!
//! # Exact removal
//!
//! A series is removed only once nothing outside the family can record into it: no handle
//! from [`Family::bind`] is alive and no [`Family::with`] call that found it is still
//! running. So a record never lands in a series the family no longer collects, and a series
//! later created under the same labels (its successor) is a new set that starts at zero:
//! nothing recorded into the old one can appear in it. A series still in use is left in
//! place and reported ([`FamilyError::SeriesInUse`], [`Removed::in_use`]); removing it
//! again once its handles are dropped succeeds.
//!
//! The alternative, detaching the series and letting old handles record into it uncollected,
//! was rejected: those records would vanish from every exporter without a trace. Waiting for
//! handles to be dropped was rejected too: a handle can live as long as the program.
//!
//! How it is checked, all under the writer mutex (so no series is created meanwhile):
//!
//! 1. A table without the doomed series is built and swapped in; from then on no lookup can
//!    find them. The replaced table joins the family's list of replaced tables (a growth
//!    puts its outgrown table there too).
//! 2. The remover waits until no reader holds a replaced table: every `with` call (and every
//!    `bind`, and every collection) that loaded one has returned. arc-swap makes this
//!    observable: its `swap` turns each reader's borrowed guard of the old table into a
//!    counted reference, so a replaced table is freed, and its `Weak` reads a strong count
//!    of 0, exactly when its last reader is done. The wait is bounded ([`DRAIN`]): a
//!    `with` closure that blocks, or calls `remove` on its own family, only delays the
//!    removal, which then keeps the series and reports them in use.
//! 3. Now the only references to a doomed series are the remover's own and those of handles
//!    from `bind`. A series whose `Arc` is unique is gone for good; the others are put back
//!    (the same set, in a table swapped in again), counts intact.
//!
//! Lookups do not change at all (no flag to check, no tombstone to probe past); what a
//! removal costs is a copy of the table (O(series); remove many at once with `retain`) and
//! the wait for readers already running, microseconds unless one is descheduled.

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::table::{Key, Lookup, Slot, Table};
use super::{Family, FamilyError, lock};

/// How long a removal waits for lookups already running on a replaced table.
const DRAIN: Duration = Duration::from_millis(100);

/// What [`Family::retain`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Removed {
    /// Series removed.
    pub removed: usize,
    /// Series that were to be removed but are still in use (a handle from
    /// [`Family::bind`] is alive, or a [`Family::with`] call on them was still running):
    /// kept, counts intact.
    pub in_use: usize,
}

/// What a removal did, for the family's own callers.
pub(super) struct Removal<S> {
    /// The series removed, each the last reference to its set.
    pub(super) gone: Vec<(Key, Arc<S>)>,
    /// The series kept because they are in use.
    pub(super) in_use: Vec<Key>,
}

impl<S> Removal<S> {
    pub(super) fn keys(&self) -> impl Iterator<Item = &Key> {
        self.gone.iter().map(|(k, _)| k)
    }
}

/// Waits, at most `within`, until no reader holds any of the `retired` tables.
fn drain<S>(retired: &mut Vec<Weak<Table<S>>>, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    for round in 0u32.. {
        retired.retain(|t| t.strong_count() > 0);
        if retired.is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // Readers normally finish within nanoseconds: yield first, then sleep a little so
        // that a descheduled one gets the core.
        if round < 64 {
            thread::yield_now();
        } else {
            thread::sleep(Duration::from_micros(100));
        }
    }
    unreachable!("the loop returns")
}

impl<S: Send + Sync + 'static> Family<S> {
    /// Removes the series of these label values, if nothing outside the family holds it,
    /// and gives back its set: its final counts, which the family no longer collects. A
    /// later lookup of the same values creates a new series, starting at zero; the removed
    /// one's place under the cardinality limit is free again. The overflow series is never
    /// removed (its labels have no series of their own: `Ok(None)`).
    ///
    /// ```
    /// use tally::{Family, InferenceStats};
    ///
    /// let by_model = Family::<InferenceStats>::new(&["model"]).unwrap();
    /// by_model.with(&["bert"], |s| s.record_inference(true, false)).unwrap();
    /// let last = by_model.remove(&["bert"]).unwrap().expect("it was there");
    /// assert_eq!(last.snapshot().total_inferences, 1);
    /// assert!(by_model.collect().is_empty());
    ///
    /// // A handle from `bind` keeps its series: nothing recorded through it is ever lost.
    /// let gpt = by_model.bind(&["gpt"]).unwrap();
    /// assert!(by_model.remove(&["gpt"]).is_err());
    /// drop(gpt);
    /// assert!(by_model.remove(&["gpt"]).unwrap().is_some());
    /// ```
    ///
    /// What exporters see: the series is absent from later collections (Prometheus marks it
    /// stale); a successor under the same labels starts at zero, which a cumulative backend
    /// reads as a counter reset (Prometheus' `rate()` and `increase()` handle it). A
    /// [`RegistrySnapshot::try_merge`](crate::RegistrySnapshot::try_merge) of a snapshot
    /// taken before the removal and one taken after adds the old series' counts and the
    /// successor's under the one set of labels, as it adds any two snapshots' (it merges
    /// processes, not moments).
    ///
    /// # Errors
    ///
    /// [`FamilyError::LabelCount`] for the wrong number of values;
    /// [`FamilyError::SeriesInUse`] when a handle from [`bind`](Self::bind) is alive, or a
    /// [`with`](Self::with) call on the series is still running (checked for a bounded
    /// time); nothing is removed then.
    pub fn remove(&self, values: &[&str]) -> Result<Option<S>, FamilyError> {
        self.check_arity(values.len())?;
        let hash = self.hasher.hash_one(Lookup(values));
        let removal =
            self.remove_where(|slot| slot.hash == hash && Lookup(values).matches(&slot.key));
        self.forget_idle(removal.keys());
        if let Some(key) = removal.in_use.first() {
            return Err(FamilyError::SeriesInUse { labels: key.to_labels() });
        }
        Ok(removal.gone.into_iter().next().map(|(_, set)| {
            Arc::into_inner(set).expect("unique: checked under the writer mutex, unreachable since")
        }))
    }

    /// Removes every series for which `keep(label values, set)` is false (as
    /// [`remove`](Self::remove) does, and with the same guarantees), in one copy of the
    /// table. `keep` runs before the family is locked, so it may use the family; series
    /// created meanwhile are kept. Series still in use are kept and counted in
    /// [`Removed::in_use`].
    ///
    /// ```
    /// use tally::{Family, InferenceStats};
    ///
    /// let by_model = Family::<InferenceStats>::new(&["model"]).unwrap();
    /// for model in ["bert-v1", "bert-v2", "gpt"] {
    ///     by_model.with(&[model], |s| s.record_inference(true, false)).unwrap();
    /// }
    /// let done = by_model.retain(|labels, _| labels[0] != "bert-v1");
    /// assert_eq!((done.removed, done.in_use), (1, 0));
    /// assert_eq!(by_model.len(), 2);
    /// ```
    pub fn retain(&self, mut keep: impl FnMut(&[&str], &S) -> bool) -> Removed {
        let doomed: HashSet<Key> = {
            let table = self.table.load();
            let mut values = Vec::with_capacity(self.label_names.len());
            table
                .series()
                .filter(|slot| {
                    values.clear();
                    values.extend(slot.key.values());
                    !keep(&values, &slot.set)
                })
                .map(|slot| slot.key.clone())
                .collect()
        };
        if doomed.is_empty() {
            return Removed::default();
        }
        let removal = self.remove_where(|slot| doomed.contains(&slot.key));
        self.forget_idle(removal.keys());
        Removed { removed: removal.gone.len(), in_use: removal.in_use.len() }
    }

    /// Tells idle expiry that these series are gone (a successor starts its own idle time).
    fn forget_idle<'a>(&self, keys: impl IntoIterator<Item = &'a Key>) {
        if let Some((_, seen)) = &self.idle {
            lock(seen).forget(keys);
        }
    }

    /// Removes the series `doomed` selects that nothing outside the family holds (see the
    /// module docs). Takes the writer mutex: the caller must not hold it.
    pub(super) fn remove_where(&self, mut doomed: impl FnMut(&Slot<S>) -> bool) -> Removal<S> {
        let mut writer = lock(&self.writer);
        let current = self.table.load_full();
        writer.retired.retain(|t| t.strong_count() > 0);
        // With no replaced table alive, the current table holds the one reference to a
        // series that is not a handle's: more means a handle from `bind` (or a bind running
        // now). Those are kept without a copy of the table: an idle series held by a handle
        // is not copied at every collection.
        let settled = writer.retired.is_empty();
        let (mut keep, mut take, mut in_use) = (Vec::new(), Vec::new(), Vec::new());
        for slot in current.series() {
            if !doomed(slot) {
                keep.push(slot.clone());
            } else if settled && Arc::strong_count(&slot.set) > 1 {
                in_use.push(slot.key.clone());
                keep.push(slot.clone());
            } else {
                take.push(slot.clone());
            }
        }
        if take.is_empty() {
            return Removal { gone: Vec::new(), in_use };
        }
        // Release: see `# Orderings` in the family module (odd: a removal runs).
        self.removals.fetch_add(1, Ordering::Release);
        let without = Arc::new(current.rebuilt(keep.len(), keep.iter().cloned()));
        writer.retire(self.table.swap(Arc::clone(&without)));
        drop(current);
        let drained = drain(&mut writer.retired, DRAIN);
        let (mut gone, mut back) = (Vec::new(), Vec::new());
        for slot in take {
            // Unique: no table and no handle holds it, and none can get it any more.
            if drained && Arc::strong_count(&slot.set) == 1 {
                gone.push((slot.key, slot.set));
            } else {
                in_use.push(slot.key.clone());
                back.push(slot);
            }
        }
        if !back.is_empty() {
            let count = keep.len() + back.len();
            let with_back = without.rebuilt(count, keep.into_iter().chain(back));
            writer.retire(self.table.swap(Arc::new(with_back)));
        }
        // Release: a thread that acquires the new count finds the table it describes.
        self.len.store(self.len.load(Ordering::Relaxed) - gone.len(), Ordering::Release);
        // Release: see `# Orderings` (even again: the removal is over).
        self.removals.fetch_add(1, Ordering::Release);
        Removal { gone, in_use }
    }
}

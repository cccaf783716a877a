//! The connection limit: at most `max_connections` connections hold a slot, and an idle
//! one gives its slot up to a newcomer.
//!
//! A connection is *idle* while it has no complete request head: just accepted and
//! silent, between requests on a keep-alive connection, or trickling its head in. It is
//! *busy* from the moment its head is read until its response is written (bounded by the
//! request timeout, twice). A newcomer that finds every slot taken takes the slot of the
//! connection idle the longest, which is closed; only when every slot is busy does it
//! wait, and then for at most a request's bounds. So idle clients, however many and
//! however fast they reconnect, cannot keep a scrape waiting: each costs the server one
//! accept and one close.
//!
//! A connection is not counted idle until its task has read what its client had already
//! sent: a burst of accepts would otherwise evict scrapers whose request heads were
//! waiting in their sockets, unread.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

/// The slots of one server, shared by its accept loop and its connections.
#[derive(Debug)]
pub(crate) struct Slots {
    max: usize,
    table: Mutex<Table>,
    /// Notified when a slot is freed or a connection becomes idle: the accept loop, if it
    /// waits, may admit its newcomer now.
    changed: Notify,
}

#[derive(Debug, Default)]
struct Table {
    /// Slots held (an evicted connection's slot passed to its evictor at once).
    held: usize,
    /// The idle connections, by the order in which they became idle (the first has been
    /// idle the longest), with what tells each it is evicted.
    idle: BTreeMap<u64, Arc<Notify>>,
    /// The key of the next connection to become idle.
    next_key: u64,
}

impl Slots {
    /// `max` slots (at least 1).
    pub(crate) fn new(max: usize) -> Arc<Slots> {
        Arc::new(Slots { max: max.max(1), table: Mutex::default(), changed: Notify::new() })
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        // Every update leaves the table consistent before anything can panic.
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A slot for a connection just accepted: a free one, else the one of the connection
    /// idle the longest (which is told to close), else, once every slot is busy, the first
    /// to become free or idle. The new connection starts busy (see [`Slot::idle`]).
    pub(crate) async fn admit(self: &Arc<Self>) -> Slot {
        loop {
            if let Some(slot) = self.try_admit() {
                return slot;
            }
            // A permit stored by a change since `try_admit` wakes this at once.
            self.changed.notified().await;
        }
    }

    fn try_admit(self: &Arc<Self>) -> Option<Slot> {
        let mut table = self.table();
        if table.held < self.max {
            table.held += 1;
        } else {
            let (_, evicted) = table.idle.pop_first()?;
            // Its slot is now the newcomer's; the evicted connection closes when its task
            // next runs, and finds its key gone if it tries to use the slot meanwhile.
            evicted.notify_one();
        }
        Some(Slot { slots: Arc::clone(self), evicted: Arc::new(Notify::new()), state: State::Busy })
    }
}

/// One connection's slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<Slots>,
    /// Notified (once) when the connection is evicted: it must close.
    evicted: Arc<Notify>,
    state: State,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Holds its slot, not evictable.
    Busy,
    /// Evictable, under this key in the table's idle map (if it is no longer there, the
    /// connection was evicted).
    Idle(u64),
    /// Evicted: holds no slot any more.
    Evicted,
}

impl Slot {
    /// What is notified when this connection is evicted.
    pub(crate) fn eviction(&self) -> Arc<Notify> {
        Arc::clone(&self.evicted)
    }

    /// The connection has no request to handle: a newcomer may evict it from now on, the
    /// connections idle longer first. No change if it is idle already.
    pub(crate) fn idle(&mut self) {
        if self.state != State::Busy {
            return;
        }
        let mut table = self.slots.table();
        let key = table.next_key;
        table.next_key += 1;
        table.idle.insert(key, Arc::clone(&self.evicted));
        drop(table);
        self.state = State::Idle(key);
        self.slots.changed.notify_one();
    }

    /// The connection has a request to handle: it keeps its slot until it is idle again.
    /// Returns false if it was evicted already (it is closing).
    pub(crate) fn busy(&mut self) -> bool {
        if let State::Idle(key) = self.state {
            let still_held = self.slots.table().idle.remove(&key).is_some();
            self.state = if still_held { State::Busy } else { State::Evicted };
        }
        self.state == State::Busy
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut table = self.slots.table();
        let held = match self.state {
            State::Busy => true,
            State::Idle(key) => table.idle.remove(&key).is_some(),
            State::Evicted => false,
        };
        if held {
            table.held -= 1;
            drop(table);
            self.slots.changed.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::task::{Context, Waker};

    use super::*;

    fn admit_now(slots: &Arc<Slots>) -> Option<Slot> {
        slots.try_admit()
    }

    /// Whether `slot`'s connection was told to close (the notice stays for the next look).
    fn is_evicted(slot: &Slot) -> bool {
        // `notified()` completes at once, taking it, if `notify_one` stored a permit.
        let eviction = slot.eviction();
        let notified = eviction.notified();
        tokio::pin!(notified);
        let evicted = notified.poll(&mut Context::from_waker(Waker::noop())).is_ready();
        if evicted {
            eviction.notify_one();
        }
        evicted
    }

    #[test]
    fn free_slots_are_taken_first_and_busy_connections_are_never_evicted() {
        let slots = Slots::new(2);
        let a = admit_now(&slots).unwrap();
        let b = admit_now(&slots).unwrap();
        assert!(admit_now(&slots).is_none(), "two busy connections hold both slots");
        drop(a);
        let c = admit_now(&slots).unwrap();
        assert!(!is_evicted(&b) && !is_evicted(&c));
    }

    #[test]
    fn a_newcomer_evicts_the_connection_idle_the_longest() {
        let slots = Slots::new(3);
        let mut a = admit_now(&slots).unwrap();
        let mut b = admit_now(&slots).unwrap();
        let mut c = admit_now(&slots).unwrap();
        b.idle();
        a.idle();
        c.idle();
        let _d = admit_now(&slots).unwrap();
        assert!(is_evicted(&b) && !is_evicted(&a) && !is_evicted(&c));
        let _e = admit_now(&slots).unwrap();
        assert!(is_evicted(&a) && !is_evicted(&c));
        // A connection that got a request meanwhile keeps its slot; one evicted stays so.
        assert!(c.busy());
        assert!(!a.busy());
        assert!(admit_now(&slots).is_none());
    }

    #[test]
    fn an_evicted_connection_frees_no_slot_twice() {
        let slots = Slots::new(1);
        let mut a = admit_now(&slots).unwrap();
        a.idle();
        let b = admit_now(&slots).unwrap();
        assert!(is_evicted(&a));
        drop(a); // its slot went to b already
        assert!(admit_now(&slots).is_none());
        drop(b);
        assert!(admit_now(&slots).is_some());
    }

    #[test]
    fn a_connection_idle_again_is_evicted_after_those_idle_before_it() {
        let slots = Slots::new(2);
        let mut a = admit_now(&slots).unwrap();
        let mut b = admit_now(&slots).unwrap();
        a.idle();
        b.idle();
        // a is served a request, then idle again: now b has been idle the longest.
        assert!(a.busy());
        a.idle();
        let _c = admit_now(&slots).unwrap();
        assert!(is_evicted(&b) && !is_evicted(&a));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_newcomer_waits_while_every_slot_is_busy_and_gets_the_first_to_go_idle() {
        let slots = Slots::new(1);
        let mut a = admit_now(&slots).unwrap();
        let waiting = tokio::spawn({
            let slots = Arc::clone(&slots);
            async move { slots.admit().await }
        });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        a.idle();
        let _b = waiting.await.unwrap();
        assert!(is_evicted(&a));
    }
}

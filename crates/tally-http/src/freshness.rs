//! Serving the published epoch, and collecting only when it is stale: the staleness rule
//! and the shared collection live in `tally_epoch::Publisher::latest_or_collect`; this is
//! the server's handle on them.

use std::sync::Arc;
use std::time::Duration;

use tally_epoch::{Epoch, Publisher};
use tally_snapshot::RegistrySnapshot;

/// The publisher and the `max_age` shared by all connections of one server.
pub(crate) struct Fresh {
    publisher: Publisher<RegistrySnapshot>,
    max_age: Duration,
}

impl Fresh {
    pub(crate) fn new(publisher: Publisher<RegistrySnapshot>, max_age: Duration) -> Fresh {
        Fresh { publisher, max_age }
    }

    /// The latest epoch if it is younger than `max_age`, else a new one
    /// ([`Publisher::latest_or_collect`]). Blocks while a collection runs (its own, or
    /// another scrape's): call it on a blocking thread.
    pub(crate) fn epoch(&self) -> Arc<Epoch<RegistrySnapshot>> {
        self.publisher.latest_or_collect(self.max_age)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Barrier};

    use tally_epoch::ManualClock;

    use super::*;

    fn counting(clock: &ManualClock) -> (Publisher<RegistrySnapshot>, Arc<AtomicU64>) {
        let collections = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&collections);
        let publisher = Publisher::builder(move || {
            count.fetch_add(1, Ordering::Relaxed);
            RegistrySnapshot::default()
        })
        .clock(clock.clone())
        .build();
        (publisher, collections)
    }

    #[test]
    fn collects_only_when_the_latest_epoch_is_older_than_max_age() {
        let clock = ManualClock::new();
        let (publisher, collections) = counting(&clock);
        let fresh = Fresh::new(publisher, Duration::from_secs(1));
        assert_eq!(fresh.epoch().number(), 0);
        clock.advance(Duration::from_millis(999));
        assert_eq!(fresh.epoch().number(), 0);
        assert_eq!(collections.load(Ordering::Relaxed), 1); // epoch 0 only
        clock.advance(Duration::from_millis(1));
        assert_eq!(fresh.epoch().number(), 1);
        assert_eq!(fresh.epoch().number(), 1);
        assert_eq!(collections.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn zero_max_age_collects_on_every_call() {
        let clock = ManualClock::new();
        let (publisher, collections) = counting(&clock);
        let fresh = Fresh::new(publisher, Duration::ZERO);
        assert_eq!(fresh.epoch().number(), 1);
        assert_eq!(fresh.epoch().number(), 2);
        assert_eq!(collections.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn concurrent_stale_scrapes_share_one_collection() {
        const SCRAPERS: usize = 8;
        let clock = ManualClock::new();
        let collections = Arc::new(AtomicU64::new(0));
        let count = Arc::clone(&collections);
        // The source holds the first collection open until every scraper has arrived.
        let all_in = Arc::new(Barrier::new(SCRAPERS));
        let release = Arc::new(std::sync::Mutex::new(()));
        let gate = Arc::clone(&release);
        let publisher = Publisher::builder(move || {
            count.fetch_add(1, Ordering::Relaxed);
            drop(gate.lock().unwrap());
            RegistrySnapshot::default()
        })
        .clock(clock.clone())
        .build();
        let fresh = Arc::new(Fresh::new(publisher, Duration::from_secs(1)));
        clock.advance(Duration::from_secs(5));
        let held = release.lock().unwrap();
        let threads: Vec<_> = (0..SCRAPERS)
            .map(|_| {
                let (fresh, all_in) = (Arc::clone(&fresh), Arc::clone(&all_in));
                std::thread::spawn(move || {
                    all_in.wait();
                    fresh.epoch().number()
                })
            })
            .collect();
        // Let every scraper reach the collection or the lock before releasing the source.
        while collections.load(Ordering::Relaxed) < 2 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(50));
        drop(held);
        let numbers: Vec<u64> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(numbers, vec![1; SCRAPERS]);
        assert_eq!(collections.load(Ordering::Relaxed), 2); // epoch 0 and one more
    }
}

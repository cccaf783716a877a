//! Readers never wait for writers: a writer parked in the middle of an event (inside its
//! `record` closure, after it updated some fields) does not stop readers from completing
//! snapshots, those snapshots do not contain the half event, and once the writer is
//! released the event shows up whole.
//!
//! If a reader did wait for the parked writer, these tests would hang rather than fail; a
//! progress watchdog turns that into a failure. It fails only if the readers take no
//! snapshot at all for a whole minute, so it does not measure speed. (The threads are
//! plain, not scoped, so that a failing test need not join a stuck reader.)

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::Duration;

tally::metric_set! {
    /// Every whole event adds 1 to all three counters.
    struct Triple {
        a: Counter,
        b: Counter,
        c: Counter,
    }
}

impl TripleSnapshot {
    fn all(n: u64) -> Self {
        TripleSnapshot { a: n, b: n, c: n }
    }
}

/// Records one whole event.
fn whole_event(set: &Triple) {
    set.record(|e| {
        e.a().inc();
        e.b().inc();
        e.c().inc();
    });
}

/// Runs `f` on a new thread and waits for it.
fn on_new_thread(f: impl FnOnce() + Send + 'static) {
    thread::spawn(f).join().expect("thread panicked");
}

/// Joins `readers`, failing if `progress` (snapshots taken, summed over them) stays
/// unchanged for a whole minute: a reader stuck behind the parked writer.
fn join_readers<T>(readers: Vec<JoinHandle<T>>, progress: &AtomicU64) -> Vec<T> {
    let (mut last, mut idle_polls) = (progress.load(Ordering::Relaxed), 0);
    while !readers.iter().all(|h| h.is_finished()) {
        thread::sleep(Duration::from_millis(100));
        let now = progress.load(Ordering::Relaxed);
        idle_polls = if now == last { idle_polls + 1 } else { 0 };
        last = now;
        assert!(idle_polls < 600, "readers made no progress while a writer was parked");
    }
    readers.into_iter().map(|h| h.join().expect("reader panicked")).collect()
}

/// A writer parked inside an event.
struct ParkedWriter {
    release: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl ParkedWriter {
    /// Starts a writer that opens an event, adds to `a` and `b`, parks until released,
    /// then adds to `c`; returns once it is parked. With `nested`, it parks inside a
    /// record nested in the outer one (an event of its own, still being buffered).
    fn park(set: &Arc<Triple>, nested: bool) -> Self {
        let (parked_tx, parked_rx) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        let set = Arc::clone(set);
        let thread = thread::spawn(move || {
            set.record(|e| {
                e.a().inc();
                let park = || {
                    e.b().inc();
                    parked_tx.send(()).unwrap();
                    release_rx.recv().unwrap();
                };
                if nested {
                    set.record(|_inner| park());
                } else {
                    park();
                }
                e.c().inc();
            });
        });
        parked_rx.recv().expect("writer died before parking");
        ParkedWriter { release, thread }
    }

    fn release(self) {
        self.release.send(()).unwrap();
        self.thread.join().expect("writer panicked");
    }
}

fn parked_writer_does_not_block_readers(nested: bool) {
    const READERS: usize = 2;
    const SNAPSHOTS_PER_READER: u64 = 20_000;
    const BEFORE: u64 = 10;

    let set = Arc::new(Triple::new());
    // Whole events first, so the shards already hold data when the writer parks.
    let s = Arc::clone(&set);
    on_new_thread(move || (0..BEFORE).for_each(|_| whole_event(&s)));

    let writer = ParkedWriter::park(&set, nested);
    // The writer is now parked with `a` and `b` of its event written.
    let progress = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (set, progress) = (Arc::clone(&set), Arc::clone(&progress));
            thread::spawn(move || {
                let mut half = 0u64;
                for _ in 0..SNAPSHOTS_PER_READER {
                    half += u64::from(set.snapshot() != TripleSnapshot::all(BEFORE));
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                half
            })
        })
        .collect();
    let half = join_readers(readers, &progress);
    assert_eq!(progress.load(Ordering::Relaxed), READERS as u64 * SNAPSHOTS_PER_READER);
    assert_eq!(half, [0; READERS], "snapshots taken while parked showed part of the event");

    writer.release();
    assert_eq!(set.snapshot(), TripleSnapshot::all(BEFORE + 1), "the event should land whole");
    // The writer's thread left no section open: the next owner of its slot records normally.
    let s = Arc::clone(&set);
    on_new_thread(move || whole_event(&s));
    assert_eq!(set.snapshot(), TripleSnapshot::all(BEFORE + 2));
}

#[test]
fn readers_complete_snapshots_while_a_writer_is_parked_mid_event_and_never_see_half_of_it() {
    parked_writer_does_not_block_readers(false);
}

#[test]
fn a_writer_parked_inside_a_nested_record_does_not_block_readers_either() {
    parked_writer_does_not_block_readers(true);
}

#[test]
fn other_writers_progress_stays_visible_while_one_writer_is_parked() {
    const READERS: usize = 2;
    /// Whole events the other writers must be seen to add while one writer is parked.
    const PROGRESS: u64 = 20_000;

    let set = Arc::new(Triple::new());
    let writer = ParkedWriter::park(&set, false);
    let stop = Arc::new(AtomicBool::new(false));
    let others: Vec<_> = (0..2)
        .map(|_| {
            let (set, stop) = (Arc::clone(&set), Arc::clone(&stop));
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    whole_event(&set);
                }
            })
        })
        .collect();
    let progress = Arc::new(AtomicU64::new(0));
    let readers: Vec<_> = (0..READERS)
        .map(|_| {
            let (set, progress) = (Arc::clone(&set), Arc::clone(&progress));
            thread::spawn(move || {
                let (mut taken, mut torn) = (0u64, 0u64);
                loop {
                    let snap = set.snapshot();
                    taken += 1;
                    progress.fetch_add(1, Ordering::Relaxed);
                    // The parked event's `a` and `b` would break a == b == c.
                    torn += u64::from(snap.a != snap.b || snap.b != snap.c);
                    if snap.a >= PROGRESS && taken >= 1_000 {
                        return (taken, torn);
                    }
                }
            })
        })
        .collect();
    let seen = join_readers(readers, &progress);
    stop.store(true, Ordering::Relaxed);
    for h in others {
        h.join().expect("writer panicked");
    }
    for (taken, torn) in seen {
        assert_eq!(torn, 0, "{torn} of {taken} snapshots showed the parked half event");
    }
    let before_release = set.snapshot();
    assert!(before_release.a >= PROGRESS);
    writer.release();
    assert_eq!(set.snapshot(), TripleSnapshot::all(before_release.a + 1));
}

#[test]
fn a_writer_taking_a_snapshot_inside_its_own_event_completes_without_the_open_event() {
    let set = Triple::new();
    whole_event(&set);
    let inside = set.record(|e| {
        e.a().inc();
        e.b().inc();
        // The writer is itself the reader now: it must not wait for its own section.
        set.snapshot()
    });
    assert_eq!(inside, TripleSnapshot::all(1));
    assert_eq!(set.snapshot(), TripleSnapshot { a: 2, b: 2, c: 1 });
}

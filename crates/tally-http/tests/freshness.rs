//! Scrapes are served the published epoch and collect only when it is older than
//! `max_age`, on the publisher's clock; stale scrapes arriving together share one
//! collection. Collections are counted by the publisher's source.

mod common;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tally::Registry;
use tally::epoch::{ManualClock, Publisher};

use common::{Metrics, get, local_server};

fn total(body: &str) -> u64 {
    let line = body
        .lines()
        .find(|l| l.starts_with("inference_total_inferences_total "))
        .unwrap_or_else(|| panic!("no total in {body}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn a_scrape_within_max_age_does_not_collect_and_one_after_it_does() {
    let clock = ManualClock::new();
    let metrics = Metrics::with_clock(&clock);
    let server = metrics.server().max_age(Duration::from_secs(1)).spawn().unwrap();
    let addr = server.local_addr();
    assert_eq!(metrics.collections(), 1); // epoch 0, by Publisher::build

    // Epoch 0 is 0 s old: served as is, without the records made since (3 by
    // `Metrics::with_clock`, 2 here).
    metrics.record(2);
    assert_eq!(total(get(addr, "/metrics", None).text()), 0);
    assert_eq!(metrics.collections(), 1);

    // Just under max_age: still served, by every route.
    clock.advance(Duration::from_millis(999));
    assert_eq!(total(get(addr, "/metrics", None).text()), 0);
    assert_eq!(get(addr, "/metrics.json", None).status, 200);
    assert_eq!(metrics.collections(), 1);

    // At max_age: stale, so this scrape collects, and sees the records.
    clock.advance(Duration::from_millis(1));
    assert_eq!(total(get(addr, "/metrics", None).text()), 5);
    assert_eq!(metrics.collections(), 2);

    // The new epoch is fresh again: the next scrapes reuse it.
    metrics.record(1);
    for _ in 0..3 {
        assert_eq!(total(get(addr, "/metrics", None).text()), 5);
    }
    assert_eq!(metrics.collections(), 2);
    clock.advance(Duration::from_secs(10));
    assert_eq!(total(get(addr, "/metrics", None).text()), 6);
    assert_eq!(metrics.collections(), 3);
    server.shutdown().unwrap();
}

#[test]
fn a_publisher_refreshed_elsewhere_is_not_collected_by_the_server() {
    let clock = ManualClock::new();
    let metrics = Metrics::with_clock(&clock);
    let server = metrics.server().max_age(Duration::from_secs(5)).spawn().unwrap();
    for round in 0..3u64 {
        clock.advance(Duration::from_secs(4));
        metrics.record(1);
        // The application's own refresher publishes every 4 s: never 5 s old at a scrape.
        metrics.publisher.refresh();
        let before = metrics.collections();
        assert_eq!(total(get(server.local_addr(), "/metrics", None).text()), 4 + round);
        assert_eq!(metrics.collections(), before, "the server collected a fresh epoch");
    }
    server.shutdown().unwrap();
}

#[test]
fn stale_scrapes_arriving_together_share_one_collection() {
    const SCRAPERS: usize = 6;
    let clock = ManualClock::new();
    let metrics = Metrics::with_clock(&clock);
    let server = metrics.server().max_age(Duration::from_secs(1)).spawn().unwrap();
    let addr = server.local_addr();

    metrics.record(1);
    clock.advance(Duration::from_secs(2));
    metrics.gate.set(true);
    let scrapers: Vec<_> = (0..SCRAPERS)
        .map(|_| std::thread::spawn(move || total(get(addr, "/metrics", None).text())))
        .collect();
    // One scrape is collecting (held at the gate); give the others time to arrive and find
    // the epoch stale too. However long they take, none may start a second collection.
    metrics.gate.wait_until_waiting();
    std::thread::sleep(Duration::from_millis(200));
    metrics.gate.set(false);
    let totals: Vec<u64> = scrapers.into_iter().map(|t| t.join().unwrap()).collect();
    // 3 by `Metrics::with_clock`, 1 here: every scraper got the one new collection.
    assert_eq!(totals, vec![4; SCRAPERS]);
    assert_eq!(metrics.collections(), 2, "epoch 0 and one shared collection");
    server.shutdown().unwrap();
}

#[test]
fn a_collection_slower_than_the_request_timeout_gets_503_and_serves_the_next_scrape() {
    let clock = ManualClock::new();
    let metrics = Metrics::with_clock(&clock);
    let server = metrics
        .server()
        .max_age(Duration::from_secs(1))
        .request_timeout(Duration::from_millis(300))
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    clock.advance(Duration::from_secs(2));
    metrics.gate.set(true);
    let reply = get(addr, "/metrics", None);
    assert_eq!(reply.status, 503);
    assert!(reply.text().contains("request timeout"), "{}", reply.text());
    // The collection went on in the background; once it is done, its epoch is served
    // without another collection.
    metrics.gate.set(false);
    assert_eq!(total(get(addr, "/metrics", None).text()), 3);
    assert_eq!(metrics.collections(), 2);
    server.shutdown().unwrap();
}

#[test]
fn a_panicking_source_gets_500_and_the_next_scrape_collects_again() {
    let clock = ManualClock::new();
    let fail = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let registry = Arc::new(Registry::new());
    let stats = registry.register::<tally::InferenceStats>("inference", "Model.").unwrap();
    let publisher = Publisher::builder({
        let (registry, fail) = (Arc::clone(&registry), Arc::clone(&fail));
        move || {
            assert!(!fail.load(Ordering::SeqCst), "the source failed (on purpose, in a test)");
            registry.snapshot()
        }
    })
    .clock(clock.clone())
    .build();
    let server = local_server(publisher).max_age(Duration::from_secs(1)).spawn().unwrap();
    let addr = server.local_addr();
    #[allow(deprecated)] // issue 22: record_request(Outcome::Success, Cache::Miss)
    stats.record_inference(true, false);
    clock.advance(Duration::from_secs(2));
    fail.store(true, Ordering::SeqCst);
    for path in ["/metrics", "/metrics.json"] {
        let reply = get(addr, path, None);
        assert_eq!(reply.status, 500, "{path}");
        assert!(reply.text().contains("panicked"), "{}", reply.text());
    }
    fail.store(false, Ordering::SeqCst);
    assert_eq!(total(get(addr, "/metrics", None).text()), 1);
    server.shutdown().unwrap();
}

//! Idle connections never keep a good scrape waiting. A connection is idle while it has
//! no whole request head: silent since it was accepted, between requests on a keep-alive
//! connection, or trickling its head in. At the connection limit a newcomer closes the one
//! idle the longest; one with a request in hand keeps its slot; a keep-alive connection is
//! closed after the keep-alive timeout.
//!
//! And the case: against a server with the default limits (64 connections, 10 s
//! header-read timeout), 300 clients connect, send nothing and reconnect as soon as they
//! are closed, and 50 more trickle a request head a byte a second that never ends (and
//! reconnect too), for 20 s. Meanwhile one client scrapes `/metrics` every 100 ms on a
//! fresh connection, and a real Prometheus server, started among them, scrapes every
//! second with a 1 s timeout: every scrape is answered, with the right body, p99 within
//! 1 s, and Prometheus' `up` stays 1. (When idle connections held every slot until their
//! header-read timeout, scrapes waited 10 s in the listen backlog and Prometheus saw
//! `up=0`.) That test needs about 500 file descriptors (the soft limit is raised to the
//! hard one if it is lower) and Prometheus: a missing `prometheus` binary skips it with a
//! message on stderr, unless `TALLY_REQUIRE_EXTERNAL=1`, which makes it a failure. Install
//! it with `apt-get install -y prometheus`. It takes about 25 s.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;

use common::prometheus::{Prometheus, TempDir, has_prometheus, value_of};
use common::{Metrics, connect, get, raw_status, read_until_closed};

/// Long enough that no test here sees a connection closed by a timeout it did not set.
const NEVER: Duration = Duration::from_secs(600);

/// Reads a response head (a `HEAD` request's whole response) off a keep-alive connection.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            other => panic!("closed or failed after {head:?}: {other:?}"),
        }
    }
    String::from_utf8(head).unwrap()
}

/// A keep-alive connection that was served one request, and is now idle.
fn served_once(addr: SocketAddr) -> TcpStream {
    let mut stream = connect(addr);
    stream.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 200 "), "{head}");
    stream
}

/// Whether the server closed `stream` without sending anything (within 60 s).
fn closed_unanswered(stream: &mut TcpStream) -> bool {
    read_until_closed(stream).expect("neither answered nor closed in 60 s").is_empty()
}

#[test]
fn at_the_limit_a_newcomer_closes_the_connection_idle_the_longest() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .max_connections(2)
        .header_read_timeout(NEVER)
        .keep_alive_timeout(NEVER)
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    // Two keep-alive connections, idle one after the other: a newcomer is served at once,
    // in the slot of the one idle the longest.
    let mut older = served_once(addr);
    let mut newer = served_once(addr);
    let mut first = served_once(addr);
    assert!(closed_unanswered(&mut older));
    // Idle the longest, not opened first: `newer`, served again, is now idle for less
    // time than `first`.
    newer.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    assert!(read_head(&mut newer).starts_with("HTTP/1.1 200 "));
    let _second = served_once(addr);
    assert!(closed_unanswered(&mut first));
    // Silent connections, and heads trickling in, are idle too (they take the two slots,
    // closing `newer` and `second`, then give them up in turn).
    let mut silent = connect(addr);
    let mut trickling = connect(addr);
    trickling.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n").unwrap();
    let _third = served_once(addr);
    assert!(closed_unanswered(&mut silent));
    let _fourth = served_once(addr);
    assert!(closed_unanswered(&mut trickling));
    assert!(closed_unanswered(&mut newer));
    server.shutdown().unwrap();
}

#[test]
fn a_connection_with_a_request_in_hand_keeps_its_slot_and_newcomers_wait() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .max_age(Duration::ZERO)
        .max_connections(1)
        .header_read_timeout(NEVER)
        .keep_alive_timeout(NEVER)
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    // The only slot's connection has a request in hand: its collection is held at the gate.
    metrics.gate.set(true);
    let mut holder = connect(addr);
    holder.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    metrics.gate.wait_until_waiting();
    let (served, waiting) = mpsc::channel();
    thread::spawn(move || served.send(get(addr, "/metrics", None).status).unwrap());
    assert!(
        waiting.recv_timeout(Duration::from_millis(500)).is_err(),
        "a newcomer was served while the only slot's connection had a request in hand"
    );
    metrics.gate.set(false);
    // The request in hand is answered; then its connection, idle, gives the slot up.
    assert!(read_head(&mut holder).starts_with("HTTP/1.1 200 "));
    assert_eq!(waiting.recv_timeout(Duration::from_secs(60)), Ok(200));
    assert!(closed_unanswered(&mut holder));
    server.shutdown().unwrap();
}

#[test]
fn a_keep_alive_connection_is_closed_after_the_keep_alive_timeout() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .header_read_timeout(NEVER)
        .keep_alive_timeout(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let mut idle = served_once(server.local_addr());
    // Within `read_until_closed`'s 60 s: not the header-read timeout's 600 s.
    assert!(closed_unanswered(&mut idle));
    server.shutdown().unwrap();
}

#[test]
fn a_request_begun_within_the_keep_alive_timeout_has_the_header_read_timeout_to_finish() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .header_read_timeout(NEVER)
        .keep_alive_timeout(Duration::from_secs(1))
        .spawn()
        .unwrap();
    let mut stream = served_once(server.local_addr());
    // At once: well within the keep-alive timeout, even on a loaded machine.
    stream.write_all(b"HEAD /metr").unwrap();
    // Past the keep-alive timeout, the head still coming.
    thread::sleep(Duration::from_millis(2500));
    stream.write_all(b"ics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").unwrap();
    let response = read_until_closed(&mut stream).unwrap();
    assert_eq!(raw_status(&response), Some(200), "{}", String::from_utf8_lossy(&response));
    server.shutdown().unwrap();
}

/// Clients that connect, send nothing, and reconnect as soon as they are closed.
const IDLE_CLIENTS: usize = 300;
/// Clients that send a request head a byte a second, never finishing it.
const SLOW_CLIENTS: usize = 50;
/// How long the scraper scrapes, with the bad clients at work.
const RUN: Duration = Duration::from_secs(20);
/// How often the scraper starts a scrape.
const SCRAPE_EVERY: Duration = Duration::from_millis(100);
/// The bound on a scrape's latency at the 99th percentile.
const P99_BOUND: Duration = Duration::from_secs(1);
/// A scrape that takes longer has failed; a bound on the test, so that it ends by itself.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

#[test]
fn idle_and_slow_clients_never_keep_a_scrape_waiting() {
    let test = "idle_clients";
    if !has_prometheus(test) {
        return;
    }
    raise_fd_limit(2048);
    let metrics = Metrics::new(); // 3 inferences recorded, nothing more during the test
    // Published, so that every scrape's body is the same.
    metrics.publisher.refresh();
    let server = metrics.server().spawn().unwrap(); // the default limits
    let addr = server.local_addr();
    let reference = scrape(addr).expect("a scrape before the bad clients start");
    assert!(reference.contains("\ninference_total_inferences_total 3\n"), "{reference}");

    let (stop, stopped) = watch::channel(false);
    let clients = thread::spawn(move || bad_clients(addr, stopped));
    // Let them take every slot (and fill the backlog) first.
    thread::sleep(Duration::from_secs(1));
    // Prometheus too starts among them: its first connection (which it then keeps alive)
    // has to get in as the scraper's do.
    let dir = TempDir::new(test);
    let mut prometheus = Prometheus::start(&dir, addr);
    let scrapes = scrape_every(addr, SCRAPE_EVERY, RUN);
    let ended = SystemTime::now();
    stop.send_replace(true);
    let opened = clients.join().unwrap();

    // The last scrape that started before `ended` is stored once it is done (1 s timeout).
    thread::sleep(Duration::from_millis(1500));
    let window = format!("[{}s]", RUN.as_secs());
    let up_min = prometheus.query_at(&format!("min_over_time(up{window})"), Some(ended));
    let up_count = prometheus.query_at(&format!("count_over_time(up{window})"), Some(ended));
    let up_min = up_min.as_deref().and_then(value_of).map(str::to_owned);
    let up_count: usize =
        up_count.as_deref().and_then(value_of).and_then(|v| v.parse().ok()).unwrap_or(0);

    let mut latencies: Vec<Duration> = scrapes.iter().map(|s| s.took).collect();
    latencies.sort();
    let p99 = latencies[(latencies.len() * 99).div_ceil(100) - 1];
    let failures: Vec<&Scrape> =
        scrapes.iter().filter(|s| s.body.as_deref() != Ok(reference.as_str())).collect();
    let _ = writeln!(
        std::io::stderr(),
        "{test}: {} scrapes in {RUN:?}: {} failed, p50 {:?}, p99 {p99:?}, max {:?}; \
         Prometheus: {up_count} samples of `up`, min {up_min:?}; the bad clients opened \
         {opened} connections",
        scrapes.len(),
        failures.len(),
        latencies[latencies.len() / 2],
        latencies.last().unwrap(),
    );
    assert!(
        failures.is_empty(),
        "{} of {} scrapes were not answered with the metrics; the first: {:?}",
        failures.len(),
        scrapes.len(),
        failures.iter().take(3).map(|s| (&s.body, s.took)).collect::<Vec<_>>()
    );
    assert!(p99 <= P99_BOUND, "scrape latency p99 {p99:?} is above {P99_BOUND:?}");
    assert_eq!(
        up_min.as_deref(),
        Some("1"),
        "Prometheus saw the target down (min of `up` over the run)\n{}",
        prometheus.diagnostics()
    );
    // About one sample a second: Prometheus did scrape throughout.
    assert!(up_count >= RUN.as_secs() as usize / 2, "only {up_count} scrapes by Prometheus");
    drop(prometheus);
    server.shutdown().unwrap();
}

/// One scrape by the test's own client.
#[derive(Debug)]
struct Scrape {
    took: Duration,
    /// The body of a `200`, or what went wrong.
    body: Result<String, String>,
}

/// Scrapes `addr` every `every` (or at once after a scrape that took longer) for `run`.
fn scrape_every(addr: SocketAddr, every: Duration, run: Duration) -> Vec<Scrape> {
    let start = Instant::now();
    let mut next = start;
    let mut scrapes = Vec::new();
    while next < start + run {
        thread::sleep(next.saturating_duration_since(Instant::now()));
        let began = Instant::now();
        let body = scrape(addr);
        scrapes.push(Scrape { took: began.elapsed(), body });
        next = (next + every).max(Instant::now());
    }
    scrapes
}

/// `GET /metrics` on a fresh connection, within [`SCRAPE_TIMEOUT`]: the body of a `200`.
fn scrape(addr: SocketAddr) -> Result<String, String> {
    let deadline = Instant::now() + SCRAPE_TIMEOUT;
    let left = || deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    let mut stream =
        TcpStream::connect_timeout(&addr, left()).map_err(|e| format!("connect: {e}"))?;
    stream.set_read_timeout(Some(left())).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n")
        .map_err(|e| format!("write: {e}"))?;
    let mut response = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        if Instant::now() >= deadline {
            return Err(format!("no whole response within {SCRAPE_TIMEOUT:?}"));
        }
        stream.set_read_timeout(Some(left())).unwrap();
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            Err(e) => return Err(format!("read after {} bytes: {e}", response.len())),
        }
    }
    let text = String::from_utf8(response).map_err(|e| format!("not UTF-8: {e}"))?;
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return Err(format!("closed without a whole response: {text:?}"));
    };
    if !head.starts_with("HTTP/1.1 200 ") {
        return Err(format!("not a 200: {head:?}"));
    }
    Ok(body.to_owned())
}

/// Runs the idle and slow clients until `stop` turns true; returns how many connections
/// they opened.
fn bad_clients(addr: SocketAddr, stop: watch::Receiver<bool>) -> u64 {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let connections = Arc::new(AtomicU64::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..IDLE_CLIENTS + SLOW_CLIENTS {
            let (mut stop, connections) = (stop.clone(), Arc::clone(&connections));
            let slow = i >= IDLE_CLIENTS;
            tasks.spawn(async move {
                while !*stop.borrow() {
                    // A refused or timed-out connect (a full backlog) is retried at once too.
                    let connect = tokio::net::TcpStream::connect(addr);
                    let stream = tokio::select! {
                        _ = stop.changed() => return,
                        connected = connect => match connected {
                            Ok(stream) => stream,
                            Err(_) => continue,
                        },
                    };
                    connections.fetch_add(1, Ordering::Relaxed);
                    tokio::select! {
                        _ = stop.changed() => return,
                        () = hold(&stream, slow) => {}
                    }
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        connections.load(Ordering::Relaxed)
    })
}

/// Holds `stream` open until the server closes it: silent, or (`slow`) sending an endless
/// request head a byte a second.
async fn hold(stream: &tokio::net::TcpStream, slow: bool) {
    let head = b"GET /metrics HTTP/1.1\r\nHost: tally\r\nX-Slow: ";
    let mut sent = 0usize;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 64];
    loop {
        tokio::select! {
            readable = stream.readable() => {
                if readable.is_err() {
                    return;
                }
                match stream.try_read(&mut buf) {
                    // Closed (or reset): reconnect. Nothing is ever owed to these clients.
                    Ok(_) => return,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(_) => return,
                }
            }
            _ = tick.tick(), if slow => {
                let byte = head.get(sent).copied().unwrap_or(b'a');
                if stream.try_write(&[byte]).is_err() {
                    return;
                }
                sent += 1;
            }
        }
    }
}

/// Raises the soft limit on open files to `wanted` (or the hard limit, if lower).
#[cfg(unix)]
fn raise_fd_limit(wanted: libc::rlim_t) {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable `rlimit` for the call's duration.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return;
    }
    if limit.rlim_cur < wanted {
        limit.rlim_cur = wanted.min(limit.rlim_max);
        // SAFETY: `limit` is a valid `rlimit` read by the call only.
        unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) };
    }
}

#[cfg(not(unix))]
fn raise_fd_limit(_wanted: u64) {}

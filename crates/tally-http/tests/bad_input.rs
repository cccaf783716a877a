//! Bad clients: malformed requests, oversized heads, clients that send nothing or send
//! their head a byte at a time, bodies the server never reads, clients that never read.
//! In every case the bad connection is closed (after its timeout where there is one),
//! other clients are served meanwhile, and the server goes on.

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tally_http::ServerHandle;

use common::{Metrics, connect, get, raw_exchange, raw_status, read_until_closed};

/// The header-read timeout of these tests' servers: short, so that the tests are quick.
/// No test asserts how long a closure took, only that it happened.
const HEADER_TIMEOUT: Duration = Duration::from_millis(300);

fn server(metrics: &Metrics) -> ServerHandle {
    metrics
        .server()
        .header_read_timeout(HEADER_TIMEOUT)
        .request_timeout(Duration::from_secs(5))
        .spawn()
        .unwrap()
}

fn assert_served(addr: SocketAddr) {
    let reply = get(addr, "/metrics", None);
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("inference_total_inferences_total "));
}

#[test]
fn malformed_requests_get_400_and_the_connection_is_closed() {
    let metrics = Metrics::new();
    let server = server(&metrics);
    let addr = server.local_addr();
    for request in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET\r\n\r\n",
        b"GET /metrics\r\n\r\n",
        b"GET /metrics HTTP/9.9\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nno colon in this header\r\n\r\n",
        b"GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"GET /met rics HTTP/1.1\r\nHost: a\r\n\r\n",
        b"\x00\x01\x02\x03\xff\xfe\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello's start
    ] {
        let response = raw_exchange(addr, request);
        // hyper answers what it can parse as a bad request with 400 and closes; bytes that
        // are not HTTP at all may get the connection closed with no answer.
        assert!(
            response.is_empty() || raw_status(&response) == Some(400),
            "{:?} got {:?}",
            String::from_utf8_lossy(request),
            String::from_utf8_lossy(&response)
        );
        assert_served(addr);
    }
    server.shutdown().unwrap();
}

#[test]
fn an_oversized_head_gets_431_or_is_closed() {
    let metrics = Metrics::new();
    let server = metrics.server().max_header_bytes(16 * 1024).spawn().unwrap();
    let addr = server.local_addr();
    let long_value =
        format!("GET /metrics HTTP/1.1\r\nHost: a\r\nX-Long: {}\r\n\r\n", "a".repeat(64 * 1024));
    let many_headers = format!(
        "GET /metrics HTTP/1.1\r\nHost: a\r\n{}\r\n",
        (0..2000).map(|i| format!("X-{i}: v\r\n")).collect::<String>()
    );
    let long_target = format!("GET /metrics?{} HTTP/1.1\r\nHost: a\r\n\r\n", "q".repeat(64 * 1024));
    for request in [long_value, many_headers, long_target] {
        let response = raw_exchange(addr, request.as_bytes());
        let status = raw_status(&response);
        assert!(
            response.is_empty() || matches!(status, Some(431 | 414 | 400)),
            "got {:?}",
            String::from_utf8_lossy(&response[..response.len().min(200)])
        );
        assert_served(addr);
    }
    // A head just under the limit is fine.
    let fits = format!(
        "GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\nX-Fits: {}\r\n\r\n",
        "a".repeat(8 * 1024)
    );
    assert_eq!(raw_status(&raw_exchange(addr, fits.as_bytes())), Some(200));
    server.shutdown().unwrap();
}

#[test]
fn a_client_that_sends_nothing_is_closed_after_the_header_timeout() {
    let metrics = Metrics::new();
    let server = server(&metrics);
    let addr = server.local_addr();
    let mut silent = connect(addr);
    // Served while the silent connection is open.
    assert_served(addr);
    let read = read_until_closed(&mut silent).expect("not closed within 60 s");
    assert!(read.is_empty(), "no response is owed: {:?}", String::from_utf8_lossy(&read));
    assert_served(addr);
    server.shutdown().unwrap();
}

/// Sends a request head a line at a time, forever, until the server closes the connection.
/// Returns whether it was closed (rather than the test's own bound running out), and
/// whatever the server sent.
fn slowloris(addr: SocketAddr, every: Duration) -> (bool, Vec<u8>) {
    let mut stream = connect(addr);
    stream.set_read_timeout(Some(every)).unwrap();
    let mut received = Vec::new();
    let _ = stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n");
    // A bound on the test, not on the server: 60 s of trickling.
    for i in 0..(60_000 / every.as_millis().max(1)) {
        if stream.write_all(format!("X-{i}: v\r\n").as_bytes()).is_err() {
            return (true, received);
        }
        let mut buf = [0u8; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return (true, received),
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (true, received), // reset: closed
        }
    }
    (false, received)
}

#[test]
fn a_slowloris_head_is_cut_off_at_the_header_timeout() {
    let metrics = Metrics::new();
    let server = server(&metrics);
    let addr = server.local_addr();
    let trickler = thread::spawn(move || slowloris(addr, Duration::from_millis(20)));
    // Served while the slow head trickles in.
    for _ in 0..5 {
        assert_served(addr);
    }
    let (closed, received) = trickler.join().unwrap();
    assert!(closed, "a head trickled in for 60 s without the connection being closed");
    assert!(received.is_empty(), "no response is owed: {:?}", String::from_utf8_lossy(&received));
    assert_served(addr);
    server.shutdown().unwrap();
}

#[test]
fn request_bodies_are_not_read() {
    let metrics = Metrics::new();
    let server = server(&metrics);
    let addr = server.local_addr();
    // A megabyte announced, none sent: the answer does not wait for it.
    let response =
        raw_exchange(addr, b"GET /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n");
    assert_eq!(raw_status(&response), Some(200), "{}", String::from_utf8_lossy(&response));
    assert_served(addr);
    server.shutdown().unwrap();
}

#[test]
fn a_client_that_stops_reading_is_disconnected_after_the_request_timeout() {
    let metrics = Metrics::new();
    // Responses of about 230 KB: a few hundred fill the two sockets' buffers (Linux lets a
    // receive buffer grow to 32 MB).
    for i in 0..1500 {
        let model = format!("model-{i}");
        metrics.models.with(&[&model, "eu"], |m| m.record(|e| e.requests().inc())).unwrap();
    }
    metrics.publisher.refresh();
    let server = metrics
        .server()
        .max_age(Duration::from_secs(3600))
        .request_timeout(Duration::from_millis(300))
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    // Pipelines requests and never reads, until a write fails: the server closed the
    // connection (with requests unread, so the client gets a reset). Bounded at 60 s.
    let greedy = thread::spawn(move || {
        let mut stream = connect(addr);
        for _ in 0..6000 {
            if stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").is_err() {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
        }
        false
    });
    // Others are served meanwhile.
    while !greedy.is_finished() {
        assert_served(addr);
        thread::sleep(Duration::from_millis(50));
    }
    assert!(greedy.join().unwrap(), "a client that read nothing for 60 s was never disconnected");
    assert_served(addr);
    server.shutdown().unwrap();
}

/// Dozens of bad clients of every kind at once, while good clients scrape.
#[test]
fn bad_clients_all_at_once_do_not_stop_good_ones() {
    let metrics = Metrics::new();
    let server = server(&metrics);
    let addr = server.local_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let mut bad = Vec::new();
    for i in 0..24 {
        bad.push(thread::spawn(move || match i % 4 {
            0 => {
                let mut silent = connect(addr);
                assert!(read_until_closed(&mut silent).unwrap().is_empty());
            }
            1 => assert!(slowloris(addr, Duration::from_millis(25)).0),
            2 => {
                let response = raw_exchange(addr, b"NOT HTTP AT ALL\r\n\r\n");
                assert!(response.is_empty() || raw_status(&response) == Some(400));
            }
            _ => {
                let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "x".repeat(100_000));
                let response = raw_exchange(addr, huge.as_bytes());
                assert!(response.is_empty() || raw_status(&response) == Some(431));
            }
        }));
    }
    let good: Vec<_> = (0..3)
        .map(|_| {
            let stop = Arc::clone(&stop);
            thread::spawn(move || {
                let mut served = 0;
                while !stop.load(Ordering::SeqCst) || served < 5 {
                    assert_served(addr);
                    served += 1;
                }
                served
            })
        })
        .collect();
    for b in bad {
        b.join().unwrap();
    }
    stop.store(true, Ordering::SeqCst);
    for g in good {
        assert!(g.join().unwrap() >= 5);
    }
    assert_served(addr);
    server.shutdown().unwrap();
}

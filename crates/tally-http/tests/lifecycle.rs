//! Starting and stopping: bind errors that say what to do, graceful shutdown (in-flight
//! responses finish, new connections are refused, idle ones closed), the grace bound, and
//! shutdown by drop.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use tally_http::{MetricsServer, ServeError};

use common::{Metrics, connect, get, raw_status, read_until_closed};

/// Until connecting to `addr` is refused (bounded: 60 s).
fn wait_until_refused(addr: SocketAddr) {
    for _ in 0..6000 {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => return,
            _ => thread::sleep(Duration::from_millis(10)),
        }
    }
    panic!("{addr} still accepts connections 60 s after shutdown began");
}

#[test]
fn binding_a_port_in_use_says_which_address_and_what_to_do() {
    let metrics = Metrics::new();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let err = MetricsServer::builder(metrics.publisher.clone()).bind(addr).spawn().unwrap_err();
    let ServeError::Bind { addr: reported, source } = &err else { panic!("{err:?}") };
    assert_eq!(*reported, addr);
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
    let message = err.to_string();
    assert!(message.contains(&addr.to_string()), "{message}");
    assert!(message.contains("pick another port, or port 0"), "{message}");
}

#[test]
fn shutdown_finishes_the_response_in_flight_and_refuses_new_connections() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .max_age(Duration::ZERO)
        .shutdown_grace(Duration::from_secs(60))
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    metrics.gate.set(true);
    let in_flight = thread::spawn(move || get(addr, "/metrics", None));
    // The request is being handled: its collection is held at the gate.
    metrics.gate.wait_until_waiting();
    let (done, stopped) = mpsc::channel();
    let stopping = thread::spawn(move || done.send(server.shutdown()).unwrap());
    // The listener closes first...
    wait_until_refused(addr);
    // ... while shutdown waits for the response in flight.
    assert!(stopped.try_recv().is_err(), "shutdown returned before the in-flight response");
    metrics.gate.set(false);
    let reply = in_flight.join().unwrap();
    assert_eq!(reply.status, 200);
    assert!(reply.text().contains("\ninference_total_inferences_total 3\n"), "{}", reply.text());
    stopped.recv().unwrap().unwrap();
    stopping.join().unwrap();
    assert!(TcpStream::connect(addr).is_err());
}

#[test]
fn shutdown_closes_idle_connections_without_waiting_for_the_grace() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .header_read_timeout(Duration::from_secs(600))
        .keep_alive_timeout(Duration::from_secs(600))
        .shutdown_grace(Duration::from_secs(600))
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    // A keep-alive connection, served once and then idle; and one that never sent a byte.
    let mut idle = connect(addr);
    idle.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let mut head = [0u8; 12];
    std::io::Read::read_exact(&mut idle, &mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    let mut silent = connect(addr);
    get(addr, "/metrics", None); // the silent one has been accepted by now
    let (done, stopped) = mpsc::channel();
    thread::spawn(move || done.send(server.shutdown()).unwrap());
    // Far below the 600 s grace and timeouts: only a shutdown that closes idle
    // connections at once gets here.
    stopped
        .recv_timeout(Duration::from_secs(60))
        .expect("shutdown waited for idle connections")
        .unwrap();
    assert!(read_until_closed(&mut idle).is_ok());
    assert!(read_until_closed(&mut silent).unwrap().is_empty());
}

#[test]
fn shutdown_does_not_wait_past_the_grace() {
    let metrics = Metrics::new();
    let server = metrics
        .server()
        .max_age(Duration::ZERO)
        .request_timeout(Duration::from_secs(600))
        .shutdown_grace(Duration::from_millis(200))
        .spawn()
        .unwrap();
    let addr = server.local_addr();
    metrics.gate.set(true);
    let mut stuck = connect(addr);
    stuck.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    metrics.gate.wait_until_waiting();
    // The collection never finishes while the gate is closed; shutdown returns anyway.
    server.shutdown().unwrap();
    assert!(read_until_closed(&mut stuck).unwrap().is_empty(), "no response after the grace");
    metrics.gate.set(false);
}

#[test]
fn dropping_the_handle_shuts_the_server_down() {
    let metrics = Metrics::new();
    let server = metrics.server().spawn().unwrap();
    let addr = server.local_addr();
    assert!(server.is_running());
    let mut raw = connect(addr);
    raw.write_all(b"GET /metrics HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(raw_status(&read_until_closed(&mut raw).unwrap()), Some(200));
    drop(server);
    assert!(TcpStream::connect(addr).is_err(), "still accepting after the handle's drop");
}

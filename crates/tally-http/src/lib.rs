//! The `/metrics` HTTP endpoint for tally: a registry's published epochs as Prometheus
//! text, OpenMetrics, protobuf (histograms as native histograms) or JSON, on hyper, with
//! bounded requests and a graceful shutdown.
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tally::{InferenceStats, Registry};
//! use tally_http::MetricsServer;
//!
//! let registry = Arc::new(Registry::new());
//! let stats = registry.register::<InferenceStats>("inference", "The model server.")?;
//!
//! // Its own thread and a small tokio runtime; 127.0.0.1:9464 unless told otherwise.
//! let server = MetricsServer::builder(registry)
//!     .bind("127.0.0.1:0".parse()?) // port 0: the system picks a free one
//!     // Serve an epoch up to this old, else collect first (default 1 s; zero: every
//!     // scrape collects, so the scrape below sees the record made just before it).
//!     .max_age(Duration::ZERO)
//!     .spawn()?;
//! stats.record_inference(true, false);
//!
//! // What a scraper reads (any HTTP client; a bare socket here).
//! use std::io::{Read, Write};
//! let mut scrape = std::net::TcpStream::connect(server.local_addr())?;
//! scrape.write_all(b"GET /metrics HTTP/1.1\r\nHost: tally\r\nConnection: close\r\n\r\n")?;
//! let mut response = String::new();
//! scrape.read_to_string(&mut response)?;
//! assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(response.contains("content-type: text/plain; version=0.0.4; charset=utf-8\r\n"));
//! assert!(response.contains("\ninference_total_inferences_total 1\n"));
//!
//! server.shutdown()?; // graceful: in-flight responses finish, then the thread is joined
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The main items:
//! - [`MetricsServer::builder`] takes a [`SnapshotSource`] (an `Arc<Registry>`,
//!   [`tally::global()`], or a [`Publisher`](tally_epoch::Publisher) of
//!   [`RegistrySnapshot`](tally_snapshot::RegistrySnapshot)s) and gives a
//!   [`MetricsServerBuilder`], whose options bound the server (table on the builder);
//!   [`spawn`](MetricsServerBuilder::spawn) serves on a thread of its own and returns a
//!   [`ServerHandle`] ([`local_addr`](ServerHandle::local_addr),
//!   [`shutdown`](ServerHandle::shutdown), or drop);
//!   [`run`](MetricsServerBuilder::run) serves inside an existing tokio runtime until a
//!   future completes.
//! - [`MetricsService`] ([`MetricsService::new`] or
//!   [`MetricsServerBuilder::service`]): the same endpoint as a tower `Service`, to mount
//!   in the application's own axum or hyper router; it answers every request exactly as
//!   the standalone server does.
//! - [`ServeError`]: what can stop a server (a bind error says which address and what to
//!   do).
//!
//! # Routes
//!
//! | request | response |
//! | --- | --- |
//! | `GET /metrics` | Prometheus text 0.0.4, OpenMetrics 1.0 or the Prometheus protobuf format, chosen by the `Accept` header ([`tally_prometheus::Format::from_accept_with_protobuf`]), with its `Content-Type` and `Vary: accept` |
//! | `GET /metrics.json` | the serde [`RegistrySnapshot`](tally_snapshot::RegistrySnapshot), `application/json` |
//! | `HEAD` of either | the same headers, no body |
//! | another method on either | `405 Method Not Allowed`, `Allow: GET, HEAD` |
//! | any other path | `404 Not Found` |
//!
//! # Native histograms
//!
//! A Prometheus with native histograms enabled (2.42: `--enable-feature=native-histograms`)
//! asks for the protobuf format first, and gets it: every histogram as a native histogram at
//! the resolution of its tally buckets, which `histogram_quantile`, `histogram_count` and
//! `histogram_sum` read (schema, error bound and what else is written: `tally-prometheus`'
//! crate docs, "The protobuf format"). Every other `Accept` header gets what it got before.
//! The protobuf format carries numbers as `f64`, and tally never rounds an integer on its
//! way out: a scrape whose snapshot holds one that no `f64` holds (a counter past 2^53,
//! such as 2^53 + 1) is answered, exactly, in the text format the `Accept` header prefers
//! next (OpenMetrics, for Prometheus), with a `log::warn!` saying why; histograms are then
//! classic for that scrape.
//!
//! # Freshness
//!
//! A scrape is served the publisher's latest epoch while it is younger than
//! [`max_age`](MetricsServerBuilder::max_age) (measured on the publisher's clock, from
//! the start of the epoch's collection); a scrape that finds it older collects a new one
//! with [`Publisher::refresh`](tally_epoch::Publisher::refresh) first. Scrapes that find
//! it stale together share one collection. So scrapers never cost more than one
//! collection per `max_age` between them, and a publisher refreshed elsewhere (a
//! [`spawn_refresher`](tally_epoch::Publisher::spawn_refresher)) more often than that is
//! never collected by the server at all. Collections and encodings run on the tokio
//! blocking pool, never on the threads that drive connections.
//!
//! # Bounds
//!
//! Every connection has a deadline: its request head must arrive within the
//! [header-read timeout](MetricsServerBuilder::header_read_timeout) (from accept, or from
//! its first byte on a keep-alive connection), the response must be ready within the
//! [request timeout](MetricsServerBuilder::request_timeout) (else `503`) and written
//! within it again, and a keep-alive connection's next request must begin within the
//! [keep-alive timeout](MetricsServerBuilder::keep_alive_timeout); a connection past its
//! deadline is closed. Heads above
//! [`max_header_bytes`](MetricsServerBuilder::max_header_bytes) get `431` and are closed;
//! malformed ones get `400` and are closed (hyper's parser decides). Request bodies are
//! never read. Only HTTP/1.x is spoken.
//!
//! At most [`max_connections`](MetricsServerBuilder::max_connections) are open at once,
//! and **idle connections never keep a scraper waiting**. A connection is idle while it
//! has no whole request head: silent since it was accepted, between requests on a
//! keep-alive connection, or sending its head a byte at a time. The server keeps
//! accepting: at the limit, a new connection takes the slot of the connection idle the
//! longest, which is closed (its client, owed no response, may reconnect: it costs the
//! server an accept and a close). A connection with a request in hand keeps its slot
//! until its response is written; only while every slot is such a one does the server
//! stop accepting, and new connections wait in the listen backlog, for at most the
//! request timeout's bounds. A spawned server's backlog holds 1024 connections (or the
//! system's cap): past it, the kernel drops new connections' first packet, which their
//! clients retry a second later.
//!
//! # Shutdown
//!
//! [`ServerHandle::shutdown`] (or the handle's drop, or `run`'s shutdown future) closes
//! the listening socket, so new connections are refused; responses in flight are
//! finished and idle connections closed, for up to the
//! [grace](MetricsServerBuilder::shutdown_grace), after which what is left is closed.
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod builder;
mod config;
mod connection;
mod deadline;
mod error;
mod freshness;
mod handle;
mod routes;
mod serve;
mod service;
mod slots;
mod source;

pub use builder::{DEFAULT_ADDR, MetricsServer, MetricsServerBuilder};
pub use error::ServeError;
pub use handle::ServerHandle;
pub use routes::{JSON_CONTENT_TYPE, SKIPPED_HEADER};
pub use service::{MetricsService, ResponseFuture};
pub use source::SnapshotSource;

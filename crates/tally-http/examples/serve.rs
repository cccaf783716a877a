//! Serves a registry's metrics on `/metrics` while worker threads record into it.
//!
//! ```text
//! cargo run -p tally-http --example serve                      # until Ctrl-C
//! cargo run -p tally-http --example serve -- --seconds 10      # for 10 s
//! cargo run -p tally-http --example serve -- --addr 127.0.0.1:0
//! curl -s http://127.0.0.1:9464/metrics
//! curl -s -H 'Accept: application/openmetrics-text; version=1.0.0' http://127.0.0.1:9464/metrics
//! curl -s http://127.0.0.1:9464/metrics.json
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::Duration;

use tally::{InferenceStats, Registry};
use tally_http::{DEFAULT_ADDR, MetricsServer};

tally::metric_set! {
    /// Per-model token counts.
    pub struct Tokens {
        /// Prompt tokens read.
        prompt: Counter,
        /// Tokens generated.
        generated: Counter,
        /// Requests waiting for a batch slot.
        queued: Gauge,
    }
}

struct Args {
    addr: SocketAddr,
    seconds: Option<u64>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { addr: DEFAULT_ADDR, seconds: None };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--addr" => {
                let v = value("--addr")?;
                args.addr = v.parse().map_err(|e| format!("--addr {v}: {e}"))?;
            }
            "--seconds" => {
                let v = value("--seconds")?;
                args.seconds = Some(v.parse().map_err(|e| format!("--seconds {v}: {e}"))?);
            }
            "-h" | "--help" => {
                return Err("usage: serve [--addr IP:PORT] [--seconds N]".to_owned());
            }
            other => return Err(format!("unknown argument {other:?}; try --help")),
        }
    }
    Ok(args)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let registry = Arc::new(Registry::new());
    let stats = registry.register::<InferenceStats>("inference", "The model server.")?;
    let tokens =
        registry.metric("tokens").help("Tokens per model.").family::<Tokens>(&["model"])?;

    // Background recording: a few workers serving "requests" for three models.
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..3u64)
        .map(|worker| {
            let (stats, tokens, stop) =
                (Arc::clone(&stats), Arc::clone(&tokens), Arc::clone(&stop));
            thread::spawn(move || {
                let models = ["llama-8b", "mistral-7b", "phi-3"];
                let mut i = worker;
                while !stop.load(Ordering::Relaxed) {
                    let latency = Duration::from_micros(200 + (i * 7919) % 5000);
                    #[allow(deprecated)]
                    // issue 22: record_request_with_latency(Outcome, Cache, _)
                    stats.record_inference_with_latency(i % 50 != 0, i % 3 == 0, latency);
                    let model = models[(i % 3) as usize];
                    tokens
                        .with(&[model], |t| {
                            t.record(|e| {
                                e.prompt().add(100 + i % 400);
                                e.generated().add(20 + i % 200);
                            })
                        })
                        .expect("three label values stay under the cardinality limit");
                    i += 3;
                    thread::sleep(Duration::from_millis(2));
                }
            })
        })
        .collect();

    let server = MetricsServer::builder(registry).bind(args.addr).spawn()?;
    let addr = server.local_addr();
    println!("serving http://{addr}/metrics and http://{addr}/metrics.json");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        match args.seconds {
            Some(n) => tokio::time::sleep(Duration::from_secs(n)).await,
            None => {
                println!("Ctrl-C to stop");
                tokio::signal::ctrl_c().await.expect("cannot listen for Ctrl-C");
            }
        }
    });

    server.shutdown()?;
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.join().expect("a worker panicked");
    }
    println!("stopped; {} inferences recorded", stats.snapshot().total_inferences);
    Ok(())
}

//! The load: worker threads serving requests back to back, and async clients on a tokio
//! runtime sending requests through the throttle. All wait at the ready gate until the
//! model has loaded; each counts what it issued in its own local variables.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use tally_sync::tokio::{ReadyGate, Throttle};
use tokio::runtime::Runtime;

use crate::counts::Issued;
use crate::service::Service;

/// Bits of a request id left for the sequence number within one generator.
const SEQ_BITS: u32 = 40;

/// How long an async client takes to read its request off the network while holding its
/// permit (tokio's timer rounds it up to a millisecond): what makes clients queue at the
/// throttle, as they would for a real I/O-bound front end.
const CLIENT_IO: Duration = Duration::from_micros(500);

/// The running generators.
#[derive(Debug)]
pub struct Load {
    stop: Arc<AtomicBool>,
    workers: Vec<JoinHandle<Issued>>,
    clients: Vec<tokio::task::JoinHandle<Issued>>,
    models: usize,
}

/// What the load needs to run.
#[derive(Debug, Clone)]
pub struct LoadSetup {
    /// The service.
    pub service: Arc<Service>,
    /// Opened once the model has loaded.
    pub gate: Arc<ReadyGate>,
    /// Bounds the async clients' requests in flight.
    pub throttle: Arc<Throttle>,
    /// Models (for the per-model counts).
    pub models: usize,
}

impl Load {
    /// Starts `workers` threads and `clients` tasks on `runtime`; they wait for the gate.
    pub fn start(
        setup: &LoadSetup,
        workers: u32,
        clients: u32,
        runtime: &Runtime,
    ) -> std::io::Result<Load> {
        let stop = Arc::new(AtomicBool::new(false));
        let mut load = Load {
            stop: Arc::clone(&stop),
            workers: Vec::new(),
            clients: Vec::new(),
            models: setup.models,
        };
        for w in 0..workers {
            let (mine, flag) = (setup.clone(), Arc::clone(&stop));
            let thread = thread::Builder::new().name(format!("worker-{w}")).spawn(move || {
                mine.gate.wait_blocking();
                let mut issued = Issued::new(mine.models);
                let base = u64::from(w) << SEQ_BITS;
                let mut seq = 0u64;
                // Relaxed: the flag only ends the loop; the counts reach the joiner
                // through `join`.
                while !flag.load(Ordering::Relaxed) {
                    mine.service.serve(base | seq, &mut issued);
                    seq += 1;
                }
                issued
            });
            match thread {
                Ok(t) => load.workers.push(t),
                Err(e) => {
                    // Let the started workers through the gate to see the stop flag.
                    stop.store(true, Ordering::Relaxed);
                    setup.gate.set();
                    load.finish(runtime);
                    return Err(e);
                }
            }
        }
        for c in 0..clients {
            let (setup, stop) = (setup.clone(), Arc::clone(&stop));
            let base = u64::from(workers + c) << SEQ_BITS;
            load.clients.push(runtime.spawn(async move {
                setup.gate.wait().await;
                let mut issued = Issued::new(setup.models);
                let mut seq = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let permit = setup.throttle.acquire().await;
                    tokio::time::sleep(CLIENT_IO).await;
                    // No await while serving: the request's start and end events are
                    // recorded on the same runtime thread.
                    setup.service.serve(base | seq, &mut issued);
                    drop(permit);
                    seq += 1;
                    tokio::task::yield_now().await;
                }
                issued
            }));
        }
        Ok(load)
    }

    /// Stops every generator, waits for each, and adds up what they issued.
    pub fn finish(mut self, runtime: &Runtime) -> Issued {
        self.stop.store(true, Ordering::Relaxed);
        let mut issued = Issued::new(self.models);
        for worker in self.workers.drain(..) {
            issued.add(&worker.join().expect("a worker thread panicked"));
        }
        let clients = std::mem::take(&mut self.clients);
        runtime.block_on(async {
            for client in clients {
                issued.add(&client.await.expect("a client task panicked"));
            }
        });
        issued
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

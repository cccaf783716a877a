//! The accept loop, the connection limit and graceful shutdown.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use tally_epoch::Publisher;
use tally_snapshot::RegistrySnapshot;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::ServeError;
use crate::config::Config;
use crate::connection::serve_connection;
use crate::routes::Endpoint;
use crate::slots::Slots;

/// How long to wait before accepting again when the process is out of file descriptors or
/// buffers: long enough not to spin, short enough that a freed descriptor is used soon.
const RESOURCE_BACKOFF: Duration = Duration::from_millis(100);

/// Serves until `shutdown` completes, then shuts down gracefully.
///
/// Accepts always, then gives the new connection a slot ([`Slots::admit`]): a free one,
/// or the one of the connection idle the longest, which is closed. Only while every slot
/// is busy with a request does the loop wait (and new connections with it, in the
/// kernel's listen backlog), for at most a request's bounds.
pub(crate) async fn serve(
    listener: TcpListener,
    publisher: Publisher<RegistrySnapshot>,
    config: Config,
    shutdown: impl Future<Output = ()>,
) -> Result<(), ServeError> {
    let config = Arc::new(config);
    let endpoint = Arc::new(Endpoint::new(publisher, &config));
    let slots = Slots::new(config.max_connections);
    let (stop_connections, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);

    let result = loop {
        // Reap finished connections so that the set holds only live ones.
        while connections.try_join_next().is_some() {}
        let stream = tokio::select! {
            () = &mut shutdown => break Ok(()),
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) if is_connection_error(&e) => continue,
                Err(e) if is_resource_error(&e) => {
                    tokio::time::sleep(RESOURCE_BACKOFF).await;
                    continue;
                }
                Err(source) => {
                    let addr = listener
                        .local_addr()
                        .map_or_else(|_| "(unknown address)".to_owned(), |a| a.to_string());
                    break Err(ServeError::Accept { addr, source });
                }
            },
        };
        let slot = tokio::select! {
            () = &mut shutdown => break Ok(()),
            slot = slots.admit() => slot,
        };
        // Responses are written whole: no reason to hold their last segment back.
        let _ = stream.set_nodelay(true);
        connections.spawn(serve_connection(
            stream,
            Arc::clone(&endpoint),
            Arc::clone(&config),
            stopping.clone(),
            slot,
        ));
    };

    // Stop accepting: from here on, connecting is refused.
    drop(listener);
    // Each connection finishes its response in flight, then closes; idle ones close now.
    stop_connections.send_replace(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        // Past the grace: close what is left.
        connections.shutdown().await;
    }
    result
}

/// An error that concerns the one connection being accepted.
fn is_connection_error(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
            | io::ErrorKind::TimedOut
    )
}

/// The process is out of something (file descriptors, buffers, memory) that ending
/// connections frees.
fn is_resource_error(e: &io::Error) -> bool {
    if e.kind() == io::ErrorKind::OutOfMemory {
        return true;
    }
    // EMFILE, ENFILE, ENOMEM, ENOBUFS (whose number differs between Linux and the BSDs).
    #[cfg(unix)]
    {
        const EMFILE: i32 = 24;
        const ENFILE: i32 = 23;
        const ENOMEM: i32 = 12;
        #[cfg(any(target_os = "linux", target_os = "android"))]
        const ENOBUFS: i32 = 105;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        const ENOBUFS: i32 = 55;
        matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOMEM | ENOBUFS))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

//! What can go wrong starting or running the endpoint.

use std::io;
use std::net::SocketAddr;

/// Why the metrics endpoint could not start, or stopped with an error.
///
/// Errors that concern one client (a malformed request, a client that went away, one that
/// timed out) are not errors of the server: that client's connection is closed and the
/// server goes on.
///
/// # Examples
///
/// ```
/// use tally_http::{MetricsServer, ServeError};
///
/// let publisher = tally_epoch::Publisher::new(tally_snapshot::RegistrySnapshot::default);
/// let first = MetricsServer::builder(publisher.clone()).bind("127.0.0.1:0".parse()?).spawn()?;
/// // The same port again: refused, with the address and what to do.
/// let err = MetricsServer::builder(publisher).bind(first.local_addr()).spawn().unwrap_err();
/// assert!(matches!(err, ServeError::Bind { addr, .. } if addr == first.local_addr()));
/// assert!(err.to_string().contains("port 0"));
/// first.shutdown()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServeError {
    /// The listening socket could not be bound.
    #[error("cannot serve metrics on {addr}: {source}; {}", bind_advice(source))]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// Accepting connections failed for a reason that is not one client's (the listening
    /// socket itself is broken).
    #[error(
        "the metrics endpoint on {addr} stopped accepting connections: {source}; start it \
         again on a fresh listener"
    )]
    Accept {
        /// The address served, as far as it is known.
        addr: String,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The endpoint's tokio runtime could not be built.
    #[error(
        "cannot build the metrics endpoint's tokio runtime: {0}; the process may be out of \
         threads or file descriptors"
    )]
    Runtime(#[source] io::Error),
    /// The endpoint's thread could not be spawned.
    #[error(
        "cannot spawn the metrics endpoint's thread: {0}; the process may be out of threads \
         or memory"
    )]
    Thread(#[source] io::Error),
    /// The endpoint's thread panicked (a bug: please report it with the message).
    #[error("the metrics endpoint's thread panicked: {message}; this is a bug in tally-http")]
    Panicked {
        /// The panic's message, when it was a string.
        message: String,
    },
}

/// What to do about a bind error, by its kind.
fn bind_advice(err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::AddrInUse => {
            "another socket holds this port: pick another port, or port 0 for a free one \
             (then read the port from `ServerHandle::local_addr`)"
        }
        io::ErrorKind::PermissionDenied => {
            "ports below 1024 need privileges: pick a port above 1023, or port 0 for a free one"
        }
        io::ErrorKind::AddrNotAvailable => {
            "this machine has no such address: bind 127.0.0.1 (local scrapers), 0.0.0.0 (all \
             interfaces) or one of the machine's own addresses"
        }
        _ => "check the address, or bind 127.0.0.1:0 to let the system pick a free port",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_errors_name_the_address_and_what_to_do() {
        let addr: SocketAddr = "127.0.0.1:9464".parse().unwrap();
        let in_use = ServeError::Bind { addr, source: io::ErrorKind::AddrInUse.into() };
        let text = in_use.to_string();
        assert!(text.contains("127.0.0.1:9464"), "{text}");
        assert!(text.contains("pick another port, or port 0"), "{text}");
        let denied = ServeError::Bind { addr, source: io::ErrorKind::PermissionDenied.into() };
        assert!(denied.to_string().contains("above 1023"), "{denied}");
    }
}

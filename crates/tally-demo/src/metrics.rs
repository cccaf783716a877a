//! `/metrics` on 127.0.0.1 while the demo runs, through `tally_http`, serving the same
//! published epochs the readers check.

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr};

use tally::RegistrySnapshot;
use tally::epoch::Publisher;
use tally_http::{MetricsServer, ServeError, ServerHandle};

use crate::error::DemoError;

/// Starts the endpoint on `127.0.0.1:port` (0: any free port).
///
/// # Errors
///
/// [`DemoError::PortInUse`] when the port is taken; [`DemoError::Metrics`] otherwise.
pub fn serve(publisher: Publisher<RegistrySnapshot>, port: u16) -> Result<ServerHandle, DemoError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    MetricsServer::builder(publisher).bind(addr).spawn().map_err(|e| match e {
        ServeError::Bind { source, .. } if source.kind() == ErrorKind::AddrInUse => {
            DemoError::PortInUse { port }
        }
        other => DemoError::Metrics(other),
    })
}

//! One push: a snapshot encoded as Prometheus text and sent to the gateway.

use std::time::Duration;

use tally_prometheus::{EncodeOptions, Format, TEXT_CONTENT_TYPE};
use tally_snapshot::RegistrySnapshot;

use crate::{Grouping, PushError};

/// How long one request to the gateway may take, connection included, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// Pushes snapshots of one group to one Pushgateway.
///
/// Every push is cumulative (each counter since the job started), so a push that fails
/// loses nothing the next one does not carry.
#[derive(Debug, Clone)]
pub struct Pusher {
    agent: ureq::Agent,
    url: String,
    grouping: Grouping,
    options: EncodeOptions,
}

impl Pusher {
    /// A pusher to the gateway at `gateway` (`http://host:9091`, or a path prefix under
    /// it) for the group `grouping`, with a [`DEFAULT_TIMEOUT`] per request.
    ///
    /// # Errors
    ///
    /// [`PushError::InvalidUrl`] for a URL that is not `http://…` (or `https://…` with the
    /// `tls` feature).
    pub fn new(gateway: &str, grouping: Grouping) -> Result<Pusher, PushError> {
        Pusher::with_timeout(gateway, grouping, DEFAULT_TIMEOUT)
    }

    /// As [`new`](Self::new), each request bounded by `timeout`.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_timeout(
        gateway: &str,
        grouping: Grouping,
        timeout: Duration,
    ) -> Result<Pusher, PushError> {
        let invalid = |why| PushError::InvalidUrl { url: gateway.to_owned(), why };
        let rest = if let Some(rest) = gateway.strip_prefix("http://") {
            rest
        } else if let Some(rest) = gateway.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(invalid("https needs the `tls` feature of tally-push"));
            }
            rest
        } else {
            return Err(invalid("it does not start with http:// or https://"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it has no host"));
        }
        if rest.contains(['?', '#']) {
            return Err(invalid("it has a query or a fragment"));
        }
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .build()
            .into();
        let url = format!("{}{}", gateway.trim_end_matches('/'), grouping.path());
        Ok(Pusher { agent, url, grouping, options: EncodeOptions::default() })
    }

    /// Encodes with `options` (histogram bounds, units) instead of the defaults.
    pub fn encode_options(mut self, options: EncodeOptions) -> Pusher {
        self.options = options;
        self
    }

    /// The URL pushes go to.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The grouping key.
    pub fn grouping(&self) -> &Grouping {
        &self.grouping
    }

    /// Replaces everything the group held with `snapshot` (HTTP `PUT`): what a job pushes
    /// each time, so that the group shows exactly its latest snapshot.
    ///
    /// # Errors
    ///
    /// [`PushError::Status`] when the gateway refuses it (its message says why),
    /// [`PushError::Transport`] when it cannot be reached.
    pub fn push(&self, snapshot: &RegistrySnapshot) -> Result<(), PushError> {
        self.send("PUT", snapshot)
    }

    /// Replaces the metrics of the group that `snapshot` has, keeping the others (HTTP
    /// `POST`): for several pushers sharing one group, each with its own metric names.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn push_add(&self, snapshot: &RegistrySnapshot) -> Result<(), PushError> {
        self.send("POST", snapshot)
    }

    /// Deletes the group from the gateway (HTTP `DELETE`): the gateway keeps a group until
    /// it is deleted, so a job whose figures should not outlive it deletes its group once
    /// they were scraped.
    ///
    /// # Errors
    ///
    /// As [`push`](Self::push).
    pub fn delete(&self) -> Result<(), PushError> {
        let result = self.agent.delete(&self.url).call();
        self.answer("DELETE", result)
    }

    fn send(&self, method: &'static str, snapshot: &RegistrySnapshot) -> Result<(), PushError> {
        let mut body = String::new();
        tally_prometheus::encode(snapshot, Format::Text, &self.options, &mut body);
        let request =
            if method == "PUT" { self.agent.put(&self.url) } else { self.agent.post(&self.url) };
        let result = request.header("content-type", TEXT_CONTENT_TYPE).send(body.as_bytes());
        self.answer(method, result)
    }

    fn answer(
        &self,
        method: &'static str,
        result: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<(), PushError> {
        let mut response = result.map_err(|source| PushError::Transport {
            method,
            url: self.url.clone(),
            source: Box::new(source),
        })?;
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            return Ok(());
        }
        let message = response
            .body_mut()
            .with_config()
            .limit(4096)
            .read_to_string()
            .unwrap_or_else(|e| format!("(unreadable: {e})"));
        Err(PushError::Status {
            method,
            url: self.url.clone(),
            status,
            message: message.trim().to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_joined_with_the_grouping_path() {
        let g = Grouping::new("eval").unwrap();
        let p = Pusher::new("http://localhost:9091/", g.clone()).unwrap();
        assert_eq!(p.url(), "http://localhost:9091/metrics/job/eval");
        let p = Pusher::new("http://gw:9091/prefix", g.clone()).unwrap();
        assert_eq!(p.url(), "http://gw:9091/prefix/metrics/job/eval");
        for bad in ["localhost:9091", "http://", "ftp://x", "http://h/?q=1"] {
            let err = Pusher::new(bad, g.clone()).unwrap_err();
            assert!(matches!(err, PushError::InvalidUrl { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn an_unreachable_gateway_is_a_transient_transport_error() {
        // A port nothing listens on: bound, noted, let go.
        let addr = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
        let p = Pusher::new(&format!("http://{addr}"), Grouping::new("j").unwrap()).unwrap();
        let err = p.push(&RegistrySnapshot::default()).unwrap_err();
        assert!(matches!(err, PushError::Transport { .. }), "{err}");
        assert!(err.is_transient());
        assert!(err.to_string().contains("is the pushgateway running there?"), "{err}");
    }
}

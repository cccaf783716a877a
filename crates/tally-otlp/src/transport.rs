//! Posting an encoded request to the receiver and reading its answer.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceResponse;
use prost::Message;

use crate::ExportError;

/// The content type of OTLP/HTTP protobuf.
const PROTOBUF: &str = "application/x-protobuf";
/// The most of an error answer kept in a report.
const MESSAGE_LIMIT: usize = 512;

/// Where and how exports are posted.
#[derive(Debug)]
pub(crate) struct Client {
    agent: ureq::Agent,
    url: String,
    headers: Vec<(String, String)>,
    timeout: Duration,
}

/// What the receiver said to an accepted export.
#[derive(Debug, Default)]
pub(crate) struct Accepted {
    /// Points it says it rejected (OTLP's partial success).
    pub rejected_points: u64,
    /// Why, if it said.
    pub message: String,
}

impl Client {
    pub fn new(
        url: String,
        headers: Vec<(String, String)>,
        timeout: Duration,
    ) -> Result<Client, ExportError> {
        let invalid = |why| ExportError::InvalidEndpoint { url: url.clone(), why };
        let rest = if let Some(rest) = url.strip_prefix("http://") {
            rest
        } else if let Some(rest) = url.strip_prefix("https://") {
            if !cfg!(feature = "tls") {
                return Err(invalid("https needs the `tls` feature of tally-otlp"));
            }
            rest
        } else {
            return Err(invalid("it does not start with http:// or https://"));
        };
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it has no host"));
        }
        if rest.contains(['#', ' ']) {
            return Err(invalid("it has a fragment or a space"));
        }
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        Ok(Client { agent, url, headers, timeout })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Posts `body`, waiting at most `limit` (or the configured timeout if shorter).
    pub fn post(&self, body: &[u8], limit: Option<Duration>) -> Result<Accepted, ExportError> {
        let timeout = limit.map_or(self.timeout, |l| l.min(self.timeout));
        let mut request = self
            .agent
            .post(&self.url)
            .config()
            .timeout_global(Some(timeout))
            .build()
            .header("content-type", PROTOBUF);
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let mut response = request.send(body).map_err(|source| ExportError::Transport {
            url: self.url.clone(),
            source: Box::new(source),
        })?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes =
            response.body_mut().with_config().limit(1 << 20).read_to_vec().unwrap_or_default();
        if (200..300).contains(&status) {
            // An empty body is a full success; a partial success says what was rejected.
            let answer = ExportMetricsServiceResponse::decode(bytes.as_slice()).unwrap_or_default();
            let partial = answer.partial_success.unwrap_or_default();
            return Ok(Accepted {
                rejected_points: u64::try_from(partial.rejected_data_points).unwrap_or(0),
                message: partial.error_message,
            });
        }
        let mut message =
            String::from_utf8_lossy(&bytes[..bytes.len().min(MESSAGE_LIMIT)]).trim().to_owned();
        if message.chars().any(|c| c.is_control() && c != '\n') {
            // A google.rpc.Status in protobuf: its printable runs say enough.
            message = message.chars().filter(|c| !c.is_control()).collect();
        }
        Err(ExportError::Status { url: self.url.clone(), status, message, retry_after })
    }
}

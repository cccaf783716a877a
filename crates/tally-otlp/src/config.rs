//! Setting an exporter up: where, who (resource attributes), how (temporality, buffer,
//! timeouts), in code or from the standard `OTEL_*` environment variables.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::ExportError;
use crate::convert::{Converter, Temporality};
use crate::exporter::OtlpExporter;
use crate::transport::Client;

/// The default time one export may take before it counts as failed (the OTLP
/// specification's default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// The default number of batches kept for a receiver that is down or overloaded.
pub const DEFAULT_BUFFER: usize = 16;
/// The default time [`OtlpLoop::finish`](crate::OtlpLoop::finish) keeps trying to deliver
/// what is left.
pub const DEFAULT_FLUSH_TIMEOUT: Duration = Duration::from_secs(5);

/// How an [`OtlpExporter`] is set up; [`OtlpExporter::builder`] makes one.
///
/// ```
/// use std::time::Duration;
/// use tally_otlp::{OtlpExporter, Temporality};
/// let exporter = OtlpExporter::builder()
///     .endpoint("http://collector:4318")
///     .service_name("inference")
///     .service_instance_id("pod-7")
///     .resource_attribute("deployment.environment", "prod")
///     .temporality(Temporality::Delta)
///     .buffer(32)
///     .timeout(Duration::from_secs(5))
///     .build()?;
/// assert_eq!(exporter.url(), "http://collector:4318/v1/metrics");
/// # Ok::<(), tally_otlp::ExportError>(())
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct Builder {
    url: Option<String>,
    service_name: Option<String>,
    instance: Option<String>,
    attributes: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    temporality: Temporality,
    buffer: usize,
    timeout: Duration,
    flush_timeout: Duration,
    start: Option<SystemTime>,
    bad: Option<(String, String)>,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            url: None,
            service_name: None,
            instance: None,
            attributes: Vec::new(),
            headers: Vec::new(),
            temporality: Temporality::Cumulative,
            buffer: DEFAULT_BUFFER,
            timeout: DEFAULT_TIMEOUT,
            flush_timeout: DEFAULT_FLUSH_TIMEOUT,
            start: None,
            bad: None,
        }
    }
}

impl Builder {
    /// The receiver's base URL (`OTEL_EXPORTER_OTLP_ENDPOINT`): metrics go to
    /// `<endpoint>/v1/metrics`. Default `http://localhost:4318`.
    pub fn endpoint(mut self, base: &str) -> Self {
        self.url = Some(format!("{}/v1/metrics", base.trim_end_matches('/')));
        self
    }

    /// The full URL metrics are posted to, used as given
    /// (`OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`).
    pub fn metrics_endpoint(mut self, url: &str) -> Self {
        self.url = Some(url.to_owned());
        self
    }

    /// The resource's `service.name` (default `unknown_service:<executable>`, as the
    /// OpenTelemetry SDKs do); it wins over a `service.name` resource attribute.
    pub fn service_name(mut self, name: &str) -> Self {
        self.service_name = Some(name.to_owned());
        self
    }

    /// The resource's `service.instance.id`: which replica this is (a pod name, a host and
    /// port). None by default.
    pub fn service_instance_id(mut self, id: &str) -> Self {
        self.instance = Some(id.to_owned());
        self
    }

    /// Another resource attribute (a string), which overrides a default of the same key.
    pub fn resource_attribute(mut self, key: &str, value: &str) -> Self {
        if key.is_empty() && self.bad.is_none() {
            self.bad = Some(("a resource attribute".into(), "its key is empty".into()));
        }
        self.attributes.retain(|(k, _)| k != key);
        self.attributes.push((key.to_owned(), value.to_owned()));
        self
    }

    /// A header sent with every export (an API key, a tenant).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        let valid_name =
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic() && b != b':');
        let valid_value = value.bytes().all(|b| b == b'\t' || (b' '..=b'~').contains(&b));
        if !(valid_name && valid_value) && self.bad.is_none() {
            self.bad = Some((
                format!("header {name:?}"),
                "a header name is visible ASCII without ':', its value printable ASCII".into(),
            ));
        }
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Cumulative (default) or delta points.
    pub fn temporality(mut self, temporality: Temporality) -> Self {
        self.temporality = temporality;
        self
    }

    /// How many batches to keep while the receiver is down or overloaded (default
    /// [`DEFAULT_BUFFER`], at least 1): beyond it the oldest is dropped, and reported.
    pub fn buffer(mut self, batches: usize) -> Self {
        self.buffer = batches.max(1);
        self
    }

    /// How long one export may take (default [`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long finishing keeps trying to deliver what is left (default
    /// [`DEFAULT_FLUSH_TIMEOUT`]).
    pub fn flush_timeout(mut self, timeout: Duration) -> Self {
        self.flush_timeout = timeout;
        self
    }

    /// When the counters started (cumulative points' `start_time_unix_nano`): default,
    /// when the exporter is built. Give the registry's creation time if it is older.
    pub fn start_time(mut self, start: SystemTime) -> Self {
        self.start = Some(start);
        self
    }

    /// Applies the standard OpenTelemetry environment variables that are set:
    /// `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`,
    /// `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`,
    /// `OTEL_EXPORTER_OTLP_METRICS_HEADERS`, `OTEL_EXPORTER_OTLP_TIMEOUT`,
    /// `OTEL_EXPORTER_OTLP_METRICS_TIMEOUT` (milliseconds),
    /// `OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE` (`cumulative`, `delta`,
    /// `lowmemory`), and `OTEL_EXPORTER_OTLP_PROTOCOL`/`…_METRICS_PROTOCOL` (only
    /// `http/protobuf` is spoken). A malformed one makes [`build`](Self::build) fail,
    /// naming it.
    pub fn from_env(self) -> Self {
        self.from_vars(|name| std::env::var(name).ok())
    }

    /// [`from_env`](Self::from_env) with the variables looked up by `var`.
    pub fn from_vars(mut self, var: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        for name in ["OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_METRICS_PROTOCOL"] {
            if let Some(p) = get(name)
                && p.trim() != "http/protobuf"
            {
                self.fail(name, &format!("{p:?}: tally-otlp speaks only http/protobuf"));
            }
        }
        if let Some(base) = get("OTEL_EXPORTER_OTLP_ENDPOINT") {
            self = self.endpoint(base.trim());
        }
        if let Some(url) = get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") {
            self = self.metrics_endpoint(url.trim());
        }
        if let Some(attrs) = get("OTEL_RESOURCE_ATTRIBUTES") {
            match parse_pairs(&attrs) {
                Ok(pairs) => {
                    for (k, v) in pairs {
                        self = self.resource_attribute(&k, &v);
                    }
                }
                Err(why) => self.fail("OTEL_RESOURCE_ATTRIBUTES", &why),
            }
        }
        if let Some(name) = get("OTEL_SERVICE_NAME") {
            self = self.service_name(name.trim());
        }
        for name in ["OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_METRICS_HEADERS"] {
            if let Some(headers) = get(name) {
                match parse_pairs(&headers) {
                    Ok(pairs) => {
                        for (k, v) in pairs {
                            self.headers.retain(|(h, _)| !h.eq_ignore_ascii_case(&k));
                            self = self.header(&k, &v);
                        }
                    }
                    Err(why) => self.fail(name, &why),
                }
            }
        }
        for name in ["OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_METRICS_TIMEOUT"] {
            if let Some(ms) = get(name) {
                match ms.trim().parse::<u64>() {
                    Ok(ms) => self.timeout = Duration::from_millis(ms),
                    Err(_) => self.fail(name, &format!("{ms:?} is not a number of milliseconds")),
                }
            }
        }
        if let Some(t) = get("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE") {
            match t.trim().to_ascii_lowercase().as_str() {
                "cumulative" => self.temporality = Temporality::Cumulative,
                // tally's counters are monotonic and its histograms synchronous: both
                // low-memory and delta preferences send them as deltas.
                "delta" | "lowmemory" => self.temporality = Temporality::Delta,
                _ => self.fail(
                    "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
                    &format!("{t:?}: use cumulative, delta or lowmemory"),
                ),
            }
        }
        self
    }

    fn fail(&mut self, what: &str, why: &str) {
        if self.bad.is_none() {
            self.bad = Some((what.to_owned(), why.to_owned()));
        }
    }

    /// The exporter.
    ///
    /// # Errors
    ///
    /// [`ExportError::InvalidEndpoint`] for a URL that is not `http://…` (or `https://…`
    /// with the `tls` feature); [`ExportError::InvalidSetting`] for a malformed header,
    /// attribute or environment variable.
    pub fn build(self) -> Result<OtlpExporter, ExportError> {
        if let Some((what, why)) = self.bad {
            return Err(ExportError::InvalidSetting { what, why });
        }
        let url = self.url.unwrap_or_else(|| "http://localhost:4318/v1/metrics".to_owned());
        let client = Client::new(url, self.headers, self.timeout)?;
        let mut attributes = self.attributes;
        if self.service_name.is_some() {
            // `service_name` (and `OTEL_SERVICE_NAME`) win over a `service.name` attribute,
            // as the specification orders them.
            attributes.retain(|(k, _)| k != "service.name");
        }
        let service = self.service_name.unwrap_or_else(default_service_name);
        let mut resource = vec![
            ("service.name".to_owned(), service),
            ("telemetry.sdk.name".to_owned(), "tally".to_owned()),
            ("telemetry.sdk.language".to_owned(), "rust".to_owned()),
            ("telemetry.sdk.version".to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ];
        if let Some(id) = self.instance {
            resource.push(("service.instance.id".to_owned(), id));
        }
        for (k, v) in attributes {
            resource.retain(|(key, _)| *key != k);
            resource.push((k, v));
        }
        let start = unix_ns(self.start.unwrap_or_else(SystemTime::now));
        let converter = Converter::new(resource, self.temporality, start);
        Ok(OtlpExporter::new_from_parts(client, converter, self.buffer, self.flush_timeout))
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
pub(crate) fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// `unknown_service:<executable name>`, the OpenTelemetry default.
fn default_service_name() -> String {
    let exe = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_name().and_then(|n| n.to_str()).map(str::to_owned));
    match exe {
        Some(exe) => format!("unknown_service:{exe}"),
        None => "unknown_service".to_owned(),
    }
}

/// `key=value,key2=value2`, values percent-decoded (the W3C Baggage form the `OTEL_*`
/// variables use).
fn parse_pairs(s: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some((k, v)) = item.split_once('=') else {
            return Err(format!("{item:?} is not key=value; write key=value,key2=value2"));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() {
            return Err(format!("{item:?} has an empty key"));
        }
        out.push((percent_decode(k)?, percent_decode(v)?));
    }
    Ok(out)
}

fn percent_decode(s: &str) -> Result<String, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok());
            let Some(b) = hex else {
                return Err(format!("{s:?} has a '%' not followed by two hex digits"));
            };
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("{s:?} does not decode to UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
    }

    #[test]
    fn the_standard_environment_variables_set_the_exporter_up() {
        let e = Builder::default()
            .from_vars(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
                ("OTEL_SERVICE_NAME", "inference"),
                (
                    "OTEL_RESOURCE_ATTRIBUTES",
                    "service.name=ignored, region=eu%2Dwest,k8s.pod.name=p-1",
                ),
                ("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret"),
                ("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "Delta"),
            ]))
            .build()
            .unwrap();
        assert_eq!(e.url(), "http://collector:4318/v1/metrics");
        assert_eq!(e.temporality(), Temporality::Delta);
        let r = e.resource();
        assert!(r.contains(&("service.name".into(), "inference".into())), "{r:?}");
        assert!(r.contains(&("region".into(), "eu-west".into())), "{r:?}");
        assert!(r.contains(&("k8s.pod.name".into(), "p-1".into())), "{r:?}");
        let e = Builder::default()
            .from_vars(vars(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318"),
                ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "http://other:4318/custom"),
            ]))
            .build()
            .unwrap();
        assert_eq!(e.url(), "http://other:4318/custom");
    }

    #[test]
    fn malformed_settings_are_refused_naming_the_variable() {
        for (bad, named) in [
            (&[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")][..], "OTEL_EXPORTER_OTLP_PROTOCOL"),
            (&[("OTEL_RESOURCE_ATTRIBUTES", "noequals")][..], "OTEL_RESOURCE_ATTRIBUTES"),
            (&[("OTEL_EXPORTER_OTLP_HEADERS", "k=%zz")][..], "OTEL_EXPORTER_OTLP_HEADERS"),
            (&[("OTEL_EXPORTER_OTLP_TIMEOUT", "5s")][..], "OTEL_EXPORTER_OTLP_TIMEOUT"),
            (
                &[("OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", "sometimes")][..],
                "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE",
            ),
        ] {
            let err = Builder::default().from_vars(vars(bad)).build().unwrap_err();
            assert!(err.to_string().contains(named), "{err}");
        }
        let err = Builder::default().endpoint("localhost:4318").build().unwrap_err();
        assert!(matches!(err, ExportError::InvalidEndpoint { .. }), "{err}");
        let err = Builder::default().header("bad:name", "v").build().unwrap_err();
        assert!(err.to_string().contains("bad:name"), "{err}");
    }

    #[test]
    fn the_default_service_name_names_the_executable() {
        let e = Builder::default().build().unwrap();
        let name = &e.resource()[0];
        assert_eq!(name.0, "service.name");
        assert!(name.1.starts_with("unknown_service:"), "{name:?}");
    }
}

//! The exposition formats, their content types, and choosing one from an HTTP `Accept`
//! header.

/// The `Content-Type` of the Prometheus text format 0.0.4 ([`Format::Text`]).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of the OpenMetrics 1.0 text format ([`Format::OpenMetrics`]).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// The `Content-Type` of the Prometheus protobuf format ([`Format::Protobuf`]): length-delimited
/// `io.prometheus.client.MetricFamily` messages, as the Prometheus client libraries write it.
pub const PROTOBUF_CONTENT_TYPE: &str =
    "application/vnd.google.protobuf; proto=io.prometheus.client.MetricFamily; encoding=delimited";

/// An exposition format.
///
/// # Examples
///
/// ```
/// use tally_prometheus::Format;
///
/// // What Prometheus 2.x sends when it scrapes.
/// let accept = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
///               version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
/// assert_eq!(Format::from_accept(accept), Format::OpenMetrics);
/// assert_eq!(Format::from_accept("text/plain"), Format::Text);
/// // curl, a browser, or no header at all: the classic text format.
/// assert_eq!(Format::from_accept("*/*"), Format::Text);
/// assert_eq!(Format::from_accept(""), Format::Text);
/// assert_eq!(Format::OpenMetrics.content_type(), tally_prometheus::OPENMETRICS_CONTENT_TYPE);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Format {
    /// The Prometheus text format, version 0.0.4: what every Prometheus version and most
    /// other scrapers read. No units; a counter's `# TYPE` line names its `_total` sample.
    #[default]
    Text,
    /// OpenMetrics 1.0 text: `# UNIT` lines, counter families named without `_total`, and a
    /// closing `# EOF`.
    OpenMetrics,
    /// The Prometheus protobuf format: length-delimited `io.prometheus.client.MetricFamily`
    /// messages ([`proto`](crate::proto)), with histograms as **native histograms**, which
    /// Prometheus asks for first when its native histograms are enabled. Binary: written by
    /// [`encode_bytes`](crate::encode_bytes) and [`encode_protobuf`](crate::encode_protobuf),
    /// not by [`encode`](crate::encode) into a `String`; negotiated only by
    /// [`from_accept_with_protobuf`](Format::from_accept_with_protobuf). See the crate docs,
    /// "The protobuf format".
    Protobuf,
}

impl Format {
    /// The `Content-Type` header value to answer with:
    /// [`TEXT_CONTENT_TYPE`], [`OPENMETRICS_CONTENT_TYPE`] or [`PROTOBUF_CONTENT_TYPE`].
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
            Format::Protobuf => PROTOBUF_CONTENT_TYPE,
        }
    }

    /// Whether the format is text (written into a `String` by [`encode`](crate::encode)):
    /// true for [`Text`](Format::Text) and [`OpenMetrics`](Format::OpenMetrics).
    pub const fn is_text(self) -> bool {
        matches!(self, Format::Text | Format::OpenMetrics)
    }

    /// The text format to answer a request whose `Accept` header is `accept` with: never
    /// [`Format::Protobuf`], so that what it returns can be written into a `String` by
    /// [`encode`](crate::encode). A server that can send bytes negotiates with
    /// [`from_accept_with_protobuf`](Format::from_accept_with_protobuf) instead.
    ///
    /// Media ranges are weighed by their `q` parameter (1 if absent; 0 or unparsable means
    /// "not acceptable"), and the highest wins; at equal weight an explicitly named type
    /// beats a wildcard, and then the first listed wins.
    /// - `application/openmetrics-text` with `version` 1.0.0, 0.0.1 or none:
    ///   [`Format::OpenMetrics`] (0.0.1 is what Prometheus asks for besides 1.0.0, and 1.0
    ///   output is what servers answer it with). Other versions are not acceptable.
    /// - `text/plain` of any version (Prometheus 3 also asks for `version=1.0.0`, of which
    ///   the 0.0.4 output with legacy names is a valid instance), `text/*` and `*/*`:
    ///   [`Format::Text`].
    ///
    /// Anything else, an empty header, or nothing acceptable gives [`Format::Text`], the
    /// format every scraper reads (answering rather than refusing with 406, as the
    /// Prometheus client libraries do).
    pub fn from_accept(accept: &str) -> Format {
        negotiate(accept, false)
    }

    /// The format to answer a request whose `Accept` header is `accept` with, the protobuf
    /// format included: as [`from_accept`](Format::from_accept), and
    /// `application/vnd.google.protobuf` with `proto=io.prometheus.client.MetricFamily` and
    /// `encoding=delimited` (both required, as the Prometheus client libraries require
    /// them) is [`Format::Protobuf`], an explicitly named type.
    ///
    /// ```
    /// use tally_prometheus::Format;
    ///
    /// // What Prometheus 2.42 sends with `--enable-feature=native-histograms`.
    /// let accept = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
    ///               encoding=delimited,application/openmetrics-text;version=1.0.0;q=0.8,\
    ///               application/openmetrics-text;version=0.0.1;q=0.75,\
    ///               text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::from_accept_with_protobuf(accept), Format::Protobuf);
    /// // The same header where only text can be answered.
    /// assert_eq!(Format::from_accept(accept), Format::OpenMetrics);
    /// // Another encoding of the messages is not this format.
    /// let text_proto = "application/vnd.google.protobuf;proto=io.prometheus.client.MetricFamily;\
    ///                   encoding=text";
    /// assert_eq!(Format::from_accept_with_protobuf(text_proto), Format::Text);
    /// ```
    pub fn from_accept_with_protobuf(accept: &str) -> Format {
        negotiate(accept, true)
    }
}

/// [`Format::from_accept`], and the protobuf format too where `protobuf`.
fn negotiate(accept: &str, protobuf: bool) -> Format {
    // (q, explicit, format) of the best range so far.
    let mut best: Option<(f32, bool, Format)> = None;
    for range in accept.split(',') {
        let mut params = range.split(';');
        let media = params.next().unwrap_or("").trim();
        let mut q = 1.0f32;
        let mut version: Option<&str> = None;
        let (mut proto, mut encoding) = (None, None);
        for param in params {
            let Some((key, value)) = param.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            let key = key.trim();
            if key.eq_ignore_ascii_case("q") {
                q = value.parse().ok().filter(|q: &f32| (0.0..=1.0).contains(q)).unwrap_or(0.0);
            } else if key.eq_ignore_ascii_case("version") {
                version = Some(value);
            } else if key.eq_ignore_ascii_case("proto") {
                proto = Some(value);
            } else if key.eq_ignore_ascii_case("encoding") {
                encoding = Some(value);
            }
        }
        let candidate = if media.eq_ignore_ascii_case("application/vnd.google.protobuf") {
            // The message name is case-sensitive; the encoding is a token.
            (protobuf
                && proto == Some("io.prometheus.client.MetricFamily")
                && encoding.is_some_and(|e| e.eq_ignore_ascii_case("delimited")))
            .then_some((true, Format::Protobuf))
        } else if media.eq_ignore_ascii_case("application/openmetrics-text") {
            matches!(version, None | Some("1.0.0" | "0.0.1")).then_some((true, Format::OpenMetrics))
        } else if media.eq_ignore_ascii_case("text/plain") {
            Some((true, Format::Text))
        } else if media.eq_ignore_ascii_case("text/*") || media == "*/*" {
            Some((false, Format::Text))
        } else {
            None
        };
        let Some((explicit, format)) = candidate else { continue };
        if q <= 0.0 {
            continue;
        }
        let better = match best {
            None => true,
            Some((best_q, best_explicit, _)) => {
                q > best_q || (q == best_q && explicit && !best_explicit)
            }
        };
        if better {
            best = Some((q, explicit, format));
        }
    }
    best.map_or(Format::Text, |(_, _, format)| format)
}

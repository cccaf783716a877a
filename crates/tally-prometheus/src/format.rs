//! The two exposition formats, their content types, and choosing one from an HTTP `Accept`
//! header.

/// The `Content-Type` of the Prometheus text format 0.0.4 ([`Format::Text`]).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The `Content-Type` of the OpenMetrics 1.0 text format ([`Format::OpenMetrics`]).
pub const OPENMETRICS_CONTENT_TYPE: &str =
    "application/openmetrics-text; version=1.0.0; charset=utf-8";

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
}

impl Format {
    /// The `Content-Type` header value to answer with:
    /// [`TEXT_CONTENT_TYPE`] or [`OPENMETRICS_CONTENT_TYPE`].
    pub const fn content_type(self) -> &'static str {
        match self {
            Format::Text => TEXT_CONTENT_TYPE,
            Format::OpenMetrics => OPENMETRICS_CONTENT_TYPE,
        }
    }

    /// The format to answer a request whose `Accept` header is `accept` with.
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
        // (q, explicit, format) of the best range so far.
        let mut best: Option<(f32, bool, Format)> = None;
        for range in accept.split(',') {
            let mut params = range.split(';');
            let media = params.next().unwrap_or("").trim();
            let mut q = 1.0f32;
            let mut version: Option<&str> = None;
            for param in params {
                let Some((key, value)) = param.split_once('=') else { continue };
                let value = value.trim().trim_matches('"');
                if key.trim().eq_ignore_ascii_case("q") {
                    q = value.parse().ok().filter(|q: &f32| (0.0..=1.0).contains(q)).unwrap_or(0.0);
                } else if key.trim().eq_ignore_ascii_case("version") {
                    version = Some(value);
                }
            }
            let candidate = if media.eq_ignore_ascii_case("application/openmetrics-text") {
                matches!(version, None | Some("1.0.0" | "0.0.1"))
                    .then_some((true, Format::OpenMetrics))
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
}

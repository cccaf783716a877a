//! From `metrics` names to tally names: sanitizing metric and label names.

use std::borrow::Cow;

/// The name a `metrics` metric name is registered under (before any unit suffix): every
/// character outside `[a-zA-Z0-9_]` becomes `_` (so `http.requests-total` becomes
/// `http_requests_total`, and `:` too: colons are for recording rules, and the name is
/// also a tally field name, which has none), a leading digit gets a `_` in front, a leading
/// run of underscores is cut to one (`__` starts the names Prometheus reserves), and the
/// empty name becomes `_`. Valid names come back unchanged and unallocated.
///
/// Names equal after sanitizing are one metric: `a.b` and `a_b` record into the same series.
///
/// ```
/// use tally_metrics::sanitize_metric_name;
///
/// assert_eq!(sanitize_metric_name("http_requests_total"), "http_requests_total");
/// assert_eq!(sanitize_metric_name("http.requests-total"), "http_requests_total");
/// assert_eq!(sanitize_metric_name("rule:ratio"), "rule_ratio");
/// assert_eq!(sanitize_metric_name("5xx"), "_5xx");
/// assert_eq!(sanitize_metric_name("__secret"), "_secret");
/// assert_eq!(sanitize_metric_name("größe"), "gr__e");
/// assert_eq!(sanitize_metric_name(""), "_");
/// ```
pub fn sanitize_metric_name(name: &str) -> Cow<'_, str> {
    sanitize(name)
}

/// The label name a `metrics` label key is exposed under: the same rules as
/// [`sanitize_metric_name`] (Prometheus label names are `[a-zA-Z_][a-zA-Z0-9_]*`, not
/// starting with `__`).
///
/// ```
/// use tally_metrics::sanitize_label_name;
///
/// assert_eq!(sanitize_label_name("model"), "model");
/// assert_eq!(sanitize_label_name("http.method"), "http_method");
/// assert_eq!(sanitize_label_name("__name__"), "_name__");
/// ```
pub fn sanitize_label_name(name: &str) -> Cow<'_, str> {
    sanitize(name)
}

fn is_clean(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z' | b'A'..=b'Z' | b'_'))
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && !name.starts_with("__")
}

fn sanitize(name: &str) -> Cow<'_, str> {
    if is_clean(name) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 1);
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if out != "_" {
            // Any other character, one `_` each; a second leading `_` is dropped.
            out.push('_');
        }
    }
    if out.is_empty() || out.as_bytes()[0].is_ascii_digit() {
        out.insert(0, '_');
    }
    debug_assert!(is_clean(&out), "{name:?} sanitized to {out:?}");
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitized_names_are_valid_prometheus_and_field_names() {
        let hostile =
            ["", "_", "__", "___x", "9", "a b", "a\nb", "é", "日本", "a:b", "x.y-z", "__name__"];
        for name in hostile {
            let s = sanitize_metric_name(name);
            assert!(tally::is_valid_metric_name(&s), "{name:?} → {s:?}");
            assert!(tally::is_valid_label_name(&s), "{name:?} → {s:?}");
            assert!(
                tally::Layout::new(vec![tally::FieldDesc {
                    name: s.to_string().into(),
                    kind: tally::FieldKind::Counter,
                    help: "".into(),
                    unit: tally::Unit::None,
                }])
                .is_ok()
            );
        }
    }
}

//! A strict parser of both exposition formats, for tests: it reads what the formats'
//! grammars allow of what the encoder writes (no timestamps, exemplars or comments) and
//! refuses anything else, so that a test fails on output a real scraper might misread.

use tally_prometheus::Format;

/// One metric family as parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The name on its `# TYPE` line (in the text format a counter's is `…_total`).
    pub name: String,
    /// `counter`, `gauge` or `histogram`.
    pub kind: String,
    /// The unescaped `# HELP` text, if there was a `# HELP` line.
    pub help: Option<String>,
    /// The `# UNIT`, if any (OpenMetrics only).
    pub unit: Option<String>,
    /// The samples, in order.
    pub samples: Vec<Sample>,
}

/// One sample line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    /// The sample's metric name (`…_total`, `…_bucket`, …).
    pub name: String,
    /// Label pairs in the order written, values unescaped.
    pub labels: Labels,
    /// The value exactly as written.
    pub value: String,
}

fn is_name(s: &str, colon: bool) -> bool {
    let mut b = s.bytes();
    matches!(b.next(), Some(c) if c.is_ascii_alphabetic() || c == b'_' || (colon && c == b':'))
        && b.all(|c| c.is_ascii_alphanumeric() || c == b'_' || (colon && c == b':'))
}

/// Unescapes `s`: `\\`, `\n`, and `\"` if `quotes`; any other backslash sequence is an error.
fn unescape(s: &str, quotes: bool) -> Result<String, String> {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('\\') => out.push('\\'),
            Some('n') => out.push('\n'),
            Some('"') if quotes => out.push('"'),
            other => return Err(format!("invalid escape \\{other:?} in {s:?}")),
        }
    }
    Ok(out)
}

/// Parses `{name="value",…}` at the start of `s`; returns the pairs and the rest.
/// Label pairs, in the order written.
pub type Labels = Vec<(String, String)>;

fn parse_labels(s: &str) -> Result<(Labels, &str), String> {
    let mut rest = s.strip_prefix('{').ok_or("expected {")?;
    let mut labels = Vec::new();
    if let Some(r) = rest.strip_prefix('}') {
        return Ok((labels, r));
    }
    loop {
        let eq = rest.find('=').ok_or_else(|| format!("no = in labels {s:?}"))?;
        let name = &rest[..eq];
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        if labels.iter().any(|(n, _)| n == name) {
            return Err(format!("label {name:?} twice"));
        }
        rest = rest[eq + 1..].strip_prefix('"').ok_or("label value must be quoted")?;
        // Find the closing quote: the first `"` not escaped.
        let bytes = rest.as_bytes();
        let mut i = 0;
        let end = loop {
            match bytes.get(i) {
                None => return Err("unterminated label value".into()),
                Some(b'\\') => i += 2,
                Some(b'"') => break i,
                Some(b'\n') => return Err("raw newline in label value".into()),
                Some(_) => i += 1,
            }
        };
        labels.push((name.to_owned(), unescape(&rest[..end], true)?));
        rest = &rest[end + 1..];
        if let Some(r) = rest.strip_prefix('}') {
            return Ok((labels, r));
        }
        rest = rest.strip_prefix(',').ok_or_else(|| format!("expected , or }} in {s:?}"))?;
    }
}

fn check_value(value: &str, format: Format) -> Result<(), String> {
    let ok = match value {
        "+Inf" | "-Inf" | "NaN" => true,
        _ => {
            !value.is_empty()
                && value.bytes().all(|b| b.is_ascii_digit() || b"+-.e".contains(&b))
                && value.parse::<f64>().is_ok()
        }
    };
    if ok && !(format == Format::OpenMetrics && value.starts_with('+') && value != "+Inf") {
        Ok(())
    } else {
        Err(format!("bad value {value:?}"))
    }
}

/// The sample names a family of `kind` called `name` may have, per format.
fn allowed(name: &str, kind: &str, format: Format) -> Vec<String> {
    let suffixes: &[&str] = match (kind, format) {
        ("counter", Format::OpenMetrics) => &["_total"],
        ("histogram", _) => &["_bucket", "_sum", "_count"],
        _ => &[""],
    };
    suffixes.iter().map(|s| format!("{name}{s}")).collect()
}

/// Parses an exposition in `format`, strictly.
pub fn parse(text: &str, format: Format) -> Result<Vec<Family>, String> {
    let body = match format {
        Format::OpenMetrics => text.strip_suffix("# EOF\n").ok_or("missing final # EOF")?,
        Format::Text => text,
        other => return Err(format!("a format this parser does not know: {other:?}")),
    };
    if !body.is_empty() && !body.ends_with('\n') {
        return Err("the last line has no line feed".into());
    }
    let mut families: Vec<Family> = Vec::new();
    // Not `lines()`, which would also drop a `\r` ending a HELP text.
    for line in body.split_terminator('\n') {
        if line.is_empty() {
            return Err("blank line".into());
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let (keyword, rest) =
                meta.split_once(' ').ok_or_else(|| format!("bad line {line:?}"))?;
            let (name, arg) = match rest.split_once(' ') {
                Some((n, a)) => (n, a),
                None => return Err(format!("bad metadata {line:?}")),
            };
            if !is_name(name, true) {
                return Err(format!("bad metric name {name:?}"));
            }
            let new = families.last().is_none_or(|f| f.name != name);
            if new {
                if families.iter().any(|f| f.name == name) {
                    return Err(format!("family {name} appears twice"));
                }
                families.push(Family {
                    name: name.to_owned(),
                    kind: String::new(),
                    help: None,
                    unit: None,
                    samples: vec![],
                });
            }
            let family = families.last_mut().expect("pushed above");
            if !family.samples.is_empty() {
                return Err(format!("metadata after samples: {line:?}"));
            }
            match keyword {
                "HELP" if family.help.is_none() => {
                    family.help = Some(match format {
                        // The text format's tokenizer skips blanks before the help.
                        Format::Text => unescape(arg.trim_start_matches([' ', '\t']), false)?,
                        Format::OpenMetrics => unescape(arg, true)?,
                        other => {
                            return Err(format!("a format this parser does not know: {other:?}"));
                        }
                    });
                }
                "TYPE" if family.kind.is_empty() => {
                    if !["counter", "gauge", "histogram"].contains(&arg) {
                        return Err(format!("unexpected type {arg:?}"));
                    }
                    family.kind = arg.to_owned();
                }
                "UNIT" if format == Format::OpenMetrics && family.unit.is_none() => {
                    if !name.ends_with(&format!("_{arg}")) {
                        return Err(format!("unit {arg:?} is not a suffix of {name}"));
                    }
                    family.unit = Some(arg.to_owned());
                }
                _ => return Err(format!("unexpected or repeated metadata {line:?}")),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(format!("unexpected comment {line:?}"));
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| format!("bad sample {line:?}"))?;
        let name = &line[..name_end];
        let (labels, rest) = if line[name_end..].starts_with('{') {
            parse_labels(&line[name_end..])?
        } else {
            (Vec::new(), &line[name_end..])
        };
        let value = rest.strip_prefix(' ').ok_or_else(|| format!("no value in {line:?}"))?;
        if value.contains(' ') {
            return Err(format!("unexpected timestamp or exemplar in {line:?}"));
        }
        check_value(value, format)?;
        let family =
            families.last_mut().ok_or_else(|| format!("sample before any TYPE: {line:?}"))?;
        if family.kind.is_empty() {
            return Err(format!("sample of a family without TYPE: {line:?}"));
        }
        if !allowed(&family.name, &family.kind, format).iter().any(|a| a == name) {
            return Err(format!("sample {name} does not belong to family {}", family.name));
        }
        family.samples.push(Sample { name: name.to_owned(), labels, value: value.to_owned() });
    }
    for f in &families {
        if f.kind.is_empty() {
            return Err(format!("family {} has no TYPE", f.name));
        }
    }
    Ok(families)
}

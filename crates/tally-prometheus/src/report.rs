//! What an encoding wrote, and what it left out and why.

use std::fmt;

/// What [`encode`](crate::encode) wrote, and what it left out.
///
/// A snapshot from a `tally::Registry` is always fully encodable, except for name clashes
/// between fields (see [`Skipped::NameClash`]); the other cases arise from snapshots built
/// by hand or deserialized from elsewhere. Whatever is left out, the output stays valid.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EncodeReport {
    /// Metric families written.
    pub families: usize,
    /// Sample lines written (a histogram series writes its buckets, `_sum` and `_count`);
    /// in the protobuf format, `Metric` messages (one per series of a family).
    pub samples: usize,
    /// What was left out, in the order met.
    pub skipped: Vec<Skipped>,
}

/// Something [`encode`](crate::encode) left out, so that the output stays valid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Skipped {
    /// A field's family name (see [`family_name`](crate::family_name)) is not a valid
    /// metric name.
    InvalidName {
        /// The metric's registered name.
        metric: String,
        /// The field.
        field: String,
        /// The rejected family name.
        name: String,
    },
    /// A label name is invalid (not `[a-zA-Z_][a-zA-Z0-9_]*`, or starts with the reserved
    /// `__`) or appears twice: the whole metric is left out.
    InvalidLabelName {
        /// The metric's registered name.
        metric: String,
        /// The rejected label name.
        label: String,
    },
    /// A histogram field of a metric with a label called `le`, which the histogram's bucket
    /// lines need for themselves.
    ReservedLabel {
        /// The metric's registered name.
        metric: String,
        /// The histogram field.
        field: String,
        /// The label name (`le`).
        label: String,
    },
    /// The family `name` (or one of its sample names: `_total`, `_bucket`, `_sum`,
    /// `_count`, `_created`) is already taken by an earlier family, `taken_by`. Earlier
    /// means: metrics in name order, fields in declaration order. Rename one of the fields
    /// or metrics.
    NameClash {
        /// The metric's registered name.
        metric: String,
        /// The field.
        field: String,
        /// This field's family name.
        name: String,
        /// The family name that holds the clashing name.
        taken_by: String,
    },
    /// A series whose label count or fields (names and kinds) differ from the metric's
    /// first series.
    SeriesMismatch {
        /// The metric's registered name.
        metric: String,
        /// The series' label values.
        labels: Vec<String>,
    },
    /// A second series with the same label values as an earlier one.
    DuplicateSeries {
        /// The metric's registered name.
        metric: String,
        /// The series' label values.
        labels: Vec<String>,
    },
    /// One series of a field whose integer value (a counter, a gauge, a last value, or the
    /// sum of a histogram exposed in whole steps) has no exact `f64`: the protobuf format
    /// carries these as `double`, and tally never rounds an integer on its way out (the
    /// text formats write them exactly). Only the protobuf format leaves such a series
    /// out; serve the text format for that scrape instead, as `tally-http` does.
    InexactInteger {
        /// The metric's registered name.
        metric: String,
        /// The field.
        field: String,
        /// The series' label values.
        labels: Vec<String>,
        /// The value, in decimal.
        value: String,
    },
    /// Nothing was written: [`encode`](crate::encode) was asked for a binary format
    /// ([`Format::Protobuf`](crate::Format::Protobuf)), which a `String` cannot hold.
    BinaryFormat {
        /// The format asked for.
        format: crate::Format,
    },
    /// A field of a kind newer than this encoder.
    UnknownKind {
        /// The metric's registered name.
        metric: String,
        /// The field.
        field: String,
        /// The kind's name.
        kind: &'static str,
    },
}

impl fmt::Display for Skipped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Skipped::InvalidName { metric, field, name } => write!(
                f,
                "field `{field}` of metric `{metric}` was left out: {name:?} is not a valid \
                 metric name (use ASCII letters, digits, '_' and ':')"
            ),
            Skipped::InvalidLabelName { metric, label } => write!(
                f,
                "metric `{metric}` was left out: label name {label:?} is invalid or repeated \
                 (use ASCII letters, digits and '_', not starting with '__')"
            ),
            Skipped::ReservedLabel { metric, field, label } => write!(
                f,
                "histogram field `{field}` of metric `{metric}` was left out: its bucket \
                 lines need the label {label:?}, which the metric already uses; rename the label"
            ),
            Skipped::NameClash { metric, field, name, taken_by } => write!(
                f,
                "field `{field}` of metric `{metric}` was left out: its family {name:?} clashes \
                 with family {taken_by:?}; rename one of them"
            ),
            Skipped::SeriesMismatch { metric, labels } => write!(
                f,
                "series {labels:?} of metric `{metric}` was left out: its labels or fields \
                 differ from the metric's first series"
            ),
            Skipped::DuplicateSeries { metric, labels } => write!(
                f,
                "series {labels:?} of metric `{metric}` was left out: an earlier series has \
                 the same label values"
            ),
            Skipped::InexactInteger { metric, field, labels, value } => write!(
                f,
                "series {labels:?} of field `{field}` of metric `{metric}` was left out of the \
                 protobuf format: its value {value} has no exact f64, and that format carries \
                 numbers as f64; serve the text format (which writes it exactly) for this scrape"
            ),
            Skipped::BinaryFormat { format } => write!(
                f,
                "nothing was written: {format:?} is a binary format, which a String cannot hold; \
                 encode it into bytes with `tally_prometheus::encode_bytes`"
            ),
            Skipped::UnknownKind { metric, field, kind } => write!(
                f,
                "field `{field}` of metric `{metric}` was left out: this version of \
                 tally-prometheus cannot expose a `{kind}`; upgrade it"
            ),
        }
    }
}

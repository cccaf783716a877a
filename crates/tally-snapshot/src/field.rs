//! Describing a metric set's fields, and a dynamically typed snapshot of them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{Delta, DeltaError, HistogramConfig, HistogramSnapshot, Last, Merge, MergeError};

/// What a field counts, and so how it is recorded, summed across threads and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A monotonic `u64` count of events. Per-thread parts are summed; `delta` fails if
    /// it went backwards.
    Counter,
    /// A signed `i64` level moved by `add`/`sub` (in-flight requests, queue depth).
    /// Per-thread parts are summed, so concurrent adds from many threads are exact.
    Gauge,
    /// A signed `i64` level written by `set` (a temperature, a configured size): the newest
    /// `set` from any thread wins (see [`Last`]).
    LastValue,
    /// A distribution of `u64` values (latencies in nanoseconds, sizes in bytes) in
    /// log-linear buckets of the given configuration, with count, sum, min and max.
    Histogram(HistogramConfig),
}

impl FieldKind {
    /// The lower-case name used in exposition and serde (`counter`, `gauge`, `last_value`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldKind::Counter => "counter",
            FieldKind::Gauge => "gauge",
            FieldKind::LastValue => "last_value",
            FieldKind::Histogram(_) => "histogram",
        }
    }
}

/// The description of one field of a metric set.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FieldDesc {
    /// The field's name (a Rust identifier for sets declared with `metric_set!`).
    pub name: Cow<'static, str>,
    /// What the field counts.
    pub kind: FieldKind,
    /// Help text (the field's doc comment for sets declared with `metric_set!`).
    pub help: Cow<'static, str>,
}

impl FieldDesc {
    /// A description with static strings, usable in constants.
    pub const fn new(name: &'static str, kind: FieldKind, help: &'static str) -> Self {
        FieldDesc { name: Cow::Borrowed(name), kind, help: Cow::Borrowed(help) }
    }
}

/// One field's value in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Value {
    /// A [`FieldKind::Counter`]'s count.
    Counter(u64),
    /// A [`FieldKind::Gauge`]'s summed level.
    Gauge(i64),
    /// A [`FieldKind::LastValue`]'s newest write.
    LastValue(Last),
    /// A [`FieldKind::Histogram`]'s distribution.
    Histogram(Box<HistogramSnapshot>),
}

impl Value {
    /// The kind of field this value belongs to.
    pub fn kind(&self) -> FieldKind {
        match self {
            Value::Counter(_) => FieldKind::Counter,
            Value::Gauge(_) => FieldKind::Gauge,
            Value::LastValue(_) => FieldKind::LastValue,
            Value::Histogram(h) => FieldKind::Histogram(h.config()),
        }
    }

    /// The zero value of a kind (what a field holds before any record).
    pub fn zero(kind: FieldKind) -> Self {
        match kind {
            FieldKind::Counter => Value::Counter(0),
            FieldKind::Gauge => Value::Gauge(0),
            FieldKind::LastValue => Value::LastValue(Last { value: 0, stamp_ns: 0 }),
            FieldKind::Histogram(config) => {
                Value::Histogram(Box::new(HistogramSnapshot::empty(config)))
            }
        }
    }

    /// The value as a float, for exposition (`LastValue` gives its value, a histogram its
    /// count).
    pub fn as_f64(&self) -> f64 {
        match self {
            Value::Counter(v) => *v as f64,
            Value::Gauge(v) => *v as f64,
            Value::LastValue(l) => l.value as f64,
            Value::Histogram(h) => h.count() as f64,
        }
    }
}

/// A snapshot of any metric set, typed at run time: its field descriptions and one value
/// per field, in the same order.
///
/// Typed snapshots convert into this for exporters and for sets declared at run time.
///
/// ```
/// use tally_snapshot::{FieldDesc, FieldKind, SetSnapshot, Value};
///
/// let fields = vec![FieldDesc::new("requests", FieldKind::Counter, "Requests seen.")];
/// let mut a = SetSnapshot::new(fields.clone(), vec![Value::Counter(3)]).unwrap();
/// let b = SetSnapshot::new(fields, vec![Value::Counter(4)]).unwrap();
/// a.try_merge(&b).unwrap();
/// assert_eq!(a.get("requests"), Some(&Value::Counter(7)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawSetSnapshot")]
pub struct SetSnapshot {
    fields: Vec<FieldDesc>,
    values: Vec<Value>,
}

/// Serde's view of [`SetSnapshot`], checked on the way in.
#[derive(Deserialize)]
struct RawSetSnapshot {
    fields: Vec<FieldDesc>,
    values: Vec<Value>,
}

impl TryFrom<RawSetSnapshot> for SetSnapshot {
    type Error = DeltaError;
    fn try_from(raw: RawSetSnapshot) -> Result<Self, Self::Error> {
        SetSnapshot::new(raw.fields, raw.values)
    }
}

impl SetSnapshot {
    /// Pairs descriptions with values.
    ///
    /// # Errors
    ///
    /// [`DeltaError::SchemaMismatch`] when the lengths differ, a value's kind does not
    /// match its field's, or a name appears twice.
    pub fn new(fields: Vec<FieldDesc>, values: Vec<Value>) -> Result<Self, DeltaError> {
        if fields.len() != values.len() {
            return Err(DeltaError::SchemaMismatch {
                reason: format!("{} fields but {} values", fields.len(), values.len()),
            });
        }
        for (i, (f, v)) in fields.iter().zip(&values).enumerate() {
            if f.kind != v.kind() {
                return Err(DeltaError::SchemaMismatch {
                    reason: format!(
                        "field `{}` is a {} but its value is a {}",
                        f.name,
                        f.kind.as_str(),
                        v.kind().as_str()
                    ),
                });
            }
            if !crate::is_valid_field_name(&f.name) {
                return Err(DeltaError::SchemaMismatch {
                    reason: format!(
                        "field name {:?} is not valid: use ASCII letters, digits and '_', not \
                         starting with a digit",
                        f.name
                    ),
                });
            }
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(DeltaError::SchemaMismatch {
                    reason: format!("field `{}` appears twice", f.name),
                });
            }
        }
        Ok(SetSnapshot { fields, values })
    }

    /// The field descriptions.
    pub fn fields(&self) -> &[FieldDesc] {
        &self.fields
    }

    /// The values, in the order of [`fields`](Self::fields).
    pub fn values(&self) -> &[Value] {
        &self.values
    }

    /// Descriptions and values side by side.
    pub fn iter(&self) -> impl Iterator<Item = (&FieldDesc, &Value)> {
        self.fields.iter().zip(&self.values)
    }

    /// The value of the field called `name`.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.iter().find(|(f, _)| f.name == name).map(|(_, v)| v)
    }

    /// Why `other` does not have this snapshot's fields (names and kinds, in order), for
    /// the error of a merge or a delta.
    fn check_same_schema(&self, other: &Self) -> Result<(), String> {
        let same = self.fields.len() == other.fields.len()
            && self
                .fields
                .iter()
                .zip(&other.fields)
                .all(|(a, b)| a.name == b.name && a.kind == b.kind);
        if same {
            Ok(())
        } else {
            let names = |s: &Self| s.fields.iter().map(|f| f.name.to_string()).collect::<Vec<_>>();
            Err(format!("fields {:?} vs {:?}", names(self), names(other)))
        }
    }

    /// Merges `other` into `self` exactly (see [`Merge`]).
    ///
    /// # Errors
    ///
    /// [`MergeError::SchemaMismatch`] when the two snapshots have different fields;
    /// `self` is then unchanged.
    pub fn try_merge(&mut self, other: &Self) -> Result<(), MergeError> {
        self.check_same_schema(other).map_err(|reason| MergeError::SchemaMismatch { reason })?;
        for (a, b) in self.values.iter_mut().zip(&other.values) {
            match (a, b) {
                (Value::Counter(a), Value::Counter(b)) => a.merge(b),
                (Value::Gauge(a), Value::Gauge(b)) => a.merge(b),
                (Value::LastValue(a), Value::LastValue(b)) => a.merge(b),
                (Value::Histogram(a), Value::Histogram(b)) => a.merge(b),
                _ => unreachable!("kinds were checked against the schema"),
            }
        }
        Ok(())
    }

    /// `later - earlier`, field by field (see [`Delta`]).
    ///
    /// # Errors
    ///
    /// [`DeltaError::SchemaMismatch`] for different fields, or the first field that went
    /// backwards.
    pub fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        later.check_same_schema(earlier).map_err(|reason| DeltaError::SchemaMismatch { reason })?;
        let mut values = Vec::with_capacity(later.values.len());
        for ((f, a), b) in later.fields.iter().zip(&later.values).zip(&earlier.values) {
            let named = |e: DeltaError| e.in_field(&f.name);
            values.push(match (a, b) {
                (Value::Counter(a), Value::Counter(b)) => {
                    Value::Counter(u64::delta(a, b).map_err(named)?)
                }
                (Value::Gauge(a), Value::Gauge(b)) => {
                    Value::Gauge(i64::delta(a, b).map_err(named)?)
                }
                (Value::LastValue(a), Value::LastValue(b)) => {
                    Value::LastValue(Last::delta(a, b).map_err(named)?)
                }
                (Value::Histogram(a), Value::Histogram(b)) => {
                    Value::Histogram(Box::new(HistogramSnapshot::delta(a, b).map_err(named)?))
                }
                _ => unreachable!("kinds were checked against the schema"),
            });
        }
        Ok(SetSnapshot { fields: later.fields.clone(), values })
    }
}

/// Field by field (see [`SetSnapshot::delta`]).
impl Delta for SetSnapshot {
    fn delta(later: &Self, earlier: &Self) -> Result<Self, DeltaError> {
        SetSnapshot::delta(later, earlier)
    }
}

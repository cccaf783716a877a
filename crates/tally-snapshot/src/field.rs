//! Describing a metric set's fields, and a dynamically typed snapshot of them.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::{
    Delta, DeltaError, HistogramConfig, HistogramSnapshot, Last, LastF64, Merge, MergeError, Unit,
};

/// What a field counts, and so how it is recorded, summed across threads and exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
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
    /// A monotonic `f64` total (seconds of CPU, joules, a cost). Only finite, non-negative
    /// increments are added (others are refused and counted). Each thread's part is its
    /// increments summed in order, each addition rounded to nearest as `f64` does; the
    /// parts are summed exactly and rounded once ([`FloatSum`](crate::FloatSum)), so the
    /// total never goes backwards and is exact whenever the increments are (integers
    /// below 2^53, halves, quarters: any multiples of one power of two whose running sums
    /// stay below 2^53 of it).
    CounterF64,
    /// A signed `f64` level moved by `add`/`sub` (a queue's fill in fractions of a batch).
    /// Per-thread parts are summed as for [`CounterF64`](Self::CounterF64); non-finite
    /// increments are refused and counted.
    GaugeF64,
    /// An `f64` level written by `set` (GPU utilisation, a temperature, a loss): the newest
    /// `set` from any thread wins (see [`LastF64`]). NaN is refused and counted; `±∞` are
    /// kept (no arithmetic is done on last values).
    LastValueF64,
}

impl FieldKind {
    /// The lower-case name used in exposition and serde (`counter`, `gauge`, `last_value`).
    pub const fn as_str(self) -> &'static str {
        match self {
            FieldKind::Counter => "counter",
            FieldKind::Gauge => "gauge",
            FieldKind::LastValue => "last_value",
            FieldKind::Histogram(_) => "histogram",
            FieldKind::CounterF64 => "counter_f64",
            FieldKind::GaugeF64 => "gauge_f64",
            FieldKind::LastValueF64 => "last_value_f64",
        }
    }

    /// Whether the kind is exposed as a counter (a monotonic total).
    pub const fn is_counter(self) -> bool {
        matches!(self, FieldKind::Counter | FieldKind::CounterF64)
    }

    /// Whether the kind is exposed as a gauge (a level).
    pub const fn is_gauge(self) -> bool {
        matches!(
            self,
            FieldKind::Gauge | FieldKind::LastValue | FieldKind::GaugeF64 | FieldKind::LastValueF64
        )
    }

    /// Whether the kind's values are `f64`.
    pub const fn is_float(self) -> bool {
        matches!(self, FieldKind::CounterF64 | FieldKind::GaugeF64 | FieldKind::LastValueF64)
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
    /// What the values are measured in. A histogram's is its configuration's
    /// ([`HistogramConfig::unit`]); [`SetSnapshot::new`] and the core's layouts refuse a
    /// histogram description that says otherwise.
    #[serde(default, skip_serializing_if = "crate::unit::unit_is_none")]
    pub unit: Unit,
}

impl FieldDesc {
    /// A description with static strings, usable in constants; its unit is a histogram's
    /// configured unit, [`Unit::None`] for other kinds (see [`with_unit`](Self::with_unit)).
    pub const fn new(name: &'static str, kind: FieldKind, help: &'static str) -> Self {
        let unit = match kind {
            FieldKind::Histogram(config) => config.unit(),
            _ => Unit::None,
        };
        FieldDesc { name: Cow::Borrowed(name), kind, help: Cow::Borrowed(help), unit }
    }

    /// The same description, measured in `unit`.
    ///
    /// ```
    /// use tally_snapshot::{FieldDesc, FieldKind, Unit};
    /// let f = FieldDesc::new("gpu_busy", FieldKind::LastValueF64, "").with_unit(Unit::Ratio);
    /// assert_eq!(f.unit, Unit::Ratio);
    /// ```
    ///
    /// # Panics
    ///
    /// For a histogram and another unit than its configuration's: a histogram's unit goes
    /// with the scale of its steps, so it is declared in its [`HistogramConfig`]
    /// ([`HistogramConfig::BYTES`], [`HistogramConfig::for_range`], ...). In a constant
    /// this is a compile-time error.
    pub const fn with_unit(mut self, unit: Unit) -> Self {
        if let FieldKind::Histogram(config) = self.kind {
            assert!(
                config.unit() as u8 == unit as u8,
                "a histogram's unit is declared in its HistogramConfig (HistogramConfig::BYTES, \
                 HistogramConfig::for_range(unit, ..)), with the scale of its steps"
            );
        }
        self.unit = unit;
        self
    }

    /// Why this description is inconsistent, if it is: a histogram whose `unit` differs
    /// from its configuration's.
    pub fn check_unit(&self) -> Result<(), String> {
        match self.kind {
            FieldKind::Histogram(config) if config.unit() != self.unit => Err(format!(
                "histogram field `{}` says its unit is {} but its configuration measures {}: \
                 declare the unit in the HistogramConfig",
                self.name,
                self.unit,
                config.unit()
            )),
            _ => Ok(()),
        }
    }
}

/// One field's value in a snapshot.
///
/// Float values are never NaN (the core refuses non-finite values); `Eq` holds on that
/// (one exception: a float gauge summed past ±1.8e308 saturates to an infinity, and
/// infinities of both signs in one sum give NaN).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// A [`FieldKind::CounterF64`]'s total.
    CounterF64(f64),
    /// A [`FieldKind::GaugeF64`]'s summed level.
    GaugeF64(f64),
    /// A [`FieldKind::LastValueF64`]'s newest write.
    LastValueF64(LastF64),
}

impl Eq for Value {}

impl Value {
    /// The kind of field this value belongs to.
    pub fn kind(&self) -> FieldKind {
        match self {
            Value::Counter(_) => FieldKind::Counter,
            Value::Gauge(_) => FieldKind::Gauge,
            Value::LastValue(_) => FieldKind::LastValue,
            Value::Histogram(h) => FieldKind::Histogram(h.config()),
            Value::CounterF64(_) => FieldKind::CounterF64,
            Value::GaugeF64(_) => FieldKind::GaugeF64,
            Value::LastValueF64(_) => FieldKind::LastValueF64,
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
            FieldKind::CounterF64 => Value::CounterF64(0.0),
            FieldKind::GaugeF64 => Value::GaugeF64(0.0),
            FieldKind::LastValueF64 => Value::LastValueF64(LastF64::default()),
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
            Value::CounterF64(v) | Value::GaugeF64(v) => *v,
            Value::LastValueF64(l) => l.value,
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
            f.check_unit().map_err(|reason| DeltaError::SchemaMismatch { reason })?;
            if v.kind().is_float() && v.as_f64().is_nan() {
                return Err(DeltaError::SchemaMismatch {
                    reason: format!("float field `{}` is NaN, which tally never records", f.name),
                });
            }
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
                .all(|(a, b)| a.name == b.name && a.kind == b.kind && a.unit == b.unit);
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
                (Value::CounterF64(a), Value::CounterF64(b))
                | (Value::GaugeF64(a), Value::GaugeF64(b)) => a.merge(b),
                (Value::LastValueF64(a), Value::LastValueF64(b)) => a.merge(b),
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
                (Value::CounterF64(a), Value::CounterF64(b)) => {
                    Value::CounterF64(crate::delta::float_count_delta(*a, *b).map_err(named)?)
                }
                (Value::GaugeF64(a), Value::GaugeF64(b)) => {
                    Value::GaugeF64(f64::delta(a, b).map_err(named)?)
                }
                (Value::LastValueF64(a), Value::LastValueF64(b)) => {
                    Value::LastValueF64(LastF64::delta(a, b).map_err(named)?)
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

//! A set's fields as Python sees them: declaring them from Python values, finding them by
//! (interned) name, and turning Python values into checked updates.
//!
//! What a number means, by field:
//! - counters, gauges, last values: ints (a float raises TypeError, naming the float kind
//!   to declare instead);
//! - float counters, float gauges, float last values: floats, taken exactly; ints up to
//!   2^53 in magnitude (all of which are exact floats); a timedelta for a field in seconds;
//! - histograms: see [`Input`].
//!
//! A value the core refuses (a negative increment of a counter or a negative observation,
//! NaN, an infinity, an observation past 2^63 steps) raises ValueError with the core's
//! reason, is counted in `tally.rejected_values()` as the core counts what its handles
//! refuse, and nothing of the event is recorded: every value is checked before any is
//! applied.

use std::borrow::Cow;
use std::time::Duration;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDelta, PyDeltaAccess, PyDict, PyFloat, PyInt, PyString, PyTuple};
use smallvec::SmallVec;
use tally::{
    Event, FieldDesc, FieldId, FieldKind, HistogramConfig, Layout, RawSet, Rejected, Unit, kind,
};

use crate::errors::{InvalidNameError, UnknownFieldError, layout_error};
use crate::spec::{FieldSpec, HistogramSpec};

/// Names a field may not take: they are the methods and properties of `Snapshot`, which
/// would hide the field's attribute.
pub(crate) const RESERVED: &[&str] = &[
    "to_dict",
    "to_json",
    "to_bytes",
    "from_json",
    "from_bytes",
    "merge",
    "delta",
    "quantile",
    "latency_quantile",
    "success_rate",
    "cache_hit_rate",
    "is_coherent",
    "fields",
    "get",
];

/// The fields of a set: descriptions, ids and interned names, in layout order. Shared by
/// every set of one layout (the series of a family).
#[derive(Debug)]
pub(crate) struct FieldTable {
    pub(crate) descs: Vec<FieldDesc>,
    pub(crate) ids: Vec<FieldId>,
    /// How `record` reads a number given to each field.
    pub(crate) inputs: Vec<Input>,
    names: Vec<Py<PyString>>,
}

impl FieldTable {
    /// The table of `set`'s fields; `declared[i]` says whether field `i` was declared with
    /// `tally.field`/`tally.histogram` (missing: no, as for the ready-made sets).
    pub(crate) fn new(py: Python<'_>, set: &RawSet, declared: &[bool]) -> FieldTable {
        let descs = set.layout().fields().to_vec();
        let ids =
            descs.iter().map(|d| set.field(&d.name).expect("the layout's own field")).collect();
        let inputs = descs
            .iter()
            .enumerate()
            .map(|(i, d)| Input::of(d, declared.get(i).copied().unwrap_or(false)))
            .collect();
        let names = descs.iter().map(|d| PyString::intern(py, &d.name).unbind()).collect();
        FieldTable { descs, ids, inputs, names }
    }

    /// The index of the field called `key`: pointer comparison first (keyword names and
    /// our names are both interned), then string comparison.
    #[inline]
    pub(crate) fn index_of(&self, key: &Bound<'_, PyString>) -> PyResult<usize> {
        let ptr = key.as_ptr();
        if let Some(i) = self.names.iter().position(|n| n.as_ptr() == ptr) {
            return Ok(i);
        }
        let s = key.to_str()?;
        self.descs.iter().position(|d| d.name == s).ok_or_else(|| self.unknown(s))
    }

    pub(crate) fn unknown(&self, name: &str) -> PyErr {
        let names: Vec<&str> = self.descs.iter().map(|d| &*d.name).collect();
        UnknownFieldError::new_err(format!(
            "this metric set has no field {name:?}; its fields are {names:?} (nothing was recorded)"
        ))
    }

    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.descs.iter().map(|d| &*d.name)
    }
}

/// How `record` reads a number given to a histogram field.
///
/// | field | `float` | `int` |
/// |---|---|---|
/// | named `…_ns`, seconds in nanosecond steps | nanoseconds | nanoseconds |
/// | declared by a bare name (the default histogram) | seconds | nanoseconds (its steps), as before units |
/// | declared with `tally.histogram`/`tally.field` | in its unit | in its unit |
///
/// A `datetime.timedelta` is a duration in any histogram of seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Input {
    /// Not a histogram: read by kind.
    Scalar,
    /// A seconds histogram in nanosecond steps whose name ends in `_ns` (exposed as
    /// `_seconds`): its name says its numbers are nanoseconds.
    Nanos,
    /// A histogram declared by a bare name, the default one (seconds, in nanosecond
    /// steps): an int is nanoseconds, as before histograms had units; a float is seconds.
    Bare,
    /// A histogram declared with `tally.histogram(...)` or `tally.field(unit=...)`: every
    /// number is in its unit.
    InUnit,
}

impl Input {
    fn of(desc: &FieldDesc, declared: bool) -> Input {
        match desc.kind {
            FieldKind::Histogram(c) if is_ns_of_seconds(c) && desc.name.ends_with("_ns") => {
                Input::Nanos
            }
            FieldKind::Histogram(_) if declared => Input::InUnit,
            FieldKind::Histogram(_) => Input::Bare,
            _ => Input::Scalar,
        }
    }
}

/// Whether a histogram measures seconds in steps of one nanosecond.
fn is_ns_of_seconds(config: HistogramConfig) -> bool {
    config.unit() == Unit::Seconds && config.decimals() == 9
}

/// One checked update of one field (tally-core's: the heap path and the shared-memory
/// path record the same updates).
pub(crate) use tally::FieldUpdate as Update;

/// Updates of one event, checked before any is applied. Inline up to 8 fields.
pub(crate) type Updates = SmallVec<[(FieldId, Update); 8]>;

/// Converts `value` into an update of field `index`, or says clearly why not (a value the
/// core refuses is counted as refused, in `tally.rejected_values()`).
#[inline]
pub(crate) fn update_of(
    table: &FieldTable,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> PyResult<Update> {
    let desc = &table.descs[index];
    let field = Field { desc };
    match desc.kind {
        FieldKind::Counter => match value.extract::<u64>() {
            Ok(n) => Ok(Update::Counter(n)),
            Err(_) => Err(bad_int(desc, value, "an increment >= 0 (counters only go up)")),
        },
        FieldKind::Gauge => match value.extract::<i64>() {
            Ok(n) => Ok(Update::Gauge(n)),
            Err(_) => Err(bad_int(desc, value, "a signed 64-bit change")),
        },
        FieldKind::LastValue => match value.extract::<i64>() {
            Ok(n) => Ok(Update::Last(n)),
            Err(_) => Err(bad_int(desc, value, "a signed 64-bit value")),
        },
        FieldKind::Histogram(config) => {
            observation(&field, config, table.inputs[index], value).map(Update::Observe)
        }
        FieldKind::CounterF64 => {
            let x = float_of(desc, value)?;
            // As `CounterF64Ref::try_add`: NaN fails both comparisons, +inf the second.
            if (0.0..=f64::MAX).contains(&x) {
                Ok(Update::CounterF64(x))
            } else {
                Err(field.refused(value, Rejected::classify(x), "a finite increment >= 0"))
            }
        }
        FieldKind::GaugeF64 => {
            let x = float_of(desc, value)?;
            if x.is_finite() {
                Ok(Update::GaugeF64(x))
            } else {
                Err(field.refused(value, Rejected::NotFinite, "a finite change"))
            }
        }
        FieldKind::LastValueF64 => {
            let x = float_of(desc, value)?;
            // As `LastValueF64Ref::try_set`: infinities are levels too; NaN has no value.
            if !x.is_nan() {
                Ok(Update::LastF64(x))
            } else {
                Err(field.refused(value, Rejected::NotFinite, "a value that is not NaN"))
            }
        }
        _ => Err(PyTypeError::new_err(format!(
            "field {:?} is a {}, which this version of the tally package cannot record \
             (nothing was recorded)",
            desc.name,
            desc.kind.as_str()
        ))),
    }
}

/// A field of a set, for its error messages and the count of its refused values.
struct Field<'a> {
    desc: &'a FieldDesc,
}

impl Field<'_> {
    /// The ValueError of a value the core refuses, counted as refused: `gauge_f64 "x" got
    /// nan: it takes a finite change; NaN and infinities cannot be recorded: ... (nothing
    /// was recorded)`.
    #[cold]
    fn refused(&self, value: &Bound<'_, PyAny>, reason: Rejected, takes: &str) -> PyErr {
        self.count(reason);
        let (kind, name) = (self.desc.kind.as_str(), &self.desc.name);
        let negative = reason == Rejected::Negative;
        let takes = match self.desc.kind {
            FieldKind::Histogram(_) if negative => {
                format!("observations must be >= 0 (it takes {takes})")
            }
            FieldKind::CounterF64 if negative => {
                format!("it takes {takes} (counters only go up)")
            }
            _ => format!("it takes {takes}"),
        };
        let scaled = matches!(self.desc.kind, FieldKind::Histogram(c) if c.decimals() > 0);
        let hint = if reason == Rejected::TooLarge && scaled {
            " (from Python: tally.histogram(unit=..., min=..., max=...), whose min sets the \
             steps: a larger min, coarser steps)"
        } else {
            ""
        };
        PyValueError::new_err(format!(
            "{kind} {name:?} got {}: {takes}; {reason}{hint} (nothing was recorded)",
            repr(value)
        ))
    }

    /// Counts a refusal of `reason` in `tally.rejected_values()` (the core's count of
    /// every value the process refused).
    #[cold]
    fn count(&self, reason: Rejected) {
        tally::count_rejected(reason);
    }
}

/// `value`'s repr (the float `nan`, the int `-5`), cut short if long.
fn repr(value: &Bound<'_, PyAny>) -> String {
    let repr = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<no repr>".to_owned());
    match repr.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &repr[..cut]),
        None => repr,
    }
}

/// `value`'s type name.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_default()
}

fn bad_int(desc: &FieldDesc, value: &Bound<'_, PyAny>, wanted: &str) -> PyErr {
    let kind = desc.kind.as_str();
    let name = &desc.name;
    if value.is_instance_of::<PyInt>() {
        let negative = value.lt(0).unwrap_or(false);
        if negative && desc.kind == FieldKind::Counter {
            return PyValueError::new_err(format!(
                "counter {name:?} got {value}: a counter takes {wanted}; use a gauge for a \
                 level that goes down (nothing was recorded)"
            ));
        }
        return PyOverflowError::new_err(format!(
            "{kind} {name:?} got {value}: it takes {wanted} (nothing was recorded)"
        ));
    }
    let ty = type_name(value);
    if value.is_instance_of::<PyFloat>() {
        let float_kind = match desc.kind {
            FieldKind::Counter => "float_counters",
            FieldKind::Gauge => "float_gauges",
            _ => "float_last_values",
        };
        return PyTypeError::new_err(format!(
            "{kind} {name:?} got a {ty} ({}): it takes an int, {wanted}; to record floats, \
             declare the field in {float_kind}= (nothing was recorded)",
            repr(value)
        ));
    }
    PyTypeError::new_err(format!(
        "{kind} {name:?} got a {ty}: it takes an int, {wanted} (nothing was recorded)"
    ))
}

/// The largest int a float field takes: every int up to 2^53 in magnitude is an exact
/// `f64`.
const EXACT_INT: u64 = 1 << 53;

/// The `f64` a float field records for `value`: a float as it is; an int exactly (up to
/// 2^53 in magnitude, else ValueError); a timedelta in seconds (fields in seconds only);
/// any other number with `__index__` as an int, with `__float__` as a float.
#[inline]
fn float_of(desc: &FieldDesc, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if let Ok(x) = value.cast::<PyFloat>() {
        return Ok(x.value());
    }
    if value.is_instance_of::<PyBool>() {
        return Err(not_a_float(desc, value));
    }
    if value.is_instance_of::<PyInt>() || value.hasattr("__index__").unwrap_or(false) {
        return exact_int(desc, value);
    }
    if let Ok(d) = value.cast::<PyDelta>() {
        if desc.unit != Unit::Seconds {
            return Err(PyTypeError::new_err(format!(
                "{} {:?} got a timedelta: it measures {}, not seconds (nothing was recorded)",
                desc.kind.as_str(),
                desc.name,
                desc.unit
            )));
        }
        let (secs, nanos, negative) = delta_parts(d);
        let micros = secs as f64 * 1e6 + f64::from(nanos / 1_000);
        // One rounding: `micros` is exact below 2^53 µs (285 years).
        let x = micros / 1e6;
        return Ok(if negative { -x } else { x });
    }
    value.extract::<f64>().map_err(|_| not_a_float(desc, value))
}

/// The exact `f64` of an int given to a float field, or ValueError past 2^53.
fn exact_int(desc: &FieldDesc, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    match value.extract::<i64>() {
        Ok(n) if n.unsigned_abs() <= EXACT_INT => Ok(n as f64),
        Err(e) if !e.is_instance_of::<PyOverflowError>(value.py()) => Err(not_a_float(desc, value)),
        // Past 2^53, or past 64 bits.
        _ => Err(PyValueError::new_err(format!(
            "{} {:?} got {}: ints beyond 2^53 (9007199254740992) in magnitude are not all \
             exact floats; pass a float, rounded as Python rounds it (nothing was recorded)",
            desc.kind.as_str(),
            desc.name,
            repr(value)
        ))),
    }
}

fn not_a_float(desc: &FieldDesc, value: &Bound<'_, PyAny>) -> PyErr {
    let seconds = if desc.unit == Unit::Seconds { ", or a timedelta" } else { "" };
    PyTypeError::new_err(format!(
        "{} {:?} got a {}: it takes a float or an int{seconds} (nothing was recorded)",
        desc.kind.as_str(),
        desc.name,
        type_name(value)
    ))
}

/// A timedelta as whole seconds and nanoseconds of its magnitude, and its sign.
fn delta_parts(d: &Bound<'_, PyDelta>) -> (u64, u32, bool) {
    let micros = (i128::from(d.get_days()) * 86_400 + i128::from(d.get_seconds())) * 1_000_000
        + i128::from(d.get_microseconds());
    let magnitude = micros.unsigned_abs();
    // At most 999999999 days: the seconds fit a u64.
    let secs = (magnitude / 1_000_000) as u64;
    let nanos = (magnitude % 1_000_000) as u32 * 1_000;
    (secs, nanos, micros < 0)
}

/// A histogram observation, in the histogram's steps: see [`Input`].
#[inline]
fn observation(
    field: &Field<'_>,
    config: HistogramConfig,
    input: Input,
    value: &Bound<'_, PyAny>,
) -> PyResult<u64> {
    // Floats first: a failed int extraction builds an exception, which costs microseconds.
    if let Ok(x) = value.cast::<PyFloat>() {
        return observe_float(field, config, input, value, x.value());
    }
    if value.is_instance_of::<PyInt>() {
        return observe_int(field, config, input, value);
    }
    if let Ok(d) = value.cast::<PyDelta>() {
        return observe_delta(field, config, input, value, d);
    }
    // Other numbers (numpy's, Decimal, Fraction): integers as ints, others as floats.
    if value.hasattr("__index__").unwrap_or(false) {
        return observe_int(field, config, input, value);
    }
    if let Ok(x) = value.extract::<f64>() {
        return observe_float(field, config, input, value, x);
    }
    Err(PyTypeError::new_err(format!(
        "histogram {:?} got a {}: it takes {} (nothing was recorded)",
        field.desc.name,
        type_name(value),
        takes(config, input)
    )))
}

/// What a histogram takes, for messages.
fn takes(config: HistogramConfig, input: Input) -> String {
    let unit = config.unit();
    match input {
        Input::Nanos => "a finite number >= 0 of nanoseconds, or a timedelta".to_owned(),
        Input::Bare => "a finite number >= 0: a float of seconds, an int of nanoseconds, or a \
                        timedelta"
            .to_owned(),
        _ if unit == Unit::Seconds => "a finite number >= 0 of seconds, or a timedelta".to_owned(),
        _ if unit.is_none() => "a finite number >= 0".to_owned(),
        _ => format!("a finite number >= 0 of {unit}"),
    }
}

/// A float observation: nanoseconds for [`Input::Nanos`], else in the unit.
#[inline]
fn observe_float(
    field: &Field<'_>,
    config: HistogramConfig,
    input: Input,
    value: &Bound<'_, PyAny>,
    x: f64,
) -> PyResult<u64> {
    let steps = match input {
        // Steps given as they are: the nearest one, as `steps_of` rounds.
        Input::Nanos => HistogramConfig::steps_of_scaled(x, 1.0),
        _ => config.steps_of(x),
    };
    steps.map_err(|reason| field.refused(value, reason, &takes(config, input)))
}

/// An int observation: steps (nanoseconds) for [`Input::Nanos`] and [`Input::Bare`], as
/// before histograms had units (past 2^64 - 1: that, counted as overflow); else in the
/// unit, exactly.
fn observe_int(
    field: &Field<'_>,
    config: HistogramConfig,
    input: Input,
    value: &Bound<'_, PyAny>,
) -> PyResult<u64> {
    let negative = || value.lt(0).unwrap_or(false);
    let refuse = |reason| field.refused(value, reason, &takes(config, input));
    match input {
        Input::Nanos | Input::Bare => match value.extract::<u64>() {
            Ok(n) => Ok(n),
            Err(_) if negative() => Err(refuse(Rejected::Negative)),
            Err(_) => Ok(u64::MAX),
        },
        _ => match value.extract::<i128>() {
            Ok(n) if n < 0 => Err(refuse(Rejected::Negative)),
            Ok(n) => match n.checked_mul(i128::from(config.steps_per_unit())) {
                Some(steps) if steps < 1 << 63 => Ok(steps as u64),
                _ => Err(refuse(Rejected::TooLarge)),
            },
            Err(_) if negative() => Err(refuse(Rejected::Negative)),
            Err(_) => Err(refuse(Rejected::TooLarge)),
        },
    }
}

/// A timedelta observation, in a histogram of seconds: its steps (exact nanoseconds at
/// nanosecond steps).
fn observe_delta(
    field: &Field<'_>,
    config: HistogramConfig,
    input: Input,
    value: &Bound<'_, PyAny>,
    d: &Bound<'_, PyDelta>,
) -> PyResult<u64> {
    if config.unit() != Unit::Seconds {
        return Err(PyTypeError::new_err(format!(
            "histogram {:?} got a timedelta: it measures {}, not seconds (nothing was recorded)",
            field.desc.name,
            config.unit()
        )));
    }
    let (secs, nanos, negative) = delta_parts(d);
    if negative {
        return Err(field.refused(value, Rejected::Negative, &takes(config, input)));
    }
    Ok(config.steps_of_duration(Duration::new(secs, nanos)))
}

/// Applies checked updates as one event (one latch section).
#[inline]
pub(crate) fn apply(e: &Event<'_>, updates: &[(FieldId, Update)]) {
    for &(id, u) in updates {
        match u {
            Update::Counter(n) => e.add_counter(id, n),
            Update::Gauge(n) => e.add_gauge(id, n),
            Update::Last(n) => e.set_last(id, n),
            Update::Observe(n) => e.observe(id, n),
            // Checked by `update_of`: the handles take them.
            Update::CounterF64(x) => e.handle::<kind::CounterF64>(id).add(x),
            Update::GaugeF64(x) => e.handle::<kind::GaugeF64>(id).add(x),
            Update::LastF64(x) => e.handle::<kind::LastValueF64>(id).set(x),
        }
    }
}

/// Parses `{name: value}` keyword arguments into updates, all checked before any is
/// applied.
#[inline]
pub(crate) fn updates_of(
    table: &FieldTable,
    kwargs: Option<&Bound<'_, PyDict>>,
) -> PyResult<Updates> {
    let mut updates = Updates::new();
    if let Some(kwargs) = kwargs {
        for (k, v) in kwargs.iter() {
            let key = k.cast::<PyString>()?;
            let i = table.index_of(key)?;
            updates.push((table.ids[i], update_of(table, i, &v)?));
        }
    }
    Ok(updates)
}

/// The field declarations of a set, as given to `MetricSet(...)`,
/// `Registry.metric_set(...)` and `Registry.family(...)`: each an iterable of names,
/// `(name, help)` or `(name, spec)` pairs, or a dict `{name: help or spec}`, where a spec
/// is a `tally.field(...)` (or among histograms a `tally.histogram(...)`).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Declarations<'a, 'py> {
    pub(crate) counters: Option<&'a Bound<'py, PyAny>>,
    pub(crate) gauges: Option<&'a Bound<'py, PyAny>>,
    pub(crate) last_values: Option<&'a Bound<'py, PyAny>>,
    pub(crate) histograms: Option<&'a Bound<'py, PyAny>>,
    pub(crate) float_counters: Option<&'a Bound<'py, PyAny>>,
    pub(crate) float_gauges: Option<&'a Bound<'py, PyAny>>,
    pub(crate) float_last_values: Option<&'a Bound<'py, PyAny>>,
}

/// A set's layout built from Python declarations, and which fields were declared with a
/// spec (see [`FieldTable::new`]).
#[derive(Debug)]
pub(crate) struct Declared {
    pub(crate) layout: Layout,
    pub(crate) with_spec: Vec<bool>,
}

/// What one declaration gives besides the name.
enum Decl {
    Help(String),
    Field(FieldSpec),
    Histogram(HistogramSpec),
}

/// Builds a layout from the Python field declarations, in the order counters, float
/// counters, gauges, float gauges, last values, float last values, histograms.
pub(crate) fn layout_from(d: &Declarations<'_, '_>) -> PyResult<Declared> {
    let mut fields = Vec::new();
    let mut with_spec = Vec::new();
    let groups = [
        (d.counters, "counters", FieldKind::Counter),
        (d.float_counters, "float_counters", FieldKind::CounterF64),
        (d.gauges, "gauges", FieldKind::Gauge),
        (d.float_gauges, "float_gauges", FieldKind::GaugeF64),
        (d.last_values, "last_values", FieldKind::LastValue),
        (d.float_last_values, "float_last_values", FieldKind::LastValueF64),
        (d.histograms, "histograms", FieldKind::Histogram(HistogramConfig::DEFAULT)),
    ];
    for (group, argument, kind) in groups {
        let Some(group) = group else { continue };
        for (name, decl) in declarations(group, argument)? {
            if name.starts_with("__") {
                return Err(InvalidNameError::new_err(format!(
                    "field name {name:?} starts with '__', which Python and Prometheus reserve; \
                     pick another name"
                )));
            }
            if RESERVED.contains(&name.as_str()) {
                return Err(InvalidNameError::new_err(format!(
                    "field name {name:?} is reserved: snapshots have a method of that name, \
                     which would hide the field; pick another name"
                )));
            }
            let is_histogram = matches!(kind, FieldKind::Histogram(_));
            let (kind, help, unit, spec) = match decl {
                Decl::Help(help) | Decl::Field(FieldSpec { unit: None, help }) if is_histogram => {
                    (kind, help, kind_unit(kind), false)
                }
                Decl::Help(help) => (kind, help, Unit::None, false),
                Decl::Field(FieldSpec { unit: Some(unit), help }) if is_histogram => {
                    let h = HistogramSpec::of_unit(unit, help).map_err(|e| {
                        PyValueError::new_err(format!(
                            "histogram field {name:?}: {}",
                            e.value(group.py())
                        ))
                    })?;
                    (FieldKind::Histogram(h.config), h.help, h.config.unit(), true)
                }
                Decl::Field(f) => (kind, f.help, f.unit.unwrap_or(Unit::None), true),
                Decl::Histogram(h) if is_histogram => {
                    (FieldKind::Histogram(h.config), h.help, h.config.unit(), true)
                }
                Decl::Histogram(_) => {
                    return Err(PyTypeError::new_err(format!(
                        "{argument} got tally.histogram(...) for field {name:?}: it declares a \
                         histogram (pass it in histograms=); declare the unit of a {} with \
                         tally.field(unit=...)",
                        kind.as_str()
                    )));
                }
            };
            fields.push(FieldDesc { name: Cow::Owned(name), kind, help: Cow::Owned(help), unit });
            with_spec.push(spec);
        }
    }
    if fields.is_empty() {
        return Err(PyValueError::new_err(
            "a metric set needs at least one field: pass counters=, gauges=, last_values=, \
             histograms=, float_counters=, float_gauges= or float_last_values=",
        ));
    }
    let layout = Layout::new(fields).map_err(layout_error)?;
    Ok(Declared { layout, with_spec })
}

/// The unit of a field of `kind` declared by a bare name: a histogram's configured one.
fn kind_unit(kind: FieldKind) -> Unit {
    match kind {
        FieldKind::Histogram(config) => config.unit(),
        _ => Unit::None,
    }
}

fn declarations(group: &Bound<'_, PyAny>, argument: &str) -> PyResult<Vec<(String, Decl)>> {
    let wrong = || {
        crate::args::must_be(
            argument,
            "a list of names (str), of (name, help) pairs, or a dict {name: help}, where a \
             help may be a tally.field(...) (or, among histograms, a tally.histogram(...))",
            group,
        )
    };
    let decl_of = |v: &Bound<'_, PyAny>| -> PyResult<Decl> {
        if let Ok(help) = v.cast::<PyString>() {
            return Ok(Decl::Help(help.to_str()?.to_owned()));
        }
        if let Ok(f) = v.cast::<FieldSpec>() {
            return Ok(Decl::Field(f.get().clone()));
        }
        if let Ok(h) = v.cast::<HistogramSpec>() {
            return Ok(Decl::Histogram(h.get().clone()));
        }
        Err(wrong())
    };
    if group.is_instance_of::<PyString>() {
        // A lone string would be iterated character by character.
        return Err(wrong());
    }
    if let Ok(dict) = group.cast::<PyDict>() {
        return dict
            .iter()
            .map(|(k, v)| Ok((k.extract::<String>().map_err(|_| wrong())?, decl_of(&v)?)))
            .collect();
    }
    let mut out = Vec::new();
    for item in group.try_iter().map_err(|_| wrong())? {
        let item = item?;
        if let Ok(name) = item.extract::<String>() {
            out.push((name, Decl::Help(String::new())));
        } else if let Ok(pair) = item.cast::<PyTuple>() {
            if pair.len() != 2 {
                return Err(wrong());
            }
            let name = pair.get_item(0)?.extract::<String>().map_err(|_| wrong())?;
            out.push((name, decl_of(&pair.get_item(1)?)?));
        } else {
            return Err(wrong());
        }
    }
    Ok(out)
}

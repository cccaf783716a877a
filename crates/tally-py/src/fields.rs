//! A set's fields as Python sees them: declaring them from Python values, finding them by
//! (interned) name, and turning Python values into checked updates.

use std::borrow::Cow;

use pyo3::exceptions::{PyOverflowError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyFloat, PyInt, PyString, PyTuple};
use smallvec::SmallVec;
use tally::{Event, FieldDesc, FieldId, FieldKind, HistogramConfig, Layout, RawSet};

use crate::errors::{InvalidNameError, UnknownFieldError, layout_error};

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
    names: Vec<Py<PyString>>,
}

impl FieldTable {
    pub(crate) fn new(py: Python<'_>, set: &RawSet) -> FieldTable {
        let descs = set.layout().fields().to_vec();
        let ids =
            descs.iter().map(|d| set.field(&d.name).expect("the layout's own field")).collect();
        let names = descs.iter().map(|d| PyString::intern(py, &d.name).unbind()).collect();
        FieldTable { descs, ids, names }
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

/// One checked update of one field.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Update {
    Counter(u64),
    Gauge(i64),
    Last(i64),
    Observe(u64),
}

/// Updates of one event, checked before any is applied. Inline up to 8 fields.
pub(crate) type Updates = SmallVec<[(FieldId, Update); 8]>;

/// Converts `value` into an update of field `index`, or says clearly why not.
#[inline]
pub(crate) fn update_of(
    table: &FieldTable,
    index: usize,
    value: &Bound<'_, PyAny>,
) -> PyResult<Update> {
    let desc = &table.descs[index];
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
        FieldKind::Histogram(_) => observation(desc, value).map(Update::Observe),
    }
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
    let ty = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    PyTypeError::new_err(format!(
        "{kind} {name:?} got a {ty}: it takes an int, {wanted} (nothing was recorded)"
    ))
}

/// A histogram observation: an int >= 0, or a finite float >= 0 rounded to the nearest
/// integer (values past 2^64 - 1 saturate, and count in the histogram's overflow).
#[inline]
pub(crate) fn observation(desc: &FieldDesc, value: &Bound<'_, PyAny>) -> PyResult<u64> {
    let name = &desc.name;
    // Floats first: a failed int extraction builds an exception, which costs microseconds.
    if let Ok(x) = value.cast::<PyFloat>() {
        return checked_f64(name, x.value(), 1.0);
    }
    if let Ok(n) = value.extract::<u64>() {
        return Ok(n);
    }
    if value.is_instance_of::<PyInt>() {
        let negative = value.lt(0).unwrap_or(false);
        if negative {
            return Err(PyValueError::new_err(format!(
                "histogram {name:?} got {value}: observations must be >= 0 (nothing was recorded)"
            )));
        }
        return Ok(u64::MAX);
    }
    let ty = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    Err(PyTypeError::new_err(format!(
        "histogram {name:?} got a {ty}: it takes an int or float >= 0 (nothing was recorded)"
    )))
}

/// `x * scale` rounded to a `u64`, for finite non-negative `x`.
#[inline]
pub(crate) fn checked_f64(name: &str, x: f64, scale: f64) -> PyResult<u64> {
    if x.is_finite() && x >= 0.0 {
        // `as` saturates at u64::MAX.
        Ok((x * scale).round() as u64)
    } else {
        Err(PyValueError::new_err(format!(
            "{name:?} got {x}: it must be a finite number >= 0 (nothing was recorded)"
        )))
    }
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

/// Builds a layout from the Python field declarations: each argument is an iterable of
/// names or `(name, help)` pairs, or a dict `{name: help}`.
pub(crate) fn layout_from(
    counters: Option<&Bound<'_, PyAny>>,
    gauges: Option<&Bound<'_, PyAny>>,
    last_values: Option<&Bound<'_, PyAny>>,
    histograms: Option<&Bound<'_, PyAny>>,
) -> PyResult<Layout> {
    let mut fields = Vec::new();
    let groups = [
        (counters, FieldKind::Counter),
        (gauges, FieldKind::Gauge),
        (last_values, FieldKind::LastValue),
        (histograms, FieldKind::Histogram(HistogramConfig::DEFAULT)),
    ];
    for (group, kind) in groups {
        let Some(group) = group else { continue };
        for (name, help) in declarations(group, kind)? {
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
            fields.push(FieldDesc { name: Cow::Owned(name), kind, help: Cow::Owned(help) });
        }
    }
    if fields.is_empty() {
        return Err(PyValueError::new_err(
            "a metric set needs at least one field: pass counters=, gauges=, last_values= or histograms=",
        ));
    }
    Layout::new(fields).map_err(layout_error)
}

fn declarations(group: &Bound<'_, PyAny>, kind: FieldKind) -> PyResult<Vec<(String, String)>> {
    // The argument: `counters`, `gauges`, `last_values` or `histograms`.
    let argument = format!("{}s", kind.as_str());
    let wrong = || {
        crate::args::must_be(
            &argument,
            "a list of names (str), of (name, help) pairs, or a dict {name: help}",
            group,
        )
    };
    if group.is_instance_of::<PyString>() {
        // A lone string would be iterated character by character.
        return Err(wrong());
    }
    if let Ok(dict) = group.cast::<PyDict>() {
        return dict
            .iter()
            .map(|(k, v)| {
                Ok((
                    k.extract::<String>().map_err(|_| wrong())?,
                    v.extract::<String>().map_err(|_| wrong())?,
                ))
            })
            .collect();
    }
    let mut out = Vec::new();
    for item in group.try_iter().map_err(|_| wrong())? {
        let item = item?;
        if let Ok(name) = item.extract::<String>() {
            out.push((name, String::new()));
        } else if let Ok(pair) = item.cast::<PyTuple>() {
            let (name, help) = pair.extract::<(String, String)>().map_err(|_| wrong())?;
            out.push((name, help));
        } else {
            return Err(wrong());
        }
    }
    Ok(out)
}

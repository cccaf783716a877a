//! The arguments of the Python API, converted with messages that name the argument and
//! what it accepts: `port must be an integer in 0..=65535, got 70000`.
//!
//! PyO3's own conversions name neither: `tally.serve(port=70000)` said only "out of
//! range integral type conversion attempted" (the argument's name is in an exception
//! note, which `str(e)` and most logs leave out). So every argument that is not taken as
//! a plain Python object is converted here, with `#[pyo3(from_py_with = args::...)]`: one
//! function per argument name, which states the accepted range or form once, for every
//! method that takes an argument of that name.
//!
//! A value of the wrong type raises `TypeError`, a value out of range `ValueError`. Ints
//! are accepted wherever a number of seconds or a quantile is (not bools, anywhere a
//! number is asked for: `True` there is a mistake, not a 1).

use std::fmt::Display;
use std::time::Duration;

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyByteArray, PyBytes, PyString};

use crate::epoch::Epoch;
use crate::registry::{Registry, RegistrySnapshot};
use crate::snapshot::Snapshot;

/// Seconds past this are taken as this (about 31,700 years): "no limit" in practice, and
/// far from the overflow of a `Duration` or an `Instant`.
const MAX_SECONDS: f64 = 1e12;

/// `value`'s repr, cut short if long.
fn repr(value: &Bound<'_, PyAny>) -> String {
    let repr = value.repr().map(|r| r.to_string()).unwrap_or_else(|_| "<no repr>".to_owned());
    match repr.char_indices().nth(60) {
        Some((cut, _)) => format!("{}...", &repr[..cut]),
        None => repr,
    }
}

/// `value`'s repr and type: `'80' (a str)`, `3 (an int)`.
fn described(value: &Bound<'_, PyAny>) -> String {
    let ty = value.get_type().name().map(|n| n.to_string()).unwrap_or_default();
    let article = if ty.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" };
    format!("{} ({article} {ty})", repr(value))
}

/// A `TypeError`: `{name} must be {form}, got {value!r} (a {type})`.
fn wrong_type(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyTypeError::new_err(format!("{name} must be {form}, got {}", described(value)))
}

/// A `ValueError`: `{name} must be {form}, got {value!r}`.
fn out_of_range(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyErr {
    PyValueError::new_err(format!("{name} must be {form}, got {}", repr(value)))
}

/// An integer (an `int` or any object with `__index__`, not a bool) in `lo..=hi`.
fn int_in<T>(name: &str, value: &Bound<'_, PyAny>, lo: T, hi: T, or_none: bool) -> PyResult<T>
where
    T: Copy + Display + Into<i128> + TryFrom<i128>,
{
    let form = format!("an integer in {lo}..={hi}{}", if or_none { ", or None" } else { "" });
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, &form, value));
    }
    match value.extract::<i128>() {
        Ok(n) if (lo.into()..=hi.into()).contains(&n) => {
            Ok(T::try_from(n).unwrap_or_else(|_| unreachable!("{n} is within {lo}..={hi}")))
        }
        // Past 128 bits (an OverflowError) or past the range.
        Ok(_) => Err(out_of_range(name, &form, value)),
        Err(e) if e.is_instance_of::<PyTypeError>(value.py()) => {
            Err(wrong_type(name, &form, value))
        }
        Err(_) => Err(out_of_range(name, &form, value)),
    }
}

/// A real number (an `int`, a `float` or any object with `__float__`, not a bool).
fn number(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyResult<f64> {
    if value.is_instance_of::<PyBool>() {
        return Err(wrong_type(name, form, value));
    }
    match value.extract::<f64>() {
        Ok(x) => Ok(x),
        // An int too large for a float: a number, but out of any range we take.
        Err(e) if !e.is_instance_of::<PyTypeError>(value.py()) => {
            Err(out_of_range(name, form, value))
        }
        Err(_) => Err(wrong_type(name, form, value)),
    }
}

/// A number of seconds: finite, and at least zero (above zero if `positive`); past
/// [`MAX_SECONDS`], that.
fn seconds(
    name: &str,
    value: &Bound<'_, PyAny>,
    positive: bool,
    or_none: bool,
) -> PyResult<Duration> {
    let form = format!(
        "a number of seconds {}{}",
        if positive { "> 0" } else { ">= 0" },
        if or_none { ", or None" } else { "" }
    );
    let x = number(name, &form, value)?;
    let ok = x.is_finite() && if positive { x > 0.0 } else { x >= 0.0 };
    if !ok {
        return Err(out_of_range(name, &form, value));
    }
    Ok(Duration::from_secs_f64(x.min(MAX_SECONDS)))
}

/// A `str`.
fn string(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyResult<String> {
    match value.cast::<PyString>() {
        Ok(s) => Ok(s.to_str()?.to_owned()),
        Err(_) => Err(wrong_type(name, form, value)),
    }
}

/// A `bool` (`True` or `False`: not 0, 1 or None).
fn boolean(name: &str, value: &Bound<'_, PyAny>) -> PyResult<bool> {
    match value.cast::<PyBool>() {
        Ok(b) => Ok(b.is_true()),
        Err(_) => Err(wrong_type(name, "a bool (True or False)", value)),
    }
}

/// An instance of the class `T`, cloned (they are all handles to shared data).
fn instance<T>(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyResult<T>
where
    T: pyo3::PyClass<Frozen = pyo3::pyclass::boolean_struct::True> + Sync + Clone,
{
    match value.cast::<T>() {
        Ok(v) => Ok(v.get().clone()),
        Err(_) => Err(wrong_type(name, form, value)),
    }
}

/// Python's None.
fn none(value: &Bound<'_, PyAny>) -> bool {
    value.is_none()
}

// --- `tally.serve`

/// `port`: the TCP port (0: the system picks a free one).
pub(crate) fn port(value: &Bound<'_, PyAny>) -> PyResult<u16> {
    int_in("port", value, 0, u16::MAX, false)
}

/// `host`: an IP address as a string (checked as an address by `serve`).
pub(crate) fn host(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("host", "a str holding an IP address such as \"127.0.0.1\" or \"::1\"", value)
}

/// `registry`: a `tally.Registry`, or None for the global one.
pub(crate) fn registry(value: &Bound<'_, PyAny>) -> PyResult<Option<Registry>> {
    if none(value) {
        return Ok(None);
    }
    instance("registry", "a tally.Registry, or None (the global registry)", value).map(Some)
}

/// `max_age`: seconds.
pub(crate) fn max_age(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    seconds("max_age", value, false, false)
}

// --- `tally.push_to_gateway`

/// `gateway`: the Pushgateway's address, `host:port` or a URL.
pub(crate) fn gateway(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("gateway", "a str such as \"localhost:9091\" or \"http://gw:9091\"", value)
}

/// `job`: the job's name.
pub(crate) fn job(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("job", "a str (the batch job's name)", value)
}

/// `grouping_key`: a dict of str to str, or None.
pub(crate) fn grouping_key(value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let form = "a dict of str to str (label name to value), or None";
    if none(value) {
        return Ok(Vec::new());
    }
    let Ok(dict) = value.cast::<pyo3::types::PyDict>() else {
        return Err(wrong_type("grouping_key", form, value));
    };
    dict.iter()
        .map(|(k, v)| Ok((string("grouping_key", form, &k)?, string("grouping_key", form, &v)?)))
        .collect()
}

/// `timeout`: seconds > 0.
pub(crate) fn push_timeout(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    seconds("timeout", value, true, false)
}

// --- recording

/// `success` of `record_inference`.
pub(crate) fn success(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    boolean("success", value)
}

/// `cache_hit` of `record_inference`.
pub(crate) fn cache_hit(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    boolean("cache_hit", value)
}

/// `latency_s` of `record_inference`: seconds, or None. Checked before anything is
/// recorded.
pub(crate) fn latency_s(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if none(value) {
        return Ok(None);
    }
    let form = "a finite number of seconds >= 0, or None";
    let x = number("latency_s", form, value).map_err(|e| nothing_recorded(value.py(), e))?;
    if x.is_finite() && x >= 0.0 {
        Ok(Some(x))
    } else {
        Err(nothing_recorded(value.py(), out_of_range("latency_s", form, value)))
    }
}

/// `e`, with "(nothing was recorded)" after its message.
fn nothing_recorded(py: Python<'_>, e: PyErr) -> PyErr {
    let message = format!("{} (nothing was recorded)", e.value(py));
    if e.is_instance_of::<PyTypeError>(py) {
        PyTypeError::new_err(message)
    } else {
        PyValueError::new_err(message)
    }
}

/// `n` of `request_started` and `request_finished`: a signed 64-bit change.
pub(crate) fn n(value: &Bound<'_, PyAny>) -> PyResult<i64> {
    int_in("n", value, i64::MIN, i64::MAX, false)
}

// --- registries and names

/// `name`: a metric's or a field's name.
pub(crate) fn name(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("name", "a str", value)
}

/// `help`: a metric's description.
pub(crate) fn help(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("help", "a str", value)
}

/// `unit`: a metric's unit, or None.
pub(crate) fn unit(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if none(value) {
        return Ok(None);
    }
    string("unit", "a str (such as \"seconds\" or \"bytes\"), or None", value).map(Some)
}

/// `cardinality_limit`: series per family, at least 1; or None for the default.
pub(crate) fn cardinality_limit(value: &Bound<'_, PyAny>) -> PyResult<Option<usize>> {
    if none(value) {
        return Ok(None);
    }
    // usize is at most 64 bits wide: `usize::MAX as u64` is exact, and so is the way back.
    let limit = int_in("cardinality_limit", value, 1, usize::MAX as u64, true)?;
    Ok(Some(limit as usize))
}

/// `openmetrics` of `expose`.
pub(crate) fn openmetrics(value: &Bound<'_, PyAny>) -> PyResult<bool> {
    boolean("openmetrics", value)
}

// --- field declarations (`tally.field`, `tally.histogram`)

/// How the `unit` of a field declaration is written: `one of "seconds", "bytes", ...`.
fn units_form() -> String {
    let names: Vec<String> = tally::Unit::ALL
        .iter()
        .filter(|u| !u.is_none())
        .map(|u| format!("{:?}", u.as_str()))
        .collect();
    format!("one of {}, or None (a plain number)", names.join(", "))
}

/// `unit` of `tally.field` and `tally.histogram`: a unit's name (`tally.UNITS`), or None
/// (also `"none"` and `""`) for a plain number.
pub(crate) fn field_unit(value: &Bound<'_, PyAny>) -> PyResult<tally::Unit> {
    if none(value) {
        return Ok(tally::Unit::None);
    }
    let form = units_form();
    let name = string("unit", &form, value)?;
    tally::Unit::parse(&name).ok_or_else(|| out_of_range("unit", &form, value))
}

/// `unit` of `tally.field`: as [`field_unit`], and given (`None` only when left out).
pub(crate) fn declared_unit(value: &Bound<'_, PyAny>) -> PyResult<Option<tally::Unit>> {
    field_unit(value).map(Some)
}

/// `min` of `tally.histogram`: a number, or None.
pub(crate) fn range_min(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if none(value) {
        return Ok(None);
    }
    number("min", "a number (the smallest value to keep within the precision), or None", value)
        .map(Some)
}

/// `max` of `tally.histogram`: a number, or None.
pub(crate) fn range_max(value: &Bound<'_, PyAny>) -> PyResult<Option<f64>> {
    if none(value) {
        return Ok(None);
    }
    number("max", "a number (the largest value to bucket), or None", value).map(Some)
}

/// `precision` of `tally.histogram`: the relative error is at most 2^-precision.
pub(crate) fn precision(value: &Bound<'_, PyAny>) -> PyResult<u8> {
    int_in(
        "precision",
        value,
        tally::HistogramConfig::MIN_SUB_BUCKET_BITS,
        tally::HistogramConfig::MAX_SUB_BUCKET_BITS,
        false,
    )
}

// --- epochs and waits

/// `after`: an epoch number, or None for the latest.
pub(crate) fn after(value: &Bound<'_, PyAny>) -> PyResult<Option<u64>> {
    if none(value) {
        return Ok(None);
    }
    int_in("after", value, 0, u64::MAX, true).map(Some)
}

/// `timeout`: seconds, or None for no limit.
pub(crate) fn timeout(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    if none(value) {
        return Ok(None);
    }
    seconds("timeout", value, false, true).map(Some)
}

/// `period` of `start_refresher`: seconds, above zero.
pub(crate) fn period(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    seconds("period", value, true, false)
}

/// `predicate` of the waits: called with a snapshot.
pub(crate) fn predicate(value: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
    if value.is_callable() {
        Ok(value.clone().unbind())
    } else {
        Err(wrong_type(
            "predicate",
            "callable (it is called with a Snapshot, returns a bool)",
            value,
        ))
    }
}

/// `earlier` of `Epoch.since`.
pub(crate) fn earlier_epoch(value: &Bound<'_, PyAny>) -> PyResult<Epoch> {
    instance("earlier", "a tally.Epoch", value)
}

// --- snapshots

/// `q`: a quantile.
pub(crate) fn q(value: &Bound<'_, PyAny>) -> PyResult<f64> {
    let form = "a number in [0, 1]";
    let x = number("q", form, value)?;
    if (0.0..=1.0).contains(&x) { Ok(x) } else { Err(out_of_range("q", form, value)) }
}

/// `field` of `quantile`: a histogram field's name, or None for the only one.
pub(crate) fn field(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if none(value) {
        return Ok(None);
    }
    string("field", "a str (a histogram field's name), or None", value).map(Some)
}

/// `numerator` of `ratio`.
pub(crate) fn numerator(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("numerator", "a str (a counter's name)", value)
}

/// `denominator` of `ratio`.
pub(crate) fn denominator(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("denominator", "a str (a counter's name)", value)
}

/// `text` of `from_json`.
pub(crate) fn text(value: &Bound<'_, PyAny>) -> PyResult<String> {
    string("text", "a str (what to_json() returned)", value)
}

/// `data` of `from_bytes`: bytes or a bytearray.
pub(crate) fn data(value: &Bound<'_, PyAny>) -> PyResult<Vec<u8>> {
    if let Ok(bytes) = value.cast::<PyBytes>() {
        return Ok(bytes.as_bytes().to_vec());
    }
    if let Ok(array) = value.cast::<PyByteArray>() {
        return Ok(array.to_vec());
    }
    Err(wrong_type("data", "bytes (what to_bytes() returned)", value))
}

/// `other` of `Snapshot.merge`.
pub(crate) fn other_snapshot(value: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    instance("other", "a tally.Snapshot", value)
}

/// `earlier` of `Snapshot.delta`.
pub(crate) fn earlier_snapshot(value: &Bound<'_, PyAny>) -> PyResult<Snapshot> {
    instance("earlier", "a tally.Snapshot", value)
}

/// `other` of `RegistrySnapshot.merge`.
pub(crate) fn other_registry_snapshot(value: &Bound<'_, PyAny>) -> PyResult<RegistrySnapshot> {
    instance("other", "a tally.RegistrySnapshot", value)
}

/// A `TypeError` for an argument that must be `form`: for the checks made in place
/// (iterables, lists), in the same words as the others.
pub(crate) fn must_be(name: &str, form: &str, value: &Bound<'_, PyAny>) -> PyErr {
    wrong_type(name, form, value)
}

/// Each of the `*values` of a variadic call, naming what they are for (`for label
/// 'model'`, `at position 2`).
pub(crate) fn each_str(
    name: &str,
    form: &str,
    values: &Bound<'_, pyo3::types::PyTuple>,
    which: impl Fn(usize) -> String,
) -> PyResult<Vec<String>> {
    values
        .iter()
        .enumerate()
        .map(|(i, v)| {
            string(name, form, &v).map_err(|_| {
                PyTypeError::new_err(format!(
                    "{name} must be {form}, got {} {}",
                    described(&v),
                    which(i)
                ))
            })
        })
        .collect()
}

// --- `tally.start_otlp_exporter`

/// `endpoint`: the receiver's base URL, or None for `OTEL_EXPORTER_OTLP_ENDPOINT`.
pub(crate) fn otlp_endpoint(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if none(value) {
        return Ok(None);
    }
    let form = "a str such as \"http://localhost:4318\" (the collector's OTLP/HTTP base URL), \
                or None (OTEL_EXPORTER_OTLP_ENDPOINT, else http://localhost:4318)";
    string("endpoint", form, value).map(Some)
}

/// `interval_s`: seconds > 0.
pub(crate) fn interval_s(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    seconds("interval_s", value, true, false)
}

/// `timeout_s`: seconds > 0, or None.
pub(crate) fn timeout_s(value: &Bound<'_, PyAny>) -> PyResult<Option<Duration>> {
    if none(value) {
        return Ok(None);
    }
    seconds("timeout_s", value, true, true).map(Some)
}

/// `flush_timeout_s`: seconds >= 0.
pub(crate) fn flush_timeout_s(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    seconds("flush_timeout_s", value, false, false)
}

/// `temporality`: `"cumulative"`, `"delta"`, or None.
pub(crate) fn temporality(value: &Bound<'_, PyAny>) -> PyResult<Option<tally_otlp::Temporality>> {
    if none(value) {
        return Ok(None);
    }
    let form = "\"cumulative\" or \"delta\", or None (OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_\
                PREFERENCE, else cumulative)";
    match string("temporality", form, value)?.as_str() {
        "cumulative" => Ok(Some(tally_otlp::Temporality::Cumulative)),
        "delta" => Ok(Some(tally_otlp::Temporality::Delta)),
        _ => Err(out_of_range("temporality", form, value)),
    }
}

/// `service_name`: a str, or None.
pub(crate) fn service_name(value: &Bound<'_, PyAny>) -> PyResult<Option<String>> {
    if none(value) {
        return Ok(None);
    }
    let form = "a str, or None (OTEL_SERVICE_NAME, else unknown_service:<executable>)";
    string("service_name", form, value).map(Some)
}

/// A dict of str to str, or None (`resource`, `headers`).
fn str_dict(name: &str, value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    let form = "a dict of str to str, or None";
    if none(value) {
        return Ok(Vec::new());
    }
    let Ok(dict) = value.cast::<pyo3::types::PyDict>() else {
        return Err(wrong_type(name, form, value));
    };
    dict.iter().map(|(k, v)| Ok((string(name, form, &k)?, string(name, form, &v)?))).collect()
}

/// `resource`: resource attributes, a dict of str to str, or None.
pub(crate) fn resource(value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    str_dict("resource", value)
}

/// `headers`: HTTP headers sent with every export, a dict of str to str, or None.
pub(crate) fn headers(value: &Bound<'_, PyAny>) -> PyResult<Vec<(String, String)>> {
    str_dict("headers", value)
}

/// `buffer`: batches kept while the receiver is down, at least 1.
pub(crate) fn buffer(value: &Bound<'_, PyAny>) -> PyResult<usize> {
    int_in("buffer", value, 1u32, 1 << 20, false).map(|n| n as usize)
}

//! Field declarations with a unit (`tally.field`) and histograms with a unit, a range and a
//! precision (`tally.histogram`), given where a field's help would go:
//!
//! ```python
//! s = tally.MetricSet(
//!     float_gauges={"queue_fill": tally.field(unit="ratio")},
//!     histograms={"latency": tally.histogram(unit="seconds", min=1e-4, max=60, precision=5),
//!                 "response": tally.histogram(unit="bytes")},
//! )
//! ```

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use tally::{HistogramConfig, Unit};

use crate::args;

/// The precision of a histogram declared without one: relative error 2^-5 (3.1%), as
/// `HistogramConfig::DEFAULT`.
pub(crate) const DEFAULT_PRECISION: u8 = 5;

/// The largest value, in nanoseconds, of a seconds histogram declared without a range:
/// 100 s, as `HistogramConfig::DEFAULT`.
const SECONDS_MAX_NS: u64 = 100_000_000_000;

/// The largest value of a plain-number histogram declared without a range: that of the
/// histograms tally recorded before units existed (whole numbers, up to 10^11).
const PLAIN_MAX: u64 = 100_000_000_000;

/// The largest value of a bytes histogram declared without a range: 1 TiB, as
/// `HistogramConfig::BYTES`.
const BYTES_MAX: u64 = 1 << 40;

/// A field's declaration: its unit and help (`tally.field(unit="ratio", help="...")`).
/// Pass it where a field's help goes: `float_gauges={"fill": tally.field(unit="ratio")}` or
/// `float_gauges=[("fill", tally.field(unit="ratio"))]`.
#[pyclass(frozen, module = "tally._tally", name = "FieldSpec")]
#[derive(Debug, Clone)]
pub struct FieldSpec {
    /// The declared unit; None if `unit=` was not given (then a plain number, or among
    /// histograms the default histogram, as a bare name declares it).
    pub(crate) unit: Option<Unit>,
    pub(crate) help: String,
}

#[pymethods]
impl FieldSpec {
    /// The unit's name (`"seconds"`, `"bytes"`, `"ratio"`, ...), or None for a plain number.
    #[getter]
    fn unit(&self) -> Option<&'static str> {
        self.unit.and_then(unit_name)
    }

    /// The help text.
    #[getter]
    fn help(&self) -> &str {
        &self.help
    }

    fn __repr__(&self) -> String {
        match self.unit {
            Some(unit) => format!("tally.field(unit={}{})", unit_repr(unit), help_repr(&self.help)),
            None => format!("tally.field({})", help_repr(&self.help).trim_start_matches(", ")),
        }
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<FieldSpec>().is_ok_and(|o| {
            let o = o.get();
            o.unit == self.unit && o.help == self.help
        })
    }
}

/// A histogram's declaration: its unit, the scale of its steps, its range and precision,
/// and its help (`tally.histogram(unit="seconds", min=1e-4, max=60, precision=5)`).
#[pyclass(frozen, module = "tally._tally", name = "HistogramSpec")]
#[derive(Debug, Clone)]
pub struct HistogramSpec {
    pub(crate) config: HistogramConfig,
    /// The declared low end, if a range was declared.
    min: Option<f64>,
    pub(crate) help: String,
}

impl HistogramSpec {
    /// The histogram a field declared with only a unit gets (`tally.field(unit=...)` among
    /// `histograms=`), with the default precision.
    pub(crate) fn of_unit(unit: Unit, help: String) -> PyResult<HistogramSpec> {
        let config = preset(unit, DEFAULT_PRECISION)?;
        Ok(HistogramSpec { config, min: None, help })
    }
}

/// The configuration of a histogram in `unit` declared without a range.
fn preset(unit: Unit, precision: u8) -> PyResult<HistogramConfig> {
    let (max, decimals) = match unit {
        Unit::Seconds => (SECONDS_MAX_NS, 9),
        Unit::Bytes => (BYTES_MAX, 0),
        Unit::None => (PLAIN_MAX, 0),
        other => {
            return Err(PyValueError::new_err(format!(
                "a histogram of {other} needs its range, which sets the scale its values are \
                 recorded at: tally.histogram(unit={:?}, min=..., max=...) (min: the smallest \
                 value to keep within the precision)",
                other.as_str()
            )));
        }
    };
    HistogramConfig::new(precision, max)
        .and_then(|c| c.in_unit(unit, decimals))
        .map_err(|e| PyValueError::new_err(format!("this histogram cannot be declared: {e}")))
}

/// `, help=...` for a help text, nothing for none.
fn help_repr(help: &str) -> String {
    if help.is_empty() { String::new() } else { format!(", help={help:?}") }
}

/// `Some(name)`, or None for [`Unit::None`].
pub(crate) fn unit_name(unit: Unit) -> Option<&'static str> {
    (!unit.is_none()).then_some(unit.as_str())
}

/// The unit as Python writes it: `'seconds'` or `None`.
fn unit_repr(unit: Unit) -> String {
    unit_name(unit).map_or_else(|| "None".to_owned(), |u| format!("{u:?}").replace('"', "'"))
}

#[pymethods]
impl HistogramSpec {
    /// The unit's name, or None for plain numbers.
    #[getter]
    fn unit(&self) -> Option<&'static str> {
        unit_name(self.config.unit())
    }

    /// The scale of the recorded steps: a step is 10^-decimals of the unit (9 for a
    /// seconds histogram in nanoseconds, 0 for whole bytes).
    #[getter]
    fn decimals(&self) -> u8 {
        self.config.decimals()
    }

    /// 10^decimals: steps per unit.
    #[getter]
    fn steps_per_unit(&self) -> u64 {
        self.config.steps_per_unit()
    }

    /// The relative error is at most 2^-precision.
    #[getter]
    fn precision(&self) -> u8 {
        self.config.sub_bucket_bits()
    }

    /// The declared low end (None if no range was declared).
    #[getter]
    fn min(&self) -> Option<f64> {
        self.min
    }

    /// The largest value bucketed, in the unit (larger values are counted as overflow,
    /// and exactly in count, sum, min and max).
    #[getter]
    fn max(&self) -> f64 {
        self.config.to_unit(self.config.max_value())
    }

    /// The help text.
    #[getter]
    fn help(&self) -> &str {
        &self.help
    }

    fn __repr__(&self) -> String {
        let range = match self.min {
            Some(min) => format!(", min={min:?}, max={:?}", self.max()),
            None => String::new(),
        };
        format!(
            "tally.histogram(unit={}{range}, precision={}{})",
            unit_repr(self.config.unit()),
            self.precision(),
            help_repr(&self.help)
        )
    }

    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<HistogramSpec>().is_ok_and(|o| {
            let o = o.get();
            o.config == self.config && o.help == self.help
        })
    }
}

/// Declares a field's unit (and help): `tally.field(unit="ratio")`. The unit names the
/// exposed family (`..._ratio`, `..._seconds_total`) and its OpenMetrics `# UNIT`; it does
/// not change the values, which are recorded as given. `unit` is one of `tally.UNITS`, or
/// None for a plain number. Among histograms, `tally.field(unit=u)` is
/// `tally.histogram(unit=u)`, and `tally.field(help=h)` (no unit) the default histogram,
/// as a bare name with help `h` declares it.
#[pyfunction]
#[pyo3(
    signature = (*, unit=None, help=String::new()),
    text_signature = "(*, unit=None, help='')"
)]
pub(crate) fn field(
    #[pyo3(from_py_with = args::declared_unit)] unit: Option<Unit>,
    #[pyo3(from_py_with = args::help)] help: String,
) -> FieldSpec {
    FieldSpec { unit, help }
}

/// Declares a histogram: `tally.histogram(unit="seconds", min=1e-4, max=60, precision=5)`.
///
/// Without a range: seconds are recorded in steps of 1 ns up to 100 s (the default
/// histogram), bytes in whole bytes up to 1 TiB, plain numbers (`unit=None`) in whole
/// numbers up to 10^11; other units need a range. With `min` and `max`, the steps are the
/// coarsest power of ten at which `min` is still within the precision (`min=1e-4` seconds:
/// steps of 1 µs), so that values down to `min` keep the relative error 2^-precision and
/// are never rounded to 0. Values above `max` are counted (overflow), and exact in count,
/// sum, min and max.
#[pyfunction]
#[pyo3(
    signature = (*, unit=Unit::Seconds, min=None, max=None, precision=DEFAULT_PRECISION, help=String::new()),
    text_signature = "(*, unit='seconds', min=None, max=None, precision=5, help='')"
)]
pub(crate) fn histogram(
    #[pyo3(from_py_with = args::field_unit)] unit: Unit,
    #[pyo3(from_py_with = args::range_min)] min: Option<f64>,
    #[pyo3(from_py_with = args::range_max)] max: Option<f64>,
    #[pyo3(from_py_with = args::precision)] precision: u8,
    #[pyo3(from_py_with = args::help)] help: String,
) -> PyResult<HistogramSpec> {
    let config = match (min, max) {
        (None, None) => preset(unit, precision)?,
        (Some(lo), Some(hi)) => {
            HistogramConfig::for_range(unit, lo, hi, precision).map_err(|e| {
                PyValueError::new_err(format!(
                    "tally.histogram(unit={}, min={lo:?}, max={hi:?}, precision={precision}) \
                     cannot be declared: {e}",
                    unit_repr(unit)
                ))
            })?
        }
        _ => {
            return Err(PyValueError::new_err(
                "give both min and max (the smallest value to keep within the precision, and \
                 the largest to bucket), or neither",
            ));
        }
    };
    Ok(HistogramSpec { config, min, help })
}

/// `{"negative": n, "not_finite": n, "too_large": n}`: how many values this process
/// refused, by reason, from Python and Rust alike (Python raised ValueError for each one
/// it refused): negative increments of float counters and negative histogram
/// observations, NaN and infinities, histogram observations past 2^63 steps.
#[pyfunction]
pub(crate) fn rejected_values(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let counts = tally::rejected_values();
    let d = pyo3::types::PyDict::new(py);
    for reason in tally::Rejected::ALL {
        d.set_item(reason.as_str(), counts.get(reason))?;
    }
    Ok(d)
}

/// The names `unit=` takes (`tally.UNITS`), besides None.
pub(crate) fn unit_names() -> Vec<&'static str> {
    Unit::ALL.iter().filter(|u| !u.is_none()).map(|u| u.as_str()).collect()
}

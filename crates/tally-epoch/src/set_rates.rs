//! Per-field rates of a window over [`SetSnapshot`]s, for dashboards.

use tally_snapshot::{FieldDesc, HistogramSnapshot, Last, LastF64, SetSnapshot, Value};

use crate::Window;

/// One field of a [`Window<SetSnapshot>`] with its rate: see [`Window::rates`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FieldRate<'a> {
    /// The field's description.
    pub field: &'a FieldDesc,
    /// What the field did in the window.
    pub rate: Rate<'a>,
}

/// What one field did in a window. Every `per_second` is `None` for a window of zero
/// length.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Rate<'a> {
    /// A counter: the events in the window and their rate.
    Counter {
        /// Events counted in the window.
        delta: u64,
        /// `delta` per second.
        per_second: Option<f64>,
    },
    /// A summed gauge: its net change in the window.
    Gauge {
        /// The net change (negative if the gauge went down).
        change: i64,
        /// `change` per second.
        per_second: Option<f64>,
    },
    /// A last-value gauge is a level, not a flow: its value at the window's end.
    LastValue(Last),
    /// A histogram: the distribution of the values recorded in the window (ask it for
    /// `quantile(0.99)` to show "p99 over the last 10 s"), and how many per second.
    Histogram {
        /// The values recorded in the window.
        delta: &'a HistogramSnapshot,
        /// Values recorded per second.
        per_second: Option<f64>,
    },
    /// A float counter: its increase in the window and its rate.
    CounterF64 {
        /// The increase in the window.
        delta: f64,
        /// `delta` per second.
        per_second: Option<f64>,
    },
    /// A summed float gauge: its net change in the window.
    GaugeF64 {
        /// The net change (negative if the gauge went down).
        change: f64,
        /// `change` per second.
        per_second: Option<f64>,
    },
    /// A float last-value gauge: its value at the window's end.
    LastValueF64(LastF64),
    /// A field of a kind newer than this crate: no rate.
    Unknown,
}

impl Window<SetSnapshot> {
    /// Every field of the window with its rate, in the set's field order.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    /// use tally_epoch::{ManualClock, Publisher, Rate};
    /// use tally_snapshot::{FieldDesc, FieldKind, HistogramConfig, HistogramSnapshot, SetSnapshot, Value};
    ///
    /// let cfg = HistogramConfig::DEFAULT;
    /// let fields = vec![
    ///     FieldDesc::new("requests", FieldKind::Counter, "Requests."),
    ///     FieldDesc::new("latency_ns", FieldKind::Histogram(cfg), "Latency."),
    /// ];
    /// let latencies = Arc::new(Mutex::new(Vec::<u64>::new()));
    /// let source = Arc::clone(&latencies);
    /// let clock = ManualClock::new();
    /// let publisher = Publisher::builder(move || {
    ///     let l = source.lock().unwrap();
    ///     let h = HistogramSnapshot::from_values(cfg, l.iter().copied()).unwrap();
    ///     let values = vec![Value::Counter(l.len() as u64), Value::Histogram(Box::new(h))];
    ///     SetSnapshot::new(fields.clone(), values).unwrap()
    /// })
    /// .clock(clock.clone())
    /// .build();
    ///
    /// latencies.lock().unwrap().extend([1_000_000; 99]); // before the window: not in it
    /// let start = publisher.refresh();
    /// latencies.lock().unwrap().extend((1..=100).map(|ms| ms * 1_000_000));
    /// clock.advance(Duration::from_secs(10));
    /// let end = publisher.refresh();
    ///
    /// let window = end.since_by(&start, SetSnapshot::delta).unwrap();
    /// let rates = window.rates().collect::<Vec<_>>();
    /// assert_eq!(rates[0].rate, Rate::Counter { delta: 100, per_second: Some(10.0) });
    /// let Rate::Histogram { delta, per_second } = rates[1].rate else { unreachable!() };
    /// assert_eq!(per_second, Some(10.0));
    /// let p99 = delta.quantile(0.99).unwrap(); // about 99 ms, within 2^-5
    /// assert!(p99.abs_diff(99_000_000) <= 99_000_000 / 32);
    /// ```
    pub fn rates(&self) -> impl Iterator<Item = FieldRate<'_>> + '_ {
        self.delta()
            .iter()
            .map(move |(field, value)| FieldRate { field, rate: self.rate_of(value) })
    }

    /// The rate of the field called `name`, if there is one.
    pub fn field_rate(&self, name: &str) -> Option<Rate<'_>> {
        self.delta().get(name).map(|value| self.rate_of(value))
    }

    /// The per-second rate of the counter called `name`: `None` if there is no such
    /// counter or the window has zero length.
    pub fn counter_rate(&self, name: &str) -> Option<f64> {
        match self.delta().get(name)? {
            Value::Counter(n) => self.per_second(*n as f64),
            _ => None,
        }
    }

    /// The values recorded in the window by the histogram called `name`.
    pub fn histogram(&self, name: &str) -> Option<&HistogramSnapshot> {
        match self.delta().get(name)? {
            Value::Histogram(h) => Some(h),
            _ => None,
        }
    }

    fn rate_of<'a>(&'a self, value: &'a Value) -> Rate<'a> {
        match value {
            Value::Counter(n) => {
                Rate::Counter { delta: *n, per_second: self.per_second(*n as f64) }
            }
            Value::Gauge(n) => Rate::Gauge { change: *n, per_second: self.per_second(*n as f64) },
            Value::LastValue(last) => Rate::LastValue(*last),
            Value::Histogram(h) => {
                Rate::Histogram { delta: h, per_second: self.per_second(h.count() as f64) }
            }
            Value::CounterF64(d) => Rate::CounterF64 { delta: *d, per_second: self.per_second(*d) },
            Value::GaugeF64(d) => Rate::GaugeF64 { change: *d, per_second: self.per_second(*d) },
            Value::LastValueF64(last) => Rate::LastValueF64(*last),
            _ => Rate::Unknown,
        }
    }
}

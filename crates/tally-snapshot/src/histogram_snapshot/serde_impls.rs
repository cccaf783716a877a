//! Serde: sparse buckets, `null` min and max when empty, a `u128` sum that fits any
//! format, and every invariant checked on the way in.

use serde::{Deserialize, Serialize};

use super::HistogramSnapshot;
use crate::HistogramConfig;

/// Serde's view of [`HistogramSnapshot`]: buckets sparse as `[index, count]` pairs, min and
/// max `null` when empty.
#[derive(Serialize)]
struct RawHistogramRef<'a> {
    config: HistogramConfig,
    count: u64,
    #[serde(serialize_with = "sum_serde::serialize")]
    sum: u128,
    min: Option<u64>,
    max: Option<u64>,
    overflow: u64,
    buckets: &'a [(u32, u64)],
}

#[derive(Deserialize)]
struct RawHistogram {
    config: HistogramConfig,
    count: u64,
    #[serde(deserialize_with = "sum_serde::deserialize")]
    sum: u128,
    min: Option<u64>,
    max: Option<u64>,
    overflow: u64,
    buckets: Vec<(u32, u64)>,
}

/// `sum` is a `u128`: a plain number while it fits a `u64` (the common case, and what
/// every JSON reader handles), a decimal string beyond (2^64 ns is only 213 days of a
/// thousand seconds of latency per second), since many formats, `serde_json::Value`
/// included, have no 128-bit integers. Reads a `u64`, a decimal string, or a `u128` from
/// formats that have them (a JSON number beyond `u64` is read as a float and refused).
mod sum_serde {
    use std::fmt;

    use serde::{Deserializer, Serializer, de};

    pub(super) fn serialize<S: Serializer>(sum: &u128, s: S) -> Result<S::Ok, S::Error> {
        match u64::try_from(*sum) {
            Ok(small) => s.serialize_u64(small),
            Err(_) => s.collect_str(sum),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u128, D::Error> {
        d.deserialize_any(SumVisitor)
    }

    struct SumVisitor;

    impl de::Visitor<'_> for SumVisitor {
        type Value = u128;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a non-negative integer, or one as a decimal string")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u128, E> {
            Ok(v.into())
        }
        fn visit_u128<E: de::Error>(self, v: u128) -> Result<u128, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u128, E> {
            u128::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u128, E> {
            v.parse().map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
        }
    }
}

/// Writes `{config, count, sum, min, max, overflow, buckets: [[index, count], ...]}`;
/// `min` and `max` are `null` when empty; `sum` is a number, or a decimal string if it
/// exceeds `u64::MAX`.
impl Serialize for HistogramSnapshot {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawHistogramRef {
            config: self.config,
            count: self.count,
            sum: self.sum,
            min: self.min(),
            max: self.max(),
            overflow: self.overflow,
            buckets: &self.buckets,
        }
        .serialize(serializer)
    }
}

/// Reads what [`Serialize`] writes and checks every invariant (see [`HistogramSnapshot`]
/// and [`HistogramSnapshot::from_parts`]): hostile input is an error, never a panic.
impl<'de> Deserialize<'de> for HistogramSnapshot {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = RawHistogram::deserialize(deserializer)?;
        HistogramSnapshot::from_parts(
            raw.config,
            raw.count,
            raw.sum,
            raw.min,
            raw.max,
            raw.overflow,
            raw.buckets,
        )
        .map_err(serde::de::Error::custom)
    }
}

//! Support for the code `metric_set!` generates. Not public API.

use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tally_snapshot::{FieldKind, HistogramConfig, HistogramSnapshot, Last, Value};

pub use pastey;
pub use serde;

/// Doc comments arrive with leading spaces; help text should not.
pub const fn trim_doc(s: &'static str) -> &'static str {
    s.trim_ascii()
}

/// A field's kind: the kind's default, or a histogram with the configuration given in
/// `metric_set!` (`latency: Histogram(CONFIG)`). Evaluated at compile time.
pub const fn kind_with(default: FieldKind, config: &[HistogramConfig]) -> FieldKind {
    match (default, config) {
        (_, []) => default,
        (FieldKind::Histogram(_), [c]) => FieldKind::Histogram(*c),
        _ => panic!("metric_set!: only Histogram fields take a configuration, and only one"),
    }
}

struct KindSeed(FieldKind);

impl<'de> DeserializeSeed<'de> for KindSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Ok(match self.0 {
            FieldKind::Counter => Value::Counter(u64::deserialize(d)?),
            FieldKind::Gauge => Value::Gauge(i64::deserialize(d)?),
            FieldKind::LastValue => Value::LastValue(Last::deserialize(d)?),
            FieldKind::Histogram(config) => {
                let h = HistogramSnapshot::deserialize(d)?;
                if h.config() != config {
                    return Err(de::Error::custom(format_args!(
                        "histogram configuration {:?} does not match the set's {:?}",
                        h.config(),
                        config
                    )));
                }
                Value::Histogram(Box::new(h))
            }
        })
    }
}

struct FieldsVisitor {
    name: &'static str,
    names: &'static [&'static str],
    kinds: &'static [FieldKind],
}

impl<'de> Visitor<'de> for FieldsVisitor {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a {} snapshot (fields {:?})", self.name, self.names)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<Value>, A::Error> {
        let mut values: Vec<Option<Value>> = vec![None; self.names.len()];
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let Some(i) = self.names.iter().position(|n| *n == key) else {
                return Err(de::Error::unknown_field(&key, self.names));
            };
            if values[i].is_some() {
                return Err(de::Error::duplicate_field(self.names[i]));
            }
            values[i] = Some(map.next_value_seed(KindSeed(self.kinds[i]))?);
        }
        values
            .into_iter()
            .zip(self.names)
            .map(|(v, n)| v.ok_or_else(|| de::Error::missing_field(n)))
            .collect()
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut values = Vec::with_capacity(self.names.len());
        for (i, kind) in self.kinds.iter().enumerate() {
            match seq.next_element_seed(KindSeed(*kind))? {
                Some(v) => values.push(v),
                None => return Err(de::Error::invalid_length(i, &self)),
            }
        }
        if seq.next_element::<de::IgnoredAny>()?.is_some() {
            return Err(de::Error::invalid_length(self.names.len() + 1, &self));
        }
        Ok(values)
    }
}

/// Deserializes a generated snapshot struct's fields (as a map or a sequence) into
/// values of the declared kinds; unknown, repeated and missing fields are errors.
pub fn deserialize_fields<'de, D: Deserializer<'de>>(
    d: D,
    name: &'static str,
    names: &'static [&'static str],
    kinds: &'static [FieldKind],
) -> Result<Vec<Value>, D::Error> {
    d.deserialize_struct(name, names, FieldsVisitor { name, names, kinds })
}

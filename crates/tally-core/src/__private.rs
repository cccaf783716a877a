//! Support for the code `metric_set!` generates. Not public API.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};
use tally_snapshot::{FieldKind, HistogramConfig, HistogramSnapshot, Last, LastF64, Value};

pub use pastey;
pub use serde;

use crate::{Event, FieldDesc, FieldId, Kind, Layout, RawSet};

/// A field list known at compile time: what `metric_set!` declares for each set.
pub trait StaticLayout: 'static {
    /// The fields, in declaration order.
    const FIELDS: &'static [FieldDesc];
}

/// Field `I` of `L`, for a handle of kind `K`; a compile-time error if it is not one.
const fn static_field<L: StaticLayout, K: Kind>(index: usize) -> FieldId {
    assert!(index < L::FIELDS.len(), "metric_set!: field index out of range");
    assert!(
        crate::layout::same_class(K::KIND, L::FIELDS[index].kind),
        "metric_set!: handle of the wrong kind"
    );
    FieldId::of_fields(L::FIELDS, index)
}

/// The set inside a `metric_set!` struct: a [`RawSet`] built from `L::FIELDS`, whose field
/// handles are computed from the same `L::FIELDS` at compile time. Both come from one
/// list, so every handle it gives is a field of its layout: the promise of
/// [`Kind::field`], held by construction, whatever the caller does.
pub struct Typed<L> {
    raw: RawSet,
    _layout: PhantomData<fn() -> L>,
}

impl<L: StaticLayout> Typed<L> {
    /// A new set, every field zero.
    pub fn new() -> Self {
        Typed { raw: RawSet::new(Layout::from_static(L::FIELDS)), _layout: PhantomData }
    }

    /// The handle of field `I`, of kind `K` (checked at compile time).
    #[inline(always)]
    pub fn field<K: Kind, const I: usize>(&self) -> K::Field<'_, RawSet> {
        let id = const { static_field::<L, K>(I) };
        // SAFETY: `raw` was built from `L::FIELDS` (`new`, the only constructor) and `id` is
        // field `I` of `L::FIELDS`, of `K`'s kind, with the offsets `Layout::new` gives it.
        unsafe { K::field(&self.raw, id) }
    }

    /// Records one event (see [`RawSet::record`]).
    #[inline(always)]
    pub fn record<R>(&self, f: impl FnOnce(TypedEvent<'_, L>) -> R) -> R {
        let width = const { crate::layout::width_of(L::FIELDS) };
        // SAFETY: `raw` was built from `L::FIELDS` (`new`, the only constructor), whose
        // width this is.
        unsafe {
            self.raw.record_in(
                width,
                #[inline(always)]
                |event| f(TypedEvent { event, _layout: PhantomData }),
            )
        }
    }

    /// The untyped set.
    #[inline(always)]
    pub fn raw(&self) -> &RawSet {
        &self.raw
    }
}

impl<L: StaticLayout> Default for Typed<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L> fmt::Debug for Typed<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Typed").field("shards", &self.raw.shard_count()).finish()
    }
}

/// An event of a [`Typed`] set: only `Typed::<L>::record` makes one, so its events are of
/// a set built from `L::FIELDS`.
pub struct TypedEvent<'a, L> {
    event: &'a Event<'a>,
    _layout: PhantomData<fn() -> L>,
}

impl<L> Clone for TypedEvent<'_, L> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<L> Copy for TypedEvent<'_, L> {}

impl<L> fmt::Debug for TypedEvent<'_, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.event.fmt(f)
    }
}

impl<'a, L: StaticLayout> TypedEvent<'a, L> {
    /// The handle of field `I`, of kind `K` (checked at compile time), in this event.
    #[inline(always)]
    pub fn field<K: Kind, const I: usize>(self) -> K::Field<'a, Event<'a>> {
        let id = const { static_field::<L, K>(I) };
        // SAFETY: the event is of a set built from `L::FIELDS` (only `Typed::<L>::record`
        // makes a `TypedEvent<L>`), and `id` is field `I` of `L::FIELDS`, of `K`'s kind.
        unsafe { K::field(self.event, id) }
    }
}

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
            FieldKind::CounterF64 | FieldKind::GaugeF64 | FieldKind::LastValueF64 => {
                let v = match self.0 {
                    FieldKind::CounterF64 => Value::CounterF64(f64::deserialize(d)?),
                    FieldKind::GaugeF64 => Value::GaugeF64(f64::deserialize(d)?),
                    _ => Value::LastValueF64(LastF64::deserialize(d)?),
                };
                if v.as_f64().is_nan() {
                    return Err(de::Error::custom("a float field's value is NaN"));
                }
                v
            }
            FieldKind::Histogram(config) => {
                let mut h = HistogramSnapshot::deserialize(d)?;
                // Serialized before histograms had units, a configuration has none: its
                // steps are the recorded integers, read in the unit the set declares.
                let plain = h.config().unit().is_none() && h.config().decimals() == 0;
                let same_layout = h.config().sub_bucket_bits() == config.sub_bucket_bits()
                    && h.config().max_value() == config.max_value();
                if plain && same_layout {
                    h = h.with_unit(config.unit(), config.decimals()).map_err(de::Error::custom)?;
                }
                if h.config() != config {
                    return Err(de::Error::custom(format_args!(
                        "histogram configuration {:?} does not match the set's {:?}",
                        h.config(),
                        config
                    )));
                }
                Value::Histogram(Box::new(h))
            }
            other => {
                return Err(de::Error::custom(format_args!(
                    "field kind `{}` is not supported by this version of tally-core",
                    other.as_str()
                )));
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

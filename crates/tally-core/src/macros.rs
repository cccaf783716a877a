//! `metric_set!`: declaring a metric set.

/// Declares a metric set: a struct of named fields recorded together, its plain-data
/// snapshot struct (`…Snapshot`) and its event type (`…Event`).
///
/// Each field is a [`Counter`](crate::kind::Counter), a [`Gauge`](crate::kind::Gauge), a
/// [`LastValue`](crate::kind::LastValue), their `f64` twins
/// [`CounterF64`](crate::kind::CounterF64), [`GaugeF64`](crate::kind::GaugeF64) and
/// [`LastValueF64`](crate::kind::LastValueF64), or a [`Histogram`](crate::kind::Histogram)
/// (optionally with a `const` [`HistogramConfig`](crate::HistogramConfig), which also
/// declares its unit: `size: Histogram(HistogramConfig::BYTES)`). A scalar field declares
/// its [`Unit`](crate::Unit) after `in`: `busy: LastValueF64 in Ratio`. Its doc comment
/// becomes its help text.
///
/// ```
/// use tally_core::{HistogramConfig, Unit};
/// tally_core::metric_set! {
///     pub struct Worker {
///         /// Requests answered.
///         answered: Counter,
///         /// GPU busy fraction, last sampled.
///         gpu_busy: LastValueF64 in Ratio,
///         /// CPU time used.
///         cpu_seconds: CounterF64 in Seconds,
///         /// Time to answer.
///         latency: Histogram,
///         /// Response sizes.
///         response: Histogram(HistogramConfig::BYTES),
///     }
/// }
/// assert_eq!(Worker::FIELDS[1].unit, Unit::Ratio);
/// assert_eq!(Worker::FIELDS[3].unit, Unit::Seconds);
/// assert_eq!(Worker::FIELDS[4].unit, Unit::Bytes);
/// ```
///
/// A histogram's unit comes with the scale of its steps, in its configuration; `in` on a
/// histogram is a compile-time error:
///
/// ```compile_fail
/// tally_core::metric_set! {
///     struct Http { response: Histogram in Bytes }
/// }
/// let _ = Http::new();
/// ```
///
/// ```
/// tally_core::metric_set! {
///     /// What one inference server did.
///     pub struct Inference {
///         /// Requests received.
///         total: Counter,
///         /// Requests answered.
///         ok: Counter,
///         /// Requests that failed.
///         failed: Counter,
///         /// Requests being served now.
///         in_flight: Gauge,
///     }
/// }
///
/// let stats = Inference::new();
/// // One event, several fields: a snapshot holds all of it or none of it.
/// stats.record(|e| {
///     e.total().inc();
///     e.ok().inc();
/// });
/// // A single-field update is an event of its own.
/// stats.in_flight().inc();
///
/// let snap: InferenceSnapshot = stats.snapshot();
/// assert_eq!((snap.total, snap.ok, snap.failed, snap.in_flight), (1, 1, 0, 1));
/// assert_eq!(Inference::FIELDS[1].help, "Requests answered.");
/// ```
///
/// Generated, for `pub struct Name { … }`:
/// - `Name`: `new()`, `record(|e| …)`, one method per field returning its handle
///   ([`CounterRef`](crate::CounterRef), [`GaugeRef`](crate::GaugeRef),
///   [`LastValueRef`](crate::LastValueRef), [`HistogramRef`](crate::HistogramRef)),
///   `snapshot()`, `FIELDS`, `raw()`, and
///   [`MetricSet`](crate::MetricSet).
/// - `NameEvent<'_>`: the same field methods, adding to one event.
/// - `NameSnapshot`: one public field per field (`u64`, `i64`, [`Last`](crate::Last) or
///   [`HistogramSnapshot`](crate::HistogramSnapshot)), with [`Merge`](crate::Merge), [`Delta`](crate::Delta),
///   [`Snapshot`](crate::Snapshot) and serde `Serialize`/`Deserialize` (the user crate
///   needs no serde dependency).
#[macro_export]
macro_rules! metric_set {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(
                $(#[doc = $doc:literal])*
                $field:ident : $kind:ident $(($config:expr))? $(in $unit:ident)?
            ),* $(,)?
        }
    ) => {
        $crate::__private::pastey::paste! {
            $(#[$meta])*
            $vis struct $name {
                raw: $crate::__private::Typed<[<__ $name Layout>]>,
            }

            #[doc(hidden)]
            $vis struct [<__ $name Layout>];

            impl $crate::__private::StaticLayout for [<__ $name Layout>] {
                const FIELDS: &'static [$crate::FieldDesc] = $name::FIELDS;
            }

            #[doc = "A coherent snapshot of a [`" $name "`]: each event recorded into it is here whole or not at all."]
            #[derive(Debug, Clone, PartialEq, Default)]
            $vis struct [<$name Snapshot>] {
                $(
                    $(#[doc = $doc])*
                    pub $field: <$crate::kind::$kind as $crate::Kind>::Value,
                )*
            }

            // Float fields are never NaN (their handles refuse it), so equality is an
            // equivalence.
            impl ::core::cmp::Eq for [<$name Snapshot>] {}

            #[doc = "One event being recorded into a [`" $name "`]; see [`" $name "::record`]."]
            #[derive(Debug, Clone, Copy)]
            $vis struct [<$name Event>]<'a>($crate::__private::TypedEvent<'a, [<__ $name Layout>]>);

            #[allow(non_camel_case_types, dead_code, clippy::upper_case_acronyms)]
            #[derive(Clone, Copy)]
            enum [<__ $name Index>] { $($field),* }

            #[allow(dead_code)]
            impl $name {
                /// The fields, in declaration order.
                pub const FIELDS: &'static [$crate::FieldDesc] = &[
                    $(
                        $crate::FieldDesc::new(
                            stringify!($field),
                            $crate::__private::kind_with(
                                <$crate::kind::$kind as $crate::Kind>::KIND,
                                &[$($config)?],
                            ),
                            $crate::__private::trim_doc(concat!($($doc, " ",)* "")),
                        )$(.with_unit($crate::Unit::$unit))?,
                    )*
                ];

                const KINDS: &'static [$crate::FieldKind] = &[
                    $($crate::__private::kind_with(<$crate::kind::$kind as $crate::Kind>::KIND, &[$($config)?])),*
                ];

                const NAMES: &'static [&'static str] = &[$(stringify!($field)),*];

                /// A new set, every field zero.
                pub fn new() -> Self {
                    $name { raw: $crate::__private::Typed::new() }
                }

                /// Records one event: everything `f` records through the event is in a
                /// snapshot whole or not at all. If `f` panics, nothing of the event is
                /// recorded.
                #[inline(always)]
                pub fn record<R>(&self, f: impl FnOnce([<$name Event>]<'_>) -> R) -> R {
                    self.raw.record(#[inline(always)] |e| f([<$name Event>](e)))
                }

                $(
                    $(#[doc = $doc])*
                    ///
                    /// Each update through this handle is an event of its own.
                    #[inline(always)]
                    pub fn $field(&self) -> $crate::[<$kind Ref>]<'_, $crate::RawSet> {
                        self.raw.field::<$crate::kind::$kind, { [<__ $name Index>]::$field as usize }>()
                    }
                )*

                /// A coherent snapshot: for every thread, a prefix of its events, each
                /// whole. Never waits for a writer.
                pub fn snapshot(&self) -> [<$name Snapshot>] {
                    let mut values = self.raw.raw().collect_values().into_iter();
                    [<$name Snapshot>] {
                        $(
                            $field: values
                                .next()
                                .and_then(<$crate::kind::$kind as $crate::Kind>::from_value)
                                .expect("a set's values match its declared kinds"),
                        )*
                    }
                }

                /// The untyped set underneath.
                pub fn raw(&self) -> &$crate::RawSet {
                    self.raw.raw()
                }
            }

            impl ::core::default::Default for $name {
                fn default() -> Self {
                    Self::new()
                }
            }

            impl ::core::fmt::Debug for $name {
                fn fmt(&self, f: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                    // No collection: `Debug` is for logs, and reading every shard is the
                    // cost of a snapshot (take one with `snapshot()` to see the values).
                    f.debug_struct(stringify!($name))
                        .field("fields", &Self::NAMES)
                        .field("shards", &self.raw.raw().shard_count())
                        .finish()
                }
            }

            impl $crate::MetricSet for $name {
                type Snapshot = [<$name Snapshot>];
                const FIELDS: &'static [$crate::FieldDesc] = $name::FIELDS;
                fn new_set() -> Self {
                    Self::new()
                }
                fn snapshot(&self) -> [<$name Snapshot>] {
                    $name::snapshot(self)
                }
                fn raw(&self) -> &$crate::RawSet {
                    self.raw.raw()
                }
            }

            #[allow(dead_code)]
            impl<'a> [<$name Event>]<'a> {
                $(
                    $(#[doc = $doc])*
                    #[inline(always)]
                    pub fn $field(&self) -> $crate::[<$kind Ref>]<'a, $crate::Event<'a>> {
                        self.0.field::<$crate::kind::$kind, { [<__ $name Index>]::$field as usize }>()
                    }
                )*
            }

            impl $crate::Merge for [<$name Snapshot>] {
                fn merge(&mut self, other: &Self) {
                    $( $crate::Merge::merge(&mut self.$field, &other.$field); )*
                }
            }

            impl $crate::Delta for [<$name Snapshot>] {
                fn delta(later: &Self, earlier: &Self) -> ::core::result::Result<Self, $crate::DeltaError> {
                    ::core::result::Result::Ok([<$name Snapshot>] {
                        $(
                            $field: <$crate::kind::$kind as $crate::Kind>::delta(&later.$field, &earlier.$field)
                                .map_err(|e| e.in_field(stringify!($field)))?,
                        )*
                    })
                }
            }

            impl $crate::Snapshot for [<$name Snapshot>] {
                fn fields() -> &'static [$crate::FieldDesc] {
                    $name::FIELDS
                }
                fn values(&self) -> ::std::vec::Vec<$crate::Value> {
                    ::std::vec![$(<$crate::kind::$kind as $crate::Kind>::to_value(self.$field.clone())),*]
                }
            }

            impl $crate::__private::serde::Serialize for [<$name Snapshot>] {
                fn serialize<S: $crate::__private::serde::Serializer>(
                    &self,
                    serializer: S,
                ) -> ::core::result::Result<S::Ok, S::Error> {
                    use $crate::__private::serde::ser::SerializeStruct as _;
                    let mut s = serializer.serialize_struct(
                        stringify!([<$name Snapshot>]),
                        $name::NAMES.len(),
                    )?;
                    $( s.serialize_field(stringify!($field), &self.$field)?; )*
                    s.end()
                }
            }

            impl<'de> $crate::__private::serde::Deserialize<'de> for [<$name Snapshot>] {
                fn deserialize<D: $crate::__private::serde::Deserializer<'de>>(
                    deserializer: D,
                ) -> ::core::result::Result<Self, D::Error> {
                    let values = $crate::__private::deserialize_fields(
                        deserializer,
                        stringify!([<$name Snapshot>]),
                        $name::NAMES,
                        $name::KINDS,
                    )?;
                    let mut values = values.into_iter();
                    ::core::result::Result::Ok([<$name Snapshot>] {
                        $(
                            $field: values
                                .next()
                                .and_then(<$crate::kind::$kind as $crate::Kind>::from_value)
                                .expect("deserialize_fields checks kinds and count"),
                        )*
                    })
                }
            }
        }
    };
}

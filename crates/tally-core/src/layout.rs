//! Where each field of a metric set lives in a shard.

use std::sync::Arc;

use tally_snapshot::{FieldDesc, FieldKind, is_valid_field_name};

/// Shard words a field of `kind` takes in each copy.
pub const fn words_of(kind: FieldKind) -> usize {
    match kind {
        // The `f64`s keep their bits in one word.
        FieldKind::Counter | FieldKind::Gauge | FieldKind::CounterF64 | FieldKind::GaugeF64 => 1,
        // value, stamp
        FieldKind::LastValue | FieldKind::LastValueF64 => 2,
        // count, sum (low and high halves of a u128), min (stored as u64::MAX - min, so
        // that zero means "none"), max, overflow; the buckets live in pages.
        FieldKind::Histogram(_) => HISTOGRAM_WORDS,
        // `FieldKind` is `#[non_exhaustive]`; a kind this core does not know cannot be laid
        // out (`Layout::new` refuses it first).
        _ => 0,
    }
}

/// Shard words per copy of a set whose fields are `fields`: what [`Layout::width`] gives
/// for them, computed at compile time for `metric_set!`'s sets.
pub(crate) const fn width_of(fields: &[FieldDesc]) -> usize {
    let (mut width, mut i) = (0, 0);
    while i < fields.len() {
        width += words_of(fields[i].kind);
        i += 1;
    }
    width
}

/// Whether a handle of kind `handle` may record into a field declared as `declared`: the
/// same kind, histograms whatever their configuration (the field's own is used).
pub(crate) const fn same_class(handle: FieldKind, declared: FieldKind) -> bool {
    matches!(
        (handle, declared),
        (FieldKind::Counter, FieldKind::Counter)
            | (FieldKind::Gauge, FieldKind::Gauge)
            | (FieldKind::LastValue, FieldKind::LastValue)
            | (FieldKind::Histogram(_), FieldKind::Histogram(_))
            | (FieldKind::CounterF64, FieldKind::CounterF64)
            | (FieldKind::GaugeF64, FieldKind::GaugeF64)
            | (FieldKind::LastValueF64, FieldKind::LastValueF64)
    )
}

/// Shard words of a histogram field's scalar part.
pub(crate) const HISTOGRAM_WORDS: usize = 6;

/// Buckets per histogram page: a page holds both copies of 32 narrow (16-bit) counts,
/// 2 × 32 × 2 = 128 bytes, one cache-line pair; counts past what a lane holds are carried
/// into a wide page allocated for the page when first needed (latch.rs, "Narrow buckets").
pub(crate) const PAGE_BUCKETS: usize = 32;

/// Bucket pages a field of `kind` may allocate in each shard (0 for non-histograms).
pub const fn pages_of(kind: FieldKind) -> usize {
    match kind {
        FieldKind::Histogram(config) => config.bucket_count().div_ceil(PAGE_BUCKETS),
        _ => 0,
    }
}

/// What is wrong with a metric set's field list.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A field name is empty or has a character outside `[a-zA-Z0-9_]`, or starts with a
    /// digit.
    #[error(
        "field name {name:?} is not valid: use ASCII letters, digits and underscores, not \
         starting with a digit (it becomes part of a metric name)"
    )]
    InvalidName {
        /// The rejected name.
        name: String,
    },
    /// A histogram field's unit differs from its configuration's.
    #[error("{reason}")]
    UnitMismatch {
        /// What differs and what to do.
        reason: String,
    },
    /// A field kind newer than this version of the core.
    #[error("field kind `{kind}` is not supported by this version of tally-core: upgrade it")]
    UnsupportedKind {
        /// The kind's name.
        kind: &'static str,
    },
    /// Two fields share a name.
    #[error("field name {name:?} appears twice: give each field of a set its own name")]
    DuplicateName {
        /// The repeated name.
        name: String,
    },
}

/// The fields of a metric set and their word offsets in a shard copy.
///
/// Sets declared with [`metric_set!`](crate::metric_set) build theirs at compile time;
/// sets declared at run time (say from Python) build one with [`Layout::new`].
///
/// ```
/// use tally_core::{FieldDesc, FieldKind, Layout};
/// let layout = Layout::new(vec![
///     FieldDesc::new("requests", FieldKind::Counter, "Requests seen."),
///     FieldDesc::new("temperature", FieldKind::LastValue, "Last reading."),
/// ])
/// .unwrap();
/// assert_eq!(layout.index_of("temperature"), Some(1));
/// assert!(Layout::new(vec![FieldDesc::new("9lives", FieldKind::Counter, "")]).is_err());
/// ```
#[derive(Debug, Clone)]
pub struct Layout {
    fields: Arc<[FieldDesc]>,
    offsets: Arc<[usize]>,
    page_bases: Arc<[usize]>,
    width: usize,
    pages: usize,
    /// A hash of the field names and kinds: [`FieldId`](crate::FieldId)s carry it, so that
    /// a set refuses the ids of a set with another field list.
    fingerprint: u64,
}

impl Layout {
    /// A layout for `fields`, in that order.
    ///
    /// # Errors
    ///
    /// [`LayoutError`] for an invalid or repeated name.
    pub fn new(fields: Vec<FieldDesc>) -> Result<Self, LayoutError> {
        for (i, f) in fields.iter().enumerate() {
            if !is_valid_field_name(&f.name) {
                return Err(LayoutError::InvalidName { name: f.name.to_string() });
            }
            if fields[..i].iter().any(|g| g.name == f.name) {
                return Err(LayoutError::DuplicateName { name: f.name.to_string() });
            }
            f.check_unit().map_err(|reason| LayoutError::UnitMismatch { reason })?;
            if words_of(f.kind) == 0 {
                return Err(LayoutError::UnsupportedKind { kind: f.kind.as_str() });
            }
        }
        let mut offsets = Vec::with_capacity(fields.len());
        let mut page_bases = Vec::with_capacity(fields.len());
        let (mut width, mut pages) = (0, 0);
        for f in &fields {
            offsets.push(width);
            page_bases.push(pages);
            width += words_of(f.kind);
            pages += pages_of(f.kind);
        }
        let fingerprint = {
            use std::hash::{Hash, Hasher};
            let mut h = std::hash::DefaultHasher::new();
            for f in &fields {
                (&f.name, f.kind, f.unit).hash(&mut h);
            }
            h.finish()
        };
        Ok(Layout {
            fingerprint,
            fields: fields.into(),
            offsets: offsets.into(),
            page_bases: page_bases.into(),
            width,
            pages,
        })
    }

    /// The layout of a set declared with `metric_set!`.
    ///
    /// # Panics
    ///
    /// If `fields` is not a valid layout, which the macro rules out (field names are Rust
    /// identifiers, and the compiler rejects repeats).
    pub fn from_static(fields: &'static [FieldDesc]) -> Self {
        match Layout::new(fields.to_vec()) {
            Ok(layout) => layout,
            Err(e) => panic!("metric_set! produced an invalid layout: {e}"),
        }
    }

    /// The field descriptions, in declaration order.
    pub fn fields(&self) -> &[FieldDesc] {
        &self.fields
    }

    /// Word offset of field `index` within one copy.
    pub fn offset(&self, index: usize) -> usize {
        self.offsets[index]
    }

    /// First bucket page of field `index` in a shard's page table.
    pub fn page_base(&self, index: usize) -> usize {
        self.page_bases[index]
    }

    /// The fingerprint of the field list (names and kinds).
    pub(crate) fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// Words per copy.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Bucket pages per shard, over all histogram fields.
    pub fn pages(&self) -> usize {
        self.pages
    }

    /// The index of the field called `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }
}

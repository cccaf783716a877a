//! The Python exceptions the module raises, and conversions from tally's error enums.

use pyo3::exceptions::{PyTimeoutError, PyValueError};
use pyo3::{PyErr, create_exception};

create_exception!(
    _tally,
    TallyError,
    PyValueError,
    "Base class of tally's errors (a ValueError): the call was rejected and nothing was recorded."
);
create_exception!(
    _tally,
    UnknownFieldError,
    TallyError,
    "A field name the metric set does not have (a typo, or a field of another set)."
);
create_exception!(
    _tally,
    InvalidNameError,
    TallyError,
    "A field, metric, label or unit name breaks the naming rules."
);
create_exception!(
    _tally,
    DuplicateNameError,
    TallyError,
    "A name given twice: a field of one set, a label of one family, or a registered metric."
);
create_exception!(
    _tally,
    SnapshotMismatchError,
    TallyError,
    "Two snapshots that cannot be merged or subtracted: different fields, or a counter that went backwards."
);
create_exception!(
    _tally,
    DecodeError,
    TallyError,
    "Bytes or JSON that are not a valid serialized snapshot."
);

pub(crate) fn layout_error(e: tally::LayoutError) -> PyErr {
    match e {
        tally::LayoutError::DuplicateName { .. } => DuplicateNameError::new_err(e.to_string()),
        _ => InvalidNameError::new_err(e.to_string()),
    }
}

pub(crate) fn registry_error(e: tally::RegistryError) -> PyErr {
    match &e {
        tally::RegistryError::Duplicate { .. } => DuplicateNameError::new_err(e.to_string()),
        tally::RegistryError::Family { source, .. } => match source {
            tally::FamilyError::DuplicateLabelName { .. } => {
                DuplicateNameError::new_err(e.to_string())
            }
            tally::FamilyError::InvalidLabelName { .. } => InvalidNameError::new_err(e.to_string()),
            _ => TallyError::new_err(e.to_string()),
        },
        _ => InvalidNameError::new_err(e.to_string()),
    }
}

pub(crate) fn family_error(e: tally::FamilyError) -> PyErr {
    TallyError::new_err(e.to_string())
}

pub(crate) fn delta_error(e: impl std::fmt::Display) -> PyErr {
    SnapshotMismatchError::new_err(e.to_string())
}

pub(crate) fn epoch_error(e: tally::epoch::EpochError) -> PyErr {
    SnapshotMismatchError::new_err(e.to_string())
}

pub(crate) fn wait_error(e: tally::epoch::WaitError) -> PyErr {
    // The Rust advice names `spawn_refresher`; Python's is `start_refresher`.
    PyTimeoutError::new_err(e.to_string().replace("spawn_refresher", "start_refresher"))
}

pub(crate) fn decode_error(e: serde_json::Error) -> PyErr {
    DecodeError::new_err(format!(
        "not a serialized tally snapshot ({e}): pass what to_json() or to_bytes() returned"
    ))
}

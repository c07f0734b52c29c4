//! Create-or-open, as upstream's constructors: `Queue(mem, name, capacity=None, dtype=None)`
//! opens the entry if the table has it (the dtype may then be omitted where the type
//! catalog records it) and creates it otherwise (capacity and dtype required). Two
//! processes racing to create: the loser opens what the winner created.
//!
//! A binding writes a [`dtype::Visit`](crate::dtype::Visit) whose `visit::<T>` opens or
//! creates its `Handle<T>` for a [`Mode`], and calls [`open_or_create`].

use pyo3::prelude::*;
use zeroipc::segment::CatalogKind;
use zeroipc::{Segment, StructureError, TableError};

use crate::dtype::{DType, Visit};
use crate::errors;

/// Open the entry, or create it with this capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    Open,
    Create(usize),
}

/// What a binding's visitor needs: the segment (unchecked for struct dtypes), the name and
/// the mode.
#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) seg: Segment,
    pub(crate) name: String,
    pub(crate) mode: Mode,
}

/// The element type and mode for `name`: open if the table has it, else create.
pub(crate) fn plan(
    py: Python<'_>,
    seg: &Segment,
    name: &str,
    capacity: Option<usize>,
    dtype: Option<&Bound<'_, PyAny>>,
    kind: CatalogKind,
    what: &str,
) -> PyResult<(DType, Mode)> {
    match seg.find(name) {
        Ok(_) => {
            check_kind(seg, name, kind)?;
            Ok((DType::resolve(py, seg, name, dtype, kind)?, Mode::Open))
        }
        Err(TableError::NotFound { .. }) => {
            let Some(dtype) = dtype.filter(|d| !d.is_none()) else {
                return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                    "dtype is required to create {what} '{name}'"
                )));
            };
            let Some(capacity) = capacity else {
                return Err(pyo3::exceptions::PyValueError::new_err(format!(
                    "capacity required to create new {what} '{name}'"
                )));
            };
            Ok((DType::from_object(py, dtype)?, Mode::Create(capacity)))
        }
        Err(e) => Err(errors::table(e)),
    }
}

/// Refuses to open `name` as `kind` when the type catalog records another kind (checked
/// before the bytes, so the error names the kinds rather than a layout mismatch).
pub(crate) fn check_kind(seg: &Segment, name: &str, kind: CatalogKind) -> PyResult<()> {
    let recorded = seg
        .catalog()
        .ok()
        .flatten()
        .and_then(|c| c.find(name).map(|r| r.kind));
    match recorded {
        Some(r) if r != kind => Err(errors::raise(
            errors::Class::KindMismatch,
            format!("entry '{name}' is a {r} (the type catalog says so), not a {kind}"),
        )),
        _ => Ok(()),
    }
}

/// Runs `make(target)` through the dtype's storage type: opens, or creates (then, for a
/// struct dtype, records its layout in the catalog); a create that lost a race opens.
pub(crate) fn open_or_create<V, F, H>(
    py: Python<'_>,
    seg: &Segment,
    name: &str,
    dt: &DType,
    mode: Mode,
    make: F,
) -> PyResult<H>
where
    V: Visit<Out = Result<H, StructureError>> + Send,
    F: Fn(Target) -> V,
    H: Send,
{
    let run = |mode: Mode| -> PyResult<Result<H, StructureError>> {
        let seg = match mode {
            Mode::Open => dt.checked_segment(seg, name)?,
            Mode::Create(_) => seg.clone(),
        };
        let visitor = make(Target {
            seg,
            name: name.to_owned(),
            mode,
        });
        py.detach(|| crate::dtype::visit(dt, visitor))
    };
    let made = match run(mode)? {
        Err(StructureError::Table(TableError::AlreadyExists { .. })) if mode != Mode::Open => {
            run(Mode::Open)?
        }
        other => {
            if other.is_ok() && mode != Mode::Open {
                dt.describe_created(seg, name);
            }
            other
        }
    };
    made.map_err(errors::structure)
}

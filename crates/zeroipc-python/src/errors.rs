//! Raising the `zeroipc.Error` hierarchy from Rust.
//!
//! The classes are defined in Python (`python/zeroipc/errors.py`), because several derive from
//! a built-in exception too (`TimeoutError`, `FileNotFoundError`, ...), which a class made
//! with `create_exception!` cannot. Rust code picks a [`Class`] and passes the Rust error, whose
//! `Display` text becomes the message; [`raise`] imports the class on first use.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyType;

/// Which `zeroipc` exception class to raise (one variant per class in `errors.py`).
// Every class is part of the package's API; some are raised only by bindings added later.
#[allow(dead_code)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Class {
    Error,
    NotFound,
    Exists,
    InvalidArgument,
    Corruption,
    KindMismatch,
    TypeMismatch,
    Timeout,
    Empty,
    Full,
    WouldBlock,
    Stalled,
    OwnerDead,
    Closed,
    Failed,
}

impl Class {
    fn class_name(self) -> &'static str {
        match self {
            Class::Error => "Error",
            Class::NotFound => "NotFoundError",
            Class::Exists => "ExistsError",
            Class::InvalidArgument => "InvalidArgumentError",
            Class::Corruption => "CorruptionError",
            Class::KindMismatch => "KindMismatchError",
            Class::TypeMismatch => "TypeMismatchError",
            Class::Timeout => "TimeoutError",
            Class::Empty => "EmptyError",
            Class::Full => "FullError",
            Class::WouldBlock => "WouldBlockError",
            Class::Stalled => "StalledError",
            Class::OwnerDead => "OwnerDeadError",
            Class::Closed => "ClosedError",
            Class::Failed => "FailedError",
        }
    }
}

static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

fn class<'py>(py: Python<'py>, kind: Class) -> PyResult<Bound<'py, PyType>> {
    let module = MODULE.get_or_try_init(py, || py.import("zeroipc.errors").map(Bound::unbind))?;
    Ok(module
        .bind(py)
        .getattr(kind.class_name())?
        .cast_into::<PyType>()?)
}

/// The exception of class `kind` with `e`'s text as its message.
pub(crate) fn raise(kind: Class, e: impl std::fmt::Display) -> PyErr {
    let message = e.to_string();
    Python::attach(|py| match class(py, kind) {
        Ok(cls) => PyErr::from_type(cls, message),
        Err(import_failed) => import_failed,
    })
}

/// `zeroipc.Error` with `e`'s text: for errors no finer class fits.
#[allow(dead_code)] // for bindings whose errors have no finer class
pub(crate) fn to_py(e: impl std::fmt::Display) -> PyErr {
    raise(Class::Error, e)
}

// ---------------------------------------------------------------------------------------
// The Rust crate's segment and structure errors → classes. One function per Rust error
// type; bindings call `.map_err(errors::structure)` etc. Operation errors (PopError, ...)
// are mapped in each binding file with the same pattern: `Full`/`Empty`/`Timeout`/
// `WouldBlock` variants to their classes, `Stalled` to `Stalled`, `Corrupt` to `Corruption`.
//
// | Rust | class |
// |---|---|
// | `CreateError::AlreadyExists` | `ExistsError` |
// | `CreateError::{InvalidName, TooSmall, TooLarge, InvalidMaxEntries}` | `InvalidArgumentError` |
// | `OpenError::NotFound` | `NotFoundError` |
// | `OpenError::InvalidName` | `InvalidArgumentError` |
// | `OpenError::{Corrupt, Version}`, `Corruption` | `CorruptionError` |
// | `TableError::NotFound` / `AlreadyExists` / `InvalidName` | `NotFoundError` / `ExistsError` / `InvalidArgumentError` |
// | `TableError::{TableFull, OutOfSpace}` | `FullError` |
// | `StructureError::InvalidCapacity` | `InvalidArgumentError` |
// | `StructureError::{ElementSize, TypeMismatch}` | `TypeMismatchError` |
// | `StructureError::{KindMismatch, Foreign}` | `KindMismatchError` (a Python-layout Map is another kind of bytes) |
// | `StructureError::Corrupt` | `CorruptionError` |
// | anything else (OS errors, `NotInitialized`) | `Error` |
// ---------------------------------------------------------------------------------------

/// A failed segment create.
pub(crate) fn create(e: zeroipc::CreateError) -> PyErr {
    use zeroipc::CreateError as E;
    let class = match &e {
        E::AlreadyExists { .. } => Class::Exists,
        E::InvalidName { .. }
        | E::TooSmall { .. }
        | E::TooLarge { .. }
        | E::InvalidMaxEntries { .. } => Class::InvalidArgument,
        _ => Class::Error,
    };
    raise(class, e)
}

/// A failed segment open (or unlink).
pub(crate) fn open(e: zeroipc::OpenError) -> PyErr {
    use zeroipc::OpenError as E;
    let class = match &e {
        E::NotFound { .. } => Class::NotFound,
        E::InvalidName { .. } => Class::InvalidArgument,
        E::Corrupt(_) | E::Version { .. } => Class::Corruption,
        _ => Class::Error,
    };
    raise(class, e)
}

/// Corrupt bytes found by an accessor.
pub(crate) fn corruption(e: zeroipc::Corruption) -> PyErr {
    raise(Class::Corruption, e)
}

/// A failed table look-up or allocation.
pub(crate) fn table(e: zeroipc::TableError) -> PyErr {
    use zeroipc::TableError as E;
    let class = match &e {
        E::NotFound { .. } => Class::NotFound,
        E::AlreadyExists { .. } => Class::Exists,
        E::InvalidName { .. } => Class::InvalidArgument,
        E::TableFull { .. } | E::OutOfSpace { .. } => Class::Full,
        E::Corrupt(_) => Class::Corruption,
        _ => Class::Error,
    };
    raise(class, e)
}

/// A failed structure create or open.
pub(crate) fn structure(e: zeroipc::StructureError) -> PyErr {
    use zeroipc::StructureError as E;
    let class = match e {
        E::Table(t) => return table(t),
        E::InvalidCapacity { .. } => Class::InvalidArgument,
        E::ElementSize { .. } | E::TypeMismatch { .. } => Class::TypeMismatch,
        E::KindMismatch { .. } | E::Foreign { .. } => Class::KindMismatch,
        E::Corrupt(_) => Class::Corruption,
        _ => Class::Error,
    };
    raise(class, e)
}

/// An operation's hard error (not `Full`/`Empty`/`Timeout`, which the binding handles):
/// `CorruptionError` when the Rust error's source is a `Corruption`, else `StalledError`
/// (every other hard variant of the structures' operation errors is a stall).
pub(crate) fn op(e: &(dyn std::error::Error + 'static)) -> PyErr {
    let corrupt = e
        .source()
        .is_some_and(|s| s.downcast_ref::<zeroipc::Corruption>().is_some())
        || e.downcast_ref::<zeroipc::Corruption>().is_some();
    raise(
        if corrupt {
            Class::Corruption
        } else {
            Class::Stalled
        },
        e,
    )
}

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
pub(crate) fn to_py(e: impl std::fmt::Display) -> PyErr {
    raise(Class::Error, e)
}

//! The `zeroipc.Error` hierarchy. Every exception carries the Rust error's `Display` text
//! (what was found, what was expected).

use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    zeroipc,
    Error,
    PyException,
    "Base class of every error zeroipc raises."
);

/// Converts any error of the Rust crate into `zeroipc.Error` with its text.
pub(crate) fn to_py(e: impl std::fmt::Display) -> PyErr {
    Error::new_err(e.to_string())
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("Error", m.py().get_type::<Error>())?;
    Ok(())
}

//! `Once`: upstream's `zeroipc.Once(memory, name, create_if_missing=True)` on the Rust
//! crate's [`zeroipc::Once`] (FORMAT.md §7.5: one `u32` state word).
//!
//! | upstream | here |
//! |---|---|
//! | `call(func)` | same: runs `func` in exactly one process; others wait for it to finish (Ctrl-C within 100 ms). As upstream, a `func` that raises still completes the Once, and the exception propagates to its caller. An initialiser that *died* (its process) is run again by the next caller (the Rust crate's recovery). |
//! | `is_called` | same |
//! | `reset()` | not provided: resetting a shared Once under other processes is the race upstream warns about; use a new name |
//! | — | `state`: 0 pending, 1 executing, 2 done |

use std::sync::Mutex as StdMutex;

use pyo3::prelude::*;
use zeroipc::Once;

use super::{corrupt, open_or_create, wait_sliced};
use crate::memory::segment_of;

/// Run-once initialisation across processes (upstream's `zeroipc.Once`).
#[pyclass(module = "zeroipc", name = "Once", frozen)]
pub(crate) struct PyOnce {
    o: Once,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyOnce {
    #[new]
    #[pyo3(signature = (memory, name, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let create = create_if_missing.then_some(|| Once::create(&seg, name));
        let o = open_or_create(
            py,
            &seg,
            name,
            "once flag",
            zeroipc::segment::CatalogKind::Once,
            create,
            || Once::open(&seg, name),
        )?;
        Ok(Self {
            o,
            name: name.to_owned(),
        })
    }

    /// Runs `func()` if no process has; otherwise waits until the one running it finishes.
    fn call(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<()> {
        let o = &self.o;
        let raised: StdMutex<Option<PyErr>> = StdMutex::new(None);
        let func = &func;
        let raised_ref = &raised;
        wait_sliced(py, None, |slice| {
            o.call_once_timeout(slice, || {
                if let Err(e) = Python::attach(|py| func.call0(py)) {
                    *raised_ref
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                }
            })
        })?;
        match raised
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Whether the initialiser finished.
    #[getter]
    fn is_called(&self) -> PyResult<bool> {
        self.o.is_completed().map_err(corrupt)
    }

    /// The state word: 0 pending, 1 executing, 2 done.
    #[getter]
    fn state(&self) -> PyResult<u32> {
        self.o.state().map_err(corrupt)
    }

    fn __repr__(&self) -> String {
        let status = if self.o.is_completed().unwrap_or(false) {
            "called"
        } else {
            "not called"
        };
        format!("Once(name='{}', status={status})", self.name)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyOnce>()
}

//! `Event`: upstream's `zeroipc.Event(memory, name, mode=EventMode.AUTO_RESET,
//! create_if_missing=True)` on the Rust crate's [`zeroipc::Event`] (FORMAT.md §7.6: state
//! at `name`, a semaphore at `name_sem`).
//!
//! | upstream | here |
//! |---|---|
//! | `signal()`, `reset()`, `pulse()` | same (`pulse` waits for counted waiters to leave, ≤ 50 ms, not a blind 0.1 ms sleep) |
//! | `wait(timeout=None) -> bool` | same; Ctrl-C within 100 ms (an auto-reset wait that is interrupted consumed nothing) |
//! | `is_signaled`, `mode` (an `EventMode`) | same; `waiting` too |

use pyo3::prelude::*;
use zeroipc::Event;
use zeroipc::sync::EventMode;

use super::{corrupt, open_or_create, wait_sliced};
use crate::errors::{Class, raise};
use crate::memory::segment_of;

/// A manual- or auto-reset event shared by processes (upstream's `zeroipc.Event`).
#[pyclass(module = "zeroipc", name = "Event", frozen)]
pub(crate) struct PyEvent {
    e: Event,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyEvent {
    #[new]
    #[pyo3(signature = (memory, name, mode = 0, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        mode: i64,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let mode = match mode {
            0 => EventMode::AutoReset,
            1 => EventMode::ManualReset,
            m => {
                return Err(raise(
                    Class::InvalidArgument,
                    format!(
                        "event mode {m} is invalid (expected EventMode.AUTO_RESET (0) or MANUAL_RESET (1))"
                    ),
                ));
            }
        };
        let create = create_if_missing.then_some(|| Event::create(&seg, name, mode));
        let e = open_or_create::<Event>(
            py,
            &seg,
            name,
            "event",
            zeroipc::segment::CatalogKind::Event,
            create,
            || Event::open(&seg, name),
        )?;
        Ok(Self {
            e,
            name: name.to_owned(),
        })
    }

    /// Signals: auto-reset lets one waiter through (remembered if none waits), manual-reset
    /// every waiter until `reset()`.
    fn signal(&self) -> PyResult<()> {
        self.e.signal().map_err(super::release)
    }

    /// Waits until signaled, at most `timeout` seconds: True, or False on timeout.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let e = &self.e;
        Ok(wait_sliced(py, timeout, |s| e.wait_timeout(s))?.is_some())
    }

    /// Clears the signal.
    fn reset(&self) -> PyResult<()> {
        self.e.reset().map_err(corrupt)
    }

    /// Signals, lets the waiters leave (at most 50 ms), then resets.
    fn pulse(&self, py: Python<'_>) -> PyResult<()> {
        let e = &self.e;
        py.detach(|| e.pulse()).map_err(super::release)
    }

    /// Whether it is signaled now.
    #[getter]
    fn is_signaled(&self) -> PyResult<bool> {
        self.e.is_signaled().map_err(corrupt)
    }

    /// Counted manual-reset waiters now (a snapshot).
    #[getter]
    fn waiting(&self) -> PyResult<usize> {
        self.e.waiting().map_err(corrupt)
    }

    /// The reset mode, as `zeroipc.EventMode`.
    #[getter]
    fn mode(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let v = match self.e.mode() {
            EventMode::ManualReset => 1,
            _ => 0,
        };
        Ok(py
            .import("zeroipc._pysync")?
            .getattr("EventMode")?
            .call1((v,))?
            .unbind())
    }

    fn __repr__(&self) -> String {
        let mode = match self.e.mode() {
            EventMode::ManualReset => "ManualReset",
            _ => "AutoReset",
        };
        let status = if self.e.is_signaled().unwrap_or(false) {
            "signaled"
        } else {
            "not signaled"
        };
        format!("Event(name='{}', mode={mode}, status={status})", self.name)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyEvent>()
}

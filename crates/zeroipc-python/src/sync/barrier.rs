//! `Barrier`: upstream's `zeroipc.Barrier(memory, name, num_participants=None)` on the Rust
//! crate's [`zeroipc::Barrier`] (FORMAT.md §7.3). D-19 fixed: a waiter that times out
//! withdraws its arrival only if the cycle has not completed (upstream can drive `arrived`
//! to -1 and hang every later cycle).
//!
//! | upstream | here |
//! |---|---|
//! | `wait(timeout=None) -> bool` | same; Ctrl-C within 100 ms (the arrival is withdrawn) |
//! | `arrived`, `generation`, `num_participants` | same |

use pyo3::prelude::*;
use zeroipc::Barrier;

use super::{corrupt, count_arg, open_or_create, wait_sliced};
use crate::memory::segment_of;

/// A reusable barrier for N processes (upstream's `zeroipc.Barrier`).
#[pyclass(module = "zeroipc", name = "Barrier", frozen)]
pub(crate) struct PyBarrier {
    b: Barrier,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyBarrier {
    #[new]
    #[pyo3(signature = (memory, name, num_participants = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        num_participants: Option<i64>,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let n = num_participants
            .map(|n| count_arg("num_participants", n))
            .transpose()?;
        let create = n.map(|n| {
            let seg = &seg;
            move || Barrier::create(seg, name, n)
        });
        let b = open_or_create(
            py,
            &seg,
            name,
            "barrier",
            zeroipc::segment::CatalogKind::Barrier,
            create,
            || Barrier::open(&seg, name),
        )?;
        Ok(Self {
            b,
            name: name.to_owned(),
        })
    }

    /// Arrives and waits for all participants, at most `timeout` seconds (`None`: forever):
    /// True when the cycle completed, False if the timeout passed (the arrival withdrawn).
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let b = &self.b;
        Ok(wait_sliced(py, timeout, |s| b.wait_timeout(s))?.is_some())
    }

    /// Arrivals in the current cycle (a snapshot).
    #[getter]
    fn arrived(&self) -> PyResult<usize> {
        self.b.arrived().map_err(corrupt)
    }

    /// Completed cycles (wraps at 2^32).
    #[getter]
    fn generation(&self) -> PyResult<u32> {
        self.b.generation().map_err(corrupt)
    }

    /// Participants per cycle.
    #[getter]
    fn num_participants(&self) -> usize {
        self.b.participants()
    }

    fn __repr__(&self) -> String {
        format!(
            "Barrier(name='{}', arrived={}, generation={}, num_participants={})",
            self.name,
            self.b.arrived().unwrap_or(0),
            self.b.generation().unwrap_or(0),
            self.b.participants()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyBarrier>()
}

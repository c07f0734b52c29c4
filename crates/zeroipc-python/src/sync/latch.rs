//! `Latch`: upstream's `zeroipc.Latch(memory, name, count=None)` on the Rust crate's
//! [`zeroipc::Latch`] (FORMAT.md §7.4): a one-shot countdown.
//!
//! | upstream | here |
//! |---|---|
//! | `count_down(n=1)` (`ValueError` for `n <= 0`) | same (an atomic saturating decrement) |
//! | `wait(timeout=None) -> bool`, `try_wait() -> bool` | same; Ctrl-C within 100 ms |
//! | `count`, `initial_count` | same |

use pyo3::prelude::*;
use zeroipc::Latch;
use zeroipc::sync::TryWaitError;

use super::{corrupt, count_arg, open_or_create, wait_sliced};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;

/// A one-shot countdown latch (upstream's `zeroipc.Latch`).
#[pyclass(module = "zeroipc", name = "Latch", frozen)]
pub(crate) struct PyLatch {
    l: Latch,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyLatch {
    #[new]
    #[pyo3(signature = (memory, name, count = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        count: Option<i64>,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let count = count.map(|c| count_arg("count", c)).transpose()?;
        let create = count.map(|c| {
            let seg = &seg;
            move || Latch::create(seg, name, c)
        });
        let l = open_or_create(
            py,
            &seg,
            name,
            "latch",
            zeroipc::segment::CatalogKind::Latch,
            create,
            || Latch::open(&seg, name),
        )?;
        Ok(Self {
            l,
            name: name.to_owned(),
        })
    }

    /// Counts down by `n` (> 0), saturating at 0.
    #[pyo3(signature = (n = 1))]
    fn count_down(&self, n: i64) -> PyResult<()> {
        if n <= 0 {
            return Err(raise(
                Class::InvalidArgument,
                format!("count_down amount {n} is not positive (expected n >= 1)"),
            ));
        }
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        self.l.count_down(n).map_err(corrupt)
    }

    /// Waits until the count is 0, at most `timeout` seconds: True, or False on timeout.
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let l = &self.l;
        Ok(wait_sliced(py, timeout, |s| l.wait_timeout(s))?.is_some())
    }

    /// True if the count is 0 now.
    fn try_wait(&self) -> PyResult<bool> {
        match self.l.try_wait() {
            Ok(()) => Ok(true),
            Err(TryWaitError::WouldBlock) => Ok(false),
            Err(TryWaitError::Corrupt(c)) => Err(corrupt(c)),
            Err(e) => Err(errors::to_py(e)),
        }
    }

    /// The count now.
    #[getter]
    fn count(&self) -> PyResult<usize> {
        self.l.count().map_err(corrupt)
    }

    /// The count it was created with.
    #[getter]
    fn initial_count(&self) -> PyResult<usize> {
        self.l.initial_count().map_err(corrupt)
    }

    fn __repr__(&self) -> String {
        format!(
            "Latch(name='{}', count={}, initial_count={})",
            self.name,
            self.l.count().unwrap_or(0),
            self.l.initial_count().unwrap_or(0)
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLatch>()
}

//! `Semaphore`: upstream's `zeroipc.Semaphore(memory, name, initial_count=None,
//! max_count=0)` on the Rust crate's [`zeroipc::Semaphore`] (FORMAT.md §7.1: real atomic
//! count and waiter count; a dead holder's permits are given back, see the Rust docs).
//!
//! | upstream | here |
//! |---|---|
//! | `acquire(timeout=None) -> bool`, `try_acquire() -> bool` | same; Ctrl-C within 100 ms |
//! | `release()` (`OverflowError` above `max_count`) | same, raising `zeroipc.FullError` with the Rust text |
//! | `count`, `waiting`, `max_count`, `with sem:` | same |

use pyo3::prelude::*;
use zeroipc::Semaphore;
use zeroipc::sync::TryLockError;

use super::{Got, corrupt, count_arg, lock_sliced, open_or_create};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;

/// A counting semaphore shared by processes (upstream's `zeroipc.Semaphore`).
#[pyclass(module = "zeroipc", name = "Semaphore", frozen)]
pub(crate) struct PySemaphore {
    s: Semaphore,
    #[pyo3(get)]
    name: String,
}

impl PySemaphore {
    fn acquire_inner(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let s = &self.s;
        match lock_sliced(py, timeout, |slice| s.acquire_timeout(slice))? {
            Got::Locked(()) | Got::Recovered((), _) => Ok(true),
            Got::TimedOut => Ok(false),
        }
    }
}

#[pymethods]
impl PySemaphore {
    #[new]
    #[pyo3(signature = (memory, name, initial_count = None, max_count = 0))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        initial_count: Option<i64>,
        max_count: i64,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let max = count_arg("max_count", max_count)?;
        let initial = initial_count
            .map(|c| count_arg("initial_count", c))
            .transpose()?;
        let create = initial.map(|i| {
            let seg = &seg;
            move || Semaphore::create(seg, name, i, max)
        });
        let exists = seg.find(name).is_ok();
        if create.is_none() && !exists {
            return Err(raise(
                Class::InvalidArgument,
                format!("initial_count required to create new semaphore '{name}'"),
            ));
        }
        let s = open_or_create(
            py,
            &seg,
            name,
            "semaphore",
            zeroipc::segment::CatalogKind::Semaphore,
            create,
            || Semaphore::open(&seg, name),
        )?;
        Ok(Self {
            s,
            name: name.to_owned(),
        })
    }

    /// Takes one permit, waiting at most `timeout` seconds (`None`: forever): True, or False
    /// if the timeout passed.
    #[pyo3(signature = (timeout = None))]
    fn acquire(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.acquire_inner(py, timeout)
    }

    /// Takes one permit if one is free now.
    fn try_acquire(&self) -> PyResult<bool> {
        match self.s.try_acquire() {
            Ok(()) | Err(TryLockError::OwnerDead(_)) => Ok(true),
            Err(TryLockError::WouldBlock) => Ok(false),
            Err(TryLockError::Corrupt(c)) => Err(corrupt(c)),
            Err(e) => Err(errors::to_py(e)),
        }
    }

    /// Gives one permit back (raises `FullError` if that would exceed `max_count`).
    fn release(&self) -> PyResult<()> {
        self.s.release().map_err(super::release)
    }

    /// Free permits now (a snapshot).
    #[getter]
    fn count(&self) -> PyResult<usize> {
        self.s.count().map_err(corrupt)
    }

    /// Processes waiting now (a snapshot).
    #[getter]
    fn waiting(&self) -> PyResult<usize> {
        self.s.waiting().map_err(corrupt)
    }

    /// The most permits (0: unbounded).
    #[getter]
    fn max_count(&self) -> usize {
        self.s.max_count()
    }

    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        slf.get().acquire_inner(py, None)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.release()?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Semaphore(name='{}', count={}, waiting={}, max_count={})",
            self.name,
            self.s.count().map_or(-1, |c| c as i64),
            self.s.waiting().map_or(-1, |c| c as i64),
            self.s.max_count()
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySemaphore>()
}

//! `RWLock`: upstream's `zeroipc.RWLock(memory, name, create_if_missing=True)` on the Rust
//! crate's [`zeroipc::RwLock`] (FORMAT.md §7.7: `name_state`, `name_rmtx`, `name_wmtx`,
//! marker `name`).
//!
//! | upstream | here |
//! |---|---|
//! | `reader_lock()`, `reader_unlock()` | same; `reader_lock(timeout=None) -> bool` too |
//! | `writer_lock(timeout=None) -> bool`, `writer_unlock()` | same |
//! | `readers`, `writer_active`, `with rw.reader():`, `with rw.writer():` | same |
//!
//! Read guards taken through one handle are kept in a list (several threads may read
//! through one handle); `reader_unlock()` releases one of them.

use std::sync::{Arc, Mutex as StdMutex};

use pyo3::prelude::*;
use zeroipc::RwLock;
use zeroipc::sync::{RwLockReadGuard, RwLockWriteGuard};

use super::{Got, Held, corrupt, erase, lock_sliced, not_held, open_or_create, owner_dead};
use crate::memory::segment_of;

type ReadHeld = Held<RwLock, RwLockReadGuard<'static>>;
type WriteHeld = Held<RwLock, RwLockWriteGuard<'static>>;

/// A readers-writer lock shared by processes (upstream's `zeroipc.RWLock`).
#[pyclass(module = "zeroipc", name = "RWLock", frozen)]
pub(crate) struct PyRwLock {
    l: Arc<RwLock>,
    readers: StdMutex<Vec<ReadHeld>>,
    writer: StdMutex<Option<WriteHeld>>,
    #[pyo3(get)]
    name: String,
}

fn guard<T>(m: &StdMutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PyRwLock {
    fn what(&self) -> String {
        format!("RWLock '{}'", self.name)
    }

    fn read_got(&self, py: Python<'_>, timeout: Option<f64>, keep_dead: bool) -> PyResult<bool> {
        let l = &*self.l;
        let (g, dead) = match lock_sliced(py, timeout, |s| l.read_timeout(s))? {
            Got::Locked(g) => (g, None),
            Got::Recovered(g, pid) => (g, Some(pid)),
            Got::TimedOut => return Ok(false),
        };
        if let (Some(pid), false) = (dead, keep_dead) {
            drop(g);
            return Err(owner_dead(&self.what(), pid, false));
        }
        guard(&self.readers).push(Held::new(&self.l, erase!(g, RwLockReadGuard)));
        match dead {
            Some(pid) => Err(owner_dead(&self.what(), pid, true)),
            None => Ok(true),
        }
    }

    fn write_got(&self, py: Python<'_>, timeout: Option<f64>, keep_dead: bool) -> PyResult<bool> {
        let l = &*self.l;
        let (g, dead) = match lock_sliced(py, timeout, |s| l.write_timeout(s))? {
            Got::Locked(g) => (g, None),
            Got::Recovered(g, pid) => (g, Some(pid)),
            Got::TimedOut => return Ok(false),
        };
        if let (Some(pid), false) = (dead, keep_dead) {
            drop(g);
            return Err(owner_dead(&self.what(), pid, false));
        }
        let held = Held::new(&self.l, erase!(g, RwLockWriteGuard));
        if let Some(stale) = guard(&self.writer).replace(held) {
            core::mem::forget(stale);
        }
        match dead {
            Some(pid) => Err(owner_dead(&self.what(), pid, true)),
            None => Ok(true),
        }
    }
}

#[pymethods]
impl PyRwLock {
    #[new]
    #[pyo3(signature = (memory, name, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let create = create_if_missing.then_some(|| RwLock::create(&seg, name));
        let l = open_or_create(
            py,
            &seg,
            name,
            "RWLock",
            zeroipc::segment::CatalogKind::RwLock,
            create,
            || RwLock::open(&seg, name),
        )?;
        Ok(Self {
            l: Arc::new(l),
            readers: StdMutex::new(Vec::new()),
            writer: StdMutex::new(None),
            name: name.to_owned(),
        })
    }

    /// Takes a read lock (shared), waiting at most `timeout` seconds (`None`: forever).
    #[pyo3(signature = (timeout = None))]
    fn reader_lock(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.read_got(py, timeout, true)
    }

    /// Releases one read lock taken through this handle.
    fn reader_unlock(&self) -> PyResult<()> {
        let Some(held) = guard(&self.readers).pop() else {
            return Err(not_held(&format!("{} (for reading)", self.what())));
        };
        drop(held);
        Ok(())
    }

    /// Takes the write lock (exclusive), waiting at most `timeout` seconds: True, or False
    /// if the timeout passed.
    #[pyo3(signature = (timeout = None))]
    fn writer_lock(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        self.write_got(py, timeout, true)
    }

    /// Releases the write lock taken through this handle.
    fn writer_unlock(&self) -> PyResult<()> {
        let Some(held) = guard(&self.writer).take() else {
            return Err(not_held(&format!("{} (for writing)", self.what())));
        };
        drop(held);
        Ok(())
    }

    /// Active readers now (a snapshot).
    #[getter]
    fn readers(&self) -> PyResult<usize> {
        Ok(self.l.snapshot().map_err(corrupt)?.0)
    }

    /// Whether a writer holds or is taking the lock now (a snapshot).
    #[getter]
    fn writer_active(&self) -> PyResult<bool> {
        Ok(self.l.snapshot().map_err(corrupt)?.1)
    }

    /// A context manager taking a read lock: `with rw.reader(): ...`.
    fn reader(slf: Py<Self>) -> RwLockContext {
        RwLockContext {
            lock: slf,
            write: false,
        }
    }

    /// A context manager taking the write lock: `with rw.writer(): ...`.
    fn writer(slf: Py<Self>) -> RwLockContext {
        RwLockContext {
            lock: slf,
            write: true,
        }
    }

    fn __repr__(&self) -> String {
        let (r, w) = self.l.snapshot().unwrap_or((0, false));
        format!(
            "RWLock(name='{}', readers={r}, writer_active={})",
            self.name,
            if w { "yes" } else { "no" }
        )
    }
}

/// `RWLock.reader()` / `RWLock.writer()`: a context manager over one lock.
#[pyclass(module = "zeroipc", name = "_RWLockContext", frozen)]
pub(crate) struct RwLockContext {
    lock: Py<PyRwLock>,
    write: bool,
}

#[pymethods]
impl RwLockContext {
    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let l = this.lock.get();
        if this.write {
            l.write_got(py, None, false)?;
        } else {
            l.read_got(py, None, false)?;
        }
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        let l = self.lock.get();
        if self.write {
            l.writer_unlock()?;
        } else {
            l.reader_unlock()?;
        }
        Ok(false)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRwLock>()?;
    m.add_class::<RwLockContext>()
}

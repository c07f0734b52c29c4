//! `Mutex`: upstream's `zeroipc.Mutex(memory, name, create_if_missing=True)` on the Rust
//! crate's [`zeroipc::Mutex`] (a binary semaphore's bytes, FORMAT.md §7.2, with the holder's
//! pid in the padding word so a dead zeroipc holder is taken over).
//!
//! | upstream | here |
//! |---|---|
//! | `lock(timeout=None) -> bool` | same (False when the timeout passes); Ctrl-C within 100 ms |
//! | `try_lock() -> bool`, `unlock()` | same; `unlock()` without a lock through this handle raises `zeroipc.Error` |
//! | `is_locked` (property), `with mtx:` | same |
//! | — | `owner`: the holder's pid (zeroipc holders record it) |

use std::sync::{Arc, Mutex as StdMutex};

use pyo3::prelude::*;
use zeroipc::Mutex;
use zeroipc::sync::MutexGuard;

use super::{
    Got, Held, corrupt, erase, lock_sliced, not_held, open_or_create, owner_dead, try_got,
};
use crate::memory::segment_of;

type Slot = StdMutex<Option<Held<Mutex, MutexGuard<'static>>>>;

/// A mutex shared by processes (upstream's `zeroipc.Mutex`).
#[pyclass(module = "zeroipc", name = "Mutex", frozen)]
pub(crate) struct PyMutex {
    m: Arc<Mutex>,
    held: Slot,
    #[pyo3(get)]
    name: String,
}

fn lock_slot(s: &Slot) -> std::sync::MutexGuard<'_, Option<Held<Mutex, MutexGuard<'static>>>> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PyMutex {
    fn keep(&self, g: MutexGuard<'_>) {
        let held = Held::new(&self.m, erase!(g, MutexGuard));
        // The slot is empty while nobody holds the lock; were it not (someone unlocked our
        // lock behind our back), forget the stale guard rather than unlock the new holder.
        if let Some(stale) = lock_slot(&self.held).replace(held) {
            core::mem::forget(stale);
        }
    }

    fn what(&self) -> String {
        format!("mutex '{}'", self.name)
    }

    fn take(&self, got: Got<MutexGuard<'_>>) -> PyResult<bool> {
        match got {
            Got::Locked(g) => {
                self.keep(g);
                Ok(true)
            }
            Got::Recovered(g, pid) => {
                self.keep(g);
                Err(owner_dead(&self.what(), pid, true))
            }
            Got::TimedOut => Ok(false),
        }
    }
}

#[pymethods]
impl PyMutex {
    #[new]
    #[pyo3(signature = (memory, name, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let create = create_if_missing.then_some(|| Mutex::create(&seg, name));
        let m = open_or_create(
            py,
            &seg,
            name,
            "mutex",
            zeroipc::segment::CatalogKind::Mutex,
            create,
            || Mutex::open(&seg, name),
        )?;
        Ok(Self {
            m: Arc::new(m),
            held: StdMutex::new(None),
            name: name.to_owned(),
        })
    }

    /// Locks, waiting at most `timeout` seconds (`None`: forever): True, or False if the
    /// timeout passed. Raises `OwnerDeadError` (holding the lock) after taking it over from
    /// a dead holder.
    #[pyo3(signature = (timeout = None))]
    fn lock(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let m = &*self.m;
        let got = lock_sliced(py, timeout, |slice| m.lock_timeout(slice))?;
        self.take(got)
    }

    /// Locks if free now: True, or False if someone holds it.
    fn try_lock(&self) -> PyResult<bool> {
        let got = try_got(self.m.try_lock())?;
        self.take(got)
    }

    /// Unlocks what `lock()` took through this handle.
    fn unlock(&self) -> PyResult<()> {
        let Some(held) = lock_slot(&self.held).take() else {
            return Err(not_held(&self.what()));
        };
        held.guard.unlock().map_err(super::release)
    }

    /// Whether someone holds it (a snapshot).
    #[getter]
    fn is_locked(&self) -> PyResult<bool> {
        self.m.is_locked().map_err(corrupt)
    }

    /// The pid of the zeroipc process holding it, or None.
    #[getter]
    fn owner(&self) -> PyResult<Option<u32>> {
        self.m.owner().map_err(corrupt)
    }

    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let m = &*this.m;
        match lock_sliced(py, None, |slice| m.lock_timeout(slice))? {
            Got::Locked(g) => this.keep(g),
            Got::Recovered(g, pid) => {
                drop(g);
                return Err(owner_dead(&this.what(), pid, false));
            }
            Got::TimedOut => unreachable!("a wait without timeout ended untaken"),
        }
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.unlock()?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        let status = match self.m.is_locked() {
            Ok(true) => "locked",
            Ok(false) => "unlocked",
            Err(_) => "corrupt",
        };
        format!("Mutex(name='{}', status={status})", self.name)
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMutex>()
}

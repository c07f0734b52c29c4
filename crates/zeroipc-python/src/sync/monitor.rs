//! `Monitor`: upstream's `zeroipc.Monitor(memory, name, create_if_missing=True)` on the Rust
//! crate's [`zeroipc::Monitor`] (FORMAT.md §7.8: `name_mtx`, `name_cond`, `name_count`,
//! marker `name`). D-24 fixed: notifiers take waiters out of the count, so permits never
//! pile up into endless spurious wake-ups (upstream).
//!
//! | upstream | here |
//! |---|---|
//! | `lock(timeout=None) -> bool`, `try_lock() -> bool`, `unlock()`, `with mon:` | same |
//! | `wait(predicate=None, timeout=None) -> bool` | same: with the lock held; True when woken (and `predicate()` true), False on timeout; the lock is held again when it returns, also after Ctrl-C |
//! | `notify_one()`, `notify_all()`, `waiting_count` | same |
//!
//! The wait runs in 50 ms slices (each a complete Rust `wait_timeout`: withdraw, re-lock),
//! so without a predicate a wake-up and a slice boundary look alike only to the Rust layer:
//! `wait()` returns True only for a real notification (or the predicate turning true).
//! Notifiers that hold the lock (as they should) cannot notify between slices, since the
//! waiter holds the lock there.

use std::sync::{Arc, Mutex as StdMutex};

use pyo3::prelude::*;
use zeroipc::Monitor;
use zeroipc::sync::{LockTimeoutError, MonitorGuard};

use super::{
    Got, Held, corrupt, erase, lock_sliced, not_held, open_or_create, owner_dead, try_got,
};
use crate::blocking::{SLICE, deadline};
use crate::memory::segment_of;

type Slot = StdMutex<Option<Held<Monitor, MonitorGuard<'static>>>>;

/// A monitor (mutex + condition) shared by processes (upstream's `zeroipc.Monitor`).
#[pyclass(module = "zeroipc", name = "Monitor", frozen)]
pub(crate) struct PyMonitor {
    m: Arc<Monitor>,
    held: Slot,
    #[pyo3(get)]
    name: String,
}

fn slot(s: &Slot) -> std::sync::MutexGuard<'_, Option<Held<Monitor, MonitorGuard<'static>>>> {
    s.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl PyMonitor {
    fn what(&self) -> String {
        format!("monitor '{}'", self.name)
    }

    fn keep(&self, g: MonitorGuard<'_>) {
        let held = Held::new(&self.m, erase!(g, MonitorGuard));
        if let Some(stale) = slot(&self.held).replace(held) {
            core::mem::forget(stale);
        }
    }

    fn take(&self, got: Got<MonitorGuard<'_>>, keep_dead: bool) -> PyResult<bool> {
        match got {
            Got::Locked(g) => {
                self.keep(g);
                Ok(true)
            }
            Got::Recovered(g, pid) if keep_dead => {
                self.keep(g);
                Err(owner_dead(&self.what(), pid, true))
            }
            Got::Recovered(g, pid) => {
                drop(g);
                Err(owner_dead(&self.what(), pid, false))
            }
            Got::TimedOut => Ok(false),
        }
    }

    fn relock(&self, py: Python<'_>) -> PyResult<()> {
        let m = &*self.m;
        let got = lock_sliced(py, None, |s| m.lock_timeout(s))?;
        self.take(got, true).map(drop)
    }
}

#[pymethods]
impl PyMonitor {
    #[new]
    #[pyo3(signature = (memory, name, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let create = create_if_missing.then_some(|| Monitor::create(&seg, name));
        let m = open_or_create(
            py,
            &seg,
            name,
            "monitor",
            zeroipc::segment::CatalogKind::Monitor,
            create,
            || Monitor::open(&seg, name),
        )?;
        Ok(Self {
            m: Arc::new(m),
            held: StdMutex::new(None),
            name: name.to_owned(),
        })
    }

    /// Locks the monitor, waiting at most `timeout` seconds: True, or False on timeout.
    #[pyo3(signature = (timeout = None))]
    fn lock(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<bool> {
        let m = &*self.m;
        let got = lock_sliced(py, timeout, |s| m.lock_timeout(s))?;
        self.take(got, true)
    }

    /// Locks if free now.
    fn try_lock(&self) -> PyResult<bool> {
        let got = try_got(self.m.try_lock())?;
        self.take(got, true)
    }

    /// Unlocks what `lock()` took through this handle.
    fn unlock(&self) -> PyResult<()> {
        let Some(held) = slot(&self.held).take() else {
            return Err(not_held(&self.what()));
        };
        drop(held);
        Ok(())
    }

    /// With the lock held: releases it, waits for a notification (or until `predicate()`
    /// is true, re-checked with the lock held), re-locks. True, or False if `timeout`
    /// seconds passed first (then, with a predicate, `predicate()` decides).
    #[pyo3(signature = (predicate = None, timeout = None))]
    fn wait(
        &self,
        py: Python<'_>,
        predicate: Option<Py<PyAny>>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let Some(held) = slot(&self.held).take() else {
            return Err(not_held(&self.what()));
        };
        let deadline = match deadline(timeout) {
            Ok(d) => d,
            Err(e) => {
                *slot(&self.held) = Some(held);
                return Err(e);
            }
        };
        let Held { guard, .. } = held;
        let m = &*self.m;
        let mut g: MonitorGuard<'_> = guard;
        loop {
            if let Some(p) = &predicate {
                match p.call0(py).and_then(|r| r.bind(py).is_truthy()) {
                    Ok(true) => {
                        self.keep(g);
                        return Ok(true);
                    }
                    Ok(false) => {}
                    Err(e) => {
                        self.keep(g);
                        return Err(e);
                    }
                }
            }
            let slice = match deadline {
                None => SLICE,
                Some(d) => {
                    let left = d.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        self.keep(g);
                        return Ok(false);
                    }
                    left.min(SLICE)
                }
            };
            match py.detach(|| m.wait_timeout(g, slice)) {
                Ok((g2, timed_out)) => {
                    g = g2;
                    if !timed_out && predicate.is_none() {
                        self.keep(g);
                        return Ok(true);
                    }
                }
                Err(LockTimeoutError::Timeout) => {
                    // Woken or timed out, but the re-lock did not succeed within the slice:
                    // take the lock again (in slices) before returning or going on.
                    self.relock(py)?;
                    let Some(h) = slot(&self.held).take() else {
                        return Err(not_held(&self.what()));
                    };
                    let Held { guard, .. } = h;
                    g = guard;
                }
                Err(LockTimeoutError::OwnerDead(d)) => {
                    let pid = d.pid();
                    self.keep(d.into_guard());
                    return Err(owner_dead(&self.what(), pid, true));
                }
                Err(LockTimeoutError::Corrupt(c)) => return Err(corrupt(c)),
                Err(e) => return Err(crate::errors::to_py(e.drop_guard())),
            }
            if let Err(e) = py.check_signals() {
                self.keep(g);
                return Err(e);
            }
        }
    }

    /// Wakes one waiter.
    fn notify_one(&self) -> PyResult<()> {
        self.m.notify_one().map_err(super::release)
    }

    /// Wakes every waiter counted now.
    fn notify_all(&self) -> PyResult<()> {
        self.m.notify_all().map_err(super::release)
    }

    /// Waiters not yet notified (a snapshot).
    #[getter]
    fn waiting_count(&self) -> PyResult<usize> {
        self.m.waiting().map_err(corrupt)
    }

    fn __enter__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let m = &*this.m;
        let got = lock_sliced(py, None, |s| m.lock_timeout(s))?;
        this.take(got, false)?;
        Ok(slf)
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> PyResult<bool> {
        self.unlock()?;
        Ok(false)
    }

    fn __repr__(&self) -> String {
        format!(
            "Monitor(name='{}', waiting={})",
            self.name,
            self.m.waiting().unwrap_or(0)
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMonitor>()
}

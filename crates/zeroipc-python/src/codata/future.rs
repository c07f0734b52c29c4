//! `Future` / `Promise`: upstream's `zeroipc.Future(memory, name, dtype=None,
//! open_existing=False)` on the Rust crate's [`zeroipc::Future`] (FORMAT.md §6.1, the C++
//! bytes, which upstream's Python Future shares).
//!
//! | upstream | here |
//! |---|---|
//! | `set_value(v) -> bool`, `set_error(msg) -> bool`, `set_exception(code) -> bool` | same (False if already set) |
//! | `get()` (`RuntimeError` on error) | same, raising `zeroipc.FailedError` with the setter's message; `OwnerDeadError` if a zeroipc setter died; Ctrl-C within 100 ms |
//! | `get_timeout(t)`, `wait(t)` → value or None | same |
//! | `try_get()`, `is_ready()`, `is_pending()`, `is_error()`, `get_state()` / `get_status()` (a `FutureState`), `get_waiter_count()`, `then(cb)`, `bool()` | same |
//! | — | `await future` / `await future.get_async(timeout=None)` (asyncio, no thread per task) |
//! | `Promise(memory_or_future, name=None, dtype=None)` | same (in `_pysync.py`) |

use std::time::Duration;

use pyo3::prelude::*;
use zeroipc::Future;
use zeroipc::codata::future::{FutureState, GetError, GetTimeoutError, SetError};
use zeroipc::segment::CatalogKind;

use super::open_or_create_typed;
use crate::aio::{BoxFuture, Convert, Poller};
use crate::blocking::{Waited, sliced};
use crate::dtype::{DType, PyElem, Visit, visit};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::sync::plan_generic;

trait Ops: Send + Sync {
    fn set_value(&self, v: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn set_error(&self, msg: &str) -> PyResult<bool>;
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>>;
    fn try_get(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    fn state(&self) -> PyResult<u32>;
    fn waiters(&self) -> PyResult<usize>;
    fn get_async(&self, timeout: Option<Duration>) -> BoxFuture;
}

struct Typed<T: PyElem> {
    f: Future<T>,
    dt: DType,
}

fn failed(e: impl std::fmt::Display, dead: bool) -> PyErr {
    raise(
        if dead {
            Class::OwnerDead
        } else {
            Class::Failed
        },
        e,
    )
}

fn get_error(e: GetError) -> PyErr {
    match e {
        GetError::Corrupt(c) => errors::corruption(c),
        e @ GetError::SetterDead { .. } => failed(e, true),
        e => failed(e, false),
    }
}

fn get_timeout_error(e: GetTimeoutError) -> Option<PyErr> {
    match e {
        GetTimeoutError::Timeout => None,
        GetTimeoutError::Corrupt(c) => Some(errors::corruption(c)),
        e @ GetTimeoutError::SetterDead { .. } => Some(failed(e, true)),
        e => Some(failed(e, false)),
    }
}

fn set_result(r: Result<(), SetError>) -> PyResult<bool> {
    match r {
        Ok(()) => Ok(true),
        Err(SetError::AlreadySet { .. }) => Ok(false),
        Err(SetError::Corrupt(c)) => Err(errors::corruption(c)),
        Err(e) => Err(errors::to_py(e)),
    }
}

impl<T: PyElem> Ops for Typed<T> {
    fn set_value(&self, v: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = T::from_py(v, &self.dt)?;
        set_result(self.f.set_value(v))
    }

    fn set_error(&self, msg: &str) -> PyResult<bool> {
        set_result(self.f.set_error(msg))
    }

    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let f = &self.f;
        let r = sliced(py, timeout, |slice| match f.get_timeout(slice) {
            Err(GetTimeoutError::Timeout) => None,
            r => Some(r),
        })?;
        match r {
            Waited::Done(Ok(v)) => v.to_py(py, &self.dt).map(Some),
            Waited::Done(Err(e)) => match get_timeout_error(e) {
                Some(e) => Err(e),
                None => Ok(None),
            },
            Waited::TimedOut => Ok(None),
        }
    }

    fn try_get(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.f.try_get().map_err(get_error)? {
            Some(v) => v.to_py(py, &self.dt).map(Some),
            None => Ok(None),
        }
    }

    fn state(&self) -> PyResult<u32> {
        Ok(match self.f.state().map_err(errors::corruption)? {
            FutureState::Pending => 0,
            FutureState::Computing => 1,
            FutureState::Ready => 2,
            _ => 3,
        })
    }

    fn waiters(&self) -> PyResult<usize> {
        self.f.waiters().map_err(errors::corruption)
    }

    fn get_async(&self, timeout: Option<Duration>) -> BoxFuture {
        let f = self.f.clone();
        let dt = self.dt.clone();
        Box::pin(async move {
            let r = match timeout {
                None => f.get_async().await.map_err(GetTimeoutError::from),
                Some(t) => f.get_async_timeout(t).await,
            };
            let convert: Convert = Box::new(move |py: Python<'_>| match r {
                Ok(v) => v.to_py(py, &dt),
                Err(GetTimeoutError::Timeout) => Err(raise(
                    Class::Timeout,
                    "timed out: the future is still unset at the deadline",
                )),
                Err(e) => Err(get_timeout_error(e).unwrap_or_else(|| errors::to_py("timeout"))),
            });
            convert
        })
    }
}

struct Build<'a> {
    seg: &'a zeroipc::Segment,
    name: &'a str,
    exists: bool,
}

impl Visit for Build<'_> {
    type Out = PyResult<Box<dyn Ops>>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let name = self.name;
        let f = open_or_create_typed(
            self.seg,
            name,
            dt,
            self.exists,
            |s| Future::<T>::open(s, name),
            |s| Future::<T>::create(s, name),
        )?;
        Ok(Box::new(Typed { f, dt: dt.clone() }))
    }
}

/// A value set once by one process and awaited by others (upstream's `zeroipc.Future`).
#[pyclass(module = "zeroipc", name = "Future", frozen)]
pub(crate) struct PyFuture {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

fn state_enum(py: Python<'_>, s: u32) -> PyResult<Py<PyAny>> {
    Ok(py
        .import("zeroipc._pysync")?
        .getattr("FutureState")?
        .call1((s,))?
        .unbind())
}

#[pymethods]
impl PyFuture {
    #[new]
    #[pyo3(signature = (memory, name, dtype = None, open_existing = false))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        open_existing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        if open_existing && !crate::sync::exists(&seg, name) {
            return Err(raise(
                Class::NotFound,
                format!("future '{name}' not found in segment '{}'", seg.name()),
            ));
        }
        let (dt, exists) = plan_generic(py, &seg, name, dtype, CatalogKind::Future, "future")?;
        let ops = visit(
            &dt,
            Build {
                seg: &seg,
                name,
                exists,
            },
        )??;
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// Sets the value (once among all processes): True, or False if it was set already.
    fn set_value(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.set_value(value)
    }

    /// Sets the future to an error with `error_message` (once): True, or False.
    fn set_error(&self, error_message: &str) -> PyResult<bool> {
        self.ops.set_error(error_message)
    }

    /// As upstream: an int becomes "Error code: N", anything else its `str()`.
    fn set_exception(&self, error_code: &Bound<'_, PyAny>) -> PyResult<bool> {
        let msg = match error_code.extract::<i64>() {
            Ok(n) if !error_code.is_instance_of::<pyo3::types::PyString>() => {
                format!("Error code: {n}")
            }
            _ => error_code.str()?.to_string(),
        };
        self.ops.set_error(&msg)
    }

    /// The value, waiting for it (forever); raises `FailedError` if it was set to an error.
    fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        Ok(self.ops.get(py, None)?.unwrap_or_else(|| py.None()))
    }

    /// The value, or None if `timeout_seconds` passed first.
    fn get_timeout(&self, py: Python<'_>, timeout_seconds: f64) -> PyResult<Option<Py<PyAny>>> {
        self.ops.get(py, Some(timeout_seconds))
    }

    /// Alias of `get_timeout` (upstream).
    fn wait(&self, py: Python<'_>, timeout: f64) -> PyResult<Option<Py<PyAny>>> {
        self.ops.get(py, Some(timeout))
    }

    /// The value if set, else None (never waits).
    fn try_get(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.try_get(py)
    }

    /// Set (to a value or an error)?
    fn is_ready(&self) -> PyResult<bool> {
        Ok(self.ops.state()? >= 2)
    }

    /// Not set yet?
    fn is_pending(&self) -> PyResult<bool> {
        Ok(self.ops.state()? < 2)
    }

    /// Set to an error?
    fn is_error(&self) -> PyResult<bool> {
        Ok(self.ops.state()? == 3)
    }

    /// The state, as `zeroipc.FutureState`.
    fn get_state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        state_enum(py, self.ops.state()?)
    }

    /// Alias of `get_state` (upstream).
    fn get_status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        state_enum(py, self.ops.state()?)
    }

    /// Processes waiting now.
    fn get_waiter_count(&self) -> PyResult<usize> {
        self.ops.waiters()
    }

    /// Calls `callback(value)` from a daemon thread once the value is set (upstream; errors
    /// are ignored, as upstream).
    fn then(slf: Py<Self>, py: Python<'_>, callback: Py<PyAny>) -> PyResult<()> {
        let threading = py.import("threading")?;
        let worker = py
            .import("zeroipc._pysync")?
            .getattr("_then_worker")?
            .call1((slf, callback))?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("target", worker)?;
        kwargs.set_item("daemon", true)?;
        threading
            .getattr("Thread")?
            .call((), Some(&kwargs))?
            .call_method0("start")?;
        Ok(())
    }

    /// An awaitable for the value (asyncio): `await future.get_async(timeout=None)`;
    /// raises `zeroipc.TimeoutError` when `timeout` seconds pass first.
    #[pyo3(signature = (timeout = None))]
    fn get_async(&self, timeout: Option<f64>) -> PyResult<Poller> {
        let t = match timeout {
            None => None,
            Some(t) if t.is_nan() || t < 0.0 => {
                return Err(raise(
                    Class::InvalidArgument,
                    format!("timeout {t} is invalid (expected seconds >= 0, or None)"),
                ));
            }
            Some(t) => Some(Duration::from_secs_f64(t.min(1e9))),
        };
        Ok(Poller::new(self.ops.get_async(t)))
    }

    /// `await future`: the value (asyncio, no thread per awaiting task).
    fn __await__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let poller = Py::new(py, Poller::new(self.ops.get_async(None)))?;
        Ok(poller.bind(py).call_method0("__await__")?.unbind())
    }

    fn __bool__(&self) -> PyResult<bool> {
        self.is_ready()
    }

    /// The numpy dtype of the value.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __repr__(&self) -> String {
        let state = match self.ops.state() {
            Ok(0) => "PENDING",
            Ok(1) => "COMPUTING",
            Ok(2) => "READY",
            Ok(_) => "ERROR",
            Err(_) => "CORRUPT",
        };
        format!(
            "Future(name='{}', state={state}, waiters={}, dtype={})",
            self.name,
            self.ops.waiters().unwrap_or(0),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyFuture>()
}

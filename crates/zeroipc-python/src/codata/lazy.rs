//! `Lazy`: upstream's `zeroipc.Lazy(memory, name, dtype=None, value=None, computation=None,
//! open_existing=False)` on the Rust crate's [`zeroipc::Lazy`] — the C++ bytes (FORMAT.md
//! §6.2); a Lazy in upstream Python's layout (state + value + 256-byte message) is refused
//! with `KindMismatchError` (the Rust crate's "written by upstream's Python package").
//!
//! | upstream | here |
//! |---|---|
//! | `force()` / `lazy()`: computes once across processes (the computation is per process) | same; the computing process is whoever forces first, others wait (Ctrl-C within 100 ms); a computer that died is replaced |
//! | a computation that raises → state ERROR, `RuntimeError` | ERROR with the message stored for every process; the computing caller gets its own exception back, others `FailedError` |
//! | `set_computation(f)` / `init(f)`, `try_get()`, `is_evaluated()`, `is_error()`, `get_state()` (a `LazyState`), `reset(value=None)`, `bool()` | same; `reset()` only resets a computed value (C++'s reset), `reset(v)` then stores `v` |
//! | `lazy_constant`, `lazy_function` | same (in `_pysync.py`) |
//! | — | `compute_count`: how many computations ran |

use std::sync::Mutex as StdMutex;

use pyo3::prelude::*;
use zeroipc::Lazy;
use zeroipc::codata::lazy::{ForceTimeoutError, LazyState};
use zeroipc::segment::CatalogKind;

use super::open_or_create_typed;
use crate::blocking::{Waited, sliced};
use crate::dtype::{DType, PyElem, Visit, visit};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::sync::plan_generic;

trait Ops: Send + Sync {
    fn force(&self, py: Python<'_>, f: Option<&Py<PyAny>>) -> PyResult<Py<PyAny>>;
    fn peek(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    fn state(&self) -> PyResult<u32>;
    fn reset(&self) -> PyResult<bool>;
    fn store(&self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()>;
    fn compute_count(&self) -> PyResult<usize>;
}

struct Typed<T: PyElem> {
    l: Lazy<T>,
    dt: DType,
}

fn force_error(e: ForceTimeoutError) -> PyErr {
    match e {
        ForceTimeoutError::Corrupt(c) => errors::corruption(c),
        e @ ForceTimeoutError::ComputerDead { .. } => raise(Class::OwnerDead, e),
        e @ ForceTimeoutError::NoComputation { .. } => raise(Class::InvalidArgument, e),
        e => raise(Class::Failed, e),
    }
}

impl<T: PyElem> Ops for Typed<T> {
    fn force(&self, py: Python<'_>, f: Option<&Py<PyAny>>) -> PyResult<Py<PyAny>> {
        let l = &self.l;
        let dt = &self.dt;
        if f.is_none() && self.state()? == 0 {
            // Upstream stores "No computation function provided" as the Lazy's error for
            // every process; here nothing is written: set a computation, or let the
            // process that has one force it.
            return Err(raise(
                Class::InvalidArgument,
                format!(
                    "lazy '{}' is not computed and this handle has no computation \
                     (pass computation= or call set_computation first)",
                    l.entry().name()
                ),
            ));
        }
        let raised: StdMutex<Option<PyErr>> = StdMutex::new(None);
        let raised_ref = &raised;
        let r = sliced(py, None, |slice| {
            let r = l.force_with_result_timeout(slice, || {
                Python::attach(|py| {
                    let Some(f) = f else {
                        return Err("no computation function provided".to_owned());
                    };
                    f.call0(py)
                        .and_then(|v| T::from_py(v.bind(py), dt))
                        .map_err(|e| {
                            let msg = e.to_string();
                            *raised_ref
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                            msg
                        })
                })
            });
            match r {
                Err(ForceTimeoutError::Timeout) => None,
                r => Some(r),
            }
        })?;
        if let Some(e) = raised
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            return Err(e);
        }
        match r {
            Waited::Done(Ok(v)) => v.to_py(py, dt),
            Waited::Done(Err(e)) => Err(force_error(e)),
            Waited::TimedOut => Err(raise(Class::Timeout, "timed out forcing the lazy value")),
        }
    }

    fn peek(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.l.peek().map_err(errors::corruption)? {
            Some(v) => v.to_py(py, &self.dt).map(Some),
            None => Ok(None),
        }
    }

    fn state(&self) -> PyResult<u32> {
        Ok(match self.l.state().map_err(errors::corruption)? {
            LazyState::NotComputed => 0,
            LazyState::Computing => 1,
            LazyState::Computed => 2,
            _ => 3,
        })
    }

    fn reset(&self) -> PyResult<bool> {
        self.l.reset().map_err(errors::corruption)
    }

    fn store(&self, py: Python<'_>, v: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = T::from_py(v, &self.dt)?;
        let l = &self.l;
        py.detach(|| l.force_with(|| v))
            .map(drop)
            .map_err(|e| force_error(e.into()))
    }

    fn compute_count(&self) -> PyResult<usize> {
        self.l.compute_count().map_err(errors::corruption)
    }
}

struct Build<'a, 'py> {
    seg: &'a zeroipc::Segment,
    name: &'a str,
    exists: bool,
    value: Option<&'a Bound<'py, PyAny>>,
}

impl Visit for Build<'_, '_> {
    type Out = PyResult<Box<dyn Ops>>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let name = self.name;
        let value = self.value.map(|v| T::from_py(v, dt)).transpose()?;
        let l = open_or_create_typed(
            self.seg,
            name,
            dt,
            self.exists,
            |s| Lazy::<T>::open(s, name),
            |s| match value {
                Some(v) => Lazy::<T>::constant(s, name, v),
                None => Lazy::<T>::create(s, name),
            },
        )?;
        Ok(Box::new(Typed { l, dt: dt.clone() }))
    }
}

/// A value computed once, by whichever process forces it first (upstream's `zeroipc.Lazy`).
#[pyclass(module = "zeroipc", name = "Lazy", frozen)]
pub(crate) struct PyLazy {
    ops: Box<dyn Ops>,
    dt: DType,
    computation: StdMutex<Option<Py<PyAny>>>,
    #[pyo3(get)]
    name: String,
}

fn state_enum(py: Python<'_>, s: u32) -> PyResult<Py<PyAny>> {
    Ok(py
        .import("zeroipc._pysync")?
        .getattr("LazyState")?
        .call1((s,))?
        .unbind())
}

impl PyLazy {
    fn computation(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.computation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
            .map(|c| c.clone_ref(py))
    }
}

#[pymethods]
impl PyLazy {
    #[new]
    #[pyo3(signature = (memory, name, dtype = None, value = None, computation = None, open_existing = false))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        value: Option<&Bound<'_, PyAny>>,
        computation: Option<Py<PyAny>>,
        open_existing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        if open_existing && !crate::sync::exists(&seg, name) {
            return Err(raise(
                Class::NotFound,
                format!("lazy '{name}' not found in segment '{}'", seg.name()),
            ));
        }
        let (dt, exists) = plan_generic(py, &seg, name, dtype, CatalogKind::Lazy, "lazy")?;
        let ops = visit(
            &dt,
            Build {
                seg: &seg,
                name,
                exists,
                value: value.filter(|v| !v.is_none()),
            },
        )??;
        Ok(Self {
            ops,
            dt,
            computation: StdMutex::new(computation),
            name: name.to_owned(),
        })
    }

    /// Sets this process's computation function (not shared across processes).
    fn set_computation(&self, computation: Py<PyAny>) {
        *self
            .computation
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(computation);
    }

    /// Alias of `set_computation` (upstream).
    fn init(&self, computation: Py<PyAny>) {
        self.set_computation(computation);
    }

    /// The value: computed now by this process if no process has (with this process's
    /// computation), else the stored one (waiting while another process computes).
    fn force(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let c = self.computation(py);
        self.ops.force(py, c.as_ref())
    }

    fn __call__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.force(py)
    }

    /// The value if computed, else None (never computes); `FailedError` if it failed.
    fn try_get(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        if self.ops.state()? == 3 {
            let c = self.computation(py);
            // The stored message, as the error of a force (which does not recompute).
            return self.ops.force(py, c.as_ref()).map(Some);
        }
        self.ops.peek(py)
    }

    fn is_evaluated(&self) -> PyResult<bool> {
        Ok(self.ops.state()? == 2)
    }

    fn is_error(&self) -> PyResult<bool> {
        Ok(self.ops.state()? == 3)
    }

    /// The state, as `zeroipc.LazyState`.
    fn get_state(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        state_enum(py, self.ops.state()?)
    }

    /// Computations run so far (across processes).
    #[getter]
    fn compute_count(&self) -> PyResult<usize> {
        self.ops.compute_count()
    }

    /// Resets a computed value so the next force recomputes; with `value`, stores it as
    /// the computed value instead.
    #[pyo3(signature = (value = None))]
    fn reset(&self, py: Python<'_>, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        self.ops.reset()?;
        match value.filter(|v| !v.is_none()) {
            Some(v) => self.ops.store(py, v),
            None => Ok(()),
        }
    }

    fn __bool__(&self) -> PyResult<bool> {
        self.is_evaluated()
    }

    /// The numpy dtype of the value.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let state = match self.ops.state() {
            Ok(0) => "UNEVALUATED",
            Ok(1) => "EVALUATING",
            Ok(2) => "EVALUATED",
            Ok(_) => "ERROR",
            Err(_) => "CORRUPT",
        };
        let value = match self.ops.peek(py) {
            Ok(Some(v)) => format!(", value={v}"),
            _ => String::new(),
        };
        format!(
            "Lazy(name='{}', state={state}{value}, dtype={})",
            self.name, self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyLazy>()
}

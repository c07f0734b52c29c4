//! `Queue`: upstream's Python Queue on the Rust crate's lock-free MPMC queue.
//!
//! | upstream | here |
//! |---|---|
//! | `Queue(mem, name, capacity=None, dtype=None)` | same; `dtype` may be omitted to open an entry the type catalog records |
//! | `push(v) -> bool` (False if full) | same; `push(v, timeout=s)` waits up to `s` seconds for room |
//! | `pop() -> value or None` (None if empty) | same; `pop(timeout=s)` waits up to `s` seconds |
//! | — | `put(v, timeout=None)` / `get(timeout=None)`: block (forever by default), raise `zeroipc.TimeoutError` |
//! | `empty()`, `full()`, `size()`, `len()`, `bool()`, `capacity` | same |
//!
//! Upstream's Python queue is SPSC across processes without its C helper library (FORMAT.md
//! §12); this one is MPMC across processes and languages, and a slot held by a dead peer is
//! a `StalledError` after the stall timeout instead of "empty" forever.

use std::time::Duration;

use pyo3::prelude::*;
use zeroipc::segment::CatalogKind;
use zeroipc::structures::queue::{PopTimeoutError, PushTimeoutError, TryPopError, TryPushError};
use zeroipc::{Queue, StructureError};

use crate::blocking::{Waited, sliced};
use crate::dtype::{DType, PyElem, Visit};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::structure::{Mode, Target, open_or_create, plan};

/// The typed operations, behind one vtable per element type.
trait Ops: Send + Sync {
    fn try_push(&self, obj: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn push_wait(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool>;
    fn try_pop(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    fn pop_wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>>;
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    fn is_empty(&self) -> bool;
    fn is_full(&self) -> bool;
}

struct Typed<T: PyElem> {
    q: Queue<T>,
    dt: DType,
}

impl<T: PyElem> Ops for Typed<T> {
    fn try_push(&self, obj: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = T::from_py(obj, &self.dt)?;
        match self.q.try_push(v) {
            Ok(()) => Ok(true),
            Err(TryPushError::Full(_)) => Ok(false),
            Err(e) => Err(errors::op(&e)),
        }
    }

    fn push_wait(
        &self,
        py: Python<'_>,
        obj: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        let v = T::from_py(obj, &self.dt)?;
        match self.q.try_push(v) {
            Ok(()) => return Ok(true),
            Err(TryPushError::Full(_)) => {}
            Err(e) => return Err(errors::op(&e)),
        }
        let q = &self.q;
        match sliced(py, timeout, |slice: Duration| {
            match q.push_timeout(v, slice) {
                Ok(()) => Some(Ok(())),
                Err(PushTimeoutError::Timeout(_)) => None,
                Err(e) => Some(Err(e)),
            }
        })? {
            Waited::Done(Ok(())) => Ok(true),
            Waited::Done(Err(e)) => Err(errors::op(&e)),
            Waited::TimedOut => Ok(false),
        }
    }

    fn try_pop(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.q.try_pop() {
            Ok(v) => v.to_py(py, &self.dt).map(Some),
            Err(TryPopError::Empty) => Ok(None),
            Err(e) => Err(errors::op(&e)),
        }
    }

    fn pop_wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        match self.q.try_pop() {
            Ok(v) => return v.to_py(py, &self.dt).map(Some),
            Err(TryPopError::Empty) => {}
            Err(e) => return Err(errors::op(&e)),
        }
        let q = &self.q;
        match sliced(py, timeout, |slice: Duration| match q.pop_timeout(slice) {
            Ok(v) => Some(Ok(v)),
            Err(PopTimeoutError::Timeout) => None,
            Err(e) => Some(Err(e)),
        })? {
            Waited::Done(Ok(v)) => v.to_py(py, &self.dt).map(Some),
            Waited::Done(Err(e)) => Err(errors::op(&e)),
            Waited::TimedOut => Ok(None),
        }
    }

    fn len(&self) -> usize {
        self.q.len()
    }
    fn capacity(&self) -> usize {
        self.q.capacity()
    }
    fn is_empty(&self) -> bool {
        self.q.is_empty()
    }
    fn is_full(&self) -> bool {
        self.q.is_full()
    }
}

struct Build(Target);

impl Visit for Build {
    type Out = Result<Box<dyn Ops>, StructureError>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let q = match mode {
            Mode::Open => Queue::<T>::open(&seg, &name)?,
            Mode::Create(cap) => Queue::<T>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(Typed { q, dt: dt.clone() }))
    }
}

/// A bounded MPMC FIFO shared by processes (upstream's `zeroipc.Queue`).
#[pyclass(module = "zeroipc", name = "Queue", frozen)]
pub(crate) struct PyQueue {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyQueue {
    /// `Cls[T]` (upstream's classes are `typing.Generic`): the class itself.
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        _item: &Bound<'_, PyAny>,
    ) -> Py<pyo3::types::PyType> {
        cls.clone().unbind()
    }

    #[new]
    #[pyo3(signature = (memory, name, capacity = None, dtype = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let (dt, mode) = plan(py, &seg, name, capacity, dtype, CatalogKind::Queue, "queue")?;
        let ops = open_or_create(py, &seg, name, &dt, mode, Build)?;
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// Appends `value`: True, or False if the queue is full (upstream). With `timeout`
    /// (seconds; `math.inf` = forever), waits that long for room first.
    #[pyo3(signature = (value, timeout = None))]
    fn push(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        match timeout {
            None => self.ops.try_push(value),
            Some(t) => self.ops.push_wait(py, value, Some(t)),
        }
    }

    /// Takes the oldest value, or None if the queue is empty (upstream). With `timeout`
    /// (seconds; `math.inf` = forever), waits that long for one first.
    #[pyo3(signature = (timeout = None))]
    fn pop(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        match timeout {
            None => self.ops.try_pop(py),
            Some(t) => self.ops.pop_wait(py, Some(t)),
        }
    }

    /// Appends `value`, waiting for room (forever with `timeout=None`); raises
    /// `zeroipc.TimeoutError` if `timeout` seconds pass first.
    #[pyo3(signature = (value, timeout = None))]
    fn put(&self, py: Python<'_>, value: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<()> {
        if self.ops.push_wait(py, value, timeout)? {
            Ok(())
        } else {
            Err(raise(
                Class::Timeout,
                format!(
                    "queue '{}' stayed full for {} s",
                    self.name,
                    timeout.unwrap_or(f64::INFINITY)
                ),
            ))
        }
    }

    /// Takes the oldest value, waiting for one (forever with `timeout=None`); raises
    /// `zeroipc.TimeoutError` if `timeout` seconds pass first.
    #[pyo3(signature = (timeout = None))]
    fn get(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Py<PyAny>> {
        self.ops.pop_wait(py, timeout)?.ok_or_else(|| {
            raise(
                Class::Timeout,
                format!(
                    "queue '{}' stayed empty for {} s",
                    self.name,
                    timeout.unwrap_or(f64::INFINITY)
                ),
            )
        })
    }

    /// True if the queue holds no element.
    fn empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// True if every slot holds an unread element.
    fn full(&self) -> bool {
        self.ops.is_full()
    }

    /// The number of elements (a snapshot).
    fn size(&self) -> usize {
        self.ops.len()
    }

    fn __len__(&self) -> usize {
        self.ops.len()
    }

    fn __bool__(&self) -> bool {
        !self.ops.is_empty()
    }

    /// The capacity (a power of two: creation rounds up, as upstream).
    #[getter]
    fn capacity(&self) -> usize {
        self.ops.capacity()
    }

    /// The numpy dtype of the elements.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __repr__(&self) -> String {
        format!(
            "Queue(name='{}', capacity={}, dtype={})",
            self.name,
            self.ops.capacity(),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyQueue>()?;
    Ok(())
}

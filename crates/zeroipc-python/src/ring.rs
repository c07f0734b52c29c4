//! `Ring`: upstream's Python Ring on the Rust crate's SPSC ring.
//!
//! | upstream | here |
//! |---|---|
//! | `Ring(mem, name, capacity=None, dtype=None)` (capacity in elements) | same; `dtype` may be omitted where the catalog records it |
//! | `push(v) -> bool`, `pop() -> value or None` | same; `timeout=s` waits up to `s` seconds |
//! | `write(data) -> bytes written` (all or nothing: 0 if it does not fit) | same |
//! | `read(max_bytes=None)` -> ndarray or None | same |
//! | `peek(max_bytes=None)` -> ndarray or None (everything readable) | the oldest element only (a one-element array): the Rust crate peeks one |
//! | `front()`, `size()` (elements), `len()` (bytes readable), `available_read()`, `available_write()`, `empty()`, `full()` | same |
//! | `clear()` / `reset()` (non-atomic rewrite of both positions) | consume everything readable (the consumer side's own operation; never breaks a running producer) |
//! | `back()` | not provided (the ring's newest element is the producer's business) |
//!
//! One producer and one consumer at a time (the Rust crate's rule): each call claims its
//! side for the duration of the call, so two threads of this process pushing at once get
//! a `zeroipc.Error` ("already has a live producer") instead of a torn ring. Across
//! processes the rule is the user's, as upstream.

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyBytes;
use zeroipc::segment::CatalogKind;
use zeroipc::structures::ring::{PopTimeoutError, PushTimeoutError, TryPopError, TryPushError};
use zeroipc::{Ring, StructureError};

use crate::blocking::{Waited, sliced};
use crate::dtype::{DType, PyElem, Visit, numpy};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::structure::{Mode, Target, open_or_create, plan};

trait Ops: Send + Sync {
    fn push(&self, py: Python<'_>, obj: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool>;
    fn pop(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>>;
    fn write(&self, raw: &[u8]) -> PyResult<usize>;
    fn read(&self, max: usize, consume: bool) -> PyResult<Vec<u8>>;
    fn len(&self) -> PyResult<usize>;
    fn capacity(&self) -> usize;
}

struct Typed<T: PyElem> {
    r: Ring<T>,
    dt: DType,
}

fn claim(e: zeroipc::structures::ring::ClaimError) -> PyErr {
    match e {
        zeroipc::structures::ring::ClaimError::Corrupt(c) => errors::corruption(c),
        e => raise(Class::Error, e),
    }
}

impl<T: PyElem> Ops for Typed<T> {
    fn push(&self, py: Python<'_>, obj: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool> {
        let v = T::from_py(obj, &self.dt)?;
        let mut tx = self.r.producer().map_err(claim)?;
        match tx.try_push(v) {
            Ok(()) => return Ok(true),
            Err(TryPushError::Full(_)) if timeout.is_some() => {}
            Err(TryPushError::Full(_)) => return Ok(false),
            Err(e) => return Err(errors::op(&e)),
        }
        match sliced(py, timeout, |slice: Duration| {
            match tx.push_timeout(v, slice) {
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

    fn pop(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let mut rx = self.r.consumer().map_err(claim)?;
        match rx.try_pop() {
            Ok(v) => return v.to_py(py, &self.dt).map(Some),
            Err(TryPopError::Empty) if timeout.is_some() => {}
            Err(TryPopError::Empty) => return Ok(None),
            Err(e) => return Err(errors::op(&e)),
        }
        match sliced(py, timeout, |slice: Duration| match rx.pop_timeout(slice) {
            Ok(v) => Some(Ok(v)),
            Err(PopTimeoutError::Timeout) => None,
            Err(e) => Some(Err(e)),
        })? {
            Waited::Done(Ok(v)) => v.to_py(py, &self.dt).map(Some),
            Waited::Done(Err(e)) => Err(errors::op(&e)),
            Waited::TimedOut => Ok(None),
        }
    }

    fn write(&self, raw: &[u8]) -> PyResult<usize> {
        let size = core::mem::size_of::<T>();
        let n = raw.len() / size;
        let mut values = vec![T::default(); n];
        values.as_mut_bytes().copy_from_slice(&raw[..n * size]);
        let mut tx = self.r.producer().map_err(claim)?;
        let free = self.r.capacity() - self.r.len().map_err(errors::corruption)?;
        if n == 0 || n > free {
            return Ok(0);
        }
        let written = tx.write(&values).map_err(errors::corruption)?;
        Ok(written * size)
    }

    fn read(&self, max: usize, consume: bool) -> PyResult<Vec<u8>> {
        let n = max.min(self.r.len().map_err(errors::corruption)?);
        let mut out = vec![T::default(); n];
        let got = if consume {
            let mut rx = self.r.consumer().map_err(claim)?;
            rx.read(&mut out).map_err(errors::corruption)?
        } else {
            // The Rust crate peeks one element (the oldest): a peek returns at most one.
            let mut rx = self.r.consumer().map_err(claim)?;
            match rx.peek().map_err(errors::corruption)? {
                Some(v) if n > 0 => {
                    out.truncate(1);
                    out[0] = v;
                    1
                }
                _ => 0,
            }
        };
        out.truncate(got);
        Ok(out.as_bytes().to_vec())
    }

    fn len(&self) -> PyResult<usize> {
        self.r.len().map_err(errors::corruption)
    }

    fn capacity(&self) -> usize {
        self.r.capacity()
    }
}

use zerocopy::IntoBytes;

struct Build(Target);

impl Visit for Build {
    type Out = Result<Box<dyn Ops>, StructureError>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let r = match mode {
            Mode::Open => Ring::<T>::open(&seg, &name)?,
            Mode::Create(cap) => Ring::<T>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(Typed { r, dt: dt.clone() }))
    }
}

/// A single-producer single-consumer ring buffer (upstream's `zeroipc.Ring`).
#[pyclass(module = "zeroipc", name = "Ring", frozen)]
pub(crate) struct PyRing {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

impl PyRing {
    fn elem_size(&self) -> usize {
        usize::try_from(self.dt.size()).unwrap_or(usize::MAX)
    }

    fn array<'py>(&self, py: Python<'py>, raw: Vec<u8>) -> PyResult<Option<Bound<'py, PyAny>>> {
        if raw.is_empty() {
            return Ok(None);
        }
        let bytes = PyBytes::new(py, &raw);
        Ok(Some(
            numpy(py)?.call_method1("frombuffer", (bytes, self.dt.np(py)))?,
        ))
    }
}

#[pymethods]
impl PyRing {
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
        let (dt, mode) = plan(py, &seg, name, capacity, dtype, CatalogKind::Ring, "ring")?;
        let ops = open_or_create(py, &seg, name, &dt, mode, Build)?;
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// Appends one value: True, or False if the ring is full. With `timeout` (seconds;
    /// `math.inf` = forever), waits that long for room first.
    #[pyo3(signature = (value, timeout = None))]
    fn push(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.ops.push(py, value, timeout)
    }

    /// Takes the oldest value, or None if the ring is empty. With `timeout`, waits first.
    #[pyo3(signature = (timeout = None))]
    fn pop(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.pop(py, timeout)
    }

    /// Writes a value, a list or an array: the bytes written, or 0 if not all of it fits.
    fn write(&self, py: Python<'_>, data: &Bound<'_, PyAny>) -> PyResult<usize> {
        let arr = numpy(py)?.call_method1("asarray", (data, self.dt.np(py)))?;
        let raw = arr
            .call_method1("reshape", (-1,))?
            .call_method0("tobytes")?;
        let raw = raw.cast::<PyBytes>()?;
        self.ops.write(raw.as_bytes())
    }

    /// Takes up to `max_bytes` worth of whole elements (all by default) as an array, or
    /// None if there are none.
    #[pyo3(signature = (max_bytes = None))]
    fn read<'py>(
        &self,
        py: Python<'py>,
        max_bytes: Option<usize>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let max = max_bytes.map_or(usize::MAX, |b| b / self.elem_size().max(1));
        let raw = self.ops.read(max, true)?;
        self.array(py, raw)
    }

    /// The oldest element as a one-element array without taking it, or None (the Rust
    /// crate peeks one element; `max_bytes` is accepted for compatibility).
    #[pyo3(signature = (max_bytes = None))]
    fn peek<'py>(
        &self,
        py: Python<'py>,
        max_bytes: Option<usize>,
    ) -> PyResult<Option<Bound<'py, PyAny>>> {
        let max = max_bytes.map_or(usize::MAX, |b| b / self.elem_size().max(1));
        let raw = self.ops.read(max, false)?;
        self.array(py, raw)
    }

    /// The oldest element without taking it, or None.
    fn front(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        let raw = self.ops.read(1, false)?;
        Ok(match self.array(py, raw)? {
            Some(a) => Some(a.get_item(0)?.unbind()),
            None => None,
        })
    }

    /// Consumes everything readable.
    fn clear(&self) -> PyResult<()> {
        self.ops.read(usize::MAX, true).map(drop)
    }

    /// Consumes everything readable (upstream's `reset`, made safe).
    fn reset(&self) -> PyResult<()> {
        self.clear()
    }

    /// Elements readable.
    fn size(&self) -> PyResult<usize> {
        self.ops.len()
    }

    /// Bytes readable (upstream's `len()`).
    fn available_read(&self) -> PyResult<usize> {
        Ok(self.ops.len()? * self.elem_size())
    }

    /// Bytes writable before the ring is full.
    fn available_write(&self) -> PyResult<usize> {
        Ok((self.ops.capacity() - self.ops.len()?) * self.elem_size())
    }

    /// True if nothing is readable.
    fn empty(&self) -> PyResult<bool> {
        Ok(self.ops.len()? == 0)
    }

    /// True if no element fits.
    fn full(&self) -> PyResult<bool> {
        Ok(self.ops.len()? >= self.ops.capacity())
    }

    /// Bytes readable (as upstream).
    fn __len__(&self) -> PyResult<usize> {
        self.available_read()
    }

    fn __bool__(&self) -> PyResult<bool> {
        Ok(self.ops.len()? > 0)
    }

    /// Capacity in elements.
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
            "Ring(name='{}', capacity={}, dtype={})",
            self.name,
            self.ops.capacity(),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyRing>()?;
    Ok(())
}

//! `Stream`: upstream's `zeroipc.Stream(memory, name, capacity=None, dtype=None,
//! open_existing=False)` on the Rust crate's [`zeroipc::Stream`] — the C++ bytes (FORMAT.md
//! §6.3: `name_header` + `name_buffer`); upstream Python's stream (a bare Ring under `name`)
//! is refused with `KindMismatchError`.
//!
//! | upstream | here |
//! |---|---|
//! | `capacity` in bytes | in **elements** (C++'s `buffer_capacity`); an upstream script gets at least the room it asked for |
//! | `emit(v) -> bool` (False if full), `emit_batch(vs) -> int` | same; `emit(v, timeout=s)` waits for room; a closed stream raises `ClosedError` |
//! | `read(max_elements=None)` → numpy array or None | same (takes what is there now) |
//! | `read_batches(n, timeout=None)`, `for v in stream:`, `available()`, `empty()`, `len()`, `bool()`, `capacity_elements()`, `capacity_bytes()` | same; iteration ends when the stream is closed and drained (upstream has no close) |
//! | `map/filter/take/skip(..., output_stream)` (one-shot over what is buffered now), `batch`, `window`, `reduce`, `scan` | same (one-shot, in `_pysync.py`) |
//! | — | `map/filter/take/skip(..., "name")`: a **Rust stage** (`Stream::map`, ...) running in its own thread, creating stream `name` in the segment; returns a `StreamStage` (`output`, `stop()`, `join()`) |
//! | `peek`, `mean/std/min/max/sum` (non-consuming reads), `reset` | not provided: the C++ stream has one read position shared by every reader, so a non-consuming read would race other readers |
//! | — | `next(timeout=None)` (value, or None on timeout / closed and drained), `close()`, `is_closed()`, `sequence`, `async for v in stream:` |

use std::sync::{Arc, Mutex as StdMutex};

use pyo3::prelude::*;
use zeroipc::Stream;
use zeroipc::codata::stream::{NextError, NextTimeoutError, Stage, TryEmitError, TryNextError};
use zeroipc::segment::CatalogKind;

use super::open_or_create_typed;
use crate::aio::{BoxFuture, Convert, Poller};
use crate::blocking::{Waited, sliced};
use crate::dtype::{DType, PyElem, Visit, visit};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::sync::plan_generic;

/// What a stage does with each value.
#[derive(Clone, Copy)]
enum StageKind {
    Map,
    Filter,
    Take(usize),
    Skip(usize),
}

trait Ops: Send + Sync {
    fn emit(&self, py: Python<'_>, v: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool>;
    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>>;
    /// `Ok(Some(v))`, `Ok(None)` if empty; `Err(None)` closed and drained.
    fn try_next(&self, py: Python<'_>) -> Result<Option<Py<PyAny>>, Option<PyErr>>;
    /// The next value for `async for` (`StopAsyncIteration` once closed and drained), on the
    /// Rust crate's `Stream::next_async` (the one reactor; no thread per task).
    fn next_async(&self) -> BoxFuture;
    fn len(&self) -> PyResult<usize>;
    fn capacity(&self) -> usize;
    fn close(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn sequence(&self) -> u64;
    fn stage(
        &self,
        seg: &zeroipc::Segment,
        out: &str,
        kind: StageKind,
        f: Option<Py<PyAny>>,
    ) -> PyResult<Box<dyn StageOps>>;
}

trait StageOps: Send + Sync {
    fn stop(&self);
    fn join(self: Box<Self>) -> Result<(), String>;
}

struct Typed<T: PyElem> {
    s: Stream<T>,
    dt: DType,
}

fn stalled(e: impl std::fmt::Display) -> PyErr {
    raise(Class::Stalled, e)
}

struct StageBox<T: PyElem> {
    stage: Stage<T>,
    error: Arc<StdMutex<Option<PyErr>>>,
}

impl<T: PyElem> StageOps for StageBox<T> {
    fn stop(&self) {
        self.stage.stop();
    }
    fn join(self: Box<Self>) -> Result<(), String> {
        let r = self.stage.join().map_err(|e| e.to_string());
        if let Some(e) = self
            .error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
        {
            return Err(format!("the stage's function raised: {e}"));
        }
        r
    }
}

impl<T: PyElem> Ops for Typed<T> {
    fn emit(&self, py: Python<'_>, v: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool> {
        let v = T::from_py(v, &self.dt)?;
        let closed = |e: &dyn std::fmt::Display| raise(Class::Closed, e.to_string());
        match self.s.try_emit(v) {
            Ok(()) => return Ok(true),
            Err(TryEmitError::Full(_)) if timeout.is_some() => {}
            Err(TryEmitError::Full(_)) => return Ok(false),
            Err(e @ TryEmitError::Disconnected(_)) => return Err(closed(&e)),
            Err(e) => return Err(stalled(e)),
        }
        let s = &self.s;
        let r = sliced(py, timeout, |slice| match s.emit_timeout(v, slice) {
            Ok(()) => Some(Ok(())),
            Err(zeroipc::codata::stream::EmitTimeoutError::Timeout(_)) => None,
            Err(e @ zeroipc::codata::stream::EmitTimeoutError::Disconnected(_)) => {
                Some(Err((true, e.to_string())))
            }
            Err(e) => Some(Err((false, e.to_string()))),
        })?;
        match r {
            Waited::Done(Ok(())) => Ok(true),
            Waited::Done(Err((true, m))) => Err(closed(&m)),
            Waited::Done(Err((false, m))) => Err(stalled(m)),
            Waited::TimedOut => Ok(false),
        }
    }

    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let s = &self.s;
        let r = sliced(py, timeout, |slice| match s.next_timeout(slice) {
            Ok(v) => Some(Ok(Some(v))),
            Err(NextTimeoutError::Timeout) => None,
            Err(NextTimeoutError::Disconnected) => Some(Ok(None)),
            Err(e) => Some(Err(e)),
        })?;
        match r {
            Waited::Done(Ok(Some(v))) => v.to_py(py, &self.dt).map(Some),
            Waited::Done(Ok(None)) | Waited::TimedOut => Ok(None),
            Waited::Done(Err(NextTimeoutError::Corrupt(c))) => Err(errors::corruption(c)),
            Waited::Done(Err(e)) => Err(stalled(e)),
        }
    }

    fn try_next(&self, py: Python<'_>) -> Result<Option<Py<PyAny>>, Option<PyErr>> {
        match self.s.try_next() {
            Ok(v) => v.to_py(py, &self.dt).map(Some).map_err(Some),
            Err(TryNextError::Empty) => Ok(None),
            Err(TryNextError::Disconnected) => Err(None),
            Err(TryNextError::Corrupt(c)) => Err(Some(errors::corruption(c))),
            Err(e) => Err(Some(stalled(e))),
        }
    }

    fn next_async(&self) -> BoxFuture {
        let s = self.s.clone();
        let dt = self.dt.clone();
        Box::pin(async move {
            let r = s.next_async().await;
            let convert: Convert = Box::new(move |py: Python<'_>| match r {
                Ok(v) => v.to_py(py, &dt),
                Err(NextError::Disconnected) => {
                    Err(pyo3::exceptions::PyStopAsyncIteration::new_err(
                        "the stream is closed and drained",
                    ))
                }
                Err(NextError::Corrupt(c)) => Err(errors::corruption(c)),
                Err(e) => Err(stalled(e)),
            });
            convert
        })
    }

    fn len(&self) -> PyResult<usize> {
        self.s.len().map_err(errors::corruption)
    }
    fn capacity(&self) -> usize {
        self.s.capacity()
    }
    fn close(&self) -> bool {
        self.s.close()
    }
    fn is_closed(&self) -> bool {
        self.s.is_closed()
    }
    fn sequence(&self) -> u64 {
        self.s.sequence()
    }

    fn stage(
        &self,
        seg: &zeroipc::Segment,
        out: &str,
        kind: StageKind,
        f: Option<Py<PyAny>>,
    ) -> PyResult<Box<dyn StageOps>> {
        let error: Arc<StdMutex<Option<PyErr>>> = Arc::new(StdMutex::new(None));
        let keep_error = {
            let error = Arc::clone(&error);
            move |e: PyErr| {
                let mut slot = error
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if slot.is_none() {
                    *slot = Some(e);
                }
            }
        };
        let dt = self.dt.clone();
        let stage = match (kind, f) {
            (StageKind::Map, Some(f)) => self.s.map(seg, out, move |v: T| {
                Python::attach(|py| {
                    v.to_py(py, &dt)
                        .and_then(|a| f.call1(py, (a,)))
                        .and_then(|r| T::from_py(r.bind(py), &dt))
                        .unwrap_or_else(|e| {
                            keep_error(e);
                            v
                        })
                })
            }),
            (StageKind::Filter, Some(f)) => self.s.filter(seg, out, move |v: &T| {
                Python::attach(|py| {
                    v.to_py(py, &dt)
                        .and_then(|a| f.call1(py, (a,)))
                        .and_then(|r| r.bind(py).is_truthy())
                        .unwrap_or_else(|e| {
                            keep_error(e);
                            false
                        })
                })
            }),
            (StageKind::Take(n), _) => self.s.take(seg, out, n),
            (StageKind::Skip(n), _) => self.s.skip(seg, out, n),
            (_, None) => {
                return Err(raise(
                    Class::InvalidArgument,
                    "map and filter stages need a function",
                ));
            }
        }
        .map_err(errors::structure)?;
        Ok(Box::new(StageBox { stage, error }))
    }
}

struct Build<'a> {
    seg: &'a zeroipc::Segment,
    name: &'a str,
    exists: bool,
    capacity: usize,
}

impl Visit for Build<'_> {
    type Out = PyResult<Box<dyn Ops>>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let (name, cap) = (self.name, self.capacity);
        let s = open_or_create_typed(
            self.seg,
            name,
            dt,
            self.exists,
            |s| Stream::<T>::open(s, name),
            |s| Stream::<T>::create(s, name, cap),
        )?;
        Ok(Box::new(Typed { s, dt: dt.clone() }))
    }
}

/// A closable sequence of values with operators (upstream's `zeroipc.Stream`, C++ bytes).
#[pyclass(module = "zeroipc", name = "Stream", frozen)]
pub(crate) struct PyStream {
    ops: Box<dyn Ops>,
    dt: DType,
    seg: zeroipc::Segment,
    #[pyo3(get)]
    name: String,
}

impl PyStream {
    fn open(
        py: Python<'_>,
        seg: &zeroipc::Segment,
        name: &str,
        dt: &Bound<'_, PyAny>,
    ) -> PyResult<Self> {
        let (dt, exists) = plan_generic(py, seg, name, Some(dt), CatalogKind::Stream, "stream")?;
        let ops = visit(
            &dt,
            Build {
                seg,
                name,
                exists,
                capacity: 0,
            },
        )??;
        Ok(Self {
            ops,
            dt,
            seg: seg.clone(),
            name: name.to_owned(),
        })
    }

    fn stage(
        &self,
        py: Python<'_>,
        out: &str,
        kind: StageKind,
        f: Option<Py<PyAny>>,
    ) -> PyResult<PyStage> {
        let stage = self.ops.stage(&self.seg, out, kind, f)?;
        let output = Self::open(py, &self.seg, out, self.dt.np(py))?;
        Ok(PyStage {
            stage: StdMutex::new(Some(stage)),
            output: Py::new(py, output)?,
        })
    }

    /// Upstream's one-shot operator `op` (a function in `_pysync.py`) called with `args`.
    fn one_shot<'py>(
        slf: &Bound<'py, Self>,
        op: &str,
        args: impl pyo3::call::PyCallArgs<'py>,
    ) -> PyResult<Py<PyAny>> {
        let helper = slf.py().import("zeroipc._pysync")?.getattr(op)?;
        Ok(helper.call1(args)?.unbind())
    }
}

fn is_name(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<pyo3::types::PyString>()
}

#[pymethods]
impl PyStream {
    #[new]
    #[pyo3(signature = (memory, name, capacity = None, dtype = None, open_existing = false))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        dtype: Option<&Bound<'_, PyAny>>,
        open_existing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let exists_now = crate::sync::exists(&seg, name);
        if open_existing && !exists_now {
            return Err(raise(
                Class::NotFound,
                format!("stream '{name}' not found in segment '{}'", seg.name()),
            ));
        }
        let (dt, exists) = plan_generic(py, &seg, name, dtype, CatalogKind::Stream, "stream")?;
        let exists = exists || exists_now;
        let capacity = match (exists, capacity) {
            (false, None) => {
                return Err(raise(
                    Class::InvalidArgument,
                    format!("capacity required to create new stream '{name}'"),
                ));
            }
            (_, c) => c.unwrap_or(0),
        };
        let ops = visit(
            &dt,
            Build {
                seg: &seg,
                name,
                exists,
                capacity,
            },
        )??;
        Ok(Self {
            ops,
            dt,
            seg,
            name: name.to_owned(),
        })
    }

    /// Appends `value`: True, or False if the buffer is full (with `timeout`, waits that
    /// long for room first). Raises `ClosedError` on a closed stream.
    #[pyo3(signature = (value, timeout = None))]
    fn emit(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.ops.emit(py, value, timeout)
    }

    /// Emits each of `values` until the buffer is full: how many were emitted.
    fn emit_batch(&self, py: Python<'_>, values: &Bound<'_, PyAny>) -> PyResult<usize> {
        let mut n = 0;
        for v in values.try_iter()? {
            if !self.ops.emit(py, &v?, None)? {
                break;
            }
            n += 1;
        }
        Ok(n)
    }

    /// Takes the values there now (at most `max_elements`): a numpy array, or None if none.
    #[pyo3(signature = (max_elements = None))]
    fn read(&self, py: Python<'_>, max_elements: Option<usize>) -> PyResult<Option<Py<PyAny>>> {
        let mut got = Vec::new();
        while max_elements.is_none_or(|m| got.len() < m) {
            match self.ops.try_next(py) {
                Ok(Some(v)) => got.push(v),
                Ok(None) | Err(None) => break,
                Err(Some(e)) => return Err(e),
            }
        }
        if got.is_empty() {
            return Ok(None);
        }
        let np = crate::dtype::numpy(py)?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("dtype", self.dt.np(py))?;
        Ok(Some(
            np.getattr("array")?.call((got,), Some(&kwargs))?.unbind(),
        ))
    }

    /// The next value, waiting at most `timeout` seconds (`None`: forever); None on timeout
    /// or when the stream is closed and drained.
    #[pyo3(signature = (timeout = None))]
    fn next(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.next(py, timeout)
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__(&self) -> Poller {
        Poller::new(self.ops.next_async())
    }

    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.next(py, None)
    }

    /// Closes the stream: emits fail; readers drain what is buffered, then stop.
    fn close(&self) {
        self.ops.close();
    }

    fn is_closed(&self) -> bool {
        self.ops.is_closed()
    }

    /// Values ever emitted.
    #[getter]
    fn sequence(&self) -> u64 {
        self.ops.sequence()
    }

    /// Values buffered now.
    fn available(&self) -> PyResult<usize> {
        self.ops.len()
    }

    fn empty(&self) -> PyResult<bool> {
        Ok(self.ops.len()? == 0)
    }

    fn capacity_elements(&self) -> usize {
        self.ops.capacity()
    }

    fn capacity_bytes(&self) -> usize {
        self.ops.capacity() * usize::try_from(self.dt.size()).unwrap_or(usize::MAX)
    }

    fn __len__(&self) -> PyResult<usize> {
        self.ops.len()
    }

    fn __bool__(&self) -> PyResult<bool> {
        Ok(self.ops.len()? > 0)
    }

    /// The numpy dtype of the values.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    /// `map(f, output_stream)`: emits `f(v)` for the values buffered now into
    /// `output_stream` (upstream, one-shot). `map(f, "name")`: a Rust stage creating stream
    /// `name`, running until this stream is closed and drained (returns a `StreamStage`).
    fn map(
        slf: &Bound<'_, Self>,
        transform: Py<PyAny>,
        output: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if is_name(output) {
            let out: String = output.extract()?;
            let st = slf
                .get()
                .stage(slf.py(), &out, StageKind::Map, Some(transform))?;
            return Ok(Py::new(slf.py(), st)?.into_any());
        }
        Self::one_shot(slf, "_stream_map", (slf, transform, output))
    }

    /// `filter(pred, output_stream)` (one-shot, upstream) or `filter(pred, "name")` (a stage).
    fn filter(
        slf: &Bound<'_, Self>,
        predicate: Py<PyAny>,
        output: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        if is_name(output) {
            let out: String = output.extract()?;
            let st = slf
                .get()
                .stage(slf.py(), &out, StageKind::Filter, Some(predicate))?;
            return Ok(Py::new(slf.py(), st)?.into_any());
        }
        Self::one_shot(slf, "_stream_filter", (slf, predicate, output))
    }

    /// `take(n, output_stream)` (one-shot, upstream) or `take(n, "name")` (a stage that
    /// passes the first `n` values, then closes its output).
    fn take(slf: &Bound<'_, Self>, count: usize, output: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        if is_name(output) {
            let out: String = output.extract()?;
            let st = slf
                .get()
                .stage(slf.py(), &out, StageKind::Take(count), None)?;
            return Ok(Py::new(slf.py(), st)?.into_any());
        }
        Self::one_shot(slf, "_stream_take", (slf, count, output))
    }

    /// `skip(n)` (upstream: drops `n` buffered values, returns self) or `skip(n, "name")`
    /// (a stage passing all but the first `n`).
    #[pyo3(signature = (count, output = None))]
    fn skip(
        slf: &Bound<'_, Self>,
        count: usize,
        output: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Py<PyAny>> {
        if let Some(out) = output.filter(|o| is_name(o)) {
            let out: String = out.extract()?;
            let st = slf
                .get()
                .stage(slf.py(), &out, StageKind::Skip(count), None)?;
            return Ok(Py::new(slf.py(), st)?.into_any());
        }
        slf.get().read(slf.py(), Some(count))?;
        Ok(slf.clone().into_any().unbind())
    }

    /// Upstream's one-shot `batch(size, output_stream)`.
    fn batch(slf: &Bound<'_, Self>, size: usize, output: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        Self::one_shot(slf, "_stream_batch", (slf, size, output))
    }

    /// Upstream's one-shot `window(size)`: sliding windows over the values buffered now.
    fn window(slf: &Bound<'_, Self>, size: usize) -> PyResult<Py<PyAny>> {
        Self::one_shot(slf, "_stream_window", (slf, size))
    }

    /// Upstream's one-shot `reduce(reducer, initial)` over the values buffered now.
    fn reduce(
        slf: &Bound<'_, Self>,
        reducer: Py<PyAny>,
        initial: Py<PyAny>,
    ) -> PyResult<Py<PyAny>> {
        Self::one_shot(slf, "_stream_reduce", (slf, reducer, initial))
    }

    /// Upstream's one-shot `scan(scanner, initial, output_stream)`.
    fn scan(
        slf: &Bound<'_, Self>,
        scanner: Py<PyAny>,
        initial: Py<PyAny>,
        output: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        Self::one_shot(slf, "_stream_scan", (slf, scanner, initial, output))
    }

    /// Upstream's `read_batches(batch_size, timeout=None)`: yields arrays of up to
    /// `batch_size` values; ends after `timeout` seconds without data (or when closed).
    #[pyo3(signature = (batch_size, timeout = None))]
    fn read_batches(
        slf: &Bound<'_, Self>,
        batch_size: usize,
        timeout: Option<f64>,
    ) -> PyResult<Py<PyAny>> {
        Self::one_shot(slf, "_stream_read_batches", (slf, batch_size, timeout))
    }

    fn __repr__(&self) -> String {
        format!(
            "Stream(name='{}', available={}, capacity={}, dtype={})",
            self.name,
            self.ops.len().unwrap_or(0),
            self.ops.capacity(),
            self.dt.elem
        )
    }
}

/// A Rust pipeline stage running a Python function in its own thread (`Stream.map(f,
/// "name")`, ...).
#[pyclass(module = "zeroipc", name = "StreamStage", frozen)]
pub(crate) struct PyStage {
    stage: StdMutex<Option<Box<dyn StageOps>>>,
    output: Py<PyStream>,
}

impl PyStage {
    fn take(&self) -> Option<Box<dyn StageOps>> {
        self.stage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }
}

#[pymethods]
impl PyStage {
    /// The stream the stage writes.
    #[getter]
    fn output(&self, py: Python<'_>) -> Py<PyStream> {
        self.output.clone_ref(py)
    }

    /// Asks the stage to stop (it closes its output).
    fn stop(&self) {
        if let Some(s) = self
            .stage
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_ref()
        {
            s.stop();
        }
    }

    /// Waits for the stage to finish (input closed and drained, or stopped); raises
    /// `zeroipc.Error` if it failed (or its Python function raised).
    fn join(&self, py: Python<'_>) -> PyResult<()> {
        let Some(s) = self.take() else {
            return Ok(());
        };
        py.detach(|| s.join()).map_err(errors::to_py)
    }
}

impl Drop for PyStage {
    fn drop(&mut self) {
        // The stage thread may be waiting for the GIL (to call the Python function):
        // stop and join it with the GIL released.
        if let Some(s) = self.take() {
            s.stop();
            Python::attach(|py| py.detach(|| drop(s.join())));
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyStream>()?;
    m.add_class::<PyStage>()
}

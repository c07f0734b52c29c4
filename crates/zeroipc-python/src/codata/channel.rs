//! `Channel` / `Select`: upstream's `zeroipc.Channel(memory, name, capacity=None,
//! buffer_size=None, dtype=None, open_existing=False)` on the Rust crate's
//! [`zeroipc::Channel`] — the C++ bytes (FORMAT.md §6.4); a channel in upstream Python's
//! layout (a Queue plus `name_sync`) is refused with `KindMismatchError`.
//!
//! | upstream | here |
//! |---|---|
//! | `send(v, timeout=None) -> bool` (False: timeout or closed) | same; an unbuffered send returns once a receiver took the value; Ctrl-C within 100 ms |
//! | `receive(timeout=None)` → value, or None (timeout, or closed and drained) | same |
//! | `try_send(v) -> bool`, `try_receive()` → value or None | same |
//! | `close()`, `is_closed()`, `is_open()`, `size()`, `empty()`, `full()`, `len()`, `bool()`, `with ch:` (closes), `for v in ch:` | same |
//! | `capacity`, `buffer_size`, `unbuffered` | same |
//! | `Channel.select(channels, timeout=None)` → first channel with data, or None | same (polls every ms, as upstream) |
//! | `Select(channels, timeout=None).select_receive()` → `(index, value)` or None; `.select_send(values)` → index or None | same; `select_receive` on the Rust `Select` |
//! | — | `await ch.recv_async()`, `await ch.send_async(v)`, `async for v in ch:` (asyncio on the Rust async forms, no thread per task); a closed channel raises `ClosedError` from `recv_async` / `send_async` |
//! | — | a slot held by a dead peer is `StalledError` (after the stall timeout), not a hang |

use std::time::Duration;

use pyo3::prelude::*;
use pyo3::types::PyList;
use zeroipc::codata::channel::{
    RecvError, RecvTimeoutError, SendError, SendTimeoutError, TryRecvError, TrySendError,
};
use zeroipc::segment::CatalogKind;
use zeroipc::{Channel, Select};

use super::open_or_create_typed;
use crate::aio::{BoxFuture, Convert, Poller};
use crate::blocking::{SLICE, Waited, deadline, sliced};
use crate::dtype::{DType, PyElem, Visit, visit};
use crate::errors::{Class, raise};
use crate::memory::segment_of;
use crate::sync::plan_generic;

trait Ops: Send + Sync {
    fn send(&self, py: Python<'_>, v: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool>;
    fn try_send(&self, v: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>>;
    fn try_recv(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>>;
    fn close(&self) -> bool;
    fn is_closed(&self) -> bool;
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
    fn is_buffered(&self) -> bool;
    fn recv_async(&self, end_iteration: bool) -> BoxFuture;
    fn send_async(&self, v: &Bound<'_, PyAny>) -> PyResult<BoxFuture>;
    fn arm<'a>(
        &'a self,
        i: usize,
        sel: Select<'a, (usize, Convert)>,
    ) -> Select<'a, (usize, Convert)>;
}

struct Typed<T: PyElem> {
    c: Channel<T>,
    dt: DType,
}

fn stalled(e: impl std::fmt::Display) -> PyErr {
    raise(Class::Stalled, e)
}

fn closed(e: impl std::fmt::Display) -> PyErr {
    raise(Class::Closed, e)
}

impl<T: PyElem> Ops for Typed<T> {
    fn send(&self, py: Python<'_>, v: &Bound<'_, PyAny>, timeout: Option<f64>) -> PyResult<bool> {
        let v = T::from_py(v, &self.dt)?;
        let c = &self.c;
        let r = sliced(py, timeout, |slice| match c.send_timeout(v, slice) {
            Ok(()) => Some(Ok(true)),
            Err(SendTimeoutError::Timeout(_)) => None,
            Err(SendTimeoutError::Disconnected(_)) => Some(Ok(false)),
            Err(e) => Some(Err(e.to_string())),
        })?;
        match r {
            Waited::Done(Ok(b)) => Ok(b),
            Waited::Done(Err(m)) => Err(stalled(m)),
            Waited::TimedOut => Ok(false),
        }
    }

    fn try_send(&self, v: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = T::from_py(v, &self.dt)?;
        match self.c.try_send(v) {
            Ok(()) => Ok(true),
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => Ok(false),
            Err(e) => Err(stalled(e)),
        }
    }

    fn recv(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        let c = &self.c;
        let r = sliced(py, timeout, |slice| match c.recv_timeout(slice) {
            Ok(v) => Some(Ok(Some(v))),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => Some(Ok(None)),
            Err(e) => Some(Err(e)),
        })?;
        match r {
            Waited::Done(Ok(Some(v))) => v.to_py(py, &self.dt).map(Some),
            Waited::Done(Ok(None)) | Waited::TimedOut => Ok(None),
            Waited::Done(Err(e)) => Err(stalled(e)),
        }
    }

    fn try_recv(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        match self.c.try_recv() {
            Ok(v) => v.to_py(py, &self.dt).map(Some),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => Ok(None),
            Err(e) => Err(stalled(e)),
        }
    }

    fn close(&self) -> bool {
        self.c.close()
    }
    fn is_closed(&self) -> bool {
        self.c.is_closed()
    }
    fn len(&self) -> usize {
        self.c.len()
    }
    fn capacity(&self) -> usize {
        self.c.capacity()
    }
    fn is_buffered(&self) -> bool {
        self.c.is_buffered()
    }

    fn recv_async(&self, end_iteration: bool) -> BoxFuture {
        let c = self.c.clone();
        let dt = self.dt.clone();
        Box::pin(async move {
            let r = c.recv_async().await;
            let convert: Convert = Box::new(move |py: Python<'_>| match r {
                Ok(v) => v.to_py(py, &dt),
                Err(RecvError::Disconnected) if end_iteration => Err(
                    pyo3::exceptions::PyStopAsyncIteration::new_err("the channel is closed"),
                ),
                Err(e @ RecvError::Disconnected) => Err(closed(e)),
                Err(e) => Err(stalled(e)),
            });
            convert
        })
    }

    fn send_async(&self, v: &Bound<'_, PyAny>) -> PyResult<BoxFuture> {
        let v = T::from_py(v, &self.dt)?;
        let c = self.c.clone();
        Ok(Box::pin(async move {
            let r = c.send_async(v).await;
            let convert: Convert = Box::new(move |py: Python<'_>| match r {
                Ok(()) => Ok(py.None()),
                Err(e @ SendError::Disconnected(_)) => Err(closed(e)),
                Err(e) => Err(stalled(e)),
            });
            convert
        }))
    }

    fn arm<'a>(
        &'a self,
        i: usize,
        sel: Select<'a, (usize, Convert)>,
    ) -> Select<'a, (usize, Convert)> {
        let dt = &self.dt;
        sel.recv(&self.c, move |v: T| {
            let dt = dt.clone();
            let convert: Convert = Box::new(move |py: Python<'_>| v.to_py(py, &dt));
            (i, convert)
        })
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
        let c = open_or_create_typed(
            self.seg,
            name,
            dt,
            self.exists,
            |s| Channel::<T>::open(s, name),
            |s| Channel::<T>::create(s, name, cap),
        )?;
        Ok(Box::new(Typed { c, dt: dt.clone() }))
    }
}

/// A CSP channel, buffered or rendezvous (upstream's `zeroipc.Channel`).
#[pyclass(module = "zeroipc", name = "Channel", frozen)]
pub(crate) struct PyChannel {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyChannel {
    #[new]
    #[pyo3(signature = (memory, name, capacity = None, buffer_size = None, dtype = None, open_existing = false))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        buffer_size: Option<usize>,
        dtype: Option<&Bound<'_, PyAny>>,
        open_existing: bool,
    ) -> PyResult<Self> {
        let capacity = match (capacity, buffer_size) {
            (Some(_), Some(_)) => {
                return Err(raise(
                    Class::InvalidArgument,
                    "Cannot specify both capacity and buffer_size",
                ));
            }
            (c, b) => c.or(b).unwrap_or(0),
        };
        let seg = segment_of(memory)?;
        if open_existing && !crate::sync::exists(&seg, name) {
            return Err(raise(
                Class::NotFound,
                format!("channel '{name}' not found in segment '{}'", seg.name()),
            ));
        }
        let (dt, exists) = plan_generic(py, &seg, name, dtype, CatalogKind::Channel, "channel")?;
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
            name: name.to_owned(),
        })
    }

    /// Sends `value`, waiting at most `timeout` seconds (`None`: forever): True, or False
    /// on timeout or if the channel is closed.
    #[pyo3(signature = (value, timeout = None))]
    fn send(
        &self,
        py: Python<'_>,
        value: &Bound<'_, PyAny>,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.ops.send(py, value, timeout)
    }

    /// Receives a value, waiting at most `timeout` seconds: the value, or None on timeout or
    /// when the channel is closed and drained.
    #[pyo3(signature = (timeout = None))]
    fn receive(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.recv(py, timeout)
    }

    /// Sends only if that needs no wait (room, or a waiting receiver).
    fn try_send(&self, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.try_send(value)
    }

    /// Receives only if a value is there now; else None.
    fn try_receive(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.try_recv(py)
    }

    /// An awaitable receive (asyncio): the value; raises `ClosedError` once the channel is
    /// closed and drained.
    fn recv_async(&self) -> Poller {
        Poller::new(self.ops.recv_async(false))
    }

    /// An awaitable send (asyncio): returns when delivered (unbuffered: when a receiver took
    /// it); raises `ClosedError` if the channel is closed.
    fn send_async(&self, value: &Bound<'_, PyAny>) -> PyResult<Poller> {
        Ok(Poller::new(self.ops.send_async(value)?))
    }

    fn __aiter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __anext__(&self) -> Poller {
        Poller::new(self.ops.recv_async(true))
    }

    /// Closes the channel: sends fail; receivers drain what is buffered.
    fn close(&self) {
        self.ops.close();
    }

    fn is_closed(&self) -> bool {
        self.ops.is_closed()
    }

    fn is_open(&self) -> bool {
        !self.ops.is_closed()
    }

    /// Values buffered now.
    fn size(&self) -> usize {
        self.ops.len()
    }

    fn empty(&self) -> bool {
        self.ops.len() == 0
    }

    /// Buffered and holding `capacity` values (an unbuffered channel is never full).
    fn full(&self) -> bool {
        self.ops.is_buffered() && self.ops.len() >= self.ops.capacity()
    }

    fn __len__(&self) -> usize {
        self.ops.len()
    }

    fn __bool__(&self) -> bool {
        !self.ops.is_closed() && self.ops.len() > 0
    }

    /// The buffer capacity (0: unbuffered).
    #[getter]
    fn capacity(&self) -> usize {
        if self.ops.is_buffered() {
            self.ops.capacity()
        } else {
            0
        }
    }

    /// Alias of `capacity` (upstream).
    #[getter]
    fn buffer_size(&self) -> usize {
        self.capacity()
    }

    /// True for a rendezvous channel.
    #[getter]
    fn unbuffered(&self) -> bool {
        !self.ops.is_buffered()
    }

    /// The numpy dtype of the messages.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, pyo3::types::PyTuple>) -> bool {
        self.ops.close();
        false
    }

    /// Receives until the channel is closed and drained.
    fn __iter__(slf: Py<Self>) -> ChannelIter {
        ChannelIter { chan: slf }
    }

    /// The first of `channels` (open ones) holding a value, waiting at most `timeout`
    /// seconds; None on timeout (upstream; it does not receive).
    #[staticmethod]
    #[pyo3(signature = (channels, timeout = None))]
    fn select(
        py: Python<'_>,
        channels: &Bound<'_, PyList>,
        timeout: Option<f64>,
    ) -> PyResult<Option<Py<PyAny>>> {
        let deadline = deadline(timeout)?;
        loop {
            for ch in channels.iter() {
                let c = ch.cast::<PyChannel>()?.get();
                if !c.ops.is_closed() && c.ops.len() > 0 {
                    return Ok(Some(ch.unbind()));
                }
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(None);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(1)));
            py.check_signals()?;
        }
    }

    fn __repr__(&self) -> String {
        let kind = if self.ops.is_buffered() {
            format!("buffered(capacity={})", self.ops.capacity())
        } else {
            "unbuffered".to_owned()
        };
        let status = if self.ops.is_closed() {
            "closed"
        } else {
            "open"
        };
        format!(
            "Channel(name='{}', type={kind}, status={status}, size={}, dtype={})",
            self.name,
            self.ops.len(),
            self.dt.elem
        )
    }
}

/// `iter(channel)`: receives until closed and drained.
#[pyclass(module = "zeroipc", name = "_ChannelIter", frozen)]
pub(crate) struct ChannelIter {
    chan: Py<PyChannel>,
}

#[pymethods]
impl ChannelIter {
    fn __iter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    fn __next__(&self, py: Python<'_>) -> PyResult<Option<Py<PyAny>>> {
        self.chan.get().ops.recv(py, None)
    }
}

/// Waits on several channels at once (upstream's `zeroipc.Select`).
#[pyclass(module = "zeroipc", name = "Select", frozen)]
pub(crate) struct PySelect {
    channels: Vec<Py<PyChannel>>,
    #[pyo3(get)]
    timeout: Option<f64>,
}

#[pymethods]
impl PySelect {
    #[new]
    #[pyo3(signature = (channels, timeout = None))]
    fn new(channels: Vec<Py<PyChannel>>, timeout: Option<f64>) -> Self {
        Self { channels, timeout }
    }

    /// The channels.
    #[getter]
    fn channels(&self, py: Python<'_>) -> Vec<Py<PyChannel>> {
        self.channels.iter().map(|c| c.clone_ref(py)).collect()
    }

    /// Receives from whichever channel has a value first: `(index, value)`, or None if the
    /// timeout passed (or every channel is closed and drained).
    fn select_receive(&self, py: Python<'_>) -> PyResult<Option<(usize, Py<PyAny>)>> {
        let ops: Vec<&dyn Ops> = self.channels.iter().map(|c| &*c.get().ops).collect();
        let ops = &ops;
        let r = sliced(py, self.timeout, |slice| {
            let mut sel = Select::new();
            for (i, o) in ops.iter().enumerate() {
                sel = o.arm(i, sel);
            }
            match sel.wait_timeout(slice) {
                Ok((_, got)) => Some(Ok(Some(got))),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => Some(Ok(None)),
                Err(e) => Some(Err(e)),
            }
        })?;
        match r {
            Waited::Done(Ok(Some((i, convert)))) => Ok(Some((i, convert(py)?))),
            Waited::Done(Ok(None)) | Waited::TimedOut => Ok(None),
            Waited::Done(Err(e)) => Err(stalled(e)),
        }
    }

    /// Sends `values[i]` on whichever channel `i` takes it first: the index, or None on
    /// timeout (polls every ms, as upstream).
    fn select_send(&self, py: Python<'_>, values: Vec<Py<PyAny>>) -> PyResult<Option<usize>> {
        if values.len() != self.channels.len() {
            return Err(raise(
                Class::InvalidArgument,
                format!(
                    "{} values for {} channels (expected one value per channel)",
                    values.len(),
                    self.channels.len()
                ),
            ));
        }
        let deadline = deadline(self.timeout)?;
        loop {
            for (i, (c, v)) in self.channels.iter().zip(&values).enumerate() {
                let c = c.get();
                if !c.ops.is_closed() && c.ops.try_send(v.bind(py))? {
                    return Ok(Some(i));
                }
            }
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                return Ok(None);
            }
            py.detach(|| std::thread::sleep(Duration::from_millis(1).min(SLICE)));
            py.check_signals()?;
        }
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyChannel>()?;
    m.add_class::<ChannelIter>()?;
    m.add_class::<PySelect>()
}

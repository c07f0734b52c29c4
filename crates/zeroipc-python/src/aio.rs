//! asyncio on the Rust crate's async forms, with no thread per awaiting task.
//!
//! A [`Poller`] owns one boxed Rust future (`Future::get_async`, `Channel::recv_async`,
//! `Channel::send_async`, ...). Python's `zeroipc._pysync._drive(poller)` coroutine calls
//! [`Poller::poll`] on the event loop with a fresh asyncio future; when the Rust future is
//! pending, the [`Waker`] it was polled with holds that loop and asyncio future, and its
//! `wake` schedules `_wake(fut)` with `loop.call_soon_threadsafe` (from whatever thread
//! the Rust crate wakes from), which resumes the task, which polls again. So the loop is
//! never blocked and each awaiting task costs one small object, not a thread; how the Rust
//! future gets woken is the crate's business (its public async API, so a better reactor
//! there is picked up unchanged).
//!
//! Cancelling the task drops the Poller and with it the Rust future; the Rust crate's
//! async forms lose no value when dropped.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex as StdMutex};
use std::task::Wake;

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;

/// Turns the Rust future's output into a Python value (or exception) once the GIL is held.
pub(crate) type Convert = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// A Rust future whose output converts to Python.
pub(crate) type BoxFuture = Pin<Box<dyn Future<Output = Convert> + Send>>;

/// A Rust future awaited from asyncio (`await poller`); see the module docs.
#[pyclass(module = "zeroipc", name = "_Poller", frozen)]
pub(crate) struct Poller {
    fut: StdMutex<Option<BoxFuture>>,
}

impl Poller {
    pub(crate) fn new(fut: BoxFuture) -> Self {
        Self {
            fut: StdMutex::new(Some(fut)),
        }
    }
}

static WAKE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
static DRIVE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

fn pysync_attr<'py>(
    py: Python<'py>,
    cell: &'static PyOnceLock<Py<PyAny>>,
    name: &str,
) -> PyResult<&'py Bound<'py, PyAny>> {
    Ok(cell
        .get_or_try_init(py, || {
            py.import("zeroipc._pysync")?
                .getattr(name)
                .map(Bound::unbind)
        })?
        .bind(py))
}

/// Wakes one asyncio future on its loop.
struct LoopWaker {
    event_loop: Py<PyAny>,
    fut: Py<PyAny>,
}

impl Wake for LoopWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        // The crate may wake a waker after its task is gone (a dropped future's entry can
        // stay registered for a moment), possibly while the process is exiting: nothing to
        // do once the interpreter is finalized.
        // SAFETY: `Py_IsInitialized` may be called at any time, from any thread, with or
        // without the GIL (it reads one flag).
        if unsafe { pyo3::ffi::Py_IsInitialized() } == 0 {
            return;
        }
        Python::attach(|py| {
            let Ok(wake) = pysync_attr(py, &WAKE, "_wake") else {
                return;
            };
            // A closed loop raises RuntimeError: the task is gone, nothing to wake.
            let _ = self.event_loop.call_method1(
                py,
                "call_soon_threadsafe",
                (wake, self.fut.clone_ref(py)),
            );
        });
    }
}

#[pymethods]
impl Poller {
    /// Polls once: `(True, value)` when ready; `(False, None)` after arranging for `fut`
    /// (an asyncio future of `event_loop`) to be resolved when polling again is worth it.
    fn poll(
        &self,
        py: Python<'_>,
        event_loop: Py<PyAny>,
        fut: Py<PyAny>,
    ) -> PyResult<(bool, Py<PyAny>)> {
        let waker = Waker::from(Arc::new(LoopWaker { event_loop, fut }));
        let mut cx = Context::from_waker(&waker);
        let mut slot = self
            .fut
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Some(f) = slot.as_mut() else {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "this awaitable was awaited already (await it once)",
            ));
        };
        match f.as_mut().poll(&mut cx) {
            Poll::Ready(convert) => {
                *slot = None;
                drop(slot);
                Ok((true, convert(py)?))
            }
            Poll::Pending => Ok((false, py.None())),
        }
    }

    fn __await__(slf: Py<Self>, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let drive = pysync_attr(py, &DRIVE, "_drive")?;
        Ok(drive.call1((slf,))?.call_method0("__await__")?.unbind())
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Poller>()
}

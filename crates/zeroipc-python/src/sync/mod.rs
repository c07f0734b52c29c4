//! The synchronization primitives (upstream's `zeroipc.Semaphore`, `Mutex`, `RWLock`,
//! `Barrier`, `Latch`, `Once`, `Event`, `Monitor`, `Signal`) on the Rust crate's atomics.
//!
//! Upstream's names, constructors and method semantics: constructors open the entry if the
//! table has it and create it otherwise; `lock` / `acquire` / `wait` take `timeout=` (seconds,
//! `None` = forever) and return `False` when it passes. Unlike upstream (read-modify-write in
//! Python, FORMAT.md §12), every count is a real atomic shared by processes.
//!
//! Every blocking call waits in 50 ms slices with the GIL released and checks for signals in
//! between ([`crate::blocking`]), so Ctrl-C raises `KeyboardInterrupt` within 100 ms and
//! leaves nothing half-done: each slice is one complete timed attempt of the Rust operation
//! (a timed-out lock took nothing, a timed-out barrier arrival was withdrawn, a timed-out
//! monitor wait re-took the lock).
//!
//! Lock guards: the Rust crate's guards borrow their handle; a Python `lock()` / `unlock()`
//! pair needs the guard to outlive the call, so it is kept in the Python object as a
//! [`Held`] that owns an `Arc` of the handle next to the guard.
//!
//! Dead holders (Rust crate, "Dead holders"): a lock taken over from a dead zeroipc holder
//! raises `zeroipc.OwnerDeadError`. After `lock()` / `try_lock()` / `reader_lock()` /
//! `writer_lock()` the caller then *holds* the lock (repair the state, then `unlock()`), as
//! with POSIX robust mutexes; after `with lock:` (`__enter__`) it was released again before
//! raising, so nothing stays locked by a block that never ran.

use std::sync::Arc;
use std::time::Duration;

use pyo3::prelude::*;
use zeroipc::segment::CatalogKind;
use zeroipc::sync::{LockTimeoutError, ReleaseError, TryLockError, WaitTimeoutError};
use zeroipc::{Corruption, Segment, StructureError, TableError};

use crate::blocking::{Waited, sliced};
use crate::errors::{self, Class, raise};

mod barrier;
mod event;
mod latch;
mod monitor;
mod mutex;
mod once;
mod rwlock;
mod semaphore;
mod signal;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    semaphore::register(m)?;
    mutex::register(m)?;
    rwlock::register(m)?;
    barrier::register(m)?;
    latch::register(m)?;
    once::register(m)?;
    event::register(m)?;
    monitor::register(m)?;
    signal::register(m)?;
    Ok(())
}

/// A lock guard kept past the call that took it, with the handle it borrows.
///
/// `guard` is declared first, so it is dropped (unlocking) before `_handle`.
pub(crate) struct Held<H: 'static, G: 'static> {
    pub(crate) guard: G,
    _handle: Arc<H>,
}

impl<H: 'static, G: 'static> Held<H, G> {
    /// Keeps `guard` (which borrows `*handle`, with its lifetime erased by the caller).
    pub(crate) fn new(handle: &Arc<H>, guard: G) -> Self {
        Self {
            guard,
            _handle: Arc::clone(handle),
        }
    }
}

/// Erases the lifetime of a guard borrowing `*handle`, for [`Held`].
///
/// Expands to an `unsafe` transmute with the SAFETY argument shared by every guard type: the
/// guard borrows the handle inside an `Arc` allocation (which never moves), and the [`Held`]
/// built from it owns a clone of that `Arc`, so the handle outlives the guard (`guard` is
/// dropped first, by field order); the guard type differs only in its lifetime.
macro_rules! erase {
    ($guard:expr, $ty:ident) => {{
        let g: $ty<'_> = $guard;
        // SAFETY: see the macro docs — the referent lives in an `Arc` that the `Held`
        // receiving this guard keeps alive past the guard; only the lifetime changes.
        unsafe { core::mem::transmute::<$ty<'_>, $ty<'static>>(g) }
    }};
}
pub(crate) use erase;

/// How a sliced lock attempt ended.
pub(crate) enum Got<G> {
    Locked(G),
    /// Taken over from dead process `pid`; the caller holds it.
    Recovered(G, u32),
    TimedOut,
}

/// Takes a lock with `attempt(slice)` (a `*_timeout` form) in slices; see the module docs.
pub(crate) fn lock_sliced<G: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut attempt: impl FnMut(Duration) -> Result<G, LockTimeoutError<G>> + Send,
) -> PyResult<Got<G>> {
    let r = sliced(py, timeout, |slice| match attempt(slice) {
        Ok(g) => Some(Ok(Got::Locked(g))),
        Err(LockTimeoutError::Timeout) => None,
        Err(LockTimeoutError::OwnerDead(d)) => {
            let pid = d.pid();
            Some(Ok(Got::Recovered(d.into_guard(), pid)))
        }
        Err(LockTimeoutError::Corrupt(c)) => Some(Err(Fail::Corrupt(c))),
        Err(e) => Some(Err(Fail::Other(e.drop_guard().to_string()))),
    })?;
    match r {
        Waited::Done(Ok(g)) => Ok(g),
        Waited::Done(Err(f)) => Err(f.into()),
        Waited::TimedOut => Ok(Got::TimedOut),
    }
}

/// An error that crosses `py.detach` (no `PyErr` is made without the GIL).
pub(crate) enum Fail {
    Corrupt(Corruption),
    Other(String),
}

impl From<Fail> for PyErr {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Corrupt(c) => errors::corruption(c),
            Fail::Other(m) => errors::to_py(m),
        }
    }
}

/// A non-blocking lock attempt as [`Got`] (`TimedOut` = would block).
pub(crate) fn try_got<G>(r: Result<G, TryLockError<G>>) -> PyResult<Got<G>> {
    match r {
        Ok(g) => Ok(Got::Locked(g)),
        Err(TryLockError::WouldBlock) => Ok(Got::TimedOut),
        Err(TryLockError::OwnerDead(d)) => {
            let pid = d.pid();
            Ok(Got::Recovered(d.into_guard(), pid))
        }
        Err(TryLockError::Corrupt(c)) => Err(errors::corruption(c)),
        Err(e) => Err(errors::to_py(e.drop_guard())),
    }
}

/// Waits with `attempt(slice)` (a `wait_timeout` form) in slices: `Ok(Some(v))` when the
/// wait ended, `Ok(None)` when `timeout` passed.
pub(crate) fn wait_sliced<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut attempt: impl FnMut(Duration) -> Result<T, WaitTimeoutError> + Send,
) -> PyResult<Option<T>> {
    let r = sliced(py, timeout, |slice| match attempt(slice) {
        Ok(v) => Some(Ok(v)),
        Err(WaitTimeoutError::Timeout) => None,
        Err(e) => Some(Err(e)),
    })?;
    match r {
        Waited::Done(Ok(v)) => Ok(Some(v)),
        Waited::Done(Err(WaitTimeoutError::Corrupt(c))) => Err(errors::corruption(c)),
        Waited::Done(Err(e)) => Err(errors::to_py(e)),
        Waited::TimedOut => Ok(None),
    }
}

/// `OwnerDeadError` for `what` taken over from dead process `pid`.
pub(crate) fn owner_dead(what: &str, pid: u32, held: bool) -> PyErr {
    let now = if held {
        "this handle holds it now; the state it protects may be half-updated: repair it, then unlock()"
    } else {
        "it was taken over and released again (the `with` block did not run); the state it protects may be half-updated"
    };
    raise(
        Class::OwnerDead,
        format!("{what}: process {pid} died holding it; {now}"),
    )
}

/// A failed release: `Overflow` is `FullError`, a corrupt word `CorruptionError`.
pub(crate) fn release(e: ReleaseError) -> PyErr {
    match e {
        ReleaseError::Corrupt(c) => errors::corruption(c),
        e @ ReleaseError::Overflow { .. } => raise(Class::Full, e),
        e => errors::to_py(e),
    }
}

/// `unlock()` on a handle that holds nothing.
pub(crate) fn not_held(what: &str) -> PyErr {
    raise(
        Class::Error,
        format!("{what} is not locked through this handle (expected a lock() before unlock())"),
    )
}

/// A Corruption from an accessor.
pub(crate) fn corrupt(c: Corruption) -> PyErr {
    errors::corruption(c)
}

/// Opens `name` if the table has it, else creates it with `create` (or, without `create`,
/// raises `NotFoundError`); a create that lost a race to another process opens.
pub(crate) fn open_or_create<H: Send>(
    py: Python<'_>,
    seg: &Segment,
    name: &str,
    what: &str,
    kind: CatalogKind,
    create: Option<impl FnOnce() -> Result<H, StructureError> + Send>,
    open: impl Fn() -> Result<H, StructureError> + Send + Sync,
) -> PyResult<H> {
    check_kind(seg, name, kind)?;
    let r = py.detach(|| match seg.find(name) {
        Ok(_) => Ok(open()),
        Err(TableError::NotFound { .. }) => match create {
            None => Err(None),
            Some(c) => match c() {
                Err(StructureError::Table(TableError::AlreadyExists { .. })) => Ok(open()),
                r => Ok(r),
            },
        },
        Err(e) => Err(Some(e)),
    });
    match r {
        Ok(r) => r.map_err(errors::structure),
        Err(Some(e)) => Err(errors::table(e)),
        Err(None) => Err(raise(
            Class::NotFound,
            format!("{what} '{name}' not found in segment '{}'", seg.name()),
        )),
    }
}

/// Whether the table has structure `name`: its own entry, or (Channel, Stream: the C++
/// composites whose first entry is `name_header`) `name_header`.
pub(crate) fn exists(seg: &Segment, name: &str) -> bool {
    seg.find(name).is_ok() || seg.find(&format!("{name}_header")).is_ok()
}

/// `KindMismatchError` if the segment's type catalog records `name` as another kind (checked
/// before the bytes, so opening a Queue as a Mutex says so instead of reporting the Queue's
/// bytes as a corrupt Mutex).
pub(crate) fn check_kind(seg: &Segment, name: &str, kind: CatalogKind) -> PyResult<()> {
    let record = seg
        .catalog()
        .ok()
        .flatten()
        .and_then(|c| c.find(name).cloned());
    match record {
        Some(r) if r.kind != kind => Err(raise(
            Class::KindMismatch,
            format!(
                "entry '{name}' is a {} (the type catalog says so), not a {kind}",
                r.kind
            ),
        )),
        _ => Ok(()),
    }
}

/// A non-negative count argument (upstream raises `ValueError` for a negative one).
pub(crate) fn count_arg(what: &str, v: i64) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| {
        raise(
            Class::InvalidArgument,
            format!("{what} {v} is negative (expected a count >= 0)"),
        )
    })
}

/// Runs a value operation that takes a lock internally (`Signal::get_timeout`, ...) in
/// slices: `Ok(Some(v))`, `Ok(None)` when `timeout` passed, `OwnerDeadError` if the lock had
/// to be taken over from a dead process (the value may be half-written; the lock was
/// released again).
pub(crate) fn value_sliced<T: Send>(
    py: Python<'_>,
    what: &str,
    timeout: Option<f64>,
    mut attempt: impl FnMut(Duration) -> Result<T, LockTimeoutError> + Send,
) -> PyResult<Option<T>> {
    let r = sliced(py, timeout, |slice| match attempt(slice) {
        Ok(v) => Some(Ok(v)),
        Err(LockTimeoutError::Timeout) => None,
        Err(e) => Some(Err(e)),
    })?;
    match r {
        Waited::Done(Ok(v)) => Ok(Some(v)),
        Waited::Done(Err(LockTimeoutError::OwnerDead(d))) => Err(owner_dead(what, d.pid(), false)),
        Waited::Done(Err(LockTimeoutError::Corrupt(c))) => Err(errors::corruption(c)),
        Waited::Done(Err(e)) => Err(errors::to_py(e)),
        Waited::TimedOut => Ok(None),
    }
}

/// The element type of a generic structure `name` and whether it exists: resolved from
/// `dtype` or the type catalog if the table has `name`; from `dtype` (required) otherwise.
pub(crate) fn plan_generic(
    py: Python<'_>,
    seg: &Segment,
    name: &str,
    dtype: Option<&Bound<'_, PyAny>>,
    kind: CatalogKind,
    what: &str,
) -> PyResult<(crate::dtype::DType, bool)> {
    use crate::dtype::DType;
    check_kind(seg, name, kind)?;
    if exists(seg, name) {
        return Ok((DType::resolve(py, seg, name, dtype, kind)?, true));
    }
    match seg.find(name) {
        Ok(_) => Ok((DType::resolve(py, seg, name, dtype, kind)?, true)),
        Err(TableError::NotFound { .. }) => match dtype.filter(|d| !d.is_none()) {
            Some(d) => Ok((DType::from_object(py, d)?, false)),
            None => Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "dtype is required to create {what} '{name}'"
            ))),
        },
        Err(e) => Err(errors::table(e)),
    }
}

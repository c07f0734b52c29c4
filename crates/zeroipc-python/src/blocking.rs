//! Blocking calls from Python: the GIL released, a timeout, and Ctrl-C within 100 ms.
//!
//! A blocking call waits in slices of at most [`SLICE`] (50 ms): each slice is one complete
//! timed attempt of the Rust operation (`pop_timeout(slice)`, `lock_timeout(slice)`, ...)
//! with the GIL released; between slices the GIL is taken back and `py.check_signals()`
//! runs, so a `KeyboardInterrupt` (or any signal handler's exception) is raised within one
//! slice of the signal. An attempt either completed or did nothing, so an interrupted call
//! leaves nothing half-done in the segment.
//!
//! Usage (for every binding):
//!
//! ```ignore
//! let got = blocking::sliced(py, timeout_secs, |slice| match q.pop_timeout(slice) {
//!     Ok(v) => Some(Ok(v)),
//!     Err(PopTimeoutError::Timeout) => None,      // slice over: check signals, go on
//!     Err(e) => Some(Err(e)),                      // a hard error: stop
//! })?;
//! match got { Waited::Done(r) => .., Waited::TimedOut => .. }
//! ```

use std::time::{Duration, Instant};

use pyo3::prelude::*;

/// The longest one attempt waits with the GIL released.
pub(crate) const SLICE: Duration = Duration::from_millis(50);

/// How a sliced wait ended.
pub(crate) enum Waited<T> {
    /// The attempt finished (with its own success or error inside `T`).
    Done(T),
    /// `timeout` passed first.
    TimedOut,
}

/// A Python timeout in seconds (`None` = forever) as a deadline.
pub(crate) fn deadline(timeout: Option<f64>) -> PyResult<Option<Instant>> {
    match timeout {
        None => Ok(None),
        Some(t) if t.is_nan() || t < 0.0 => Err(crate::errors::raise(
            crate::errors::Class::InvalidArgument,
            format!("timeout {t} is invalid (expected seconds >= 0, or None to wait forever)"),
        )),
        Some(t) if t.is_infinite() || t > 1e9 => Ok(None),
        Some(t) => Ok(Some(Instant::now() + Duration::from_secs_f64(t))),
    }
}

/// Calls `attempt(slice)` with the GIL released until it returns `Some`, or the timeout
/// (seconds, `None` = forever) passes; checks for signals between slices.
pub(crate) fn sliced<T: Send>(
    py: Python<'_>,
    timeout: Option<f64>,
    mut attempt: impl FnMut(Duration) -> Option<T> + Send,
) -> PyResult<Waited<T>> {
    let deadline = deadline(timeout)?;
    loop {
        let slice = match deadline {
            None => SLICE,
            Some(d) => d.saturating_duration_since(Instant::now()).min(SLICE),
        };
        if let Some(done) = py.detach(|| attempt(slice)) {
            return Ok(Waited::Done(done));
        }
        py.check_signals()?;
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Ok(Waited::TimedOut);
        }
    }
}

//! Fork-join over futures: wait for **all** of several ([`join_all`]: their values in order,
//! or the first error) or for the **first** of several ([`select_first`]: which one, and its
//! value), blocking, with `try_` / `_timeout` / `_deadline` forms and async forms
//! ([`join_all_async`], [`select_first_async`], and `_async_timeout` / `_async_deadline` as
//! [`Future::get_async_timeout`] has).
//!
//! # Why free functions over a slice
//!
//! As `futures::future::join_all` / `select_all`, `crossbeam_channel::select!` and this
//! crate's [`select_recv`](crate::codata::channel::select_recv): the operation belongs to the
//! group, not to one of its members (a `Future::all(&self, others)` would single one out).
//! They take any slice of futures or references to them (`&[Future<T>]`, `&[&Future<T>]`,
//! `&Vec<Future<T>>`), one element type per call (the values come back as a `Vec<T>`; map
//! futures of other types into one with [`Future::map`]).
//!
//! # Semantics
//!
//! - **join**: `Ok(values)` in the order of the slice once every future is READY. The first
//!   failure seen (a future set to an error, a dead zeroipc setter, corrupt bytes) ends the
//!   wait at once with that future's index and error, even while earlier futures are still
//!   unset ("the first error wins", as `futures::future::try_join_all`); when several have
//!   failed by the time of one look, the lowest index is reported. An empty slice joins to an
//!   empty `Vec` at once.
//! - **select**: the first future to become final wins, with a value or with an error (as
//!   `tokio::select!` over `get_async()`s); when several are final at one look, the lowest
//!   index wins (as [`Select`](crate::codata::Select)'s arm order). The others are left
//!   untouched: a later select over them sees them again.
//! - Nothing is consumed: a future keeps its value, and a join or select can be repeated.
//!
//! # Layout and synchronization
//!
//! Nothing of its own: the futures are ordinary entries (FORMAT.md §6.1), read exactly as
//! [`Future::try_get`] reads them (an Acquire load of `state`, paired with the setter's
//! Release store, before the value or the message is copied). Values come out in the
//! slice's order whatever the order the setters finished in.
//!
//! # Waiting
//!
//! The blocking forms sleep in the kernel on the futex the Future already uses (`state`),
//! like [`Future::get`]: they count themselves in every future's `waiters` while they wait,
//! look at all the futures, then sleep on **every** unset future's `state` word at once (one
//! `futex_waitv`, Linux 5.16+) for at most one millisecond slice and look again. A zeroipc
//! setter wakes the future it sets, which ends the sleep at once whichever future it is; the
//! 1 ms slice every Rust waiter keeps catches C++ and Python setters, which never wake
//! anyone. Without `futex_waitv` (older kernels, more than 128 futures) the sleep is on the
//! first unset future only and the others are seen within the slice. No waiting thread is
//! started.
//!
//! The async forms compose the futures' own awaitables ([`Future::get_async`]), so they wake
//! the task exactly as those do and never poll the executor.
//!
//! # Process death
//!
//! A future whose zeroipc setter died while computing is a failure
//! ([`GetError::SetterDead`] in the error), as for [`Future::get`]. A future nobody will set
//! (a dead stage, a dead C++ setter) keeps a join or select waiting: the timed forms report
//! it ([`JoinTimeoutError::Timeout`] lists the futures still unset). A process that dies
//! while it joins or selects leaves each future's `waiters` one too high (informational
//! only, as for a dead [`Future::get`] caller).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::{join_all, select_first}};
//! # let name = format!("/zeroipc-doc-join-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let parts: Vec<Future<u64>> =
//!     (0..3).map(|i| Future::create(&seg, &format!("part{i}"))).collect::<Result<_, _>>()?;
//! for (i, part) in parts.iter().enumerate() {
//!     let part = part.clone();
//!     std::thread::spawn(move || part.set_value(10 * i as u64)); // other processes, usually
//! }
//! assert_eq!(join_all(&parts)?, [0, 10, 20]);
//! let (index, value) = select_first(&parts)?;
//! assert_eq!(value, 10 * index as u64);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::borrow::Borrow;
use core::fmt;
use std::error::Error;
use std::time::{Duration, Instant};

use super::{Future, GetError, WaiterCount};
use crate::Element;
use crate::layout::future::{COMPUTING, PENDING};
use crate::wait::{self, Parked, deadline_after};

mod asynchronous;
pub use asynchronous::{
    JoinAll, JoinAllTimeout, SelectFirst, SelectFirstTimeout, join_all_async,
    join_all_async_deadline, join_all_async_timeout, select_first_async,
    select_first_async_deadline, select_first_async_timeout,
};

/// Why [`join_all`], [`try_join_all`] or [`join_all_async`] gave no values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinError {
    /// The future at `index` failed: it was set to an error, its setter died, or its bytes
    /// are corrupt (`error` says which).
    Failed {
        /// Its index in the slice.
        index: usize,
        /// Its error, as [`Future::get`] reports it.
        error: GetError,
    },
}

/// Why [`join_all_timeout`] or [`join_all_deadline`] gave no values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JoinTimeoutError {
    /// The future at `index` failed (as [`JoinError::Failed`]).
    Failed {
        /// Its index in the slice.
        index: usize,
        /// Its error, as [`Future::get`] reports it.
        error: GetError,
    },
    /// The deadline passed with these futures (their indexes, ascending) still unset.
    Timeout {
        /// The indexes of the futures that were still PENDING or COMPUTING.
        unset: Vec<usize>,
    },
}

/// Why [`select_first`], [`try_select_first`] or [`select_first_async`] gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectError {
    /// The first future to become final, at `index`, failed (it was set to an error, its
    /// setter died, or its bytes are corrupt).
    Failed {
        /// Its index in the slice.
        index: usize,
        /// Its error, as [`Future::get`] reports it.
        error: GetError,
    },
}

/// Why [`select_first_timeout`] or [`select_first_deadline`] gave no value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SelectTimeoutError {
    /// The first future to become final, at `index`, failed (as [`SelectError::Failed`]).
    Failed {
        /// Its index in the slice.
        index: usize,
        /// Its error, as [`Future::get`] reports it.
        error: GetError,
    },
    /// The deadline passed with every future still unset.
    Timeout,
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { index, error } => write!(f, "future {index} of the join: {error}"),
        }
    }
}

impl fmt::Display for JoinTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { index, error } => write!(f, "future {index} of the join: {error}"),
            Self::Timeout { unset } => write!(
                f,
                "timed out: futures {unset:?} of the join are still unset at the deadline"
            ),
        }
    }
}

impl fmt::Display for SelectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { index, error } => {
                write!(f, "future {index}, the first to finish, failed: {error}")
            }
        }
    }
}

impl fmt::Display for SelectTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { index, error } => {
                write!(f, "future {index}, the first to finish, failed: {error}")
            }
            Self::Timeout => {
                f.write_str("timed out: every future of the select is still unset at the deadline")
            }
        }
    }
}

impl Error for JoinError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed { error, .. } => Some(error),
        }
    }
}

impl Error for JoinTimeoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Timeout { .. } => None,
        }
    }
}

impl Error for SelectError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed { error, .. } => Some(error),
        }
    }
}

impl Error for SelectTimeoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Failed { error, .. } => Some(error),
            Self::Timeout => None,
        }
    }
}

impl From<JoinError> for JoinTimeoutError {
    fn from(e: JoinError) -> Self {
        match e {
            JoinError::Failed { index, error } => Self::Failed { index, error },
        }
    }
}

impl From<SelectError> for SelectTimeoutError {
    fn from(e: SelectError) -> Self {
        match e {
            SelectError::Failed { index, error } => Self::Failed { index, error },
        }
    }
}

/// The futures of a slice, as references.
fn refs<T: Element, F: Borrow<Future<T>>>(futures: &[F]) -> Vec<&Future<T>> {
    futures.iter().map(Borrow::borrow).collect()
}

/// Counts the caller in every future's `waiters` while it waits (as [`Future::get`] does);
/// a future whose words cannot be read is skipped (its `try_get` reports it).
fn count_in<'a, T: Element>(futs: &[&'a Future<T>]) -> Vec<WaiterCount<'a>> {
    futs.iter()
        .filter_map(|f| f.raw().ok())
        .map(|raw| WaiterCount::new(raw.waiters))
        .collect()
}

/// Sleeps until one of the futures still pending changes state (woken by its setter), for at
/// most one slice, never past `deadline`. `TimedOut` once the deadline has passed.
///
/// The one place that decides how a join or select sleeps: one `futex_waitv` over every
/// unset future's `state` word (`wait::park_any`), so a join or a select wakes at once for
/// whichever future is set, and re-checks all of them at least every millisecond (peers in
/// other languages never wake).
fn sleep_on_all<T: Element>(futs: &[&Future<T>], deadline: Option<Instant>) -> Parked {
    let mut words = Vec::with_capacity(futs.len());
    for f in futs {
        let Ok(raw) = f.raw() else {
            return Parked::Retry; // the caller's next look reports the corruption
        };
        match raw.state() {
            Ok(s @ (PENDING | COMPUTING)) => words.push((raw.state, s)),
            _ => return Parked::Retry, // final or corrupt: look again
        }
    }
    if let [(word, s)] = words[..] {
        if wait::spin_while(word, s) {
            return Parked::Retry;
        }
    }
    wait::park_any(&words, deadline)
}

/// One look over the unset futures: records new values; the first failure ends the join.
fn join_look<T: Element>(futs: &[&Future<T>], values: &mut [Option<T>]) -> Result<(), JoinError> {
    for (index, (f, slot)) in futs.iter().zip(values.iter_mut()).enumerate() {
        if slot.is_none() {
            *slot = f
                .try_get()
                .map_err(|error| JoinError::Failed { index, error })?;
        }
    }
    Ok(())
}

/// The join engine: `None` deadline waits as long as it takes.
fn join_until<T: Element>(
    futs: &[&Future<T>],
    deadline: Option<Instant>,
) -> Result<Vec<T>, JoinTimeoutError> {
    let mut values: Vec<Option<T>> = vec![None; futs.len()];
    let _counted = count_in(futs);
    let mut timed_out = false;
    loop {
        join_look(futs, &mut values)?;
        let Some(next) = values.iter().position(Option::is_none) else {
            return Ok(values.into_iter().flatten().collect());
        };
        if timed_out {
            let unset = (next..values.len())
                .filter(|&i| values[i].is_none())
                .collect();
            return Err(JoinTimeoutError::Timeout { unset });
        }
        // The deadline passed: one last look, then report what is still unset.
        let unset: Vec<&Future<T>> = futs
            .iter()
            .zip(&values)
            .filter_map(|(f, v)| v.is_none().then_some(*f))
            .collect();
        timed_out = sleep_on_all(&unset, deadline) == Parked::TimedOut;
    }
}

/// One look: the first final future, by index.
fn select_look<T: Element>(futs: &[&Future<T>]) -> Result<Option<(usize, T)>, SelectError> {
    for (index, f) in futs.iter().enumerate() {
        match f.try_get() {
            Ok(Some(v)) => return Ok(Some((index, v))),
            Ok(None) => {}
            Err(error) => return Err(SelectError::Failed { index, error }),
        }
    }
    Ok(None)
}

/// The select engine: `None` deadline waits as long as it takes (`futs` is not empty then).
fn select_until<T: Element>(
    futs: &[&Future<T>],
    deadline: Option<Instant>,
) -> Result<(usize, T), SelectTimeoutError> {
    let _counted = count_in(futs);
    let mut timed_out = false;
    loop {
        if let Some(found) = select_look(futs)? {
            return Ok(found);
        }
        if timed_out {
            return Err(SelectTimeoutError::Timeout);
        }
        timed_out = match futs {
            [_, ..] => sleep_on_all(futs, deadline) == Parked::TimedOut,
            [] => {
                // Nothing to wait for: sleep out the deadline (a timed form; the untimed
                // ones refuse an empty slice).
                if let Some(d) = deadline {
                    std::thread::sleep(d.saturating_duration_since(Instant::now()));
                }
                true
            }
        };
    }
}

/// Waits until every future is set; returns their values in the slice's order.
///
/// Sleeps in the kernel between looks (see the [module docs](self#waiting)); a failure of
/// any future ends the wait at once.
///
/// # Errors
///
/// [`JoinError::Failed`] with the index and [`GetError`] of the first future seen to fail.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future};
/// use zeroipc::codata::future::{GetError, JoinError, join_all};
/// # let name = format!("/zeroipc-doc-join-all-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<i32> = Future::create(&seg, "a")?;
/// let b: Future<i32> = Future::create(&seg, "b")?;
/// let b2 = b.clone();
/// std::thread::spawn(move || b2.set_value(2));
/// a.set_value(1)?;
/// assert_eq!(join_all(&[&a, &b])?, [1, 2]);
///
/// let c: Future<i32> = Future::create(&seg, "c")?; // never set
/// let d: Future<i32> = Future::create(&seg, "d")?;
/// d.set_error("worker 3 gave up")?;
/// let failed = GetError::Failed { message: "worker 3 gave up".into() };
/// assert_eq!(join_all(&[&c, &d]), Err(JoinError::Failed { index: 1, error: failed }));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn join_all<T: Element, F: Borrow<Future<T>>>(futures: &[F]) -> Result<Vec<T>, JoinError> {
    join_until(&refs(futures), None).map_err(|e| match e {
        JoinTimeoutError::Failed { index, error } => JoinError::Failed { index, error },
        JoinTimeoutError::Timeout { .. } => unreachable!("a join without a deadline timed out"),
    })
}

/// The values of every future if all are set now, `None` if some are still unset; never
/// blocks.
///
/// # Errors
///
/// [`JoinError::Failed`] for the lowest-indexed future that failed.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::try_join_all};
/// # let name = format!("/zeroipc-doc-try-join-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let b: Future<u8> = Future::create(&seg, "b")?;
/// a.set_value(1)?;
/// assert_eq!(try_join_all(&[&a, &b])?, None);
/// b.set_value(2)?;
/// assert_eq!(try_join_all(&[&a, &b])?, Some(vec![1, 2]));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn try_join_all<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
) -> Result<Option<Vec<T>>, JoinError> {
    let futs = refs(futures);
    let mut values: Vec<Option<T>> = vec![None; futs.len()];
    join_look(&futs, &mut values)?;
    Ok(values.into_iter().collect())
}

/// As [`join_all`], for at most `timeout`.
///
/// # Errors
///
/// [`JoinTimeoutError::Failed`] as [`join_all`]; [`JoinTimeoutError::Timeout`] with the
/// indexes of the futures still unset (a dead stage, a dead C++ setter, a slow worker).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, codata::Future};
/// use zeroipc::codata::future::{JoinTimeoutError, join_all_timeout};
/// # let name = format!("/zeroipc-doc-join-timeout-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let parts: Vec<Future<u8>> =
///     (0..3).map(|i| Future::create(&seg, &format!("p{i}"))).collect::<Result<_, _>>()?;
/// parts[1].set_value(7)?;
/// assert_eq!(
///     join_all_timeout(&parts, Duration::from_millis(5)),
///     Err(JoinTimeoutError::Timeout { unset: vec![0, 2] })
/// );
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn join_all_timeout<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    timeout: Duration,
) -> Result<Vec<T>, JoinTimeoutError> {
    join_until(&refs(futures), deadline_after(timeout))
}

/// As [`join_all`], until `deadline` at most.
///
/// # Errors
///
/// As [`join_all_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::join_all_deadline};
/// # let name = format!("/zeroipc-doc-join-deadline-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// a.set_value(4)?;
/// assert_eq!(join_all_deadline(&[a], Instant::now())?, [4]); // set futures need no time
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn join_all_deadline<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    deadline: Instant,
) -> Result<Vec<T>, JoinTimeoutError> {
    join_until(&refs(futures), Some(deadline))
}

/// Waits until one of the futures is set: `(its index, its value)`. When several are set
/// at one look, the lowest index wins.
///
/// # Errors
///
/// [`SelectError::Failed`] if the first future to become final failed.
///
/// # Panics
///
/// If `futures` is empty (it would wait forever), as crossbeam's `Select::select`.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::select_first};
/// # let name = format!("/zeroipc-doc-select-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let replicas: Vec<Future<u32>> =
///     (0..3).map(|i| Future::create(&seg, &format!("r{i}"))).collect::<Result<_, _>>()?;
/// let fast = replicas[2].clone();
/// std::thread::spawn(move || fast.set_value(99));
/// assert_eq!(select_first(&replicas)?, (2, 99));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn select_first<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
) -> Result<(usize, T), SelectError> {
    assert!(
        !futures.is_empty(),
        "select_first over no futures would wait forever"
    );
    select_until(&refs(futures), None).map_err(|e| match e {
        SelectTimeoutError::Failed { index, error } => SelectError::Failed { index, error },
        SelectTimeoutError::Timeout => unreachable!("a select without a deadline timed out"),
    })
}

/// The first future that is set now, `None` if none is; never blocks.
///
/// # Errors
///
/// [`SelectError::Failed`] if the lowest-indexed final future failed.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::try_select_first};
/// # let name = format!("/zeroipc-doc-try-select-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let b: Future<u8> = Future::create(&seg, "b")?;
/// assert_eq!(try_select_first(&[&a, &b])?, None);
/// b.set_value(5)?;
/// assert_eq!(try_select_first(&[&a, &b])?, Some((1, 5)));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn try_select_first<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
) -> Result<Option<(usize, T)>, SelectError> {
    select_look(&refs(futures))
}

/// As [`select_first`], for at most `timeout` (an empty slice times out).
///
/// # Errors
///
/// [`SelectTimeoutError::Failed`] as [`select_first`]; [`SelectTimeoutError::Timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, codata::Future};
/// use zeroipc::codata::future::{SelectTimeoutError, select_first_timeout};
/// # let name = format!("/zeroipc-doc-select-timeout-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// assert_eq!(
///     select_first_timeout(&[a], Duration::from_millis(5)),
///     Err(SelectTimeoutError::Timeout)
/// );
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn select_first_timeout<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    timeout: Duration,
) -> Result<(usize, T), SelectTimeoutError> {
    select_until(&refs(futures), deadline_after(timeout))
}

/// As [`select_first`], until `deadline` at most (an empty slice times out).
///
/// # Errors
///
/// As [`select_first_timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use zeroipc::{Segment, SegmentOptions, codata::Future, codata::future::select_first_deadline};
/// # let name = format!("/zeroipc-doc-select-deadline-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Future<u8> = Future::create(&seg, "a")?;
/// let b: Future<u8> = Future::create(&seg, "b")?;
/// a.set_value(1)?;
/// b.set_value(2)?;
/// assert_eq!(select_first_deadline(&[b, a], Instant::now())?, (0, 2)); // lowest index
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn select_first_deadline<T: Element, F: Borrow<Future<T>>>(
    futures: &[F],
    deadline: Instant,
) -> Result<(usize, T), SelectTimeoutError> {
    select_until(&refs(futures), Some(deadline))
}

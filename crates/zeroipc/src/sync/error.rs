//! Errors of the synchronisation primitives, one type per form (docs/API_CONVENTIONS.md §1-2).
//!
//! | form                     | lock-like (`lock`, `read`, `write`, `acquire`) | wait-like (`wait`, `call_once`, `wait_for_change`) |
//! |--------------------------|------------------------------------------------|----------------------------------------------------|
//! | `op`                     | [`LockError`]: `OwnerDead`, `Corrupt`          | [`WaitError`]: `Corrupt`                           |
//! | `try_op`                 | [`TryLockError`]: + `WouldBlock`               | [`TryWaitError`]: + `WouldBlock`                   |
//! | `op_timeout` / `op_deadline` | [`LockTimeoutError`]: + `Timeout`          | [`WaitTimeoutError`]: + `Timeout`                  |
//!
//! **Why these types live here, shared by every primitive, and not one set per module**
//! (the convention's default is per-module types named by operation): a Mutex `lock`, an
//! RwLock `read`/`write`, a Semaphore `acquire` and a Monitor `lock` end in exactly the same
//! ways (taken; taken over from a dead zeroipc holder, with the guard; busy; deadline passed;
//! corrupt words), and so do the waits of Barrier, Latch, Event, Once and Signal. One set
//! lets a caller write one `match` (and one Python exception hierarchy) for all of them;
//! per-module copies would be nine identical enums that cannot be matched together. The
//! operation's *form* is what changes the variants, so that is what the names say.
//! [`ReleaseError`] is the error of the giving-back side (`release`, `unlock`, `notify_*`,
//! `Event::signal`).

use core::fmt;
use std::error::Error;

use crate::error::Corruption;

/// The previous holder (process `pid`) died; `guard` is the lock, now held by the caller.
pub struct OwnerDead<G> {
    pid: u32,
    guard: G,
}

impl<G> fmt::Debug for OwnerDead<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnerDead")
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl<G> OwnerDead<G> {
    pub(crate) fn new(pid: u32, guard: G) -> Self {
        Self { pid, guard }
    }

    /// The process id of the holder that died.
    #[must_use]
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The guard of the lock, now held by the caller.
    #[must_use]
    pub fn into_guard(self) -> G {
        self.guard
    }

    /// A reference to the guard.
    #[must_use]
    pub fn guard(&self) -> &G {
        &self.guard
    }

    /// The same report with the guard replaced by `f(guard)`.
    pub(crate) fn map<H>(self, f: impl FnOnce(G) -> H) -> OwnerDead<H> {
        OwnerDead {
            pid: self.pid,
            guard: f(self.guard),
        }
    }

    fn dropped(self) -> OwnerDead<()> {
        self.map(drop)
    }
}

const OWNER_DEAD_MSG: &str = "died holding it; the caller took it over and holds it now (the protected state may be inconsistent)";
const WOULD_BLOCK_MSG: &str = "held by another process or thread right now (expected it free)";
const TIMEOUT_MSG: &str = "the deadline passed before it could be taken";

/// Generates the common surface of the three lock errors: `drop_guard`, `into_recovered`,
/// `From<Corruption>`, `Debug` without `G: Debug`, `Display`, `Error`.
macro_rules! lock_error_impls {
    ($name:ident { $($extra:ident => $msg:expr),* }) => {
        impl<G> $name<G> {
            /// Drops the guard an `OwnerDead` carries (releasing the lock as it is) and
            /// returns an error without a lifetime, for `?` into `Box<dyn Error>`.
            #[must_use]
            pub fn drop_guard(self) -> $name<()> {
                match self {
                    $(Self::$extra => $name::$extra,)*
                    Self::OwnerDead(d) => $name::OwnerDead(d.dropped()),
                    Self::Corrupt(c) => $name::Corrupt(c),
                }
            }

            /// The guard, if the lock was taken over from a dead holder (the caller holds
            /// it); `None` for every other error.
            #[must_use]
            pub fn into_recovered(self) -> Option<G> {
                match self {
                    Self::OwnerDead(d) => Some(d.guard),
                    _ => None,
                }
            }
        }

        impl<G> From<Corruption> for $name<G> {
            fn from(c: Corruption) -> Self {
                Self::Corrupt(c)
            }
        }

        impl<G> fmt::Debug for $name<G> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$extra => f.write_str(stringify!($extra)),)*
                    Self::OwnerDead(d) => d.fmt(f),
                    Self::Corrupt(c) => f.debug_tuple("Corrupt").field(c).finish(),
                }
            }
        }

        impl<G> fmt::Display for $name<G> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$extra => f.write_str($msg),)*
                    Self::OwnerDead(d) => write!(f, "the holder (pid {}) {OWNER_DEAD_MSG}", d.pid),
                    Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
                }
            }
        }

        impl<G> Error for $name<G> {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                match self {
                    Self::Corrupt(c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

/// Why a blocking `lock` / `read` / `write` / `acquire` did not return normally.
///
/// `G` is the guard type of the lock. [`LockError::OwnerDead`] carries one: the previous
/// holder died while holding the lock, and the caller now holds it instead (like
/// `EOWNERDEAD` from a robust pthread mutex, or std's `PoisonError`). The protected state may
/// be half-updated; repair it through the guard, or drop the guard to release the lock as it
/// is. [`LockError::drop_guard`] turns the error into a `LockError<()>`, which is `'static`
/// and so works with `?` into `Box<dyn Error>`.
///
/// A blocking form never gives up, so there is no `WouldBlock` or `Timeout` here: those are
/// [`TryLockError`]'s and [`LockTimeoutError`]'s.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, sync::{LockError, Mutex}};
/// # let name = format!("/zeroipc-doc-lockerror-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let m = Mutex::create(&seg, "m")?;
/// let guard = match m.lock() {
///     Ok(g) => g,
///     // A zeroipc holder died inside the critical section: we hold the lock now.
///     Err(LockError::OwnerDead(dead)) => dead.into_guard(),
///     Err(e) => return Err(e.drop_guard().into()),
/// };
/// drop(guard);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum LockError<G = ()> {
    /// The zeroipc holder died holding it; the caller has taken it over. For a
    /// [`Semaphore`](crate::sync::Semaphore) (`G = ()`): the caller gave back the permits
    /// the dead process held, and holds one permit now.
    OwnerDead(OwnerDead<G>),
    /// The primitive's bytes hold an impossible value (a count outside its range, a state
    /// outside its states).
    Corrupt(Corruption),
}

lock_error_impls!(LockError {});

/// Why a `try_lock` / `try_read` / `try_write` / `try_acquire` did not take it: the
/// [`LockError`] cases, or [`TryLockError::WouldBlock`].
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, sync::{LockError, Mutex, TryLockError}};
/// # let name = format!("/zeroipc-doc-trylockerror-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let m = Mutex::create(&seg, "m")?;
/// let held = m.lock().map_err(LockError::drop_guard)?;
/// assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock))); // at once
/// drop(held);
/// assert!(m.try_lock().is_ok());
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum TryLockError<G = ()> {
    /// Another process or thread holds it right now.
    WouldBlock,
    /// As [`LockError::OwnerDead`]: the caller holds it now.
    OwnerDead(OwnerDead<G>),
    /// As [`LockError::Corrupt`].
    Corrupt(Corruption),
}

lock_error_impls!(TryLockError { WouldBlock => WOULD_BLOCK_MSG });

/// Why a `lock_timeout` / `lock_deadline` (and the `read_`, `write_`, `acquire_` forms) did
/// not take it: the [`LockError`] cases, or [`LockTimeoutError::Timeout`].
///
/// # Examples
///
/// ```
/// use std::time::Instant;
/// use zeroipc::{Segment, SegmentOptions, sync::{LockError, LockTimeoutError, Mutex}};
/// # let name = format!("/zeroipc-doc-locktimeouterror-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let m = Mutex::create(&seg, "m")?;
/// let held = m.lock().map_err(LockError::drop_guard)?;
/// // A deadline already past on a held lock: Timeout, without waiting.
/// assert!(matches!(m.lock_deadline(Instant::now()), Err(LockTimeoutError::Timeout)));
/// drop(held);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[non_exhaustive]
pub enum LockTimeoutError<G = ()> {
    /// The deadline passed first. This is also how a holder that is *not* a zeroipc process
    /// (C++, C, Go, Python write no owner pid) is seen to have died.
    Timeout,
    /// As [`LockError::OwnerDead`]: the caller holds it now.
    OwnerDead(OwnerDead<G>),
    /// As [`LockError::Corrupt`].
    Corrupt(Corruption),
}

lock_error_impls!(LockTimeoutError { Timeout => TIMEOUT_MSG });

impl<G> From<LockError<G>> for TryLockError<G> {
    fn from(e: LockError<G>) -> Self {
        match e {
            LockError::OwnerDead(d) => Self::OwnerDead(d),
            LockError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

impl<G> From<LockError<G>> for LockTimeoutError<G> {
    fn from(e: LockError<G>) -> Self {
        match e {
            LockError::OwnerDead(d) => Self::OwnerDead(d),
            LockError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

/// How one lock attempt ended, inside the crate: the one currency every primitive's inner
/// function returns, turned into the public error of the form that was called.
pub(crate) enum Attempt<G> {
    /// Not taken: busy (`try_`) or the deadline passed (timed). A blocking form never sees
    /// it from a wait without deadline, and retries if it ever did.
    NotTaken,
    /// As [`LockError`].
    Failed(LockError<G>),
}

impl<G> Attempt<G> {
    /// The `try_` form's error.
    pub(crate) fn into_try(self) -> TryLockError<G> {
        match self {
            Self::NotTaken => TryLockError::WouldBlock,
            Self::Failed(e) => e.into(),
        }
    }

    /// The timed forms' error.
    pub(crate) fn into_timeout(self) -> LockTimeoutError<G> {
        match self {
            Self::NotTaken => LockTimeoutError::Timeout,
            Self::Failed(e) => e.into(),
        }
    }
}

impl<G> From<Corruption> for Attempt<G> {
    fn from(c: Corruption) -> Self {
        Self::Failed(LockError::Corrupt(c))
    }
}

/// Why releasing a permit (or unlocking, notifying, signalling) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The count is at `max_count` already (or at `i32::MAX` for an unbounded semaphore):
    /// more releases than acquires.
    Overflow {
        /// The count found.
        count: usize,
        /// The maximum (0 = unbounded, so `i32::MAX` is the limit).
        max: usize,
    },
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overflow { count, max: 0 } => write!(
                f,
                "release would overflow: count {count}, expected below i32::MAX (unbounded)"
            ),
            Self::Overflow { count, max } => write!(
                f,
                "release would overflow: count {count}, expected below max_count {max}"
            ),
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

impl Error for ReleaseError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Overflow { .. } => None,
        }
    }
}

impl From<Corruption> for ReleaseError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Why a blocking wait (`Barrier::wait`, `Latch::wait`, `Event::wait`, `Once::call_once`,
/// `Signal::wait_for_change`) failed. A blocking wait never gives up, so the only failure is
/// corrupt words.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitError {
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

/// Why a `try_wait` (Latch, Event) did not pass: not released yet, or corrupt words.
#[derive(Debug)]
#[non_exhaustive]
pub enum TryWaitError {
    /// Not released (signaled, counted down) right now.
    WouldBlock,
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

/// Why a `_timeout` / `_deadline` wait failed: the deadline, or corrupt words.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitTimeoutError {
    /// The deadline passed first.
    Timeout,
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

impl fmt::Display for TryWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WouldBlock => f.write_str("not released yet (expected it released)"),
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

impl fmt::Display for WaitTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the deadline passed before the wait ended"),
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

macro_rules! wait_error_common {
    ($($name:ident),*) => {$(
        impl Error for $name {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                #[allow(unreachable_patterns)]
                match self {
                    Self::Corrupt(c) => Some(c),
                    _ => None,
                }
            }
        }

        impl From<Corruption> for $name {
            fn from(c: Corruption) -> Self {
                Self::Corrupt(c)
            }
        }
    )*};
}

wait_error_common!(WaitError, TryWaitError, WaitTimeoutError);

impl From<WaitError> for TryWaitError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

impl From<WaitError> for WaitTimeoutError {
    fn from(e: WaitError) -> Self {
        match e {
            WaitError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

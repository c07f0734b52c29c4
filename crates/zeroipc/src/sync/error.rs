//! Errors of the synchronisation primitives.

use core::fmt;
use std::error::Error;

use crate::error::Corruption;

/// Why a lock (or a permit, or a `call_once`) was not obtained normally.
///
/// `G` is the guard type of the lock. Only [`LockError::OwnerDead`] carries one: the previous
/// holder died while holding the lock, and the caller now holds it instead (like
/// `EOWNERDEAD` from a robust pthread mutex, or std's `PoisonError`). The protected state may
/// be half-updated; repair it through the guard, or drop the guard to release the lock as it
/// is. [`LockError::drop_guard`] turns the error into a `LockError<()>`, which is `'static`
/// and so works with `?` into `Box<dyn Error>`.
#[non_exhaustive]
pub enum LockError<G = ()> {
    /// `try_*`: another process or thread holds it right now.
    WouldBlock,
    /// The deadline passed first. This is also how a holder that is *not* a zeroipc process
    /// (C++, C, Go, Python write no owner pid) is seen to have died.
    Timeout,
    /// The zeroipc holder died holding it; the caller has taken it over. For a
    /// [`Semaphore`](crate::sync::Semaphore) (`G = ()`): the caller gave back the permits
    /// the dead process held, and holds one permit now.
    OwnerDead(OwnerDead<G>),
    /// The primitive's bytes hold an impossible value (a count outside its range, a state
    /// outside its states).
    Corrupt(Corruption),
}

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
}

impl<G> LockError<G> {
    /// Drops the guard an [`LockError::OwnerDead`] carries (releasing the lock as it is) and
    /// returns an error without a lifetime, for `?`.
    #[must_use]
    pub fn drop_guard(self) -> LockError<()> {
        match self {
            Self::WouldBlock => LockError::WouldBlock,
            Self::Timeout => LockError::Timeout,
            Self::OwnerDead(d) => LockError::OwnerDead(OwnerDead {
                pid: d.pid,
                guard: (),
            }),
            Self::Corrupt(c) => LockError::Corrupt(c),
        }
    }

    /// The guard, if the lock was taken over from a dead holder.
    #[must_use]
    pub fn into_recovered(self) -> Option<G> {
        match self {
            Self::OwnerDead(d) => Some(d.guard),
            _ => None,
        }
    }
}

impl<G> From<Corruption> for LockError<G> {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

impl<G> fmt::Debug for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WouldBlock => f.write_str("WouldBlock"),
            Self::Timeout => f.write_str("Timeout"),
            Self::OwnerDead(d) => f
                .debug_struct("OwnerDead")
                .field("pid", &d.pid)
                .finish_non_exhaustive(),
            Self::Corrupt(c) => f.debug_tuple("Corrupt").field(c).finish(),
        }
    }
}

impl<G> fmt::Display for LockError<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WouldBlock => f.write_str("held by someone else"),
            Self::Timeout => f.write_str("timed out"),
            Self::OwnerDead(d) => {
                write!(
                    f,
                    "the holder (pid {}) died holding it; taken over, state may be inconsistent",
                    d.pid
                )
            }
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

impl<G> Error for LockError<G> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

/// Why releasing a permit (or unlocking) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum ReleaseError {
    /// The count is at `max_count` already (or at `i32::MAX` for an unbounded semaphore):
    /// more releases than acquires.
    Overflow {
        /// The count found.
        count: i32,
        /// The maximum (0 = unbounded).
        max: i32,
    },
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Overflow { count, max } => {
                write!(f, "release would overflow: count {count}, max {max}")
            }
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

/// Why a wait (Latch, Barrier, Once, ...) did not complete.
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitError {
    /// The deadline passed first.
    Timeout,
    /// The zeroipc process that was running a `Once` initialiser died (its pid).
    InitializerDead {
        /// The dead initialiser's pid.
        pid: u32,
    },
    /// The primitive's bytes hold an impossible value.
    Corrupt(Corruption),
}

impl fmt::Display for WaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::InitializerDead { pid } => write!(f, "the initialiser (pid {pid}) died"),
            Self::Corrupt(c) => write!(f, "corrupt primitive: {c}"),
        }
    }
}

impl Error for WaitError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl From<Corruption> for WaitError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

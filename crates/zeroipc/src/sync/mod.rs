//! Synchronisation primitives shared by processes: kernel-assisted blocking, and dead holders
//! that never hang anyone forever.
//!
//! # Which primitive for which job
//!
//! | job                                                    | primitive        |
//! |--------------------------------------------------------|------------------|
//! | one process at a time in a critical section            | [`Mutex`]        |
//! | at most N processes at a time (a pool of N slots)      | [`Semaphore`]    |
//! | run an initialiser exactly once, whoever comes first   | [`Once`]         |
//! | wait until N workers have each reported "done"         | [`Latch`]        |
//! | N processes meet at a point, again and again           | [`Barrier`]      |
//! | many readers or one writer                             | [`RwLock`]       |
//! | "go" for one waiter per signal, or for everyone        | [`Event`]        |
//! | wait under a lock until a condition holds              | [`Monitor`]      |
//! | publish a value; readers wait for the next version     | [`Signal`]       |
//!
//! The bytes are FORMAT.md §7's, so C++, Go and Python peers use the same structures. Locks
//! return RAII guards.
//!
//! # Forms of every waiting operation
//!
//! Every operation that can wait comes as `op` (blocks, no limit), `op_timeout(Duration)` and
//! `op_deadline(Instant)`, and, where "never block" means something, `try_op`
//! (docs/API_CONVENTIONS.md §1). Each form has its own error type, holding only what that
//! form can return (see [Errors](#errors) below):
//!
//! | primitive     | op                        | try_op          | op_timeout / op_deadline                           |
//! |---------------|---------------------------|-----------------|----------------------------------------------------|
//! | [`Mutex`]     | `lock`                    | `try_lock`      | `lock_timeout` / `lock_deadline`                   |
//! | [`RwLock`]    | `read`, `write`           | `try_read`, `try_write` | `read_timeout` / `read_deadline`, `write_timeout` / `write_deadline` |
//! | [`Semaphore`] | `acquire`                 | `try_acquire`   | `acquire_timeout` / `acquire_deadline`             |
//! | [`Monitor`]   | `lock`                    | `try_lock`      | `lock_timeout` / `lock_deadline`                   |
//! | [`Monitor`]   | `wait`, `wait_until`      | —               | `wait_timeout` / `wait_deadline`, `wait_until_timeout` / `wait_until_deadline` |
//! | [`Signal`]    | `get`, `set`, `update`    | —               | `get_timeout` / `get_deadline`, `set_…`, `update_…` |
//! | [`Signal`]    | `wait_for_change`         | `has_changed`¹  | `wait_for_change_timeout` / `wait_for_change_deadline` |
//! | [`Barrier`]   | `wait`                    | —               | `wait_timeout` / `wait_deadline`                   |
//! | [`Latch`]     | `wait`                    | `try_wait`      | `wait_timeout` / `wait_deadline`                   |
//! | [`Event`]     | `wait`                    | `try_wait`      | `wait_timeout` / `wait_deadline`                   |
//! | [`Once`]      | `call_once`               | —               | `call_once_timeout` / `call_once_deadline`         |
//!
//! | form                         | locks (first four rows)  | waits (the others; Monitor's `wait*` and Signal's `get`/`set`/`update` re-take a lock, so they use the lock errors) |
//! |------------------------------|--------------------------|-------------------------------------------------|
//! | `op`                         | [`LockError`]: `OwnerDead`, `Corrupt` | [`WaitError`]: `Corrupt`            |
//! | `try_op`                     | [`TryLockError`]: + `WouldBlock`       | [`TryWaitError`]: + `WouldBlock`   |
//! | `op_timeout` / `op_deadline` | [`LockTimeoutError`]: + `Timeout`      | [`WaitTimeoutError`]: + `Timeout`  |
//!
//! Never waiting, so one plain form: `release`, `unlock`, `notify_one` / `notify_all`,
//! `Event::signal` / `reset` / `pulse` ([`ReleaseError`]), `Latch::count_down`, and the
//! snapshots (`count`, `waiting`, `is_locked`, ...: `Result<_, Corruption>`).
//!
//! Where there is no `try_op`, and why: a Barrier arrival that does not wait would be a
//! different operation (arrive and leave); a Once either runs `f` or waits for whoever runs
//! it (`is_completed` is the non-blocking question); a Monitor `wait` exists to sleep.
//! Signal's `get`/`set`/`update` hold the mutex only for a copy of `T`, so "would block" is
//! next to never the answer worth a fourth method: `get_deadline(Instant::now())` is the
//! no-wait form. ¹ `has_changed(seen)` is the non-blocking check of `wait_for_change` (a
//! `bool`, since "unchanged" is not an error).
//!
//! Counts are `usize` at the API (`Semaphore::count`, `Barrier::participants`,
//! `Latch::count`, `Event::waiting`, ...); a count argument the wire field (`i32`) cannot
//! hold is [`StructureError::InvalidCapacity`](crate::StructureError::InvalidCapacity), and a
//! negative count found in the segment is [`Corruption`](crate::Corruption) naming the value.
//!
//! # Errors
//!
//! The error types live in one module, shared by every primitive: a `lock`, `read`, `write`
//! and `acquire` end in the same ways, and so do the waits, so one `match` serves them all
//! (the reasoning is in the `sync::error` source). [`OwnerDead`] carries the guard of a lock
//! taken over from a dead zeroipc holder; `drop_guard()` turns any lock error into a
//! `'static` one for `?`, `into_recovered()` hands the guard back.
//!
//! # Waiting
//!
//! Waiters spin briefly, then sleep on a *shared* futex on the word they wait for, and
//! re-check at least every millisecond, because peers in other languages change the words
//! without waking anyone (they poll). zeroipc's own releases always wake, so a Mutex waiter
//! whose holder recorded its pid (a zeroipc process) re-checks only every 50 ms, to notice
//! the holder's death. An uncontended acquire or release makes no system call.
//!
//! # Dead holders
//!
//! A zeroipc holder records its pid in bytes the format leaves unused, which C++, C, Go and
//! Python write as zero and never read:
//!
//! | primitive                                   | bytes holding the pid                         |
//! |---------------------------------------------|-----------------------------------------------|
//! | [`Mutex`] (and every Mutex inside RwLock, Monitor, Signal: `_rmtx`, `_wmtx`, `_mtx`) | entry bytes 12..16 (the Semaphore padding word) |
//! | [`Once`]                                    | the 4 bytes right after the 4-byte entry (the allocator's alignment gap) |
//!
//! A waiter that finds that process gone (`kill(pid, 0)` fails with `ESRCH`) takes over with
//! a CAS on the pid word and is told so: [`LockError::OwnerDead`] carrying the guard (the
//! protected data may be half-updated), or [`OnceOutcome::Recovered`] after re-running the
//! initialiser. Not covered, so the `_timeout` / `_deadline` variants are the answer:
//!
//! - holders that are C++, C, Go or Python processes (they record no pid);
//! - counting [`Semaphore`]s, [`Latch`]es and [`Barrier`]s (no single owner, no room for a
//!   list), and RwLock *readers*;
//! - a dead process that is still a zombie (its parent has not reaped it) or whose pid was
//!   reused.
//!
//! **Assumption:** every zeroipc process sharing a segment lives in the same pid namespace.
//! A holder in another namespace (another container sharing `/dev/shm`) would look dead and
//! be taken over while alive.
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

pub mod barrier;
#[cfg(not(loom))]
pub(crate) mod composite;
pub mod event;
pub mod latch;
pub mod monitor;
pub mod mutex;
pub mod once;
pub(crate) mod pid_lock;
pub mod rwlock;
pub mod semaphore;
pub mod signal;
/// Process identity for dead-owner detection, from the waiting layer (`crate::wait`), where
/// `codata` and `structures` get it too: they do not import `sys`.
#[cfg(not(loom))]
pub(crate) use crate::wait::{current_pid, monotonic_ns, pid_alive};

#[cfg(not(loom))]
mod error;

#[cfg(not(loom))]
pub use barrier::{Barrier, BarrierWaitResult};
#[cfg(not(loom))]
pub(crate) use error::Attempt;
#[cfg(not(loom))]
pub use error::{
    LockError, LockTimeoutError, OwnerDead, ReleaseError, TryLockError, TryWaitError, WaitError,
    WaitTimeoutError,
};
#[cfg(not(loom))]
pub use event::{Event, EventMode};
#[cfg(not(loom))]
pub use latch::Latch;
#[cfg(not(loom))]
pub use monitor::{Monitor, MonitorGuard};
#[cfg(not(loom))]
pub use mutex::{Mutex, MutexGuard};
#[cfg(not(loom))]
pub use once::{Once, OnceOutcome};
#[cfg(not(loom))]
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};
#[cfg(not(loom))]
pub use semaphore::Semaphore;
#[cfg(not(loom))]
pub use signal::Signal;

/// A word read from the segment that holds an impossible value (turned into
/// [`Corruption::Field`](crate::Corruption::Field) by the handle, which knows the entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadWord {
    pub(crate) field: &'static str,
    pub(crate) found: u64,
    pub(crate) expected: &'static str,
}

/// Checks an entry's size against the primitive's fixed size.
#[cfg(not(loom))]
pub(crate) fn check_size(
    entry: &crate::segment::Entry,
    size: u64,
) -> Result<(), crate::Corruption> {
    if entry.size() == size {
        return Ok(());
    }
    Err(crate::Corruption::field(
        entry.name(),
        "entry size",
        entry.size(),
        format!("{size}"),
    ))
}

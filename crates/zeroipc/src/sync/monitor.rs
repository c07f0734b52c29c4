//! Monitor: a mutex plus a condition that processes wait on and notify.
//!
//! # Layout (FORMAT.md §7.8; entries created in this order)
//!
//! | entry         | size | contents                                          |
//! |---------------|------|---------------------------------------------------|
//! | `name_mtx`    | 16   | a [`Mutex`](super::Mutex)                         |
//! | `name_cond`   | 16   | a [`Semaphore`](super::Semaphore), count 0, max 0 |
//! | `name_count`  | 4    | `waiting` u32: waiters not yet notified           |
//! | `name`        | 1    | marker                                            |
//!
//! The longest composed name (`name_count`) is checked before anything is created (base
//! name at most 25 bytes); a half-created Monitor is reported.
//!
//! # Synchronization
//!
//! `wait` increments `waiting` while holding the mutex, unlocks, acquires a `_cond` permit,
//! and re-locks. **D-24 fixed:** upstream waiters decrement `waiting` themselves after waking,
//! so a `notify_all` in between releases permits for waiters that were already released and
//! permits pile up (spurious wake-ups forever). Here the *notifier* takes the waiters out of
//! `waiting` (`notify_one`: a CAS `w → w−1` for `w > 0`; `notify_all`: a swap to 0) and
//! releases exactly that many permits, so permits never exceed notified waiters. A waiter
//! that times out withdraws with the same CAS; if it finds `waiting == 0`, a notifier has
//! already claimed it, and it consumes the permit that is on its way.
//!
//! A timed wait (`wait_timeout`, `wait_deadline`, `wait_until_timeout`,
//! `wait_until_deadline`) bounds the re-lock
//! too, by its timeout again: it returns within twice its timeout, or with
//! [`LockTimeoutError::Timeout`](super::LockTimeoutError::Timeout) and the mutex not held.
//!
//! This changes who decrements `_count`. Mixing zeroipc and C++/Python *waiters or
//! notifiers* on one Monitor is therefore not supported (C++ waiters would decrement again);
//! the bytes and the meaning of every field are unchanged.
//!
//! # Process death
//!
//! The mutex is a [`Mutex`](super::Mutex): a dead holder is taken over and reported as
//! [`LockError::OwnerDead`](super::LockError::OwnerDead). A waiter that dies before being
//! notified leaves `waiting` one too high; a later `notify_*` then releases one permit that
//! the next waiter receives as a spurious wake-up (callers re-check their predicate, as with
//! any condition variable).

use std::time::{Duration, Instant};

use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Relaxed},
};
use crate::sync::BadWord;
use crate::sync::mutex::{RawLock, RawMutex};
use crate::sync::semaphore::{RawAcquire, RawRelease, RawSemaphore};

#[cfg(not(loom))]
pub use handle::{Monitor, MonitorGuard};

/// How long a timed-out waiter that was notified meanwhile waits for its permit.
const CLAIMED_GRACE: Duration = Duration::from_millis(100);

/// How a raw `wait` ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawWait {
    /// Re-locked (`lock` says how: normally, or taken over from a dead holder).
    Relocked { lock: RawLock, timed_out: bool },
    /// The condition semaphore holds an impossible count; the lock is *not* held.
    CondBad(BadWord),
}

/// The monitor state machine over views of the mutex, the condition semaphore and `waiting`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMonitor<'a> {
    pub(crate) mtx: RawMutex<'a>,
    pub(crate) cond: RawSemaphore<'a>,
    pub(crate) waiting: &'a AtomicU32,
}

impl RawMonitor<'_> {
    /// Takes one unclaimed waiter out of `waiting`; `false` if there was none.
    pub(crate) fn claim_one(&self) -> bool {
        // ORDERING: Relaxed — `waiting` is a count of claims; the permits (semaphore
        // Release/Acquire) carry the synchronisation.
        let mut cur = self.waiting.load(Relaxed);
        while cur > 0 {
            // ORDERING: Relaxed — as above.
            match self
                .waiting
                .compare_exchange_weak(cur, cur - 1, Relaxed, Relaxed)
            {
                Ok(_) => return true,
                Err(now) => cur = now,
            }
        }
        false
    }

    /// Waits for a notification until `deadline`. The caller holds the mutex; it is
    /// released while waiting and re-taken before returning, by `relock` at the latest
    /// (`None`: without a deadline, as std's `Condvar`).
    pub(crate) fn wait(
        &self,
        me: u32,
        deadline: Option<Instant>,
        relock: Option<Instant>,
        alive: impl Fn(u32) -> bool,
    ) -> RawWait {
        // ORDERING: Relaxed — we hold the mutex; the permit carries the synchronisation.
        self.waiting.fetch_add(1, Relaxed);
        // A foreign unlock of our lock cannot be repaired; re-locking below reports a bad count.
        let _ = self.mtx.unlock();
        let timed_out = match self.cond.acquire(deadline) {
            Ok(()) => false,
            Err(RawAcquire::Bad(b)) => {
                let _ = self.claim_one();
                return RawWait::CondBad(b);
            }
            Err(RawAcquire::NotAcquired) => {
                if self.claim_one() {
                    true
                } else {
                    // A notifier claimed us between our timeout and now; its permit is on
                    // its way: consume it so it does not wake someone else spuriously (D-24).
                    // Within the re-lock bound: a timed wait keeps its promise even when the
                    // permit never comes (the notifier died, or `waiting` was overwritten);
                    // a permit that comes later is one spurious wake-up for another waiter.
                    let grace = Instant::now().checked_add(CLAIMED_GRACE);
                    let grace = match (grace, relock) {
                        (Some(g), Some(r)) => Some(g.min(r)),
                        (g, None) => g,
                        (None, r) => r,
                    };
                    let _ = self.cond.acquire(grace);
                    false
                }
            }
        };
        RawWait::Relocked {
            lock: self.mtx.lock(me, relock, alive),
            timed_out,
        }
    }

    /// Wakes one unclaimed waiter.
    pub(crate) fn notify_one(&self) -> Result<(), RawRelease> {
        if self.claim_one() {
            self.cond.release()?;
        }
        Ok(())
    }

    /// Wakes every unclaimed waiter.
    pub(crate) fn notify_all(&self) -> Result<(), RawRelease> {
        // ORDERING: AcqRel — claims every counted waiter at once; the permits carry the
        // synchronisation.
        let n = self.waiting.swap(0, AcqRel);
        // One step for all of them: `n` is read from the segment, and a corrupt count must
        // not turn this into billions of releases (found by the `structure_ops` fuzz target).
        self.cond.release_many(n)
    }
}

#[cfg(not(loom))]
mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::layout::semaphore::MUTEX_UNLOCKED;

    struct Words {
        mtx: [AtomicU32; 3],
        cond: [AtomicU32; 2],
        waiting: AtomicU32,
        flag: AtomicU32,
    }

    impl Words {
        fn raw(&self) -> RawMonitor<'_> {
            RawMonitor {
                mtx: RawMutex {
                    count: &self.mtx[0],
                    waiting: &self.mtx[1],
                    owner: &self.mtx[2],
                },
                cond: RawSemaphore {
                    count: &self.cond[0],
                    waiting: &self.cond[1],
                    max: 0,
                },
                waiting: &self.waiting,
            }
        }
    }

    #[test]
    fn loom_monitor_notify_is_never_lost_and_leaves_no_permit() {
        loom::model(|| {
            let w = Arc::new(Words {
                mtx: [
                    AtomicU32::new(MUTEX_UNLOCKED),
                    AtomicU32::new(0),
                    AtomicU32::new(0),
                ],
                cond: [AtomicU32::new(0), AtomicU32::new(0)],
                waiting: AtomicU32::new(0),
                flag: AtomicU32::new(0),
            });
            let w2 = w.clone();
            let waiter = thread::spawn(move || {
                let m = w2.raw();
                assert_eq!(m.mtx.lock(1, None, |_| true), RawLock::Locked);
                // ORDERING: Relaxed — read under the mutex.
                while w2.flag.load(Relaxed) == 0 {
                    let r = m.wait(1, None, None, |_| true);
                    assert_eq!(
                        r,
                        RawWait::Relocked {
                            lock: RawLock::Locked,
                            timed_out: false
                        }
                    );
                }
                m.mtx.unlock().unwrap();
            });
            let m = w.raw();
            assert_eq!(m.mtx.lock(2, None, |_| true), RawLock::Locked);
            // ORDERING: Relaxed — written under the mutex.
            w.flag.store(1, Relaxed);
            m.mtx.unlock().unwrap();
            m.notify_all().unwrap();
            waiter.join().unwrap();
            // D-24: no permit is left for a future waiter to wake on spuriously.
            assert_eq!(w.cond[0].load(Relaxed), 0);
            assert_eq!(w.waiting.load(Relaxed), 0);
        });
    }
}

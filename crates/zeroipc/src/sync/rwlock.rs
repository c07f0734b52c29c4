//! RwLock: many readers or one writer, across processes, surviving a dead writer.
//!
//! # Layout (FORMAT.md §7.7; entries created in this order)
//!
//! | entry         | size | contents                                              |
//! |---------------|------|-------------------------------------------------------|
//! | `name_state`  | 8    | `readers` i32 @0, `writer_active` i32 @4              |
//! | `name_rmtx`   | 16   | a [`Mutex`](super::Mutex) guarding reader entry       |
//! | `name_wmtx`   | 16   | a [`Mutex`](super::Mutex) held for the whole write    |
//! | `name`        | 1    | marker: "the RWLock exists"                           |
//!
//! The longest composed name (`name_state`, `name_rmtx`, `name_wmtx`) is checked before
//! anything is created, so the base name is at most 25 bytes; a half-created RWLock is
//! reported (see `composite`).
//!
//! # Synchronization
//!
//! The C++ protocol: a reader takes `rmtx`, checks `writer_active == 0` (Acquire), increments
//! `readers`, releases `rmtx`. A writer takes `wmtx`, then `rmtx`, stores `writer_active = 1`,
//! releases `rmtx` and waits for `readers` to drain (Acquire; readers decrement with Release,
//! without the mutex as C++ does). Unlock: `writer_active = 0` (Release), then `wmtx`.
//! Readers sleep on the `writer_active` futex and writers on the `readers` futex; zeroipc
//! wakes both, and re-checks every millisecond for peers that poll.
//!
//! # Process death
//!
//! - **A dead zeroipc writer** holds `wmtx`, whose padding word names it (see
//!   [`Mutex`](super::Mutex)). A reader that finds `writer_active` set checks that pid; if the
//!   process is gone it takes `wmtx` over, clears `writer_active`, releases `wmtx`, takes its
//!   read lock and returns [`LockError::OwnerDead`](crate::sync::LockError::OwnerDead) with the read guard. A writer that finds
//!   it gets `wmtx` through the Mutex takeover and returns `OwnerDead` with the write guard.
//! - **A dead reader** leaves `readers` one too high (there is no room for reader pids):
//!   writers get [`LockTimeoutError::Timeout`](crate::sync::LockTimeoutError::Timeout) from the `_timeout` forms, readers are unaffected.
//! - **A dead C++/Python holder** records no pid: the timeout is the answer.

use std::time::Instant;

use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::sync::mutex::{RawLock, RawMutex};
use crate::wait::{self, Parked};

#[cfg(not(loom))]
pub use handle::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Which of the RWLock's entries a bad word was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    State,
    Rmtx,
    Wmtx,
}

/// How a raw read or write lock attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawRw {
    /// Held.
    Locked,
    /// Held, after clearing away (or taking over from) the dead process `pid`.
    TookOver { pid: u32 },
    /// Not held: busy (try) or the deadline passed.
    NotLocked,
    /// A word holds an impossible value.
    Bad(Part, BadWord),
}

/// The RWLock state machine over views of `readers`, `writer_active` and the two mutexes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawRwLock<'a> {
    pub(crate) readers: &'a AtomicU32,
    pub(crate) writer_active: &'a AtomicU32,
    pub(crate) rmtx: RawMutex<'a>,
    pub(crate) wmtx: RawMutex<'a>,
}

/// Locks a sub-mutex: `Ok(None)` held, `Ok(Some(pid))` taken over, `Err` not held / bad.
fn lock_sub(
    m: RawMutex<'_>,
    part: Part,
    me: u32,
    deadline: Option<Instant>,
    block: bool,
    alive: &impl Fn(u32) -> bool,
) -> Result<Option<u32>, RawRw> {
    let r = if block {
        m.lock(me, deadline, alive)
    } else {
        m.try_lock_or_take_over(me, alive)
    };
    match r {
        RawLock::Locked => Ok(None),
        RawLock::TookOver { pid } => Ok(Some(pid)),
        RawLock::NotLocked => Err(RawRw::NotLocked),
        RawLock::Bad(b) => Err(RawRw::Bad(part, b)),
    }
}

fn unlock_sub(m: RawMutex<'_>) {
    // A foreign double unlock cannot be repaired here; the next lock reports a bad count.
    let _ = m.unlock();
}

#[allow(clippy::cast_possible_wrap)] // i32 wire values held as u32 bits
impl RawRwLock<'_> {
    fn writer_active(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `end_write`: the writer's
        // changes happen-before our reads.
        self.writer_active.load(Acquire) != 0
    }

    fn end_write(&self) {
        // ORDERING: Release pairs with the Acquire load in `writer_active`.
        self.writer_active.store(0, Release);
        wait::wake_all(self.writer_active);
    }

    /// Takes a read lock (`block`: wait until `deadline`; else try once).
    pub(crate) fn read(
        &self,
        me: u32,
        deadline: Option<Instant>,
        block: bool,
        alive: impl Fn(u32) -> bool,
    ) -> RawRw {
        let mut dead = None;
        loop {
            match lock_sub(self.rmtx, Part::Rmtx, me, deadline, block, &alive) {
                Ok(took) => dead = dead.or(took),
                Err(e) => return e,
            }
            if !self.writer_active() {
                // ORDERING: AcqRel — a writer's Acquire drain loop sees us; we hold `rmtx`,
                // so no writer sets `writer_active` between our check and this increment.
                self.readers.fetch_add(1, AcqRel);
                unlock_sub(self.rmtx);
                break;
            }
            unlock_sub(self.rmtx);
            // A writer is active: is it a dead zeroipc process (its pid is in `wmtx`)?
            if let Some(pid) = self.wmtx.take_over_from_dead(me, &alive) {
                // We hold `wmtx` for the dead writer: end its write phase and release it.
                self.end_write();
                unlock_sub(self.wmtx);
                dead = Some(pid);
                continue;
            }
            if !block || wait::park(self.writer_active, 1, deadline) == Parked::TimedOut {
                return RawRw::NotLocked;
            }
        }
        dead.map_or(RawRw::Locked, |pid| RawRw::TookOver { pid })
    }

    /// Drops one reader; wakes writers when the last one leaves.
    pub(crate) fn read_unlock(&self) {
        // ORDERING: Release pairs with the writer's Acquire drain loop: our reads of the
        // protected data happen-before its writes.
        let before = self.readers.fetch_sub(1, Release) as i32;
        if before <= 1 {
            wait::wake_all(self.readers);
        }
    }

    /// Takes the write lock (`block`: wait until `deadline`; else try once).
    pub(crate) fn write(
        &self,
        me: u32,
        deadline: Option<Instant>,
        block: bool,
        alive: impl Fn(u32) -> bool,
    ) -> RawRw {
        let mut dead = match lock_sub(self.wmtx, Part::Wmtx, me, deadline, block, &alive) {
            Ok(took) => took,
            Err(e) => return e,
        };
        crate::fault::point("rwlock.write.after_wmtx");
        match lock_sub(self.rmtx, Part::Rmtx, me, deadline, block, &alive) {
            Ok(took) => dead = dead.or(took),
            Err(e) => {
                unlock_sub(self.wmtx);
                return e;
            }
        }
        // ORDERING: Acquire pairs with `read_unlock`'s Release.
        if !block && self.readers.load(Acquire) != 0 {
            unlock_sub(self.rmtx);
            unlock_sub(self.wmtx);
            return RawRw::NotLocked;
        }
        // ORDERING: Release pairs with readers' Acquire in `writer_active`; stored under
        // `rmtx`, so no reader registers after this.
        self.writer_active.store(1, Release);
        unlock_sub(self.rmtx);
        crate::fault::point("rwlock.write.after_active");
        loop {
            // ORDERING: Acquire pairs with the Release decrement in `read_unlock`.
            let r = self.readers.load(Acquire);
            if r == 0 {
                break;
            }
            if (r as i32) < 0 {
                self.end_write();
                unlock_sub(self.wmtx);
                let bad = BadWord {
                    field: "readers",
                    found: u64::from(r),
                    expected: "0 ..= i32::MAX",
                };
                return RawRw::Bad(Part::State, bad);
            }
            // ORDERING: Relaxed — the loop head re-reads with Acquire before deciding.
            if wait::park(self.readers, r, deadline) == Parked::TimedOut
                && self.readers.load(Relaxed) != 0
            {
                self.end_write();
                unlock_sub(self.wmtx);
                return RawRw::NotLocked;
            }
        }
        dead.map_or(RawRw::Locked, |pid| RawRw::TookOver { pid })
    }

    /// Ends the write phase and releases `wmtx`.
    pub(crate) fn write_unlock(&self) {
        self.end_write();
        unlock_sub(self.wmtx);
    }

    /// `(readers, writer_active)` as raw words (a snapshot).
    pub(crate) fn snapshot(&self) -> (u32, u32) {
        // ORDERING: Relaxed — a snapshot for display.
        (self.readers.load(Relaxed), self.writer_active.load(Relaxed))
    }
}

#[cfg(not(loom))]
mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::layout::semaphore::MUTEX_UNLOCKED;

    struct Words {
        readers: AtomicU32,
        writer_active: AtomicU32,
        m: [[AtomicU32; 3]; 2],
        data: UnsafeCell<u32>,
    }

    fn words(writer_active: u32, wmtx_count: u32, wmtx_owner: u32) -> Arc<Words> {
        let m = |count: u32, owner: u32| {
            [
                AtomicU32::new(count),
                AtomicU32::new(0),
                AtomicU32::new(owner),
            ]
        };
        Arc::new(Words {
            readers: AtomicU32::new(0),
            writer_active: AtomicU32::new(writer_active),
            m: [m(MUTEX_UNLOCKED, 0), m(wmtx_count, wmtx_owner)],
            data: UnsafeCell::new(0),
        })
    }

    impl Words {
        fn raw(&self) -> RawRwLock<'_> {
            let mx = |i: usize| RawMutex {
                count: &self.m[i][0],
                waiting: &self.m[i][1],
                owner: &self.m[i][2],
            };
            RawRwLock {
                readers: &self.readers,
                writer_active: &self.writer_active,
                rmtx: mx(0),
                wmtx: mx(1),
            }
        }
    }

    #[test]
    fn loom_rwlock_writer_excludes_reader() {
        loom::model(|| {
            let w = words(0, MUTEX_UNLOCKED, 0);
            let w2 = w.clone();
            let writer = thread::spawn(move || {
                assert_eq!(w2.raw().write(1, None, true, |_| true), RawRw::Locked);
                // SAFETY: the write lock is held: no reader is registered and none can be.
                w2.data.with_mut(|p| unsafe { *p = 7 });
                w2.raw().write_unlock();
            });
            assert_eq!(w.raw().read(2, None, true, |_| true), RawRw::Locked);
            // SAFETY: a read lock is held: the writer is not in its critical section.
            let v = w.data.with(|p| unsafe { *p });
            assert!(v == 0 || v == 7);
            w.raw().read_unlock();
            writer.join().unwrap();
            assert_eq!(w.raw().snapshot(), (0, 0));
        });
    }

    #[test]
    fn loom_rwlock_dead_writer_is_cleared_once() {
        loom::model(|| {
            // Process 9 died holding the write lock.
            let w = words(1, 0, 9);
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let r = w.raw().read(me, None, true, |pid| pid != 9);
                        assert!(
                            matches!(r, RawRw::Locked | RawRw::TookOver { pid: 9 }),
                            "{r:?}"
                        );
                        w.raw().read_unlock();
                        usize::from(r != RawRw::Locked)
                    })
                })
                .collect();
            let took: usize = handles.into_iter().map(|h| h.join().unwrap()).sum();
            assert_eq!(took, 1);
            assert_eq!(w.raw().snapshot(), (0, 0));
        });
    }
}

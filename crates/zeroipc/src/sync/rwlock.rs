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
//!   writers get [`LockError::Timeout`](crate::sync::LockError::Timeout) from the `_timeout` variants, readers are unaffected.
//! - **A dead C++/Python holder** records no pid: the timeout is the answer.

use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Release},
};

#[cfg(not(loom))]
pub use handle::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// Drops one reader; wakes writers when the last one leaves.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn read_unlock(readers: &AtomicU32) {
    // ORDERING: Release pairs with the writer's Acquire load of `readers`: our reads of the
    // protected data happen-before its writes.
    let before = readers.fetch_sub(1, Release) as i32;
    if before <= 1 {
        crate::sync::wait::wake_all(readers);
    }
}

/// Ends a write phase (the caller then releases `wmtx`).
pub(crate) fn end_write(writer_active: &AtomicU32) {
    // ORDERING: Release pairs with the readers' Acquire load of `writer_active`: the
    // writer's changes happen-before their reads.
    writer_active.store(0, Release);
    crate::sync::wait::wake_all(writer_active);
}

/// Registers a reader (the caller holds `rmtx` and saw `writer_active == 0`).
pub(crate) fn add_reader(readers: &AtomicU32) {
    // ORDERING: AcqRel — the increment is seen by a writer's Acquire drain loop; Acquire
    // keeps our reads after it.
    readers.fetch_add(1, AcqRel);
}

/// Whether a writer is active (Acquire pairs with `end_write`).
pub(crate) fn writer_active(word: &AtomicU32) -> bool {
    // ORDERING: Acquire pairs with the Release store in `end_write`.
    word.load(Acquire) != 0
}

#[cfg(not(loom))]
mod handle {
    use core::fmt;
    use std::time::{Duration, Instant};

    use super::{add_reader, end_write, read_unlock, writer_active};
    use crate::error::{Corruption, StructureError};
    use crate::layout::rwlock::{RWLOCK_STATE_LEN, RWLOCK_SUFFIXES, RwLockState};
    use crate::loom::Ordering::{Acquire, Relaxed, Release};
    use crate::segment::{Entry, Segment};
    use crate::sync::mutex::RawLock;
    use crate::sync::semaphore::handle::corrupt;
    use crate::sync::wait::{self, Parked, deadline_after};
    use crate::sync::{LockError, Mutex, OwnerDead, check_size, composite};
    use crate::sys::process::{current_pid, pid_alive};

    /// A reader-writer lock in a segment. See the [module docs](super).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{LockError, Segment, SegmentOptions, sync::RwLock};
    /// # let name = format!("/zeroipc-doc-rwlock-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let lock = RwLock::create(&seg, "config")?;
    /// {
    ///     let _r1 = lock.read().map_err(LockError::drop_guard)?;
    ///     let _r2 = lock.read().map_err(LockError::drop_guard)?;
    ///     assert!(matches!(lock.try_write(), Err(LockError::WouldBlock)));
    /// }
    /// let _w = lock.write().map_err(LockError::drop_guard)?;
    /// assert!(matches!(lock.try_read(), Err(LockError::WouldBlock)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct RwLock {
        seg: Segment,
        state: Entry,
        rmtx: Mutex,
        wmtx: Mutex,
        name: String,
    }

    impl fmt::Debug for RwLock {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RwLock")
                .field("name", &self.name)
                .finish_non_exhaustive()
        }
    }

    /// A read lock on an [`RwLock`]; released on drop.
    #[must_use = "the read lock is released as soon as the guard is dropped"]
    pub struct RwLockReadGuard<'a> {
        lock: &'a RwLock,
    }

    /// The write lock on an [`RwLock`]; released on drop.
    #[must_use = "the write lock is released as soon as the guard is dropped"]
    pub struct RwLockWriteGuard<'a> {
        lock: &'a RwLock,
    }

    impl fmt::Debug for RwLockReadGuard<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RwLockReadGuard")
                .field("lock", &self.lock.name)
                .finish()
        }
    }

    impl fmt::Debug for RwLockWriteGuard<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("RwLockWriteGuard")
                .field("lock", &self.lock.name)
                .finish()
        }
    }

    impl Drop for RwLockReadGuard<'_> {
        fn drop(&mut self) {
            if let Ok(st) = self.lock.state() {
                read_unlock(&st.readers);
            }
        }
    }

    impl Drop for RwLockWriteGuard<'_> {
        fn drop(&mut self) {
            if let Ok(st) = self.lock.state() {
                end_write(&st.writer_active);
            }
            if let Ok(w) = self.lock.wmtx.raw() {
                let _ = w.unlock();
            }
        }
    }

    type ReadResult<'a> = Result<RwLockReadGuard<'a>, LockError<RwLockReadGuard<'a>>>;
    type WriteResult<'a> = Result<RwLockWriteGuard<'a>, LockError<RwLockWriteGuard<'a>>>;

    /// What locking a sub-mutex gave.
    enum Sub {
        Held,
        TookOver(u32),
    }

    impl RwLock {
        /// Creates an RWLock: `name_state`, `name_rmtx`, `name_wmtx`, then the marker `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`]: `InvalidName` if `name` is longer than 25 bytes (checked
        /// before anything is created), `AlreadyExists`, or no room;
        /// [`StructureError::Corrupt`] if some of the entries exist already (half-created).
        pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let names = composite::names(name, &RWLOCK_SUFFIXES)?;
            composite::check_absent(seg, name, &names)?;
            let state = seg.allocate(
                &names[0],
                RWLOCK_STATE_LEN,
                |_, _| -> Result<(), StructureError> { Ok(()) },
            )?;
            let rmtx = Mutex::create(seg, &names[1])?;
            let wmtx = Mutex::create(seg, &names[2])?;
            composite::create_marker(seg, &names[3])?;
            Ok(Self {
                seg: seg.clone(),
                state,
                rmtx,
                wmtx,
                name: name.to_owned(),
            })
        }

        /// Opens the RWLock named `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] (`NotFound`) if none of its entries exist;
        /// [`StructureError::Corrupt`] if only some do (half-created), or an entry has the
        /// wrong size or a mutex the wrong `max_count`.
        pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let names = composite::names(name, &RWLOCK_SUFFIXES)?;
            let mut entries = composite::find_all(seg, name, &names)?.into_iter();
            let (Some(state), Some(r), Some(w)) = (entries.next(), entries.next(), entries.next())
            else {
                unreachable!("find_all returns one entry per name");
            };
            check_size(&state, RWLOCK_STATE_LEN)?;
            let _: &RwLockState = seg.region().header(state.offset())?;
            let rmtx = Mutex::open_entry(seg, r)?;
            let wmtx = Mutex::open_entry(seg, w)?;
            Ok(Self {
                seg: seg.clone(),
                state,
                rmtx,
                wmtx,
                name: name.to_owned(),
            })
        }

        fn state(&self) -> Result<&RwLockState, Corruption> {
            self.seg.region().header(self.state.offset())
        }

        /// Locks `m` (or tries to); maps the raw outcome.
        fn lock_sub<G>(
            &self,
            m: &Mutex,
            deadline: Option<Instant>,
            block: bool,
        ) -> Result<Sub, LockError<G>> {
            let raw = m.raw()?;
            let me = current_pid();
            let r = if block {
                raw.lock(me, deadline, pid_alive)
            } else {
                match raw.try_lock(me) {
                    RawLock::NotLocked => raw
                        .take_over_from_dead(me, &pid_alive)
                        .map_or(RawLock::NotLocked, |pid| RawLock::TookOver { pid }),
                    other => other,
                }
            };
            match r {
                RawLock::Locked => Ok(Sub::Held),
                RawLock::TookOver { pid } => Ok(Sub::TookOver(pid)),
                RawLock::NotLocked if block => Err(LockError::Timeout),
                RawLock::NotLocked => Err(LockError::WouldBlock),
                RawLock::Bad(b) => Err(LockError::Corrupt(corrupt(m.entry(), b))),
            }
        }

        fn unlock_sub(m: &Mutex) {
            if let Ok(raw) = m.raw() {
                let _ = raw.unlock();
            }
        }

        fn read_inner(&self, deadline: Option<Instant>, block: bool) -> ReadResult<'_> {
            let st = self.state()?;
            let mut dead = None;
            loop {
                if let Sub::TookOver(pid) = self.lock_sub(&self.rmtx, deadline, block)? {
                    dead = Some(pid);
                }
                if !writer_active(&st.writer_active) {
                    add_reader(&st.readers);
                    Self::unlock_sub(&self.rmtx);
                    break;
                }
                Self::unlock_sub(&self.rmtx);
                // A writer is active: is it a dead zeroipc process?
                let wraw = self.wmtx.raw()?;
                if let Some(pid) = wraw.take_over_from_dead(current_pid(), &pid_alive) {
                    // We hold `wmtx` for the dead writer: end its write phase and release.
                    end_write(&st.writer_active);
                    let _ = wraw.unlock();
                    dead = Some(pid);
                    continue;
                }
                if !block {
                    return Err(LockError::WouldBlock);
                }
                if wait::park(&st.writer_active, 1, deadline) == Parked::TimedOut {
                    return Err(LockError::Timeout);
                }
            }
            let guard = RwLockReadGuard { lock: self };
            match dead {
                None => Ok(guard),
                Some(pid) => Err(LockError::OwnerDead(OwnerDead::new(pid, guard))),
            }
        }

        #[allow(clippy::cast_possible_wrap)]
        fn write_inner(&self, deadline: Option<Instant>, block: bool) -> WriteResult<'_> {
            let st = self.state()?;
            let mut dead = match self.lock_sub(&self.wmtx, deadline, block)? {
                Sub::TookOver(pid) => Some(pid),
                Sub::Held => None,
            };
            match self.lock_sub::<()>(&self.rmtx, deadline, block) {
                Ok(Sub::TookOver(pid)) => dead = dead.or(Some(pid)),
                Ok(Sub::Held) => {}
                Err(e) => {
                    Self::unlock_sub(&self.wmtx);
                    return Err(match e {
                        LockError::Corrupt(c) => LockError::Corrupt(c),
                        LockError::WouldBlock => LockError::WouldBlock,
                        _ => LockError::Timeout,
                    });
                }
            }
            if !block && st.readers.load(Acquire) as i32 > 0 {
                Self::unlock_sub(&self.rmtx);
                Self::unlock_sub(&self.wmtx);
                return Err(LockError::WouldBlock);
            }
            // ORDERING: Release — pairs with readers' Acquire in `writer_active`; set under
            // `rmtx`, so no reader registers after this.
            st.writer_active.store(1, Release);
            Self::unlock_sub(&self.rmtx);
            // Drain readers.
            loop {
                // ORDERING: Acquire pairs with the Release decrement in `read_unlock`.
                let r = st.readers.load(Acquire);
                match r as i32 {
                    0 => break,
                    n if n < 0 => {
                        end_write(&st.writer_active);
                        Self::unlock_sub(&self.wmtx);
                        return Err(LockError::Corrupt(corrupt(
                            &self.state,
                            crate::sync::BadWord {
                                field: "readers",
                                found: u64::from(r),
                                expected: "0 ..= i32::MAX",
                            },
                        )));
                    }
                    _ => {}
                }
                if wait::park(&st.readers, r, deadline) == Parked::TimedOut
                    && st.readers.load(Relaxed) != 0
                {
                    end_write(&st.writer_active);
                    Self::unlock_sub(&self.wmtx);
                    return Err(LockError::Timeout);
                }
            }
            let guard = RwLockWriteGuard { lock: self };
            match dead {
                None => Ok(guard),
                Some(pid) => Err(LockError::OwnerDead(OwnerDead::new(pid, guard))),
            }
        }

        /// Takes a read lock, waiting as long as it takes.
        ///
        /// # Errors
        ///
        /// [`LockError::OwnerDead`](crate::sync::LockError::OwnerDead) if a dead zeroipc writer was cleared away (the read lock
        /// is held, in the guard); [`LockError::Corrupt`].
        pub fn read(&self) -> ReadResult<'_> {
            self.read_inner(None, true)
        }

        /// Takes a read lock if no writer is active now.
        ///
        /// # Errors
        ///
        /// [`LockError::WouldBlock`]; otherwise as [`RwLock::read`].
        pub fn try_read(&self) -> ReadResult<'_> {
            self.read_inner(None, false)
        }

        /// Takes a read lock, waiting at most `timeout`.
        ///
        /// # Errors
        ///
        /// [`LockError::Timeout`](crate::sync::LockError::Timeout); otherwise as [`RwLock::read`].
        pub fn read_timeout(&self, timeout: Duration) -> ReadResult<'_> {
            self.read_inner(deadline_after(timeout), true)
        }

        /// Takes a read lock, waiting until `deadline`.
        ///
        /// # Errors
        ///
        /// [`LockError::Timeout`](crate::sync::LockError::Timeout); otherwise as [`RwLock::read`].
        pub fn read_deadline(&self, deadline: Instant) -> ReadResult<'_> {
            self.read_inner(Some(deadline), true)
        }

        /// Takes the write lock, waiting as long as it takes.
        ///
        /// # Errors
        ///
        /// [`LockError::OwnerDead`](crate::sync::LockError::OwnerDead) if the previous writer died (the write lock is held, in
        /// the guard); [`LockError::Corrupt`] (e.g. a negative `readers`).
        pub fn write(&self) -> WriteResult<'_> {
            self.write_inner(None, true)
        }

        /// Takes the write lock if it is free and no reader holds it now.
        ///
        /// # Errors
        ///
        /// [`LockError::WouldBlock`]; otherwise as [`RwLock::write`].
        pub fn try_write(&self) -> WriteResult<'_> {
            self.write_inner(None, false)
        }

        /// Takes the write lock, waiting at most `timeout` (for the lock and for readers to
        /// drain; on timeout the lock is left as it was).
        ///
        /// # Errors
        ///
        /// [`LockError::Timeout`](crate::sync::LockError::Timeout); otherwise as [`RwLock::write`].
        pub fn write_timeout(&self, timeout: Duration) -> WriteResult<'_> {
            self.write_inner(deadline_after(timeout), true)
        }

        /// Takes the write lock, waiting until `deadline`.
        ///
        /// # Errors
        ///
        /// [`LockError::Timeout`](crate::sync::LockError::Timeout); otherwise as [`RwLock::write`].
        pub fn write_deadline(&self, deadline: Instant) -> WriteResult<'_> {
            self.write_inner(Some(deadline), true)
        }

        /// `(readers, writer_active)` now (a snapshot).
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the state entry is out of the mapping (never once validated).
        #[allow(clippy::cast_possible_wrap)]
        pub fn snapshot(&self) -> Result<(i32, bool), Corruption> {
            let st = self.state()?;
            // ORDERING: Relaxed — a snapshot.
            Ok((
                st.readers.load(Relaxed) as i32,
                st.writer_active.load(Relaxed) != 0,
            ))
        }

        /// The reader mutex (`name_rmtx`).
        #[must_use]
        pub fn reader_mutex(&self) -> &Mutex {
            &self.rmtx
        }

        /// The writer mutex (`name_wmtx`).
        #[must_use]
        pub fn writer_mutex(&self) -> &Mutex {
            &self.wmtx
        }
    }
}

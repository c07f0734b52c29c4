//! The `RwLock` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::rwlock` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{Part, RawRw, RawRwLock};
use crate::error::{Corruption, StructureError};
use crate::layout::rwlock::{RWLOCK_STATE_LEN, RWLOCK_SUFFIXES, RwLockState};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::semaphore::handle::{corrupt, count_word};
use crate::sync::{
    Attempt, LockError, LockTimeoutError, Mutex, OwnerDead, TryLockError, check_size, composite,
};
use crate::sys::process::{current_pid, pid_alive};
use crate::wait::deadline_after;

/// A reader-writer lock in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use zeroipc::{LockError, Segment, SegmentOptions, TryLockError, sync::RwLock};
/// # let name = format!("/zeroipc-doc-rwlock-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let lock = RwLock::create(&seg, "config")?;
/// {
///     let _r1 = lock.read().map_err(LockError::drop_guard)?;
///     let _r2 = lock.read().map_err(LockError::drop_guard)?;
///     assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
/// }
/// let _w = lock.write().map_err(LockError::drop_guard)?;
/// assert!(matches!(lock.try_read(), Err(TryLockError::WouldBlock)));
/// assert_eq!(lock.snapshot()?, (0, true));
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
        // Cannot fail for a validated lock; nothing could be reported from drop anyway.
        if let Ok(raw) = self.lock.raw() {
            raw.read_unlock();
        }
    }
}

impl Drop for RwLockWriteGuard<'_> {
    fn drop(&mut self) {
        if let Ok(raw) = self.lock.raw() {
            raw.write_unlock();
        }
    }
}

/// The blocking form over an inner attempt without deadline: such a wait does not end
/// untaken (the raw machine restores the lock's state when it does give up), and were
/// it ever to, this waits on.
fn blocking<G>(mut attempt: impl FnMut() -> Result<G, Attempt<G>>) -> Result<G, LockError<G>> {
    loop {
        match attempt() {
            Ok(g) => return Ok(g),
            Err(Attempt::Failed(e)) => return Err(e),
            Err(Attempt::NotTaken) => {}
        }
    }
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
        seg.record(&Record::new(CatalogKind::RwLock, name, &state).parts(&RWLOCK_SUFFIXES));
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
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let names = composite::names(name, &RWLOCK_SUFFIXES)?;
        let entries = composite::find_all(seg, name, &names)?;
        let state = entries[0].clone();
        check_size(&state, RWLOCK_STATE_LEN)?;
        let _: &RwLockState = seg.region().header(state.offset())?;
        let rmtx = Mutex::open_entry(seg, entries[1].clone())?;
        let wmtx = Mutex::open_entry(seg, entries[2].clone())?;
        seg.check_catalog(&Record::new(CatalogKind::RwLock, name, &state))?;
        Ok(Self {
            seg: seg.clone(),
            state,
            rmtx,
            wmtx,
            name: name.to_owned(),
        })
    }

    fn raw(&self) -> Result<RawRwLock<'_>, Corruption> {
        let st: &RwLockState = self.seg.region().header(self.state.offset())?;
        Ok(RawRwLock {
            readers: &st.readers,
            writer_active: &st.writer_active,
            rmtx: self.rmtx.raw()?,
            wmtx: self.wmtx.raw()?,
        })
    }

    fn finish<G>(&self, r: RawRw, guard: impl FnOnce() -> G) -> Result<G, Attempt<G>> {
        match r {
            RawRw::Locked => Ok(guard()),
            RawRw::TookOver { pid } => Err(Attempt::Failed(LockError::OwnerDead(OwnerDead::new(
                pid,
                guard(),
            )))),
            RawRw::NotLocked => Err(Attempt::NotTaken),
            RawRw::Bad(part, b) => {
                let entry = match part {
                    Part::State => &self.state,
                    Part::Rmtx => self.rmtx.entry(),
                    Part::Wmtx => self.wmtx.entry(),
                };
                Err(corrupt(entry, b).into())
            }
        }
    }

    fn read_inner(
        &self,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<RwLockReadGuard<'_>, Attempt<RwLockReadGuard<'_>>> {
        let r = self.raw()?.read(current_pid(), deadline, block, pid_alive);
        self.finish(r, || RwLockReadGuard { lock: self })
    }

    fn write_inner(
        &self,
        deadline: Option<Instant>,
        block: bool,
    ) -> Result<RwLockWriteGuard<'_>, Attempt<RwLockWriteGuard<'_>>> {
        let r = self.raw()?.write(current_pid(), deadline, block, pid_alive);
        self.finish(r, || RwLockWriteGuard { lock: self })
    }

    /// Takes a read lock, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDead`] if a dead zeroipc writer was cleared away (the read lock
    /// is held, in the guard); [`LockError::Corrupt`].
    pub fn read(&self) -> Result<RwLockReadGuard<'_>, LockError<RwLockReadGuard<'_>>> {
        blocking(|| self.read_inner(None, true))
    }

    /// Takes a read lock if no writer is active now; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`]; otherwise as [`RwLock::read`].
    pub fn try_read(&self) -> Result<RwLockReadGuard<'_>, TryLockError<RwLockReadGuard<'_>>> {
        self.read_inner(None, false).map_err(Attempt::into_try)
    }

    /// Takes a read lock, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; otherwise as [`RwLock::read`].
    pub fn read_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RwLockReadGuard<'_>, LockTimeoutError<RwLockReadGuard<'_>>> {
        self.read_inner(deadline_after(timeout), true)
            .map_err(Attempt::into_timeout)
    }

    /// Takes a read lock, waiting until `deadline`.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; otherwise as [`RwLock::read`].
    pub fn read_deadline(
        &self,
        deadline: Instant,
    ) -> Result<RwLockReadGuard<'_>, LockTimeoutError<RwLockReadGuard<'_>>> {
        self.read_inner(Some(deadline), true)
            .map_err(Attempt::into_timeout)
    }

    /// Takes the write lock, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDead`] if the previous writer died (the write lock is held, in
    /// the guard); [`LockError::Corrupt`] (e.g. a negative `readers`).
    pub fn write(&self) -> Result<RwLockWriteGuard<'_>, LockError<RwLockWriteGuard<'_>>> {
        blocking(|| self.write_inner(None, true))
    }

    /// Takes the write lock if it is free and no reader holds it now; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`]; otherwise as [`RwLock::write`].
    pub fn try_write(&self) -> Result<RwLockWriteGuard<'_>, TryLockError<RwLockWriteGuard<'_>>> {
        self.write_inner(None, false).map_err(Attempt::into_try)
    }

    /// Takes the write lock, waiting at most `timeout` (for the lock and for readers to
    /// drain; on timeout the lock is left as it was).
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; otherwise as [`RwLock::write`].
    pub fn write_timeout(
        &self,
        timeout: Duration,
    ) -> Result<RwLockWriteGuard<'_>, LockTimeoutError<RwLockWriteGuard<'_>>> {
        self.write_inner(deadline_after(timeout), true)
            .map_err(Attempt::into_timeout)
    }

    /// Takes the write lock, waiting until `deadline`.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; otherwise as [`RwLock::write`].
    pub fn write_deadline(
        &self,
        deadline: Instant,
    ) -> Result<RwLockWriteGuard<'_>, LockTimeoutError<RwLockWriteGuard<'_>>> {
        self.write_inner(Some(deadline), true)
            .map_err(Attempt::into_timeout)
    }

    /// `(readers, writer_active)` now (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `readers` (an `i32` on the wire) is negative, naming the value
    /// found.
    pub fn snapshot(&self) -> Result<(usize, bool), Corruption> {
        let (r, w) = self.raw()?.snapshot();
        Ok((count_word(&self.state, "readers", r)?, w != 0))
    }

    /// The table entry the catalog names for this lock: `name_state` (the marker entry
    /// `name` holds no data).
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.state
    }

    /// The segment the lock lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
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

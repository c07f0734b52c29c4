//! The `Monitor` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::monitor` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{RawMonitor, RawWait};
use crate::error::{Corruption, StructureError};
use crate::loom::{AtomicU32, Ordering::Relaxed};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::mutex::RawLock;
use crate::sync::semaphore::RawRelease;
use crate::sync::semaphore::handle::{corrupt, release_error};
use crate::sync::{
    Attempt, LockError, LockTimeoutError, Mutex, MutexGuard, OwnerDead, ReleaseError, Semaphore,
    TryLockError, check_size, composite,
};
use crate::sys::process::{current_pid, pid_alive};
use crate::wait::deadline_after;

const SUFFIXES: [&str; 4] = ["_mtx", "_cond", "_count", ""];
const COUNT_LEN: u64 = 4;

/// A monitor (mutex + condition) in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{LockError, LockTimeoutError, Segment, SegmentOptions, sync::Monitor};
/// # let name = format!("/zeroipc-doc-monitor-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let mon = Monitor::create(&seg, "jobs")?;
/// let g = mon.lock().map_err(LockError::drop_guard)?;
/// // Nobody notifies: the wait times out and hands the lock back.
/// let (g, timed_out) = mon
///     .wait_timeout(g, Duration::from_millis(5))
///     .map_err(LockTimeoutError::drop_guard)?;
/// assert!(timed_out);
/// drop(g);
/// mon.notify_all()?; // no waiters: releases nothing
/// assert_eq!(mon.waiting()?, 0);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Monitor {
    seg: Segment,
    mtx: Mutex,
    cond: Semaphore,
    count: Entry,
    name: String,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The Monitor's lock, held; unlocks on drop.
#[must_use = "the monitor unlocks as soon as the guard is dropped"]
pub struct MonitorGuard<'a> {
    monitor: &'a Monitor,
    _inner: MutexGuard<'a>,
}

impl fmt::Debug for MonitorGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorGuard")
            .field("monitor", &self.monitor.name)
            .finish()
    }
}

/// Where a timed wait's re-lock gives up: `timeout` after the wait's own deadline
/// (`None`, no bound, only where that instant does not exist). Without this bound, a
/// mutex taken by a peer that never lets go (a crashed holder that recorded no pid, a
/// corrupt word) kept `wait_timeout` from returning: the `concurrent_corruption` fuzz
/// target found it waiting in 1 ms slices until its writer restored the word.
fn relock_by(deadline: Option<Instant>, timeout: Duration) -> Option<Instant> {
    deadline?.checked_add(timeout)
}

impl Monitor {
    /// Creates a monitor: `name_mtx`, `name_cond`, `name_count`, then the marker `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`]: `InvalidName` if `name` is longer than 25 bytes (checked
    /// first), `AlreadyExists`, or no room; [`StructureError::Corrupt`] if half-created.
    pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let names = composite::names(name, &SUFFIXES)?;
        composite::check_absent(seg, name, &names)?;
        let mtx = Mutex::create(seg, &names[0])?;
        let cond = Semaphore::create_untracked(seg, &names[1], 0, 0)?;
        let count = seg.allocate(&names[2], COUNT_LEN, |_, _| -> Result<(), StructureError> {
            Ok(())
        })?;
        composite::create_marker(seg, &names[3])?;
        seg.record(&Record::new(CatalogKind::Monitor, name, mtx.entry()).parts(&SUFFIXES));
        Ok(Self {
            seg: seg.clone(),
            mtx,
            cond,
            count,
            name: name.to_owned(),
        })
    }

    /// Opens the monitor named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`); [`StructureError::Corrupt`] if half-created
    /// or an entry has the wrong size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let names = composite::names(name, &SUFFIXES)?;
        let entries = composite::find_all(seg, name, &names)?;
        let mtx = Mutex::open_entry(seg, entries[0].clone())?;
        let cond = Semaphore::open(seg, &names[1])?.without_holder_tracking();
        let count = entries[2].clone();
        check_size(&count, COUNT_LEN)?;
        let _: &AtomicU32 = seg.region().header(count.offset())?;
        seg.check_catalog(&Record::new(CatalogKind::Monitor, name, mtx.entry()))?;
        Ok(Self {
            seg: seg.clone(),
            mtx,
            cond,
            count,
            name: name.to_owned(),
        })
    }

    fn waiting_word(&self) -> Result<&AtomicU32, Corruption> {
        self.seg.region().header(self.count.offset())
    }

    fn guard<'a>(&'a self, inner: MutexGuard<'a>) -> MonitorGuard<'a> {
        MonitorGuard {
            monitor: self,
            _inner: inner,
        }
    }

    fn dead<'a>(&'a self, d: OwnerDead<MutexGuard<'a>>) -> OwnerDead<MonitorGuard<'a>> {
        d.map(|g| self.guard(g))
    }

    /// Locks the monitor, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock`] ([`LockError::OwnerDead`] carries the monitor's guard).
    pub fn lock(&self) -> Result<MonitorGuard<'_>, LockError<MonitorGuard<'_>>> {
        match self.mtx.lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(LockError::OwnerDead(d)) => Err(LockError::OwnerDead(self.dead(d))),
            Err(LockError::Corrupt(c)) => Err(LockError::Corrupt(c)),
        }
    }

    /// Locks the monitor if it is free now; never blocks.
    ///
    /// # Errors
    ///
    /// As [`Mutex::try_lock`].
    pub fn try_lock(&self) -> Result<MonitorGuard<'_>, TryLockError<MonitorGuard<'_>>> {
        match self.mtx.try_lock() {
            Ok(g) => Ok(self.guard(g)),
            Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
            Err(TryLockError::OwnerDead(d)) => Err(TryLockError::OwnerDead(self.dead(d))),
            Err(TryLockError::Corrupt(c)) => Err(TryLockError::Corrupt(c)),
        }
    }

    /// Locks the monitor, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock_timeout`].
    pub fn lock_timeout(
        &self,
        timeout: Duration,
    ) -> Result<MonitorGuard<'_>, LockTimeoutError<MonitorGuard<'_>>> {
        self.timed(self.mtx.lock_timeout(timeout))
    }

    /// Locks the monitor, waiting until `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// As [`Mutex::lock_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use zeroipc::{LockError, LockTimeoutError, Segment, SegmentOptions, sync::Monitor};
    /// # let name = format!("/zeroipc-doc-monitor-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mon = Monitor::create(&seg, "jobs")?;
    /// let held = mon.lock().map_err(LockError::drop_guard)?;
    /// let t = mon.lock_deadline(Instant::now()); // already past, lock held
    /// assert!(matches!(t, Err(LockTimeoutError::Timeout)));
    /// drop(held);
    /// let soon = Instant::now() + Duration::from_secs(1);
    /// let _g = mon.lock_deadline(soon).map_err(LockTimeoutError::drop_guard)?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_deadline(
        &self,
        deadline: Instant,
    ) -> Result<MonitorGuard<'_>, LockTimeoutError<MonitorGuard<'_>>> {
        self.timed(self.mtx.lock_deadline(deadline))
    }

    fn timed<'a>(
        &'a self,
        r: Result<MutexGuard<'a>, LockTimeoutError<MutexGuard<'a>>>,
    ) -> Result<MonitorGuard<'a>, LockTimeoutError<MonitorGuard<'a>>> {
        match r {
            Ok(g) => Ok(self.guard(g)),
            Err(LockTimeoutError::Timeout) => Err(LockTimeoutError::Timeout),
            Err(LockTimeoutError::OwnerDead(d)) => Err(LockTimeoutError::OwnerDead(self.dead(d))),
            Err(LockTimeoutError::Corrupt(c)) => Err(LockTimeoutError::Corrupt(c)),
        }
    }

    fn raw(&self) -> Result<RawMonitor<'_>, Corruption> {
        Ok(RawMonitor {
            mtx: self.mtx.raw()?,
            cond: self.cond.raw()?,
            waiting: self.waiting_word()?,
        })
    }

    /// Waits until `deadline`, then re-takes the mutex by `relock` at the latest;
    /// [`Attempt::NotTaken`] if that re-lock gave up (the monitor is then not locked).
    fn wait_inner<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
        deadline: Option<Instant>,
        relock: Option<Instant>,
    ) -> Result<(MonitorGuard<'a>, bool), Attempt<MonitorGuard<'a>>> {
        let raw = self.raw()?;
        // The raw machine unlocks and re-locks; the guard must not unlock on drop.
        core::mem::forget(guard);
        let held = || self.guard(MutexGuard::assume_locked(&self.mtx));
        match raw.wait(current_pid(), deadline, relock, pid_alive) {
            RawWait::Relocked { lock, timed_out } => match lock {
                RawLock::Locked => Ok((held(), timed_out)),
                RawLock::TookOver { pid } => Err(Attempt::Failed(LockError::OwnerDead(
                    OwnerDead::new(pid, held()),
                ))),
                RawLock::NotLocked => Err(Attempt::NotTaken),
                RawLock::Bad(b) => Err(corrupt(self.mtx.entry(), b).into()),
            },
            RawWait::CondBad(b) => Err(corrupt(self.cond.entry(), b).into()),
        }
    }

    /// Unlocks, waits for a notification, re-locks (all without a time limit).
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDead`] if re-locking found the holder dead (the monitor is
    /// locked, through the guard inside); [`LockError::Corrupt`] (the monitor is then
    /// **not** locked).
    pub fn wait<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
    ) -> Result<MonitorGuard<'a>, LockError<MonitorGuard<'a>>> {
        match self.wait_inner(guard, None, None) {
            Ok((g, _)) => Ok(g),
            Err(Attempt::Failed(e)) => Err(e),
            // A re-lock without deadline does not give up; were it ever to, lock again.
            Err(Attempt::NotTaken) => self.lock(),
        }
    }

    /// As [`Monitor::wait`], giving up after `timeout`; the flag says whether it timed out.
    ///
    /// Re-taking the mutex afterwards is bounded too: by a second `timeout` (so the call
    /// returns within twice `timeout`, whatever other processes do with the mutex).
    ///
    /// # Errors
    ///
    /// As [`Monitor::wait`], and [`LockTimeoutError::Timeout`] if the mutex could not be
    /// re-taken in that second `timeout` (a holder that does not let go, such as a
    /// crashed peer that never recorded its pid); the monitor is then **not** locked.
    pub fn wait_timeout<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
        timeout: Duration,
    ) -> Result<(MonitorGuard<'a>, bool), LockTimeoutError<MonitorGuard<'a>>> {
        let deadline = deadline_after(timeout);
        self.wait_inner(guard, deadline, relock_by(deadline, timeout))
            .map_err(Attempt::into_timeout)
    }

    /// As [`Monitor::wait`], giving up at `deadline`; the flag says whether it timed out.
    ///
    /// Re-taking the mutex afterwards is bounded as for [`Monitor::wait_timeout`]: by as
    /// long again as `deadline` was away when called.
    ///
    /// # Errors
    ///
    /// As [`Monitor::wait_timeout`].
    pub fn wait_deadline<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
        deadline: Instant,
    ) -> Result<(MonitorGuard<'a>, bool), LockTimeoutError<MonitorGuard<'a>>> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.wait_inner(guard, Some(deadline), relock_by(Some(deadline), timeout))
            .map_err(Attempt::into_timeout)
    }

    /// Waits until `pred()` holds (checked with the lock held, before each wait);
    /// returns the guard with `pred()` true.
    ///
    /// Named for what it waits for: std's `Condvar::wait_while` waits while its closure
    /// holds, the opposite, so this is not called that.
    ///
    /// # Errors
    ///
    /// As [`Monitor::wait`].
    pub fn wait_until<'a>(
        &'a self,
        mut guard: MonitorGuard<'a>,
        mut pred: impl FnMut() -> bool,
    ) -> Result<MonitorGuard<'a>, LockError<MonitorGuard<'a>>> {
        while !pred() {
            guard = self.wait(guard)?;
        }
        Ok(guard)
    }

    /// As [`Monitor::wait_until`], at most `timeout`; returns the guard and whether it
    /// timed out (`true`: `pred()` still false at the deadline).
    ///
    /// # Errors
    ///
    /// As [`Monitor::wait_timeout`] (each re-lock is bounded by `timeout` past the
    /// deadline).
    pub fn wait_until_timeout<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
        timeout: Duration,
        pred: impl FnMut() -> bool,
    ) -> Result<(MonitorGuard<'a>, bool), LockTimeoutError<MonitorGuard<'a>>> {
        let deadline = deadline_after(timeout);
        self.wait_until_inner(guard, deadline, relock_by(deadline, timeout), pred)
    }

    /// As [`Monitor::wait_until`], until `deadline`; returns the guard and whether it
    /// timed out (`true`: `pred()` still false at the deadline).
    ///
    /// # Errors
    ///
    /// As [`Monitor::wait_deadline`].
    pub fn wait_until_deadline<'a>(
        &'a self,
        guard: MonitorGuard<'a>,
        deadline: Instant,
        pred: impl FnMut() -> bool,
    ) -> Result<(MonitorGuard<'a>, bool), LockTimeoutError<MonitorGuard<'a>>> {
        let timeout = deadline.saturating_duration_since(Instant::now());
        self.wait_until_inner(
            guard,
            Some(deadline),
            relock_by(Some(deadline), timeout),
            pred,
        )
    }

    fn wait_until_inner<'a>(
        &'a self,
        mut guard: MonitorGuard<'a>,
        deadline: Option<Instant>,
        relock: Option<Instant>,
        mut pred: impl FnMut() -> bool,
    ) -> Result<(MonitorGuard<'a>, bool), LockTimeoutError<MonitorGuard<'a>>> {
        while !pred() {
            let (g, timed_out) = self
                .wait_inner(guard, deadline, relock)
                .map_err(Attempt::into_timeout)?;
            guard = g;
            if timed_out {
                let holds = pred();
                return Ok((guard, !holds));
            }
        }
        Ok((guard, false))
    }

    fn release_error(&self, e: RawRelease) -> ReleaseError {
        release_error(self.cond.entry(), e)
    }

    /// Wakes one waiter, if any is waiting.
    ///
    /// # Errors
    ///
    /// [`ReleaseError`] if the condition semaphore is corrupt or full.
    pub fn notify_one(&self) -> Result<(), ReleaseError> {
        self.raw()?.notify_one().map_err(|e| self.release_error(e))
    }

    /// Wakes every waiter waiting now.
    ///
    /// # Errors
    ///
    /// As [`Monitor::notify_one`].
    pub fn notify_all(&self) -> Result<(), ReleaseError> {
        self.raw()?.notify_all().map_err(|e| self.release_error(e))
    }

    /// Waiters not yet notified (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the count entry is out of the mapping (never once validated).
    pub fn waiting(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot (a `u32` on the wire: every value is a count).
        Ok(self.waiting_word()?.load(Relaxed) as usize)
    }

    /// The mutex (`name_mtx`).
    #[must_use]
    pub fn mutex(&self) -> &Mutex {
        &self.mtx
    }

    /// The table entry the catalog names for this monitor: `name_mtx` (the marker
    /// `name` holds no data).
    #[must_use]
    pub fn entry(&self) -> &Entry {
        self.mtx.entry()
    }

    /// The segment the monitor lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The condition semaphore (`name_cond`).
    #[must_use]
    pub fn condition(&self) -> &Semaphore {
        &self.cond
    }
}

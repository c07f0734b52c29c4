//! The `Event` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::event` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{PULSE_STALL_TIMEOUT, RawManualEvent};
use crate::error::{Corruption, StructureError};
use crate::layout::event::{AUTO_RESET, EVENT_LEN, EventHeader, MANUAL_RESET, SEM_SUFFIX};
use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::semaphore::RawAcquire;
use crate::sync::semaphore::handle::corrupt;
use crate::sync::{
    ReleaseError, Semaphore, TryWaitError, WaitError, WaitTimeoutError, check_size, composite,
};
use crate::wait::{self, Parked, deadline_after};

/// How an [`Event`] resets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventMode {
    /// Each signal lets one waiter through, then the event is clear again.
    AutoReset,
    /// A signal lets every waiter through until `reset`.
    ManualReset,
}

/// An event in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions};
/// use zeroipc::sync::{Event, EventMode, TryWaitError, WaitTimeoutError};
/// # let name = format!("/zeroipc-doc-event-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let go = Event::create(&seg, "go", EventMode::ManualReset)?;
/// assert!(matches!(go.try_wait(), Err(TryWaitError::WouldBlock)));
/// let t = go.wait_timeout(Duration::from_millis(5));
/// assert!(matches!(t, Err(WaitTimeoutError::Timeout)));
/// go.signal()?;
/// go.wait()?;
/// go.wait()?; // manual reset: stays signaled
/// go.reset()?;
/// assert!(!go.is_signaled()?);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Event {
    seg: Segment,
    entry: Entry,
    sem: Semaphore,
    mode: EventMode,
    stall_timeout: Duration,
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Event")
            .field("name", self.entry.name())
            .field("mode", &self.mode)
            .field("stall_timeout", &self.stall_timeout)
            .finish()
    }
}

impl Event {
    /// Creates a clear event: `name`, then `name_sem`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`]: `InvalidName` if `name` is longer than 27 bytes (checked
    /// before anything is created), `AlreadyExists`, or no room;
    /// [`StructureError::Corrupt`] if only one of the two entries exists (half-created).
    pub fn create(seg: &Segment, name: &str, mode: EventMode) -> Result<Self, StructureError> {
        let names = composite::names(name, &["", SEM_SUFFIX])?;
        composite::check_absent(seg, name, &names)?;
        let raw_mode = match mode {
            EventMode::AutoReset => AUTO_RESET,
            EventMode::ManualReset => MANUAL_RESET,
        };
        let entry = seg.allocate(
            &names[0],
            EVENT_LEN,
            |region, at| -> Result<(), StructureError> {
                let h: &EventHeader = region.header(at)?;
                // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
                h.mode.store(raw_mode, Relaxed);
                Ok(())
            },
        )?;
        let sem = Semaphore::create_untracked(seg, &names[1], 0, 0)?;
        seg.record(&Record::new(CatalogKind::Event, name, &entry).parts(&["", SEM_SUFFIX]));
        Ok(Self {
            seg: seg.clone(),
            entry,
            sem,
            mode,
            stall_timeout: PULSE_STALL_TIMEOUT,
        })
    }

    /// Opens the event named `name` (and its `name_sem`).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`); [`StructureError::Corrupt`] if `name_sem`
    /// is missing (half-created), the sizes are wrong or `mode` is not 0 or 1.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let names = composite::names(name, &["", SEM_SUFFIX])?;
        let entries = composite::find_all(seg, name, &names)?;
        let entry = entries[0].clone();
        check_size(&entry, EVENT_LEN)?;
        let h: &EventHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — written once by the creator (C++ re-reads it per call; no
        // implementation ever changes it).
        let mode = match h.mode.load(Relaxed) {
            AUTO_RESET => EventMode::AutoReset,
            MANUAL_RESET => EventMode::ManualReset,
            found => {
                return Err(Corruption::field(
                    name,
                    "mode",
                    u64::from(found),
                    "0 (AutoReset) or 1 (ManualReset)",
                )
                .into());
            }
        };
        let sem = Semaphore::open(seg, &names[1])?.without_holder_tracking();
        seg.check_catalog(&Record::new(CatalogKind::Event, name, &entry))?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            sem,
            mode,
            stall_timeout: PULSE_STALL_TIMEOUT,
        })
    }

    fn header(&self) -> Result<&EventHeader, Corruption> {
        self.seg.region().header(self.entry.offset())
    }

    /// Sets how long [`Event::pulse`] waits for the counted manual-reset waiters to
    /// leave before it resets anyway: the handle's stall timeout (default 50 ms, shorter
    /// than [`crate::DEFAULT_STALL_TIMEOUT`] for the reason given in the module source:
    /// a waiter that died while counted, or a corrupt `waiting` word, costs **every**
    /// pulse this long).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, sync::{Event, EventMode}};
    /// # let name = format!("/zeroipc-doc-event-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let tick = Event::create(&seg, "tick", EventMode::ManualReset)?;
    /// assert_eq!(tick.stall_timeout(), Duration::from_millis(50));
    /// let tick = tick.with_stall_timeout(Duration::from_millis(5));
    /// assert_eq!(tick.stall_timeout(), Duration::from_millis(5));
    /// tick.pulse()?; // nobody waits: signals and resets at once
    /// assert!(!tick.is_signaled()?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, timeout: Duration) -> Self {
        self.stall_timeout = timeout;
        self
    }

    /// How long [`Event::pulse`] waits for counted waiters (see
    /// [`Event::with_stall_timeout`]).
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall_timeout
    }

    /// The reset mode.
    #[must_use]
    pub fn mode(&self) -> EventMode {
        self.mode
    }

    /// Signals: manual-reset wakes every waiter; auto-reset lets one waiter through
    /// (a signal with no waiter is remembered, as upstream). Never blocks.
    ///
    /// # Errors
    ///
    /// [`ReleaseError::Overflow`] if an auto-reset event's semaphore already holds
    /// `i32::MAX` unconsumed signals; [`ReleaseError::Corrupt`] if it is corrupt.
    pub fn signal(&self) -> Result<(), ReleaseError> {
        let h = self.header()?;
        RawManualEvent {
            signaled: &h.signaled,
            waiting: &h.waiting,
        }
        .signal();
        if self.mode == EventMode::AutoReset {
            self.sem.release()?;
        }
        Ok(())
    }

    /// Clears the signal.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry is out of the mapping (never once validated).
    pub fn reset(&self) -> Result<(), Corruption> {
        // ORDERING: Release — as upstream; orders our earlier writes before the clear.
        self.header()?.signaled.store(0, Release);
        Ok(())
    }

    /// Whether it is signaled now (a snapshot; consumes nothing: see
    /// [`Event::try_wait`]).
    ///
    /// # Errors
    ///
    /// As for [`Event::reset`].
    pub fn is_signaled(&self) -> Result<bool, Corruption> {
        // ORDERING: Acquire pairs with the Release store in `signal`.
        Ok(self.header()?.signaled.load(Acquire) != 0)
    }

    /// Waits until `deadline` (`None`: forever); `Ok(false)` if it passed first.
    fn wait_inner(&self, deadline: Option<Instant>) -> Result<bool, Corruption> {
        let h = self.header()?;
        if self.mode == EventMode::AutoReset {
            // The semaphore is untracked (no holder registry, no reclaim): its raw
            // acquire is the whole operation, and it cannot report a dead owner.
            match self.sem.raw()?.acquire(deadline) {
                Ok(()) => {}
                Err(RawAcquire::NotAcquired) => return Ok(false),
                Err(RawAcquire::Bad(b)) => return Err(corrupt(self.sem.entry(), b)),
            }
            // ORDERING: Release — as upstream: consumed.
            h.signaled.store(0, Release);
            return Ok(true);
        }
        let raw = RawManualEvent {
            signaled: &h.signaled,
            waiting: &h.waiting,
        };
        Ok(raw.wait(deadline))
    }

    /// Waits until signaled (auto-reset: consumes the signal).
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupt`] if the semaphore is corrupt.
    pub fn wait(&self) -> Result<(), WaitError> {
        // A wait without deadline does not return `false`; were it ever to, wait on.
        while !self.wait_inner(None)? {}
        Ok(())
    }

    /// Passes if signaled now (auto-reset: consumes the signal); never blocks.
    ///
    /// # Errors
    ///
    /// [`TryWaitError::WouldBlock`] if not signaled; [`TryWaitError::Corrupt`] if the
    /// semaphore is corrupt.
    pub fn try_wait(&self) -> Result<(), TryWaitError> {
        let h = self.header()?;
        let passed = if self.mode == EventMode::AutoReset {
            match self.sem.raw()?.try_acquire() {
                Ok(()) => {
                    // ORDERING: Release — as upstream: consumed.
                    h.signaled.store(0, Release);
                    true
                }
                Err(RawAcquire::NotAcquired) => false,
                Err(RawAcquire::Bad(b)) => return Err(corrupt(self.sem.entry(), b).into()),
            }
        } else {
            // ORDERING: Acquire pairs with the Release store in `signal`.
            h.signaled.load(Acquire) != 0
        };
        if passed {
            Ok(())
        } else {
            Err(TryWaitError::WouldBlock)
        }
    }

    /// Waits at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeoutError> {
        self.wait_deadline_opt(deadline_after(timeout))
    }

    /// Waits until `deadline`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitTimeoutError> {
        self.wait_deadline_opt(Some(deadline))
    }

    fn wait_deadline_opt(&self, deadline: Option<Instant>) -> Result<(), WaitTimeoutError> {
        if self.wait_inner(deadline)? {
            Ok(())
        } else {
            Err(WaitTimeoutError::Timeout)
        }
    }

    /// Signals, lets the counted manual-reset waiters leave (for at most the
    /// [stall timeout](Event::with_stall_timeout), 50 ms unless set), then resets.
    ///
    /// # Errors
    ///
    /// As for [`Event::signal`].
    pub fn pulse(&self) -> Result<(), ReleaseError> {
        self.signal()?;
        let h = self.header()?;
        let deadline = deadline_after(self.stall_timeout);
        loop {
            // ORDERING: Acquire pairs with the waiters' Release decrement.
            let w = h.waiting.load(Acquire);
            if w == 0 || wait::park(&h.waiting, w, deadline) == Parked::TimedOut {
                break;
            }
        }
        self.reset()?;
        Ok(())
    }

    /// Counted manual-reset waiters now (a snapshot; the wire word is a `u32`, so every
    /// value is a count; waiters that died stay counted).
    ///
    /// # Errors
    ///
    /// As for [`Event::reset`].
    pub fn waiting(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        Ok(self.header()?.waiting.load(Relaxed) as usize)
    }

    /// The `name_sem` semaphore.
    #[must_use]
    pub fn semaphore(&self) -> &Semaphore {
        &self.sem
    }

    /// The table entry `name` (the 12-byte header; `name_sem` is
    /// [`Event::semaphore`]'s).
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment the event lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

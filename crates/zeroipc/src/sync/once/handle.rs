//! The `Once` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::once` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{OnceOutcome, RawOnce, RawOnceError};
use crate::error::{Corruption, StructureError};
use crate::layout::once::{ONCE_LEN, ONCE_PID_OFFSET, PENDING};
use crate::loom::{AtomicU32, Ordering::Relaxed};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::semaphore::handle::corrupt;
use crate::sync::{WaitError, WaitTimeoutError};
use crate::sys::process::{current_pid, pid_alive};
use crate::wait::deadline_after;

/// A once-only initialisation flag in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, sync::{Once, OnceOutcome}};
/// # let name = format!("/zeroipc-doc-once-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let init = Once::create(&seg, "init")?;
/// assert_eq!(init.call_once(|| println!("setting up"))?, OnceOutcome::Ran);
/// assert_eq!(init.call_once(|| unreachable!())?, OnceOutcome::AlreadyDone);
/// assert!(init.is_completed()?);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Once {
    seg: Segment,
    entry: Entry,
}

impl fmt::Debug for Once {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Once")
            .field("name", self.entry.name())
            .finish_non_exhaustive()
    }
}

impl Once {
    /// Creates a pending Once named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if the name is taken or there is no room.
    pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.allocate(name, ONCE_LEN, |region, at| -> Result<(), StructureError> {
            let s: &AtomicU32 = region.header(at)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
            s.store(PENDING, Relaxed);
            // The gap after the entry (unpublished, under the allocation lock): clear it.
            if let Ok(pid) = region.header::<AtomicU32>(at + ONCE_PID_OFFSET) {
                pid.store(0, Relaxed);
            }
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Once, name, &entry));
        Ok(Self {
            seg: seg.clone(),
            entry,
        })
    }

    /// Opens the Once named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
    /// if its size is not 4.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.find(name)?;
        crate::sync::check_size(&entry, ONCE_LEN)?;
        let _: &AtomicU32 = seg.region().header(entry.offset())?;
        seg.check_catalog(&Record::new(CatalogKind::Once, name, &entry))?;
        Ok(Self {
            seg: seg.clone(),
            entry,
        })
    }

    fn raw(&self) -> Result<RawOnce<'_>, Corruption> {
        let region = self.seg.region();
        let state = region.header::<AtomicU32>(self.entry.offset())?;
        let pid = region
            .header::<AtomicU32>(self.entry.offset() + ONCE_PID_OFFSET)
            .ok();
        Ok(RawOnce { state, pid })
    }

    fn call_inner(
        &self,
        deadline: Option<Instant>,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, WaitTimeoutError> {
        self.raw()?
            .call(current_pid(), deadline, pid_alive, f)
            .map_err(|e| match e {
                RawOnceError::Timeout => WaitTimeoutError::Timeout,
                RawOnceError::Bad(b) => WaitTimeoutError::Corrupt(corrupt(&self.entry, b)),
            })
    }

    /// Runs `f` unless it already ran (in any process); waits while another runs it.
    ///
    /// If a zeroipc initialiser died, this caller runs `f` and gets
    /// [`OnceOutcome::Recovered`]. A dead initialiser of another language makes this
    /// wait forever: prefer [`Once::call_once_timeout`] when such peers share it.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupt`] if `state` is not 0, 1 or 2.
    pub fn call_once(&self, f: impl FnOnce()) -> Result<OnceOutcome, WaitError> {
        match self.call_inner(None, f) {
            Ok(o) => Ok(o),
            Err(WaitTimeoutError::Corrupt(c)) => Err(WaitError::Corrupt(c)),
            // The raw call parks with no deadline, and `wait::park` reports `TimedOut`
            // only for a deadline that passed (and `f` is gone: no retry).
            Err(WaitTimeoutError::Timeout) => {
                unreachable!("a call_once without deadline timed out")
            }
        }
    }

    /// As [`Once::call_once`], waiting for another initialiser at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`] (`f` did not run); [`WaitTimeoutError::Corrupt`].
    pub fn call_once_timeout(
        &self,
        timeout: Duration,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, WaitTimeoutError> {
        self.call_inner(deadline_after(timeout), f)
    }

    /// As [`Once::call_once`], waiting for another initialiser until `deadline`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`] (`f` did not run); [`WaitTimeoutError::Corrupt`].
    pub fn call_once_deadline(
        &self,
        deadline: Instant,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, WaitTimeoutError> {
        self.call_inner(Some(deadline), f)
    }

    /// Whether the initialiser finished.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0, 1 or 2.
    pub fn is_completed(&self) -> Result<bool, Corruption> {
        self.raw()?.is_done().map_err(|b| corrupt(&self.entry, b))
    }

    /// The raw state word (0 pending, 1 executing, 2 done).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry is out of the mapping (never for a validated entry).
    pub fn state(&self) -> Result<u32, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        Ok(self.raw()?.state.load(Relaxed))
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment the Once lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

//! The `Latch` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::latch` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{RawLatch, RawLatchError};
use crate::error::{Corruption, StructureError};
use crate::layout::latch::{LATCH_LEN, LatchHeader};
use crate::loom::Ordering::Relaxed;
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::semaphore::handle::{corrupt, count_word};
use crate::sync::{TryWaitError, WaitError, WaitTimeoutError, check_size};
use crate::wait::deadline_after;

/// A countdown latch in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, sync::{Latch, TryWaitError, WaitTimeoutError}};
/// # let name = format!("/zeroipc-doc-latch-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let ready = Latch::create(&seg, "ready", 2)?;
/// ready.count_down(1)?;
/// assert!(matches!(ready.try_wait(), Err(TryWaitError::WouldBlock)));
/// let t = ready.wait_timeout(Duration::from_millis(5));
/// assert!(matches!(t, Err(WaitTimeoutError::Timeout)));
/// ready.count_down(5)?; // saturates at 0
/// ready.wait()?;
/// ready.try_wait()?;
/// assert_eq!((ready.count()?, ready.initial_count()?), (0, 2));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Latch {
    seg: Segment,
    entry: Entry,
}

impl fmt::Debug for Latch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Latch")
            .field("name", self.entry.name())
            .finish_non_exhaustive()
    }
}

impl Latch {
    /// Creates a latch that opens after `count` count-downs.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] if `count > i32::MAX` (the wire field is an
    /// `i32`); [`StructureError::Table`] if the name is taken or there is no room.
    pub fn create(seg: &Segment, name: &str, count: usize) -> Result<Self, StructureError> {
        let Some(wire) = i32::try_from(count)
            .ok()
            .and_then(|c| u32::try_from(c).ok())
        else {
            return Err(StructureError::InvalidCapacity {
                requested: u64::try_from(count).unwrap_or(u64::MAX),
                reason: "a latch count is an i32 on the wire: at most i32::MAX",
            });
        };
        let entry = seg.allocate(
            name,
            LATCH_LEN,
            |region, at| -> Result<(), StructureError> {
                let h: &LatchHeader = region.header(at)?;
                // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
                h.count.store(wire, Relaxed);
                h.initial_count.store(wire, Relaxed);
                Ok(())
            },
        )?;
        seg.record(&Record::new(CatalogKind::Latch, name, &entry));
        Ok(Self {
            seg: seg.clone(),
            entry,
        })
    }

    /// Opens the latch named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
    /// if its size is not 16.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.find(name)?;
        check_size(&entry, LATCH_LEN)?;
        let _: &LatchHeader = seg.region().header(entry.offset())?;
        seg.check_catalog(&Record::new(CatalogKind::Latch, name, &entry))?;
        Ok(Self {
            seg: seg.clone(),
            entry,
        })
    }

    fn header(&self) -> Result<&LatchHeader, Corruption> {
        self.seg.region().header(self.entry.offset())
    }

    /// Counts down by `n`, saturating at 0 (any `n` above the count, however large,
    /// opens the latch); `n == 0` does nothing. Never blocks.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `count` is negative.
    pub fn count_down(&self, n: usize) -> Result<(), Corruption> {
        if n == 0 {
            return Ok(());
        }
        // The count is at most i32::MAX: a larger `n` saturates exactly as i32::MAX does.
        let n = i32::try_from(n).unwrap_or(i32::MAX);
        let h = self.header()?;
        RawLatch { count: &h.count }
            .count_down(n)
            .map_err(|b| corrupt(&self.entry, b))
    }

    fn wait_inner(&self, deadline: Option<Instant>) -> Result<(), WaitTimeoutError> {
        let h = self.header()?;
        RawLatch { count: &h.count }
            .wait(deadline)
            .map_err(|e| match e {
                RawLatchError::Timeout => WaitTimeoutError::Timeout,
                RawLatchError::Bad(b) => WaitTimeoutError::Corrupt(corrupt(&self.entry, b)),
            })
    }

    /// Waits until the count reaches 0.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupt`] if `count` is negative.
    pub fn wait(&self) -> Result<(), WaitError> {
        loop {
            match self.wait_inner(None) {
                Ok(()) => return Ok(()),
                Err(WaitTimeoutError::Corrupt(c)) => return Err(WaitError::Corrupt(c)),
                // A wait without deadline does not time out; were it ever to, wait on.
                Err(WaitTimeoutError::Timeout) => {}
            }
        }
    }

    /// Passes if the count is 0 now; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryWaitError::WouldBlock`] if count-downs are still due;
    /// [`TryWaitError::Corrupt`] if `count` is negative.
    pub fn try_wait(&self) -> Result<(), TryWaitError> {
        let h = self.header()?;
        match (RawLatch { count: &h.count }).is_done() {
            Ok(true) => Ok(()),
            Ok(false) => Err(TryWaitError::WouldBlock),
            Err(b) => Err(TryWaitError::Corrupt(corrupt(&self.entry, b))),
        }
    }

    /// Waits at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitTimeoutError> {
        self.wait_inner(deadline_after(timeout))
    }

    /// Waits until `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitTimeoutError> {
        self.wait_inner(Some(deadline))
    }

    /// The count-downs still due now (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `count` (an `i32` on the wire) is negative, naming the value
    /// found.
    pub fn count(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        let raw = self.header()?.count.load(Relaxed);
        count_word(&self.entry, "count", raw)
    }

    /// The count it was created with.
    ///
    /// # Errors
    ///
    /// As for [`Latch::count`], for `initial_count`.
    pub fn initial_count(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — written once by the creator.
        let raw = self.header()?.initial_count.load(Relaxed);
        count_word(&self.entry, "initial_count", raw)
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment the latch lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

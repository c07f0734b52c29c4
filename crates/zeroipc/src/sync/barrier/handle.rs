//! The `Barrier` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::barrier` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{RawBarrier, RawBarrierWait};
use crate::error::{Corruption, StructureError};
use crate::layout::barrier::{BARRIER_LEN, BarrierHeader};
use crate::loom::Ordering::Relaxed;
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::semaphore::handle::corrupt;
use crate::sync::semaphore::handle::count_word;
use crate::sync::{WaitError, WaitTimeoutError, check_size};
use crate::wait::deadline_after;

/// What [`Barrier::wait`] returns: whether this caller was the last to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// `true` for exactly one participant per cycle: the last arriver.
    #[must_use]
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

/// A reusable barrier in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions, sync::{Barrier, WaitTimeoutError}};
/// # let name = format!("/zeroipc-doc-barrier-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let b = Barrier::create(&seg, "step", 1)?;
/// assert!(b.wait()?.is_leader()); // one participant: passes at once
/// let two = Barrier::create(&seg, "pair", 2)?;
/// let t = two.wait_timeout(Duration::from_millis(5));
/// assert!(matches!(t, Err(WaitTimeoutError::Timeout)));
/// assert_eq!(two.arrived()?, 0); // the timed-out arrival was withdrawn
/// assert_eq!(two.participants(), 2);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Barrier {
    seg: Segment,
    entry: Entry,
    n: i32,
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("name", self.entry.name())
            .field("num_participants", &self.n)
            .finish()
    }
}

impl Barrier {
    /// Creates a barrier for `participants` processes or threads.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0 or more than `i32::MAX` participants
    /// (the wire field is an `i32`); [`StructureError::Table`] if the name is taken or
    /// there is no room.
    pub fn create(seg: &Segment, name: &str, participants: usize) -> Result<Self, StructureError> {
        let Ok(n) = i32::try_from(participants) else {
            return Err(StructureError::InvalidCapacity {
                requested: u64::try_from(participants).unwrap_or(u64::MAX),
                reason: "more than i32::MAX participants (an i32 on the wire)",
            });
        };
        if n == 0 {
            return Err(StructureError::InvalidCapacity {
                requested: 0,
                reason: "a barrier needs at least one participant",
            });
        }
        let entry = seg.allocate(
            name,
            BARRIER_LEN,
            |region, at| -> Result<(), StructureError> {
                let h: &BarrierHeader = region.header(at)?;
                // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
                #[allow(clippy::cast_sign_loss)] // n > 0, checked above
                h.num_participants.store(n as u32, Relaxed);
                Ok(())
            },
        )?;
        seg.record(&Record::new(CatalogKind::Barrier, name, &entry));
        Ok(Self {
            seg: seg.clone(),
            entry,
            n,
        })
    }

    /// Opens the barrier named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
    /// if its size is not 16 or `num_participants` is not positive.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.find(name)?;
        check_size(&entry, BARRIER_LEN)?;
        let h: &BarrierHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — written once by the creator, published with the entry.
        let raw = h.num_participants.load(Relaxed);
        let n = i32::try_from(raw).ok().filter(|&n| n > 0).ok_or_else(|| {
            Corruption::field(
                entry.name(),
                "num_participants",
                u64::from(raw),
                "1 ..= i32::MAX",
            )
        })?;
        seg.check_catalog(&Record::new(CatalogKind::Barrier, name, &entry))?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            n,
        })
    }

    fn header(&self) -> Result<&BarrierHeader, Corruption> {
        self.seg.region().header(self.entry.offset())
    }

    fn wait_inner(&self, deadline: Option<Instant>) -> Result<BarrierWaitResult, WaitTimeoutError> {
        let h = self.header()?;
        match (RawBarrier {
            arrived: &h.arrived,
            generation: &h.generation,
            n: self.n,
        })
        .wait(deadline)
        {
            RawBarrierWait::Passed(leader) => Ok(BarrierWaitResult(leader)),
            RawBarrierWait::TimedOut => Err(WaitTimeoutError::Timeout),
            RawBarrierWait::Bad(b) => Err(WaitTimeoutError::Corrupt(corrupt(&self.entry, b))),
        }
    }

    /// Arrives and waits for all participants.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupt`] if `arrived` is out of range on arrival (more
    /// participants than `num_participants`, or a counter broken by an upstream peer).
    pub fn wait(&self) -> Result<BarrierWaitResult, WaitError> {
        match self.wait_inner(None) {
            Ok(r) => Ok(r),
            Err(WaitTimeoutError::Corrupt(c)) => Err(WaitError::Corrupt(c)),
            // The raw wait parks with no deadline, and `wait::park` reports `TimedOut`
            // only for a deadline that passed; retrying would arrive a second time.
            Err(WaitTimeoutError::Timeout) => {
                unreachable!("a barrier wait without deadline timed out")
            }
        }
    }

    /// Arrives and waits at most `timeout`; on timeout the arrival is withdrawn.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`] as for `wait`.
    pub fn wait_timeout(&self, timeout: Duration) -> Result<BarrierWaitResult, WaitTimeoutError> {
        self.wait_inner(deadline_after(timeout))
    }

    /// Arrives and waits until `deadline`; on timeout the arrival is withdrawn.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`] as for `wait`.
    pub fn wait_deadline(&self, deadline: Instant) -> Result<BarrierWaitResult, WaitTimeoutError> {
        self.wait_inner(Some(deadline))
    }

    /// Arrivals in the current cycle (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `arrived` (an `i32` on the wire) is negative, naming the value
    /// found.
    pub fn arrived(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        let raw = self.header()?.arrived.load(Relaxed);
        count_word(&self.entry, "arrived", raw)
    }

    /// Completed cycles (a snapshot): the wire's 32-bit counter, which wraps (a cycle
    /// number, not a count, so it stays the wire's width; read as unsigned, wrapping
    /// from `u32::MAX` to 0).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the header is out of the mapping (never for a validated entry).
    pub fn generation(&self) -> Result<u32, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        Ok(self.header()?.generation.load(Relaxed))
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment the barrier lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Participants per cycle (validated at open: 1 ..= `i32::MAX`).
    #[must_use]
    pub fn participants(&self) -> usize {
        usize::try_from(self.n).unwrap_or(0)
    }
}

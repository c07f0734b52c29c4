//! Latch: a one-shot countdown; waiters pass once it reaches zero.
//!
//! # Layout (FORMAT.md §7.4)
//!
//! | off | size | field           | notes                      |
//! |-----|------|-----------------|----------------------------|
//! | 0   | 4    | `count`         | i32, count-downs still due |
//! | 4   | 4    | `initial_count` | i32                        |
//! | 8   | 8    | padding         | 0                          |
//!
//! # Synchronization
//!
//! | store (Release)                     | load (Acquire)          | publishes                        |
//! |-------------------------------------|-------------------------|----------------------------------|
//! | `count` CAS in `count_down`         | `count` load in `wait`  | each worker's writes before its count-down |
//!
//! `count_down` saturates at 0 (as upstream) and, when it reaches 0, wakes every waiter
//! sleeping on the `count` futex. Waiters re-check every millisecond, for peers that poll.
//!
//! # Process death
//!
//! A worker that dies before counting down leaves the latch short forever (FORMAT.md D-20):
//! waiters cannot tell a slow worker from a dead one, so use [`Latch::wait_timeout`].

use std::time::Instant;

use crate::loom::{
    AtomicU32,
    Ordering::{Acquire, Release},
};
use crate::sync::BadWord;
use crate::wait::{self, Parked};

/// Why a raw latch operation failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawLatchError {
    /// The deadline passed.
    Timeout,
    /// `count` is negative.
    Bad(BadWord),
}

fn bad(found: u32) -> BadWord {
    BadWord {
        field: "count",
        found: u64::from(found),
        expected: "0 ..= i32::MAX",
    }
}

/// The latch state machine over a view of `count`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLatch<'a> {
    pub(crate) count: &'a AtomicU32,
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // i32 wire values held as u32 bits
impl RawLatch<'_> {
    /// Subtracts `n` (> 0), saturating at 0; wakes all waiters when it reaches 0.
    pub(crate) fn count_down(&self, n: i32) -> Result<(), BadWord> {
        debug_assert!(n > 0);
        // ORDERING: Acquire — as upstream's failure order; the CAS is what publishes.
        let mut c = self.count.load(Acquire);
        loop {
            let v = c as i32;
            if v < 0 {
                return Err(bad(c));
            }
            if v == 0 {
                return Ok(());
            }
            let new = if v >= n { v - n } else { 0 };
            // ORDERING: Release pairs with the Acquire load in `wait`: our writes before the
            // count-down happen-before the waiters' return.
            match self
                .count
                .compare_exchange_weak(c, new as u32, Release, Acquire)
            {
                Ok(_) => {
                    if new == 0 {
                        wait::wake_all(self.count);
                    }
                    return Ok(());
                }
                Err(now) => c = now,
            }
        }
    }

    /// Whether it reached zero.
    pub(crate) fn is_done(&self) -> Result<bool, BadWord> {
        // ORDERING: Acquire pairs with the Release CAS in `count_down`.
        let c = self.count.load(Acquire);
        match c as i32 {
            0 => Ok(true),
            v if v > 0 => Ok(false),
            _ => Err(bad(c)),
        }
    }

    /// Waits until it reaches zero or `deadline` passes.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> Result<(), RawLatchError> {
        loop {
            if self.is_done().map_err(RawLatchError::Bad)? {
                return Ok(());
            }
            // ORDERING: Relaxed is enough for the futex's expected value; `is_done` above
            // (Acquire) is what synchronises.
            let c = self.count.load(crate::loom::Ordering::Relaxed);
            if c == 0 || wait::spin_while(self.count, c) {
                continue;
            }
            if wait::park(self.count, c, deadline) == Parked::TimedOut {
                return match self.is_done().map_err(RawLatchError::Bad)? {
                    true => Ok(()),
                    false => Err(RawLatchError::Timeout),
                };
            }
        }
    }
}

#[cfg(not(loom))]
pub use handle::Latch;

#[cfg(not(loom))]
mod handle {
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
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    #[test]
    fn loom_latch_count_down_wakes_waiter() {
        loom::model(|| {
            let c = Arc::new(AtomicU32::new(2));
            let c2 = c.clone();
            let t = thread::spawn(move || RawLatch { count: &c2 }.wait(None));
            let l = RawLatch { count: &c };
            l.count_down(1).unwrap();
            l.count_down(3).unwrap();
            assert_eq!(t.join().unwrap(), Ok(()));
            assert_eq!(c.load(Acquire), 0);
        });
    }
}

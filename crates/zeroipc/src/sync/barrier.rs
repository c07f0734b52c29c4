//! Barrier: N processes meet at a point, cycle after cycle.
//!
//! # Layout (FORMAT.md §7.3)
//!
//! | off | size | field              | notes                          |
//! |-----|------|--------------------|--------------------------------|
//! | 0   | 4    | `arrived`          | i32, arrivals this cycle       |
//! | 4   | 4    | `generation`       | i32, completed cycles (wraps)  |
//! | 8   | 4    | `num_participants` | i32 > 0                        |
//! | 12  | 4    | padding            | 0                              |
//!
//! # Synchronization
//!
//! | store (Release)                         | load (Acquire)              | publishes                        |
//! |-----------------------------------------|-----------------------------|----------------------------------|
//! | `arrived` fetch_add (AcqRel)            | same, by later arrivers     | each arriver's writes before it  |
//! | `generation` fetch_add by the last one  | `generation` load by waiters| every participant's writes of the cycle |
//!
//! The last arriver resets `arrived` to 0, **then** bumps `generation` (the code order of
//! every upstream implementation), then wakes everyone sleeping on the `generation` futex.
//!
//! **D-19 fixed.** Upstream, a waiter that times out decrements `arrived` unconditionally; if
//! the last participant had just reset it to 0, `arrived` becomes −1 and every later cycle
//! hangs. Here a timed-out waiter withdraws with a CAS that only decrements `arrived` when it
//! lies strictly between 0 and `num_participants` and `generation` is unchanged. If it finds
//! `arrived == num_participants` (the last one arrived and is releasing) or `0` (the last one
//! reset the counter), the cycle completed with our arrival, and it reports passing instead
//! of timing out. (loom caught the `== num_participants` case.)
//!
//! # Process death
//!
//! A participant that dies before arriving leaves the cycle one short: the others cannot tell
//! it from a slow one, so they get [`WaitTimeoutError::Timeout`](super::WaitTimeoutError::Timeout) from
//! [`Barrier::wait_timeout`] and withdraw their arrival, leaving the barrier usable.
//! One that dies after arriving is harmless.

use std::time::Instant;

use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::wait::{self, Parked};

/// How a raw barrier wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawBarrierWait {
    /// Passed; `true` for the last arriver (the one that released the others).
    Passed(bool),
    /// The deadline passed; our arrival was withdrawn.
    TimedOut,
    /// `arrived` is outside `0..num_participants` on arrival.
    Bad(BadWord),
}

/// The barrier state machine over views of `arrived` and `generation`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawBarrier<'a> {
    pub(crate) arrived: &'a AtomicU32,
    pub(crate) generation: &'a AtomicU32,
    /// Validated `num_participants` (> 0).
    pub(crate) n: i32,
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // i32 wire values held as u32 bits
impl RawBarrier<'_> {
    /// Arrives and waits for the others until `deadline`.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> RawBarrierWait {
        // ORDERING: Acquire pairs with the last arriver's Release bump of `generation`.
        let g = self.generation.load(Acquire);
        // ORDERING: AcqRel — the last arriver acquires every earlier arriver's writes; each
        // arriver releases its own.
        let before = self.arrived.fetch_add(1, AcqRel) as i32;
        let a = before.wrapping_add(1);
        if a <= 0 || a > self.n {
            // ORDERING: Relaxed — undoing our own increment of a broken counter.
            self.arrived.fetch_sub(1, Relaxed);
            return RawBarrierWait::Bad(BadWord {
                field: "arrived",
                found: u64::from(before as u32),
                expected: "0 ..= num_participants - 1 on arrival",
            });
        }
        if a == self.n {
            // ORDERING: Relaxed — published by the Release bump of `generation` below.
            self.arrived.store(0, Relaxed);
            crate::fault::point("barrier.wait.before_release");
            // ORDERING: Release pairs with the Acquire loads of `generation` in waiters.
            self.generation.fetch_add(1, Release);
            wait::wake_all(self.generation);
            return RawBarrierWait::Passed(true);
        }
        crate::fault::point("barrier.wait.after_arrive");
        loop {
            // ORDERING: Acquire pairs with the last arriver's Release bump.
            if self.generation.load(Acquire) != g {
                return RawBarrierWait::Passed(false);
            }
            if wait::spin_while(self.generation, g) {
                continue;
            }
            if wait::park(self.generation, g, deadline) == Parked::TimedOut {
                return self.withdraw(g);
            }
        }
    }

    /// Takes our arrival back after a timeout, without D-19's race.
    fn withdraw(&self, g: u32) -> RawBarrierWait {
        // ORDERING: Relaxed — re-read by the CAS; `generation` (Acquire) decides "passed".
        let mut a = self.arrived.load(Relaxed);
        loop {
            // ORDERING: Acquire pairs with the last arriver's Release bump.
            if self.generation.load(Acquire) != g {
                return RawBarrierWait::Passed(false);
            }
            let v = a as i32;
            if v <= 0 || v >= self.n {
                // `n`: the last participant arrived and is releasing us (reset and bump are
                // on their way). `0`: it already reset the counter, the bump follows. Our
                // arrival counted for a completed cycle either way: we passed.
                return RawBarrierWait::Passed(false);
            }
            // ORDERING: Relaxed — only takes back our own count; nothing is published.
            match self
                .arrived
                .compare_exchange_weak(a, a.wrapping_sub(1), Relaxed, Relaxed)
            {
                Ok(_) => return RawBarrierWait::TimedOut,
                Err(now) => a = now,
            }
        }
    }
}

#[cfg(not(loom))]
pub use handle::{Barrier, BarrierWaitResult};

#[cfg(not(loom))]
mod handle {
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
        pub fn create(
            seg: &Segment,
            name: &str,
            participants: usize,
        ) -> Result<Self, StructureError> {
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

        fn wait_inner(
            &self,
            deadline: Option<Instant>,
        ) -> Result<BarrierWaitResult, WaitTimeoutError> {
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
        pub fn wait_timeout(
            &self,
            timeout: Duration,
        ) -> Result<BarrierWaitResult, WaitTimeoutError> {
            self.wait_inner(deadline_after(timeout))
        }

        /// Arrives and waits until `deadline`; on timeout the arrival is withdrawn.
        ///
        /// # Errors
        ///
        /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`] as for `wait`.
        pub fn wait_deadline(
            &self,
            deadline: Instant,
        ) -> Result<BarrierWaitResult, WaitTimeoutError> {
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
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Words {
        arrived: AtomicU32,
        generation: AtomicU32,
    }

    #[test]
    fn loom_barrier_two_participants_both_pass_one_leader() {
        loom::model(|| {
            let w = Arc::new(Words {
                arrived: AtomicU32::new(0),
                generation: AtomicU32::new(0),
            });
            let w2 = w.clone();
            let t = thread::spawn(move || {
                RawBarrier {
                    arrived: &w2.arrived,
                    generation: &w2.generation,
                    n: 2,
                }
                .wait(None)
            });
            let mine = RawBarrier {
                arrived: &w.arrived,
                generation: &w.generation,
                n: 2,
            }
            .wait(None);
            let theirs = t.join().unwrap();
            let leaders = [mine, theirs]
                .iter()
                .filter(|r| **r == RawBarrierWait::Passed(true))
                .count();
            assert_eq!(leaders, 1);
            assert_eq!(w.arrived.load(Relaxed), 0);
            assert_eq!(w.generation.load(Relaxed), 1);
        });
    }

    #[test]
    fn loom_barrier_timed_out_waiter_never_drives_arrived_negative() {
        loom::model(|| {
            let w = Arc::new(Words {
                arrived: AtomicU32::new(0),
                generation: AtomicU32::new(0),
            });
            let w2 = w.clone();
            // A timed waiter (the loom futex model times out at any point) races the last arriver.
            let t = thread::spawn(move || {
                RawBarrier {
                    arrived: &w2.arrived,
                    generation: &w2.generation,
                    n: 2,
                }
                .wait(Some(Instant::now()))
            });
            let mine = RawBarrier {
                arrived: &w.arrived,
                generation: &w.generation,
                n: 2,
            }
            .wait(Some(Instant::now()));
            let theirs = t.join().unwrap();
            let arrived = w.arrived.load(Relaxed) as i32;
            assert!(
                arrived >= 0,
                "arrived went to {arrived} ({mine:?}, {theirs:?})"
            );
            if w.generation.load(Relaxed) == 1 {
                // The cycle completed: both arrivals counted, nobody reports a timeout.
                assert_eq!(arrived, 0, "{mine:?} {theirs:?}");
                assert!(
                    !matches!(mine, RawBarrierWait::TimedOut),
                    "{mine:?} {theirs:?}"
                );
                assert!(
                    !matches!(theirs, RawBarrierWait::TimedOut),
                    "{mine:?} {theirs:?}"
                );
            }
        });
    }
}

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
mod handle;

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

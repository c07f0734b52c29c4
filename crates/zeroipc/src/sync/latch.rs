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
mod handle;

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

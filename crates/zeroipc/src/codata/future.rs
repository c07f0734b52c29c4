//! Future: a value (or an error message) set exactly once by one process and awaited by
//! any number of others, blocking or with `.await`.
//!
//! # Layout (FORMAT.md §6.1)
//!
//! | off     | size | field             | notes                                                  |
//! |---------|------|-------------------|--------------------------------------------------------|
//! | 0       | 4    | `state`           | PENDING 0, COMPUTING 1, READY 2, ERROR 3; else corrupt |
//! | 4       | 4    | `waiters`         | blocked `get` callers, incremented/decremented as C++  |
//! | 8       | 8    | `completion_time` | monotonic ns once READY/ERROR; **before, a zeroipc setter's pid as `0x5A504944 << 32 \| pid`** |
//! | 16      | es   | `value`           | valid once READY                                       |
//! | 16 + es | 256  | `error_msg`       | NUL-terminated, valid once ERROR                       |
//!
//! zeroipc creates entries of the C++ size `align_up(272 + es, max(8, align_of T))`; it opens
//! those and Python's unpadded `272 + es`. Any other size is refused.
//!
//! **The setter's pid.** The format has no owner field. `completion_time` means nothing
//! before the future completes (C++ and Python write it just before READY/ERROR), so from its
//! claim until it writes the time a zeroipc setter keeps `0x5A504944 << 32 | pid` there
//! ("ZPID" in the high half: a C++ monotonic-nanosecond or Python wall-clock-microsecond time
//! never has that high half in the next few centuries). While it writes the time and
//! publishes, it keeps the same word in the **finish owner word**: the last 8-aligned 8 bytes
//! inside `error_msg` (`align_down(16 + es + 248, 8)`), which no reader looks at before ERROR
//! and which a message zeroipc writes (≤ 240 bytes) never reaches. Both are back to C++'s
//! bytes once the future is final: `completion_time` holds the real completion time, the
//! finish owner word is zeroed.
//!
//! # Synchronization
//!
//! | store (Release)                              | load (Acquire)                   | publishes                 |
//! |----------------------------------------------|----------------------------------|---------------------------|
//! | `state = READY/ERROR` in `RawFuture::finish` | `state` in `get`/`try_get`/await | the value or the message  |
//! | CAS `PENDING → COMPUTING` (claim, AcqRel)    | `state` in `get`/`claim`         | only one setter; its owner word in `completion_time` |
//! | `completion_time = time` in `finish`         | `completion_time` in `owner_word_now` | the finish owner word |
//!
//! The claim is a CAS, so a second `set_value`/`set_error` (from any process, also C++)
//! fails with [`SetError::AlreadySet`]. [`Future::set_error`] writes the message **before**
//! publishing ERROR (C++ publishes first and writes after, FORMAT.md D-13; a zeroipc reader of
//! a C++ error may see a partial message, as C++ readers do).
//!
//! Python setters do not honour COMPUTING (FORMAT.md IH-15: a second Python setter proceeds
//! and overwrites): do not let a Python process set a Future that others may set.
//!
//! # Waiting
//!
//! `get*` spin briefly, then sleep on a shared futex on `state`, re-checking at least every
//! millisecond (C++ and Python setters never wake anyone). zeroipc setters wake all sleepers.
//! `.await` ([`Future::get_async`], or `(&future).await`) does not poll the executor: a
//! pending poll registers the task's `Waker` and the state value it read with the process's
//! one reactor thread (`wait::reactor`: `futex_waitv` on the words of every pending
//! awaitable), which wakes the task when the state word changes, at the deadline, or every
//! 50 ms while COMPUTING to check that the setter lives. No thread per awaitable: 2,000
//! awaited futures cost one thread. Dropping the awaitable withdraws its registration.
//!
//! # Process death: the claim protocol
//!
//! At every instruction of a zeroipc setter, a COMPUTING future names its setter in one of
//! the two owner words (`completion_time` first, else the finish owner word). Each step, what
//! a SIGKILL right after it leaves, and how a survivor proceeds (each gap has a row in
//! `tests/crash_matrix.rs`, point in brackets):
//!
//! | step (zeroipc setter `me`) | a kill right after it leaves | a survivor |
//! |---|---|---|
//! | 1. CAS `completion_time`: 0 / a dead pid / other bytes (only if the state is still PENDING: a completion time is never replaced) → `me` (a live pid: [`SetError::AlreadySet`]) \[`future.claim.after_intent`\] | PENDING, `completion_time` = dead `me` | its claim overwrites the dead intent (CAS) and sets the future |
//! | 2. CAS `state` PENDING → COMPUTING (AcqRel) \[`future.claim.after_cas`\]; on failure (a C++/Python setter claimed first, or our PENDING was stale) CAS `completion_time` back (to 0 over a dead pid, else to what it was) | COMPUTING, `completion_time` = dead `me` | waiters get [`GetError::SetterDead`]; [`Future::claim`] takes over with a CAS on the word \[`future.takeover.after_cas`\] and sets it |
//! | 3. store the value (or the message) | as after step 2 | as after step 2 (a taker zeroes what the dead one left in `error_msg`) |
//! | 4. store finish owner word = `me` \[`future.finish.after_tail`\] | as after step 2 | as after step 2 |
//! | 5. store `completion_time` = now (Release) \[`future.finish.before_publish`\] | COMPUTING, the time, finish owner word = dead `me` | as after step 2, the taker CASes the finish owner word |
//! | 6. store `state` = READY/ERROR (Release) \[`future.finish.after_publish`\] | final, with its real completion time; finish owner word = dead `me` (stale, inside the unused `error_msg`) | reads the value; nothing else ever looks at the word |
//! | 7. CAS finish owner word `me` → 0; wake all | nothing left over | — |
//!
//! - C++ and Python setters record no pid: their death leaves COMPUTING with no owner word,
//!   and waiters see [`GetTimeoutError::Timeout`] from `get_timeout`/`get_deadline` (an
//!   untimed `get` waits forever, as upstream). The same holds for a zeroipc setter still a
//!   zombie (not yet reaped by its parent), and pid reuse makes a dead setter look alive.
//! - In segments shared with C++/Python setters, a zeroipc process killed between steps 1
//!   and 2 leaves a dead intent; if a C++ setter then claims, zeroipc waiters take it for the
//!   dead owner of that claim ([`GetError::SetterDead`], and a [`Future::claim`] would set the
//!   future alongside the C++ setter).
//! - A waiter that dies leaves `waiters` one too high (informational only, FORMAT.md D-13).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use zeroipc::{Segment, SegmentOptions, codata::Future};
//! # let name = format!("/zeroipc-doc-future-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let answer: Future<u64> = Future::create(&seg, "answer")?;
//!
//! // Another process (here a thread) computes it.
//! let peer: Future<u64> = Future::open(&Segment::open(&name)?, "answer")?;
//! std::thread::spawn(move || peer.set_value(42));
//!
//! assert_eq!(answer.get_timeout(Duration::from_secs(10))?, 42);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Instant;

use crate::layout::future::{COMPUTING, ERROR, PENDING, READY, owner_pid, owner_word};
use crate::loom::{
    AtomicU32, AtomicU64,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::wait::{self, Parked};

fn bad_state(found: u32) -> BadWord {
    BadWord {
        field: "state",
        found: u64::from(found),
        expected: "0 (pending), 1 (computing), 2 (ready) or 3 (error)",
    }
}

/// How a raw wait ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawGet {
    /// The state is final: READY or ERROR.
    Done(u32),
    /// A zeroipc setter (this pid) died while COMPUTING.
    SetterDead(u32),
    /// The deadline passed first.
    Timeout,
    /// `state` holds an impossible value.
    Bad(BadWord),
}

/// Why a raw claim failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawClaim {
    /// Already COMPUTING (by a live or unknown setter), READY or ERROR: the state found.
    Taken(u32),
    /// `state` holds an impossible value.
    Bad(BadWord),
}

/// Counts this caller in `waiters` while it waits (as C++ `get` does), also on unwind or
/// when an awaitable is dropped.
pub(crate) struct WaiterCount<'a>(&'a AtomicU32);

impl<'a> WaiterCount<'a> {
    pub(crate) fn new(waiters: &'a AtomicU32) -> Self {
        // ORDERING: Relaxed — informational counter, no data rides on it (C++ uses Relaxed).
        waiters.fetch_add(1, Relaxed);
        Self(waiters)
    }
}

impl Drop for WaiterCount<'_> {
    fn drop(&mut self) {
        // ORDERING: Relaxed — as in `new`.
        self.0.fetch_sub(1, Relaxed);
    }
}

/// The pid in an owner word, if it is one: the `ZPID` tag and a pid ≤ Linux's
/// `PID_MAX_LIMIT` (a time, zero, or message bytes are never taken for one).
fn pid_in(word: u64) -> Option<u32> {
    owner_pid(word).filter(|&p| p <= 1 << 22)
}

/// The Future state machine over views of `state`, `waiters`, `completion_time` (the owner
/// word while claiming and computing) and the finish owner word (inside `error_msg`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawFuture<'a> {
    pub(crate) state: &'a AtomicU32,
    pub(crate) waiters: &'a AtomicU32,
    /// `completion_time`: the setter's owner word from its intent until it finishes.
    pub(crate) owner: &'a AtomicU64,
    /// The finish owner word: the setter's owner word while it writes `completion_time`
    /// and publishes.
    pub(crate) tail: &'a AtomicU64,
}

impl RawFuture<'_> {
    /// The validated state.
    pub(crate) fn state(&self) -> Result<u32, BadWord> {
        // ORDERING: Acquire pairs with the Release store in `finish`: a caller that sees
        // READY/ERROR sees the value or message written before it.
        match self.state.load(Acquire) {
            s @ (PENDING | COMPUTING | READY | ERROR) => Ok(s),
            other => Err(bad_state(other)),
        }
    }

    /// Claims the right to set the future: records `me` in `completion_time` (the intent),
    /// then CAS `PENDING → COMPUTING`. On a COMPUTING future whose zeroipc setter is dead,
    /// takes it over instead (`Ok(Some(dead pid))`).
    pub(crate) fn claim(
        &self,
        me: u32,
        alive: impl Fn(u32) -> bool,
    ) -> Result<Option<u32>, RawClaim> {
        loop {
            match self.state().map_err(RawClaim::Bad)? {
                PENDING => {
                    // ORDERING: Acquire pairs with the Release store of the completion time
                    // in `finish`: a time read here means the state read below is final.
                    let word = self.owner.load(Acquire);
                    match pid_in(word) {
                        // Another zeroipc setter is between its intent and its claim.
                        Some(p) if p == me || alive(p) => {
                            return Err(RawClaim::Taken(COMPUTING));
                        }
                        Some(_) => {} // a dead setter's intent
                        None if word == 0 => {}
                        // A time (the future completed since we read PENDING) or garbage:
                        // overwritten only while still PENDING, so a completion time is
                        // never replaced.
                        // ORDERING: Acquire — as every read of the state.
                        None if self.state.load(Acquire) != PENDING => continue,
                        None => {}
                    }
                    // ORDERING: Relaxed — published by the Release of the state CAS; among
                    // claimers the CAS's atomicity alone picks one.
                    if self
                        .owner
                        .compare_exchange(word, owner_word(me), Relaxed, Relaxed)
                        .is_err()
                    {
                        continue;
                    }
                    crate::fault::point("future.claim.after_intent");
                    // ORDERING: AcqRel — Release: whoever sees COMPUTING sees our owner
                    // word; Acquire as C++ (a PENDING future carries no data). Relaxed on
                    // failure: the loop re-reads `state` with Acquire.
                    if self
                        .state
                        .compare_exchange(PENDING, COMPUTING, AcqRel, Relaxed)
                        .is_ok()
                    {
                        crate::fault::point("future.claim.after_cas");
                        return Ok(None);
                    }
                    // A C++/Python setter claimed first (or our PENDING was stale): withdraw
                    // the intent unless it already wrote its completion time over it. A dead
                    // setter's word is not put back (the live claim would look like its).
                    let back = if pid_in(word).is_some() { 0 } else { word };
                    // ORDERING: Relaxed — only compared and checked for liveness.
                    let _ = self
                        .owner
                        .compare_exchange(owner_word(me), back, Relaxed, Relaxed);
                }
                COMPUTING => {
                    return match self.take_over(me, &alive) {
                        Some(dead) => Ok(Some(dead)),
                        None => Err(RawClaim::Taken(COMPUTING)),
                    };
                }
                s => return Err(RawClaim::Taken(s)),
            }
        }
    }

    /// The word naming the setter of a COMPUTING future, and its value: `completion_time`
    /// if it holds an owner word, else the finish owner word if that does.
    fn owner_word_now(&self) -> Option<(&AtomicU64, u64)> {
        // ORDERING: Acquire pairs with the Release store of the completion time in `finish`:
        // a reader that finds the time there also finds the finish owner word stored before.
        let word = self.owner.load(Acquire);
        if pid_in(word).is_some() {
            return Some((self.owner, word));
        }
        // ORDERING: Relaxed — ordered by the Acquire load above.
        let tail = self.tail.load(Relaxed);
        pid_in(tail).map(|_| (self.tail, tail))
    }

    /// The dead zeroipc setter's pid, if the future is COMPUTING under one that is gone.
    #[allow(clippy::cast_possible_truncation)] // the pid is the low half
    pub(crate) fn dead_setter(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<u32> {
        self.dead_owner(me, alive).map(|(_, word)| word as u32)
    }

    #[allow(clippy::cast_possible_truncation)] // the pid is the low half
    fn dead_owner(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<(&AtomicU64, u64)> {
        let (at, word) = self.owner_word_now()?;
        let pid = word as u32;
        if pid == me || alive(pid) {
            return None;
        }
        // The setter is gone, so it can change nothing any more: if the state is still
        // COMPUTING and the word still names it, it died before finishing.
        // ORDERING: Acquire pairs with `finish`'s Release (a finished setter is not dead).
        let still = self.state.load(Acquire) == COMPUTING && at.load(Relaxed) == word;
        still.then_some((at, word))
    }

    #[allow(clippy::cast_possible_truncation)] // the pid is the low half
    fn take_over(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<u32> {
        let (at, word) = self.dead_owner(me, alive)?;
        // ORDERING: Acquire — whoever wins this CAS is the only new setter; the dead one
        // can no longer write.
        at.compare_exchange(word, owner_word(me), Acquire, Relaxed)
            .ok()
            .map(|_| {
                crate::fault::point("future.takeover.after_cas");
                word as u32
            })
    }

    /// Publishes the final state (READY or ERROR) after the caller wrote the value or the
    /// message: moves `me` to the finish owner word, stores `time` in `completion_time`,
    /// publishes, withdraws `me`, and wakes every sleeper.
    pub(crate) fn finish(&self, me: u32, final_state: u32, time: u64) {
        debug_assert!(final_state == READY || final_state == ERROR);
        // ORDERING: Relaxed — published by the Release store of the time below.
        self.tail.store(owner_word(me), Relaxed);
        crate::fault::point("future.finish.after_tail");
        // ORDERING: Release pairs with the Acquire in `owner_word_now`: whoever reads the
        // time reads the finish owner word.
        self.owner.store(time, Release);
        crate::fault::point("future.finish.before_publish");
        // ORDERING: Release pairs with the Acquire load in `state`: the value/message
        // written by the setter happens-before any reader that sees READY/ERROR.
        self.state.store(final_state, Release);
        crate::fault::point("future.finish.after_publish");
        // ORDERING: Relaxed — only compared and checked for liveness; C++ has zeros here.
        let _ = self
            .tail
            .compare_exchange(owner_word(me), 0, Relaxed, Relaxed);
        wait::wake_all(self.state);
    }

    /// Waits until READY/ERROR, a dead setter, or `deadline`.
    pub(crate) fn wait(
        &self,
        me: u32,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
    ) -> RawGet {
        let _counted = WaiterCount::new(self.waiters);
        loop {
            let s = match self.state() {
                Ok(s) => s,
                Err(b) => return RawGet::Bad(b),
            };
            match s {
                READY | ERROR => return RawGet::Done(s),
                COMPUTING => {
                    if let Some(pid) = self.dead_setter(me, &alive) {
                        return RawGet::SetterDead(pid);
                    }
                }
                _ => {}
            }
            if wait::spin_while(self.state, s) {
                continue;
            }
            if wait::park(self.state, s, deadline) == Parked::TimedOut {
                return match self.state() {
                    Ok(s @ (READY | ERROR)) => RawGet::Done(s),
                    Ok(_) => RawGet::Timeout,
                    Err(b) => RawGet::Bad(b),
                };
            }
        }
    }
}

#[cfg(not(loom))]
pub use handle::{
    Future, FutureState, FutureWait, FutureWaitTimeout, GetError, GetTimeoutError, Promise,
    SetError,
};

#[cfg(not(loom))]
pub(crate) use handle::{load_value, read_message, store_value, write_message};

// Composition (`map` / `then` stages) and fork-join (`join_all` / `select_first`).
#[cfg(not(loom))]
pub mod compose;
#[cfg(not(loom))]
pub mod join;
#[cfg(not(loom))]
pub use compose::{Stage, StageError, StageTask};
#[cfg(not(loom))]
pub use join::{
    JoinAll, JoinAllTimeout, JoinError, JoinTimeoutError, SelectError, SelectFirst,
    SelectFirstTimeout, SelectTimeoutError, join_all, join_all_async, join_all_async_deadline,
    join_all_async_timeout, join_all_deadline, join_all_timeout, select_first, select_first_async,
    select_first_async_deadline, select_first_async_timeout, select_first_deadline,
    select_first_timeout, try_join_all, try_select_first,
};

#[cfg(not(loom))]
mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    /// A future set once while two waiters wait: both see READY and the value written
    /// before it (the Relaxed value store is ordered by the Release of `state`); a second
    /// claim fails. Negative control: with a Relaxed store of READY in `finish`, loom finds
    /// a waiter reading the old value.
    #[test]
    fn loom_set_once_two_waiters_see_the_value() {
        loom::model(|| {
            let words = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0), // the value
                AtomicU64::new(0), // the finish owner word
            ));
            let waiters: Vec<_> = (2..=3)
                .map(|me| {
                    let w = words.clone();
                    thread::spawn(move || {
                        let raw = RawFuture {
                            state: &w.0,
                            waiters: &w.1,
                            owner: &w.2,
                            tail: &w.4,
                        };
                        assert_eq!(raw.wait(me, None, |_| true), RawGet::Done(READY));
                        // ORDERING: Relaxed — ordered by the Acquire of `state` in `wait`.
                        assert_eq!(w.3.load(Relaxed), 42);
                    })
                })
                .collect();
            let raw = RawFuture {
                state: &words.0,
                waiters: &words.1,
                owner: &words.2,
                tail: &words.4,
            };
            assert_eq!(raw.claim(1, |_| true), Ok(None));
            assert_eq!(raw.claim(4, |_| true), Err(RawClaim::Taken(COMPUTING)));
            words.3.store(42, Relaxed);
            raw.finish(1, READY, 7);
            assert_eq!(raw.claim(4, |_| true), Err(RawClaim::Taken(READY)));
            for h in waiters {
                h.join().unwrap();
            }
            assert_eq!(words.1.load(Relaxed), 0, "waiters restored");
        });
    }

    /// Two racing setters: exactly one claim succeeds.
    #[test]
    fn loom_two_setters_exactly_one_wins() {
        loom::model(|| {
            let words = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(0),
                AtomicU64::new(0),
                AtomicU64::new(0),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = words.clone();
                    thread::spawn(move || {
                        let raw = RawFuture {
                            state: &w.0,
                            waiters: &w.1,
                            owner: &w.2,
                            tail: &w.3,
                        };
                        let won = raw.claim(me, |_| true).is_ok();
                        if won {
                            raw.finish(me, READY, 1);
                        }
                        won
                    })
                })
                .collect();
            let wins = hs.into_iter().map(|h| h.join().unwrap());
            assert_eq!(wins.filter(|&w| w).count(), 1);
        });
    }

    /// A setter (pid 9) died right after recording its intent in `completion_time`: of two
    /// claimers exactly one wins, and the future completes with a time, the tail clear.
    #[test]
    fn loom_future_dead_intent_claimed_once() {
        loom::model(|| {
            let words = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(0),
                AtomicU64::new(owner_word(9)),
                AtomicU64::new(0),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = words.clone();
                    thread::spawn(move || {
                        let raw = RawFuture {
                            state: &w.0,
                            waiters: &w.1,
                            owner: &w.2,
                            tail: &w.3,
                        };
                        let won = raw.claim(me, |p| p != 9).is_ok();
                        if won {
                            raw.finish(me, READY, 5);
                        }
                        won
                    })
                })
                .collect();
            let wins = hs.into_iter().map(|h| h.join().unwrap());
            assert_eq!(wins.filter(|&w| w).count(), 1);
            assert_eq!(words.0.load(Relaxed), READY);
            assert_eq!(words.2.load(Relaxed), 5, "the completion time");
            assert_eq!(words.3.load(Relaxed), 0, "the finish owner word is clear");
        });
    }

    /// A setter (pid 9) died after moving its pid to the finish owner word and writing the
    /// time: a waiter reports it dead, and exactly one of two claimers takes over.
    #[test]
    fn loom_future_dead_in_finish_taken_over_once() {
        loom::model(|| {
            let words = Arc::new((
                AtomicU32::new(COMPUTING),
                AtomicU32::new(0),
                AtomicU64::new(3), // the dead setter's completion time
                AtomicU64::new(owner_word(9)),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = words.clone();
                    thread::spawn(move || {
                        let raw = RawFuture {
                            state: &w.0,
                            waiters: &w.1,
                            owner: &w.2,
                            tail: &w.3,
                        };
                        match raw.claim(me, |p| p != 9) {
                            Ok(Some(9)) => {
                                raw.finish(me, READY, 5);
                                true
                            }
                            Err(RawClaim::Taken(_)) => false,
                            other => panic!("{other:?}"),
                        }
                    })
                })
                .collect();
            let wins = hs.into_iter().map(|h| h.join().unwrap());
            assert_eq!(wins.filter(|&w| w).count(), 1);
            assert_eq!(words.0.load(Relaxed), READY);
            assert_eq!(words.3.load(Relaxed), 0);
        });
    }
}

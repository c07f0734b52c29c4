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
mod handle {
    use core::fmt;
    use core::marker::PhantomData;
    use core::mem::{align_of, size_of};
    use core::pin::Pin;
    use core::task::{Context, Poll};
    use std::error::Error;
    use std::time::{Duration, Instant};

    use super::{RawClaim, RawFuture, RawGet};
    use crate::Element;
    use crate::error::{Corruption, StructureError};
    use crate::layout::future::{
        COMPUTING, ERROR, ERROR_MSG_LEN, FutureHeader, PENDING, READY, VALUE_OFFSET, error_offset,
        finish_owner_offset, future_size, python_future_size,
    };
    use crate::loom::{AtomicU8, Ordering::Relaxed};
    use crate::segment::region::Region;
    use crate::segment::{CatalogKind, Entry, Record, Segment};
    use crate::sync::{BadWord, current_pid, monotonic_ns, pid_alive};
    use crate::wait::deadline_after;
    use crate::wait::reactor::{self, Interest};

    /// Copies the `T` at `at` (Relaxed words; the state word orders it).
    pub(crate) fn load_value<T: Element>(region: &Region, at: u64) -> Result<T, Corruption> {
        region.load_value(at)
    }

    /// Stores `value` at `at` (Relaxed words; published by a later Release of the state).
    pub(crate) fn store_value<T: Element>(
        region: &Region,
        at: u64,
        value: &T,
    ) -> Result<(), Corruption> {
        region.store_value(at, value)
    }

    /// Reads a NUL-terminated message from the 256 bytes at `at`; `None` if there is no NUL.
    pub(crate) fn read_message(region: &Region, at: u64) -> Result<Option<String>, Corruption> {
        let mut buf = [0u8; 256];
        region.read_bytes(at, &mut buf)?;
        Ok(buf
            .iter()
            .position(|&b| b == 0)
            .map(|end| String::from_utf8_lossy(&buf[..end]).into_owned()))
    }

    /// The longest message zeroipc writes, in bytes before the NUL: shorter than the offset
    /// of the owner word inside `error_msg` in every Future and Lazy layout (≥ 241).
    pub(crate) const MESSAGE_MAX: usize = 240;

    /// Zeroes the 256 bytes at `at` and writes `msg` (cut at its first NUL and to at most
    /// [`MESSAGE_MAX`] bytes on a character boundary), always NUL-terminated, leaving the 8
    /// bytes at `owner` (the owner word, after the message) untouched.
    pub(crate) fn write_message(
        region: &Region,
        at: u64,
        msg: &str,
        owner: u64,
    ) -> Result<(), Corruption> {
        let msg = msg.split('\0').next().unwrap_or("");
        let mut end = msg.len().min(MESSAGE_MAX);
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        let bytes: &[AtomicU8] = region.slice(at, ERROR_MSG_LEN)?;
        let src = msg.as_bytes()[..end]
            .iter()
            .copied()
            .chain(core::iter::repeat(0));
        for ((dst, b), i) in bytes.iter().zip(src).zip(at..) {
            if (owner..owner + 8).contains(&i) {
                continue;
            }
            // ORDERING: Relaxed — published by the Release store of the state word.
            dst.store(b, Relaxed);
        }
        Ok(())
    }

    /// The state of a Future, as read from the segment.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum FutureState {
        /// No value yet; no one is setting it.
        Pending,
        /// A setter claimed it and is computing the value.
        Computing,
        /// The value is set.
        Ready,
        /// An error message is set.
        Error,
    }

    impl FutureState {
        fn from_raw(s: u32) -> Self {
            match s {
                PENDING => Self::Pending,
                COMPUTING => Self::Computing,
                READY => Self::Ready,
                _ => Self::Error,
            }
        }

        /// Whether the future is set (READY or ERROR).
        #[must_use]
        pub fn is_final(self) -> bool {
            matches!(self, Self::Ready | Self::Error)
        }
    }

    /// Why [`Future::get`], [`Future::try_get`] or [`Future::get_async`] did not return a
    /// value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum GetError {
        /// The future was set to an error; this is its message.
        Failed {
            /// The message the setter stored (lossy UTF-8).
            message: String,
        },
        /// The zeroipc process that claimed the future (pid) died before setting it.
        SetterDead {
            /// The dead setter's pid.
            pid: u32,
        },
        /// The future's bytes break the format (a state outside its four values, an error
        /// message without NUL).
        Corrupt(Corruption),
    }

    /// Why [`Future::get_timeout`], [`Future::get_deadline`] or
    /// [`Future::get_async_timeout`] did not return a value.
    #[derive(Debug, Clone, PartialEq, Eq)]
    #[non_exhaustive]
    pub enum GetTimeoutError {
        /// The future was set to an error; this is its message.
        Failed {
            /// The message the setter stored (lossy UTF-8).
            message: String,
        },
        /// The zeroipc process that claimed the future (pid) died before setting it.
        SetterDead {
            /// The dead setter's pid.
            pid: u32,
        },
        /// The deadline passed with the future still unset (also how a dead C++ or Python
        /// setter is seen).
        Timeout,
        /// The future's bytes break the format.
        Corrupt(Corruption),
    }

    impl fmt::Display for GetError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Failed { message } => write!(f, "the future failed: {message}"),
                Self::SetterDead { pid } => {
                    write!(f, "the setter (pid {pid}) died before setting the future")
                }
                Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
            }
        }
    }

    impl fmt::Display for GetTimeoutError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::Timeout => {
                    f.write_str("timed out: the future is still unset at the deadline")
                }
                Self::Failed { message } => write!(f, "the future failed: {message}"),
                Self::SetterDead { pid } => {
                    write!(f, "the setter (pid {pid}) died before setting the future")
                }
                Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
            }
        }
    }

    impl Error for GetError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                Self::Corrupt(c) => Some(c),
                _ => None,
            }
        }
    }

    impl Error for GetTimeoutError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                Self::Corrupt(c) => Some(c),
                _ => None,
            }
        }
    }

    impl From<Corruption> for GetError {
        fn from(c: Corruption) -> Self {
            Self::Corrupt(c)
        }
    }

    impl From<GetError> for GetTimeoutError {
        fn from(e: GetError) -> Self {
            match e {
                GetError::Failed { message } => Self::Failed { message },
                GetError::SetterDead { pid } => Self::SetterDead { pid },
                GetError::Corrupt(c) => Self::Corrupt(c),
            }
        }
    }

    /// A wait with no deadline never times out.
    fn untimed(e: GetTimeoutError) -> GetError {
        match e {
            GetTimeoutError::Failed { message } => GetError::Failed { message },
            GetTimeoutError::SetterDead { pid } => GetError::SetterDead { pid },
            GetTimeoutError::Corrupt(c) => GetError::Corrupt(c),
            GetTimeoutError::Timeout => unreachable!("a wait without a deadline timed out"),
        }
    }

    /// Why a future could not be claimed or set.
    #[derive(Debug)]
    #[non_exhaustive]
    pub enum SetError {
        /// Someone set it already, or is setting it (the state found).
        AlreadySet {
            /// The state found: `Computing`, `Ready` or `Error`.
            state: FutureState,
        },
        /// The future's bytes break the format.
        Corrupt(Corruption),
    }

    impl fmt::Display for SetError {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Self::AlreadySet { state } => {
                    write!(f, "the future can only be set once (it is {state:?})")
                }
                Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
            }
        }
    }

    impl Error for SetError {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            match self {
                Self::Corrupt(c) => Some(c),
                Self::AlreadySet { .. } => None,
            }
        }
    }

    impl From<Corruption> for SetError {
        fn from(c: Corruption) -> Self {
            Self::Corrupt(c)
        }
    }

    /// A value of type `T` set once by one process, awaited by others. See the
    /// [module docs](super).
    pub struct Future<T: Element> {
        seg: Segment,
        entry: Entry,
        _t: PhantomData<fn() -> T>,
    }

    impl<T: Element> Clone for Future<T> {
        fn clone(&self) -> Self {
            Self {
                seg: self.seg.clone(),
                entry: self.entry.clone(),
                _t: PhantomData,
            }
        }
    }

    impl<T: Element> fmt::Debug for Future<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Future")
                .field("name", self.entry.name())
                .field("offset", &self.entry.offset())
                .finish_non_exhaustive()
        }
    }

    fn corrupt(entry: &Entry, b: BadWord) -> Corruption {
        Corruption::Field {
            entry: entry.name().to_string(),
            field: b.field,
            found: b.found,
            expected: b.expected.to_owned(),
        }
    }

    impl<T: Element> Future<T> {
        const CHECK: () = {
            assert!(
                align_of::<T>() <= 8,
                "zeroipc elements must have an alignment of at most 8"
            );
            assert!(
                size_of::<T>() > 0,
                "zeroipc elements must not be zero-sized"
            );
        };

        /// Creates a pending future named `name` (C++ entry size).
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if the name is taken or there is no room.
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, FutureState}};
        /// # let name = format!("/zeroipc-doc-future-create-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<f64> = Future::create(&seg, "result")?;
        /// assert_eq!(f.state()?, FutureState::Pending);
        /// assert_eq!(f.entry().size(), 280);
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let () = Self::CHECK;
            let size = future_size(size_of::<T>() as u64, align_of::<T>() as u64).ok_or(
                StructureError::InvalidCapacity {
                    requested: size_of::<T>() as u64,
                    reason: "the future's size overflows",
                },
            )?;
            // The allocator zeroes the entry: state PENDING, waiters 0, time 0, value 0,
            // message empty — C++'s initial bytes.
            let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
                let _: &FutureHeader = region.header(at)?;
                Ok(())
            })?;
            seg.record(&Record::new(CatalogKind::Future, name, &entry).elem::<T>());
            Ok(Self {
                seg: seg.clone(),
                entry,
                _t: PhantomData,
            })
        }

        /// Opens the future named `name`, written by zeroipc, C++ (entry size
        /// `align_up(272 + es, max(8, align))`) or Python (`272 + es`).
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if there is no such entry;
        /// [`StructureError::ElementSize`] if its size fits another value size;
        /// [`StructureError::Corrupt`] if it is too small or its state is not 0..=3.
        /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
        /// segment's type catalog records another kind or element type for `name` (checked
        /// after the bytes; see [`Segment::unchecked`]).
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
        /// # let name = format!("/zeroipc-doc-future-open-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// Future::<i32>::create(&seg, "f")?;
        /// let f: Future<i32> = Future::open(&Segment::open(&name)?, "f")?;
        /// assert!(!f.is_ready()?);
        /// // The entry holds a 4-byte value (280 bytes); a 32-byte value needs 304.
        /// assert!(Future::<[u64; 4]>::open(&seg, "f").is_err());
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let () = Self::CHECK;
            let entry = seg.find(name)?;
            let es = size_of::<T>() as u64;
            let cpp = future_size(es, align_of::<T>() as u64);
            let py = python_future_size(es);
            let size = entry.size();
            if Some(size) != cpp && Some(size) != py {
                if size > VALUE_OFFSET + ERROR_MSG_LEN {
                    return Err(StructureError::ElementSize {
                        entry: entry.name().to_string(),
                        stored: size - VALUE_OFFSET - ERROR_MSG_LEN,
                        expected: es,
                    });
                }
                return Err(Corruption::Field {
                    entry: entry.name().to_string(),
                    field: "entry size",
                    found: size,
                    expected: format!("{} (C++) or {} (Python)", cpp.unwrap_or(0), py.unwrap_or(0)),
                }
                .into());
            }
            let f = Self {
                seg: seg.clone(),
                entry,
                _t: PhantomData,
            };
            // Proves the whole entry lies in the mapping and the state is valid.
            f.seg.region().check(f.entry.offset(), size, 8)?;
            f.state()?;
            seg.check_catalog(&Record::new(CatalogKind::Future, name, &f.entry).elem::<T>())?;
            Ok(f)
        }

        pub(super) fn raw(&self) -> Result<RawFuture<'_>, Corruption> {
            let at = self.entry.offset();
            let h: &FutureHeader = self.seg.region().header(at)?;
            Ok(RawFuture {
                state: &h.state,
                waiters: &h.waiters,
                owner: &h.completion_time,
                tail: self.seg.region().header(at + self.tail_offset())?,
            })
        }

        /// Offset of the finish owner word from the entry's start.
        fn tail_offset(&self) -> u64 {
            finish_owner_offset(size_of::<T>() as u64)
        }

        /// The table entry.
        #[must_use]
        pub fn entry(&self) -> &Entry {
            &self.entry
        }

        /// The segment this future lives in.
        #[must_use]
        pub fn segment(&self) -> &Segment {
            &self.seg
        }

        /// The current state.
        ///
        /// # Errors
        ///
        /// [`Corruption`] if `state` is not 0..=3.
        pub fn state(&self) -> Result<FutureState, Corruption> {
            let s = self.raw()?.state().map_err(|b| corrupt(&self.entry, b))?;
            Ok(FutureState::from_raw(s))
        }

        /// Whether the future is set (to a value or an error), as C++ `is_ready`.
        ///
        /// # Errors
        ///
        /// [`Corruption`] if `state` is not 0..=3.
        pub fn is_ready(&self) -> Result<bool, Corruption> {
            Ok(self.state()?.is_final())
        }

        /// The number of processes currently blocked in `get` (informational; includes
        /// C++ and Python waiters, and waiters that died).
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the entry lies outside the mapping (never for an opened one).
        pub fn waiters(&self) -> Result<usize, Corruption> {
            // ORDERING: Relaxed — a snapshot of an informational counter.
            Ok(self.raw()?.waiters.load(Relaxed) as usize)
        }

        /// The `completion_time` word: monotonic nanoseconds (C++, zeroipc) or wall-clock
        /// microseconds (Python) once set; 0 before. `None` while a zeroipc setter is
        /// computing (the word holds its pid then).
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the entry lies outside the mapping.
        pub fn completion_time(&self) -> Result<Option<u64>, Corruption> {
            // ORDERING: Relaxed — a snapshot.
            let w = self.raw()?.owner.load(Relaxed);
            Ok(crate::layout::future::owner_pid(w).is_none().then_some(w))
        }

        /// Reads the outcome of a final state.
        fn outcome(&self, state: u32) -> Result<T, GetError> {
            let region = self.seg.region();
            let at = self.entry.offset();
            if state == READY {
                return Ok(load_value::<T>(region, at + VALUE_OFFSET)?);
            }
            let msg_at = at + error_offset(size_of::<T>() as u64);
            match read_message(region, msg_at)? {
                Some(message) => Err(GetError::Failed { message }),
                None => Err(Corruption::Field {
                    entry: self.entry.name().to_string(),
                    field: "error_msg",
                    found: ERROR_MSG_LEN,
                    expected: "a NUL terminator within its 256 bytes".to_owned(),
                }
                .into()),
            }
        }

        fn get_inner(&self, deadline: Option<Instant>) -> Result<T, GetTimeoutError> {
            let raw = self.raw().map_err(GetError::from)?;
            match raw.wait(current_pid(), deadline, pid_alive) {
                RawGet::Done(s) => Ok(self.outcome(s)?),
                RawGet::SetterDead(pid) => Err(GetTimeoutError::SetterDead { pid }),
                RawGet::Timeout => Err(GetTimeoutError::Timeout),
                RawGet::Bad(b) => Err(GetTimeoutError::Corrupt(corrupt(&self.entry, b))),
            }
        }

        /// Blocks until the future is set; returns its value.
        ///
        /// Detects a dead zeroipc setter; a dead C++ or Python setter makes this wait
        /// forever — prefer [`Future::get_timeout`] when such peers set it.
        ///
        /// # Errors
        ///
        /// [`GetError::Failed`] with the setter's message; [`GetError::SetterDead`];
        /// [`GetError::Corrupt`].
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::Future};
        /// # let name = format!("/zeroipc-doc-future-get-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u32> = Future::create(&seg, "answer")?;
        /// let setter = f.clone();
        /// std::thread::spawn(move || setter.set_value(42));
        /// assert_eq!(f.get()?, 42); // waits for the setter
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn get(&self) -> Result<T, GetError> {
            self.get_inner(None).map_err(untimed)
        }

        /// As [`Future::get`], for at most `timeout`.
        ///
        /// # Errors
        ///
        /// As [`Future::get`] (in [`GetTimeoutError`]), plus [`GetTimeoutError::Timeout`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
        /// # let name = format!("/zeroipc-doc-future-timeout-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u32> = Future::create(&seg, "never")?;
        /// assert_eq!(f.get_timeout(Duration::from_millis(5)), Err(GetTimeoutError::Timeout));
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetTimeoutError> {
            self.get_inner(deadline_after(timeout))
        }

        /// As [`Future::get`], until `deadline`.
        ///
        /// # Errors
        ///
        /// As [`Future::get`] (in [`GetTimeoutError`]), plus [`GetTimeoutError::Timeout`].
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Instant;
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
        /// # let name = format!("/zeroipc-doc-future-deadline-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u32> = Future::create(&seg, "f")?;
        /// assert_eq!(f.get_deadline(Instant::now()), Err(GetTimeoutError::Timeout));
        /// f.set_value(3)?;
        /// assert_eq!(f.get_deadline(Instant::now()), Ok(3));
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn get_deadline(&self, deadline: Instant) -> Result<T, GetTimeoutError> {
            self.get_inner(Some(deadline))
        }

        /// The value if it is set, `None` if not yet (no setter, or a live setter still
        /// computing); never blocks. A dead zeroipc setter is an error, not `None`.
        ///
        /// # Errors
        ///
        /// [`GetError::Failed`] if it was set to an error; [`GetError::SetterDead`] if a
        /// zeroipc setter died while computing; [`GetError::Corrupt`].
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
        /// # let name = format!("/zeroipc-doc-future-try-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<i64> = Future::create(&seg, "f")?;
        /// assert_eq!(f.try_get()?, None);
        /// f.set_value(-5)?;
        /// assert_eq!(f.try_get()?, Some(-5));
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn try_get(&self) -> Result<Option<T>, GetError> {
            let raw = self.raw()?;
            match raw.state().map_err(|b| corrupt(&self.entry, b))? {
                s @ (READY | ERROR) => self.outcome(s).map(Some),
                COMPUTING => match raw.dead_setter(current_pid(), &pid_alive) {
                    Some(pid) => Err(GetError::SetterDead { pid }),
                    None => Ok(None),
                },
                _ => Ok(None),
            }
        }

        /// Claims the future for this process (PENDING → COMPUTING, recording its pid), so
        /// it can compute the value at leisure; waiters see a death meanwhile as
        /// [`GetError::SetterDead`]. A COMPUTING future whose zeroipc setter is dead is taken
        /// over.
        ///
        /// # Errors
        ///
        /// [`SetError::AlreadySet`] if another setter claimed (and is alive) or set it;
        /// [`SetError::Corrupt`].
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, FutureState}};
        /// # let name = format!("/zeroipc-doc-future-claim-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u64> = Future::create(&seg, "sum")?;
        /// let promise = f.claim()?;
        /// assert_eq!(f.state()?, FutureState::Computing);
        /// assert!(f.claim().is_err()); // one setter only
        /// promise.set_value((1..=10).sum())?;
        /// assert_eq!(f.try_get()?, Some(55));
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn claim(&self) -> Result<Promise<T>, SetError> {
            let raw = self.raw()?;
            match raw.claim(current_pid(), pid_alive) {
                Ok(dead) => {
                    if dead.is_some() {
                        // A dead setter may have left part of a message: C++'s zeros.
                        let at = self.entry.offset();
                        let msg = at + error_offset(size_of::<T>() as u64);
                        write_message(self.seg.region(), msg, "", at + self.tail_offset())?;
                    }
                    Ok(Promise {
                        future: Some(self.clone()),
                    })
                }
                Err(RawClaim::Taken(s)) => Err(SetError::AlreadySet {
                    state: FutureState::from_raw(s),
                }),
                Err(RawClaim::Bad(b)) => Err(corrupt(&self.entry, b).into()),
            }
        }

        /// Sets the value, exactly once among all processes, and wakes every waiter.
        ///
        /// # Errors
        ///
        /// [`SetError::AlreadySet`] if the future was claimed or set before;
        /// [`SetError::Corrupt`].
        pub fn set_value(&self, value: T) -> Result<(), SetError> {
            self.claim()?.set_value(value)
        }

        /// Sets the future to an error with `message` (cut to 240 bytes on a character
        /// boundary, and at a NUL), exactly once. The message is written before ERROR is
        /// published, so no reader sees it partial.
        ///
        /// # Errors
        ///
        /// [`SetError::AlreadySet`]; [`SetError::Corrupt`].
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetError}};
        /// # let name = format!("/zeroipc-doc-future-error-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<i32> = Future::create(&seg, "f")?;
        /// f.set_error("boom: negative input")?;
        /// match f.get() {
        ///     Err(GetError::Failed { message }) => assert_eq!(message, "boom: negative input"),
        ///     other => panic!("{other:?}"),
        /// }
        /// assert!(f.set_value(1).is_err()); // already set
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        pub fn set_error(&self, message: &str) -> Result<(), SetError> {
            self.claim()?.set_error(message)
        }

        /// An awaitable for the value: `.await` it under any executor. See the module
        /// docs ("Waiting") for how it sleeps without polling the executor.
        ///
        /// # Examples
        ///
        /// ```
        /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
        /// # let name = format!("/zeroipc-doc-future-async-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u8> = Future::create(&seg, "f")?;
        /// let setter = f.clone();
        /// std::thread::spawn(move || setter.set_value(7));
        /// // Any executor; a minimal one here.
        /// let v = futures_lite_block_on(f.get_async())?;
        /// assert_eq!(v, 7);
        /// # fn futures_lite_block_on<F: core::future::Future>(fut: F) -> F::Output {
        /// #     use std::task::{Context, Poll, Wake, Waker};
        /// #     use std::sync::Arc;
        /// #     struct T(std::thread::Thread);
        /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
        /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
        /// #     let mut cx = Context::from_waker(&waker);
        /// #     let mut fut = std::pin::pin!(fut);
        /// #     loop {
        /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
        /// #         std::thread::park();
        /// #     }
        /// # }
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn get_async(&self) -> FutureWait<T> {
            FutureWait {
                wait: Wait::new(self.clone(), None),
            }
        }

        /// As [`Future::get_async`], resolving to [`GetTimeoutError::Timeout`] after
        /// `timeout`.
        ///
        /// # Examples
        ///
        /// ```
        /// use std::time::Duration;
        /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
        /// # let name = format!("/zeroipc-doc-future-async-timeout-{}", std::process::id());
        /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let f: Future<u8> = Future::create(&seg, "f")?;
        /// let r = block_on(f.get_async_timeout(Duration::from_millis(5)));
        /// assert_eq!(r, Err(GetTimeoutError::Timeout));
        /// # fn block_on<F: core::future::Future>(fut: F) -> F::Output {
        /// #     use std::task::{Context, Poll, Wake, Waker};
        /// #     use std::sync::Arc;
        /// #     struct T(std::thread::Thread);
        /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
        /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
        /// #     let mut cx = Context::from_waker(&waker);
        /// #     let mut fut = std::pin::pin!(fut);
        /// #     loop {
        /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
        /// #         std::thread::park();
        /// #     }
        /// # }
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn get_async_timeout(&self, timeout: Duration) -> FutureWaitTimeout<T> {
            FutureWaitTimeout {
                wait: Wait::new(self.clone(), deadline_after(timeout)),
            }
        }

        /// As [`Future::get_async`], resolving to [`GetTimeoutError::Timeout`] at
        /// `deadline`.
        #[must_use]
        pub fn get_async_deadline(&self, deadline: Instant) -> FutureWaitTimeout<T> {
            FutureWaitTimeout {
                wait: Wait::new(self.clone(), Some(deadline)),
            }
        }

        /// One non-blocking look for the awaitable: `Some` when there is an answer.
        fn poll_once(&self, deadline: Option<Instant>) -> Option<Result<T, GetTimeoutError>> {
            match self.try_get() {
                Ok(Some(v)) => Some(Ok(v)),
                Err(e) => Some(Err(e.into())),
                Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
                    Some(Err(GetTimeoutError::Timeout))
                }
                Ok(None) => None,
            }
        }
    }

    /// The right to set a claimed [`Future`], returned by [`Future::claim`].
    ///
    /// Dropping it unset sets the future to the error "promise dropped without a value"
    /// (also on a panic), so waiters never wait for a setter that gave up.
    pub struct Promise<T: Element> {
        future: Option<Future<T>>,
    }

    impl<T: Element> fmt::Debug for Promise<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Promise")
                .field("future", &self.future)
                .finish()
        }
    }

    impl<T: Element> Promise<T> {
        fn finish(
            mut self,
            write: impl FnOnce(&Region, u64) -> Result<u32, Corruption>,
        ) -> Result<(), SetError> {
            let Some(f) = self.future.take() else {
                return Ok(());
            };
            let raw = f.raw()?;
            // Exclusive by protocol: this process won the claim CAS (or took over a dead
            // setter), so it is the only writer of the value and message until `finish`.
            let state = write(f.seg.region(), f.entry.offset())?;
            raw.finish(current_pid(), state, monotonic_ns());
            Ok(())
        }

        /// Stores `value`, publishes READY and wakes every waiter.
        ///
        /// # Errors
        ///
        /// [`SetError::Corrupt`] if the entry lies outside the mapping (never for an opened
        /// future).
        pub fn set_value(self, value: T) -> Result<(), SetError> {
            self.finish(|region, at| {
                store_value(region, at + VALUE_OFFSET, &value)?;
                Ok(READY)
            })
        }

        /// Stores `message` (see [`Future::set_error`]), publishes ERROR, wakes every waiter.
        ///
        /// # Errors
        ///
        /// [`SetError::Corrupt`] as for [`Promise::set_value`].
        pub fn set_error(self, message: &str) -> Result<(), SetError> {
            self.finish(|region, at| {
                let msg = at + error_offset(size_of::<T>() as u64);
                write_message(
                    region,
                    msg,
                    message,
                    at + finish_owner_offset(size_of::<T>() as u64),
                )?;
                Ok(ERROR)
            })
        }
    }

    impl<T: Element> Drop for Promise<T> {
        fn drop(&mut self) {
            if self.future.is_some() {
                let p = Promise {
                    future: self.future.take(),
                };
                let _ = p.set_error("promise dropped without a value");
            }
        }
    }

    /// The waiting machinery shared by [`FutureWait`] and [`FutureWaitTimeout`]: one
    /// registration with the process's reactor (`wait::reactor`), no thread of its own.
    struct Wait<T: Element> {
        future: Future<T>,
        deadline: Option<Instant>,
        interest: Interest,
        /// Counted in the header's `waiters` while pending (as C++ `get` counts itself).
        counted: bool,
    }

    /// An awaitable for a [`Future`]'s value, from [`Future::get_async`] (or `.await` on a
    /// `Future` or `&Future`).
    ///
    /// Resolves to what [`Future::get`] returns. A pending poll registers the task with the
    /// process's one reactor thread, which wakes it when the state word changes (at once for a
    /// zeroipc setter, within a millisecond for others); the executor is never woken for
    /// nothing. No thread per awaitable; dropping it withdraws the registration.
    pub struct FutureWait<T: Element> {
        wait: Wait<T>,
    }

    /// An awaitable for a [`Future`]'s value with a deadline, from
    /// [`Future::get_async_timeout`] / [`Future::get_async_deadline`]: resolves to what
    /// [`Future::get_deadline`] returns. Wakes as [`FutureWait`] does.
    pub struct FutureWaitTimeout<T: Element> {
        wait: Wait<T>,
    }

    impl<T: Element> Wait<T> {
        fn new(future: Future<T>, deadline: Option<Instant>) -> Self {
            Self {
                future,
                deadline,
                interest: Interest::new(),
                counted: false,
            }
        }

        fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct(name)
                .field("future", &self.future)
                .field("deadline", &self.deadline)
                .finish_non_exhaustive()
        }
    }

    impl<T: Element> fmt::Debug for FutureWait<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.wait.debug("FutureWait", f)
        }
    }

    impl<T: Element> fmt::Debug for FutureWaitTimeout<T> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.wait.debug("FutureWaitTimeout", f)
        }
    }

    impl<T: Element> Unpin for Wait<T> {}

    impl<T: Element> core::future::Future for FutureWait<T> {
        type Output = Result<T, GetError>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            self.get_mut().wait.poll(cx).map(|r| r.map_err(untimed))
        }
    }

    impl<T: Element> core::future::Future for FutureWaitTimeout<T> {
        type Output = Result<T, GetTimeoutError>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            self.get_mut().wait.poll(cx)
        }
    }

    impl<T: Element> Wait<T> {
        fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, GetTimeoutError>> {
            // ORDERING (register, then re-check): read the state word before the attempt;
            // the reactor compares against this value, so a setter's publish after this read
            // wakes us (wait::reactor, "no lost wake-up").
            let seen = self.future.raw().ok().and_then(|raw| raw.state().ok());
            if let Some(out) = self.future.poll_once(self.deadline) {
                self.finish();
                return Poll::Ready(out);
            }
            let (Some(seen), Ok(raw)) = (seen, self.future.raw()) else {
                // Unreachable (poll_once reported the corruption); look again.
                cx.waker().wake_by_ref();
                return Poll::Pending;
            };
            if !self.counted {
                self.counted = true;
                // ORDERING: Relaxed — informational counter (as `WaiterCount`).
                raw.waiters.fetch_add(1, Relaxed);
            }
            // A COMPUTING future's setter may die without a word changing: look again now
            // and then to ask whether it lives (as `get` does on each slice).
            let recheck = (seen == COMPUTING).then(|| Instant::now() + reactor::RECHECK);
            let wake_at = match (self.deadline, recheck) {
                (Some(d), Some(r)) => Some(d.min(r)),
                (d, r) => d.or(r),
            };
            self.interest.arm(
                reactor::Arm {
                    seg: &self.future.seg,
                    word: raw.state,
                    expected: seen,
                    wake_at,
                    probe: None,
                },
                cx.waker(),
            );
            Poll::Pending
        }

        /// Leaves the reactor and the `waiters` count (on completion and on drop).
        fn finish(&mut self) {
            self.interest.disarm();
            if std::mem::take(&mut self.counted) {
                if let Ok(raw) = self.future.raw() {
                    // ORDERING: Relaxed — as in `poll`.
                    raw.waiters.fetch_sub(1, Relaxed);
                }
            }
        }
    }

    impl<T: Element> Drop for Wait<T> {
        fn drop(&mut self) {
            self.finish();
        }
    }

    impl<T: Element> core::future::IntoFuture for &Future<T> {
        type Output = Result<T, GetError>;
        type IntoFuture = FutureWait<T>;

        fn into_future(self) -> FutureWait<T> {
            self.get_async()
        }
    }

    impl<T: Element> core::future::IntoFuture for Future<T> {
        type Output = Result<T, GetError>;
        type IntoFuture = FutureWait<T>;

        fn into_future(self) -> FutureWait<T> {
            FutureWait {
                wait: Wait::new(self, None),
            }
        }
    }
}

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

//! Shared futexes: sleep in the kernel on a 32-bit word that lives in shared memory.
//!
//! Uses `FUTEX_WAIT` / `FUTEX_WAKE` **without** `FUTEX_PRIVATE_FLAG`: the waiter and the
//! waker may be different processes mapping the same segment (std and parking_lot pass the
//! private flag, which only works inside one process; a cross-process wake with it is lost).
//!
//! Callers always re-check their condition in a loop: [`wait`] may return spuriously, on a
//! signal, or because the word already changed. Upstream peers in other languages never call
//! wake (they poll with sleeps), so callers that may be waiting on such a peer pass a
//! deadline at most about a millisecond away and re-check.
//!
//! Under `cfg(loom)` this module is a model built on loom's `Mutex` and `Condvar`, so a lost
//! wake-up in a state machine shows up as a loom deadlock.

#[cfg(not(loom))]
#[allow(unused_imports)] // the sync layer is the user
pub(crate) use real::*;

#[cfg(loom)]
pub(crate) use model::*;

/// Why [`wait`] returned. Callers re-check their condition whatever it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(dead_code)]
pub(crate) enum WaitOutcome {
    /// Woken by [`wake_one`]/[`wake_all`], interrupted by a signal, or woken spuriously.
    Woken,
    /// The word did not hold `expected` when the kernel looked (`EAGAIN`).
    Changed,
    /// The deadline passed.
    TimedOut,
}

#[cfg(not(loom))]
mod real {
    use std::time::Instant;

    use rustix::io::Errno;
    use rustix::thread::futex::{self, Flags, Timespec};

    use super::WaitOutcome;
    use crate::loom::AtomicU32;

    /// Blocks while `*word == expected`, until woken or until `deadline` (`None`: no limit).
    ///
    /// `syscall(SYS_futex, word, FUTEX_WAIT, expected, timeout)` with a *shared* futex.
    ///
    /// # References
    ///  - [Linux `futex(2)`](https://man7.org/linux/man-pages/man2/futex.2.html)
    #[doc(alias = "FUTEX_WAIT")]
    #[allow(dead_code)]
    pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> WaitOutcome {
        let timeout = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return WaitOutcome::TimedOut;
                }
                Some(Timespec {
                    tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                    tv_nsec: i64::from(left.subsec_nanos()),
                })
            }
        };
        // Flags::empty(): a shared futex, keyed by the physical page, so it works across
        // processes. Never Flags::PRIVATE.
        match futex::wait(word, Flags::empty(), expected, timeout.as_ref()) {
            Ok(()) | Err(Errno::INTR) => WaitOutcome::Woken,
            Err(Errno::AGAIN) => WaitOutcome::Changed,
            Err(Errno::TIMEDOUT) => WaitOutcome::TimedOut,
            // EFAULT/EINVAL cannot happen for a valid, aligned `&AtomicU32`; report a spurious
            // wake so the caller re-checks (and its deadline bounds the loop).
            Err(_) => WaitOutcome::Woken,
        }
    }

    /// Room for one word in a [`waitv`] call: Linux's `struct futex_waitv`.
    pub(crate) type Waitv = futex::Wait;

    /// The most words one [`waitv`] call takes (the kernel's `FUTEX_WAITV_MAX`).
    pub(crate) const WAITV_MAX: usize = 128;

    /// One entry of a [`waitv`] call: sleep while `*word == expected` (a *shared* 32-bit
    /// futex, like [`wait`]). Holds the word's address only: the kernel reads it during the
    /// call and never writes it, so a word unmapped meanwhile is `EFAULT`, never UB here.
    pub(crate) fn waitv_entry(word: &AtomicU32, expected: u32) -> Waitv {
        let mut w = futex::Wait::new();
        w.val = u64::from(expected);
        w.uaddr = futex::WaitPtr::new(core::ptr::from_ref(word).cast_mut().cast());
        // SIZE_U32 and no FUTEX2_PRIVATE: shared, keyed by the page, as `wait`.
        w.flags = futex::WaitFlags::SIZE_U32;
        w
    }

    /// Why [`waitv`] returned.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) enum WaitvOutcome {
        /// Woken (on the entry with this index), or interrupted by a signal.
        Woken,
        /// Some word did not hold its expected value when the kernel looked (`EAGAIN`).
        Changed,
        /// `timeout_ns` passed.
        TimedOut,
        /// The kernel has no `futex_waitv` (before Linux 5.16, or filtered: `ENOSYS`).
        Unsupported,
        /// Any other error (`EFAULT`, `EINVAL`): the caller falls back to polling.
        Failed,
    }

    /// Blocks until one of `words` is woken or differs from its expected value, or until the
    /// monotonic clock reads `until_ns`: `futex_waitv(2)` (Linux 5.16+, syscall 449).
    ///
    /// # References
    ///  - [futex2 documentation](https://docs.kernel.org/userspace-api/futex2.html)
    #[doc(alias = "futex_waitv")]
    pub(crate) fn waitv(words: &[Waitv], until_ns: u64) -> WaitvOutcome {
        debug_assert!(!words.is_empty() && words.len() <= WAITV_MAX);
        let until = Timespec {
            tv_sec: i64::try_from(until_ns / 1_000_000_000).unwrap_or(i64::MAX),
            tv_nsec: i64::try_from(until_ns % 1_000_000_000).unwrap_or(0),
        };
        match futex::waitv(
            words,
            futex::WaitvFlags::empty(),
            Some(&until),
            rustix::time::ClockId::Monotonic,
        ) {
            Ok(_) | Err(Errno::INTR) => WaitvOutcome::Woken,
            Err(Errno::AGAIN) => WaitvOutcome::Changed,
            Err(Errno::TIMEDOUT) => WaitvOutcome::TimedOut,
            Err(Errno::NOSYS) => WaitvOutcome::Unsupported,
            Err(_) => WaitvOutcome::Failed,
        }
    }

    /// Wakes at most one process or thread blocked in [`wait`] on `word`.
    #[doc(alias = "FUTEX_WAKE")]
    #[allow(dead_code)]
    pub(crate) fn wake_one(word: &AtomicU32) {
        let _ = futex::wake(word, Flags::empty(), 1);
    }

    /// Wakes every process or thread blocked in [`wait`] on `word`.
    #[doc(alias = "FUTEX_WAKE")]
    #[allow(dead_code)]
    pub(crate) fn wake_all(word: &AtomicU32) {
        let _ = futex::wake(word, Flags::empty(), i32::MAX.unsigned_abs());
    }
}

#[cfg(loom)]
mod model {
    //! One global wait queue: every wait/wake pair goes through the same mutex, so a waker
    //! that changes the word and then wakes can never slip between a waiter's check and its
    //! sleep (the futex guarantee). Deadlines are modelled as "may time out at any point".
    use std::time::Instant;

    use loom::sync::{Condvar, Mutex};

    use super::WaitOutcome;
    use crate::loom::{AtomicU32, Ordering};

    loom::lazy_static! {
        static ref QUEUE: (Mutex<()>, Condvar) = (Mutex::new(()), Condvar::new());
    }

    pub(crate) fn wait(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> WaitOutcome {
        if deadline.is_some() {
            // A timed wait may give up at any moment: model it as an immediate time-out, the
            // caller's loop re-checks and must stay correct.
            return WaitOutcome::TimedOut;
        }
        let (lock, cv) = &*QUEUE;
        let guard = lock.lock().unwrap();
        // ORDERING: SeqCst under the model's mutex, as the kernel compares the word
        // atomically with queueing the waiter.
        if word.load(Ordering::SeqCst) != expected {
            return WaitOutcome::Changed;
        }
        drop(cv.wait(guard).unwrap());
        WaitOutcome::Woken
    }

    /// `futex_waitv` in the model: blocks until woken unless some word differs from its
    /// expected value (compared under the model's mutex, as the kernel does atomically).
    pub(crate) fn waitv(words: &[(&AtomicU32, u32)]) -> WaitOutcome {
        let (lock, cv) = &*QUEUE;
        let guard = lock.lock().unwrap();
        // ORDERING: SeqCst under the model's mutex, as in `wait`.
        if words.iter().any(|(w, e)| w.load(Ordering::SeqCst) != *e) {
            return WaitOutcome::Changed;
        }
        drop(cv.wait(guard).unwrap());
        WaitOutcome::Woken
    }

    pub(crate) fn wake_one(_word: &AtomicU32) {
        // Waking everyone is a correct (if wasteful) implementation of wake_one: waiters
        // re-check their condition.
        wake_all(_word);
    }

    pub(crate) fn wake_all(_word: &AtomicU32) {
        let (lock, cv) = &*QUEUE;
        let _guard = lock.lock().unwrap();
        cv.notify_all();
    }
}

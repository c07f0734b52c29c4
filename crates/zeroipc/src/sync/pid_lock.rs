//! A lock in one `u32` word that names its holder's pid, for zeroipc-only words (a Stream's
//! emit lock in the header's tail padding): sleeps on the word's futex only when contended,
//! and takes over from a holder that died.
//!
//! # Layout
//!
//! One word: `0` free; otherwise the holder's pid in bits 0..31, plus [`WAITERS`] (bit 31)
//! once a locker sleeps or may sleep on the word. Linux pids are below 2^22, so the bit
//! never collides with a pid; a word whose pid part is 0 but bit 31 set is free (a waiter
//! flag left by a holder that was taken over).
//!
//! # Synchronization
//!
//! | store (Release)                  | load (Acquire)                      | publishes               |
//! |----------------------------------|-------------------------------------|-------------------------|
//! | unlock: CAS holder → 0           | lock: CAS 0 → me (or `WAITERS` → me \| `WAITERS`) | the critical section |
//! | none: the holder died            | takeover: CAS dead word → me \| `WAITERS` | nothing by itself (the kernel reported the death after the dead process's last store) |
//!
//! An uncontended lock is one CAS and its unlock one CAS, no system call. A locker that
//! finds the lock held spins ([`Backoff`]), then sets [`WAITERS`] and sleeps on the word
//! (`FUTEX_WAIT`); an unlock that finds the bit set clears the word and wakes every sleeper
//! (`FUTEX_WAKE`). A locker that wins after sleeping takes the word with the bit set, since
//! other sleepers may remain (Drepper's "futexes are tricky", mutex 2).
//!
//! # Process death
//!
//! A locker that has waited through its spin checks the holder's pid with `kill(pid, 0)`
//! each time it wakes (at least every [`HOLDER_KNOWN_SLICE`]); a dead holder's word is taken
//! over with a CAS (only one locker wins). A holder that is alive but keeps the lock for the
//! stall bound (stopped, or a zombie its parent never reaped) is [`LockFail::Stalled`]; the
//! clock starts over whenever the holder changes.

use std::time::{Duration, Instant};

use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::wait::{Backoff, HOLDER_KNOWN_SLICE, Parked, Patience, park_slice, wake_all};

/// Bit 31 of the word: a locker sleeps (or may sleep) on it; the unlock must wake.
pub(crate) const WAITERS: u32 = 1 << 31;

/// Why [`PidLock::lock`] did not take the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LockFail {
    /// The caller's deadline passed.
    Timeout,
    /// One live holder kept it for the stall bound.
    Stalled,
}

/// The lock protocol over one shared word (see the module docs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PidLock<'a> {
    word: &'a AtomicU32,
}

/// A held [`PidLock`]; dropping it unlocks (and wakes sleepers if any).
#[derive(Debug)]
#[must_use = "the lock is released when the guard is dropped"]
pub(crate) struct PidGuard<'a> {
    word: &'a AtomicU32,
    me: u32,
}

impl<'a> PidLock<'a> {
    /// The lock in `word`.
    pub(crate) fn new(word: &'a AtomicU32) -> Self {
        Self { word }
    }

    /// Takes the lock as process `me` (a pid, never 0), waiting until `deadline` at most,
    /// and at most `stall` for one live holder; `alive(pid)` tells a dead holder.
    #[inline]
    pub(crate) fn lock(
        self,
        me: u32,
        deadline: Option<Instant>,
        stall: Duration,
        alive: impl Fn(u32) -> bool,
    ) -> Result<PidGuard<'a>, LockFail> {
        // ORDERING: Acquire pairs with the last holder's Release in `PidGuard::drop`.
        if self.word.compare_exchange(0, me, Acquire, Relaxed).is_ok() {
            return Ok(self.guard(me));
        }
        self.lock_contended(me, deadline, stall, alive)
    }

    #[cold]
    fn lock_contended(
        self,
        me: u32,
        deadline: Option<Instant>,
        stall: Duration,
        alive: impl Fn(u32) -> bool,
    ) -> Result<PidGuard<'a>, LockFail> {
        let mut backoff = Backoff::new();
        let mut patience = Patience::new(stall);
        let mut holder = None;
        // After the first sleep (or takeover), take the word with WAITERS set: others may
        // still sleep on it.
        let mut take = me;
        loop {
            // ORDERING: Relaxed — only a guess for the CAS below, which synchronises.
            let cur = self.word.load(Relaxed);
            let owner = cur & !WAITERS;
            if owner == 0 {
                // ORDERING: Acquire pairs with the last holder's Release unlock.
                if self
                    .word
                    .compare_exchange(cur, take | (cur & WAITERS), Acquire, Relaxed)
                    .is_ok()
                {
                    return Ok(self.guard(me));
                }
                continue;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            take = me | WAITERS;
            if owner != me && !alive(owner) {
                // ORDERING: Acquire — take over from a dead holder; what it wrote before it
                // died is visible because the kernel reported the death after its last store.
                if self
                    .word
                    .compare_exchange(cur, me | WAITERS, Acquire, Relaxed)
                    .is_ok()
                {
                    return Ok(self.guard(me));
                }
                continue;
            }
            if holder != Some(owner) {
                holder = Some(owner);
                patience.reset();
            }
            if patience.expired() {
                return Err(LockFail::Stalled);
            }
            // ORDERING: Relaxed — the flag only asks the holder's unlock to wake; the
            // futex compares the word atomically in the kernel.
            if cur & WAITERS == 0
                && self
                    .word
                    .compare_exchange(cur, cur | WAITERS, Relaxed, Relaxed)
                    .is_err()
            {
                continue;
            }
            // Wake by the stall bound too (the model has no clock: only the caller's deadline).
            let until = match (deadline, patience.deadline()) {
                _ if cfg!(loom) => deadline,
                (Some(d), Some(p)) => Some(d.min(p)),
                (d, p) => d.or(p),
            };
            if park_slice(self.word, cur | WAITERS, until, HOLDER_KNOWN_SLICE) == Parked::TimedOut
                && deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Err(LockFail::Timeout);
            }
        }
    }

    /// Releases a lock that `me` kept past its guard ([`PidGuard::keep`]).
    pub(crate) fn release(self, me: u32) {
        drop(self.guard(me));
    }

    /// Whether process `me` holds the lock now (a snapshot).
    pub(crate) fn held_by(self, me: u32) -> bool {
        // ORDERING: Relaxed — a check of a word only `me` or a takeover changes while held.
        self.word.load(Relaxed) & !WAITERS == me
    }

    /// The word as it is now (for error reports).
    pub(crate) fn word(self) -> u32 {
        // ORDERING: Relaxed — a snapshot for a report.
        self.word.load(Relaxed)
    }

    fn guard(self, me: u32) -> PidGuard<'a> {
        PidGuard {
            word: self.word,
            me,
        }
    }
}

impl PidGuard<'_> {
    /// Keeps the lock held after this guard is gone (a claim that outlives the borrow the
    /// guard has); [`PidLock::release`] ends it.
    pub(crate) fn keep(self) {
        core::mem::forget(self);
    }
}

impl Drop for PidGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // ORDERING: Release pairs with the next holder's Acquire CAS.
        match self.word.compare_exchange(self.me, 0, Release, Relaxed) {
            Ok(_) => {}
            Err(cur) => {
                if cur == self.me | WAITERS {
                    // ORDERING: Release, as above.
                    let _ = self.word.compare_exchange(cur, 0, Release, Relaxed);
                }
                // Someone sleeps (or the word was rewritten under us: wake them anyway).
                wake_all(self.word);
            }
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn uncontended_lock_and_unlock_leave_the_word_free() {
        let w = AtomicU32::new(0);
        let g = PidLock::new(&w)
            .lock(7, None, Duration::from_secs(1), |_| true)
            .unwrap();
        assert_eq!(w.load(Relaxed), 7);
        drop(g);
        assert_eq!(w.load(Relaxed), 0);
    }

    #[test]
    fn a_dead_holder_is_taken_over_and_a_live_one_stalls() {
        let w = AtomicU32::new(42);
        let g = PidLock::new(&w)
            .lock(7, None, Duration::from_secs(1), |pid| pid != 42)
            .unwrap();
        assert_eq!(w.load(Relaxed), 7 | WAITERS);
        drop(g);
        assert_eq!(w.load(Relaxed), 0);
        w.store(42, Relaxed);
        assert_eq!(
            PidLock::new(&w)
                .lock(7, None, Duration::from_millis(5), |_| true)
                .unwrap_err(),
            LockFail::Stalled
        );
        let soon = Instant::now() + Duration::from_millis(5);
        assert_eq!(
            PidLock::new(&w)
                .lock(7, Some(soon), Duration::from_secs(10), |_| true)
                .unwrap_err(),
            LockFail::Timeout
        );
        assert_eq!(w.load(Relaxed), 42 | WAITERS, "the waiter asked for a wake");
        // A free word with a stale waiter flag is free.
        w.store(WAITERS, Relaxed);
        drop(
            PidLock::new(&w)
                .lock(7, None, Duration::from_secs(1), |_| true)
                .unwrap(),
        );
        assert_eq!(w.load(Relaxed), 0);
    }

    #[test]
    fn a_kept_lock_stays_held_until_released() {
        let w = AtomicU32::new(0);
        let l = PidLock::new(&w);
        l.lock(7, None, Duration::from_secs(1), |_| true)
            .unwrap()
            .keep();
        assert!(l.held_by(7));
        assert_eq!(
            l.lock(8, None, Duration::from_millis(5), |_| true)
                .unwrap_err(),
            LockFail::Stalled
        );
        l.release(7);
        assert!(!l.held_by(7));
        assert_eq!(l.word(), 0);
    }

    #[test]
    fn contended_threads_exclude_each_other_and_sleepers_are_woken() {
        use crate::loom::AtomicU64;
        use std::sync::Arc;
        let shared = Arc::new((AtomicU32::new(0), AtomicU64::new(0)));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = shared.clone();
                std::thread::spawn(move || {
                    for _ in 0..2_000 {
                        let g = PidLock::new(&s.0)
                            .lock(std::process::id(), None, Duration::from_secs(30), |_| true)
                            .unwrap();
                        // ORDERING: Relaxed — the lock orders it; a torn update would lose counts.
                        let v = s.1.load(Relaxed);
                        std::hint::spin_loop();
                        s.1.store(v + 1, Relaxed);
                        drop(g);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(shared.1.load(Relaxed), 8_000);
        assert_eq!(shared.0.load(Relaxed), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// Two lockers increment a counter under the lock: no update is lost and the word ends
    /// free (a missing wake would show as a loom deadlock: the model's futex waits block).
    #[test]
    fn loom_pid_lock_excludes_and_wakes() {
        loom::model(|| {
            let shared = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
            let locker = |s: Arc<(AtomicU32, AtomicU32)>, me: u32| {
                thread::spawn(move || {
                    let g = PidLock::new(&s.0)
                        .lock(me, None, Duration::from_secs(1), |_| true)
                        .unwrap();
                    // ORDERING: Relaxed — ordered by the lock.
                    let v = s.1.load(Relaxed);
                    s.1.store(v + 1, Relaxed);
                    drop(g);
                })
            };
            let a = locker(shared.clone(), 1);
            let b = locker(shared.clone(), 2);
            a.join().unwrap();
            b.join().unwrap();
            assert_eq!(shared.1.load(Relaxed), 2);
            assert_eq!(shared.0.load(Relaxed), 0);
        });
    }
}

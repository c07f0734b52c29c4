//! Once: run an initialiser exactly once among all processes, surviving a dead initialiser.
//!
//! # Layout (FORMAT.md §7.5)
//!
//! | off | size | field   | notes                                                      |
//! |-----|------|---------|------------------------------------------------------------|
//! | 0   | 4    | `state` | PENDING 0, EXECUTING 1, DONE 2; anything else is corruption |
//! | 4   | 4    | (gap)   | **zeroipc: pid of the initialiser** (or of a caller about to claim), 0 = none |
//!
//! The entry is 4 bytes (Go and Python insist). Every allocator starts each structure on a
//! multiple of 8 (FORMAT.md §3.6, §4), so bytes 4..8 after a Once are never part of any
//! structure, and no implementation reads them: zeroipc keeps the pid there when they are
//! inside the mapping (if a Once ends the mapping exactly, no pid is kept and a dead
//! initialiser is seen as a timeout).
//!
//! # Synchronization
//!
//! | store (Release)              | load (Acquire)             | publishes                    |
//! |------------------------------|----------------------------|------------------------------|
//! | `state = DONE` after `f`     | `state` load by every caller | everything `f` wrote        |
//! | pid word clear (after DONE, or a withdrawal) | pid CAS 0 → self | the end of the last holder's turn |
//!
//! Losers sleep on the `state` futex (re-checking every millisecond, or every 50 ms while a
//! zeroipc initialiser's pid is recorded); the initialiser wakes them all when it stores
//! DONE.
//!
//! # Process death
//!
//! Among zeroipc processes the pid word is a lock on `state`: only the process whose pid
//! it holds moves `state`, so no instruction of a zeroipc process leaves EXECUTING without
//! a pid to check (issue #17):
//!
//! 1. **intent**: CAS pid 0 → me (only while `state` is PENDING);
//! 2. CAS `state` PENDING → EXECUTING (if it fails — DONE, or a C++/Go/Python claim —
//!    the pid word goes back to 0 and the caller looks again);
//! 3. run `f`;
//! 4. `state = DONE` (Release), then pid = 0, then wake everyone.
//!
//! A caller that finds the pid of a process `kill(pid, 0)` says is gone takes the pid word
//! over (CAS dead → own pid; one winner) and continues from where the dead one stopped:
//!
//! | the initialiser was killed                          | `state`   | pid  | the survivor                                 |
//! |-----------------------------------------------------|-----------|------|----------------------------------------------|
//! | before its intent                                   | PENDING   | 0    | runs `f`: [`OnceOutcome::Ran`]               |
//! | after its intent, before its claim (`once.call.after_intent`) | PENDING | dead | takes the pid word, claims, runs `f`: `Ran` (`f` never started) |
//! | after its claim, in `f` (`once.call.after_claim`)   | EXECUTING | dead | takes the pid word, runs `f` again: [`OnceOutcome::Recovered`] |
//! | after DONE, before the pid clear (`once.finish.after_done`) | DONE | dead | returns `AlreadyDone` (the pid is never read once DONE) |
//!
//! A kill of the survivor after its takeover leaves the same rows with its pid. 500 random
//! SIGKILLs of a process looping `call_once` on fresh entries wedged one Once before, none after
//! (`tests/crash.rs`, docs/THREAT_MODEL.md §6).
//!
//! A dead initialiser of another language (EXECUTING, no pid) is seen as
//! [`WaitTimeoutError::Timeout`](super::WaitTimeoutError::Timeout) by the `_timeout`
//! variants, as is any initialiser when the pid word lies outside the mapping. Mixed with
//! C++/Go/Python callers, a zeroipc caller killed after its intent while a foreign caller
//! claims in the same instructions leaves EXECUTING with the dead pid, and a survivor runs
//! `f` beside the live foreign initialiser (foreign callers write nothing to tell the two
//! apart). As upstream, an `f` that panics still marks the Once DONE.

use std::time::Instant;

use crate::layout::once::{DONE, EXECUTING, PENDING};
use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::wait::{self, Parked};

/// How `call_once` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceOutcome {
    /// This caller ran the initialiser.
    Ran,
    /// Someone else ran it (possibly while this caller waited).
    AlreadyDone,
    /// The initialiser (process `pid`) died; this caller ran the initialiser again.
    Recovered {
        /// The dead initialiser's pid.
        pid: u32,
    },
}

/// Why a raw `call` failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawOnceError {
    /// The deadline passed while someone else was executing.
    Timeout,
    /// `state` is not one of the three states.
    Bad(BadWord),
}

/// The Once state machine over views of `state` and (when present) the pid word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawOnce<'a> {
    pub(crate) state: &'a AtomicU32,
    pub(crate) pid: Option<&'a AtomicU32>,
}

fn bad(found: u32) -> BadWord {
    BadWord {
        field: "state",
        found: u64::from(found),
        expected: "0 (pending), 1 (executing) or 2 (done)",
    }
}

/// How many times a caller yields to a live process between its intent and its claim
/// (PENDING with a pid) before it sleeps in slices instead (under loom: always yields).
#[cfg(not(loom))]
const PENDING_YIELDS: u32 = 64;
#[cfg(loom)]
const PENDING_YIELDS: u32 = u32::MAX;

/// Stores DONE and wakes everyone, also when `f` panics.
struct Finish<'a>(RawOnce<'a>);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        // DONE first, the pid after: while `state` is EXECUTING the pid word names the
        // initialiser (a kill in between leaves DONE and a stale pid, which nothing reads
        // once DONE).
        // ORDERING: Release pairs with the Acquire loads of `state` in `call`: everything `f`
        // wrote happens-before any caller that sees DONE.
        self.0.state.store(DONE, Release);
        crate::fault::point("once.finish.after_done");
        if let Some(pid) = self.0.pid {
            // ORDERING: Relaxed — only read while `state` is PENDING or EXECUTING.
            pid.store(0, Relaxed);
        }
        wait::wake_all(self.0.state);
    }
}

impl RawOnce<'_> {
    /// Whether the initialiser finished.
    pub(crate) fn is_done(&self) -> Result<bool, BadWord> {
        // ORDERING: Acquire pairs with the Release store of DONE in `Finish::drop`.
        match self.state.load(Acquire) {
            DONE => Ok(true),
            PENDING | EXECUTING => Ok(false),
            other => Err(bad(other)),
        }
    }

    fn run(&self, f: impl FnOnce()) {
        let finish = Finish(*self);
        f();
        drop(finish);
    }

    /// Runs `f` if no one has; otherwise waits (until `deadline`) for whoever is running it.
    pub(crate) fn call(
        &self,
        me: u32,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, RawOnceError> {
        let Some(word) = self.pid else {
            return self.call_without_pid(deadline, f);
        };
        let mut yields = 0;
        loop {
            // ORDERING: Acquire pairs with the Release store of DONE.
            let state = self.state.load(Acquire);
            match state {
                DONE => return Ok(OnceOutcome::AlreadyDone),
                PENDING | EXECUTING => {}
                other => return Err(RawOnceError::Bad(bad(other))),
            }
            // ORDERING: Relaxed — a candidate; the CAS below decides.
            let p = word.load(Relaxed);
            let dead = if p == 0 && state == PENDING {
                // The intent: the pid word 0 → me before the claim.
                // ORDERING: Acquire on success pairs with the Release clear of the last
                // holder (`Finish`, a withdrawal).
                if word.compare_exchange(0, me, Acquire, Relaxed).is_err() {
                    continue;
                }
                crate::fault::point("once.call.after_intent");
                None
            } else if p != 0 && p != me && !alive(p) {
                // A dead zeroipc process holds the pid word: whatever it was doing (between
                // its intent and its claim, running `f`, or between DONE and its clear) is
                // ours to finish.
                // ORDERING: Acquire — its writes are visible since the kernel reported its
                // death; the CAS picks one taker.
                if word.compare_exchange(p, me, Acquire, Relaxed).is_err() {
                    continue;
                }
                Some(p)
            } else {
                // A live initialiser (or one between its intent and its claim, or another
                // thread of ours), or a C++/Go/Python initialiser (EXECUTING, no pid): wait.
                if state == PENDING {
                    // Between two instructions of a live process: let it run (after a few
                    // yields, sleep in 1 ms slices: a peer may have written a live pid).
                    yields += 1;
                    if yields <= PENDING_YIELDS {
                        crate::loom::yield_point();
                        #[cfg(not(loom))]
                        std::thread::yield_now();
                        continue;
                    }
                }
                if state == EXECUTING && wait::spin_while(self.state, EXECUTING) {
                    continue;
                }
                // A zeroipc initialiser wakes us when done: wake on our own only to check
                // that it lives. No pid: a foreign initialiser, which never wakes anyone.
                let slice = if state == EXECUTING && p != 0 {
                    wait::HOLDER_KNOWN_SLICE
                } else {
                    wait::SLICE
                };
                if wait::park_slice(self.state, state, deadline, slice) == Parked::TimedOut {
                    return match self.is_done().map_err(RawOnceError::Bad)? {
                        true => Ok(OnceOutcome::AlreadyDone),
                        false => Err(RawOnceError::Timeout),
                    };
                }
                continue;
            };
            // The pid word is ours: among zeroipc processes, only its holder moves `state`.
            // ORDERING: AcqRel on success (Acquire: a dead initialiser's writes, via the
            // kernel; Release is harmless), Acquire on failure to read DONE's publication.
            match (
                self.state
                    .compare_exchange(PENDING, EXECUTING, AcqRel, Acquire),
                dead,
            ) {
                (Ok(_), _) => {
                    crate::fault::point("once.call.after_claim");
                    // A dead holder had not claimed: `f` never started, this is a plain run.
                    self.run(f);
                    return Ok(OnceOutcome::Ran);
                }
                (Err(EXECUTING), Some(pid)) => {
                    // The dead holder claimed and died before DONE: run `f` again.
                    self.run(f);
                    return Ok(OnceOutcome::Recovered { pid });
                }
                (Err(_), _) => {
                    // DONE (a dead holder died between DONE and its clear), a C++/Go/Python
                    // claim in between, or corruption: withdraw, and look again.
                    // ORDERING: Release pairs with the Acquire CAS of the next taker.
                    word.store(0, Release);
                }
            }
        }
    }

    /// [`RawOnce::call`] for a Once whose pid word is outside the mapping: the state alone
    /// (a dead initialiser cannot be recognised).
    fn call_without_pid(
        &self,
        deadline: Option<Instant>,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, RawOnceError> {
        loop {
            // ORDERING: Acquire pairs with the Release store of DONE.
            match self.state.load(Acquire) {
                DONE => return Ok(OnceOutcome::AlreadyDone),
                PENDING => {
                    // ORDERING: AcqRel on success, Acquire on failure to read DONE's
                    // publication.
                    if self
                        .state
                        .compare_exchange(PENDING, EXECUTING, AcqRel, Acquire)
                        .is_ok()
                    {
                        self.run(f);
                        return Ok(OnceOutcome::Ran);
                    }
                }
                EXECUTING => {
                    if wait::spin_while(self.state, EXECUTING) {
                        continue;
                    }
                    if wait::park(self.state, EXECUTING, deadline) == Parked::TimedOut {
                        return match self.is_done().map_err(RawOnceError::Bad)? {
                            true => Ok(OnceOutcome::AlreadyDone),
                            false => Err(RawOnceError::Timeout),
                        };
                    }
                }
                other => return Err(RawOnceError::Bad(bad(other))),
            }
        }
    }
}

#[cfg(not(loom))]
pub use handle::Once;

#[cfg(not(loom))]
mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    use super::*;

    #[test]
    fn loom_once_runs_once_and_waiters_see_its_writes() {
        loom::model(|| {
            let state = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(0),
                AtomicUsize::new(0),
            ));
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let raw = RawOnce {
                            state: &s.0,
                            pid: Some(&s.1),
                        };
                        raw.call(
                            me,
                            None,
                            |_| true,
                            || {
                                s.2.fetch_add(1, Relaxed);
                            },
                        )
                        .unwrap();
                        // Whoever returns sees the initialiser's write.
                        assert_eq!(s.2.load(Relaxed), 1);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(state.0.load(Relaxed), DONE);
        });
    }

    #[test]
    fn loom_once_dead_initialiser_is_replaced_exactly_once() {
        loom::model(|| {
            // Process 9 died while executing the initialiser.
            let state = Arc::new((
                AtomicU32::new(EXECUTING),
                AtomicU32::new(9),
                AtomicUsize::new(0),
            ));
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let raw = RawOnce {
                            state: &s.0,
                            pid: Some(&s.1),
                        };
                        let out = raw
                            .call(
                                me,
                                None,
                                |pid| pid != 9,
                                || {
                                    s.2.fetch_add(1, Relaxed);
                                },
                            )
                            .unwrap();
                        assert!(
                            matches!(
                                out,
                                OnceOutcome::Recovered { pid: 9 } | OnceOutcome::AlreadyDone
                            ),
                            "{out:?}"
                        );
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            // ORDERING: Relaxed — after join.
            assert_eq!(
                state.2.load(Relaxed),
                1,
                "the initialiser re-ran exactly once"
            );
            assert_eq!(state.0.load(Relaxed), DONE);
            assert_eq!(state.1.load(Relaxed), 0);
        });
    }

    #[test]
    fn loom_once_dead_intent_is_taken_over_and_runs_once() {
        loom::model(|| {
            // Process 9 died after its intent (pid word = 9), before its claim.
            let state = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(9),
                AtomicUsize::new(0),
            ));
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let raw = RawOnce {
                            state: &s.0,
                            pid: Some(&s.1),
                        };
                        let out = raw
                            .call(
                                me,
                                None,
                                |pid| pid != 9,
                                || {
                                    s.2.fetch_add(1, Relaxed);
                                },
                            )
                            .unwrap();
                        assert!(
                            matches!(out, OnceOutcome::Ran | OnceOutcome::AlreadyDone),
                            "{out:?}"
                        );
                        assert_eq!(s.2.load(Relaxed), 1);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(state.2.load(Relaxed), 1, "the initialiser ran exactly once");
            assert_eq!(state.0.load(Relaxed), DONE);
            assert_eq!(state.1.load(Relaxed), 0);
        });
    }
}

//! Lazy: a value computed at most once across all processes, by whichever forces it first;
//! everyone else receives that value.
//!
//! # Layout (FORMAT.md §6.2, the C++ `Lazy<T>`)
//!
//! With `A = max(4, align_of T)`, `U = align_up(max(2·es, 8), A)`:
//!
//! | field            | offset                                   | T = 4 bytes | T = 8 bytes |
//! |------------------|------------------------------------------|-------------|-------------|
//! | `state` u32      | 0: NOT_COMPUTED 0, COMPUTING 1, COMPUTED 2, ERROR 3 | 0 | 0     |
//! | `op.type` u32    | `align_up(4, A)`: CONSTANT 0, ADD 1, MULTIPLY 2, NEGATE 3, CHAIN 4, EXTERNAL 5 | 4 | 8 |
//! | `op.data`        | `op + align_up(4, A)`: `constant`/`a`/`unary`; `b` at + es | 8 | 16 |
//! | `cached_value`   | `align_up(data + U, align_of T)`         | 16          | 32          |
//! | `error_msg` (256) | `cached + es`, valid once ERROR         | 20          | 40          |
//! | `compute_count`  | `align_up(error_msg + 256, 4)`           | 276         | 296         |
//! | total            | `align_up(count + 4, A)`                 | 280         | 304         |
//!
//! **The computer's pid.** A zeroipc computer keeps `0x5A504944 << 32 | pid` in the owner
//! word: the last 8-aligned 8 bytes inside `error_msg` (`align_down(error_msg + 248, 8)`:
//! offset 264 for a 4-byte T, 288 for an 8-byte T). `error_msg` means nothing until ERROR, and
//! zeroipc cuts its own messages to 240 bytes, so a message it writes ends before the word in
//! every layout. The word is zeroed once the computation is published, so a finished Lazy is
//! byte-identical to C++'s. A word is taken for a pid only with the tag in its high half and a
//! low half ≤ 2^22 (Linux's `PID_MAX_LIMIT`), so message bytes written by a failing C++
//! computer are not mistaken for one.
//!
//! Python's `Lazy` is another format (`{u32 state; T value @4; char err[256]}`, `260 + es`
//! bytes): [`Lazy::open`] refuses it with
//! [`StructureError::Foreign`](crate::StructureError::Foreign). C++'s `Lazy<bool>`
//! specialisation (16 bytes) is read by [`LazyBool`].
//!
//! # Computation
//!
//! - [`Lazy::force`] evaluates the stored operation as C++ does (CONSTANT → the constant,
//!   ADD → `a + b`, MULTIPLY → `a * b`, NEGATE → `-x`; integers wrap instead of C++'s
//!   undefined overflow). CHAIN and EXTERNAL cannot be evaluated from shared memory: `force`
//!   then does not claim the Lazy (C++ would store a permanent ERROR) and returns
//!   [`ForceError::NoComputation`] unless someone else computes it.
//! - [`Lazy::force_with`] runs the caller's closure instead, whatever the operation: the
//!   computation "given by the forcing process". Exactly one closure runs across all
//!   processes; the others wait and receive its value.
//! - `compute_count` is incremented after every successful computation, as C++ does.
//!   [`Lazy::reset`] (COMPUTED → NOT_COMPUTED only, as C++) allows a recomputation.
//!
//! # Synchronization
//!
//! | store (Release)                     | load (Acquire)                 | publishes              |
//! |-------------------------------------|--------------------------------|------------------------|
//! | `state = COMPUTED` after the value  | `state` in `force*`/`peek`     | `cached_value`         |
//! | `state = ERROR` after the message   | `state` in `force*`            | `error_msg`            |
//! | CAS `NOT_COMPUTED → COMPUTING` (AcqRel) | `state` in `force*`         | one computer; its owner word |
//!
//! Waiters spin briefly, then sleep on the `state` futex, re-checking at least every
//! millisecond (C++ computers never wake anyone).
//!
//! # Process death: the claim protocol
//!
//! A zeroipc computer records its intent (the owner word) **before** it claims, and publishes
//! its result **before** it withdraws the word, so at every instruction a COMPUTING that a
//! zeroipc process set names its owner. Each step, what a SIGKILL right after it leaves, and
//! how a survivor proceeds (each gap has a row in `tests/crash_matrix.rs`, point in brackets):
//!
//! | step (zeroipc computer `me`) | a kill right after it leaves | a survivor |
//! |---|---|---|
//! | 1. CAS owner word: 0 / a dead pid / foreign bytes (only if the state is still NOT_COMPUTED) → `me` (a live pid, or our own: wait) \[`lazy.claim.after_intent`\] | NOT_COMPUTED, owner = dead `me` | its own step 1 overwrites the dead intent (CAS) and computes |
//! | 2. CAS `state` NOT_COMPUTED → COMPUTING (AcqRel) \[`lazy.claim.after_cas`\]; on failure (a C++ computer claimed first, or our NOT_COMPUTED was stale) CAS the word back (to 0 over a dead pid, else to what it was) | COMPUTING, owner = dead `me` | finds the owner dead (`kill(pid, 0)`), CAS owner dead → itself \[`lazy.takeover.after_cas`\], computes (its closure or the stored operation); without one, `ComputerDead { pid }` |
//! | 3. compute; store `cached_value` \[`lazy.finish.before_publish`\] (or the message, around the owner word \[`lazy.fail.before_publish`\]) | COMPUTING, owner = dead `me` | as after step 2 (a taker zeroes what the dead one left in `error_msg`) |
//! | 4. store `state` = COMPUTED (or ERROR), Release; `compute_count += 1` \[`lazy.finish.after_publish`, `lazy.fail.after_publish`\] | the value (or the error) published, owner = dead `me` (stale; a kill between the store and the count leaves the count one short) | reads the value; `reset` zeroes a dead pid's word before COMPUTED → NOT_COMPUTED, and a claim overwrites one anyway (step 1) |
//! | 5. CAS owner word `me` → 0; wake all | nothing left over | — |
//!
//! Live processes: a waiter that finds a live intent (step 1 done, step 2 not yet) waits for
//! the state to change like any waiter, re-checking every millisecond.
//!
//! C++ and Python computers write no owner: COMPUTING with no owner word means "a foreign
//! computer, wait"; if it died, the timed forms (`_timeout`, `_deadline`) report
//! [`ForceTimeoutError::Timeout`] and an untimed force waits forever, as upstream. A closure
//! that panics stores ERROR ("computation panicked"). Left open: pid reuse (a recycled pid
//! makes a dead owner look alive: survivors wait, the timed forms time out), and in segments
//! shared with C++ computers, a zeroipc process killed between steps 1 and 2 (or 4 and 5,
//! when a C++ `reset` follows) leaves a dead owner word that a zeroipc waiter would then take
//! for the owner of a C++ claim made later, and compute alongside it.
//!
//! # Forms
//!
//! Each way to force has the four forms of the crate's API conventions, each with its own
//! error type: `force` / `force_with` / `force_with_result` → [`ForceError`];
//! `try_force` / `try_force_with` (never wait for another process:
//! [`TryForceError::WouldBlock`]); `*_timeout` / `*_deadline` → [`ForceTimeoutError`]
//! (+ `Timeout`). [`Lazy::add`] / [`Lazy::multiply`] return [`CombineError`].
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, codata::lazy::Lazy};
//! # let name = format!("/zeroipc-doc-lazy-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let config: Lazy<u64> = Lazy::create(&seg, "config")?;
//!
//! // Whichever process forces first computes; everyone gets that value.
//! assert_eq!(config.force_with(|| 6 * 7)?, 42);
//! let peer: Lazy<u64> = Lazy::open(&Segment::open(&name)?, "config")?;
//! assert_eq!(peer.force_with(|| unreachable!())?, 42);
//! assert_eq!(peer.compute_count()?, 1);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::time::Instant;

use crate::layout::future::{owner_pid, owner_word};
use crate::layout::lazy::{COMPUTED, COMPUTING, ERROR, NOT_COMPUTED};
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
        expected: "0 (not computed), 1 (computing), 2 (computed) or 3 (error)",
    }
}

/// What the caller of [`RawLazy::acquire`] must do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawForce {
    /// Compute now: this caller holds COMPUTING (`Some(pid)`: taken over from a dead one).
    Compute(Option<u32>),
    /// COMPUTED: read `cached_value`.
    Computed,
    /// ERROR: read `error_msg`.
    Failed,
    /// NOT_COMPUTED, and the caller may not compute (`may_compute` was false).
    NotComputed,
    /// A dead zeroipc computer (pid), and the caller may not compute.
    ComputerDead(u32),
    /// The deadline passed while someone else computed (or was about to).
    Timeout,
    /// `state` holds an impossible value.
    Bad(BadWord),
}

/// How one claim attempt on a NOT_COMPUTED Lazy ended.
enum Claim {
    /// This caller holds COMPUTING, its owner word recorded.
    Won,
    /// A live zeroipc process recorded its intent first: wait for it.
    Busy,
    /// The words changed under us: look again.
    Retry,
}

/// The pid in an owner word, if it is one: the `ZPID` tag and a pid ≤ Linux's
/// `PID_MAX_LIMIT` (message bytes of a C++ computer are never taken for one).
fn pid_in(word: u64) -> Option<u32> {
    owner_pid(word).filter(|&p| p <= MAX_PID)
}

/// The Lazy state machine over views of `state`, the owner word and `compute_count`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawLazy<'a> {
    pub(crate) state: &'a AtomicU32,
    pub(crate) owner: &'a AtomicU64,
    pub(crate) count: &'a AtomicU32,
}

impl RawLazy<'_> {
    /// The validated state.
    pub(crate) fn state(&self) -> Result<u32, BadWord> {
        // ORDERING: Acquire pairs with the Release stores in `finish_ok`/`finish_err` and
        // the claim CAS.
        match self.state.load(Acquire) {
            s @ (NOT_COMPUTED | COMPUTING | COMPUTED | ERROR) => Ok(s),
            other => Err(bad_state(other)),
        }
    }

    /// Claims the computation (or takes it over from a dead computer), or waits for the
    /// computer until `deadline`.
    pub(crate) fn acquire(
        &self,
        me: u32,
        may_compute: bool,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
    ) -> RawForce {
        loop {
            let s = match self.state() {
                Ok(s) => s,
                Err(b) => return RawForce::Bad(b),
            };
            match s {
                COMPUTED => return RawForce::Computed,
                ERROR => return RawForce::Failed,
                NOT_COMPUTED if !may_compute => return RawForce::NotComputed,
                NOT_COMPUTED => match self.claim(me, &alive) {
                    Claim::Won => return RawForce::Compute(None),
                    Claim::Retry => continue,
                    Claim::Busy => {}
                },
                _ => {
                    if let Some(dead) = self.dead_computer(me, &alive) {
                        if !may_compute {
                            return RawForce::ComputerDead(dead);
                        }
                        // ORDERING: Acquire — the winner of this CAS is the only new
                        // computer; the dead one can write nothing any more.
                        if self
                            .owner
                            .compare_exchange(owner_word(dead), owner_word(me), Acquire, Relaxed)
                            .is_ok()
                        {
                            crate::fault::point("lazy.takeover.after_cas");
                            return RawForce::Compute(Some(dead));
                        }
                        continue;
                    }
                }
            }
            if cfg!(loom) && s == NOT_COMPUTED {
                // A claimer between its two CASes: it wakes no one (processes re-check every
                // slice); in the model, let it run.
                crate::loom::yield_point();
                continue;
            }
            if wait::spin_while(self.state, s) {
                continue;
            }
            if wait::park(self.state, s, deadline) == Parked::TimedOut {
                return match self.state() {
                    Ok(COMPUTED) => RawForce::Computed,
                    Ok(ERROR) => RawForce::Failed,
                    Ok(_) => RawForce::Timeout,
                    Err(b) => RawForce::Bad(b),
                };
            }
        }
    }

    /// One claim of a NOT_COMPUTED Lazy: the intent first (owner word → `me`, over a free,
    /// foreign or dead process's word), then `NOT_COMPUTED → COMPUTING`. A COMPUTING that a
    /// zeroipc process set therefore always has its owner recorded.
    fn claim(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Claim {
        // ORDERING: Relaxed — a candidate for the CAS below.
        let word = self.owner.load(Relaxed);
        match pid_in(word) {
            Some(pid) if pid == me || alive(pid) => return Claim::Busy,
            Some(_) => {} // a dead process's intent or stale word
            None if word == 0 => {}
            // Foreign bytes (a C++ message): overwritten only while still NOT_COMPUTED, so
            // a claimer that read the state long ago does not scribble on a finished Lazy.
            // ORDERING: Acquire — as every read of the state.
            None if self.state.load(Acquire) != NOT_COMPUTED => return Claim::Retry,
            None => {}
        }
        // ORDERING: Relaxed — the intent is published by the Release of the state CAS;
        // among claimers the CAS's atomicity alone picks one.
        if self
            .owner
            .compare_exchange(word, owner_word(me), Relaxed, Relaxed)
            .is_err()
        {
            return Claim::Retry;
        }
        crate::fault::point("lazy.claim.after_intent");
        // ORDERING: AcqRel on success — Acquire: a previous `reset` happens-before our
        // computation; Release: whoever sees COMPUTING sees our owner word. Relaxed on
        // failure (the caller re-reads with Acquire).
        if self
            .state
            .compare_exchange(NOT_COMPUTED, COMPUTING, AcqRel, Relaxed)
            .is_ok()
        {
            crate::fault::point("lazy.claim.after_cas");
            return Claim::Won;
        }
        // A C++ computer claimed first (or the state was stale): withdraw the intent, unless
        // someone already wrote over it. A dead process's word is not put back (a later
        // C++ claim would look like that process's); foreign bytes are.
        let back = if pid_in(word).is_some() { 0 } else { word };
        // ORDERING: Relaxed — only compared and checked for liveness.
        let _ = self
            .owner
            .compare_exchange(owner_word(me), back, Relaxed, Relaxed);
        Claim::Retry
    }

    /// The dead zeroipc computer's pid, if COMPUTING under one that is gone.
    pub(crate) fn dead_computer(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<u32> {
        // ORDERING: Relaxed — a candidate, confirmed below.
        let word = self.owner.load(Relaxed);
        let pid = pid_in(word)?;
        if pid == me || alive(pid) {
            return None;
        }
        // ORDERING: Acquire pairs with the finishing Release: a finished computer is not
        // a dead one.
        let still = self.state.load(Acquire) == COMPUTING && self.owner.load(Relaxed) == word;
        still.then_some(pid)
    }

    /// Publishes COMPUTED after the caller wrote `cached_value`, counts the computation,
    /// then withdraws `me` from the owner word.
    pub(crate) fn finish_ok(&self, me: u32) {
        crate::fault::point("lazy.finish.before_publish");
        // ORDERING: Release pairs with the Acquire in `state`: `cached_value` is visible
        // to whoever sees COMPUTED.
        self.state.store(COMPUTED, Release);
        // ORDERING: Relaxed — a statistic, incremented after publishing as C++ does.
        self.count.fetch_add(1, Relaxed);
        crate::fault::point("lazy.finish.after_publish");
        self.withdraw(me);
        wait::wake_all(self.state);
    }

    /// Publishes ERROR after the caller wrote `error_msg` (around the owner word), then
    /// withdraws `me` from the owner word.
    pub(crate) fn finish_err(&self, me: u32) {
        crate::fault::point("lazy.fail.before_publish");
        // ORDERING: Release pairs with the Acquire in `state`: the message is complete.
        self.state.store(ERROR, Release);
        crate::fault::point("lazy.fail.after_publish");
        self.withdraw(me);
        wait::wake_all(self.state);
    }

    /// Zeroes the owner word if it still names `me` (a finished state with a stale word,
    /// left by a kill right before this, is harmless: the next claim takes it over).
    fn withdraw(&self, me: u32) {
        // ORDERING: Relaxed — only compared and checked for liveness; C++ has zeros here.
        let _ = self
            .owner
            .compare_exchange(owner_word(me), 0, Relaxed, Relaxed);
    }

    /// COMPUTED → NOT_COMPUTED (only from COMPUTED, as C++); whether it happened. An owner
    /// word left by a computer that died right after publishing is cleared first, so a
    /// C++ computer's later claim is not mistaken for that dead process.
    pub(crate) fn reset(&self, alive: impl Fn(u32) -> bool) -> bool {
        // ORDERING: Relaxed — a candidate for the CAS.
        let word = self.owner.load(Relaxed);
        if pid_in(word).is_some_and(|p| !alive(p)) && self.state.load(Relaxed) == COMPUTED {
            // ORDERING: Relaxed — a dead process's word; no data rides on it.
            let _ = self.owner.compare_exchange(word, 0, Relaxed, Relaxed);
        }
        // ORDERING: Release pairs with the Acquire of the next computer's claim CAS.
        self.state
            .compare_exchange(COMPUTED, NOT_COMPUTED, Release, Relaxed)
            .is_ok()
    }
}

/// Linux's `PID_MAX_LIMIT` (2^22): a larger "pid" in the owner word is garbage, never ours.
const MAX_PID: u32 = 1 << 22;

#[cfg(not(loom))]
pub use handle::{
    Arithmetic, BoolOperation, CombineError, ForceError, ForceTimeoutError, Lazy, LazyBool,
    LazyState, Operation, TryForceError,
};

#[cfg(not(loom))]
mod asynchronous;
#[cfg(not(loom))]
pub use asynchronous::{LazyWait, LazyWaitTimeout};

#[cfg(not(loom))]
mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    use super::*;

    /// Two forcers race for the claim: exactly one computes, both get its value. Negative
    /// control: with a Relaxed store of COMPUTED in `finish_ok`, loom finds the loser reading
    /// the old cached value.
    #[test]
    fn loom_lazy_claim_race_computes_once() {
        loom::model(|| {
            let w = Arc::new((
                AtomicU32::new(NOT_COMPUTED),
                AtomicU64::new(0),
                AtomicU32::new(0),
                AtomicU64::new(0), // cached value
                AtomicUsize::new(0),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let raw = RawLazy {
                            state: &w.0,
                            owner: &w.1,
                            count: &w.2,
                        };
                        match raw.acquire(me, true, None, |_| true) {
                            RawForce::Compute(None) => {
                                w.4.fetch_add(1, Relaxed);
                                w.3.store(u64::from(me) * 10, Relaxed);
                                raw.finish_ok(me);
                            }
                            RawForce::Computed => {}
                            other => panic!("{other:?}"),
                        }
                        w.3.load(Relaxed)
                    })
                })
                .collect();
            let got: Vec<u64> = hs.into_iter().map(|h| h.join().unwrap()).collect();
            assert_eq!(w.4.load(Relaxed), 1, "exactly one computation");
            assert_eq!(got[0], got[1], "both see the computed value");
            assert_eq!(w.2.load(Relaxed), 1, "compute_count");
            assert_eq!(w.1.load(Relaxed), 0, "owner word cleared");
        });
    }

    /// A computer (pid 9) died: of two waiters, exactly one takes over and computes.
    #[test]
    fn loom_lazy_dead_computer_replaced_once() {
        loom::model(|| {
            let w = Arc::new((
                AtomicU32::new(COMPUTING),
                AtomicU64::new(owner_word(9)),
                AtomicU32::new(0),
                AtomicUsize::new(0),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let raw = RawLazy {
                            state: &w.0,
                            owner: &w.1,
                            count: &w.2,
                        };
                        match raw.acquire(me, true, None, |p| p != 9) {
                            RawForce::Compute(Some(9)) => {
                                w.3.fetch_add(1, Relaxed);
                                raw.finish_ok(me);
                            }
                            RawForce::Computed => {}
                            other => panic!("{other:?}"),
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(w.3.load(Relaxed), 1, "recomputed exactly once");
            assert_eq!(w.0.load(Relaxed), COMPUTED);
        });
    }

    /// A zeroipc forcer (pid 1) races a foreign (C++-like) computer that claims with a bare
    /// CAS and records no owner: exactly one computes, and the owner word ends zero whoever
    /// wins (the zeroipc loser withdraws its intent; the winner clears it after publishing).
    #[test]
    fn loom_lazy_intent_races_a_foreign_claim() {
        loom::model(|| {
            let w = Arc::new((
                AtomicU32::new(NOT_COMPUTED),
                AtomicU64::new(0),
                AtomicU32::new(0),
                AtomicUsize::new(0),
            ));
            let foreign = {
                let w = w.clone();
                thread::spawn(move || {
                    // ORDERING: as a C++ computer: Acquire claim, Release publish (pairs
                    // with the zeroipc side's Acquire state loads).
                    if w.0
                        .compare_exchange(NOT_COMPUTED, COMPUTING, Acquire, Relaxed)
                        .is_ok()
                    {
                        w.3.fetch_add(1, Relaxed);
                        w.0.store(COMPUTED, Release);
                        wait::wake_all(&w.0);
                    }
                })
            };
            let raw = RawLazy {
                state: &w.0,
                owner: &w.1,
                count: &w.2,
            };
            match raw.acquire(1, true, None, |_| true) {
                RawForce::Compute(None) => {
                    w.3.fetch_add(1, Relaxed);
                    raw.finish_ok(1);
                }
                RawForce::Computed => {}
                other => panic!("{other:?}"),
            }
            foreign.join().unwrap();
            assert_eq!(w.3.load(Relaxed), 1, "exactly one computation");
            assert_eq!(w.0.load(Relaxed), COMPUTED);
            assert_eq!(w.1.load(Relaxed), 0, "no owner word left behind");
        });
    }

    /// A computer (pid 9) died right after recording its intent: two forcers race to
    /// overwrite it; exactly one computes, the other receives its value.
    #[test]
    fn loom_lazy_dead_intent_taken_once() {
        loom::model(|| {
            let w = Arc::new((
                AtomicU32::new(NOT_COMPUTED),
                AtomicU64::new(owner_word(9)),
                AtomicU32::new(0),
                AtomicUsize::new(0),
            ));
            let hs: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let raw = RawLazy {
                            state: &w.0,
                            owner: &w.1,
                            count: &w.2,
                        };
                        match raw.acquire(me, true, None, |p| p != 9) {
                            RawForce::Compute(None) => {
                                w.3.fetch_add(1, Relaxed);
                                raw.finish_ok(me);
                            }
                            RawForce::Computed => {}
                            other => panic!("{other:?}"),
                        }
                    })
                })
                .collect();
            for h in hs {
                h.join().unwrap();
            }
            assert_eq!(w.3.load(Relaxed), 1, "computed exactly once");
            assert_eq!(w.1.load(Relaxed), 0);
        });
    }
}

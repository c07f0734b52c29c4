//! Semaphore: a counting semaphore shared by processes.
//!
//! # Layout (FORMAT.md §7.1)
//!
//! | off | size | field       | notes                                   |
//! |-----|------|-------------|-----------------------------------------|
//! | 0   | 4    | `count`     | i32, permits left (≥ 0)                 |
//! | 4   | 4    | `waiting`   | i32, acquirers currently blocked        |
//! | 8   | 4    | `max_count` | i32, 0 = unbounded                      |
//! | 12  | 4    | padding     | 0 upstream; zeroipc: the *gate*, pid of the tracked handle in an acquire/release step (a [`Mutex`](super::Mutex) keeps its holder's pid here) |
//!
//! # Synchronization
//!
//! | store (Release)               | load (Acquire)                    | publishes                   |
//! |-------------------------------|-----------------------------------|-----------------------------|
//! | `count` CAS `c → c+1` in `release` | `count` CAS `c → c−1` in `acquire` | what the releaser wrote before |
//! | gate clear (tracked handles)  | gate CAS 0 → self                 | the last gate holder's registry writes |
//!
//! Blocking: an acquirer that finds `count == 0` increments `waiting`, then sleeps on the
//! `count` word (a shared futex, re-checked every millisecond because C++/Go/Python peers
//! never wake anyone). `release` increments `count`, and wakes one sleeper if `waiting != 0`.
//! A barrier on each side (after `waiting += 1`: `membarrier(GLOBAL_EXPEDITED)`; after the
//! `count` increment: a compiler fence, see `sys::membarrier`) makes this a Dekker pair:
//! either the releaser sees the waiter, or the waiter sees the permit. An uncontended
//! untracked `acquire` is one load and one CAS; a tracked one (a [`Semaphore`] handle, in a
//! segment with the registry) is two CAS (gate, `count`), three stores and no system call;
//! `release` likewise. (The first acquire of a process finds or claims its slot in the
//! registry: see "Process death".)
//!
//! # Process death
//!
//! The 16 bytes have no room for holders, so zeroipc records them beside the semaphore, in
//! the segment's *permit-holder registry* (`__zeroipc_permits`, one table entry created by
//! the segment's first [`Semaphore::create`], never by an acquire: zeroipc does not write
//! the table of a segment at run time; layout and protocol in `segment::permits` and
//! docs/EXTENSIONS.md): one 16-byte slot per (process, semaphore) with the number of
//! permits that process holds (`held`) and, in the same 8-byte word, the *intent* of the
//! step in flight.
//!
//! The record and the `count` CAS are two words, so the step between them is made
//! recoverable: a tracked handle moves `count` only inside the semaphore's **gate**, the
//! padding word (bytes 12..16, 0 upstream; a [`Mutex`](super::Mutex) keeps its owner
//! there), which holds the pid of the one zeroipc process in an acquire or release step.
//! While a process holds the gate no other zeroipc process moves `count`, so the intent it
//! recorded, compared with `count`, says exactly whether its CAS happened:
//!
//! 1. CAS gate 0 → me (a gate held by a dead process is taken over with a CAS, and its
//!    intent settled first: see below);
//! 2. read `count` = c (0: leave the gate, block);
//! 3. slot word = (`held`, intent `c`) — for a release (`held`, `c | 1<<31`);
//! 4. CAS `count` c → c−1 (release: c → c+1); if a C++/Go/Python peer moved it, back to 3;
//! 5. slot word = (`held` ± 1, no intent) — the outcome and the end of the intent, one store;
//! 6. gate = 0 (Release).
//!
//! **Settling** (the taker of a dead process's gate, before anything else): every slot of
//! this semaphore with an intent is the dead holder's (only the gate holder has one). An
//! acquire intent `c` took its permit iff `count == c − 1`, a release intent iff
//! `count == c + 1` (`c + held` for a give-back, below); `held` is adjusted accordingly and
//! the intent cleared. The dead holder's permits are then given back as usual:
//!
//! | a tracked holder was killed                          | gate | slot word | `count` | settled to, then given back |
//! |------------------------------------------------------|------|-----------|---------|-----------------------------|
//! | before the gate, or after leaving it                 | 0    | (h, 0)    | —       | h given back                |
//! | in the gate, before the intent                       | dead | (h, 0)    | c       | h                           |
//! | after the intent (`semaphore.acquire.after_intent`)  | dead | (h, c)    | c       | h (the CAS did not happen)  |
//! | after the CAS (`semaphore.acquire.after_cas`)        | dead | (h, c)    | c−1     | h+1                         |
//! | after the record (`semaphore.acquire.after_record`)  | dead | (h+1, 0)  | c−1     | h+1                         |
//! | release, after the intent                            | dead | (h, c\|R) | c       | h                           |
//! | release, after the CAS (`semaphore.release.after_cas`) | dead | (h, c\|R) | c+1   | h−1                         |
//!
//! A blocked acquirer (`acquire`, `acquire_timeout`, `acquire_deadline`) enters the gate
//! when it starts to wait and then every 50 ms (it still re-checks `count` every 1 ms, for
//! C++/Go/Python releasers, who never wake anyone), and for each slot of its semaphore
//! whose process `kill(pid, 0)` says is gone, takes the slot (a CAS on its pid), records a
//! release intent of all its `held`, returns them with one CAS, clears the slot and frees
//! it: a kill of that reclaimer at any step is settled the same way
//! (`semaphore.reclaim.after_take`, `.after_give_back`). A recorded count that would push
//! `count` past `max_count` is corrupt and dropped. That acquirer, when it then gets a
//! permit, returns [`LockError::OwnerDead`](crate::sync::LockError::OwnerDead) naming the
//! dead pid, **with the permit held** (release it as usual); other acquirers simply
//! succeed. [`Semaphore::try_acquire`] never reclaims (it settles a dead gate holder's step,
//! which gives nothing back by itself).
//!
//! 200 random SIGKILLs of a process looping acquire/release lost the permit 77 times
//! before the gate (the record came after the CAS), 0 times after (`tests/crash.rs`,
//! docs/THREAT_MODEL.md §6).
//!
//! Not reclaimed, so the `_timeout`/`_deadline` variants are still the answer:
//! - permits held by C++, C, Go or Python processes (they record nothing);
//! - a holder that is a zombie (not reaped yet) or whose pid was reused;
//! - permits of a segment without the registry (every semaphore in it was created by
//!   another implementation or an older zeroipc, or the table had no room for the registry
//!   when the semaphore was created), and of a process whose slot could not be claimed
//!   (registry full: 64 slots per segment) — they are simply not recorded;
//! - handles made with [`Semaphore::without_holder_tracking`], meant for semaphores used as
//!   signals (released by one process, acquired by another): there a process's acquires are
//!   not permits it holds, and reclaiming them would invent signals. Tracking is per
//!   handle; every process using such a semaphore should turn it off. An
//!   [`Event`](super::Event)'s semaphore is untracked; the Monitor's condition semaphore and
//!   the Mutex (which records its owner in the padding) never use the registry.
//!
//! The settling compares `count` with the intent, which is exact only if no one else moved
//! `count` since: C++/Go/Python peers and untracked handles do not take the gate. If one of
//! them moves `count` between a tracked holder's intent and its death, the survivor may
//! settle wrongly: one permit lost, or one given back that a live foreign holder holds
//! (bounded by `max_count`). A gate that a live process keeps for 20,000 attempts (a peer
//! wrote a live pid there) is bypassed: the step then runs ungated, the record after the
//! `count` CAS (acquire) or before it (release), as before the gate.
//!
//! A process killed while blocked leaves its `waiting` increment (every later release then
//! makes one `FUTEX_WAKE` call that finds no one). All zeroipc processes sharing the segment
//! must share a pid namespace: a live holder in another namespace would look dead.

use std::time::Instant;

use crate::loom::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::sys::membarrier;
use crate::wait::{self, Parked};

/// How often a blocked [`Semaphore`] acquirer looks for permits held by dead processes
/// (the Mutex's dead-holder check interval, `wait::HOLDER_KNOWN_SLICE`).
pub(crate) const RECLAIM_EVERY: std::time::Duration = wait::HOLDER_KNOWN_SLICE;

/// Attempts to enter a semaphore's gate before going on without it (module docs).
pub(crate) const GATE_TRIES: u32 = 20_000;
/// Attempts that only spin, before each further one also asks whether the holder lives.
pub(crate) const GATE_SPINS: u32 = 64;

/// Why a raw acquire did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawAcquire {
    /// No permit (try) or the deadline passed (timed).
    NotAcquired,
    /// A word holds an impossible value.
    Bad(BadWord),
}

/// Why a raw release did not succeed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawRelease {
    /// At `max` already.
    Overflow { count: i32, max: i32 },
    /// A word holds an impossible value.
    Bad(BadWord),
}

/// The semaphore state machine over views of `count` and `waiting`.
///
/// `max` is the validated `max_count` (0 = unbounded), read once at open.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawSemaphore<'a> {
    pub(crate) count: &'a AtomicU32,
    pub(crate) waiting: &'a AtomicU32,
    pub(crate) max: i32,
}

#[allow(clippy::cast_possible_wrap, clippy::cast_sign_loss)] // i32 wire values held as u32 bits
impl RawSemaphore<'_> {
    pub(crate) fn check(&self, raw: u32) -> Result<i32, BadWord> {
        let v = raw as i32;
        if v < 0 || (self.max > 0 && v > self.max) {
            return Err(BadWord {
                field: "count",
                found: u64::from(raw),
                expected: "0 ..= max_count",
            });
        }
        Ok(v)
    }

    /// Takes a permit if one is free.
    #[inline]
    pub(crate) fn try_acquire(&self) -> Result<(), RawAcquire> {
        // ORDERING: Relaxed — the CAS below (Acquire) is what synchronises.
        let mut c = self.count.load(Relaxed);
        loop {
            let v = self.check(c).map_err(RawAcquire::Bad)?;
            if v == 0 {
                return Err(RawAcquire::NotAcquired);
            }
            // ORDERING: Acquire on success pairs with the Release CAS in `release`: the
            // releaser's writes happen-before ours.
            match self
                .count
                .compare_exchange_weak(c, (v - 1) as u32, Acquire, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(now) => c = now,
            }
        }
    }

    /// Takes a permit, waiting until `deadline` (`None`: forever).
    #[inline]
    pub(crate) fn acquire(&self, deadline: Option<Instant>) -> Result<(), RawAcquire> {
        self.acquire_with(deadline, Self::try_acquire, |_| None)
            .map(|_| ())
    }

    /// [`RawSemaphore::acquire`] that takes a permit with `take` (a
    /// [`RawSemaphore::try_acquire`] that also records it) and, while blocked, calls
    /// `reclaim` when it starts to wait and then at most every [`RECLAIM_EVERY`]. `reclaim`
    /// gives back the permits of dead holders and returns the pid of one of them;
    /// `Ok(Some(pid))` then says the permit was taken after such a reclaim.
    #[inline]
    pub(crate) fn acquire_with(
        &self,
        deadline: Option<Instant>,
        mut take: impl FnMut(&Self) -> Result<(), RawAcquire>,
        mut reclaim: impl FnMut(&Self) -> Option<u32>,
    ) -> Result<Option<u32>, RawAcquire> {
        match take(self) {
            Err(RawAcquire::NotAcquired) => {
                self.acquire_contended(deadline, &mut take, &mut reclaim)
            }
            other => other.map(|()| None),
        }
    }

    #[cold]
    fn acquire_contended(
        &self,
        deadline: Option<Instant>,
        take: &mut impl FnMut(&Self) -> Result<(), RawAcquire>,
        reclaim: &mut impl FnMut(&Self) -> Option<u32>,
    ) -> Result<Option<u32>, RawAcquire> {
        if wait::spin_while(self.count, 0) {
            match take(self) {
                Err(RawAcquire::NotAcquired) => {}
                other => return other.map(|()| None),
            }
        }
        // ORDERING: Relaxed + the heavy barrier below — orders this increment before our
        // next look at `count` (and the kernel's), against the light barrier in `release`
        // (Dekker, sys::membarrier).
        self.waiting.fetch_add(1, Relaxed);
        membarrier::heavy();
        let mut dead = None;
        let mut next_reclaim: Option<Instant> = None; // None: now
        let result = loop {
            match take(self) {
                Err(RawAcquire::NotAcquired) => {}
                other => break other,
            }
            // The registry scan costs a table lookup and a `kill(pid, 0)` per suspect slot:
            // not every 1 ms slice (which foreign peers, who never wake, still need).
            let now = Instant::now();
            if next_reclaim.is_none_or(|t| now >= t) {
                next_reclaim = now.checked_add(RECLAIM_EVERY);
                if let Some(pid) = reclaim(self) {
                    dead = Some(pid);
                    continue;
                }
            }
            if wait::park(self.count, 0, deadline) == Parked::TimedOut {
                break take(self);
            }
        };
        // ORDERING: Relaxed — `waiting` is only a hint for releasers.
        self.waiting.fetch_sub(1, Relaxed);
        result.map(|()| dead)
    }

    /// Returns a permit and wakes one sleeper if any is counted.
    pub(crate) fn release(&self) -> Result<(), RawRelease> {
        self.release_many(1)
    }

    /// Returns `n` permits in one step (all or none) and wakes as many sleepers.
    ///
    /// One CAS whatever `n` is: a caller whose `n` came from the segment (a Monitor's
    /// `waiting`) cannot be made to loop for billions of iterations by a corrupt count; an
    /// `n` that would overflow `max_count` or `i32::MAX` is an [`RawRelease::Overflow`].
    pub(crate) fn release_many(&self, n: u32) -> Result<(), RawRelease> {
        if n == 0 {
            return Ok(());
        }
        // ORDERING: Relaxed — the CAS in `release_exact` (Release) is what publishes.
        let mut c = self.count.load(Relaxed);
        loop {
            match self.release_exact(c, n)? {
                Ok(()) => break,
                Err(now) => c = now,
            }
        }
        self.wake_after_release(n);
        Ok(())
    }

    /// One CAS `count: c → c + n` for a `c` the caller read (and may have recorded): `Ok(Ok(()))`
    /// done, `Ok(Err(now))` the count was `now` instead (nothing done), `Err` if `c + n`
    /// overflows `max_count` / `i32::MAX` or `c` is out of range. Wakes no one: follow a
    /// success with [`RawSemaphore::wake_after_release`].
    pub(crate) fn release_exact(&self, c: u32, n: u32) -> Result<Result<(), u32>, RawRelease> {
        let v = self.check(c).map_err(RawRelease::Bad)?;
        let limit = if self.max > 0 { self.max } else { i32::MAX };
        let next = i32::try_from(n)
            .ok()
            .and_then(|n| v.checked_add(n))
            .filter(|&next| next <= limit);
        let Some(next) = next else {
            return Err(RawRelease::Overflow {
                count: v,
                max: self.max,
            });
        };
        // ORDERING: Release pairs with the Acquire CAS in `try_acquire`.
        Ok(self
            .count
            .compare_exchange(c, next as u32, Release, Relaxed)
            .map(|_| ()))
    }

    /// Wakes as many sleepers as `n` permits just returned can serve.
    pub(crate) fn wake_after_release(&self, n: u32) {
        // ORDERING: the light barrier — pairs with the heavy barrier in `acquire_contended`
        // (Dekker, sys::membarrier): either we see its `waiting` increment, or it sees our
        // `count` increment.
        membarrier::light();
        // ORDERING: Relaxed — ordered by the fence above.
        if self.waiting.load(Relaxed) != 0 {
            if n == 1 {
                wait::wake_one(self.count);
            } else {
                wait::wake_all(self.count);
            }
        }
    }
}

#[cfg(not(loom))]
pub use handle::Semaphore;

#[cfg(not(loom))]
pub(crate) mod handle;

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Words {
        count: AtomicU32,
        waiting: AtomicU32,
    }

    #[test]
    fn loom_semaphore_release_wakes_blocked_acquirer() {
        loom::model(|| {
            let w = Arc::new(Words {
                count: AtomicU32::new(0),
                waiting: AtomicU32::new(0),
            });
            let w2 = w.clone();
            let t = thread::spawn(move || {
                let raw = RawSemaphore {
                    count: &w2.count,
                    waiting: &w2.waiting,
                    max: 0,
                };
                raw.acquire(None).unwrap();
            });
            let raw = RawSemaphore {
                count: &w.count,
                waiting: &w.waiting,
                max: 0,
            };
            raw.release().unwrap();
            t.join().unwrap();
            assert_eq!(w.count.load(Relaxed), 0);
            assert_eq!(w.waiting.load(Relaxed), 0);
        });
    }

    #[test]
    fn loom_semaphore_bounded_never_overflows() {
        loom::model(|| {
            let w = Arc::new(Words {
                count: AtomicU32::new(1),
                waiting: AtomicU32::new(0),
            });
            let w2 = w.clone();
            let t = thread::spawn(move || {
                let raw = RawSemaphore {
                    count: &w2.count,
                    waiting: &w2.waiting,
                    max: 1,
                };
                raw.acquire(None).unwrap();
                raw.release().unwrap();
            });
            let raw = RawSemaphore {
                count: &w.count,
                waiting: &w.waiting,
                max: 1,
            };
            raw.acquire(None).unwrap();
            raw.release().unwrap();
            t.join().unwrap();
            assert_eq!(w.count.load(Relaxed), 1);
        });
    }
}

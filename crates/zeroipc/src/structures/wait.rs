//! Waiting in the handoff structures (Queue, Stack).
//!
//! Two kinds of wait:
//!
//! - **For a peer that holds a slot** (FORMAT.md D-7, D-8): [`Patience`] spins briefly, then
//!   yields, then sleeps in short naps, and gives up after a time bound (the handle's stall
//!   timeout), never after an iteration count (10,000 yields is microseconds in Go and
//!   seconds on a loaded machine).
//! - **For room or for an element** (a blocking `push` / `pop`): [`Sleeper`] registers in
//!   the segment's waiter registry (`segment::waiters`) and parks on a shared futex word with
//!   [`crate::sync::wait::park`] (at most 1 ms at a time, so upstream peers, which never
//!   wake anyone, are noticed within a millisecond); [`wake_sleepers`] is the waker's half.
//!
//! # Synchronization
//!
//! The sleeper increments its registry counter (SeqCst), runs `membarrier::heavy`, then
//! re-checks the word it sleeps on; a waker changes that word, runs `membarrier::light`,
//! then loads the counter. Either the waker sees the sleeper's increment or the sleeper's
//! re-check sees the waker's change (a Dekker pair, see `segment::waiters`), and `FUTEX_WAIT`
//! compares the word atomically in the kernel: no wake-up is lost between zeroipc processes.

use std::time::{Duration, Instant};

use crate::loom::AtomicU32;
use crate::loom::Ordering::{Relaxed, SeqCst};
use crate::segment::{Entry, Segment};
use crate::sync::wait::{park, wake_all};
use crate::sys::membarrier;

/// Iterations of `spin_loop` before the first clock read: a live peer finishes copying one
/// element in nanoseconds.
const SPINS: u32 = 64;
/// After this long, nap instead of yielding so a dead peer does not cost a whole core.
const YIELD_FOR: Duration = Duration::from_millis(1);
const NAP: Duration = Duration::from_micros(50);

/// Patience for one wait; `keep_waiting` returns `false` once `bound` has passed.
#[derive(Debug)]
pub(crate) struct Patience {
    bound: Duration,
    spins: u32,
    since: Option<Instant>,
}

impl Patience {
    pub(crate) fn new(bound: Duration) -> Self {
        Self {
            bound,
            spins: 0,
            since: None,
        }
    }

    /// Starts over (the awaited position changed: the peer made progress). Only blocking
    /// and timed forms call this (their deadline bounds them); a non-blocking call never
    /// does, so a peer that keeps moving a position cannot keep it spinning.
    pub(crate) fn reset(&mut self) {
        self.spins = 0;
        self.since = None;
    }

    /// Waits a little; `false` when the bound has passed.
    pub(crate) fn keep_waiting(&mut self) -> bool {
        if self.spins < SPINS {
            self.spins += 1;
            core::hint::spin_loop();
            return true;
        }
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        let waited = now.duration_since(since);
        if waited >= self.bound {
            return false;
        }
        if waited < YIELD_FOR {
            std::thread::yield_now();
        } else {
            std::thread::sleep(NAP.min(self.bound - waited));
        }
        true
    }
}

/// Which counter of the waiter registry a blocked caller registers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// A consumer waiting for an element.
    Data,
    /// A producer waiting for a free slot.
    Room,
}

/// A caller about to sleep: registered in the waiter registry (`segment::waiters`) from its
/// first sleep until it is dropped, so wakers know to issue `FUTEX_WAKE`.
pub(crate) struct Sleeper<'s> {
    seg: &'s Segment,
    entry: &'s Entry,
    side: Side,
    /// The counter we incremented, once registered.
    counter: Option<&'s AtomicU32>,
    /// Registration was tried and the registry could not be had: sleep in 1 ms slices.
    unregistered: bool,
}

impl<'s> Sleeper<'s> {
    /// A sleeper on `side` of the structure in `entry` (not registered until it sleeps).
    pub(crate) fn new(seg: &'s Segment, entry: &'s Entry, side: Side) -> Self {
        Self {
            seg,
            entry,
            side,
            counter: None,
            unregistered: false,
        }
    }

    /// Sleeps while `still_waiting(*word)` (at most one 1 ms slice, and not past
    /// `deadline`). The caller retries its operation afterwards whatever happened.
    pub(crate) fn sleep(
        &mut self,
        word: &AtomicU32,
        still_waiting: impl Fn(u32) -> bool,
        deadline: Option<Instant>,
    ) {
        if self.counter.is_none() && !self.unregistered {
            match self.seg.sleepers(self.entry) {
                Some(s) => {
                    let c = match self.side {
                        Side::Data => s.data,
                        Side::Room => s.room,
                    };
                    // ORDERING: SeqCst — the sleeper half of the Dekker pair
                    // (segment::waiters): this increment precedes the re-check below in the
                    // total order.
                    c.fetch_add(1, SeqCst);
                    self.counter = Some(c);
                }
                None => self.unregistered = true,
            }
        }
        // ORDERING: the sleeper half of the Dekker pair: `heavy` is a full barrier here and
        // on every running registered waker, between our increment (above, once) and this
        // re-check: if a waker's change of `word` is not visible here, its counter load after
        // `light` sees our increment. SeqCst on the load itself costs nothing on this slow
        // path.
        membarrier::heavy();
        let seen = word.load(SeqCst);
        if !still_waiting(seen) {
            return;
        }
        // At most one slice: peers in other languages never wake us.
        let _ = park(word, seen, deadline);
    }
}

impl Drop for Sleeper<'_> {
    /// Deregisters, on every exit path of a blocking operation.
    fn drop(&mut self) {
        if let Some(c) = self.counter.take() {
            // ORDERING: Relaxed — leaving only makes wakers skip a wake nobody needs.
            c.fetch_sub(1, Relaxed);
        }
    }
}

/// The waker's half: after changing `word` (the operation's own store or CAS, already
/// done), wakes the sleepers parked on it if any are registered on `side` of `entry`.
/// Costs one load when nobody sleeps.
#[inline(always)]
pub(crate) fn wake_sleepers(seg: &Segment, entry: &Entry, side: Side, word: &AtomicU32) {
    if let Some(sleepers) = seg.sleepers(entry) {
        // ORDERING: the waker half of the Dekker pair (segment::waiters): `light` orders the
        // caller's store to `word` before this load against a sleeper's `heavy` barrier, so
        // either we see its increment or its re-check sees our store. Relaxed: the barrier
        // does the ordering.
        membarrier::light();
        let counter = match side {
            Side::Data => sleepers.data,
            Side::Room => sleepers.room,
        };
        if counter.load(Relaxed) != 0 {
            wake_all(word);
        }
    }
}

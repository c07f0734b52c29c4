//! Sleeping in the waiter registry (Queue, Stack, and Channel through its queue).
//!
//! Waiting for a peer that holds a slot (FORMAT.md D-7, D-8) is [`super::Patience`]'s job.
//! Waiting for room or for an element (a blocking `push` / `pop`, or a pending async
//! `send` / `recv` of a buffered Channel): [`Sleeper`] registers in the segment's waiter
//! registry (`segment::waiters`) and parks on a shared futex word with [`crate::wait::park`]
//! (at most 1 ms at a time, so upstream peers, which never wake anyone, are noticed within
//! a millisecond) or hands the word to the reactor; [`wake_sleepers`] and [`WakeCache`] are
//! the waker's half.
//!
//! # Layout
//!
//! None of its own: the counters are the registry's (`segment::waiters`).
//!
//! # Process death
//!
//! A sleeper killed while registered leaves its counter raised: wakers then issue a
//! `FUTEX_WAKE` nobody needs (`Segment::clear_dead_sleepers` repairs it).
//!
//! # Synchronization
//!
//! The sleeper increments its registry counter, runs `membarrier::heavy`, then
//! re-checks the word it sleeps on; a waker changes that word, runs `membarrier::light`,
//! then loads the counter. Either the waker sees the sleeper's increment or the sleeper's
//! re-check sees the waker's change (a Dekker pair, see `segment::waiters`), and `FUTEX_WAIT`
//! compares the word atomically in the kernel: no wake-up is lost between zeroipc processes.

use std::time::Instant;

use crate::loom::Ordering::{Relaxed, SeqCst};
use crate::loom::{AtomicU32, ProcessAtomicPtr, compiler_fence};
use crate::segment::{Entry, Segment};
use crate::sys::membarrier;
use crate::wait::{park, wake_all};

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
#[derive(Debug)]
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
        let seen = self.register(word);
        if !still_waiting(seen) {
            return;
        }
        // At most one slice: peers in other languages never wake us.
        let _ = park(word, seen, deadline);
    }

    /// Registers (once) and re-reads `word` after the barrier: the value to sleep on, or to
    /// arm the reactor with (an awaitable's sleep). A zeroipc waker that changes `word` after
    /// this read issues `FUTEX_WAKE`.
    pub(crate) fn register(&mut self, word: &AtomicU32) -> u32 {
        if self.counter.is_none() && !self.unregistered {
            self.counter = enter(self.seg, self.entry, self.side);
            self.unregistered = self.counter.is_none();
        }
        recheck(word)
    }
}

/// The counter of `side` for `entry` in the registry, incremented; `None` without a registry.
fn enter<'a>(seg: &'a Segment, entry: &Entry, side: Side) -> Option<&'a AtomicU32> {
    let s = seg.sleepers(entry)?;
    let c = match side {
        Side::Data => s.data,
        Side::Room => s.room,
    };
    // ORDERING: SeqCst — the sleeper half of the Dekker pair (segment::waiters): this
    // increment precedes the re-check in `recheck` in the total order (`heavy` there makes
    // it visible to every running waker).
    c.fetch_add(1, SeqCst);
    Some(c)
}

/// The barrier after registering, then the value of `word` to sleep on.
fn recheck(word: &AtomicU32) -> u32 {
    // ORDERING: the sleeper half of the Dekker pair: `heavy` is a full barrier here and on
    // every running registered waker, between our increment (`enter`, once) and this
    // re-check: if a waker's change of `word` is not visible here, its counter load after
    // `light` sees our increment. SeqCst on the load itself costs nothing on this slow path.
    membarrier::heavy();
    word.load(SeqCst)
}

/// A [`Sleeper`]'s registration for an awaitable that owns its structure's handle (so has
/// no borrow to keep): registered by its first [`Registration::register`], withdrawn when
/// dropped. Wakers see it exactly as a sleeper.
#[derive(Debug)]
pub(crate) struct Registration {
    seg: Segment,
    entry: Entry,
    side: Side,
    /// `Some(true)` registered, `Some(false)` no registry to register in, `None` not yet.
    registered: Option<bool>,
}

impl Registration {
    /// A registration on `side` of the structure in `entry` (not registered yet).
    pub(crate) fn new(seg: &Segment, entry: &Entry, side: Side) -> Self {
        Self {
            seg: seg.clone(),
            entry: entry.clone(),
            side,
            registered: None,
        }
    }

    /// As [`Sleeper::register`]: registers (once), then the barrier and the value of `word`
    /// to arm the reactor with.
    pub(crate) fn register(&mut self, word: &AtomicU32) -> u32 {
        if self.registered.is_none() {
            self.registered = Some(enter(&self.seg, &self.entry, self.side).is_some());
        }
        recheck(word)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.registered == Some(true) {
            // The registry never moves: this is the counter `enter` incremented.
            if let Some(s) = self.seg.sleepers(&self.entry) {
                let c = match self.side {
                    Side::Data => s.data,
                    Side::Room => s.room,
                };
                // ORDERING: Relaxed — leaving only makes wakers skip a wake nobody needs.
                c.fetch_sub(1, Relaxed);
            }
        }
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

/// Where a handle's wakes look, resolved lazily once per handle: the hot path after every
/// push and pop is then one load of this pointer and one of the counter (through the
/// segment it was three dependent loads and an index check, ~1.3 ns per push + pop).
#[derive(Debug, Default)]
pub(crate) struct WakeCache {
    /// The handle's `data` counter in the waiter registry (its `room` counter is the next
    /// word), or null: not resolved yet, no registry found, or this process is not
    /// registered for `membarrier` (then `light` is a real fence and wakes take the general
    /// path, [`wake_sleepers`]). Points into the handle's own segment mapping, which the
    /// handle keeps alive (and passes to [`WakeCache::wake`]).
    pair: ProcessAtomicPtr<AtomicU32>,
}

impl WakeCache {
    /// A copy for a clone of the handle (same segment, same counters).
    pub(crate) fn copy(&self) -> Self {
        // ORDERING: Relaxed — process-local cache of an address that never changes.
        Self {
            pair: ProcessAtomicPtr::new(self.pair.load(Relaxed)),
        }
    }

    /// [`wake_sleepers`] through the cache: after the caller's store to `word`, wakes the
    /// sleepers on `side` of `entry` if any are registered. `seg` and `entry` must be the
    /// ones of every earlier call on this cache (the handle's own).
    #[inline(always)]
    pub(crate) fn wake(&self, seg: &Segment, entry: &Entry, side: Side, word: &AtomicU32) {
        // ORDERING: Relaxed — process-local cache of an address that never changes.
        let pair = self.pair.load(Relaxed);
        if pair.is_null() {
            return self.wake_uncached(seg, entry, side, word);
        }
        let counter = match side {
            Side::Data => pair,
            // The `room` counter follows `data` (segment::waiters layout).
            Side::Room => pair.wrapping_add(1),
        };
        // ORDERING: the waker half of the Dekker pair (segment::waiters), as in
        // `wake_sleepers`: `pair` is cached only once this process is registered for
        // `membarrier`, so `membarrier::light` is this compiler fence; it keeps the
        // caller's `word` store before the load below, and a sleeper's `heavy` barrier does
        // the rest.
        compiler_fence(SeqCst);
        // SAFETY: `pair` came from `Segment::sleepers` for the handle's entry (a counter
        // pair, both words inside the registry slice it checked) in the handle's segment,
        // whose mapping lives as long as `seg` (the caller's handle holds it); `counter` is
        // one of the two words.
        let counter = unsafe { &*counter };
        // ORDERING: Relaxed — the fence above and the sleeper's barrier do the ordering.
        if counter.load(Relaxed) != 0 {
            wake_all(word);
        }
    }

    /// [`WakeCache::wake`] before the cache is filled: resolves it if it can, and wakes the
    /// general way this time.
    #[cold]
    #[inline(never)]
    fn wake_uncached(&self, seg: &Segment, entry: &Entry, side: Side, word: &AtomicU32) {
        if membarrier::registered() {
            if let Some(s) = seg.sleepers(entry) {
                // ORDERING: Relaxed — process-local cache; see `wake`.
                self.pair
                    .store(core::ptr::from_ref(s.data).cast_mut(), Relaxed);
            }
        }
        wake_sleepers(seg, entry, side, word);
    }
}

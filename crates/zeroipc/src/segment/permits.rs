//! The permit-holder registry: a zeroipc-only table entry recording, per process and
//! semaphore, how many permits of a [`Semaphore`](crate::sync::Semaphore) that process holds,
//! so that a waiter can give back the permits of a holder that died (issue #4).
//!
//! A semaphore's 16 bytes (FORMAT.md §7.1) have no room for several holders, so the record
//! lives beside it, in one table entry per segment.
//!
//! # Layout
//!
//! One table entry named [`PERMITS_ENTRY`], [`PERMIT_SLOTS`] slots of 16 bytes (1 KiB):
//!
//! | off      | size | field         | meaning                                                |
//! |----------|------|---------------|--------------------------------------------------------|
//! | `16s`    | 4    | `pid` u32     | 0 = free; `pid` = published; `pid \| 1 << 31` = being claimed or reclaimed by `pid` |
//! | `16s+4`  | 4    | `entry_index` | the semaphore's table index (valid once `pid` is published) |
//! | `16s+8`  | 4    | `held` u32    | permits of that semaphore the process holds            |
//! | `16s+12` | 4    | `intent` u32  | 0 = no step in flight; `c` = an acquire expecting `count == c`; `c \| 1<<31` = a release (or give-back) from `count == c` |
//!
//! `held` and `intent` are one aligned u64 (the registry starts on a multiple of 8), written
//! as one: a step's outcome and the end of its intent are one store.
//!
//! 64 slots, whatever `max_entries` is: one per (process, semaphore) pair that ever took a
//! permit, freed again once that process is dead and holds nothing.
//!
//! It is created **with the first semaphore**:
//! [`Semaphore::create`](crate::sync::Semaphore::create) adds it (under the allocation lock,
//! right after the semaphore's own entry) if the segment has none; the Event and Monitor
//! semaphores, which never record, do not. Nothing else ever
//! adds it: an acquire or release only *looks it up*, so zeroipc never writes the table of a
//! segment at an arbitrary moment (an upstream creator allocates without any lock, and a
//! concurrent table write could lose its entry), and a segment whose semaphores all come from
//! another implementation keeps its table exactly as that implementation left it.
//! Other implementations see an unknown entry and ignore it. If the segment has no registry
//! (the semaphore was created by another implementation, or before this rule, or the table
//! had no room for it) or all 64 slots are taken, permits are simply not recorded and dead
//! holders' permits are not given back (an acquire never fails because of the registry).
//!
//! # Protocol
//!
//! - **Claim** (a process's first acquire of a semaphore): CAS `pid` 0 → `me | PENDING`,
//!   `held = 0`, store `entry_index`, then store `pid = me` (Release): a reader that loads a
//!   published `pid` (Acquire) reads the `entry_index` written for it, never a previous
//!   occupant's. A slot whose (masked) pid is dead and whose `held` is 0 is free to claim too.
//! - **Record / unrecord** (`sync::semaphore`, "Process death"): only under the
//!   semaphore's gate (its padding word, pid of the one zeroipc process in a step):
//!   word = (`held`, intent), then the `count` CAS, then word = (`held ± 1`, 0).
//! - **Settle** ([`Segment::resolve_intents`], by whoever takes a dead process's gate): a
//!   stale intent is compared with `count` (nobody else moved it since) to tell whether
//!   its CAS happened, and `held` is set accordingly.
//! - **Reclaim** (a blocked acquirer, in the gate): for a slot of its semaphore with
//!   `held > 0` whose (masked) pid the kernel says is dead: CAS `pid` dead → `me | PENDING`
//!   (one winner), word = (`held`, release intent), one `count` CAS of `held` (all or
//!   nothing; refused if it would exceed `max_count`), word = 0, free the slot (`pid = 0`).
//!
//! The dead owner's writes are visible to the reclaimer because it learnt of the death from
//! the kernel (`kill(pid, 0)` after the exit), as for the Mutex takeover.
//!
//! # Corrupt bytes
//!
//! Every loop is bounded by the slot count; an out-of-range `entry_index` never matches a
//! semaphore; a huge `held` is refused by `release_many` (overflow) and dropped; an unknown
//! but live pid keeps its slot (its permits are not reclaimed, as for a reused pid).

use std::sync::OnceLock;

use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::loom::{AtomicU32, AtomicU64, ProcessAtomicU32, ProcessAtomicU64};

use super::{Entry, Segment};

/// The registry's table entry name.
pub(crate) const PERMITS_ENTRY: &str = "__zeroipc_permits";
/// Slots in the registry.
pub(crate) const PERMIT_SLOTS: u32 = 64;
/// Bytes per slot.
pub(crate) const SLOT_BYTES: usize = 16;
/// Byte offsets of `pid`, `entry_index` and `held` in a slot: `Words::slots` reads them as
/// `u32` words 0 and 1 and the low half of `u64` word 1.
pub(crate) const SLOT_FIELDS: (usize, usize, usize) = (0, 4, 8);
/// Bytes per slot, as a segment offset.
const SLOT_LEN: u64 = SLOT_BYTES as u64;
/// The registry's size in bytes.
pub(crate) const PERMITS_LEN: u64 = SLOT_LEN * PERMIT_SLOTS as u64;
/// The `pid` bit of a slot being claimed or reclaimed.
pub(crate) const PENDING: u32 = 1 << 31;

/// Process-local cache state: not looked up yet.
const UNKNOWN: u64 = 0;
/// Process-local cache state: a release looked and found no slot of ours (a release never
/// claims one; the next acquire does).
const NOT_CLAIMED: u64 = 1;
/// Process-local cache state: an acquire could not claim a slot (no registry, or full):
/// this process does not record its permits of this semaphore (for as long as this
/// `Segment` lives: its record and unrecord stay paired even if a registry appears later).
const UNTRACKED: u64 = 2;

/// This process's slots, per table index (shared by every handle of one `Segment`).
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Segment offset of the registry, or 0 while unknown (it never moves once published).
    registry: ProcessAtomicU64,
    /// `entry_count + 1` when the table was last searched for it in vain (0: never), so a
    /// blocked acquirer in a segment without a registry does not search the table each time.
    searched_at: ProcessAtomicU32,
    /// Per table index: [`UNKNOWN`], [`NOT_CLAIMED`], [`UNTRACKED`], or the segment offset of our slot.
    slots: OnceLock<Box<[ProcessAtomicU64]>>,
    /// Serialises the (cold) look-ups and claims of this process.
    claiming: std::sync::Mutex<()>,
}

/// The words of one registry slot.
#[derive(Clone, Copy, Debug)]
struct Slot<'a> {
    pid: &'a AtomicU32,
    entry: &'a AtomicU32,
    /// `held` (bits 0..32) and `intent` (bits 32..64): one word, so a step's outcome and
    /// the end of its intent are one store.
    word: &'a AtomicU64,
}

/// The `intent` bit of a release (and of a give-back); clear for an acquire.
pub(crate) const INTENT_RELEASE: u32 = 1 << 31;

/// The slot word of `held` permits and `intent`.
#[must_use]
pub(crate) const fn slot_word(held: u32, intent: u32) -> u64 {
    (intent as u64) << 32 | held as u64
}

/// `held` and `intent` of a slot word.
#[must_use]
#[allow(clippy::cast_possible_truncation)] // the two halves
pub(crate) const fn slot_parts(word: u64) -> (u32, u32) {
    (word as u32, (word >> 32) as u32)
}

/// A slot taken back from a dead holder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Reclaimed {
    /// The dead holder's pid.
    pub(crate) pid: u32,
    /// The permits its slot recorded (already removed from the slot).
    pub(crate) held: u32,
}

impl Segment {
    fn permit_cache(&self) -> &[ProcessAtomicU64] {
        self.ro.inner.permits.slots.get_or_init(|| {
            (0..self.max_entries())
                .map(|_| ProcessAtomicU64::new(UNKNOWN))
                .collect()
        })
    }

    /// The `held`/`intent` word of this process's slot for `entry` (at slot offset 8).
    ///
    /// `claim`: find or claim one in the existing registry (never creating it: see the
    /// module docs); otherwise only use a slot this process already has. Cheap after the
    /// first call: one process-local load and a bounds check.
    #[inline]
    pub(crate) fn permit_held(&self, entry: &Entry, me: u32, claim: bool) -> Option<&AtomicU64> {
        let cell = self.permit_cache().get(entry.index() as usize)?;
        // ORDERING: Relaxed — process-local cache of an offset that never changes while we
        // live (only we free our slot's pid, and we never do).
        match cell.load(Relaxed) {
            UNKNOWN => self.permit_held_slow(entry, me, claim, cell),
            NOT_CLAIMED if claim => self.permit_held_slow(entry, me, claim, cell),
            NOT_CLAIMED | UNTRACKED => None,
            offset => self
                .ro
                .inner
                .region
                .slice::<AtomicU64>(offset, 1)
                .ok()
                .map(|w| &w[0]),
        }
    }

    #[cold]
    fn permit_held_slow(
        &self,
        entry: &Entry,
        me: u32,
        claim: bool,
        cell: &ProcessAtomicU64,
    ) -> Option<&AtomicU64> {
        // One thread at a time: two threads claiming at once would each claim a slot, and
        // their permits would then be split over two slots that releases cannot both find.
        let _serial = self
            .ro
            .inner
            .permits
            .claiming
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // ORDERING: Relaxed — process-local, and ordered by the lock above.
        let now = cell.load(Relaxed);
        let found = if now > UNTRACKED {
            Some(now) // another thread got here first
        } else if claim {
            self.claim_permit_slot(entry.index(), me)
        } else {
            self.permit_registry()
                .and_then(|(at, words)| own_slot(at, words, entry.index(), me))
        };
        let none = if claim { UNTRACKED } else { NOT_CLAIMED };
        // ORDERING: Relaxed — process-local, under the lock.
        cell.store(found.unwrap_or(none), Relaxed);
        let offset = found?;
        self.ro
            .inner
            .region
            .slice::<AtomicU64>(offset, 1)
            .ok()
            .map(|w| &w[0])
    }

    /// Adds the permit-holder registry to the table if the segment has none: called by
    /// [`Semaphore::create`](crate::sync::Semaphore::create) only, right after it created its
    /// own entry (an explicit table write the user asked for), never at run time.
    ///
    /// Best effort: a full table or segment leaves the segment without a registry (permits
    /// are then not recorded); the structure that was created is not undone.
    pub(crate) fn ensure_permit_registry(&self) {
        if self.permit_registry().is_some() {
            return;
        }
        // Zeroed by the allocator: every slot starts free. A concurrent creator makes this
        // fail with AlreadyExists, as does an entry of that name that is not ours (then
        // `find_permit_registry` refuses it and permits stay unrecorded).
        let _ = self.allocate(PERMITS_ENTRY, PERMITS_LEN, |_, _| {
            Ok::<(), crate::TableError>(())
        });
        // ORDERING: Relaxed — process-local bookkeeping: forget the vain search.
        self.ro.inner.permits.searched_at.store(0, Relaxed);
    }

    /// The registry's offset and words, if the segment has one. Never creates it.
    fn permit_registry(&self) -> Option<(u64, Words<'_>)> {
        let inner = &self.ro.inner;
        // ORDERING: Relaxed — process-local cache of an immutable fact.
        let mut at = inner.permits.registry.load(Relaxed);
        if at == 0 {
            let count = inner.layout.entry_count(&inner.region).ok()?;
            // ORDERING: Relaxed — process-local bookkeeping.
            if inner.permits.searched_at.load(Relaxed) == count.wrapping_add(1) {
                return None; // the table has not grown since the last search
            }
            at = self.find_permit_registry(count)?;
        }
        let w32 = inner.region.slice::<AtomicU32>(at, PERMITS_LEN / 4).ok()?;
        let w64 = inner.region.slice::<AtomicU64>(at, PERMITS_LEN / 8).ok()?;
        Some((at, Words { w32, w64 }))
    }

    #[cold]
    fn find_permit_registry(&self, count: u32) -> Option<u64> {
        let inner = &self.ro.inner;
        let Ok(e) = self.find(PERMITS_ENTRY) else {
            // ORDERING: Relaxed — process-local bookkeeping.
            inner
                .permits
                .searched_at
                .store(count.wrapping_add(1), Relaxed);
            return None;
        };
        if e.size() != PERMITS_LEN || e.offset() % 8 != 0 || e.offset() == 0 {
            return None; // not ours: never written to
        }
        // ORDERING: Relaxed — process-local cache.
        inner.permits.registry.store(e.offset(), Relaxed);
        Some(e.offset())
    }

    /// Finds this process's slot for `index`, or claims a free one; the `held` word's offset.
    fn claim_permit_slot(&self, index: u32, me: u32) -> Option<u64> {
        let (at, words) = self.permit_registry()?;
        if let Some(off) = own_slot(at, words, index, me) {
            return Some(off);
        }
        // Free slots first; only then slots of dead processes holding nothing (one
        // `kill(pid, 0)` each), so a registry with room costs no system call.
        for reuse_dead in [false, true] {
            for (s, slot) in words.slots() {
                // ORDERING: Relaxed — only picks a candidate; the CAS below decides.
                let p = slot.pid.load(Relaxed);
                let free = if reuse_dead {
                    p != 0
                        && slot.word.load(Relaxed) == 0
                        && !crate::sys::process::pid_alive(p & !PENDING)
                } else {
                    p == 0
                };
                if free && claim_slot(slot, p, index, me) {
                    return Some(at + SLOT_LEN * s + 8);
                }
            }
        }
        None
    }

    /// Takes back the permits of dead holders of semaphore `index` (the caller holds the
    /// semaphore's gate, and has resolved stale intents with [`Segment::resolve_intents`]):
    /// for each slot of it with `held > 0` whose owner `alive` says is dead, one winner (a
    /// CAS on `pid`) gives the permits back with `give_back(reclaimed, word)` — which
    /// records the release intent in `word`, returns the permits and stores `word = 0`, and
    /// says whether it could (if not, the permits are dropped: `word = 0`) — then frees the
    /// slot. The first reclaim given back is returned. At most one pass over the slots.
    pub(crate) fn take_dead_permits(
        &self,
        index: u32,
        me: u32,
        alive: impl Fn(u32) -> bool,
        mut give_back: impl FnMut(Reclaimed, &AtomicU64) -> bool,
    ) -> Option<Reclaimed> {
        let (_, words) = self.permit_registry()?;
        let mut first = None;
        for (_, slot) in words.slots() {
            // ORDERING: Acquire pairs with the Release `pid = me` store in
            // `claim_permit_slot`: the `entry_index` read next is the one published with it.
            let p = slot.pid.load(Acquire);
            if p == 0 || p & !PENDING == me {
                continue;
            }
            // ORDERING: Relaxed — see above; the word is only changed by the owner (dead, if
            // we act) and by gate holders (us).
            if slot.entry.load(Relaxed) != index || slot_parts(slot.word.load(Relaxed)).0 == 0 {
                continue;
            }
            let owner = p & !PENDING;
            if alive(owner) {
                continue;
            }
            // ORDERING: Acquire pairs with the Release publication of `pid`; the dead owner's
            // writes are visible because the kernel told us it exited.
            if slot
                .pid
                .compare_exchange(p, me | PENDING, Acquire, Relaxed)
                .is_err()
            {
                continue; // another waiter won, or the slot changed
            }
            crate::fault::point("semaphore.reclaim.after_take");
            // ORDERING: Relaxed — the slot is ours (PENDING with our pid).
            let (held, _) = slot_parts(slot.word.load(Relaxed));
            let r = Reclaimed { pid: owner, held };
            let given = held > 0 && give_back(r, slot.word);
            // ORDERING: Relaxed — dropped if not given back (corrupt); published below.
            slot.word.store(0, Relaxed);
            // ORDERING: Release pairs with the Acquire CAS of the next claimer.
            slot.pid.store(0, Release);
            if given && first.is_none() {
                first = Some(r);
            }
        }
        first
    }

    /// Settles the intent a dead gate holder left in a slot of semaphore `index` (the
    /// caller holds the gate now, so no zeroipc process has a step in flight and every
    /// intent found is stale; module docs, "Intent"). `count` is the semaphore's `count`
    /// now: an acquire intent `c` took its permit iff `count == c - 1`; a release intent
    /// `c | INTENT_RELEASE` of `n` (1, or `held` for a give-back: a slot whose `pid` is
    /// PENDING) returned them iff `count == c + n`. Returns how many intents it settled.
    pub(crate) fn resolve_intents(&self, index: u32, count: u32) -> u32 {
        let Some((_, words)) = self.permit_registry() else {
            return 0;
        };
        let mut settled = 0;
        for (_, slot) in words.slots() {
            // ORDERING: Acquire pairs with the Release publication of `pid`.
            let p = slot.pid.load(Acquire);
            // ORDERING: Relaxed — written only under the gate, which we hold (or by a dead
            // holder, whose writes the kernel made visible).
            let (held, intent) = slot_parts(slot.word.load(Relaxed));
            if p == 0 || intent == 0 || slot.entry.load(Relaxed) != index {
                continue;
            }
            let c = intent & !INTENT_RELEASE;
            let held = if intent & INTENT_RELEASE == 0 {
                // An acquire: did its CAS c → c−1 happen?
                if c.checked_sub(1) == Some(count) {
                    held.saturating_add(1)
                } else {
                    held
                }
            } else {
                let n = if p & PENDING != 0 { held } else { 1 };
                if c.checked_add(n) == Some(count) {
                    held - n.min(held)
                } else {
                    held
                }
            };
            // ORDERING: Relaxed — under the gate.
            slot.word.store(slot_word(held, 0), Relaxed);
            settled += 1;
        }
        settled
    }
}

/// The registry's words, as `u32` (`pid`, `entry_index`) and as `u64` (the `held`/`intent`
/// word of each slot).
#[derive(Clone, Copy, Debug)]
struct Words<'a> {
    w32: &'a [AtomicU32],
    w64: &'a [AtomicU64],
}

impl<'a> Words<'a> {
    /// The registry's slots with their numbers.
    fn slots(self) -> impl Iterator<Item = (u64, Slot<'a>)> {
        self.w32
            .chunks_exact(4)
            .zip(self.w64.chunks_exact(2))
            .take(PERMIT_SLOTS as usize)
            .enumerate()
            .map(|(s, (w, d))| {
                (
                    s as u64,
                    Slot {
                        pid: &w[SLOT_FIELDS.0 / 4],
                        entry: &w[SLOT_FIELDS.1 / 4],
                        word: &d[SLOT_FIELDS.2 / 8],
                    },
                )
            })
    }
}

/// Claims `slot`, found with `pid == p` (free, or a dead process's holding nothing), for
/// semaphore `index`; whether the CAS won.
fn claim_slot(slot: Slot<'_>, p: u32, index: u32, me: u32) -> bool {
    // ORDERING: Acquire on success pairs with the Release `pid = 0` store that freed the
    // slot (in `take_dead_permits`), or follows the dead owner's exit (kernel): its last
    // word write happens-before our `word = 0` below.
    if slot
        .pid
        .compare_exchange(p, me | PENDING, Acquire, Relaxed)
        .is_err()
    {
        return false;
    }
    // ORDERING: Relaxed — published by the Release store of `pid` below.
    slot.word.store(0, Relaxed);
    slot.entry.store(index, Relaxed);
    // ORDERING: Release pairs with the Acquire loads of `pid` in `own_slot` and
    // `take_dead_permits`: whoever sees `me` published sees `entry_index`.
    slot.pid.store(me, Release);
    true
}

/// This process's published slot for `index`: the offset of its `held` word.
fn own_slot(at: u64, words: Words<'_>, index: u32, me: u32) -> Option<u64> {
    words.slots().find_map(|(s, slot)| {
        // ORDERING: Acquire pairs with the Release `pid = me` store in `claim_permit_slot`
        // (by us, in another thread, or in an earlier handle).
        (slot.pid.load(Acquire) == me && slot.entry.load(Relaxed) == index)
            .then_some(at + SLOT_LEN * s + 8)
    })
}

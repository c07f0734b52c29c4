//! Map and Set algorithms: open addressing, linear probing from `hash % capacity`,
//! tombstones and the INSERTING state (FORMAT.md §5.4.3–§5.4.6), over a [`Slots`] view.
//! No addresses, no system calls: loom runs it on the heap.
//!
//! # Slot states
//!
//! | state       | meaning                                      | who leaves it                   |
//! |-------------|----------------------------------------------|---------------------------------|
//! | `EMPTY`     | never used; ends every probe sequence        | an inserter (CAS → INSERTING)   |
//! | `OCCUPIED`  | holds a key and value                        | a claimer (CAS → INSERTING)     |
//! | `DELETED`   | tombstone; probing continues past it         | an inserter (CAS → INSERTING)   |
//! | `INSERTING` | exactly one thread owns the slot's bytes     | its owner (store OCCUPIED/DELETED) |
//! | other       | corruption ([`ProbeError::State`]), never treated as EMPTY |            |
//!
//! # Torn reads (FORMAT.md D-9)
//!
//! Upstream readers copy the value of an OCCUPIED slot with no re-check, so an update
//! running at the same time can hand them half of each value. zeroipc never copies key or
//! value bytes it relies on without owning the slot: a lookup compares the key of an
//! OCCUPIED slot (word-wise Relaxed copy, possibly torn), and on a match *claims* the slot
//! with the same CAS `OCCUPIED → INSERTING` that an update uses, re-checks the key, copies
//! the value and stores OCCUPIED again. A re-check of the state around an unowned copy would
//! not do: an update goes OCCUPIED → INSERTING → OCCUPIED and is invisible to it (ABA).
//! Upstream writers treat the claimed slot as being updated and wait (bounded) for it.
//!
//! # Process death (stuck slots)
//!
//! A slot left INSERTING by a dead process never settles. Waiting on a slot is bounded by
//! the caller's [`Patience`] (time-based in the handles). A slot that runs out of patience
//! is remembered and probing goes on: if the key is found further on, the operation
//! completes (keys are unique, so the stuck slot cannot hold it); if the probe ends without
//! it, the answer depends on the stuck slot and the operation fails with
//! [`ProbeError::Stuck`] — never a hang, never a silent duplicate insert (upstream skips the
//! slot and may insert the key twice).
//!
//! # Synchronization
//!
//! | store (Release)                     | load / CAS (Acquire)             | publishes            |
//! |-------------------------------------|----------------------------------|----------------------|
//! | `state = OCCUPIED` (insert, release) | `state` in `settle`, claim CAS   | key and value bytes  |
//! | `state = DELETED` (remove)          | `state` in `settle`              | end of the owner's accesses |
//!
//! `size` is Relaxed: a counter updated after the state change, as in C++. A `fence(SeqCst)`
//! between adding a key and the duplicate scan (`dedupe`) orders two racing inserters of one
//! key (store-buffering pattern).

use crate::layout::map::{DELETED, EMPTY, INSERTING, OCCUPIED};
use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed, Release, SeqCst};
use crate::loom::fence;

/// A table of slots: states plus key and value cells.
pub(crate) trait Slots {
    /// Key (Set: element) type.
    type Key: Copy;
    /// Value type (`()` for a Set).
    type Value: Copy;
    /// Number of slots, validated > 0.
    fn capacity(&self) -> u32;
    /// The `size` counter.
    fn size(&self) -> &AtomicU32;
    /// Slot `i`'s state word (`i < capacity`).
    fn state(&self, i: u32) -> &AtomicU32;
    /// Copies slot `i`'s key (word-wise Relaxed: may be torn unless the slot is owned).
    fn key(&self, i: u32) -> Self::Key;
    /// Stores slot `i`'s key. The caller owns the slot (state INSERTING by its CAS).
    fn set_key(&self, i: u32, key: &Self::Key);
    /// Copies slot `i`'s value. Untorn when the caller owns the slot.
    fn value(&self, i: u32) -> Self::Value;
    /// Stores slot `i`'s value. The caller owns the slot.
    fn set_value(&self, i: u32, value: &Self::Value);
    /// The key's hash (C++ `trivial_hash`).
    fn hash(&self, key: &Self::Key) -> u64;
    /// Key equality (C++ `trivial_equal`).
    fn eq(&self, a: &Self::Key, b: &Self::Key) -> bool;
}

/// How long to wait for a slot in INSERTING.
pub(crate) trait Patience {
    /// Starts waiting on a new slot.
    fn begin(&mut self);
    /// Waits a little; `false` means give up on this slot.
    fn snooze(&mut self) -> bool;
    /// Counts one retry after a slot changed under us (a lost claim or insert CAS); `false`
    /// once the operation has retried [`MAX_RETRIES`] times. Never reset by [`begin`]: a
    /// peer that keeps flipping slot states (hostile, or corrupt) makes the operation
    /// return `Stuck` after a fixed number of attempts instead of spinning for as long as
    /// it writes (issue #17). Live contention loses a CAS only when another operation
    /// made progress, so honest peers never come near the bound.
    ///
    /// [`begin`]: Patience::begin
    fn retry(&mut self) -> bool;
}

/// Retries one Map/Set operation makes after slots changed under it before it gives up.
pub(crate) const MAX_RETRIES: u32 = 4096;

/// Why a map operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProbeError {
    /// No EMPTY or DELETED slot is left for a new key.
    Full,
    /// Slot `slot` stayed INSERTING beyond the patience, and the answer depends on it.
    Stuck {
        /// The slot.
        slot: u32,
    },
    /// Slot `slot` holds a state word that is not one of the four states.
    State {
        /// The slot.
        slot: u32,
        /// The word.
        raw: u32,
    },
}

/// Result of a probe for a key.
enum Lookup {
    /// The key is in slot `.0`, which we now own (state INSERTING).
    Claimed(u32),
    /// The key is not in the table (unless in `stuck`).
    Absent {
        stuck: Option<u32>,
        deleted: Option<u32>,
        empty: Option<u32>,
    },
}

/// What `settle` saw.
enum Settled {
    State(u32),
    Stuck,
}

/// Loads slot `i`'s state, waiting while it is INSERTING.
fn settle<S: Slots, P: Patience>(s: &S, i: u32, p: &mut P) -> Result<Settled, ProbeError> {
    p.begin();
    loop {
        // ORDERING: Acquire — pairs with the Release store of OCCUPIED / DELETED by the
        // slot's last owner (`insert`, `release`, `remove`): its key and value are visible.
        match s.state(i).load(Acquire) {
            INSERTING => {
                if !p.snooze() {
                    return Ok(Settled::Stuck);
                }
            }
            st @ (EMPTY | OCCUPIED | DELETED) => return Ok(Settled::State(st)),
            raw => return Err(ProbeError::State { slot: i, raw }),
        }
    }
}

/// Slot index of probe step `step`: `(h + step) mod 2^64 mod capacity`, exactly as C++.
fn probe(h: u64, step: u32, capacity: u32) -> u32 {
    // Cannot truncate: the remainder is below `capacity`.
    #[allow(clippy::cast_possible_truncation)]
    let i = (h.wrapping_add(u64::from(step)) % u64::from(capacity)) as u32;
    i
}

/// Tries to take ownership of an OCCUPIED slot (OCCUPIED → INSERTING).
fn try_claim<S: Slots>(s: &S, i: u32) -> bool {
    // ORDERING: Acquire on success — pairs with the Release store of OCCUPIED by the last
    // owner: the key and value we are about to copy are complete. Relaxed on failure — the
    // caller re-reads the state with Acquire.
    s.state(i)
        .compare_exchange(OCCUPIED, INSERTING, Acquire, Relaxed)
        .is_ok()
}

/// Ends ownership of a slot, leaving it OCCUPIED.
fn release<S: Slots>(s: &S, i: u32) {
    // ORDERING: Release — pairs with the Acquire state loads and claim CASes of later
    // visitors: publishes whatever we wrote into the slot.
    s.state(i).store(OCCUPIED, Release);
}

/// Probes for `key`; claims its slot if found.
fn lookup<S: Slots, P: Patience>(s: &S, key: &S::Key, p: &mut P) -> Result<Lookup, ProbeError> {
    let cap = s.capacity();
    let h = s.hash(key);
    let (mut stuck, mut deleted) = (None, None);
    for step in 0..cap {
        let i = probe(h, step, cap);
        loop {
            match settle(s, i, p)? {
                Settled::Stuck => {
                    stuck.get_or_insert(i);
                    break;
                }
                Settled::State(EMPTY) => {
                    return Ok(Lookup::Absent {
                        stuck,
                        deleted,
                        empty: Some(i),
                    });
                }
                Settled::State(DELETED) => {
                    deleted.get_or_insert(i);
                    break;
                }
                Settled::State(_) => {
                    // OCCUPIED: compare a possibly torn copy; confirm under ownership.
                    if !s.eq(&s.key(i), key) {
                        break;
                    }
                    if !try_claim(s, i) {
                        if !p.retry() {
                            return Err(ProbeError::Stuck { slot: i });
                        }
                        continue; // changed under us: look at this slot again
                    }
                    if s.eq(&s.key(i), key) {
                        return Ok(Lookup::Claimed(i));
                    }
                    release(s, i);
                    break;
                }
            }
        }
    }
    Ok(Lookup::Absent {
        stuck,
        deleted,
        empty: None,
    })
}

/// How `insert` treats a key that is present.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnPresent {
    /// Map: overwrite the value (return the old one).
    Update,
    /// Set: leave it.
    Keep,
}

/// Inserts `key → value`. `Ok(Some(old))` if the key was present (value replaced when
/// `on_present` is `Update`), `Ok(None)` if it was added.
pub(crate) fn insert<S: Slots, P: Patience>(
    s: &S,
    key: &S::Key,
    value: &S::Value,
    on_present: OnPresent,
    p: &mut P,
) -> Result<Option<S::Value>, ProbeError> {
    loop {
        let (target, expected) = match lookup(s, key, p)? {
            Lookup::Claimed(i) => {
                let old = s.value(i);
                crate::fault::point("hash.update.after_claim");
                if on_present == OnPresent::Update {
                    s.set_value(i, value);
                }
                release(s, i);
                return Ok(Some(old));
            }
            Lookup::Absent {
                stuck: Some(slot), ..
            } => return Err(ProbeError::Stuck { slot }),
            Lookup::Absent {
                deleted: Some(i), ..
            } => (i, DELETED),
            Lookup::Absent { empty: Some(i), .. } => (i, EMPTY),
            Lookup::Absent { .. } => return Err(ProbeError::Full),
        };
        // ORDERING: Acquire on success — pairs with the Release store that made the slot
        // DELETED (its last owner's accesses happen before ours). Relaxed on failure — we
        // start over with Acquire loads.
        if s.state(target)
            .compare_exchange(expected, INSERTING, Acquire, Relaxed)
            .is_ok()
        {
            crate::fault::point("hash.insert.after_claim");
            s.set_key(target, key);
            crate::fault::point("hash.insert.after_key");
            s.set_value(target, value);
            crate::fault::point("hash.insert.before_publish");
            release(s, target);
            // ORDERING: Relaxed — a counter, incremented after publication as in C++.
            s.size().fetch_add(1, Relaxed);
            // ORDERING: SeqCst fence — the store-buffering (Dekker) pattern: two inserters
            // of one key each write their slot's state (CAS above) and then read the other's
            // slot in `dedupe`. The fences are totally ordered, so the later fence's thread
            // sees the earlier thread's CAS: at least one of the two finds the other copy
            // (without it, loom showed both reading the stale EMPTY/DELETED and keeping both).
            fence(SeqCst);
            return dedupe(s, key, target, on_present, p);
        }
        // Another inserter took the slot (lock-free: it made progress); rescan.
        if !p.retry() {
            return Err(ProbeError::Stuck { slot: target });
        }
        crate::loom::yield_point();
    }
}

/// After adding `key` at slot `ours`: if a racing insert of the same key added it too, the
/// copy later in the probe sequence is removed and the value just written survives.
///
/// The C++ algorithm lets two inserters of one key miss each other when one reuses a
/// tombstone that appears before the other's EMPTY target (loom found it): both add the
/// key. Here every inserter that adds a key scans its probe run afterwards; on meeting
/// another copy it owns both slots (earlier one first, so two such inserters cannot wait on
/// each other), keeps the earlier slot with our value (`Update`) and makes the later one
/// DELETED. Upstream inserters do not do this, so it only protects zeroipc-vs-zeroipc races.
fn dedupe<S: Slots, P: Patience>(
    s: &S,
    key: &S::Key,
    ours: u32,
    on_present: OnPresent,
    p: &mut P,
) -> Result<Option<S::Value>, ProbeError> {
    let cap = s.capacity();
    let h = s.hash(key);
    let mut seen_ours = false;
    for step in 0..cap {
        let i = probe(h, step, cap);
        if i == ours {
            seen_ours = true;
            continue;
        }
        let other = match settle(s, i, p)? {
            Settled::State(EMPTY) => return Ok(None),
            Settled::State(OCCUPIED) => s.eq(&s.key(i), key),
            _ => false,
        };
        if !other {
            continue;
        }
        let (first, second) = if seen_ours { (ours, i) } else { (i, ours) };
        if !claim_key(s, first, key, p)? {
            if first == ours {
                return Ok(None); // ours was removed meanwhile: nothing to fold
            }
            continue;
        }
        if !claim_key(s, second, key, p)? {
            release(s, first);
            if second == ours {
                return Ok(None);
            }
            continue;
        }
        // We own both copies: keep `first` (earlier) with our value, delete `second`.
        let old = s.value(i);
        if first == i && on_present == OnPresent::Update {
            s.set_value(i, &s.value(ours));
        }
        // ORDERING: Release — as in `remove`.
        s.state(second).store(DELETED, Release);
        // ORDERING: Relaxed — a counter.
        s.size().fetch_sub(1, Relaxed);
        release(s, first);
        return Ok(Some(old));
    }
    Ok(None)
}

/// Claims slot `i` if it holds `key` (waits while it is INSERTING); `false` if it does not.
fn claim_key<S: Slots, P: Patience>(
    s: &S,
    i: u32,
    key: &S::Key,
    p: &mut P,
) -> Result<bool, ProbeError> {
    loop {
        match settle(s, i, p)? {
            Settled::Stuck => return Err(ProbeError::Stuck { slot: i }),
            Settled::State(OCCUPIED) => {
                if !s.eq(&s.key(i), key) {
                    return Ok(false);
                }
                if !try_claim(s, i) {
                    if !p.retry() {
                        return Err(ProbeError::Stuck { slot: i });
                    }
                    continue;
                }
                if s.eq(&s.key(i), key) {
                    return Ok(true);
                }
                release(s, i);
                return Ok(false);
            }
            Settled::State(_) => return Ok(false),
        }
    }
}

/// The value stored under `key`, copied while owning the slot.
pub(crate) fn get<S: Slots, P: Patience>(
    s: &S,
    key: &S::Key,
    p: &mut P,
) -> Result<Option<S::Value>, ProbeError> {
    match lookup(s, key, p)? {
        Lookup::Claimed(i) => {
            let v = s.value(i);
            release(s, i);
            Ok(Some(v))
        }
        Lookup::Absent {
            stuck: Some(slot), ..
        } => Err(ProbeError::Stuck { slot }),
        Lookup::Absent { .. } => Ok(None),
    }
}

/// Removes `key` (OCCUPIED → DELETED); returns its value.
pub(crate) fn remove<S: Slots, P: Patience>(
    s: &S,
    key: &S::Key,
    p: &mut P,
) -> Result<Option<S::Value>, ProbeError> {
    match lookup(s, key, p)? {
        Lookup::Claimed(i) => {
            let v = s.value(i);
            crate::fault::point("hash.remove.after_claim");
            // ORDERING: Release — pairs with the Acquire state loads of later visitors and
            // the Acquire CAS of a later inserter reusing the tombstone: our copy of the
            // value happens before their writes.
            s.state(i).store(DELETED, Release);
            // ORDERING: Relaxed — a counter, as in C++.
            s.size().fetch_sub(1, Relaxed);
            Ok(Some(v))
        }
        Lookup::Absent {
            stuck: Some(slot), ..
        } => Err(ProbeError::Stuck { slot }),
        Lookup::Absent { .. } => Ok(None),
    }
}

/// The pairs of a [`snapshot`].
pub(crate) type Pairs<S> = Vec<(<S as Slots>::Key, <S as Slots>::Value)>;

/// Copies every OCCUPIED slot's key and value (each pair copied while owning its slot).
pub(crate) fn snapshot<S: Slots, P: Patience>(s: &S, p: &mut P) -> Result<Pairs<S>, ProbeError> {
    let mut out = Vec::new();
    for i in 0..s.capacity() {
        loop {
            match settle(s, i, p)? {
                Settled::Stuck => return Err(ProbeError::Stuck { slot: i }),
                Settled::State(OCCUPIED) => {
                    if !try_claim(s, i) {
                        if !p.retry() {
                            return Err(ProbeError::Stuck { slot: i });
                        }
                        continue;
                    }
                    out.push((s.key(i), s.value(i)));
                    release(s, i);
                    break;
                }
                Settled::State(_) => break,
            }
        }
    }
    Ok(out)
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;

    /// Keys are one word; values two words (so a torn copy is visible).
    struct Heap {
        size: AtomicU32,
        state: Vec<AtomicU32>,
        key: Vec<AtomicU32>,
        value: Vec<[AtomicU32; 2]>,
    }

    impl Slots for Heap {
        type Key = u32;
        type Value = (u32, u32);
        fn capacity(&self) -> u32 {
            self.state.len() as u32
        }
        fn size(&self) -> &AtomicU32 {
            &self.size
        }
        fn state(&self, i: u32) -> &AtomicU32 {
            &self.state[i as usize]
        }
        fn key(&self, i: u32) -> u32 {
            self.key[i as usize].load(Relaxed)
        }
        fn set_key(&self, i: u32, k: &u32) {
            self.key[i as usize].store(*k, Relaxed);
        }
        fn value(&self, i: u32) -> (u32, u32) {
            let v = &self.value[i as usize];
            (v[0].load(Relaxed), v[1].load(Relaxed))
        }
        fn set_value(&self, i: u32, v: &(u32, u32)) {
            let w = &self.value[i as usize];
            w[0].store(v.0, Relaxed);
            w[1].store(v.1, Relaxed);
        }
        fn hash(&self, k: &u32) -> u64 {
            u64::from(*k) // all keys collide at capacity 1..: linear probing is exercised
        }
        fn eq(&self, a: &u32, b: &u32) -> bool {
            a == b
        }
    }

    struct Spin;
    impl Patience for Spin {
        fn begin(&mut self) {}
        fn retry(&mut self) -> bool {
            true // loom explores every interleaving; the bound is for hostile peers
        }
        fn snooze(&mut self) -> bool {
            loom::thread::yield_now();
            true
        }
    }

    fn heap(cap: usize) -> Arc<Heap> {
        Arc::new(Heap {
            size: AtomicU32::new(0),
            state: (0..cap).map(|_| AtomicU32::new(EMPTY)).collect(),
            key: (0..cap).map(|_| AtomicU32::new(0)).collect(),
            value: (0..cap)
                .map(|_| [AtomicU32::new(0), AtomicU32::new(0)])
                .collect(),
        })
    }

    /// An update races a reader of the same key: the reader sees the old or the new pair,
    /// never a mix. (Negative control: with an upstream-style unowned copy in `get`, loom
    /// finds `(1, 2)`. The reader must be the spawned thread for loom to find it.)
    #[test]
    fn get_never_returns_a_torn_value() {
        loom::model(|| {
            let h = heap(2);
            insert(&*h, &1, &(1, 1), OnPresent::Update, &mut Spin).unwrap();
            let h2 = h.clone();
            let r = loom::thread::spawn(move || get(&*h2, &1, &mut Spin).unwrap().unwrap());
            insert(&*h, &1, &(2, 2), OnPresent::Update, &mut Spin).unwrap();
            let v = r.join().unwrap();
            assert!(v == (1, 1) || v == (2, 2), "torn {v:?}");
            assert_eq!(get(&*h, &1, &mut Spin).unwrap(), Some((2, 2)));
        });
    }

    /// Two inserters of one key while a tombstone appears before the EMPTY slot one of them
    /// targets (the C++ algorithm then stores the key twice): one copy survives, with one of
    /// the inserted values, and `size` agrees.
    #[test]
    fn racing_inserts_never_duplicate_a_key() {
        // Waiting on a slot another thread owns takes many branches; CI's limit (STYLE §4.2).
        let mut b = loom::model::Builder::new();
        b.max_branches = b.max_branches.max(10_000);
        b.check(|| {
            let h = heap(3);
            // Keys hash to themselves: 7 and 1 both start at slot 1.
            insert(&*h, &7, &(7, 7), OnPresent::Update, &mut Spin).unwrap();
            let h2 = h.clone();
            let t = loom::thread::spawn(move || {
                insert(&*h2, &1, &(10, 10), OnPresent::Update, &mut Spin).unwrap();
            });
            assert_eq!(remove(&*h, &7, &mut Spin).unwrap(), Some((7, 7)));
            insert(&*h, &1, &(11, 11), OnPresent::Update, &mut Spin).unwrap();
            t.join().unwrap();
            let all = snapshot(&*h, &mut Spin).unwrap();
            assert_eq!(all.len(), 1, "{all:?}");
            assert_eq!(all[0].0, 1);
            assert!(all[0].1 == (10, 10) || all[0].1 == (11, 11));
            assert_eq!(h.size.load(Relaxed), 1);
        });
    }

    /// Insert and erase of different keys at capacity 2 with colliding homes.
    #[test]
    fn insert_and_erase_race_at_capacity_two() {
        loom::model(|| {
            let h = heap(2);
            insert(&*h, &0, &(0, 0), OnPresent::Update, &mut Spin).unwrap();
            let h2 = h.clone();
            let t = loom::thread::spawn(move || {
                insert(&*h2, &2, &(2, 2), OnPresent::Update, &mut Spin)
            });
            assert_eq!(remove(&*h, &0, &mut Spin).unwrap(), Some((0, 0)));
            assert_eq!(t.join().unwrap(), Ok(None));
            assert_eq!(get(&*h, &2, &mut Spin).unwrap(), Some((2, 2)));
            assert_eq!(get(&*h, &0, &mut Spin).unwrap(), None);
            assert_eq!(h.size.load(Relaxed), 1);
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::probe;

    #[test]
    fn probe_wraps_in_64_bits_like_cpp() {
        assert_eq!(probe(10, 0, 16), 10);
        assert_eq!(probe(15, 1, 16), 0);
        // (2^64 - 1 + 1) mod 2^64 = 0, not (15 + 1) mod 16 computed without wrapping.
        assert_eq!(probe(u64::MAX, 1, 10), 0);
        assert_eq!(probe(u64::MAX, 0, 10), 5);
    }
}

/// Issue #17: a peer that keeps re-claiming a slot (without ever finishing an operation)
/// must not keep a Map/Set operation spinning: the operation gives up after
/// [`MAX_RETRIES`] lost claims.
#[cfg(all(test, not(loom)))]
mod hostile_tests {
    use super::*;
    use crate::loom::Ordering::Relaxed;

    /// One OCCUPIED slot holding key 1, and a "peer" that claims it (OCCUPIED → INSERTING)
    /// every time we read its key, and releases it while we wait: each of our claims loses.
    struct Reclaimed {
        size: AtomicU32,
        state: AtomicU32,
    }

    impl Slots for Reclaimed {
        type Key = u32;
        type Value = ();
        fn capacity(&self) -> u32 {
            1
        }
        fn size(&self) -> &AtomicU32 {
            &self.size
        }
        fn state(&self, _: u32) -> &AtomicU32 {
            &self.state
        }
        fn key(&self, _: u32) -> u32 {
            // The peer claims the slot between our key check and our claim CAS.
            self.state.store(INSERTING, Relaxed);
            1
        }
        fn set_key(&self, _: u32, _: &u32) {}
        fn value(&self, _: u32) {}
        fn set_value(&self, _: u32, (): &()) {}
        fn hash(&self, _: &u32) -> u64 {
            0
        }
        fn eq(&self, a: &u32, b: &u32) -> bool {
            a == b
        }
    }

    /// Releases the peer's claim whenever we wait on it; counts retries as `wait::ProbePatience` does.
    struct Releases<'a> {
        slot: &'a AtomicU32,
        retries: u32,
    }

    impl Patience for Releases<'_> {
        fn begin(&mut self) {}
        fn snooze(&mut self) -> bool {
            self.slot.store(OCCUPIED, Relaxed);
            true
        }
        fn retry(&mut self) -> bool {
            self.retries += 1;
            self.retries < MAX_RETRIES
        }
    }

    #[test]
    fn a_slot_reclaimed_forever_ends_the_operation_after_max_retries() {
        let s = Reclaimed {
            size: AtomicU32::new(1),
            state: AtomicU32::new(OCCUPIED),
        };
        for op in ["get", "remove", "insert"] {
            s.state.store(OCCUPIED, Relaxed);
            let mut p = Releases {
                slot: &s.state,
                retries: 0,
            };
            let r = match op {
                "get" => get(&s, &1, &mut p).map(|_| ()),
                "remove" => remove(&s, &1, &mut p).map(|_| ()),
                _ => insert(&s, &1, &(), OnPresent::Keep, &mut p).map(|_| ()),
            };
            assert_eq!(r, Err(ProbeError::Stuck { slot: 0 }), "{op}");
            assert_eq!(p.retries, MAX_RETRIES, "{op}");
        }
    }
}

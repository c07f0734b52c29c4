//! Dmitry Vyukov's bounded MPMC queue over a view `(&QueueHeader, &[Slot<T>], &[AtomicU32])`:
//! the bytes and orders of the C++ implementation (FORMAT.md §5.2), with every loop bounded.
//!
//! # Synchronization
//!
//! | store (Release)            | load (Acquire)             | publishes                        |
//! |----------------------------|----------------------------|----------------------------------|
//! | `seq[i] = pos+1` in `push` | `seq[i]` in `pop`          | the element written at `pos`     |
//! | `seq[i] = pos+cap` in `pop`| `seq[i]` in `push`         | the slot was read: free to reuse |
//!
//! `head` and `tail` are Relaxed (as in C++): a CAS on them only hands out positions; data
//! and slot ownership travel through `seq`.
//!
//! # Bounded loops
//!
//! Upstream retries forever while `diff > 0` (FORMAT.md D-7). Here a retry happens only
//! after the counter was seen to move (another process made progress). When the slot and
//! the counter disagree and the counter does not move (a peer between its CAS and its `seq`
//! store, a dead peer, or corrupt words), the call returns `Busy` with the position and the
//! caller decides how long to wait for it (the typed handle bounds that in time).
//!
//! The retries after progress are bounded too: a peer that keeps moving the counter (many
//! live peers, or a hostile one incrementing `head` in a loop) could otherwise keep one call
//! here forever. After [`RETRIES`] retries the call returns `Busy` at the position it last
//! saw, and the caller's time bound decides (a `try_` call gives up after its stall bound).

use crate::layout::queue::{QUEUE_MAX_CAPACITY, QueueHeader};
use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::raw::cell::{Plain, Slot};

/// Retries (after seeing the counter move, or losing its CAS) before `push` / `pop_at`
/// return `Busy` to their caller; a legitimately contended call almost never needs more
/// than a few.
pub(crate) const RETRIES: u32 = 256;

/// Why a push did not happen; the value is handed back.
#[derive(Debug)]
pub(crate) enum PushFail<T> {
    /// Every slot holds an unread element.
    Full(T),
    /// The slot at `pos` is still owned by another party (a consumer copying the element
    /// out, or inconsistent words); retry later.
    Busy {
        /// The value.
        value: T,
        /// The position (`tail`) that is held up.
        pos: u32,
    },
}

/// Why a pop returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PopFail {
    /// No element has been pushed (`head == tail`).
    Empty,
    /// A producer claimed position `pos` but has not published it yet (or the words are
    /// inconsistent); retry later.
    Busy {
        /// The position (`head`) that is held up.
        pos: u32,
    },
}

/// A queue view.
#[derive(Debug)]
pub(crate) struct Vyukov<'a, T> {
    hdr: &'a QueueHeader,
    slots: &'a [Slot<T>],
    seq: &'a [AtomicU32],
    mask: u32,
}

impl<'a, T: Plain> Vyukov<'a, T> {
    /// A view over `slots` and `seq`; `None` unless both have the same length, a power of
    /// two in `2..=QUEUE_MAX_CAPACITY`. `hdr.capacity` is never read: the slices are the
    /// validated geometry.
    pub(crate) fn new(
        hdr: &'a QueueHeader,
        slots: &'a [Slot<T>],
        seq: &'a [AtomicU32],
    ) -> Option<Self> {
        let cap = u32::try_from(slots.len()).ok()?;
        if slots.len() != seq.len()
            || !cap.is_power_of_two()
            || !(2..=QUEUE_MAX_CAPACITY).contains(&cap)
        {
            return None;
        }
        Some(Self {
            hdr,
            slots,
            seq,
            mask: cap - 1,
        })
    }

    /// [`Vyukov::new`] without its checks, for views rebuilt on every operation from
    /// slices whose geometry was validated once (by `new` or the handle's open).
    ///
    /// # Safety
    ///
    /// `slots` and `seq` must have the same power-of-two length in
    /// `2..=QUEUE_MAX_CAPACITY` (checked in debug builds): the operations index them
    /// with `pos & (len - 1)` without bounds checks.
    #[inline]
    pub(crate) unsafe fn new_prevalidated(
        hdr: &'a QueueHeader,
        slots: &'a [Slot<T>],
        seq: &'a [AtomicU32],
    ) -> Self {
        debug_assert!(Self::new(hdr, slots, seq).is_some());
        #[allow(clippy::cast_possible_truncation)] // validated: fits a u32
        let mask = slots.len() as u32 - 1;
        Self {
            hdr,
            slots,
            seq,
            mask,
        }
    }

    /// Number of slots.
    pub(crate) fn capacity(&self) -> u32 {
        self.mask + 1
    }

    /// The sequence word of the slot that position `pos` uses: what a sleeper waiting for
    /// that position sleeps on, and what the push or pop that frees it changes.
    #[inline]
    pub(crate) fn seq_word(&self, pos: u32) -> &'a AtomicU32 {
        self.seq_at(self.index(pos))
    }

    /// `seq[i]` for an `i` from [`Vyukov::index`], without a bounds check.
    #[inline(always)]
    fn seq_at(&self, i: usize) -> &'a AtomicU32 {
        debug_assert!(i < self.seq.len());
        // SAFETY: `i = pos & mask` and `mask = len - 1` for both slices, an invariant of
        // both constructors (`new` checks it, `new_prevalidated` is given a view checked
        // at open), so `i < self.seq.len()`.
        unsafe { self.seq.get_unchecked(i) }
    }

    /// `slots[i]` for an `i` from [`Vyukov::index`], without a bounds check.
    #[inline(always)]
    fn slot_at(&self, i: usize) -> &'a Slot<T> {
        debug_assert!(i < self.slots.len());
        // SAFETY: as in `seq_at`: `i <= mask = self.slots.len() - 1`.
        unsafe { self.slots.get_unchecked(i) }
    }

    #[inline]
    fn index(&self, pos: u32) -> usize {
        // `mask < slots.len() <= u32::MAX`, so this is in bounds and fits a usize.
        (pos & self.mask) as usize
    }

    /// Appends `value`, returning the position it took.
    #[inline(always)]
    pub(crate) fn push(&self, value: T) -> Result<u32, PushFail<T>> {
        // ORDERING: Relaxed — `tail` only reserves a position; the element is published
        // through `seq[i]` (Release below), never through `tail`.
        let mut t = self.hdr.tail.load(Relaxed);
        let mut retries = 0u32;
        loop {
            let i = self.index(t);
            // ORDERING: Acquire — pairs with the Release `seq[i] = pos + cap` in `pop`: the
            // previous reader of this slot has finished copying it out before we overwrite.
            let s = self.seq_at(i).load(Acquire);
            #[allow(clippy::cast_possible_wrap)] // the signed lap distance, as upstream
            let diff = s.wrapping_sub(t) as i32;
            if diff == 0 {
                // ORDERING: Relaxed — see the load of `tail` above.
                match self
                    .hdr
                    .tail
                    .compare_exchange_weak(t, t.wrapping_add(1), Relaxed, Relaxed)
                {
                    Ok(_) => {
                        crate::fault::point("queue.push.after_claim");
                        // PROTOCOL (why the copy is whole): the CAS moved `tail` from `t` to `t + 1` while `seq[i] == t`,
                        // so this thread is the only writer of slot `i` until it stores
                        // `seq[i] = t + 1` below; readers touch the slot only after observing
                        // that store (Acquire in `pop`).
                        self.slot_at(i).write(value);
                        crate::fault::point("queue.push.before_publish");
                        // ORDERING: Release — pairs with the Acquire load of `seq[i]` in `pop`;
                        // publishes the element. (Sleepers are woken by `Queue::after_push`,
                        // whose barrier orders this store before its sleeper-count load.)
                        self.seq_at(i).store(t.wrapping_add(1), Release);
                        return Ok(t);
                    }
                    Err(now) => t = now,
                }
            } else {
                // ORDERING: Relaxed — only compared with `t` to detect progress.
                let now = self.hdr.tail.load(Relaxed);
                if now != t {
                    t = now;
                } else if diff > 0 {
                    // The slot is a lap ahead of a `tail` that does not move: inconsistent.
                    return Err(PushFail::Busy { value, pos: t });
                } else {
                    // ORDERING: Relaxed — a hint to tell "full" from "a consumer is still
                    // copying out the element one lap back"; either answer is safe.
                    let h = self.hdr.head.load(Relaxed);
                    let len = t.wrapping_sub(h);
                    return Err(if len >= self.capacity() && len <= QUEUE_MAX_CAPACITY {
                        PushFail::Full(value)
                    } else {
                        PushFail::Busy { value, pos: t }
                    });
                }
            }
            // Every path here is a retry (the CAS lost, or `tail` moved): bounded.
            retries += 1;
            if retries >= RETRIES {
                return Err(PushFail::Busy { value, pos: t });
            }
            crate::loom::yield_point();
        }
    }

    /// Removes the oldest element.
    #[cfg(test)]
    pub(crate) fn pop(&self) -> Result<T, PopFail> {
        self.pop_at().map(|(v, _)| v)
    }

    /// Removes the oldest element, returning it with the position it had.
    #[inline(always)]
    pub(crate) fn pop_at(&self) -> Result<(T, u32), PopFail> {
        // ORDERING: Relaxed — `head` only reserves a position; see `push`.
        let mut h = self.hdr.head.load(Relaxed);
        let mut retries = 0u32;
        loop {
            let i = self.index(h);
            // ORDERING: Acquire — pairs with the Release `seq[i] = pos + 1` in `push`: the
            // element's bytes are visible.
            let s = self.seq_at(i).load(Acquire);
            #[allow(clippy::cast_possible_wrap)] // the signed lap distance, as upstream
            let diff = s.wrapping_sub(h.wrapping_add(1)) as i32;
            if diff == 0 {
                // ORDERING: Relaxed — see the load of `head` above.
                match self
                    .hdr
                    .head
                    .compare_exchange_weak(h, h.wrapping_add(1), Relaxed, Relaxed)
                {
                    Ok(_) => {
                        crate::fault::point("queue.pop.after_claim");
                        // PROTOCOL (why the copy is whole): the CAS moved `head` from `h` to `h + 1` while
                        // `seq[i] == h + 1` (published), so this thread is the only reader of
                        // slot `i` and no writer touches it until it stores
                        // `seq[i] = h + cap` below.
                        let value = self.slot_at(i).read();
                        crate::fault::point("queue.pop.before_release");
                        // ORDERING: Release — pairs with the Acquire load of `seq[i]` in
                        // `push`: our read of the slot happens before its next write.
                        self.seq_at(i)
                            .store(h.wrapping_add(self.capacity()), Release);
                        return Ok((value, h));
                    }
                    Err(now) => h = now,
                }
            } else {
                // ORDERING: Relaxed — only compared with `h` to detect progress.
                let now = self.hdr.head.load(Relaxed);
                if now != h {
                    h = now;
                } else if diff > 0 {
                    return Err(PopFail::Busy { pos: h });
                } else {
                    // ORDERING: Relaxed — a hint to tell "empty" from "a producer claimed
                    // `h` and is still copying in"; either answer is safe.
                    let t = self.hdr.tail.load(Relaxed);
                    return Err(if t == h {
                        PopFail::Empty
                    } else {
                        PopFail::Busy { pos: h }
                    });
                }
            }
            // Every path here is a retry (the CAS lost, or `head` moved): bounded.
            retries += 1;
            if retries >= RETRIES {
                return Err(PopFail::Busy { pos: h });
            }
            crate::loom::yield_point();
        }
    }

    /// `tail - head`, clamped to `[0, capacity]` (approximate under concurrency).
    pub(crate) fn len(&self) -> u32 {
        // ORDERING: Acquire on both, as C++ `size()`; the value is a snapshot anyway.
        let h = self.hdr.head.load(Acquire);
        let t = self.hdr.tail.load(Acquire);
        let len = t.wrapping_sub(h);
        if len > QUEUE_MAX_CAPACITY {
            0
        } else {
            len.min(self.capacity())
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn queue(cap: u32, start: u32) -> (QueueHeader, Vec<Slot<u32>>, Vec<AtomicU32>) {
        let hdr = QueueHeader::new(start, start, cap, 4);
        let slots = (0..cap).map(|_| Slot::new(0)).collect();
        let seq: Vec<AtomicU32> = (0..cap).map(|_| AtomicU32::new(0)).collect();
        for k in 0..cap {
            let pos = start.wrapping_add(k);
            seq[(pos & (cap - 1)) as usize].store(pos, Relaxed);
        }
        (hdr, slots, seq)
    }

    #[test]
    fn fifo_full_empty_and_wraparound() {
        let (hdr, slots, seq) = queue(4, u32::MAX - 5);
        let q = Vyukov::new(&hdr, &slots, &seq).unwrap();
        let mut next = 0;
        for round in 0..5u32 {
            for k in 0..4 {
                q.push(round * 10 + k).unwrap();
            }
            assert!(matches!(q.push(99), Err(PushFail::Full(99))));
            assert_eq!(q.len(), 4);
            for k in 0..4 {
                assert_eq!(q.pop(), Ok(round * 10 + k));
                next += 1;
            }
            assert_eq!(q.pop(), Err(PopFail::Empty));
        }
        assert_eq!(next, 20);
        assert_eq!(hdr.head.load(Relaxed), (u32::MAX - 5).wrapping_add(20));
    }

    #[test]
    fn rejects_bad_geometry() {
        let (hdr, slots, seq) = queue(4, 0);
        assert!(Vyukov::new(&hdr, &slots[..3], &seq[..3]).is_none());
        assert!(Vyukov::new(&hdr, &slots[..1], &seq[..1]).is_none());
        assert!(Vyukov::new(&hdr, &slots[..2], &seq[..4]).is_none());
    }

    #[test]
    fn inconsistent_words_are_busy_not_a_hang() {
        // A 1-slot-style overwrite: seq two laps ahead of head.
        let (hdr, slots, seq) = queue(2, 0);
        let q = Vyukov::new(&hdr, &slots, &seq).unwrap();
        seq[0].store(7, Relaxed);
        hdr.tail.store(1, Relaxed);
        assert_eq!(q.pop(), Err(PopFail::Busy { pos: 0 }));
        hdr.tail.store(0, Relaxed);
        assert!(matches!(q.push(1), Err(PushFail::Busy { pos: 0, .. })));
        // A producer that claimed position 0 but never published: Busy, not Empty.
        seq[0].store(0, Relaxed);
        hdr.tail.store(1, Relaxed);
        assert_eq!(q.pop(), Err(PopFail::Busy { pos: 0 }));
        // head ahead of tail (corrupt): never Full, never a hang.
        hdr.head.store(5, Relaxed);
        hdr.tail.store(3, Relaxed);
        assert!(matches!(q.push(1), Err(PushFail::Busy { .. })));
        assert_eq!(q.len(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    struct Heap {
        hdr: QueueHeader,
        slots: Vec<Slot<u32>>,
        seq: Vec<AtomicU32>,
    }

    impl Heap {
        fn new(cap: u32, start: u32) -> Arc<Self> {
            let seq: Vec<AtomicU32> = (0..cap).map(|_| AtomicU32::new(0)).collect();
            for k in 0..cap {
                let pos = start.wrapping_add(k);
                seq[(pos & (cap - 1)) as usize].store(pos, Relaxed);
            }
            Arc::new(Self {
                hdr: QueueHeader::new(start, start, cap, 4),
                slots: (0..cap).map(|_| Slot::new(0)).collect(),
                seq,
            })
        }
        fn q(&self) -> Vyukov<'_, u32> {
            Vyukov::new(&self.hdr, &self.slots, &self.seq).unwrap()
        }
    }

    fn push_retrying(q: &Vyukov<'_, u32>, v: u32) {
        let mut v = v;
        loop {
            match q.push(v) {
                Ok(_) => return,
                Err(PushFail::Full(x) | PushFail::Busy { value: x, .. }) => v = x,
            }
            thread::yield_now();
        }
    }

    /// One producer, one consumer, capacity 2, across the 2^32 wrap: order and no loss.
    #[test]
    fn loom_spsc_wraparound_in_order() {
        loom::model(|| {
            let heap = Heap::new(2, u32::MAX - 1);
            let h2 = heap.clone();
            let p = thread::spawn(move || {
                let q = h2.q();
                for v in 1..=3 {
                    push_retrying(&q, v);
                }
            });
            let q = heap.q();
            let mut got = Vec::new();
            while got.len() < 3 {
                match q.pop() {
                    Ok(v) => got.push(v),
                    Err(_) => thread::yield_now(),
                }
            }
            p.join().unwrap();
            assert_eq!(got, [1, 2, 3]);
            assert_eq!(q.pop(), Err(PopFail::Empty));
        });
    }

    /// Two producers, one consumer: every element arrives exactly once.
    #[test]
    fn loom_mpsc_exactly_once() {
        loom::model(|| {
            let heap = Heap::new(2, u32::MAX);
            let producers: Vec<_> = [10u32, 20]
                .into_iter()
                .map(|v| {
                    let h = heap.clone();
                    thread::spawn(move || push_retrying(&h.q(), v))
                })
                .collect();
            let q = heap.q();
            let mut got = Vec::new();
            while got.len() < 2 {
                match q.pop() {
                    Ok(v) => got.push(v),
                    Err(_) => thread::yield_now(),
                }
            }
            for p in producers {
                p.join().unwrap();
            }
            got.sort_unstable();
            assert_eq!(got, [10, 20]);
        });
    }

    /// Two producers (two elements and one) and a consumer with bounded retries (so the
    /// model has no unbounded spin) through a 2-slot queue that fills up, across the 2^32
    /// wrap: every element is consumed exactly once or handed back to its producer, and a
    /// producer's elements come out in order.
    #[test]
    fn loom_mpsc_full_and_wrapping() {
        loom::model(|| {
            let heap = Heap::new(2, u32::MAX - 1);
            let producers: Vec<_> = [(10u32, 2u32), (20, 1)]
                .into_iter()
                .map(|(base, n)| {
                    let h = heap.clone();
                    thread::spawn(move || {
                        let q = h.q();
                        let mut returned = Vec::new();
                        for v in base..base + n {
                            match q.push(v) {
                                Ok(_) => {}
                                Err(PushFail::Full(v) | PushFail::Busy { value: v, .. }) => {
                                    returned.push(v)
                                }
                            }
                        }
                        returned
                    })
                })
                .collect();
            let q = heap.q();
            let mut got: Vec<u32> = (0..2).filter_map(|_| q.pop().ok()).collect();
            let mut returned: Vec<u32> = producers
                .into_iter()
                .flat_map(|p| p.join().unwrap())
                .collect();
            while let Ok(v) = q.pop() {
                got.push(v);
            }
            let tens: Vec<u32> = got.iter().copied().filter(|v| *v < 20).collect();
            assert!(
                tens.windows(2).all(|w| w[0] < w[1]),
                "per-producer FIFO: {got:?}"
            );
            got.append(&mut returned);
            got.sort_unstable();
            assert_eq!(got, [10, 11, 20]);
        });
    }

    /// One producer, two consumers racing for two elements: each element popped once.
    #[test]
    fn loom_spmc_exactly_once() {
        loom::model(|| {
            let heap = Heap::new(2, 0);
            heap.q().push(1).unwrap();
            let h2 = heap.clone();
            let c = thread::spawn(move || h2.q().pop().ok());
            let h3 = heap.clone();
            let p = thread::spawn(move || push_retrying(&h3.q(), 2));
            let mine = heap.q().pop().ok();
            let theirs = c.join().unwrap();
            p.join().unwrap();
            let mut all: Vec<u32> = [mine, theirs].into_iter().flatten().collect();
            while let Ok(v) = heap.q().pop() {
                all.push(v);
            }
            all.sort_unstable();
            assert_eq!(all, [1, 2]);
        });
    }
}

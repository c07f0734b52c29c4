//! The bounded stack of FORMAT.md §5.3 over a view `(&StackHeader, &[Slot<T>], &[AtomicU32])`:
//! `top` reserves an index, then a per-slot 4-state word hands the slot's bytes over.
//!
//! | state     | value | who moves it on                          | to        |
//! |-----------|-------|------------------------------------------|-----------|
//! | `EMPTY`   | 0     | a pusher that reserved the index (CAS)   | `WRITING` |
//! | `WRITING` | 1     | that pusher, after copying in (Release)  | `READY`   |
//! | `READY`   | 2     | a popper that reserved the index, or a peek (CAS) | `READING` |
//! | `READING` | 3     | that popper (Release) / that peek        | `EMPTY` / `READY` |
//!
//! Any other value (written by a corrupt peer) is never claimed, so the waiting side runs
//! out of patience and reports a stall.
//!
//! # Synchronization
//!
//! | store (Release)                | load (Acquire)                    | publishes              |
//! |--------------------------------|-----------------------------------|------------------------|
//! | `state[i] = READY` in `push`   | CAS `READY → READING` (pop, peek) | the element's bytes    |
//! | `state[i] = EMPTY` in `pop`    | CAS `EMPTY → WRITING` in `push`   | the read is finished   |
//! | `state[i] = READY` in `peek`   | CAS `READY → READING`             | the peek is finished   |
//!
//! `top` is moved with AcqRel CASes, as upstream; no data rides on it.
//!
//! # Bounded waits
//!
//! Upstream gives up after 10,000 yields (FORMAT.md D-8), an iteration bound that means
//! microseconds in Go. Here every wait asks the caller's `patience` closure before each
//! retry; the typed handle answers with a time bound. Giving up is [`PushFail::Stalled`] /
//! [`PopFail::Stalled`], never "full" or "empty".

use crate::layout::stack::{EMPTY, READING, READY, StackHeader, WRITING};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::{AtomicU32, yield_point};
use crate::raw::cell::{Plain, Slot};

/// Why a push did not happen; the value is handed back.
#[derive(Debug)]
pub(crate) enum PushFail<T> {
    /// `top == capacity - 1`.
    Full(T),
    /// The reserved slot never became `EMPTY` within the caller's patience.
    Stalled {
        /// The value.
        value: T,
        /// The slot index that was held up.
        index: u32,
        /// Whether `top` could not be moved back (another process moved it meanwhile).
        orphaned: bool,
    },
    /// `top` holds a value outside `[-1, capacity - 1]`.
    CorruptTop {
        /// The value.
        value: T,
        /// The `top` found.
        top: i32,
    },
}

/// Why a pop or peek returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PopFail {
    /// `top == -1`.
    Empty,
    /// The slot never became `READY` within the caller's patience.
    Stalled {
        /// The slot index that was held up.
        index: u32,
        /// Whether `top` could not be moved back.
        orphaned: bool,
    },
    /// `top` holds a value outside `[-1, capacity - 1]`.
    CorruptTop {
        /// The `top` found.
        top: i32,
    },
}

/// A stack view.
#[derive(Debug)]
pub(crate) struct StackView<'a, T> {
    hdr: &'a StackHeader,
    slots: &'a [Slot<T>],
    state: &'a [AtomicU32],
    /// `slots.len()`, at most `i32::MAX`.
    cap: i32,
}

impl<'a, T: Plain> StackView<'a, T> {
    /// A view; `None` unless `slots` and `state` have the same, non-zero length that fits
    /// an `i32`.
    pub(crate) fn new(
        hdr: &'a StackHeader,
        slots: &'a [Slot<T>],
        state: &'a [AtomicU32],
    ) -> Option<Self> {
        let cap = i32::try_from(slots.len()).ok()?;
        if slots.len() != state.len() || cap == 0 {
            return None;
        }
        Some(Self {
            hdr,
            slots,
            state,
            cap,
        })
    }

    /// `top` as an index, or `None` when empty; `Err` when out of `[-1, cap - 1]`.
    #[inline]
    fn check_top(&self, top: i32) -> Result<Option<usize>, i32> {
        if top == -1 {
            return Ok(None);
        }
        if top < -1 || top >= self.cap {
            return Err(top);
        }
        // 0 <= top < cap: fits and is in bounds.
        usize::try_from(top).map(Some).map_err(|_| top)
    }

    /// Pushes `value` on top. `patience` is asked before each retry (of the `top` CAS and
    /// of the slot claim).
    pub(crate) fn push(
        &self,
        value: T,
        patience: &mut dyn FnMut() -> bool,
    ) -> Result<(), PushFail<T>> {
        // ORDERING: Relaxed — a first guess, confirmed by the CAS below.
        let mut cur = self.hdr.top.load(Relaxed);
        let idx = loop {
            let next = match self.check_top(cur) {
                Err(top) => return Err(PushFail::CorruptTop { value, top }),
                Ok(Some(i)) if i + 1 == self.slots.len() => return Err(PushFail::Full(value)),
                Ok(Some(i)) => i + 1,
                Ok(None) => 0,
            };
            // ORDERING: AcqRel as upstream — reservations of `top` form one chain; the slot
            // itself is handed over by its state word.
            match self
                .hdr
                .top
                .compare_exchange_weak(cur, cur + 1, AcqRel, Relaxed)
            {
                Ok(_) => break next,
                Err(now) => cur = now,
            }
            // A lost CAS is a peer's progress, but a peer that keeps moving `top` must not
            // keep this call here forever: the caller's patience bounds the retries too.
            if !patience() {
                return Err(PushFail::Stalled {
                    value,
                    index: index_u32(next),
                    orphaned: false,
                });
            }
            yield_point();
        };
        crate::fault::point("stack.push.after_reserve");
        loop {
            // ORDERING: AcqRel — the Acquire half pairs with the Release `EMPTY` store in
            // `pop`: the previous reader is done with the bytes we are about to overwrite.
            if self.state[idx]
                .compare_exchange_weak(EMPTY, WRITING, AcqRel, Relaxed)
                .is_ok()
            {
                break;
            }
            if !patience() {
                let orphaned = self.undo(cur + 1, cur);
                return Err(PushFail::Stalled {
                    value,
                    index: index_u32(idx),
                    orphaned,
                });
            }
        }
        crate::fault::point("stack.push.after_claim");
        // PROTOCOL (why the copy is whole): this thread moved `state[idx]` from EMPTY to WRITING, which makes it the
        // slot's only user until it stores READY below; poppers and peeks claim the slot only
        // from READY.
        self.slots[idx].write(value);
        crate::fault::point("stack.push.before_publish");
        // ORDERING: Release — pairs with the Acquire of the `READY → READING` CAS in `pop`
        // and `peek`: publishes the element.
        self.state[idx].store(READY, Release);
        Ok(())
    }

    /// Pops the top element. `patience` is asked before each retry (of the `top` CAS and of
    /// the slot claim).
    pub(crate) fn pop(&self, patience: &mut dyn FnMut() -> bool) -> Result<T, PopFail> {
        // ORDERING: Relaxed — a first guess, confirmed by the CAS below.
        let mut cur = self.hdr.top.load(Relaxed);
        let idx = loop {
            let idx = match self.check_top(cur) {
                Err(top) => return Err(PopFail::CorruptTop { top }),
                Ok(None) => return Err(PopFail::Empty),
                Ok(Some(i)) => i,
            };
            // ORDERING: AcqRel as upstream; see `push`.
            match self
                .hdr
                .top
                .compare_exchange_weak(cur, cur - 1, AcqRel, Relaxed)
            {
                Ok(_) => break idx,
                Err(now) => cur = now,
            }
            // Bounded by the caller's patience, as in `push`.
            if !patience() {
                return Err(PopFail::Stalled {
                    index: index_u32(idx),
                    orphaned: false,
                });
            }
            yield_point();
        };
        crate::fault::point("stack.pop.after_reserve");
        loop {
            // ORDERING: AcqRel — the Acquire half pairs with the Release `READY` store in
            // `push`: the element's bytes are visible.
            if self.state[idx]
                .compare_exchange_weak(READY, READING, AcqRel, Relaxed)
                .is_ok()
            {
                break;
            }
            if !patience() {
                let orphaned = self.undo(cur - 1, cur);
                return Err(PopFail::Stalled {
                    index: index_u32(idx),
                    orphaned,
                });
            }
        }
        crate::fault::point("stack.pop.after_claim");
        // PROTOCOL (why the copy is whole): this thread moved `state[idx]` from READY to READING, which makes it the
        // slot's only user until it stores EMPTY below; pushers claim only from EMPTY.
        let value = self.slots[idx].read();
        crate::fault::point("stack.pop.before_release");
        // ORDERING: Release — pairs with the Acquire of the `EMPTY → WRITING` CAS in `push`.
        self.state[idx].store(EMPTY, Release);
        Ok(value)
    }

    /// Copies the top element without removing it (claims it `READY → READING`, then puts
    /// it back to `READY`, as upstream).
    pub(crate) fn peek(&self, patience: &mut dyn FnMut() -> bool) -> Result<T, PopFail> {
        loop {
            // ORDERING: Acquire as upstream; the slot's bytes are ordered by its state word.
            let cur = self.hdr.top.load(Acquire);
            let idx = match self.check_top(cur) {
                Err(top) => return Err(PopFail::CorruptTop { top }),
                Ok(None) => return Err(PopFail::Empty),
                Ok(Some(i)) => i,
            };
            // ORDERING: AcqRel — pairs with the Release `READY` store in `push`.
            if self.state[idx]
                .compare_exchange(READY, READING, AcqRel, Relaxed)
                .is_ok()
            {
                // PROTOCOL (why the copy is whole): READY → READING makes this thread the slot's only user until it
                // stores READY again below.
                let value = self.slots[idx].read();
                // ORDERING: Release — pairs with the next claimer's Acquire CAS.
                self.state[idx].store(READY, Release);
                return Ok(value);
            }
            if !patience() {
                return Err(PopFail::Stalled {
                    index: index_u32(idx),
                    orphaned: false,
                });
            }
        }
    }

    /// Moves `top` back from `from` to `to` after giving up; `true` if that failed (someone
    /// moved `top` meanwhile, so the slot stays reserved: FORMAT.md D-8).
    fn undo(&self, from: i32, to: i32) -> bool {
        // ORDERING: AcqRel as the reservation it undoes.
        self.hdr
            .top
            .compare_exchange(from, to, AcqRel, Relaxed)
            .is_err()
    }

    /// `top + 1`, clamped to `[0, capacity]`.
    pub(crate) fn len(&self) -> u32 {
        // ORDERING: Relaxed — a snapshot; no data is read on its strength.
        let top = self.hdr.top.load(Relaxed);
        let len = top.saturating_add(1).clamp(0, self.cap);
        len.unsigned_abs()
    }
}

fn index_u32(idx: usize) -> u32 {
    // idx < cap <= i32::MAX.
    u32::try_from(idx).unwrap_or(u32::MAX)
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn stack(cap: u32) -> (StackHeader, Vec<Slot<u64>>, Vec<AtomicU32>) {
        (
            StackHeader::new(-1, cap, 8),
            (0..cap).map(|_| Slot::new(0)).collect(),
            (0..cap).map(|_| AtomicU32::new(EMPTY)).collect(),
        )
    }

    #[test]
    fn lifo_full_empty_peek() {
        let (h, s, st) = stack(3);
        let v = StackView::new(&h, &s, &st).unwrap();
        let mut yes = || true;
        assert_eq!(v.pop(&mut yes), Err(PopFail::Empty));
        for x in 1..=3 {
            v.push(x, &mut yes).unwrap();
        }
        assert!(matches!(v.push(4, &mut yes), Err(PushFail::Full(4))));
        assert_eq!(v.peek(&mut yes), Ok(3));
        assert_eq!(v.len(), 3);
        assert_eq!(
            (v.pop(&mut yes), v.pop(&mut yes), v.pop(&mut yes)),
            (Ok(3), Ok(2), Ok(1))
        );
        assert_eq!(v.len(), 0);
    }

    #[test]
    fn stuck_slot_and_corrupt_top_are_reported() {
        let (h, s, st) = stack(2);
        let v = StackView::new(&h, &s, &st).unwrap();
        let mut no = || false;
        st[0].store(WRITING, Relaxed); // a pusher died mid-copy
        assert!(matches!(
            v.push(1, &mut no),
            Err(PushFail::Stalled {
                index: 0,
                orphaned: false,
                ..
            })
        ));
        assert_eq!(h.top.load(Relaxed), -1, "the reservation was undone");
        h.top.store(0, Relaxed);
        assert_eq!(
            v.pop(&mut no),
            Err(PopFail::Stalled {
                index: 0,
                orphaned: false
            })
        );
        assert_eq!(
            v.peek(&mut no),
            Err(PopFail::Stalled {
                index: 0,
                orphaned: false
            })
        );
        h.top.store(2, Relaxed);
        assert_eq!(v.pop(&mut no), Err(PopFail::CorruptTop { top: 2 }));
        assert!(matches!(
            v.push(1, &mut no),
            Err(PushFail::CorruptTop { top: 2, .. })
        ));
        h.top.store(i32::MIN, Relaxed);
        assert_eq!(v.peek(&mut no), Err(PopFail::CorruptTop { top: i32::MIN }));
        assert_eq!(v.len(), 0);
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    struct Heap {
        hdr: StackHeader,
        slots: Vec<Slot<u32>>,
        state: Vec<AtomicU32>,
    }

    fn heap(cap: u32) -> Arc<Heap> {
        Arc::new(Heap {
            hdr: StackHeader::new(-1, cap, 4),
            slots: (0..cap).map(|_| Slot::new(0)).collect(),
            state: (0..cap).map(|_| AtomicU32::new(EMPTY)).collect(),
        })
    }

    impl Heap {
        fn v(&self) -> StackView<'_, u32> {
            StackView::new(&self.hdr, &self.slots, &self.state).unwrap()
        }
    }

    /// Patience that yields to the other threads and never gives up (waits here are only on
    /// live threads).
    fn wait() -> impl FnMut() -> bool {
        || {
            thread::yield_now();
            true
        }
    }

    /// A push racing a pop: the element is either popped or still there, never lost or
    /// duplicated, and a pop never returns bytes that were not published.
    #[test]
    fn loom_push_races_pop() {
        loom::model(|| {
            let h = heap(2);
            h.v().push(1, &mut wait()).unwrap();
            let h2 = h.clone();
            let p = thread::spawn(move || h2.v().push(2, &mut wait()).unwrap());
            let popped = h.v().pop(&mut wait()).ok();
            p.join().unwrap();
            let mut all: Vec<u32> = popped.into_iter().collect();
            while let Ok(v) = h.v().pop(&mut wait()) {
                all.push(v);
            }
            all.sort_unstable();
            assert_eq!(all, [1, 2]);
        });
    }

    /// A pusher and a popper that give up after one failed claim: every element is either
    /// popped, still on the stack, or handed back to its pusher, and a give-up that could
    /// not undo its reservation says so.
    #[test]
    fn loom_give_up_undoes_or_reports_orphan() {
        loom::model(|| {
            let h = heap(2);
            h.v().push(1, &mut wait()).unwrap();
            let h2 = h.clone();
            let p = thread::spawn(move || match h2.v().push(2, &mut || false) {
                Ok(()) => None,
                Err(PushFail::Stalled {
                    value, orphaned, ..
                }) => Some((value, orphaned)),
                Err(e) => panic!("{e:?}"),
            });
            let popped = match h.v().pop(&mut || false) {
                Ok(v) => Some(v),
                Err(PopFail::Stalled { orphaned, .. }) => {
                    assert!(!orphaned || h.v().len() > 0);
                    None
                }
                Err(e) => panic!("{e:?}"),
            };
            let returned = p.join().unwrap();
            if returned.is_some_and(|(_, orphaned)| orphaned) {
                // An orphaned reservation: the stack holds an unpublished slot (D-8).
                return;
            }
            let mut all: Vec<u32> = popped.into_iter().chain(returned.map(|(v, _)| v)).collect();
            while let Ok(v) = h.v().pop(&mut || false) {
                all.push(v);
            }
            all.sort_unstable();
            assert_eq!(all, [1, 2]);
        });
    }

    /// Two pushers into a two-slot stack, a peek and a pop alongside.
    #[test]
    fn loom_two_pushers_and_a_peek() {
        loom::model(|| {
            let h = heap(2);
            let ps: Vec<_> = [5u32, 6]
                .into_iter()
                .map(|x| {
                    let h = h.clone();
                    thread::spawn(move || h.v().push(x, &mut wait()).unwrap())
                })
                .collect();
            if let Ok(x) = h.v().peek(&mut wait()) {
                assert!(x == 5 || x == 6);
            }
            for p in ps {
                p.join().unwrap();
            }
            let a = h.v().pop(&mut wait()).unwrap();
            let b = h.v().pop(&mut wait()).unwrap();
            assert_eq!(a + b, 11);
            assert_eq!(h.v().pop(&mut wait()), Err(PopFail::Empty));
        });
    }
}

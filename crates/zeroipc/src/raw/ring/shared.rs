//! The ring shared by several parties (a Stream's buffer): producers serialised by the
//! caller's lock, consumers that take with a CAS of `read_pos` instead of a lock, and
//! broadcast readers that keep their own cursor and validate after reading.
//!
//! The bytes and the positions are the ring's (FORMAT.md §5.7): a C++ producer or consumer
//! on the other side still sees a single-producer single-consumer ring.
//!
//! # Synchronization
//!
//! | store (Release)                          | load (Acquire)                      | publishes                  |
//! |------------------------------------------|-------------------------------------|----------------------------|
//! | `write_pos` in [`RingView::append`]      | `write_pos` in `take` / `read_from` | the elements written       |
//! | `read_pos` CAS in [`RingView::take`]     | `read_pos` in `append`              | the slots are free again   |
//! | `read_pos` CAS in `append` (overwrite), then a Release fence | Acquire fence, then `read_pos` in `read_from` | "these slots are being rewritten" |
//!
//! **Takers** (several, in any process) copy the elements at `read_pos` first and claim them
//! after, with one CAS of `read_pos` from the value they copied at: the Release half of the
//! CAS keeps the copy before the claim. While `read_pos` has not passed a slot no producer
//! rewrites it (a producer waits for `read_pos` to pass, or, overwriting, moves `read_pos`
//! past it with its own CAS first), so a successful CAS means the copy was whole; a failed
//! one means another taker (or an overwriting producer) got there first, and the taker
//! starts over. `read_pos` only grows, so there is no ABA.
//!
//! **Broadcast readers** never write the segment: they copy from their private position,
//! then (Acquire fence) load `read_pos`; an overwriting producer moves `read_pos` past the
//! slots it will rewrite, then (Release fence) rewrites them. If a copy saw any rewritten
//! word, the fences synchronise and the reader's later load sees the moved `read_pos`: it
//! discards the copy and reports the values it lost (a seqlock, with `read_pos` as the
//! sequence). Under loom such a discarded copy is a race by design that loom's cells cannot
//! tell from a real one, so the models cover the producer/taker hand-over and takers racing
//! each other separately (a taker that loses its CAS discards its copy the same way).
//!
//! # Validation
//!
//! Positions are loaded one at a time while others move them, so a pair can look
//! inconsistent for an instant (a `read_pos` loaded before a taker and a producer both
//! moved on). A pair that fails the check is loaded again; only a pair that fails twice with
//! the same `read_pos` is [`Corrupt`].

use super::{Corrupt, RingView};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::fence;
use crate::raw::cell::Plain;

/// What [`RingView::append`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Appended {
    /// Elements appended.
    pub(crate) n: usize,
    /// `write_pos` after them.
    pub(crate) w: u64,
    /// `read_pos` as last seen.
    pub(crate) r: u64,
}

/// What [`RingView::read_from`] found at a broadcast reader's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadFrom {
    /// `n` elements were copied (`n >= 1`); the reader's next position is `next`.
    Copied { n: usize, next: u64 },
    /// Nothing new at the position (`write_pos` as loaded, for a reader that finds its
    /// position past it: positions moved backwards, the reader restarts there).
    Empty { write_pos: u64 },
    /// The elements from the position up to `oldest` were overwritten before they were
    /// read: `missed` of them. The reader continues at `oldest`.
    Lagged { missed: u64, oldest: u64 },
}

impl<T: Plain> RingView<'_, T> {
    /// `(write_pos, read_pos)` as a consistent pair while takers and an overwriting producer
    /// move `read_pos` (see *Validation*): `read_pos` is loaded before and after `write_pos`;
    /// if it moved, the pair is taken again.
    fn shared_positions(&self) -> Result<(u64, u64), Corrupt> {
        loop {
            // ORDERING: Acquire on both positions — pairs with the Release store of
            // `write_pos` (the elements) and the Release CAS of `read_pos` (free slots).
            let r = self.hdr.read_pos.load(Acquire);
            let w = self.hdr.write_pos.load(Acquire);
            if self.check(w, r).is_ok() {
                return Ok((w, r));
            }
            // ORDERING: Relaxed — only compared with `r`.
            if self.hdr.read_pos.load(Relaxed) == r {
                // `read_pos` did not move while `write_pos` was loaded: a real violation.
                return Err(Corrupt {
                    write_pos: w,
                    read_pos: r,
                });
            }
        }
    }

    /// Producer side, for a caller that holds the lock every producer of this ring takes:
    /// appends up to `src.len()` elements (at most the capacity); returns how many and the
    /// positions it used. Without `overwrite` only what fits is appended; with it the oldest
    /// elements are dropped to make room (their readers see lag).
    ///
    /// `hint` is `(write_pos, read_pos)` as this producer left them, if it knows that no
    /// other producer has appended since (a Stream checks its `sequence`): then the shared
    /// line is not read at all unless the hint says "full", as a ring's own producer does.
    /// `count(n)` runs after the copy and before `write_pos` publishes it (a Stream counts
    /// the values in `sequence` there, so that a producer killed between the two leaves
    /// `sequence` ahead, never behind: every hint then looks stale).
    pub(crate) fn append(
        &self,
        src: &[T],
        overwrite: bool,
        hint: Option<(u64, u64)>,
        count: impl FnOnce(u64),
    ) -> Result<Appended, Corrupt>
    where
        T: Copy,
    {
        let slots = self.slots.len() as u64;
        let want = (src.len() as u64).min(slots);
        let (w, mut r) = match hint {
            Some(h) => h,
            // ORDERING: Relaxed for `write_pos` — only producers store it and the caller's
            // lock serialises them (its Acquire made the last holder's store visible);
            // Acquire for `read_pos`, as below.
            None => (
                self.hdr.write_pos.load(Relaxed),
                self.hdr.read_pos.load(Acquire),
            ),
        };
        let mut refreshed = hint.is_none();
        let n = loop {
            let free = match self.check(w, r) {
                Ok(used) => (self.cap - used) / self.es,
                Err(e) if refreshed => return Err(e),
                Err(_) => 0,
            };
            if free >= want || (!overwrite && refreshed) {
                break free.min(want);
            }
            if !refreshed {
                // ORDERING: Acquire — pairs with a taker's Release CAS of `read_pos`: it has
                // finished copying out the slots we are about to reuse.
                r = self.hdr.read_pos.load(Acquire);
                refreshed = true;
                continue;
            }
            let drop = (want - free) * self.es;
            // ORDERING: AcqRel — Acquire as the load above (a taker may have just copied
            // these slots); Release is for nothing before it. The fence below is what
            // orders this move before the rewrite for broadcast readers.
            match self
                .hdr
                .read_pos
                .compare_exchange(r, r.wrapping_add(drop), AcqRel, Acquire)
            {
                Ok(_) => {
                    // ORDERING: Release fence — the moved `read_pos` is visible to any
                    // broadcast reader whose copy sees one word written below (its Acquire
                    // fence pairs).
                    fence(Release);
                    r = r.wrapping_add(drop);
                    break want;
                }
                // A taker moved `read_pos` first: look again.
                Err(now) => r = now,
            }
        };
        let n_us = usize::try_from(n).unwrap_or(0);
        if n_us == 0 {
            return Ok(Appended { n: 0, w, r });
        }
        let mut idx = self.index(w);
        for v in &src[..n_us] {
            // PROTOCOL (why the copy is whole): the slot lies between `write_pos` and
            // `read_pos + capacity`; takers do not copy it before our Release store below,
            // and the caller's lock keeps other producers out.
            self.slots[idx].write(*v);
            idx += 1;
            if idx == self.slots.len() {
                idx = 0;
            }
        }
        count(n);
        crate::fault::point("stream.emit.before_publish");
        let w = w.wrapping_add(n * self.es);
        // ORDERING: Release — pairs with the Acquire loads of `write_pos` in `take` and
        // `read_from`; publishes the elements.
        self.hdr.write_pos.store(w, Release);
        Ok(Appended { n: n_us, w, r })
    }

    /// Consumer side, for any number of takers in any process, without a lock: copies up to
    /// `dst.len()` elements from `read_pos` and claims them with a CAS (see the module docs).
    /// Returns how many were taken (0: empty).
    ///
    /// `w_hint` is a `write_pos` this process loaded earlier (with Acquire, or from a value
    /// handed on with Release/Acquire): `write_pos` is loaded again only if the hint shows
    /// fewer than `dst.len()` elements to take, as a ring's own consumer does. Returns
    /// `(taken, write_pos seen)`.
    pub(crate) fn take(&self, dst: &mut [T], w_hint: u64) -> Result<(usize, u64), Corrupt> {
        if dst.is_empty() {
            return Ok((0, w_hint));
        }
        let mut w = w_hint;
        loop {
            // ORDERING: Acquire — pairs with the Release CAS of the last taker (its claim).
            let mut r = self.hdr.read_pos.load(Acquire);
            let want = (dst.len() as u64).saturating_mul(self.es);
            if self.check(w, r).map_or(true, |used| used < want) {
                // The hint shows fewer than asked for (or is older than `read_pos`): load
                // both again, as a ring consumer refreshes its cache.
                (w, r) = self.shared_positions()?;
            }
            let n = usize::try_from((w - r) / self.es)
                .unwrap_or(usize::MAX)
                .min(dst.len());
            if n == 0 {
                return Ok((0, w));
            }
            let mut idx = self.index(r);
            for d in &mut dst[..n] {
                // PROTOCOL (why the copy is whole once the CAS below succeeds): the slot
                // lies between `read_pos` and `write_pos` (published, Acquire above) and no
                // producer rewrites it before `read_pos` passes it.
                *d = self.slots[idx].read();
                idx += 1;
                if idx == self.slots.len() {
                    idx = 0;
                }
            }
            crate::fault::point("stream.take.before_claim");
            // ORDERING: AcqRel — Release keeps the copies above before the claim and pairs
            // with the producer's Acquire load of `read_pos` (the slots are free again);
            // Acquire orders the next attempt's loads after a failure.
            if self
                .hdr
                .read_pos
                .compare_exchange(r, r.wrapping_add(n as u64 * self.es), AcqRel, Acquire)
                .is_ok()
            {
                return Ok((n, w));
            }
        }
    }

    /// Broadcast side: copies up to `dst.len()` elements from byte position `pos` (the
    /// reader's own cursor), moving nothing in the segment, and validates them after the
    /// copy (see the module docs).
    pub(crate) fn read_from(&self, pos: u64, dst: &mut [T]) -> Result<ReadFrom, Corrupt> {
        let (w, r) = self.shared_positions()?;
        if pos % self.es != 0 || pos > w {
            // Not a position of this ring (positions went backwards): restart at the end.
            return Ok(ReadFrom::Empty { write_pos: w });
        }
        if pos < r {
            return Ok(ReadFrom::Lagged {
                missed: (r - pos) / self.es,
                oldest: r,
            });
        }
        let n = usize::try_from((w - pos) / self.es)
            .unwrap_or(usize::MAX)
            .min(dst.len());
        if n == 0 {
            return Ok(ReadFrom::Empty { write_pos: w });
        }
        let mut idx = self.index(pos);
        for d in &mut dst[..n] {
            // PROTOCOL (why a kept copy is whole): the slot lies between `read_pos` and
            // `write_pos`; an overwriting producer moves `read_pos` past it (then a Release
            // fence) before rewriting it, which the check below sees.
            *d = self.slots[idx].read();
            idx += 1;
            if idx == self.slots.len() {
                idx = 0;
            }
        }
        // ORDERING: Acquire fence — pairs with the producer's Release fence after it moved
        // `read_pos`: if a copied word is a rewrite, the load below sees the move.
        fence(Acquire);
        // ORDERING: Relaxed — the fence above orders it.
        let r2 = self.hdr.read_pos.load(Relaxed);
        if r2 > pos {
            return Ok(ReadFrom::Lagged {
                missed: (r2 - pos) / self.es,
                oldest: r2,
            });
        }
        Ok(ReadFrom::Copied {
            n,
            next: pos.wrapping_add(n as u64 * self.es),
        })
    }

    /// `write_pos` (a broadcast reader's starting position), validated with `read_pos`.
    pub(crate) fn end(&self) -> Result<u64, Corrupt> {
        self.shared_positions().map(|(w, _)| w)
    }

    /// Elements buffered right now (a snapshot), robust to takers moving `read_pos`.
    pub(crate) fn shared_len(&self) -> Result<usize, Corrupt> {
        let (w, r) = self.shared_positions()?;
        Ok(usize::try_from((w - r) / self.es).unwrap_or(usize::MAX))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::layout::ring::RingHeader;
    use crate::raw::cell::Slot;

    fn ring(cap: usize) -> (RingHeader, Vec<Slot<u32>>) {
        (
            RingHeader::new(u32::try_from(cap * 4).unwrap(), 4),
            (0..cap).map(|_| Slot::new(0)).collect(),
        )
    }

    #[test]
    fn takers_and_producer_keep_order_and_capacity() {
        let (h, s) = ring(3);
        let v = RingView::new(&h, &s).unwrap();
        let mut out = [0u32; 8];
        assert_eq!(v.append(&[1, 2, 3, 4], false, None, |_| {}).unwrap().n, 3);
        assert_eq!(
            v.append(&[4], false, None, |_| {}).unwrap().n,
            0,
            "full: nothing appended"
        );
        assert_eq!(v.take(&mut out[..2], 0).unwrap().0, 2);
        assert_eq!(&out[..2], &[1, 2]);
        assert_eq!(v.append(&[4, 5, 6], false, None, |_| {}).unwrap().n, 2);
        assert_eq!(v.shared_len().unwrap(), 3);
        assert_eq!(v.take(&mut out, 0).unwrap().0, 3);
        assert_eq!(&out[..3], &[3, 4, 5]);
        assert_eq!(v.take(&mut out, 0).unwrap().0, 0);
    }

    #[test]
    fn values_are_counted_before_write_pos_publishes_them() {
        let (h, s) = ring(4);
        let v = RingView::new(&h, &s).unwrap();
        let mut counted = 0;
        let a = v
            .append(&[1, 2], false, None, |n| {
                // ORDERING: Relaxed — one thread.
                assert_eq!(h.write_pos.load(Relaxed), 0, "not published yet");
                counted = n;
            })
            .unwrap();
        assert_eq!((counted, a.w), (2, 8));
    }

    #[test]
    fn hints_are_used_until_they_say_full_or_empty() {
        let (h, s) = ring(2);
        let v = RingView::new(&h, &s).unwrap();
        let a = v.append(&[1], false, None, |_| {}).unwrap();
        assert_eq!((a.n, a.w, a.r), (1, 4, 0));
        // With the hint, a second append fits by the hint alone.
        let a = v.append(&[2], false, Some((a.w, a.r)), |_| {}).unwrap();
        assert_eq!((a.n, a.w), (1, 8));
        let mut out = [0u32; 1];
        let (n, w) = v.take(&mut out, 0).unwrap();
        assert_eq!((n, w, out[0]), (1, 8, 1));
        // Full by the stale hint: `read_pos` is loaded again and the value fits.
        let a = v.append(&[3], false, Some((a.w, a.r)), |_| {}).unwrap();
        assert_eq!((a.n, a.w, a.r), (1, 12, 4));
        // A stale `write_pos` hint is refreshed when it shows nothing to take.
        assert_eq!(v.take(&mut out, 4).unwrap(), (1, 12));
        assert_eq!(out[0], 2);
    }

    #[test]
    fn overwrite_drops_the_oldest_and_broadcast_readers_see_the_lag() {
        let (h, s) = ring(3);
        let v = RingView::new(&h, &s).unwrap();
        let start = v.end().unwrap();
        let mut out = [0u32; 8];
        assert_eq!(v.append(&[1, 2, 3], true, None, |_| {}).unwrap().n, 3);
        assert_eq!(
            v.read_from(start, &mut out[..1]).unwrap(),
            ReadFrom::Copied { n: 1, next: 4 }
        );
        assert_eq!(out[0], 1);
        assert_eq!(
            v.append(&[4, 5], true, None, |_| {}).unwrap().n,
            2,
            "overwrites 1 and 2"
        );
        assert_eq!(
            v.read_from(4, &mut out).unwrap(),
            ReadFrom::Lagged {
                missed: 1,
                oldest: 8
            }
        );
        assert_eq!(
            v.read_from(8, &mut out).unwrap(),
            ReadFrom::Copied { n: 3, next: 20 }
        );
        assert_eq!(&out[..3], &[3, 4, 5]);
        assert_eq!(
            v.read_from(20, &mut out).unwrap(),
            ReadFrom::Empty { write_pos: 20 }
        );
        // A position the ring never had restarts at the end.
        assert_eq!(
            v.read_from(400, &mut out).unwrap(),
            ReadFrom::Empty { write_pos: 20 }
        );
    }

    #[test]
    fn inconsistent_positions_are_corrupt_not_copied() {
        let (h, s) = ring(3);
        let v = RingView::new(&h, &s).unwrap();
        h.write_pos.store(400, Relaxed);
        let mut out = [0u32; 2];
        assert!(v.take(&mut out, 0).is_err());
        assert!(v.read_from(0, &mut out).is_err());
        assert!(v.append(&[1], true, None, |_| {}).is_err());
        h.write_pos.store(2, Relaxed);
        assert!(v.take(&mut out, 0).is_err(), "not a multiple of elem_size");
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::layout::ring::RingHeader;
    use crate::raw::cell::Slot;
    use loom::sync::Arc;
    use loom::thread;

    /// A producer appends 1 then 2 through a 1-element ring (it must wait for the taker to
    /// free the slot) while a taker takes: both values arrive once, in order, and the
    /// taker's copy never overlaps the producer's rewrite (loom's cell would report it).
    #[test]
    fn loom_taker_and_producer_hand_over_the_slot() {
        loom::model(|| {
            let heap = Arc::new((RingHeader::new(4, 4), vec![Slot::new(0u32)]));
            let p = {
                let h = heap.clone();
                thread::spawn(move || {
                    let v = RingView::new(&h.0, &h.1).unwrap();
                    let mut sent = 0u32;
                    while sent < 2 {
                        sent +=
                            u32::try_from(v.append(&[sent + 1], false, None, |_| {}).unwrap().n)
                                .unwrap();
                        thread::yield_now();
                    }
                })
            };
            let v = RingView::new(&heap.0, &heap.1).unwrap();
            let mut got = Vec::new();
            let mut buf = [0u32; 1];
            while got.len() < 2 {
                if v.take(&mut buf, 0).unwrap().0 == 1 {
                    got.push(buf[0]);
                } else {
                    thread::yield_now();
                }
            }
            p.join().unwrap();
            assert_eq!(got, [1, 2]);
        });
    }

    /// Two takers race for two buffered values: each value is taken exactly once. (With a
    /// producer rewriting slots at the same time, a taker that loses the CAS may have copied
    /// a slot while it was rewritten: a race by design, discarded, which loom's cell cannot
    /// tell from a real one; the producer/taker hand-over is the test above.)
    #[test]
    fn loom_two_takers_take_each_value_once() {
        loom::model(|| {
            let heap = Arc::new((
                RingHeader::new(8, 4),
                vec![Slot::new(0u32), Slot::new(0u32)],
            ));
            let v = RingView::new(&heap.0, &heap.1).unwrap();
            assert_eq!(v.append(&[1, 2], false, None, |_| {}).unwrap().n, 2);
            let taker = |h: Arc<(RingHeader, Vec<Slot<u32>>)>| {
                thread::spawn(move || {
                    let v = RingView::new(&h.0, &h.1).unwrap();
                    let mut buf = [0u32; 1];
                    let mut got = Vec::new();
                    while v.take(&mut buf, 0).unwrap().0 == 1 {
                        got.push(buf[0]);
                    }
                    got
                })
            };
            let a = taker(heap.clone());
            let b = taker(heap.clone());
            let mut got = a.join().unwrap();
            got.extend(b.join().unwrap());
            got.sort_unstable();
            assert_eq!(got, [1, 2]);
        });
    }
}

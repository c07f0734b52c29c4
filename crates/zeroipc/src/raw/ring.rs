//! The single-producer single-consumer ring of FORMAT.md §5.7 over a view
//! `(&RingHeader, &[Slot<T>])`, positions counted in bytes as upstream.
//!
//! Each side keeps its own position and a cached copy of the other side's position in a
//! process-local cursor, so the hot path reads the shared line only when the cache says the
//! ring looks full (producer) or empty (consumer).
//!
//! # Synchronization
//!
//! | store (Release)             | load (Acquire)                | publishes                  |
//! |-----------------------------|-------------------------------|----------------------------|
//! | `write_pos` in `write`      | `write_pos` in `read`         | the elements written       |
//! | `read_pos` in `read`        | `read_pos` in `write`         | the slots are free again   |
//!
//! # Validation
//!
//! Every position loaded from the segment is checked: both multiples of the element size,
//! and `write_pos - read_pos <= capacity`. A violation is [`Corrupt`], never an
//! out-of-bounds copy (slot indices are `(pos % capacity) / elem_size`, always in bounds).

use crate::layout::ring::RingHeader;
use crate::loom::Ordering::{Acquire, Relaxed, Release};
use crate::raw::cell::{Plain, Slot};

mod shared;
pub(crate) use shared::ReadFrom;

/// Positions that break the ring's invariants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Corrupt {
    /// `write_pos` as found (or as cached).
    pub(crate) write_pos: u64,
    /// `read_pos` as found (or as cached).
    pub(crate) read_pos: u64,
}

/// The producer's local state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteCursor {
    w: u64,
    r_cache: u64,
}

/// The consumer's local state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReadCursor {
    r: u64,
    w_cache: u64,
}

/// A ring view.
#[derive(Debug)]
pub(crate) struct RingView<'a, T> {
    hdr: &'a RingHeader,
    slots: &'a [Slot<T>],
    /// Element size in bytes.
    es: u64,
    /// Capacity in bytes (`slots.len() * es`).
    cap: u64,
}

impl<'a, T: Plain> RingView<'a, T> {
    /// A view; `None` unless `slots` is non-empty and `T` is not zero-sized.
    pub(crate) fn new(hdr: &'a RingHeader, slots: &'a [Slot<T>]) -> Option<Self> {
        let es = core::mem::size_of::<T>() as u64;
        let cap = (slots.len() as u64).checked_mul(es)?;
        if es == 0 || slots.is_empty() {
            return None;
        }
        Some(Self {
            hdr,
            slots,
            es,
            cap,
        })
    }

    fn check(&self, w: u64, r: u64) -> Result<u64, Corrupt> {
        let used = w.wrapping_sub(r);
        if used > self.cap || w % self.es != 0 || r % self.es != 0 {
            return Err(Corrupt {
                write_pos: w,
                read_pos: r,
            });
        }
        Ok(used)
    }

    /// Loads both positions and validates them; the result is the state a new producer or
    /// consumer starts from.
    fn positions(&self) -> Result<(u64, u64), Corrupt> {
        // ORDERING: Acquire on both — pairs with the Release stores in `write`/`read`, so a
        // side created after the other has run sees the bytes it published.
        let w = self.hdr.write_pos.load(Acquire);
        let r = self.hdr.read_pos.load(Acquire);
        self.check(w, r)?;
        Ok((w, r))
    }

    /// Starts the producer side.
    pub(crate) fn write_cursor(&self) -> Result<WriteCursor, Corrupt> {
        let (w, r) = self.positions()?;
        Ok(WriteCursor { w, r_cache: r })
    }

    /// Starts the consumer side.
    pub(crate) fn read_cursor(&self) -> Result<ReadCursor, Corrupt> {
        let (w, r) = self.positions()?;
        Ok(ReadCursor { r, w_cache: w })
    }

    /// The slot index of byte position `pos`.
    #[inline]
    fn index(&self, pos: u64) -> usize {
        // `pos % cap < cap` and `pos`, `cap` are multiples of `es`, so the index is
        // `< cap / es == slots.len()`; it fits a usize because `slots.len()` does.
        usize::try_from((pos % self.cap) / self.es).unwrap_or(0)
    }

    /// Free space in elements, refreshing the cached `read_pos` only if `want` elements do
    /// not fit by the cache.
    fn free(&self, c: &mut WriteCursor, want: u64) -> Result<u64, Corrupt> {
        let mut used = self.check(c.w, c.r_cache)?;
        if self.cap - used < want.saturating_mul(self.es) {
            // ORDERING: Acquire — pairs with the Release store of `read_pos` in `read`: the
            // consumer has finished copying out the slots we are about to reuse.
            c.r_cache = self.hdr.read_pos.load(Acquire);
            used = self.check(c.w, c.r_cache)?;
        }
        Ok((self.cap - used) / self.es)
    }

    /// Appends up to `src.len()` elements; returns how many fit.
    pub(crate) fn write(&self, c: &mut WriteCursor, src: &[T]) -> Result<usize, Corrupt>
    where
        T: Copy,
    {
        let n = usize::try_from(self.free(c, src.len() as u64)?)
            .unwrap_or(usize::MAX)
            .min(src.len());
        if n == 0 {
            return Ok(0);
        }
        let w = c.w.wrapping_add(n as u64 * self.es);
        // One division per call, not per element: walk the slot index and wrap it.
        let mut idx = self.index(c.w);
        for v in &src[..n] {
            // PROTOCOL (why the copy is whole): the slot at this position lies between `write_pos` and
            // `read_pos + capacity`, which the consumer does not touch until our Release
            // store of `write_pos` below; we are the only producer (the handle's contract).
            self.slots[idx].write(*v);
            idx += 1;
            if idx == self.slots.len() {
                idx = 0;
            }
        }
        crate::fault::point("ring.write.before_publish");
        // ORDERING: Release — pairs with the Acquire load of `write_pos` in `read`;
        // publishes the elements.
        self.hdr.write_pos.store(w, Release);
        c.w = w;
        Ok(n)
    }

    /// Elements available, refreshing the cached `write_pos` only if `want` are not
    /// available by the cache.
    fn available(&self, c: &mut ReadCursor, want: u64) -> Result<u64, Corrupt> {
        let mut used = self.check(c.w_cache, c.r)?;
        if used < want.saturating_mul(self.es) {
            // ORDERING: Acquire — pairs with the Release store of `write_pos` in `write`.
            c.w_cache = self.hdr.write_pos.load(Acquire);
            used = self.check(c.w_cache, c.r)?;
        }
        Ok(used / self.es)
    }

    /// Copies up to `dst.len()` elements out; consumes them unless `peek`. Returns how many.
    pub(crate) fn read(
        &self,
        c: &mut ReadCursor,
        dst: &mut [T],
        peek: bool,
    ) -> Result<usize, Corrupt> {
        let n = usize::try_from(self.available(c, dst.len() as u64)?)
            .unwrap_or(usize::MAX)
            .min(dst.len());
        if n == 0 {
            return Ok(0);
        }
        let r = c.r.wrapping_add(n as u64 * self.es);
        let mut idx = self.index(c.r);
        for d in &mut dst[..n] {
            // PROTOCOL (why the copy is whole): the slot at this position lies between `read_pos` and `write_pos`:
            // published by the producer (Acquire in `available`) and not rewritten until our
            // Release store of `read_pos`; we are the only consumer (the handle's contract).
            *d = self.slots[idx].read();
            idx += 1;
            if idx == self.slots.len() {
                idx = 0;
            }
        }
        if !peek {
            crate::fault::point("ring.read.before_release");
            // ORDERING: Release — pairs with the Acquire load of `read_pos` in `write`; the
            // slots are free again.
            self.hdr.read_pos.store(r, Release);
            c.r = r;
        }
        Ok(n)
    }

    /// Elements in the ring right now (a snapshot).
    pub(crate) fn len(&self) -> Result<usize, Corrupt> {
        // ORDERING: Relaxed — a snapshot; no data is read on its strength.
        let w = self.hdr.write_pos.load(Relaxed);
        let r = self.hdr.read_pos.load(Relaxed);
        let used = self.check(w, r)?;
        Ok(usize::try_from(used / self.es).unwrap_or(usize::MAX))
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn wraps_in_order_and_validates_positions() {
        let hdr = RingHeader::new(12, 4);
        let slots: Vec<Slot<u32>> = (0..3).map(|_| Slot::new(0)).collect();
        let v = RingView::new(&hdr, &slots).unwrap();
        let mut w = v.write_cursor().unwrap();
        let mut r = v.read_cursor().unwrap();
        let mut out = [0u32; 4];
        for round in 0..10u32 {
            assert_eq!(
                v.write(&mut w, &[round, round + 1, round + 2, 99]).unwrap(),
                3
            );
            assert_eq!(v.read(&mut r, &mut out[..1], true).unwrap(), 1);
            assert_eq!(out[0], round);
            assert_eq!(v.read(&mut r, &mut out, false).unwrap(), 3);
            assert_eq!(&out[..3], &[round, round + 1, round + 2]);
            assert_eq!(v.read(&mut r, &mut out, false).unwrap(), 0);
        }
        hdr.write_pos.store(1000, Relaxed);
        let mut r2 = v.read_cursor();
        assert!(r2.is_err());
        hdr.write_pos
            .store(hdr.read_pos.load(Relaxed) + 12, Relaxed);
        r2 = v.read_cursor();
        assert!(r2.is_ok());
        // The consumer's cache refresh also validates.
        hdr.write_pos.store(u64::MAX, Relaxed);
        let mut r3 = ReadCursor {
            r: hdr.read_pos.load(Relaxed),
            w_cache: hdr.read_pos.load(Relaxed),
        };
        assert!(v.read(&mut r3, &mut out, false).is_err());
        hdr.write_pos.store(hdr.read_pos.load(Relaxed) + 2, Relaxed);
        assert!(
            v.read(&mut r3, &mut out, false).is_err(),
            "not a multiple of elem_size"
        );
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use loom::sync::Arc;
    use loom::thread;

    /// One producer writes 3 elements through a 2-element ring; the consumer reads them in
    /// order (the ring wraps once).
    #[test]
    fn loom_spsc_ring_in_order() {
        loom::model(|| {
            let heap = Arc::new((
                RingHeader::new(8, 4),
                (0..2).map(|_| Slot::new(0u32)).collect::<Vec<_>>(),
            ));
            let h2 = heap.clone();
            let p = thread::spawn(move || {
                let v = RingView::new(&h2.0, &h2.1).unwrap();
                let mut c = v.write_cursor().unwrap();
                let mut sent = 0u32;
                while sent < 3 {
                    sent += u32::try_from(v.write(&mut c, &[sent + 1]).unwrap()).unwrap();
                    thread::yield_now();
                }
            });
            let v = RingView::new(&heap.0, &heap.1).unwrap();
            let mut c = v.read_cursor().unwrap();
            let mut got = Vec::new();
            let mut buf = [0u32; 2];
            while got.len() < 3 {
                let n = v.read(&mut c, &mut buf, false).unwrap();
                got.extend_from_slice(&buf[..n]);
                thread::yield_now();
            }
            p.join().unwrap();
            assert_eq!(got, [1, 2, 3]);
        });
    }
}

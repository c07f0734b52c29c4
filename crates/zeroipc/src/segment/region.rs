//! THE gate: the only place where an address in the segment becomes a Rust reference.
//!
//! Everything above receives `&H` (a header made of atomics) or `&[A]` (a run of atomics or
//! cells), checked here to lie inside the mapping and to be aligned. No `&mut` into shared
//! memory and no `&[u8]` over it are ever created: other processes write these bytes at any
//! time, so only types whose every field has interior mutability may be referenced in place.

use core::mem::{align_of, size_of};

use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::error::Corruption;
use crate::layout::array::ArrayHeader;
use crate::layout::table::{TableEntry, TableHeader};
use crate::loom::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering,
};
use crate::sys::mapping::Mapping;
use crate::sys::shm::Access;

/// Types that may be referenced in place inside the segment.
///
/// # Safety
///
/// Implementors are `FromBytes` (every byte pattern a peer may leave is a valid value) and
/// every byte of them lies inside an `UnsafeCell` (atomics or cells): a write by another
/// process never mutates memory behind a plain shared borrow.
pub(crate) unsafe trait InPlace: FromBytes + KnownLayout + Sync {}

macro_rules! in_place {
    ($($t:ty),* $(,)?) => {$(
        // SAFETY: `$t` is an atomic integer or a `#[repr(C)]` struct/array made only of
        // atomic integers: `FromBytes`, and every byte is interior-mutable.
        unsafe impl InPlace for $t {}
    )*};
}

// The list of shared-memory types. A new layout adds itself here.
in_place!(
    AtomicU8,
    AtomicU16,
    AtomicU32,
    AtomicU64,
    AtomicI8,
    AtomicI16,
    AtomicI32,
    AtomicI64,
    TableHeader,
    TableEntry,
    ArrayHeader,
);
in_place!(
    crate::layout::catalog::CatalogHeader,
    crate::layout::catalog::CatalogRecord,
);
in_place!(crate::layout::semaphore::SemaphoreHeader);
in_place!(crate::layout::barrier::BarrierHeader);
in_place!(crate::layout::latch::LatchHeader);
in_place!(crate::layout::event::EventHeader);
in_place!(crate::layout::rwlock::RwLockState);
in_place!(
    crate::layout::pool::PoolHeader,
    crate::layout::map::MapHeader,
    crate::layout::set::SetHeader,
);
in_place!(crate::layout::queue::QueueHeader);
in_place!(crate::layout::stack::StackHeader);
in_place!(crate::layout::ring::RingHeader);
in_place!(
    crate::layout::channel::ChannelHeader,
    crate::layout::stream::StreamHeader,
    crate::layout::future::FutureHeader,
    crate::layout::lazy::LazyBoolHeader,
);
// SAFETY: `Slot<T>` is a `#[repr(transparent)]` `UnsafeCell<T>`: every byte is
// interior-mutable, `T: FromBytes` makes any bytes a valid `T`, and it is `Sync` for `T: Send`.
unsafe impl<T: FromBytes + KnownLayout + Send> InPlace for crate::raw::cell::Slot<T> {}

/// A mapped segment as a bounded, checked address space.
#[derive(Debug)]
pub(crate) struct Region {
    mapping: Mapping,
}

impl Region {
    pub(crate) fn new(mapping: Mapping) -> Self {
        Self { mapping }
    }

    /// The mapped length in bytes.
    pub(crate) fn len(&self) -> u64 {
        self.mapping.len() as u64
    }

    /// Whether the mapping is writable (handles of read-only segments never write).
    pub(crate) fn writable(&self) -> bool {
        self.mapping.access() == Access::ReadWrite
    }

    /// Proves `at..at+len` lies inside the mapping and `at` is a multiple of `align`;
    /// returns `at` as a `usize`.
    pub(crate) fn check(&self, at: u64, len: u64, align: u64) -> Result<usize, Corruption> {
        let bound = self.len();
        let end = at.checked_add(len);
        if end.is_none_or(|end| end > bound) {
            return Err(Corruption::OutOfBounds {
                offset: at,
                len,
                bound,
            });
        }
        if at % align != 0 {
            return Err(Corruption::Misaligned { offset: at, align });
        }
        // Cannot fail: `at < bound`, and `bound` came from a `usize`.
        usize::try_from(at).map_err(|_| Corruption::OutOfBounds {
            offset: at,
            len,
            bound,
        })
    }

    /// The offset of `item` in this mapping, if it lies inside it (address arithmetic only,
    /// no access): how the async reactor names a word it must re-read later through
    /// [`Region::header`] while keeping the segment alive.
    pub(crate) fn offset_of<H>(&self, item: &H) -> Option<u64> {
        let base = self.mapping.base().as_ptr() as usize;
        let at = (core::ptr::from_ref(item) as usize).checked_sub(base)?;
        let end = at.checked_add(size_of::<H>())?;
        (end <= self.mapping.len()).then_some(at as u64)
    }

    /// A reference to the `H` stored at offset `at`.
    pub(crate) fn header<H: InPlace>(&self, at: u64) -> Result<&H, Corruption> {
        let start = self.check(at, size_of::<H>() as u64, align_of::<H>() as u64)?;
        // SAFETY:
        // - in bounds and aligned: `check` proved start..start+size_of::<H>() lies inside the
        //   mapping and `start` is a multiple of align_of::<H>() (the mapping is page-aligned);
        // - valid: `H: FromBytes`, so whatever bytes a peer left there form a valid `H`;
        // - aliasing: `H: InPlace` has only atomics/`UnsafeCell`, so writes by other processes
        //   never mutate memory behind a plain shared borrow;
        // - lifetime: the borrow is tied to `&self`, and `self` owns the mapping.
        // (`wrapping_add` is exact here because `start` is inside the mapping.)
        Ok(unsafe { &*self.mapping.base().as_ptr().wrapping_add(start).cast::<H>() })
    }

    /// A slice of `n` values of `A` starting at offset `at`.
    #[allow(clippy::disallowed_methods)] // this is the gate that the lint points everyone to
    pub(crate) fn slice<A: InPlace>(&self, at: u64, n: u64) -> Result<&[A], Corruption> {
        let bytes = n
            .checked_mul(size_of::<A>() as u64)
            .ok_or(Corruption::OutOfBounds {
                offset: at,
                len: u64::MAX,
                bound: self.len(),
            })?;
        let start = self.check(at, bytes, align_of::<A>() as u64)?;
        // Cannot fail: `n * size_of::<A>() <= len`, which fits in a usize.
        let count = usize::try_from(n).map_err(|_| Corruption::OutOfBounds {
            offset: at,
            len: bytes,
            bound: self.len(),
        })?;
        // SAFETY:
        // - in bounds and aligned: `check` proved the `n * size_of::<A>()` bytes from `start`
        //   lie inside the mapping, and `start` is aligned for `A`;
        // - valid: `A: FromBytes`; aliasing: `A: InPlace` is all interior-mutable;
        // - lifetime: tied to `&self`, which owns the mapping.
        Ok(unsafe {
            core::slice::from_raw_parts(
                self.mapping.base().as_ptr().wrapping_add(start).cast::<A>(),
                count,
            )
        })
    }

    /// Copies `out.len()` bytes from offset `at` with Relaxed loads: a consistent-enough
    /// snapshot for inspection, never a data race, never a write.
    pub(crate) fn read_bytes(&self, at: u64, out: &mut [u8]) -> Result<(), Corruption> {
        let bytes: &[AtomicU8] = self.slice(at, out.len() as u64)?;
        for (o, b) in out.iter_mut().zip(bytes) {
            // ORDERING: Relaxed — an inspection snapshot; no happens-before is claimed.
            *o = b.load(Ordering::Relaxed);
        }
        Ok(())
    }

    /// Stores zero into `len` bytes from offset `at`. The caller holds the allocation lock and
    /// the range is not yet published, so no one else writes it.
    pub(crate) fn zero(&self, at: u64, len: u64) -> Result<(), Corruption> {
        debug_assert!(self.writable());
        // Word stores where aligned, bytes for the ragged ends.
        let head = (at.next_multiple_of(8) - at).min(len);
        let words = (len - head) / 8;
        let tail = len - head - words * 8;
        // ORDERING: Relaxed — the range is published later by the Release store of
        // `entry_count` in `table::allocate`.
        for b in self.slice::<AtomicU8>(at, head)? {
            b.store(0, Ordering::Relaxed);
        }
        for w in self.slice::<AtomicU64>(at + head, words)? {
            w.store(0, Ordering::Relaxed);
        }
        for b in self.slice::<AtomicU8>(at + head + words * 8, tail)? {
            b.store(0, Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Region {
    /// A plain shared slice of `n` `T`s at `at`, for zero-copy access under a caller contract.
    ///
    /// # Safety
    ///
    /// While the returned borrow lives, no process or thread writes these bytes.
    #[allow(clippy::disallowed_methods)] // the gate
    pub(crate) unsafe fn plain_slice<T: FromBytes + zerocopy::Immutable>(
        &self,
        at: u64,
        n: usize,
    ) -> Result<&[T], Corruption> {
        let bytes = (n as u64).saturating_mul(size_of::<T>() as u64);
        let start = self.check(at, bytes, align_of::<T>() as u64)?;
        // SAFETY:
        // - in bounds and aligned: checked above;
        // - valid: `T: FromBytes`;
        // - aliasing: the caller promises no writes while the borrow lives;
        // - lifetime: tied to `&self`, which owns the mapping.
        Ok(unsafe {
            core::slice::from_raw_parts(
                self.mapping.base().as_ptr().wrapping_add(start).cast::<T>(),
                n,
            )
        })
    }

    /// A unique slice of `n` `T`s at `at`, for zero-copy writes under a caller contract.
    ///
    /// # Safety
    ///
    /// While the returned borrow lives, no other process or thread reads or writes these
    /// bytes, and the mapping is writable.
    #[allow(clippy::disallowed_methods, clippy::mut_from_ref)] // the gate; uniqueness is the caller's promise
    pub(crate) unsafe fn plain_slice_mut<T: FromBytes + IntoBytes>(
        &self,
        at: u64,
        n: usize,
    ) -> Result<&mut [T], Corruption> {
        debug_assert!(self.writable());
        let bytes = (n as u64).saturating_mul(size_of::<T>() as u64);
        let start = self.check(at, bytes, align_of::<T>() as u64)?;
        // SAFETY:
        // - in bounds and aligned: checked above; valid: `T: FromBytes`, and any `T` written
        //   is valid bytes for peers (`T: IntoBytes`);
        // - aliasing: the caller promises exclusive access while the borrow lives;
        // - lifetime: tied to `&self`, which owns the mapping.
        Ok(unsafe {
            core::slice::from_raw_parts_mut(
                self.mapping.base().as_ptr().wrapping_add(start).cast::<T>(),
                n,
            )
        })
    }
}

impl Region {
    /// [`Region::header`] without the bounds and alignment check, for hot paths whose offset
    /// was validated when the handle was opened.
    ///
    /// # Safety
    ///
    /// `header::<H>(at)` returned `Ok` on this same region before (the mapping never changes
    /// size or address while the region lives, so the check still holds).
    #[inline]
    pub(crate) unsafe fn header_prechecked<H: InPlace>(&self, at: u64) -> &H {
        debug_assert!(
            self.check(at, size_of::<H>() as u64, align_of::<H>() as u64)
                .is_ok()
        );
        // `at < len <= usize::MAX` by the caller's earlier check, so the cast is exact.
        #[allow(clippy::cast_possible_truncation)]
        let start = at as usize;
        // SAFETY: as in `header`: the caller's earlier `header::<H>(at)` proved bounds and
        // alignment on this immutable mapping; `H: InPlace` makes any bytes valid and all of
        // them interior-mutable; the borrow is tied to `&self`, which owns the mapping.
        unsafe { &*self.mapping.base().as_ptr().wrapping_add(start).cast::<H>() }
    }

    /// [`Region::slice`] without the check, for hot paths validated at open.
    ///
    /// # Safety
    ///
    /// `slice::<A>(at, n)` returned `Ok` on this same region before.
    #[inline]
    #[allow(clippy::disallowed_methods)] // the gate
    pub(crate) unsafe fn slice_prechecked<A: InPlace>(&self, at: u64, n: u64) -> &[A] {
        debug_assert!(self.slice::<A>(at, n).is_ok());
        // Both fit a usize by the caller's earlier check.
        #[allow(clippy::cast_possible_truncation)]
        let (start, count) = (at as usize, n as usize);
        // SAFETY: as in `slice`: the caller's earlier `slice::<A>(at, n)` proved bounds and
        // alignment on this immutable mapping; `A: InPlace`; the borrow is tied to `&self`.
        unsafe {
            core::slice::from_raw_parts(
                self.mapping.base().as_ptr().wrapping_add(start).cast::<A>(),
                count,
            )
        }
    }
}

impl Region {
    /// Copies the `T` at `at` with Relaxed word loads ([`crate::raw::words`]): tear-free per
    /// word, never a data race. Synchronisation, if any, comes from the structure's state
    /// words.
    pub(crate) fn load_value<T: crate::Element>(&self, at: u64) -> Result<T, Corruption> {
        crate::raw::words::with_word!(T, |W| {
            let n = (size_of::<T>() / size_of::<W>()) as u64;
            Ok(crate::raw::words::load::<T, W>(self.slice::<W>(at, n)?))
        })
    }

    /// Stores `value` at `at` with Relaxed word stores (see [`Region::load_value`]).
    pub(crate) fn store_value<T: crate::Element>(
        &self,
        at: u64,
        value: &T,
    ) -> Result<(), Corruption> {
        crate::raw::words::with_word!(T, |W| {
            let n = (size_of::<T>() / size_of::<W>()) as u64;
            crate::raw::words::store::<T, W>(self.slice::<W>(at, n)?, value);
            Ok(())
        })
    }
}

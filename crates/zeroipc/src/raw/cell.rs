//! `Slot<T>`: one element's bytes in shared memory, accessed only through the atomic word
//! copies of [`words`]; the structure's protocol decides who copies when.

use zerocopy::{FromBytes, Immutable, IntoBytes};

use crate::loom::UnsafeCell;
#[cfg(not(loom))]
use crate::raw::words;

/// What a slot may hold: plain bytes, any bit pattern valid, copied by value. Every
/// [`crate::Element`] is `Plain`.
pub(crate) trait Plain: FromBytes + IntoBytes + Immutable + Copy {}
impl<T: FromBytes + IntoBytes + Immutable + Copy> Plain for T {}

/// An element slot. Any bytes are a valid `T` when `T: FromBytes`, so it may be referenced
/// in place inside a segment (it is listed in `segment::region`'s `InPlace`).
#[cfg_attr(not(loom), derive(zerocopy::FromBytes, zerocopy::KnownLayout))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct Slot<T>(UnsafeCell<T>);

// SAFETY: a `Slot` is only read or written through `read`/`write`, which copy with atomic
// word accesses (no data race whatever the callers do); sharing `&Slot<T>` across threads
// then moves `T` values between them, which `T: Send` allows.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A slot holding `value` (loom models and unit tests build views on the heap).
    #[cfg(test)]
    pub(crate) fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }
}

impl<T: Plain> Slot<T> {
    /// Copies the element out, with Relaxed atomic word loads ([`words::load_from`]).
    ///
    /// Safe: the bytes are only ever accessed atomically, so a writer racing with this read
    /// (a peer that breaks the protocol) yields a value mixed from old and new words, never
    /// undefined behaviour. The structure's protocol (the caller owns the slot between an
    /// Acquire and a Release on its sequence or position word) is what makes it the whole,
    /// published value.
    ///
    /// Under `cfg(loom)` the copy goes through loom's tracked cell instead, so the model
    /// checks the protocol's claim of exclusive access: a missing happens-before is reported
    /// as a data race.
    #[inline(always)]
    pub(crate) fn read(&self) -> T {
        #[cfg(not(loom))]
        {
            // SAFETY: the pointer comes from a live `&Slot<T>`: valid and aligned for `T`
            // (the region checked both when it built the slot slice); a `Slot`'s bytes are
            // only accessed through `read`/`write`, both atomic.
            self.0.with(|p| unsafe { words::load_from(p) })
        }
        #[cfg(loom)]
        {
            // SAFETY: loom's cell checks that no write is concurrent with this read (it
            // panics on a race), so the plain read in this model build is exclusive.
            self.0.with(|p| unsafe { core::ptr::read(p) })
        }
    }

    /// Overwrites the element (the old bytes are plain data: nothing to drop), with Relaxed
    /// atomic word stores ([`words::store_to`]). Safe for the same reason as [`Slot::read`].
    #[inline(always)]
    pub(crate) fn write(&self, value: T) {
        #[cfg(not(loom))]
        {
            // SAFETY: as in `read`.
            self.0.with_mut(|p| unsafe { words::store_to(p, &value) });
        }
        #[cfg(loom)]
        {
            // SAFETY: as in `read`: loom's cell checks exclusivity.
            self.0.with_mut(|p| unsafe { core::ptr::write(p, value) });
        }
    }
}

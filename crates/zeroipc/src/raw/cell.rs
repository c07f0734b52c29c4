//! `Slot<T>`: one element's bytes in shared memory, accessed only by the process that the
//! structure's protocol makes its exclusive owner at that moment.

use crate::loom::UnsafeCell;

/// An element slot. Any bytes are a valid `T` when `T: FromBytes`, so it may be referenced
/// in place inside a segment (it is listed in `segment::region`'s `InPlace`).
#[cfg_attr(not(loom), derive(zerocopy::FromBytes, zerocopy::KnownLayout))]
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct Slot<T>(UnsafeCell<T>);

// SAFETY: a `Slot` is only read or written through `read`/`write`, whose callers prove
// exclusive access under the structure's protocol; sharing `&Slot<T>` across threads then
// moves `T` values between them, which `T: Send` allows.
unsafe impl<T: Send> Sync for Slot<T> {}

impl<T> Slot<T> {
    /// A slot holding `value` (loom models and unit tests build views on the heap).
    #[cfg(test)]
    pub(crate) fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }

    /// Copies the element out.
    ///
    /// # Safety
    ///
    /// No one writes the slot during the read: the caller owns it under the protocol.
    #[inline]
    pub(crate) unsafe fn read(&self) -> T {
        // SAFETY: the caller guarantees no concurrent write; the pointer is valid and aligned
        // because it comes from a live `&Slot<T>`.
        self.0.with(|p| unsafe { core::ptr::read(p) })
    }

    /// Overwrites the element (the old bytes are plain data: nothing to drop).
    ///
    /// # Safety
    ///
    /// No one else reads or writes the slot during the write: the caller owns it under the
    /// protocol.
    #[inline]
    pub(crate) unsafe fn write(&self, value: T) {
        // SAFETY: the caller guarantees exclusive access; the pointer is valid and aligned
        // because it comes from a live `&Slot<T>`.
        self.0.with_mut(|p| unsafe { core::ptr::write(p, value) });
    }
}

//! The one place that names `core::sync::atomic`, `core::cell::UnsafeCell` or `loom`.
//!
//! Everything else in the crate imports atomics and cells from here, so a `--cfg loom` build
//! swaps every shared-state primitive for loom's model checker at once (tokio's `crate::loom`,
//! crossbeam's `primitive`). CI greps that no other file names the real ones.

#[cfg(not(loom))]
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering,
    compiler_fence, fence,
};
#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use loom::sync::atomic::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering,
    fence,
};

/// Real atomics in both builds, for process-local state outside the modelled protocols (the
/// cached pid, the permit registry's per-process cache): loom models state shared by its
/// modelled threads, and its atomics cannot live in a `static`.
#[allow(unused_imports)]
pub(crate) use core::sync::atomic::{
    AtomicBool as ProcessAtomicBool, AtomicPtr as ProcessAtomicPtr, AtomicU32 as ProcessAtomicU32,
    AtomicU64 as ProcessAtomicU64,
};

#[cfg(loom)]
#[allow(unused_imports)]
pub(crate) use loom::cell::UnsafeCell;

/// `core::cell::UnsafeCell` with loom's closure API, so `raw` code compiles against both.
#[cfg(not(loom))]
#[derive(Debug, zerocopy::FromBytes, zerocopy::KnownLayout)]
#[repr(transparent)]
pub(crate) struct UnsafeCell<T>(core::cell::UnsafeCell<T>);

#[cfg(not(loom))]
#[allow(dead_code)]
impl<T> UnsafeCell<T> {
    /// Wraps `value`.
    pub(crate) const fn new(value: T) -> Self {
        Self(core::cell::UnsafeCell::new(value))
    }

    /// Calls `f` with a shared raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with<R>(&self, f: impl FnOnce(*const T) -> R) -> R {
        f(self.0.get())
    }

    /// Calls `f` with a mutable raw pointer to the contents.
    #[inline(always)]
    pub(crate) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// Call inside every spin loop so loom can schedule the thread being waited for.
#[inline(always)]
#[allow(dead_code)]
pub(crate) fn yield_point() {
    #[cfg(loom)]
    loom::thread::yield_now();
}

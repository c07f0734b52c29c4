//! Event: `name` (12 bytes) plus a Semaphore at `name_sem`. FORMAT.md §7.6.
//!
//! | off | size | field      | notes                          |
//! |-----|------|------------|--------------------------------|
//! | 0   | 4    | `signaled` | u32, 0 or 1                    |
//! | 4   | 4    | `mode`     | u32, AutoReset 0, ManualReset 1 |
//! | 8   | 4    | `waiting`  | u32, manual-reset waiters      |
//!
//! `name_sem`: a Semaphore (count 0, max 0 = unbounded); AutoReset `signal` releases it.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU32;

/// The Event header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct EventHeader {
    /// 0: 1 while signaled.
    pub(crate) signaled: AtomicU32,
    /// 4: [`AUTO_RESET`] or [`MANUAL_RESET`].
    pub(crate) mode: AtomicU32,
    /// 8: manual-reset waiters (C++ counts them; Python does not).
    pub(crate) waiting: AtomicU32,
}

/// Size of the Event entry.
pub(crate) const EVENT_LEN: u64 = 12;
/// `mode`: each signal lets one waiter through.
pub(crate) const AUTO_RESET: u32 = 0;
/// `mode`: a signal lets everyone through until `reset`.
pub(crate) const MANUAL_RESET: u32 = 1;
/// Suffix of the semaphore entry.
pub(crate) const SEM_SUFFIX: &str = "_sem";

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<EventHeader>() == EVENT_LEN as usize);
    assert!(core::mem::offset_of!(EventHeader, mode) == 4);
    assert!(core::mem::offset_of!(EventHeader, waiting) == 8);
};

//! Semaphore and Mutex: 16 bytes. FORMAT.md §7.1, §7.2.
//!
//! | off | size | field       | wire type | notes                                            |
//! |-----|------|-------------|-----------|--------------------------------------------------|
//! | 0   | 4    | `count`     | i32       | permits left; a Mutex is free at 1, locked at 0  |
//! | 4   | 4    | `waiting`   | i32       | acquirers currently blocked (a hint)             |
//! | 8   | 4    | `max_count` | i32       | 0 = unbounded; 1 for a Mutex                     |
//! | 12  | 4    | `owner`     | (padding) | zeroipc only: pid of a Mutex holder, 0 = unknown |
//!
//! The counters are `i32` on the wire. They are held as `AtomicU32` here because the futex
//! system call takes a 32-bit word and only compares bits; the sync layer converts with
//! `as i32` (a bit reinterpretation, never a value change). C++, Go and Python write the
//! padding word as 0 and never read it, so zeroipc keeps the pid of a Mutex holder there
//! (FORMAT.md §7.2 has no owner field).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU32;

/// The Semaphore header (also the Mutex).
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct SemaphoreHeader {
    /// 0: permits left (i32 bits).
    pub(crate) count: AtomicU32,
    /// 4: blocked acquirers (i32 bits).
    pub(crate) waiting: AtomicU32,
    /// 8: maximum count, 0 = unbounded (i32 bits).
    pub(crate) max_count: AtomicU32,
    /// 12: padding upstream; the pid of a zeroipc Mutex holder here.
    pub(crate) owner: AtomicU32,
}

/// Size of a Semaphore or Mutex entry.
pub(crate) const SEMAPHORE_LEN: u64 = 16;
/// `count` of an unlocked Mutex.
pub(crate) const MUTEX_UNLOCKED: u32 = 1;
/// `count` of a locked Mutex.
pub(crate) const MUTEX_LOCKED: u32 = 0;
/// `max_count` of a Mutex.
pub(crate) const MUTEX_MAX: u32 = 1;
/// `owner` when no zeroipc process is known to hold the Mutex.
pub(crate) const NO_OWNER: u32 = 0;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<SemaphoreHeader>() == SEMAPHORE_LEN as usize);
    assert!(core::mem::offset_of!(SemaphoreHeader, waiting) == 4);
    assert!(core::mem::offset_of!(SemaphoreHeader, max_count) == 8);
    assert!(core::mem::offset_of!(SemaphoreHeader, owner) == 12);
};

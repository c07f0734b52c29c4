//! Latch: 16 bytes. FORMAT.md §7.4.
//!
//! | off | size | field           | wire type |
//! |-----|------|-----------------|-----------|
//! | 0   | 4    | `count`         | i32       |
//! | 4   | 4    | `initial_count` | i32       |
//! | 8   | 8    | padding         | 0         |
//!
//! `count` is held as `AtomicU32` (a futex word); values are `i32` bit patterns.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU32;

/// The Latch header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct LatchHeader {
    /// 0: count-downs still needed.
    pub(crate) count: AtomicU32,
    /// 4: the count it was created with.
    pub(crate) initial_count: AtomicU32,
    /// 8: padding, written 0, unused.
    pub(crate) _reserved: [AtomicU32; 2],
}

/// Size of a Latch entry.
pub(crate) const LATCH_LEN: u64 = 16;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<LatchHeader>() == LATCH_LEN as usize);
    assert!(core::mem::offset_of!(LatchHeader, initial_count) == 4);
};

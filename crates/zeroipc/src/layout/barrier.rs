//! Barrier: 16 bytes. FORMAT.md §7.3.
//!
//! | off | size | field              | wire type |
//! |-----|------|--------------------|-----------|
//! | 0   | 4    | `arrived`          | i32       |
//! | 4   | 4    | `generation`       | i32       |
//! | 8   | 4    | `num_participants` | i32 (> 0) |
//! | 12  | 4    | padding            | 0         |
//!
//! Counters are held as `AtomicU32` (futex words); values are `i32` bit patterns.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU32;

/// The Barrier header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct BarrierHeader {
    /// 0: participants that arrived in the current generation.
    pub(crate) arrived: AtomicU32,
    /// 4: completed cycles (wraps).
    pub(crate) generation: AtomicU32,
    /// 8: participants per cycle.
    pub(crate) num_participants: AtomicU32,
    /// 12: padding, written 0, unused.
    pub(crate) _reserved: AtomicU32,
}

/// Size of a Barrier entry.
pub(crate) const BARRIER_LEN: u64 = 16;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<BarrierHeader>() == BARRIER_LEN as usize);
    assert!(core::mem::offset_of!(BarrierHeader, generation) == 4);
    assert!(core::mem::offset_of!(BarrierHeader, num_participants) == 8);
};

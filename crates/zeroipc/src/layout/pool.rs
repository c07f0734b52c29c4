//! Pool: a fixed number of nodes and a lock-free free list with a tagged head. FORMAT.md §5.6.
//!
//! | off | size              | field                                              |
//! |-----|-------------------|----------------------------------------------------|
//! | 0   | 8                 | `free_head` u64 = `(generation << 32) \| index`    |
//! | 8   | 4                 | `allocated` u32                                    |
//! | 12  | 4                 | `padding` u32 (0)                                  |
//! | 16  | 4                 | `capacity` u32                                     |
//! | 20  | 4                 | `elem_size` u32                                    |
//! | 24  | capacity × node   | nodes, each the C struct `{T data; u32 next}`      |
//!
//! `next_off = align_up(elem_size, 4)`, `node_size = align_up(next_off + 4, max(4, align))`.
//! The free list ends with [`NULL_INDEX`]. zeroipc additionally stores [`ALLOCATED`] in the
//! (otherwise unused) `next` word of a node it hands out, to detect double frees (FORMAT.md
//! D-11); upstream peers leave the stale link there.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use super::align_up;
use crate::loom::{AtomicU32, AtomicU64};

/// The Pool header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct PoolHeader {
    /// 0: `(generation << 32) | index` of the first free node.
    pub(crate) free_head: AtomicU64,
    /// 8: nodes handed out.
    pub(crate) allocated: AtomicU32,
    /// 12: padding, 0.
    pub(crate) padding: AtomicU32,
    /// 16: number of nodes.
    pub(crate) capacity: AtomicU32,
    /// 20: `sizeof(T)`.
    pub(crate) elem_size: AtomicU32,
}

/// Bytes before node 0.
pub(crate) const POOL_HEADER_LEN: u64 = 24;
/// End of the free list (and "exhausted" in `free_head`).
pub(crate) const NULL_INDEX: u32 = 0xFFFF_FFFF;
/// zeroipc's mark in the `next` word of a node it handed out (never a valid index).
pub(crate) const ALLOCATED: u32 = 0xFFFF_FFFE;
/// Largest capacity: indices must stay below [`ALLOCATED`].
pub(crate) const MAX_POOL_CAPACITY: u32 = ALLOCATED - 1;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<PoolHeader>() == POOL_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(PoolHeader, allocated) == 8);
    assert!(core::mem::offset_of!(PoolHeader, capacity) == 16);
    assert!(core::mem::offset_of!(PoolHeader, elem_size) == 20);
};

/// `(next_off, node_size)` of the C struct `{T data; u32 next}` for an element of `elem_size`
/// bytes and alignment `align` (a power of two ≤ 8), or `None` on overflow.
#[must_use]
pub(crate) const fn node_layout(elem_size: u64, align: u64) -> Option<(u64, u64)> {
    let Some(next_off) = align_up(elem_size, 4) else {
        return None;
    };
    let a = if align > 4 { align } else { 4 };
    match align_up(next_off + 4, a) {
        Some(size) => Some((next_off, size)),
        None => None,
    }
}

/// `24 + capacity * node_size`, or `None` on overflow.
#[must_use]
pub(crate) const fn pool_size(capacity: u64, node_size: u64) -> Option<u64> {
    match capacity.checked_mul(node_size) {
        Some(n) => n.checked_add(POOL_HEADER_LEN),
        None => None,
    }
}

/// Packs a free-list head.
#[must_use]
pub(crate) const fn pack_head(generation: u32, index: u32) -> u64 {
    ((generation as u64) << 32) | index as u64
}

/// Unpacks a free-list head into `(generation, index)`.
#[must_use]
#[allow(clippy::cast_possible_truncation)] // the halves of a u64
pub(crate) const fn unpack_head(head: u64) -> (u32, u32) {
    ((head >> 32) as u32, head as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_layout_matches_the_spec_examples() {
        // FORMAT.md §5.6: i32 → 8; f64/i64 → 16; u8 → 8; a 12-byte struct of alignment 4 → 16.
        assert_eq!(node_layout(4, 4), Some((4, 8)));
        assert_eq!(node_layout(8, 8), Some((8, 16)));
        assert_eq!(node_layout(1, 1), Some((4, 8)));
        assert_eq!(node_layout(12, 4), Some((12, 16)));
        assert_eq!(node_layout(2, 2), Some((4, 8)));
        assert_eq!(node_layout(24, 8), Some((24, 32))); // golden Point
        assert_eq!(node_layout(u64::MAX, 8), None);
        assert_eq!(unpack_head(pack_head(4, 1)), (4, 1));
        assert_eq!(pack_head(4, 1), 17_179_869_185);
    }
}

//! Map and Set: open addressing with linear probing and tombstones. FORMAT.md §5.4, §5.5.
//!
//! Map header (Set: `elem_size` for `key_size`, `reserved` = 0 for `value_size`):
//!
//! | off | size               | field              |
//! |-----|--------------------|--------------------|
//! | 0   | 4                  | `size` u32         |
//! | 4   | 4                  | `capacity` u32     |
//! | 8   | 4                  | `key_size` u32     |
//! | 12  | 4                  | `value_size` u32   |
//! | 16  | capacity × stride  | slots              |
//!
//! A slot is the C struct `{u32 state; K key; V value}` (Set: `{u32 state; T value}`) with
//! natural alignment ([`slot_layout`]). States: [`EMPTY`], [`OCCUPIED`], [`DELETED`],
//! [`INSERTING`]; any other value is corruption.
//!
//! Python writes another layout (FORMAT.md IH-8, IH-12): key at +4, value right after it,
//! stride `align8(4 + key_size + value_size)` ([`python_stride`]), and a Set is a
//! `Map<T, u8>` (header word 3 = 1).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use super::{align_up, align8};
use crate::loom::AtomicU32;

/// Map header (16 bytes). The Set header has the same shape.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct MapHeader {
    /// 0: OCCUPIED slots.
    pub(crate) size: AtomicU32,
    /// 4: number of slots.
    pub(crate) capacity: AtomicU32,
    /// 8: `sizeof(K)` (Set: `elem_size`).
    pub(crate) key_size: AtomicU32,
    /// 12: `sizeof(V)` (Set: `reserved`, 0).
    pub(crate) value_size: AtomicU32,
}

/// Bytes before slot 0.
pub(crate) const MAP_HEADER_LEN: u64 = 16;

/// Slot state: never used (ends every probe sequence).
pub(crate) const EMPTY: u32 = 0;
/// Slot state: holds a key (and value).
pub(crate) const OCCUPIED: u32 = 1;
/// Slot state: tombstone; probing continues past it, inserts may reuse it.
pub(crate) const DELETED: u32 = 2;
/// Slot state: one writer owns the slot (C++: inserting or updating; zeroipc also while
/// reading, to copy without tearing).
pub(crate) const INSERTING: u32 = 3;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<MapHeader>() == MAP_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(MapHeader, capacity) == 4);
    assert!(core::mem::offset_of!(MapHeader, key_size) == 8);
    assert!(core::mem::offset_of!(MapHeader, value_size) == 12);
};

/// Geometry of one slot: offsets inside it and its size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotLayout {
    /// Offset of the key (Set: the element).
    pub(crate) key_off: u64,
    /// Offset of the value (Set: end of the element).
    pub(crate) val_off: u64,
    /// Slot size (the stride).
    pub(crate) stride: u64,
}

/// The natural C layout of `{u32 state; K key; V value}` (C++, FORMAT.md §5.4.2). A Set
/// slot is this with a 0-byte value of alignment 1. Alignments are powers of two ≤ 8.
#[must_use]
pub(crate) const fn slot_layout(ks: u64, ka: u64, vs: u64, va: u64) -> Option<SlotLayout> {
    let Some(key_off) = align_up(4, ka) else {
        return None;
    };
    let Some(key_end) = key_off.checked_add(ks) else {
        return None;
    };
    let Some(val_off) = align_up(key_end, va) else {
        return None;
    };
    let Some(end) = val_off.checked_add(vs) else {
        return None;
    };
    let mut a = 4;
    if ka > a {
        a = ka;
    }
    if va > a {
        a = va;
    }
    match align_up(end, a) {
        Some(stride) => Some(SlotLayout {
            key_off,
            val_off,
            stride,
        }),
        None => None,
    }
}

/// Python's packed stride `align8(4 + key_size + value_size)` (FORMAT.md IH-8).
#[must_use]
pub(crate) const fn python_stride(ks: u64, vs: u64) -> Option<u64> {
    match ks.checked_add(vs) {
        Some(n) => match n.checked_add(4) {
            Some(n) => align8(n),
            None => None,
        },
        None => None,
    }
}

/// `16 + capacity * stride`, or `None` on overflow.
#[must_use]
pub(crate) const fn table_bytes(capacity: u64, stride: u64) -> Option<u64> {
    match capacity.checked_mul(stride) {
        Some(n) => n.checked_add(MAP_HEADER_LEN),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(ks: u64, ka: u64, vs: u64, va: u64) -> (u64, u64, u64) {
        let s = slot_layout(ks, ka, vs, va).unwrap();
        (s.key_off, s.val_off, s.stride)
    }

    #[test]
    fn slot_layouts_match_the_spec_table() {
        // FORMAT.md §5.4.2.
        assert_eq!(l(4, 4, 4, 4), (4, 8, 12));
        assert_eq!(l(4, 4, 8, 8), (4, 8, 16));
        assert_eq!(l(8, 8, 8, 8), (8, 16, 24));
        assert_eq!(l(8, 8, 4, 4), (8, 16, 24));
        assert_eq!(l(4, 4, 1, 1), (4, 8, 12));
        assert_eq!(l(16, 4, 4, 4), (4, 20, 24)); // golden Key16 → u32
        // Sets (FORMAT.md §5.5): i32 → 8; i64/f64 → 16 with the value at 8.
        assert_eq!(l(4, 4, 0, 1), (4, 8, 8));
        assert_eq!(l(8, 8, 0, 1), (8, 16, 16));
        assert_eq!(python_stride(4, 4), Some(16));
        assert_eq!(python_stride(4, 1), Some(16));
        assert_eq!(python_stride(8, 8), Some(24));
        assert_eq!(slot_layout(u64::MAX, 8, 0, 1), None);
    }
}

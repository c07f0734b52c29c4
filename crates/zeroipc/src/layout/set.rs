//! Set: the Map's open addressing with slots `{u32 state; T value}`. FORMAT.md §5.5.
//!
//! | off | size              | field              |
//! |-----|-------------------|--------------------|
//! | 0   | 4                 | `size` u32         |
//! | 4   | 4                 | `capacity` u32     |
//! | 8   | 4                 | `elem_size` u32    |
//! | 12  | 4                 | `reserved` u32 (0) |
//! | 16  | capacity × stride | slots              |
//!
//! Slot states are the Map's ([`super::map`]). A Python Set is a Python `Map<T, u8>`:
//! `reserved` is then its `value_size`, 1, and the stride `align8(4 + elem_size + 1)`
//! (FORMAT.md IH-12).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use super::map::{SlotLayout, slot_layout};
use crate::loom::AtomicU32;

/// Set header (16 bytes).
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct SetHeader {
    /// 0: OCCUPIED slots.
    pub(crate) size: AtomicU32,
    /// 4: number of slots.
    pub(crate) capacity: AtomicU32,
    /// 8: `sizeof(T)`.
    pub(crate) elem_size: AtomicU32,
    /// 12: 0 (C++); a Python Set stores its value size, 1, here.
    pub(crate) reserved: AtomicU32,
}

/// Bytes before slot 0.
pub(crate) const SET_HEADER_LEN: u64 = 16;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<SetHeader>() == SET_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(SetHeader, elem_size) == 8);
    assert!(core::mem::offset_of!(SetHeader, reserved) == 12);
};

/// The natural C layout of `{u32 state; T value}` (the element is the "key").
#[must_use]
pub(crate) const fn set_slot_layout(es: u64, ea: u64) -> Option<SlotLayout> {
    slot_layout(es, ea, 0, 1)
}

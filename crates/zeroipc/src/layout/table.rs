//! The table at offset 0 of every segment. FORMAT.md §3.
//!
//! | off  | size | field         |
//! |------|------|---------------|
//! | 0x00 | 4    | `magic`       |
//! | 0x04 | 4    | `version`     |
//! | 0x08 | 4    | `entry_count` |
//! | 0x0C | 4    | `max_entries` |
//! | 0x10 | 8    | `memory_size` |
//! | 0x18 | 8    | `next_offset` |
//!
//! then `max_entries` entries of 48 bytes: `name[32]` (NUL-terminated), `offset` u64, `size`
//! u64.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU8, AtomicU32, AtomicU64};

/// Table header: the first 32 bytes of every segment.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct TableHeader {
    /// 0x00: [`super::MAGIC`]; stored last by a zeroipc creator (Release).
    pub(crate) magic: AtomicU32,
    /// 0x04: [`super::FORMAT_VERSION`].
    pub(crate) version: AtomicU32,
    /// 0x08: entries in use; a zeroipc writer stores it (Release) after the entry's bytes.
    pub(crate) entry_count: AtomicU32,
    /// 0x0C: capacity of the entry array (0 is read as 64, like the C opener).
    pub(crate) max_entries: AtomicU32,
    /// 0x10: the segment size the creator asked for.
    pub(crate) memory_size: AtomicU64,
    /// 0x18: the bump allocator's next free byte.
    pub(crate) next_offset: AtomicU64,
}

/// One 48-byte table entry.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct TableEntry {
    /// 0x00: NUL-terminated, NUL-padded name (at most 31 significant bytes).
    pub(crate) name: [AtomicU8; 32],
    /// 0x20: start of the structure from the segment base; a multiple of 8.
    pub(crate) offset: AtomicU64,
    /// 0x28: the byte count the structure asked for (not rounded up).
    pub(crate) size: AtomicU64,
}

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<TableHeader>() == super::TABLE_HEADER_LEN as usize);
    assert!(offset_of!(TableHeader, version) == 0x04);
    assert!(offset_of!(TableHeader, entry_count) == 0x08);
    assert!(offset_of!(TableHeader, max_entries) == 0x0C);
    assert!(offset_of!(TableHeader, memory_size) == 0x10);
    assert!(offset_of!(TableHeader, next_offset) == 0x18);
    assert!(size_of::<TableEntry>() == super::TABLE_ENTRY_LEN as usize);
    assert!(offset_of!(TableEntry, offset) == 0x20);
    assert!(offset_of!(TableEntry, size) == 0x28);
};

//! The type catalog: a zeroipc-only table entry describing the structures zeroipc created.
//! Documented byte by byte in `docs/CATALOG.md`.
//!
//! Entry `__zeroipc_catalog`, `16 + 256 × capacity` bytes:
//!
//! | off  | size | field      |                                                   |
//! |------|------|------------|---------------------------------------------------|
//! | 0x00 | 4    | `magic`    | [`CATALOG_MAGIC`] ("ZCAT")                        |
//! | 0x04 | 4    | `version`  | [`CATALOG_VERSION`]                               |
//! | 0x08 | 4    | `capacity` | records the entry has room for                    |
//! | 0x0C | 4    | `count`    | records published (Release after the record)      |
//!
//! then `capacity` records of 256 bytes ([`CatalogRecord`]).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU8, AtomicU32};

/// The catalog's table entry name.
pub(crate) const CATALOG_ENTRY: &str = "__zeroipc_catalog";
/// `"ZCAT"` in memory order (bytes `5A 43 41 54`).
pub(crate) const CATALOG_MAGIC: u32 = 0x5441_435A;
/// Version of the catalog layout.
pub(crate) const CATALOG_VERSION: u32 = 1;
/// Bytes of the catalog header.
pub(crate) const CATALOG_HEADER_LEN: u64 = 16;
/// Bytes of one record.
pub(crate) const RECORD_LEN: u64 = 256;
/// Bytes of the record's `type_name` field (NUL-terminated: 95 significant bytes).
pub(crate) const TYPE_NAME_LEN: usize = 96;
/// Bytes of the record's `layout` field (NUL-terminated: 63 significant bytes).
pub(crate) const LAYOUT_LEN: usize = 64;
/// Bytes of the record's `parts` field (NUL-terminated: 31 significant bytes).
pub(crate) const PARTS_LEN: usize = 32;

/// The catalog's size for `capacity` records.
pub(crate) const fn catalog_size(capacity: u32) -> u64 {
    CATALOG_HEADER_LEN + RECORD_LEN * capacity as u64
}

/// The catalog header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct CatalogHeader {
    /// 0x00: [`CATALOG_MAGIC`].
    pub(crate) magic: AtomicU32,
    /// 0x04: [`CATALOG_VERSION`].
    pub(crate) version: AtomicU32,
    /// 0x08: records the entry has room for.
    pub(crate) capacity: AtomicU32,
    /// 0x0C: records published; stored with Release after the record's bytes.
    pub(crate) count: AtomicU32,
}

/// One 256-byte record.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct CatalogRecord {
    /// 0x00: the structure's name, NUL-terminated (a composite's base name).
    pub(crate) name: [AtomicU8; 32],
    /// 0x20: table index of the structure's first entry (`name` + its first part).
    pub(crate) entry_index: AtomicU32,
    /// 0x24: the kind code.
    pub(crate) kind: AtomicU32,
    /// 0x28: element size (a Map's key size; 0 for kinds without elements).
    pub(crate) elem_size: AtomicU32,
    /// 0x2C: element alignment.
    pub(crate) elem_align: AtomicU32,
    /// 0x30: a Map's value size (0 otherwise).
    pub(crate) value_size: AtomicU32,
    /// 0x34: a Map's value alignment (0 otherwise).
    pub(crate) value_align: AtomicU32,
    /// 0x38: how many table entries the structure has (the parts; at least 1).
    pub(crate) part_count: AtomicU32,
    /// 0x3C: zero.
    pub(crate) reserved: AtomicU32,
    /// 0x40: `std::any::type_name` of the element (`K=V` for a Map), NUL-terminated.
    pub(crate) type_name: [AtomicU8; TYPE_NAME_LEN],
    /// 0xA0: the element's field layout as `zeroipc show --as` reads it, NUL-terminated.
    pub(crate) layout: [AtomicU8; LAYOUT_LEN],
    /// 0xE0: the entry-name suffixes of the parts, comma-separated, NUL-terminated.
    pub(crate) parts: [AtomicU8; PARTS_LEN],
}

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    use core::mem::{offset_of, size_of};
    assert!(size_of::<CatalogHeader>() == CATALOG_HEADER_LEN as usize);
    assert!(offset_of!(CatalogHeader, count) == 0x0C);
    assert!(size_of::<CatalogRecord>() == RECORD_LEN as usize);
    assert!(offset_of!(CatalogRecord, entry_index) == 0x20);
    assert!(offset_of!(CatalogRecord, kind) == 0x24);
    assert!(offset_of!(CatalogRecord, elem_size) == 0x28);
    assert!(offset_of!(CatalogRecord, value_size) == 0x30);
    assert!(offset_of!(CatalogRecord, part_count) == 0x38);
    assert!(offset_of!(CatalogRecord, type_name) == 0x40);
    assert!(offset_of!(CatalogRecord, layout) == 0xA0);
    assert!(offset_of!(CatalogRecord, parts) == 0xE0);
};

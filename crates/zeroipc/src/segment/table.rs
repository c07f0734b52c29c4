//! Look-up and allocation of table entries. FORMAT.md §3.6–§3.8, §13 items 1–2.
//!
//! # Synchronization
//!
//! | store (Release)                  | load (Acquire)                     | publishes                      |
//! |----------------------------------|------------------------------------|--------------------------------|
//! | `entry_count` in [`allocate`]    | `entry_count` in `TableLayout`     | the entry and its structure    |
//!
//! Mutations are serialised among zeroipc processes by `flock` on the shm descriptor plus a
//! process-local mutex (flock locks belong to the open file description, which threads of one
//! process share). Upstream peers take no lock: create structures from one process when
//! mixing languages.
//!
//! # Process death
//!
//! A process that dies inside [`allocate`] releases the flock with its descriptor. If it died
//! before the Release store of `entry_count`, nothing was published: the bytes it wrote above
//! `next_offset` are invisible and are overwritten by the next allocation.
#![forbid(unsafe_code)]

use crate::error::{Corruption, TableError};
use crate::layout::table::{TableEntry, TableHeader};
use crate::layout::{MAX_ENTRY_NAME_LEN, align8};
use crate::loom::Ordering::{Relaxed, Release};

use super::Entry;
use super::region::Region;
use super::validate::TableLayout;

/// Every entry in table order (blank ones, still being written by a C++ peer, skipped);
/// stops at the first corrupt one with its error.
pub(crate) fn entries(region: &Region, layout: &TableLayout) -> Result<Vec<Entry>, Corruption> {
    let count = layout.entry_count(region)?;
    (0..count)
        .filter_map(|i| layout.entry(region, i).transpose())
        .collect()
}

/// The first entry whose name is `name` (byte comparison up to the NUL, as upstream).
pub(crate) fn find(
    region: &Region,
    layout: &TableLayout,
    name: &str,
) -> Result<Option<Entry>, Corruption> {
    let count = layout.entry_count(region)?;
    for i in 0..count {
        if let Some(e) = layout.entry(region, i)? {
            if e.name.as_bytes() == name.as_bytes() {
                return Ok(Some(e));
            }
        }
    }
    Ok(None)
}

/// Checks an entry name: 1 to 31 bytes, no NUL. The one name rule: create, open and find
/// all call it, and the type catalog refuses records whose name breaks it.
pub(crate) fn check_entry_name(name: &str) -> Result<(), TableError> {
    if name.is_empty() || name.len() > MAX_ENTRY_NAME_LEN || name.contains('\0') {
        return Err(TableError::InvalidName {
            name: name.to_owned(),
            len: name.len(),
        });
    }
    Ok(())
}

/// Appends an entry `name` of `size` bytes, 8-aligned, after `init` has initialised the
/// structure's bytes (zeroed first). The caller holds the allocation lock.
///
/// Nothing is published and no space is consumed unless every check and `init` succeed:
/// `next_offset` and `entry_count` are stored last, `entry_count` with Release.
pub(crate) fn allocate<E: From<TableError>>(
    region: &Region,
    layout: &TableLayout,
    name: &str,
    size: u64,
    init: impl FnOnce(u64) -> Result<(), E>,
) -> Result<Entry, E> {
    check_entry_name(name)?;
    let count = layout.entry_count(region).map_err(TableError::from)?;
    if find(region, layout, name)
        .map_err(TableError::from)?
        .is_some()
    {
        return Err(TableError::AlreadyExists {
            name: name.to_owned(),
        }
        .into());
    }
    if count >= layout.max_entries {
        return Err(TableError::TableFull {
            max_entries: layout.max_entries,
        }
        .into());
    }
    let next = layout.next_offset(region).map_err(TableError::from)?;
    let out_of_space = || TableError::OutOfSpace {
        requested: size,
        available: align8(next).map_or(0, |a| layout.bound.saturating_sub(a)),
    };
    let offset = align8(next).ok_or_else(out_of_space)?;
    let end = offset
        .checked_add(size)
        .filter(|&end| end <= layout.bound)
        .ok_or_else(out_of_space)?;

    region.zero(offset, size).map_err(TableError::from)?;
    init(offset)?;

    let slot: &TableEntry = region
        .header(TableLayout::entry_offset(count))
        .map_err(TableError::from)?;
    let mut field = [0u8; 32];
    field[..name.len()].copy_from_slice(name.as_bytes());
    // ORDERING (stores below): Relaxed — published by the Release store of `entry_count`.
    for (dst, src) in slot.name.iter().zip(field) {
        dst.store(src, Relaxed);
    }
    slot.offset.store(offset, Relaxed);
    slot.size.store(size, Relaxed);
    let header: &TableHeader = region.header(0).map_err(TableError::from)?;
    header.next_offset.store(end, Relaxed);
    // ORDERING: Release — pairs with the Acquire load in `TableLayout::entry_count`: a reader
    // that sees the new count sees the entry and the structure `init` wrote.
    header.entry_count.store(count + 1, Release);
    Ok(Entry {
        index: count,
        name: super::EntryName::from_field(&field, name.len()),
        offset,
        size,
    })
}

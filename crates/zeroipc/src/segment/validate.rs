//! Bytes → validated snapshots ("parse, don't validate"). FORMAT.md §3.5, Rust recommendation.
//!
//! Every field read from the table is untrusted input: it is loaded once, checked completely
//! with checked arithmetic, and kept in a `Copy` struct whose only constructor is here.
#![forbid(unsafe_code)]

use crate::error::{Corruption, OpenError};
use crate::layout::table::{TableEntry, TableHeader};
use crate::layout::{
    DEFAULT_MAX_ENTRIES, FORMAT_VERSION, MAGIC, NAME_FIELD_LEN, TABLE_ENTRY_LEN, TABLE_HEADER_LEN,
    table_size,
};
use crate::loom::Ordering::{Acquire, Relaxed};

use super::region::Region;
use super::{Entry, EntryName};

/// The table geometry, checked against the mapping once at open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableLayout {
    /// From the header (0 read as 64, like the C opener).
    pub(crate) max_entries: u32,
    /// `32 + 48 * max_entries`: no structure starts below it.
    pub(crate) table_size: u64,
    /// `min(memory_size, mapped size)`: no structure ends above it.
    pub(crate) bound: u64,
}

impl TableLayout {
    /// Validates the header of a mapped segment.
    ///
    /// `name` is only used in errors. The magic is loaded with Acquire so that, for a zeroipc
    /// creator, everything it wrote before publishing the magic is visible.
    pub(crate) fn read(region: &Region, name: &str) -> Result<Self, OpenError> {
        let mapped = region.len();
        // Every creator sizes the object in one call (ftruncate or fallocate to the full
        // size), so a non-empty object smaller than the header is not one being initialised:
        // it is not a ZeroIPC segment. (An empty one is reported by the caller before mapping.)
        if mapped < TABLE_HEADER_LEN {
            return Err(Corruption::TooSmall {
                size: mapped,
                min: TABLE_HEADER_LEN,
            }
            .into());
        }
        let h: &TableHeader = region.header(0)?;
        // ORDERING: Acquire — pairs with the Release store of `magic` in `Segment::create`;
        // a zeroipc creator writes every other header field before it.
        match h.magic.load(Acquire) {
            MAGIC => {}
            0 => {
                return Err(OpenError::NotInitialized {
                    name: name.to_owned(),
                });
            }
            found => return Err(Corruption::BadMagic { found }.into()),
        }
        // ORDERING (all loads below): Relaxed — ordered after the magic's Acquire; peers in
        // other languages write the header with plain stores in no order, so validation, not
        // ordering, is what protects us from them.
        let version = h.version.load(Relaxed);
        if version != FORMAT_VERSION {
            return Err(OpenError::Version {
                found: version,
                supported: FORMAT_VERSION,
            });
        }
        let max_entries = match h.max_entries.load(Relaxed) {
            0 => DEFAULT_MAX_ENTRIES,
            n => n,
        };
        let table_size = table_size(max_entries);
        if table_size > mapped {
            return Err(Corruption::TableOutsideMapping {
                max_entries,
                table_size,
                mapped,
            }
            .into());
        }
        let memory_size = h.memory_size.load(Relaxed);
        if memory_size > mapped || memory_size < table_size {
            return Err(Corruption::MemorySize {
                found: memory_size,
                min: table_size,
                mapped,
            }
            .into());
        }
        let layout = Self {
            max_entries,
            table_size,
            bound: memory_size,
        };
        layout.entry_count(region)?;
        layout.next_offset(region)?;
        Ok(layout)
    }

    /// `entry_count`, checked against `max_entries`.
    ///
    /// ORDERING: Acquire — pairs with the Release store in `table::allocate`: every entry
    /// below the count is fully written when a zeroipc writer published it.
    pub(crate) fn entry_count(&self, region: &Region) -> Result<u32, Corruption> {
        let h: &TableHeader = region.header(0)?;
        let found = h.entry_count.load(Acquire);
        if found > self.max_entries {
            return Err(Corruption::EntryCount {
                found,
                max_entries: self.max_entries,
            });
        }
        Ok(found)
    }

    /// `next_offset`, checked to lie in `[table_size, bound]`.
    pub(crate) fn next_offset(&self, region: &Region) -> Result<u64, Corruption> {
        let h: &TableHeader = region.header(0)?;
        // ORDERING: Relaxed — read under the allocation lock (zeroipc writers) or for display.
        let found = h.next_offset.load(Relaxed);
        if found < self.table_size || found > self.bound {
            return Err(Corruption::NextOffset {
                found,
                min: self.table_size,
                max: self.bound,
            });
        }
        Ok(found)
    }

    /// Offset of entry `index` in the segment.
    pub(crate) fn entry_offset(index: u32) -> u64 {
        TABLE_HEADER_LEN + TABLE_ENTRY_LEN * u64::from(index)
    }

    /// Reads and validates entry `index` (the caller checked `index < entry_count`).
    ///
    /// `Ok(None)` for an all-zero entry: a C++ peer increments `entry_count` *before* writing
    /// the entry (FORMAT.md IH-7), so a reader racing it sees a blank slot. Skipping it is safe
    /// (a blank entry names nothing) and keeps such a race from failing a whole open.
    pub(crate) fn entry(&self, region: &Region, index: u32) -> Result<Option<Entry>, Corruption> {
        let e: &TableEntry = region.header(Self::entry_offset(index))?;
        let mut raw = [0u8; NAME_FIELD_LEN];
        for (dst, src) in raw.iter_mut().zip(&e.name) {
            // ORDERING: Relaxed — entry bytes are published by the Acquire load of
            // `entry_count` in `entry_count` above.
            *dst = src.load(Relaxed);
        }
        let offset = e.offset.load(Relaxed);
        let size = e.size.load(Relaxed);
        if offset == 0 && size == 0 && raw.iter().all(|&b| b == 0) {
            return Ok(None);
        }
        let len = raw
            .iter()
            .position(|&b| b == 0)
            .ok_or(Corruption::EntryName { index })?;
        if offset % 8 != 0 {
            return Err(Corruption::EntryMisaligned { index, offset });
        }
        let out_of_bounds =
            offset < self.table_size || offset.checked_add(size).is_none_or(|end| end > self.bound);
        if out_of_bounds {
            return Err(Corruption::EntryOutOfBounds {
                index,
                offset,
                size,
                min: self.table_size,
                bound: self.bound,
            });
        }
        Ok(Some(Entry {
            index,
            name: EntryName::from_field(&raw, len),
            offset,
            size,
        }))
    }
}

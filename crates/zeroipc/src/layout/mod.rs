//! The wire format: every number another language must agree on, and nothing else.
//!
//! Each `#[repr(C)]` struct here mirrors a table of `FORMAT.md` (the ZeroIPC v2 format as the
//! C++ implementation writes it), with its offsets pinned by `const` assertions. Fields a peer
//! may write are atomics, so a `&Header` into shared memory is always sound whatever the peer
//! does; there is no behaviour in this module.
#![forbid(unsafe_code)]

#[cfg(not(target_endian = "little"))]
compile_error!("the zeroipc format is little-endian");

pub(crate) mod array;
pub(crate) mod barrier;
pub(crate) mod catalog;
pub(crate) mod channel;
pub(crate) mod event;
pub(crate) mod future;
pub(crate) mod latch;
pub(crate) mod lazy;
pub(crate) mod map;
pub(crate) mod once;
pub(crate) mod pool;
pub(crate) mod queue;
pub(crate) mod ring;
pub(crate) mod rwlock;
pub(crate) mod semaphore;
pub(crate) mod set;
pub(crate) mod stack;
pub(crate) mod stream;
pub(crate) mod table;

/// The table magic, `'ZIPM'` (bytes on disk `4D 50 49 5A`). FORMAT.md §3.1.
pub const MAGIC: u32 = 0x5A49_504D;
/// The only table format version this library reads and writes. FORMAT.md §3.1.
pub const FORMAT_VERSION: u32 = 2;
/// Size of the table header. FORMAT.md §3.1.
pub(crate) const TABLE_HEADER_LEN: u64 = 32;
/// Size of one table entry. FORMAT.md §3.2.
pub(crate) const TABLE_ENTRY_LEN: u64 = 48;
/// Bytes in an entry's name field, including the terminating NUL. FORMAT.md §3.2.
pub(crate) const NAME_FIELD_LEN: usize = 32;
/// Longest entry name in bytes (the field keeps one byte for the NUL). FORMAT.md §3.7.
pub(crate) const MAX_ENTRY_NAME_LEN: usize = NAME_FIELD_LEN - 1;
/// The table size upstream C++, Go and Python openers assume. FORMAT.md §3.5.
pub(crate) const DEFAULT_MAX_ENTRIES: u32 = 64;

/// `align_up(n, 8)`, or `None` on overflow.
#[must_use]
pub(crate) const fn align8(n: u64) -> Option<u64> {
    align_up(n, 8)
}

/// Rounds `n` up to a multiple of `align` (a power of two), or `None` on overflow.
#[must_use]
pub(crate) const fn align_up(n: u64, align: u64) -> Option<u64> {
    debug_assert!(align.is_power_of_two());
    match n.checked_add(align - 1) {
        Some(v) => Some(v & !(align - 1)),
        None => None,
    }
}

/// `32 + 48 * max_entries`: where the first structure goes. FORMAT.md §3.3.
#[must_use]
pub(crate) const fn table_size(max_entries: u32) -> u64 {
    // Cannot overflow: 48 * u32::MAX + 32 < 2^38.
    TABLE_HEADER_LEN + TABLE_ENTRY_LEN * max_entries as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn align8_rounds_up_and_detects_overflow() {
        assert_eq!(align8(0), Some(0));
        assert_eq!(align8(1), Some(8));
        assert_eq!(align8(8), Some(8));
        assert_eq!(align8(21), Some(24));
        assert_eq!(align8(u64::MAX), None);
        assert_eq!(align8(u64::MAX - 7), Some(u64::MAX - 7));
    }

    #[test]
    fn table_size_matches_the_spec_examples() {
        // FORMAT.md §3.1 and Appendix C.
        assert_eq!(table_size(64), 3104);
        assert_eq!(table_size(8), 416);
        assert_eq!(table_size(128), 6176);
    }
}

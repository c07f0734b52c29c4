//! Ring: a single-producer single-consumer ring of elements, counted in bytes. FORMAT.md §5.7.
//!
//! | off | size     | field                                                   |
//! |-----|----------|---------------------------------------------------------|
//! | 0   | 8        | `write_pos` u64: bytes ever written                     |
//! | 8   | 8        | `read_pos` u64: bytes ever read                         |
//! | 16  | 4        | `capacity` u32, in **bytes**, a multiple of `elem_size` |
//! | 20  | 4        | `elem_size` u32                                         |
//! | 24  | capacity | data                                                    |
//!
//! Entry size is exactly `24 + capacity`. The C++ constructor takes the capacity in bytes
//! (rounded down to whole elements), Python's in elements (FORMAT.md IH-14).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU32, AtomicU64};

/// The Ring header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct RingHeader {
    /// 0: total bytes written (only the producer stores it).
    pub(crate) write_pos: AtomicU64,
    /// 8: total bytes read (only the consumer stores it).
    pub(crate) read_pos: AtomicU64,
    /// 16: capacity in bytes.
    pub(crate) capacity: AtomicU32,
    /// 20: element size in bytes.
    pub(crate) elem_size: AtomicU32,
}

impl RingHeader {
    /// A header on the heap, for loom models and unit tests.
    #[cfg(test)]
    pub(crate) fn new(capacity: u32, elem_size: u32) -> Self {
        Self {
            write_pos: AtomicU64::new(0),
            read_pos: AtomicU64::new(0),
            capacity: AtomicU32::new(capacity),
            elem_size: AtomicU32::new(elem_size),
        }
    }
}

/// Bytes before the data.
pub(crate) const RING_HEADER_LEN: u64 = 24;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<RingHeader>() == RING_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(RingHeader, write_pos) == 0);
    assert!(core::mem::offset_of!(RingHeader, read_pos) == 8);
    assert!(core::mem::offset_of!(RingHeader, capacity) == 16);
    assert!(core::mem::offset_of!(RingHeader, elem_size) == 20);
};

/// Entry size `24 + capacity_bytes`. FORMAT.md Appendix A.
#[must_use]
pub(crate) const fn ring_size(capacity_bytes: u32) -> u64 {
    RING_HEADER_LEN + capacity_bytes as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_matches_the_golden_images() {
        // cpp_all: ring_i32 (64 bytes) is 88, ring_f64 (48 bytes) is 72.
        assert_eq!(ring_size(64), 88);
        assert_eq!(ring_size(48), 72);
    }
}

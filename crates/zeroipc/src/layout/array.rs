//! Array: `capacity` u64, then `capacity * size_of::<T>()` element bytes. FORMAT.md §5.1.
//!
//! | off | size           | field      |
//! |-----|----------------|------------|
//! | 0   | 8              | `capacity` |
//! | 8   | capacity × es  | elements   |
//!
//! Entry size is exactly `8 + capacity * es`. The C implementation writes a 16-byte header
//! (`capacity`, `elem_size`, data at +16, FORMAT.md IH-1): that layout is detected and refused.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU64;

/// The Array header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ArrayHeader {
    /// 0: number of elements.
    pub(crate) capacity: AtomicU64,
}

/// Bytes before the first element.
pub(crate) const ARRAY_HEADER_LEN: u64 = 8;
/// Bytes before the first element in the C implementation's incompatible layout.
pub(crate) const C_ARRAY_HEADER_LEN: u64 = 16;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = assert!(core::mem::size_of::<ArrayHeader>() == ARRAY_HEADER_LEN as usize);

/// `8 + capacity * elem_size`, or `None` on overflow.
#[must_use]
pub(crate) const fn array_size(capacity: u64, elem_size: u64) -> Option<u64> {
    match capacity.checked_mul(elem_size) {
        Some(data) => data.checked_add(ARRAY_HEADER_LEN),
        None => None,
    }
}

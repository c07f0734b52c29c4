//! Stack: a bounded stack with a 4-state word per slot. FORMAT.md §5.3.
//!
//! | off                    | size          | field                                        |
//! |------------------------|---------------|----------------------------------------------|
//! | 0                      | 4             | `top` i32: index of the top element, −1 empty |
//! | 4                      | 4             | `capacity` u32 (not rounded)                  |
//! | 8                      | 4             | `elem_size` u32                               |
//! | 12                     | 4             | `reserved` u32 (0)                            |
//! | 16                     | cap × es      | slots (slot *k* at `16 + k*es`, bottom = 0)   |
//! | `16 + align8(cap*es)`  | 4 × cap       | `state[k]` u32: EMPTY/WRITING/READY/READING   |
//!
//! Entry size is exactly `16 + align8(cap*es) + 4*cap`.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::layout::align8;
use crate::loom::{AtomicI32, AtomicU32};

/// Slot state: free; a pusher may claim it (`EMPTY → WRITING`).
pub(crate) const EMPTY: u32 = 0;
/// Slot state: a pusher is copying its element in.
pub(crate) const WRITING: u32 = 1;
/// Slot state: holds a published element; a popper may claim it (`READY → READING`).
pub(crate) const READY: u32 = 2;
/// Slot state: a popper (or a peek) is copying the element out.
pub(crate) const READING: u32 = 3;

/// The Stack header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct StackHeader {
    /// 0: index of the top element; −1 when empty.
    pub(crate) top: AtomicI32,
    /// 4: number of slots.
    pub(crate) capacity: AtomicU32,
    /// 8: element size in bytes.
    pub(crate) elem_size: AtomicU32,
    /// 12: written 0, never read.
    pub(crate) reserved: AtomicU32,
}

impl StackHeader {
    /// A header on the heap, for loom models and unit tests.
    #[cfg(test)]
    pub(crate) fn new(top: i32, capacity: u32, elem_size: u32) -> Self {
        Self {
            top: AtomicI32::new(top),
            capacity: AtomicU32::new(capacity),
            elem_size: AtomicU32::new(elem_size),
            reserved: AtomicU32::new(0),
        }
    }
}

/// Bytes before slot 0.
pub(crate) const STACK_HEADER_LEN: u64 = 16;

/// Largest capacity: `top` is an i32 (FORMAT.md D-34).
pub(crate) const STACK_MAX_CAPACITY: u32 = i32::MAX.unsigned_abs();

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<StackHeader>() == STACK_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(StackHeader, top) == 0);
    assert!(core::mem::offset_of!(StackHeader, capacity) == 4);
    assert!(core::mem::offset_of!(StackHeader, elem_size) == 8);
    assert!(core::mem::offset_of!(StackHeader, reserved) == 12);
};

/// Offset of `state[0]`: `16 + align8(cap*es)`, or `None` on overflow.
#[must_use]
pub(crate) const fn stack_state_offset(capacity: u64, elem_size: u64) -> Option<u64> {
    let Some(data) = capacity.checked_mul(elem_size) else {
        return None;
    };
    let Some(data) = align8(data) else {
        return None;
    };
    data.checked_add(STACK_HEADER_LEN)
}

/// Entry size `16 + align8(cap*es) + 4*cap`, or `None` on overflow. FORMAT.md Appendix A.
#[must_use]
pub(crate) const fn stack_size(capacity: u64, elem_size: u64) -> Option<u64> {
    let Some(state) = stack_state_offset(capacity, elem_size) else {
        return None;
    };
    let Some(len) = capacity.checked_mul(4) else {
        return None;
    };
    state.checked_add(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_matches_the_spec_examples() {
        // FORMAT.md Appendix C: Stack<u8> capacity 5 is 44 bytes, state at +24.
        assert_eq!(stack_size(5, 1), Some(44));
        assert_eq!(stack_state_offset(5, 1), Some(24));
        // Golden cpp_all: stk_i32 80, stk_u16 52 (state at +32), stk_f64_full 40.
        assert_eq!(stack_size(8, 4), Some(80));
        assert_eq!(stack_size(5, 2), Some(52));
        assert_eq!(stack_state_offset(5, 2), Some(32));
        assert_eq!(stack_size(2, 8), Some(40));
        assert_eq!(stack_size(u64::MAX, 1), None);
    }
}

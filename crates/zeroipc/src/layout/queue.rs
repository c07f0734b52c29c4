//! Queue: a bounded MPMC queue (Vyukov's algorithm). FORMAT.md §5.2.
//!
//! | off                    | size          | field                                   |
//! |------------------------|---------------|-----------------------------------------|
//! | 0                      | 4             | `head` u32, free-running pop counter    |
//! | 4                      | 4             | `tail` u32, free-running push counter   |
//! | 8                      | 4             | `capacity` u32, a power of two          |
//! | 12                     | 4             | `elem_size` u32                         |
//! | 16                     | cap × es      | slots (slot *k* at `16 + k*es`)         |
//! | `16 + align8(cap*es)`  | 4 × cap       | `seq[k]` u32, initially `k`             |
//!
//! Entry size is exactly `16 + align8(cap*es) + 4*cap` (every upstream writer agrees).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::layout::align8;
use crate::loom::AtomicU32;

/// The Queue header.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct QueueHeader {
    /// 0: next position to pop (wraps at 2^32).
    pub(crate) head: AtomicU32,
    /// 4: next position to push (wraps at 2^32).
    pub(crate) tail: AtomicU32,
    /// 8: number of slots, a power of two.
    pub(crate) capacity: AtomicU32,
    /// 12: element size in bytes.
    pub(crate) elem_size: AtomicU32,
}

impl QueueHeader {
    /// A header on the heap, for loom models and unit tests.
    #[cfg(test)]
    pub(crate) fn new(head: u32, tail: u32, capacity: u32, elem_size: u32) -> Self {
        Self {
            head: AtomicU32::new(head),
            tail: AtomicU32::new(tail),
            capacity: AtomicU32::new(capacity),
            elem_size: AtomicU32::new(elem_size),
        }
    }
}

/// Bytes before slot 0.
pub(crate) const QUEUE_HEADER_LEN: u64 = 16;

/// Largest capacity: the sequence comparison is a signed 32-bit difference, so positions
/// one lap apart must stay below 2^31.
pub(crate) const QUEUE_MAX_CAPACITY: u32 = 1 << 30;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<QueueHeader>() == QUEUE_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(QueueHeader, head) == 0);
    assert!(core::mem::offset_of!(QueueHeader, tail) == 4);
    assert!(core::mem::offset_of!(QueueHeader, capacity) == 8);
    assert!(core::mem::offset_of!(QueueHeader, elem_size) == 12);
};

/// Offset of `seq[0]` from the queue's start: `16 + align8(cap*es)`, or `None` on overflow.
#[must_use]
pub(crate) const fn queue_seq_offset(capacity: u64, elem_size: u64) -> Option<u64> {
    let Some(data) = capacity.checked_mul(elem_size) else {
        return None;
    };
    let Some(data) = align8(data) else {
        return None;
    };
    data.checked_add(QUEUE_HEADER_LEN)
}

/// Entry size `16 + align8(cap*es) + 4*cap`, or `None` on overflow. FORMAT.md Appendix A.
#[must_use]
pub(crate) const fn queue_size(capacity: u64, elem_size: u64) -> Option<u64> {
    let Some(seq) = queue_seq_offset(capacity, elem_size) else {
        return None;
    };
    let Some(seq_len) = capacity.checked_mul(4) else {
        return None;
    };
    seq.checked_add(seq_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_matches_the_spec_examples() {
        // FORMAT.md Appendix C: Queue<i32> capacity 8 is 80 bytes, seq at +48.
        assert_eq!(queue_size(8, 4), Some(80));
        assert_eq!(queue_seq_offset(8, 4), Some(48));
        // Golden cpp_all: q_u64_r5 (8 × u64) 112, q_point (4 × 24) 128, q_empty (2 × i32) 32.
        assert_eq!(queue_size(8, 8), Some(112));
        assert_eq!(queue_size(4, 24), Some(128));
        assert_eq!(queue_size(2, 4), Some(32));
        assert_eq!(queue_size(u64::MAX, 2), None);
    }
}

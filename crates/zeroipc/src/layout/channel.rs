//! Channel (C++ layout): a header plus either a Queue (buffered) or a rendezvous slot
//! (unbuffered). FORMAT.md §6.4.
//!
//! `<name>_header` (32 bytes):
//!
//! | off | size | field                                                            |
//! |-----|------|------------------------------------------------------------------|
//! | 0   | 4    | `capacity` u32: 0 = unbuffered, otherwise a power of two         |
//! | 4   | 4    | `senders` u32: senders currently blocked                         |
//! | 8   | 4    | `receivers` u32: receivers currently blocked                     |
//! | 12  | 1    | `closed` (C++ `std::atomic<bool>`: an `AtomicU8`, read as `!= 0`) |
//! | 13  | 3    | padding                                                          |
//! | 16  | 8    | `send_seq` u64 (unused by C++; zeroipc: the rendezvous sender lock) |
//! | 24  | 8    | `recv_seq` u64 (unused by C++ and by zeroipc)                    |
//!
//! `<name>_buffer`: a Queue (§5.2) of `capacity` slots, or `<name>_slot`:
//! `{ready u8 @0, consumed u8 @1, data @align_up(2, align_of T)}`, size
//! `align_up(data_off + size_of T, max(1, align_of T))`.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU8, AtomicU32, AtomicU64};

/// The channel header (`<name>_header`).
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct ChannelHeader {
    /// 0: 0 = unbuffered rendezvous, otherwise the queue's capacity.
    pub(crate) capacity: AtomicU32,
    /// 4: senders currently blocked (advisory; inflated by dead senders).
    pub(crate) senders: AtomicU32,
    /// 8: receivers currently blocked (advisory; C++ `try_send` tests it).
    pub(crate) receivers: AtomicU32,
    /// 12: closed flag, 0 or non-zero.
    pub(crate) closed: AtomicU8,
    /// 13: padding.
    pub(crate) _reserved: [AtomicU8; 3],
    /// 16: C++ never uses it; zeroipc's rendezvous sender lock (0 = free, else the owner's
    /// `pid << 32 | n`).
    pub(crate) send_seq: AtomicU64,
    /// 24: unused (left 0 so zeroipc's bytes equal C++'s).
    pub(crate) recv_seq: AtomicU64,
}

impl ChannelHeader {
    /// A header on the heap, for loom models.
    #[cfg(all(test, loom))]
    pub(crate) fn new(capacity: u32) -> Self {
        Self {
            capacity: AtomicU32::new(capacity),
            senders: AtomicU32::new(0),
            receivers: AtomicU32::new(0),
            closed: AtomicU8::new(0),
            _reserved: [AtomicU8::new(0), AtomicU8::new(0), AtomicU8::new(0)],
            send_seq: AtomicU64::new(0),
            recv_seq: AtomicU64::new(0),
        }
    }
}

/// Size of `<name>_header`.
pub(crate) const CHANNEL_HEADER_LEN: u64 = 32;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<ChannelHeader>() == CHANNEL_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(ChannelHeader, senders) == 4);
    assert!(core::mem::offset_of!(ChannelHeader, receivers) == 8);
    assert!(core::mem::offset_of!(ChannelHeader, closed) == 12);
    assert!(core::mem::offset_of!(ChannelHeader, send_seq) == 16);
    assert!(core::mem::offset_of!(ChannelHeader, recv_seq) == 24);
};

/// Offset of `data` in the rendezvous slot: `align_up(2, align)`.
#[must_use]
pub(crate) const fn slot_data_offset(align: u64) -> u64 {
    if align <= 2 { 2 } else { align }
}

/// Size of `<name>_slot`: `align_up(data_off + size, max(1, align))`.
#[must_use]
pub(crate) const fn slot_size(size: u64, align: u64) -> u64 {
    let a = if align == 0 { 1 } else { align };
    (slot_data_offset(a) + size).next_multiple_of(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_size_matches_the_spec() {
        // i32: data at 4, size 8 (cpp_all `chu_slot`); f64: data at 8, size 16; u8: 3.
        assert_eq!((slot_data_offset(4), slot_size(4, 4)), (4, 8));
        assert_eq!((slot_data_offset(8), slot_size(8, 8)), (8, 16));
        assert_eq!((slot_data_offset(1), slot_size(1, 1)), (2, 3));
        assert_eq!((slot_data_offset(2), slot_size(6, 2)), (2, 8));
    }
}

//! Stream (C++ layout): a 56-byte header plus a Ring. FORMAT.md §6.3.
//!
//! `<name>_header`:
//!
//! | off | size | field                                                             |
//! |-----|------|-------------------------------------------------------------------|
//! | 0   | 8    | `sequence` u64: values ever emitted                               |
//! | 8   | 4    | `subscribers` u32: subscribers currently reading                  |
//! | 12  | 1    | `closed` (C++ `std::atomic<bool>`: an `AtomicU8`, read as `!= 0`)  |
//! | 13  | 1    | padding (C++); zeroipc: mode flags, bit 0 = broadcast             |
//! | 14  | 2    | padding                                                           |
//! | 16  | 4    | `buffer_capacity` u32, in elements                                |
//! | 20  | 32   | `transform_name`: "map", "filter", ... or zeros                   |
//! | 52  | 4    | tail padding (C++); zeroipc: the emit lock, 0 when free           |
//!
//! `<name>_buffer`: a Ring (§5.7) of `buffer_capacity * size_of T` bytes.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU8, AtomicU32, AtomicU64};

/// The stream header (`<name>_header`).
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct StreamHeader {
    /// 0: values ever emitted.
    pub(crate) sequence: AtomicU64,
    /// 8: subscribers currently reading (advisory; leaks on crash).
    pub(crate) subscribers: AtomicU32,
    /// 12: closed flag, 0 or non-zero.
    pub(crate) closed: AtomicU8,
    /// 13: padding in C++; zeroipc's mode flags ([`FLAG_BROADCAST`]), 0 for C++ streams.
    pub(crate) flags: AtomicU8,
    /// 14: padding.
    pub(crate) _reserved: [AtomicU8; 2],
    /// 16: ring capacity in elements.
    pub(crate) buffer_capacity: AtomicU32,
    /// 20: operator that produced this stream, NUL-padded text.
    pub(crate) transform_name: [AtomicU8; 32],
    /// 52: tail padding in C++; zeroipc's emit lock (`sync::pid_lock`: 0 free, else the holder's pid, bit 31 = sleepers).
    pub(crate) lock: AtomicU32,
}

/// `flags` bit: emitters overwrite the oldest value instead of failing when full, and
/// readers keep their own cursors (zeroipc only).
pub(crate) const FLAG_BROADCAST: u8 = 1;

/// Size of `<name>_header`.
pub(crate) const STREAM_HEADER_LEN: u64 = 56;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)] // small constants
const _: () = {
    assert!(core::mem::size_of::<StreamHeader>() == STREAM_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(StreamHeader, subscribers) == 8);
    assert!(core::mem::offset_of!(StreamHeader, closed) == 12);
    assert!(core::mem::offset_of!(StreamHeader, buffer_capacity) == 16);
    assert!(core::mem::offset_of!(StreamHeader, transform_name) == 20);
    assert!(core::mem::offset_of!(StreamHeader, lock) == 52);
};

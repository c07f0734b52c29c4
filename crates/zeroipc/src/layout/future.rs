//! Future: a 16-byte header, the value, a 256-byte error message. FORMAT.md §6.1.
//!
//! | off      | size | field             | notes                                              |
//! |----------|------|-------------------|----------------------------------------------------|
//! | 0        | 4    | `state`           | PENDING 0, COMPUTING 1, READY 2, ERROR 3           |
//! | 4        | 4    | `waiters`         | blocked `get` callers (informational)              |
//! | 8        | 8    | `completion_time` | set with READY/ERROR; **zeroipc: `OWNER_TAG << 32 \| pid` from the setter's intent until then** |
//! | 16       | es   | `value`           | valid once READY                                   |
//! | 16 + es  | 256  | `error_msg`       | NUL-terminated, valid once ERROR                   |
//! | `align_down(16 + es + 248, 8)` | 8 | (zeroipc) finish owner | inside `error_msg`: `OWNER_TAG << 32 \| pid` while a zeroipc setter finishes |
//!
//! Entry size: C++ `align_up(272 + es, max(8, align))`, Python `272 + es` (both accepted on
//! open). `completion_time` units are the writer's: C++ and zeroipc monotonic-clock
//! nanoseconds, Python wall-clock microseconds.

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU32, AtomicU64};

/// No one has started to set the future.
pub(crate) const PENDING: u32 = 0;
/// A setter claimed it and is computing or writing the value.
pub(crate) const COMPUTING: u32 = 1;
/// The value is set.
pub(crate) const READY: u32 = 2;
/// The error message is set.
pub(crate) const ERROR: u32 = 3;

/// The fixed part of a Future.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct FutureHeader {
    /// 0: PENDING / COMPUTING / READY / ERROR.
    pub(crate) state: AtomicU32,
    /// 4: blocked `get` callers (informational, counted as C++ does).
    pub(crate) waiters: AtomicU32,
    /// 8: completion time, or the tagged pid of a zeroipc setter before it completes.
    pub(crate) completion_time: AtomicU64,
}

/// Size of the fixed header; the value starts here.
pub(crate) const FUTURE_HEADER_LEN: u64 = 16;
/// Offset of `value`.
pub(crate) const VALUE_OFFSET: u64 = 16;
/// Bytes of `error_msg`, NUL included.
pub(crate) const ERROR_MSG_LEN: u64 = 256;

/// Offset of `error_msg` for a `es`-byte value.
#[must_use]
pub(crate) const fn error_offset(es: u64) -> u64 {
    VALUE_OFFSET + es
}

/// Offset of zeroipc's second owner word for a `es`-byte value: the last 8-aligned 8
/// bytes inside `error_msg`, after any message zeroipc writes (≤ 240 bytes). A setter moves
/// its pid there before it writes `completion_time` (`codata::future`, "Claim protocol").
#[must_use]
pub(crate) const fn finish_owner_offset(es: u64) -> u64 {
    (error_offset(es) + ERROR_MSG_LEN - 8) & !7
}

/// The C++ entry size `align_up(272 + es, max(8, align))` (zeroipc creates this one).
#[must_use]
pub(crate) const fn future_size(es: u64, align: u64) -> Option<u64> {
    let a = if align > 8 { align } else { 8 };
    match (VALUE_OFFSET + ERROR_MSG_LEN).checked_add(es) {
        Some(n) => super::align_up(n, a),
        None => None,
    }
}

/// The Python entry size `272 + es` (unpadded).
#[must_use]
pub(crate) const fn python_future_size(es: u64) -> Option<u64> {
    (VALUE_OFFSET + ERROR_MSG_LEN).checked_add(es)
}

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<FutureHeader>() == FUTURE_HEADER_LEN as usize);
    assert!(core::mem::offset_of!(FutureHeader, waiters) == 4);
    assert!(core::mem::offset_of!(FutureHeader, completion_time) == 8);
    // FORMAT.md §6.1 examples: 280 for 1-, 4- and 8-byte T; Python 276 for i32.
    assert!(matches!(future_size(1, 1), Some(280)));
    assert!(matches!(future_size(4, 4), Some(280)));
    assert!(matches!(future_size(8, 8), Some(280)));
    assert!(matches!(future_size(24, 8), Some(296)));
    assert!(matches!(python_future_size(4), Some(276)));
    // The finish owner word lies inside `error_msg`, after the longest zeroipc message.
    assert!(finish_owner_offset(1) == 264 && finish_owner_offset(8) == 272);
    assert!(finish_owner_offset(7) - error_offset(7) == 241);
    assert!(finish_owner_offset(24) + 8 <= error_offset(24) + ERROR_MSG_LEN);
};

/// High 32 bits of a zeroipc owner word: ASCII `ZPID`. A C++ monotonic-nanosecond or a
/// Python wall-clock-microsecond `completion_time` reaches this value only after centuries.
pub(crate) const OWNER_TAG: u32 = 0x5A50_4944;

/// The owner word of process `pid`: `OWNER_TAG << 32 | pid`.
#[must_use]
pub(crate) const fn owner_word(pid: u32) -> u64 {
    ((OWNER_TAG as u64) << 32) | pid as u64
}

/// The pid in an owner word, or `None` if the word is not one (a time, zero, garbage).
#[must_use]
#[allow(clippy::cast_possible_truncation)] // the low half, on purpose
pub(crate) const fn owner_pid(word: u64) -> Option<u32> {
    let pid = word as u32;
    if word >> 32 == OWNER_TAG as u64 && pid != 0 {
        Some(pid)
    } else {
        None
    }
}

//! RWLock: `name_state` (8 bytes), Mutexes `name_rmtx` and `name_wmtx`, and a 1-byte marker
//! at `name`, created in that order. FORMAT.md §7.7.
//!
//! `name_state`:
//!
//! | off | size | field           | notes                   |
//! |-----|------|-----------------|-------------------------|
//! | 0   | 4    | `readers`       | i32, readers holding it |
//! | 4   | 4    | `writer_active` | i32, 1 while a writer holds or drains |

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::AtomicU32;

/// The RWLock state entry.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct RwLockState {
    /// 0: readers holding the lock (i32 bits).
    pub(crate) readers: AtomicU32,
    /// 4: 1 while a writer holds it or waits for readers to drain (i32 bits).
    pub(crate) writer_active: AtomicU32,
}

/// Size of the `_state` entry.
pub(crate) const RWLOCK_STATE_LEN: u64 = 8;
/// Suffixes in creation order; `""` is the marker.
pub(crate) const RWLOCK_SUFFIXES: [&str; 4] = ["_state", "_rmtx", "_wmtx", ""];
/// Size of a composite's marker entry.
pub(crate) const MARKER_LEN: u64 = 1;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<RwLockState>() == RWLOCK_STATE_LEN as usize);
    assert!(core::mem::offset_of!(RwLockState, writer_active) == 4);
};

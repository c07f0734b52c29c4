//! Once: one 4-byte `state` word. FORMAT.md §7.5.
//!
//! | off | size | field   | notes                                                        |
//! |-----|------|---------|--------------------------------------------------------------|
//! | 0   | 4    | `state` | PENDING 0, EXECUTING 1, DONE 2                               |
//! | 4   | 4    | (gap)   | zeroipc only: pid of the running initialiser, 0 = unknown    |
//!
//! The entry is 4 bytes (Go and Python require exactly 4). Every allocator rounds the next
//! structure's start up to a multiple of 8 (FORMAT.md §3.6, §4), so the 4 bytes after an
//! 8-aligned Once are never part of any structure: zeroipc keeps the initialiser's pid there,
//! when those bytes lie inside the mapping.

/// `call_once` has not started.
pub(crate) const PENDING: u32 = 0;
/// One caller is running the initialiser; the others wait.
pub(crate) const EXECUTING: u32 = 1;
/// The initialiser finished (or panicked: upstream stores DONE either way).
pub(crate) const DONE: u32 = 2;

/// Size of a Once entry.
pub(crate) const ONCE_LEN: u64 = 4;
/// Offset of the initialiser-pid word from the start of the Once.
pub(crate) const ONCE_PID_OFFSET: u64 = 4;

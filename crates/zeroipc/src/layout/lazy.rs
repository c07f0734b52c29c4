//! Lazy: the C++ `Lazy<T>` header, its operation codes, and the `Lazy<bool>` header.
//! FORMAT.md §6.2.
//!
//! The C struct `{u32 state; {u32 type; union {T constant; {T a, b}; T unary; {u32, u32};
//! u32 external_id;} data;} op; T cached; char err[256]; u32 count;}`, with
//! `A = max(4, align_of T)` and `U = align_up(max(2 size_of T, 8), A)`:
//!
//! | field            | offset                                   | T = 4 bytes | T = 8 bytes |
//! |------------------|------------------------------------------|-------------|-------------|
//! | `state` u32      | 0                                        | 0           | 0           |
//! | `op.type` u32    | `align_up(4, A)`                         | 4           | 8           |
//! | `op.data`        | `op + align_up(4, A)` (`a`; `b` at + es) | 8           | 16          |
//! | `cached_value`   | `align_up(data + U, align_of T)`         | 16          | 32          |
//! | `error_msg`[256] | `cached + es`                            | 20          | 40          |
//! | owner (zeroipc)  | `align_down(error_msg + 248, 8)`: the last 8-aligned 8 bytes inside `error_msg`, after any message zeroipc writes (≤ 240 bytes) | 264 | 288 |
//! | `compute_count`  | `align_up(error_msg + 256, 4)`           | 276         | 296         |
//! | total            | `align_up(count + 4, A)`                 | 280         | 304         |
//!
//! Python's `Lazy` is another format: `{u32 state; T value @4; char err[256]}`, `260 + es`
//! bytes (always smaller than the C++ size for the same T, so the sizes never collide).

#[cfg(not(loom))]
use zerocopy::{FromBytes, IntoBytes, KnownLayout};

use crate::loom::{AtomicU8, AtomicU32};

/// Not computed yet.
pub(crate) const NOT_COMPUTED: u32 = 0;
/// One process is computing it.
pub(crate) const COMPUTING: u32 = 1;
/// `cached_value` holds the result.
pub(crate) const COMPUTED: u32 = 2;
/// `error_msg` holds why the computation failed (permanent, as in C++).
pub(crate) const ERROR: u32 = 3;

/// `op.type`: the value is `data.constant`.
pub(crate) const OP_CONSTANT: u32 = 0;
/// `op.type`: `a + b`.
pub(crate) const OP_ADD: u32 = 1;
/// `op.type`: `a * b`.
pub(crate) const OP_MULTIPLY: u32 = 2;
/// `op.type`: `-unary`.
pub(crate) const OP_NEGATE: u32 = 3;
/// `op.type`: a chain of two lazies by index (always fails in C++).
pub(crate) const OP_CHAIN: u32 = 4;
/// `op.type`: computed by a function outside shared memory (C++ fails; zeroipc runs the
/// forcing process's closure).
pub(crate) const OP_EXTERNAL: u32 = 5;

/// Bytes of `error_msg`, NUL included.
pub(crate) const ERROR_MSG_LEN: u64 = 256;

/// Offsets of a C++ `Lazy<T>` for a `T` of `size` bytes and alignment `align`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LazyOffsets {
    /// `op.type`.
    pub(crate) op: u64,
    /// `op.data` (`constant`, `a`, `unary`).
    pub(crate) a: u64,
    /// `op.data.b`.
    pub(crate) b: u64,
    /// `cached_value`.
    pub(crate) cached: u64,
    /// `error_msg`.
    pub(crate) error: u64,
    /// zeroipc's owner word: the last 8-aligned 8 bytes inside `error_msg`.
    pub(crate) owner: u64,
    /// `compute_count`.
    pub(crate) count: u64,
    /// The struct size (the entry size).
    pub(crate) size: u64,
}

const fn up(n: u64, a: u64) -> u64 {
    (n + a - 1) & !(a - 1)
}

/// The C++ layout for `(size, align)`; `None` for sizes that overflow or alignments that
/// are not powers of two.
#[must_use]
pub(crate) const fn lazy_offsets(size: u64, align: u64) -> Option<LazyOffsets> {
    if !align.is_power_of_two() || size > (1 << 40) {
        return None;
    }
    let big = if align > 4 { align } else { 4 };
    let op = up(4, big);
    let a = op + up(4, big);
    let two = if 2 * size > 8 { 2 * size } else { 8 };
    let union = up(two, big);
    let cached = up(a + union, align);
    let error = cached + size;
    let count = up(error + ERROR_MSG_LEN, 4);
    Some(LazyOffsets {
        op,
        a,
        b: a + size,
        cached,
        error,
        owner: (error + ERROR_MSG_LEN - 8) & !7,
        count,
        size: up(count + 4, big),
    })
}

/// The Python `Lazy` entry size, `260 + es`.
#[must_use]
pub(crate) const fn python_lazy_size(es: u64) -> Option<u64> {
    (4 + ERROR_MSG_LEN).checked_add(es)
}

/// `Lazy<bool>` (C++ specialisation, 16 bytes): `state` @0 (0, 1, 2), `op.type` @4
/// (CONSTANT 0, AND 1, OR 2, XOR 3, NOT 4), `op.data` @8 (`value`/`a` @8, `b` @9),
/// `cached_value` @12.
#[cfg_attr(not(loom), derive(FromBytes, IntoBytes, KnownLayout))]
#[derive(Debug)]
#[repr(C)]
pub(crate) struct LazyBoolHeader {
    /// 0: NOT_COMPUTED / COMPUTING / COMPUTED.
    pub(crate) state: AtomicU32,
    /// 4: operation code.
    pub(crate) op: AtomicU32,
    /// 8: `value` or `a`, `b` at 9 (1-byte C++ bools), then padding.
    pub(crate) data: [AtomicU8; 4],
    /// 12: `cached_value` (1-byte C++ bool), then padding.
    pub(crate) cached: [AtomicU8; 4],
}

/// Size of a `Lazy<bool>` entry.
pub(crate) const LAZY_BOOL_LEN: u64 = 16;
/// `Lazy<bool>` op codes after CONSTANT.
pub(crate) const BOOL_AND: u32 = 1;
/// `a | b`.
pub(crate) const BOOL_OR: u32 = 2;
/// `a ^ b`.
pub(crate) const BOOL_XOR: u32 = 3;
/// `!value`.
pub(crate) const BOOL_NOT: u32 = 4;

#[cfg(not(loom))]
#[allow(clippy::cast_possible_truncation)]
const _: () = {
    assert!(core::mem::size_of::<LazyBoolHeader>() == LAZY_BOOL_LEN as usize);
    assert!(core::mem::offset_of!(LazyBoolHeader, cached) == 12);
    // FORMAT.md §6.2 table and the golden manifest.
    let Some(i) = lazy_offsets(4, 4) else {
        panic!()
    };
    assert!(i.op == 4 && i.a == 8 && i.b == 12 && i.cached == 16 && i.error == 20);
    assert!(i.count == 276 && i.size == 280 && i.owner == 264);
    let Some(f) = lazy_offsets(8, 8) else {
        panic!()
    };
    assert!(f.op == 8 && f.a == 16 && f.b == 24 && f.cached == 32 && f.error == 40);
    assert!(f.count == 296 && f.size == 304 && f.owner == 288);
    let Some(c) = lazy_offsets(1, 1) else {
        panic!()
    };
    assert!(c.cached == 16 && c.error == 17 && c.count == 276 && c.size == 280);
    assert!(c.owner == 264 && c.owner + 8 <= c.error + ERROR_MSG_LEN);
    // Every layout: the word lies in `error_msg`, after the longest message zeroipc writes.
    assert!(c.owner - c.error > 240 && i.owner - i.error > 240 && f.owner - f.error > 240);
};

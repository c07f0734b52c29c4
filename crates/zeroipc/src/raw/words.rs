//! Copying plain-old-data values in and out of shared memory word by word, with Relaxed
//! atomic loads and stores: the only way element bytes in a segment are read or written.
//!
//! Two entry points over the same idea:
//! - [`load`] / [`store`] over a `&[W]` view of atomic words, built by `segment::region`
//!   (Array elements, Map/Set/Pool values, inspection);
//! - [`load_from`] / [`store_to`] over a pointer to a `T` (the element slots of Queue, Stack,
//!   Ring, Stream, Channel and the rendezvous slot, via `raw::cell::Slot`). This is the one
//!   audited routine that turns a slot address into atomic word accesses.
//!
//! Concurrent readers and writers may see a value torn at word boundaries, but never cause a
//! data race: where a protocol grants exclusive access, its Release/Acquire on a sequence,
//! state or position word is what makes the value whole. On x86-64 and AArch64 a Relaxed
//! load or store is a plain `mov`/`ldr`, so this costs the same as `memcpy` for word-sized
//! elements (a `u64` slot is one `mov`).
//!
//! The word is `min(align_of::<T>(), 8)` bytes, so every element starts on a word boundary
//! (structures are 8-aligned and elements are laid out at multiples of `size_of::<T>()`,
//! FORMAT.md §4); the pointer routines also use whole `u64`s between the first and last
//! 8-byte boundary of a less-aligned element.

use zerocopy::{FromBytes, IntoBytes};

use crate::loom::{AtomicU8, AtomicU16, AtomicU32, AtomicU64, Ordering::Relaxed};

/// An atomic machine word of `BYTES` bytes.
pub(crate) trait Word: Sync {
    /// Its size.
    const BYTES: usize;
    /// Loads it into `out` (exactly `BYTES` long).
    fn load_into(&self, out: &mut [u8]);
    /// Stores `src` (exactly `BYTES` long).
    fn store_from(&self, src: &[u8]);
}

macro_rules! word {
    ($atomic:ty, $int:ty) => {
        impl Word for $atomic {
            const BYTES: usize = core::mem::size_of::<$int>();
            #[inline(always)]
            fn load_into(&self, out: &mut [u8]) {
                // ORDERING: Relaxed — no protocol rides on element bytes (see module docs).
                out.copy_from_slice(&self.load(Relaxed).to_ne_bytes());
            }
            #[inline(always)]
            fn store_from(&self, src: &[u8]) {
                let mut b = [0u8; core::mem::size_of::<$int>()];
                b.copy_from_slice(src);
                // ORDERING: Relaxed — as above.
                self.store(<$int>::from_ne_bytes(b), Relaxed);
            }
        }
    };
}
word!(AtomicU8, u8);
word!(AtomicU16, u16);
word!(AtomicU32, u32);
word!(AtomicU64, u64);

/// Runs `$body` with the type alias `$w` bound to the atomic word type of `$t` (see
/// [`word_size`]).
#[cfg_attr(loom, allow(unused_macros))]
macro_rules! with_word {
    ($t:ty, |$w:ident| $body:expr) => {
        match $crate::raw::words::word_size::<$t>() {
            8 => {
                type $w = $crate::loom::AtomicU64;
                $body
            }
            4 => {
                type $w = $crate::loom::AtomicU32;
                $body
            }
            2 => {
                type $w = $crate::loom::AtomicU16;
                $body
            }
            _ => {
                type $w = $crate::loom::AtomicU8;
                $body
            }
        }
    };
}
#[cfg_attr(loom, allow(unused_imports))]
pub(crate) use with_word;

/// The word size used for `T`: `min(align_of::<T>(), 8)`.
pub(crate) const fn word_size<T>() -> usize {
    let a = core::mem::align_of::<T>();
    if a > 8 { 8 } else { a }
}

/// Reads a `T` from `words` (exactly `size_of::<T>() / W::BYTES` of them).
#[inline]
pub(crate) fn load<T: FromBytes + IntoBytes, W: Word>(words: &[W]) -> T {
    let mut v = T::new_zeroed();
    for (chunk, w) in v.as_mut_bytes().chunks_exact_mut(W::BYTES).zip(words) {
        w.load_into(chunk);
    }
    v
}

/// Writes `value` into `words` (exactly `size_of::<T>() / W::BYTES` of them).
#[inline]
pub(crate) fn store<T: IntoBytes + zerocopy::Immutable, W: Word>(words: &[W], value: &T) {
    for (chunk, w) in value.as_bytes().chunks_exact(W::BYTES).zip(words) {
        w.store_from(chunk);
    }
}

/// Copies one word of `W` bytes (1, 2, 4 or 8) from segment memory at `src` to the
/// process-local `dst`, with a Relaxed atomic load.
///
/// # Safety
///
/// `src` is valid for reads of `W` bytes, aligned to `W`, and only ever accessed through
/// atomics (segment memory: see [`load_from`]); `dst` is valid for writes of `W` bytes.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn word_out<const W: usize>(src: *const u8, dst: *mut u8) {
    use crate::loom::{AtomicU8, AtomicU16, AtomicU32, AtomicU64};
    // ORDERING (all four arms): Relaxed — element bytes carry no protocol; the structure's
    // own Release/Acquire on its sequence or position word orders them.
    match W {
        8 => {
            // SAFETY: the caller's contract: valid, 8-aligned, only accessed atomically.
            let v = unsafe { AtomicU64::from_ptr(src.cast::<u64>().cast_mut()) }.load(Relaxed);
            // SAFETY: `dst` is valid for 8 bytes of process-local memory (unaligned store).
            unsafe { dst.cast::<u64>().write_unaligned(v) };
        }
        4 => {
            // SAFETY: as above, 4 bytes, 4-aligned.
            let v = unsafe { AtomicU32::from_ptr(src.cast::<u32>().cast_mut()) }.load(Relaxed);
            // SAFETY: as above.
            unsafe { dst.cast::<u32>().write_unaligned(v) };
        }
        2 => {
            // SAFETY: as above, 2 bytes, 2-aligned.
            let v = unsafe { AtomicU16::from_ptr(src.cast::<u16>().cast_mut()) }.load(Relaxed);
            // SAFETY: as above.
            unsafe { dst.cast::<u16>().write_unaligned(v) };
        }
        _ => {
            // SAFETY: as above, 1 byte.
            let v = unsafe { AtomicU8::from_ptr(src.cast_mut()) }.load(Relaxed);
            // SAFETY: as above.
            unsafe { dst.write(v) };
        }
    }
}

/// Copies one word of `W` bytes from the process-local `src` into segment memory at `dst`,
/// with a Relaxed atomic store.
///
/// # Safety
///
/// `dst` is valid for writes of `W` bytes, aligned to `W`, and only ever accessed through
/// atomics; `src` is valid for reads of `W` bytes.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn word_in<const W: usize>(src: *const u8, dst: *mut u8) {
    use crate::loom::{AtomicU8, AtomicU16, AtomicU32, AtomicU64};
    // ORDERING (all four arms): Relaxed — as in `word_out`.
    match W {
        8 => {
            // SAFETY: `src` is valid for 8 bytes of process-local memory (unaligned load).
            let v = unsafe { src.cast::<u64>().read_unaligned() };
            // SAFETY: the caller's contract: valid, 8-aligned, only accessed atomically.
            unsafe { AtomicU64::from_ptr(dst.cast::<u64>()) }.store(v, Relaxed);
        }
        4 => {
            // SAFETY: as above.
            let v = unsafe { src.cast::<u32>().read_unaligned() };
            // SAFETY: as above, 4 bytes, 4-aligned.
            unsafe { AtomicU32::from_ptr(dst.cast::<u32>()) }.store(v, Relaxed);
        }
        2 => {
            // SAFETY: as above.
            let v = unsafe { src.cast::<u16>().read_unaligned() };
            // SAFETY: as above, 2 bytes, 2-aligned.
            unsafe { AtomicU16::from_ptr(dst.cast::<u16>()) }.store(v, Relaxed);
        }
        _ => {
            // SAFETY: as above.
            let v = unsafe { src.read() };
            // SAFETY: as above, 1 byte.
            unsafe { AtomicU8::from_ptr(dst) }.store(v, Relaxed);
        }
    }
}

/// One word of `w` bytes (1, 2, 4 or 8; a constant after inlining) between segment memory
/// at `seg` and process-local memory at `local`; `OUT` picks the direction.
///
/// # Safety
///
/// As [`word_out`] (`OUT`) or [`word_in`] (`!OUT`) with `W = w`.
#[cfg(not(loom))]
#[inline(always)]
unsafe fn word<const OUT: bool>(seg: *mut u8, local: *mut u8, w: usize) {
    match (w, OUT) {
        // SAFETY: the caller's contract, with `W = 8`.
        (8, true) => unsafe { word_out::<8>(seg, local) },
        // SAFETY: as above.
        (8, false) => unsafe { word_in::<8>(local, seg) },
        // SAFETY: the caller's contract, with `W = 4`.
        (4, true) => unsafe { word_out::<4>(seg, local) },
        // SAFETY: as above.
        (4, false) => unsafe { word_in::<4>(local, seg) },
        // SAFETY: the caller's contract, with `W = 2`.
        (2, true) => unsafe { word_out::<2>(seg, local) },
        // SAFETY: as above.
        (2, false) => unsafe { word_in::<2>(local, seg) },
        // SAFETY: the caller's contract, with `W = 1`.
        (_, true) => unsafe { word_out::<1>(seg, local) },
        // SAFETY: as above.
        (_, false) => unsafe { word_in::<1>(local, seg) },
    }
}

/// Copies `len` bytes between segment memory (`seg`, `w`-aligned, `len` a multiple of `w`)
/// and process-local memory (`local`): `w`-byte words up to the first 8-byte boundary of
/// `seg`, then whole `u64` words, then `w`-byte words for the tail. `OUT` picks the
/// direction (`true`: segment -> local). With `w == 8` (every `T` aligned to 8) only the
/// middle loop remains, unrolled for a constant `len`.
///
/// # Safety
///
/// For every word of the range, as [`word_out`] / [`word_in`].
#[cfg(not(loom))]
#[inline(always)]
unsafe fn copy_words<const OUT: bool>(seg: *mut u8, local: *mut u8, len: usize, w: usize) {
    let step = |i: usize, w: usize| {
        // SAFETY: `i + w <= len` at every call below, `seg + i` is `w`-aligned (it starts
        // `w`-aligned, advances by `w` until 8-aligned, then by 8), and the caller's contract
        // covers the whole range.
        unsafe { word::<OUT>(seg.wrapping_add(i), local.wrapping_add(i), w) };
    };
    let mut i = 0;
    if w < 8 {
        while i < len && (seg.addr() + i) % 8 != 0 {
            step(i, w);
            i += w;
        }
    }
    while i + 8 <= len {
        step(i, 8);
        i += 8;
    }
    while i < len {
        step(i, w);
        i += w;
    }
}

/// THE audited copy out of segment memory: reads a `T` from `src` with Relaxed atomic
/// word loads (whole `u64`s where the address allows, `min(align_of::<T>(), 8)`-byte words
/// at the edges), never a plain load. Every element slot of Queue, Stack, Ring, Stream,
/// Channel and the rendezvous slot is read through here.
///
/// A peer writing the same bytes concurrently (a protocol violation, or a hostile process)
/// can make the result a mix of old and new words; it cannot make it undefined behaviour,
/// and any bytes are a valid `T` (`FromBytes`). The protocol's own Release/Acquire on the
/// slot's sequence or position word is what makes a correctly published value whole.
///
/// # Safety
///
/// `src` is valid for reads of `size_of::<T>()` bytes and aligned for `T` for the duration
/// of the call, and every access to those bytes, in this process, is atomic (segment
/// memory is only ever touched through atomics and these routines).
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn load_from<T: FromBytes>(src: *const T) -> T {
    let mut out = core::mem::MaybeUninit::<T>::uninit();
    let len = core::mem::size_of::<T>();
    let seg = src.cast::<u8>().cast_mut();
    let local = out.as_mut_ptr().cast::<u8>();
    // SAFETY: the caller's contract covers `seg`; `local` is our own `len`-byte buffer. `seg`
    // is aligned to `align_of::<T>()`, a multiple of `word_size::<T>()`, and `len` is a
    // multiple of the alignment; `copy_words` only reads through `seg`.
    unsafe { copy_words::<true>(seg, local, len, word_size::<T>()) };
    // SAFETY: every byte of `out` was written above (the words tile `0..len`), and any
    // bytes are a valid `T` (`FromBytes`).
    unsafe { out.assume_init() }
}

/// THE audited copy into segment memory: writes `value` to `dst` with Relaxed atomic word
/// stores, the counterpart of [`load_from`]. The caller publishes it afterwards with the
/// protocol's Release store.
///
/// # Safety
///
/// `dst` is valid for writes of `size_of::<T>()` bytes and aligned for `T` for the
/// duration of the call, and every access to those bytes, in this process, is atomic.
#[cfg(not(loom))]
#[inline(always)]
pub(crate) unsafe fn store_to<T: IntoBytes + zerocopy::Immutable>(dst: *mut T, value: &T) {
    let len = core::mem::size_of::<T>();
    let seg = dst.cast::<u8>();
    let local = value.as_bytes().as_ptr().cast_mut();
    // SAFETY: as in `load_from`; with `OUT = false`, `copy_words` only reads through
    // `local` (cast to `*mut` for the shared signature, never written).
    unsafe { copy_words::<false>(seg, local, len, word_size::<T>()) };
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_each_word_size() {
        let w64: Vec<AtomicU64> = (0..2).map(|_| AtomicU64::new(0)).collect();
        store::<[u64; 2], _>(&w64, &[7, u64::MAX]);
        assert_eq!(load::<[u64; 2], _>(&w64), [7, u64::MAX]);

        let w16: Vec<AtomicU16> = (0..3).map(|_| AtomicU16::new(0)).collect();
        store::<[u16; 3], _>(&w16, &[1, 2, 65535]);
        assert_eq!(load::<[u16; 3], _>(&w16), [1, 2, 65535]);

        let w8: Vec<AtomicU8> = (0..3).map(|_| AtomicU8::new(0)).collect();
        store::<[u8; 3], _>(&w8, &[9, 8, 7]);
        assert_eq!(load::<[u8; 3], _>(&w8), [9, 8, 7]);
        assert_eq!(word_size::<u64>(), 8);
        assert_eq!(word_size::<[u8; 5]>(), 1);
    }

    /// `load_from`/`store_to` at every start offset an element of each alignment can have
    /// (head words, whole `u64`s, tail words), against a plain byte model.
    #[test]
    fn pointer_copies_round_trip_at_every_offset() {
        fn check<T: FromBytes + IntoBytes + zerocopy::Immutable + PartialEq + core::fmt::Debug>(
            value: T,
        ) {
            let size = core::mem::size_of::<T>();
            let align = core::mem::align_of::<T>();
            for off in (0..16).step_by(align) {
                // A heap buffer of atomics: every access to it is atomic, as in a segment.
                let buf: Vec<AtomicU64> = (0..8).map(|_| AtomicU64::new(u64::MAX)).collect();
                let base = buf.as_ptr().cast::<u8>().cast_mut();
                // SAFETY: `off + size <= 64`, the buffer's length; `off` is a multiple of
                // `align` and the buffer is 8-aligned.
                let p = unsafe { base.add(off) }.cast::<T>();
                // SAFETY: as above; `buf` is only accessed atomically.
                unsafe { store_to(p, &value) };
                // SAFETY: as above.
                assert_eq!(unsafe { load_from(p.cast_const()) }, value, "offset {off}");
                let mut bytes = [0u8; 64];
                let words: Vec<u64> = buf.iter().map(|w| w.load(Relaxed)).collect();
                bytes.copy_from_slice(words.as_bytes());
                assert!(
                    bytes[..off].iter().all(|&b| b == 0xff),
                    "before, offset {off}"
                );
                assert_eq!(&bytes[off..off + size], value.as_bytes(), "offset {off}");
                assert!(
                    bytes[off + size..].iter().all(|&b| b == 0xff),
                    "after, offset {off}"
                );
            }
        }
        check(0x0123_4567_89ab_cdef_u64);
        check([1u64, 2, 3]);
        check(0xabcd_u16);
        check([7u32, 8, 9]);
        check([1u16, 2, 3, 4, 5, 6, 7, 8, 9]);
        check(*b"hello, world! 0123456789");
        check([5u8]);
    }
}

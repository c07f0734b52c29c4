//! Copying plain-old-data values in and out of shared memory word by word, with Relaxed
//! atomic loads and stores.
//!
//! Used where no protocol grants exclusive access to the bytes (Array elements, inspection):
//! concurrent readers and writers may see a value torn at word boundaries, but never cause a
//! data race. On x86-64 and AArch64 a Relaxed load or store is a plain `mov`/`ldr`, so this
//! costs the same as `memcpy` for word-sized elements.
//!
//! The word is `min(align_of::<T>(), 8)` bytes, so every element starts on a word boundary
//! (structures are 8-aligned and elements are laid out at multiples of `size_of::<T>()`).

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
}

//! The C++ implementation's key hash, `detail::trivial_hash` (FORMAT.md §9.1).
//!
//! * Integral keys: the value sign-extended (signed types) or zero-extended (unsigned) to
//!   64 bits, times `2654435761` (`0x9E3779B1`), modulo 2^64: [`int_hash`].
//! * Every other key (floats, structs, arrays): libstdc++'s `std::_Hash_bytes(ptr, len,
//!   0xc70f6907)` over the key's bytes, which is what `std::hash<std::string_view>` is with
//!   GNU libstdc++ on 64-bit Linux (a MurmurHash64A variant): [`hash_bytes`]. LLVM libc++
//!   hashes differently (FORMAT.md D-10); zeroipc follows libstdc++.
//!
//! # Synchronization
//!
//! None: pure functions over a copy of the key.
//!
//! # Process death
//!
//! Nothing shared, nothing to recover.

/// The multiplier of the integral hash, `0x9E3779B1`.
pub(crate) const INT_MULTIPLIER: u64 = 2_654_435_761;
/// The seed libstdc++ passes for `std::hash` of byte strings.
pub(crate) const BYTES_SEED: u64 = 0xC70F_6907;
const M: u64 = 0xC6A4_A793_5BD1_E995;

/// `value * 2654435761 mod 2^64`; `value` is the key already extended to 64 bits.
#[inline]
#[must_use]
pub(crate) const fn int_hash(value: u64) -> u64 {
    value.wrapping_mul(INT_MULTIPLIER)
}

#[inline]
const fn shift_mix(v: u64) -> u64 {
    v ^ (v >> 47)
}

/// libstdc++ `std::_Hash_bytes(bytes, len, 0xc70f6907)` for 64-bit `size_t`.
#[must_use]
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    let mut h = BYTES_SEED ^ (bytes.len() as u64).wrapping_mul(M);
    let mut blocks = bytes.chunks_exact(8);
    for block in &mut blocks {
        let mut d = [0u8; 8];
        d.copy_from_slice(block);
        let d = shift_mix(u64::from_le_bytes(d).wrapping_mul(M)).wrapping_mul(M);
        h = (h ^ d).wrapping_mul(M);
    }
    let rest = blocks.remainder();
    if !rest.is_empty() {
        // libstdc++ `load_bytes`: the last byte is the most significant.
        let t = rest
            .iter()
            .rev()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        h = (h ^ t).wrapping_mul(M);
    }
    shift_mix(shift_mix(h).wrapping_mul(M))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_vectors() {
        // FORMAT.md §9.1 (the full list from manifest.json is in tests/map.rs).
        assert_eq!(hash_bytes(b""), 0x553E_9390_1E46_2A6E);
        assert_eq!(hash_bytes(b"abc"), 0x32D8_2BF8_ED3D_BA39);
        assert_eq!(hash_bytes(&1.0f64.to_le_bytes()), 0x7461_A450_4ECE_7B9B);
        assert_eq!(hash_bytes(&0.0f64.to_le_bytes()), 0xF457_BD22_CAC0_2869);
        assert_eq!(hash_bytes(&(-0.0f64).to_le_bytes()), 0x17B2_7C0B_5193_0E62);
        assert_eq!(hash_bytes(&1.0f32.to_le_bytes()), 0x53E5_6509_14F5_2F4D);
        #[allow(clippy::cast_sign_loss)]
        let minus_one = i64::from(-1i32) as u64;
        assert_eq!(int_hash(42), 0x0000_0019_F519_F70A);
        assert_eq!(int_hash(minus_one), 0xFFFF_FFFF_61C8_864F);
    }
}

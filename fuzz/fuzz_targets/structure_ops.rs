//! Every structure opened from corrupted header and slot bytes, then used.
//!
//! A valid segment with one of every structure ([`structures::image`]) is restored into the
//! process's shm object, the input's writes are applied on top (through the descriptor, as a
//! peer would), and the input's operation codes run against the structures through one
//! long-lived mapping. Every open must give a handle or a typed error; every operation a
//! value or a typed error, quickly (short stall bounds, zero timeouts): no panic, no crash,
//! no hang, no access outside the mapping (ASan).
//!
//! Input: `[n, writes…, ops…]`. `n % 8` writes, each `[entry, off lo, off hi, len, bytes…]`:
//! `entry` picks an entry of the image (or, past the last one, the segment header and table),
//! the offset is taken modulo that entry's size, `len % 8 + 1` bytes. Each remaining byte is
//! an operation code ([`structures::op`], at most [`MAX_OPS`]); with none, every operation
//! runs once.
#![no_main]

mod common;
mod structures;

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use zeroipc::Segment;

/// Operations per execution at most (the rest of a longer input is ignored).
const MAX_OPS: usize = 16;

/// `(offset, size)` of each entry of the image, and the table's extent as the last one.
fn regions() -> &'static [(u64, u64)] {
    static R: OnceLock<Vec<(u64, u64)>> = OnceLock::new();
    R.get_or_init(|| {
        let scratch = common::Scratch::get();
        scratch.write(structures::image());
        let seg = Segment::open(scratch.name()).expect("the image opens");
        let mut r: Vec<(u64, u64)> = seg
            .entries()
            .expect("the image's table is valid")
            .iter()
            .map(|e| (e.offset(), e.size()))
            .collect();
        r.push((0, 32 + 48 * u64::from(structures::MAX_ENTRIES)));
        r
    })
}

/// The one mapping every execution uses (opening per execution would measure mmap).
fn segment() -> &'static Segment {
    static S: OnceLock<Segment> = OnceLock::new();
    S.get_or_init(|| {
        let _ = regions();
        Segment::open(common::Scratch::get().name()).expect("the image opens")
    })
}

fuzz_target!(|data: &[u8]| {
    let regions = regions();
    let seg = segment();
    let scratch = common::Scratch::get();
    scratch.write_at(0, structures::image(), structures::SIZE);
    let Some((&n, mut rest)) = data.split_first() else {
        return;
    };
    for _ in 0..n % 8 {
        let [which, lo, hi, len, tail @ ..] = rest else {
            break;
        };
        let (base, size) = regions[usize::from(*which) % regions.len()];
        let at = base + u64::from(u16::from_le_bytes([*lo, *hi])) % size.max(1);
        let k = (usize::from(*len) % 8 + 1).min(tail.len());
        scratch.write_at(at, &tail[..k], structures::SIZE);
        rest = &tail[k..];
    }
    if rest.is_empty() {
        for code in 0..32u8 {
            structures::op(seg, code, 0);
        }
    } else {
        for (i, &code) in rest.iter().take(MAX_OPS).enumerate() {
            structures::op(seg, code, i);
        }
    }
});

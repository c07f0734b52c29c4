//! A second thread keeps writing fuzz-chosen bytes into a valid segment holding one of every
//! structure (through the object's descriptor, as another process would) while this thread
//! opens the segment, opens structures and runs operations on them, and reads the table and
//! arrays the way an inspector does. Nothing may crash, panic or hang; every answer is a
//! value or a typed error.
//!
//! Input: `[control, n, ops… (n % 16), writes…]`. Each write is `[offset lo, offset hi, len,
//! bytes…]` (offset modulo the image size, `len % 16 + 1` bytes, at most 64 writes).
//! `control % 16 + 1` says after how many writes the valid image is restored.
#![no_main]

mod common;
mod structures;

use std::sync::atomic::{AtomicBool, Ordering};

use libfuzzer_sys::fuzz_target;
use zeroipc::Segment;

/// Reader rounds per execution (each opens the segment afresh).
const ROUNDS: usize = 2;

fn parse(mut data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut writes = Vec::new();
    while let [lo, hi, len, rest @ ..] = data {
        let at = u64::from(u16::from_le_bytes([*lo, *hi])) % structures::SIZE;
        let n = (usize::from(*len) % 16 + 1).min(rest.len());
        writes.push((at, rest[..n].to_vec()));
        data = &rest[n..];
        if writes.len() == 64 {
            break;
        }
    }
    writes
}

fuzz_target!(|data: &[u8]| {
    let [control, n, rest @ ..] = data else {
        return;
    };
    let k = (usize::from(*n) % 16).min(rest.len());
    let (ops, rest) = rest.split_at(k);
    let writes = parse(rest);
    if writes.is_empty() {
        return;
    }
    let restore_every = usize::from(control % 16) + 1;
    let image = structures::image();
    let scratch = common::Scratch::get();
    scratch.write(image);
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0usize;
            // At least one full pass, then until the reader is done.
            loop {
                for (at, bytes) in &writes {
                    scratch.write_at(*at, bytes, structures::SIZE);
                    n += 1;
                    if n.is_multiple_of(restore_every) {
                        scratch.write_at(0, image, structures::SIZE);
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        });
        for round in 0..ROUNDS {
            if let Ok(seg) = Segment::open(scratch.name()) {
                for (i, &code) in ops.iter().enumerate() {
                    structures::op(&seg, code, i + round);
                }
                common::read_only(&seg);
            }
            if let Ok(ro) = Segment::open_read_only(scratch.name()) {
                structures::inspect_one(&ro, round);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
});

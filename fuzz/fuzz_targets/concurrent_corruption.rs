//! A second thread keeps writing fuzz-chosen bytes into a valid segment (through the
//! object's descriptor, as another process would) while this thread opens it, looks entries
//! up and reads arrays. Nothing may crash, panic or hang; every answer is a value or a typed
//! error.
//!
//! Input: a list of writes, each `[offset lo, offset hi, len, bytes...]` (offset modulo the
//! image size, len modulo 16). Byte 0 chooses how often the valid image is restored.
#![no_main]

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{IMAGE_SIZE, valid_image};
use libfuzzer_sys::fuzz_target;
use zeroipc::Segment;

/// Reader rounds per execution.
const ROUNDS: usize = 4;

fn parse(mut data: &[u8]) -> Vec<(u64, Vec<u8>)> {
    let mut writes = Vec::new();
    while let [lo, hi, len, rest @ ..] = data {
        let at = u64::from(u16::from_le_bytes([*lo, *hi])) % IMAGE_SIZE;
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
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let writes = parse(rest);
    if writes.is_empty() {
        return;
    }
    let restore_every = usize::from(control % 16) + 1;
    let scratch = common::Scratch::get();
    scratch.write(valid_image());
    let Ok(seg) = Segment::open(scratch.name()) else {
        panic!("the valid image does not open");
    };
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0usize;
            // At least one full pass, then until the reader is done.
            loop {
                for (at, bytes) in &writes {
                    scratch.write_at(*at, bytes, IMAGE_SIZE);
                    n += 1;
                    if n.is_multiple_of(restore_every) {
                        scratch.write_at(0, valid_image(), IMAGE_SIZE);
                    }
                }
                if stop.load(Ordering::Relaxed) {
                    break;
                }
            }
        });
        for _ in 0..ROUNDS {
            common::read_write(&seg);
            if let Ok(peer) = Segment::open(scratch.name()) {
                common::read_write(&peer);
            }
            if let Ok(ro) = Segment::open_read_only(scratch.name()) {
                common::read_only(&ro);
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
});

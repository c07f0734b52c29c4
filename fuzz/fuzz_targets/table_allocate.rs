//! A valid segment whose table header and entries are overwritten with fuzz bytes, then
//! allocations: every allocation either fails with a typed error or lands inside
//! `[table_size, bound]` and reads back what was written.
//!
//! Input: byte 0 is a control byte (bit 0: keep the magic and version valid so the fuzzer
//! reaches the interesting checks at once; bit 1: keep `memory_size` valid); the next
//! `TABLE` bytes (or fewer) overwrite the table; the rest are allocation requests of 3 bytes
//! each (element width selector, capacity).
#![no_main]

mod common;

use common::{TABLE, valid_image};
use libfuzzer_sys::fuzz_target;
use zeroipc::Segment;
use zeroipc::structures::Array;

fuzz_target!(|data: &[u8]| {
    let Some((&control, rest)) = data.split_first() else {
        return;
    };
    let table = usize::try_from(TABLE).unwrap();
    let (table_bytes, requests) = rest.split_at(rest.len().min(table));
    let mut image = valid_image().to_vec();
    image[..table_bytes.len()].copy_from_slice(table_bytes);
    let valid = valid_image();
    if control & 1 != 0 {
        image[..8].copy_from_slice(&valid[..8]);
    }
    if control & 2 != 0 {
        image[16..24].copy_from_slice(&valid[16..24]);
    }
    let scratch = common::Scratch::get();
    scratch.write(&image);
    let Ok(seg) = Segment::open(scratch.name()) else {
        return;
    };
    for (i, req) in requests.chunks_exact(3).take(16).enumerate() {
        let name = format!("f{i}");
        let cap = usize::from(u16::from_le_bytes([req[1], req[2]]));
        let before = seg.header().map(|h| (h.entry_count, h.next_offset));
        let table_size = seg.header().map(|h| h.table_size).unwrap_or(TABLE);
        let created = match req[0] % 3 {
            0 => Array::<u8>::create(&seg, &name, cap).map(|a| {
                a.fill(0xA5);
                assert!(a.to_vec().iter().all(|&v| v == 0xA5));
                a.entry().clone()
            }),
            1 => Array::<u32>::create(&seg, &name, cap).map(|a| {
                a.fill(0xDEAD_BEEF);
                assert!(a.to_vec().iter().all(|&v| v == 0xDEAD_BEEF));
                a.entry().clone()
            }),
            _ => Array::<u64>::create(&seg, &name, cap).map(|a| {
                a.fill(u64::MAX);
                assert!(a.to_vec().iter().all(|&v| v == u64::MAX));
                a.entry().clone()
            }),
        };
        match created {
            Ok(entry) => {
                assert!(entry.offset() >= table_size, "allocated inside the table");
                assert!(entry.offset() % 8 == 0, "misaligned allocation");
                assert!(
                    entry.offset() + entry.size() <= seg.bound(),
                    "allocated past the bound"
                );
                // Published: it can be found (the first entry of that name wins, and a
                // damaged table may hold an older "fN").
                let found = seg.find(&name).expect("a new entry can be looked up");
                assert_eq!(found.name(), &*name);
            }
            Err(e) => {
                let _ = e.to_string();
                // A failed allocation publishes nothing.
                let after = seg.header().map(|h| (h.entry_count, h.next_offset));
                if let (Ok(b), Ok(a)) = (before, after) {
                    assert_eq!(b, a, "a failed allocation changed the table");
                }
            }
        }
    }
    common::read_write(&seg);
});

//! Arbitrary bytes as a shm object: `Segment::open` and `open_read_only` must answer with a
//! value or a typed error, and everything a reader can do with an opened segment (entries,
//! look-ups, Arrays of three element widths, classification) must stay inside the mapping
//! and never panic.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use zeroipc::Segment;

fuzz_target!(|data: &[u8]| {
    let scratch = common::Scratch::get();
    scratch.write(data);
    match Segment::open(scratch.name()) {
        Ok(seg) => common::read_write(&seg),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    match Segment::open_read_only(scratch.name()) {
        Ok(ro) => common::read_only(&ro),
        Err(e) => {
            let _ = e.to_string();
        }
    }
});

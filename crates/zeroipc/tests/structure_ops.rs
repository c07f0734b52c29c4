//! The stable twin of the `structure_ops` fuzz target (issue #7): a segment holding one of
//! every structure, corrupted by random writes aimed at each entry's header and slots (or at
//! the table), then every structure opened and used with `try_` forms, zero timeouts and
//! short stall bounds. Whatever the bytes, each open and each operation returns a value or a
//! typed error: no panic, no hang (nextest's timeout), no access outside the mapping (every
//! access goes through the checked region).
//!
//! The structures and operations are the fuzz target's own: `fuzz/fuzz_targets/structures.rs`
//! is included here with `#[path]`.
//!
//! The last test is the stable twin of `concurrent_corruption`: the same operations while a
//! second thread keeps writing into the segment, as a hostile peer would.

mod common;

#[path = "../../../fuzz/fuzz_targets/structures.rs"]
mod structures;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{ShmName, poke};
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use zeroipc::Segment;

/// `(offset, size)` of every entry of the image, and the table as the last region.
fn regions(seg: &Segment) -> Vec<(u64, u64)> {
    let mut r: Vec<(u64, u64)> = seg
        .entries()
        .unwrap()
        .iter()
        .map(|e| (e.offset(), e.size()))
        .collect();
    r.push((0, 32 + 48 * u64::from(structures::MAX_ENTRIES)));
    r
}

#[test]
fn the_valid_image_supports_every_operation() {
    // Its own segment: the proptest below corrupts the shared one concurrently.
    let name = ShmName::new("structure_ops_valid");
    std::fs::write(name.path(), structures::image()).unwrap();
    let seg = &Segment::open(name.as_str()).unwrap();
    // Every structure opens in the valid image (the operations would otherwise test only
    // the error paths).
    let names = seg.entries().unwrap();
    for wanted in [
        structures::QUEUE,
        structures::STACK,
        structures::POOL,
        structures::MAP,
        structures::SET,
        structures::SEM,
        structures::MUTEX,
        structures::ONCE,
        structures::LATCH,
        structures::BARRIER,
        structures::FUTURE,
        structures::ARRAY,
    ] {
        assert!(
            names.iter().any(|e| e.name() == wanted),
            "{wanted} missing from the image"
        );
    }
    for code in 0..=u8::MAX {
        structures::op(seg, code, usize::from(code));
    }
}

#[test]
fn corrupted_structures_give_values_or_typed_errors() {
    let name = ShmName::new("structure_ops");
    std::fs::write(name.path(), structures::image()).unwrap();
    let seg = Segment::open(name.as_str()).unwrap();
    let regions = regions(&seg);
    let writes = prop::collection::vec(
        (
            any::<u8>(),
            any::<u16>(),
            prop::collection::vec(any::<u8>(), 1..=8),
        ),
        0..8,
    );
    let ops = prop::collection::vec(any::<u8>(), 1..=16);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    runner
        .run(&(writes, ops), |(writes, ops)| {
            poke(&name, 0, structures::image());
            for (which, off, bytes) in &writes {
                let (base, size) = regions[usize::from(*which) % regions.len()];
                let at = base + u64::from(*off) % size.max(1);
                let room = usize::try_from(structures::SIZE - at).unwrap_or(usize::MAX);
                poke(&name, at, &bytes[..bytes.len().min(room)]);
            }
            for (i, &code) in ops.iter().enumerate() {
                structures::op(&seg, code, i);
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn structures_scribbled_on_while_in_use_give_values_or_typed_errors() {
    let name = ShmName::new("structure_ops_concurrent");
    std::fs::write(name.path(), structures::image()).unwrap();
    let writes = prop::collection::vec(
        (
            0..structures::SIZE,
            prop::collection::vec(any::<u8>(), 1..=16),
        ),
        1..32,
    );
    let ops = prop::collection::vec(any::<u8>(), 1..=16);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 256,
        ..ProptestConfig::default()
    });
    runner
        .run(
            &(writes, ops, 1..16usize),
            |(writes, ops, restore_every)| {
                poke(&name, 0, structures::image());
                let stop = AtomicBool::new(false);
                std::thread::scope(|s| {
                    s.spawn(|| {
                        // At least one whole pass, then until the user is done.
                        let mut n = 0usize;
                        loop {
                            for (at, bytes) in &writes {
                                let room = usize::try_from(structures::SIZE - at).unwrap();
                                poke(&name, *at, &bytes[..bytes.len().min(room)]);
                                n += 1;
                                if n % restore_every == 0 {
                                    poke(&name, 0, structures::image());
                                }
                            }
                            // ORDERING: Relaxed — only ends the loop; the scope's join orders the rest.
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                        }
                    });
                    if let Ok(seg) = Segment::open(name.as_str()) {
                        for (i, &code) in ops.iter().enumerate() {
                            structures::op(&seg, code, i);
                        }
                        structures::inspect_one(&seg, ops.len());
                    }
                    // ORDERING: Relaxed — a request to stop; the scope joins the writer.
                    stop.store(true, Ordering::Relaxed);
                });
                Ok(())
            },
        )
        .unwrap();
}

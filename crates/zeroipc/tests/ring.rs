//! Ring<T>: golden images, byte-identical reproduction, units, validation of positions,
//! a producer process and a consumer process in order, and a corruption property test.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, image, load_golden, poke, spawn_child, wait_ok};
use proptest::prelude::*;
use serde_json::Value;
use zeroipc::structures::Ring;
use zeroipc::structures::ring::{ClaimError, PopTimeoutError, Side, TryPopError, TryPushError};
use zeroipc::{Corruption, Element, Segment, SegmentOptions, StructureError};

trait FromJson: Element + PartialEq + std::fmt::Debug {
    fn from_json(v: &Value) -> Self;
}
impl FromJson for i32 {
    fn from_json(v: &Value) -> Self {
        i32::try_from(v.as_i64().unwrap()).unwrap()
    }
}
impl FromJson for f64 {
    fn from_json(v: &Value) -> Self {
        v.as_f64().unwrap()
    }
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn check_golden_ring<T: FromJson>(seg: &Segment, s: &Value) {
    let name = s["name"].as_str().unwrap();
    let exp = &s["expected"];
    let lay = &s["layout"]["ring"];
    let ring: Ring<T> = Ring::open(seg, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        ring.entry().offset(),
        lay["write_pos(u64, bytes)"].as_u64().unwrap(),
        "{name}: offset"
    );
    assert_eq!(
        ring.capacity_bytes() as u64,
        exp["capacity_bytes"].as_u64().unwrap(),
        "{name}: capacity"
    );
    assert_eq!(
        ring.len().unwrap() as u64,
        exp["available"].as_u64().unwrap(),
        "{name}: len"
    );
    let hdr = seg.read_bytes(ring.entry().offset(), 24).unwrap();
    assert_eq!(
        u64_at(&hdr, 0),
        exp["write_pos"].as_u64().unwrap(),
        "{name}: write_pos"
    );
    assert_eq!(
        u64_at(&hdr, 8),
        exp["read_pos"].as_u64().unwrap(),
        "{name}: read_pos"
    );
    let mut rx = ring.consumer().unwrap();
    let order = exp["read_order"].as_array().unwrap();
    if let Some(first) = order.first() {
        assert_eq!(
            rx.peek().unwrap(),
            Some(T::from_json(first)),
            "{name}: peek"
        );
    }
    for (k, v) in order.iter().enumerate() {
        assert_eq!(rx.pop().unwrap(), T::from_json(v), "{name}: read #{k}");
    }
    assert_eq!(rx.try_pop(), Err(TryPopError::Empty), "{name}: drained");
}

fn check_golden_image(file: &str) -> usize {
    let shm = load_golden(file);
    let seg = Segment::open(shm.as_str()).unwrap();
    let mut n = 0;
    for s in image(file)["structures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "ring")
    {
        match s["types"]["elem"].as_str().unwrap() {
            "i32" => check_golden_ring::<i32>(&seg, s),
            "f64" => check_golden_ring::<f64>(&seg, s),
            other => panic!("{file}: ring of {other} not covered"),
        }
        n += 1;
    }
    n
}

#[test]
fn golden_cpp_rings_read_back_as_the_manifest_lists() {
    assert_eq!(check_golden_image("cpp_all.bin"), 2);
}

#[test]
fn golden_python_rings_read_back_as_the_manifest_lists() {
    assert_eq!(check_golden_image("python_all.bin"), 2);
}

#[test]
fn golden_stream_buffers_are_rings() {
    // C++ Stream keeps its data in a Ring under `<name>_buffer`; Python's Stream is a bare
    // Ring under `<name>` (FORMAT.md IH-17).
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    let mut rx = Ring::<i32>::open(&seg, "strm_buffer")
        .unwrap()
        .consumer()
        .unwrap();
    let mut buf = [0; 16];
    let n = rx.read(&mut buf).unwrap();
    assert_eq!(&buf[..n], &[4, 5, 6, 7, 8, 9, 10]);
    let shm = load_golden("python_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    let mut rx = Ring::<f64>::open(&seg, "strm_f64")
        .unwrap()
        .consumer()
        .unwrap();
    assert_eq!(
        (rx.pop().unwrap(), rx.pop().unwrap(), rx.try_pop()),
        (1.0, 2.0, Err(TryPopError::Empty))
    );
}

fn entry_bytes(seg: &Segment, name: &str) -> Vec<u8> {
    let e = seg.find(name).unwrap();
    seg.read_bytes(e.offset(), e.size()).unwrap()
}

fn golden_entry_bytes(file: &str, name: &str) -> Vec<u8> {
    let shm = load_golden(file);
    entry_bytes(&Segment::open(shm.as_str()).unwrap(), name)
}

fn fresh(test: &str) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

#[test]
fn zeroipc_reproduces_the_golden_rings_byte_for_byte() {
    let (_n, seg) = fresh("ring_bytes");
    // ring_i32: C++ asked for 64 bytes = our 16 elements; write 1..12, read x5, write 13..18.
    let ring: Ring<i32> = Ring::create(&seg, "ring_i32", 16).unwrap();
    let (mut tx, mut rx) = (ring.producer().unwrap(), ring.consumer().unwrap());
    assert_eq!(tx.write(&(1..=12).collect::<Vec<_>>()).unwrap(), 12);
    for v in 1..=5 {
        assert_eq!(rx.pop().unwrap(), v);
    }
    for v in 13..=18 {
        tx.push(v).unwrap();
    }
    // ring_f64: C++ asked for 50 bytes, rounded down to 48 = our 6 elements.
    let ring: Ring<f64> = Ring::create(&seg, "ring_f64", 6).unwrap();
    assert_eq!(ring.producer().unwrap().write(&[0.5, 1.5, 2.5]).unwrap(), 3);
    for file in ["cpp_all.bin", "python_all.bin"] {
        for name in ["ring_i32", "ring_f64"] {
            assert_eq!(
                entry_bytes(&seg, name),
                golden_entry_bytes(file, name),
                "{file}: {name}"
            );
        }
    }
}

#[test]
fn capacity_is_counted_in_elements_and_stored_in_bytes() {
    let (_n, seg) = fresh("ring_units");
    let ring: Ring<u64> = Ring::create(&seg, "r", 5).unwrap();
    assert_eq!(
        (ring.capacity(), ring.capacity_bytes(), ring.entry().size()),
        (5, 40, 64)
    );
    let mut tx = ring.producer().unwrap();
    assert_eq!(
        tx.write(&[1, 2, 3, 4, 5, 6, 7]).unwrap(),
        5,
        "partial bulk write, as C++"
    );
    assert_eq!(tx.try_push(8), Err(TryPushError::Full(8)));
    let mut rx = ring.consumer().unwrap();
    let mut buf = [0; 3];
    assert_eq!(rx.read(&mut buf).unwrap(), 3);
    assert_eq!(buf, [1, 2, 3]);
    assert_eq!(tx.write(&[6, 7, 8, 9]).unwrap(), 3);
    let mut all = [0; 8];
    assert_eq!(rx.read(&mut all).unwrap(), 5);
    assert_eq!(&all[..5], &[4, 5, 6, 7, 8]);
    assert!(matches!(
        Ring::<u64>::create(&seg, "z", 0),
        Err(StructureError::InvalidCapacity { .. })
    ));
    assert!(matches!(
        Ring::<u64>::create(&seg, "big", u32::MAX as usize),
        Err(StructureError::InvalidCapacity { .. })
    ));
}

#[test]
fn corrupt_positions_are_typed_errors_not_out_of_bounds_copies() {
    let (name, seg) = fresh("ring_positions");
    let ring: Ring<u32> = Ring::create(&seg, "r", 4).unwrap();
    let at = ring.entry().offset();
    let mut rx = ring.consumer().unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(1).unwrap();
    // write_pos far beyond read_pos + capacity.
    poke(&name, at, &1_000_000u64.to_le_bytes());
    assert!(matches!(
        rx.try_pop(),
        Err(TryPopError::Corrupt(Corruption::Field {
            field: "write_pos",
            found: 1_000_000,
            ..
        }))
    ));
    assert!(matches!(
        rx.pop_timeout(Duration::from_secs(5)),
        Err(PopTimeoutError::Corrupt(_))
    ));
    assert!(ring.len().is_err());
    assert!(matches!(
        Ring::<u32>::open(&seg, "r"),
        Err(StructureError::Corrupt(_))
    ));
    // Not a multiple of the element size.
    poke(&name, at, &6u64.to_le_bytes());
    assert!(rx.pop().is_err());
    // read_pos ahead of write_pos.
    poke(&name, at, &4u64.to_le_bytes());
    poke(&name, at + 8, &8u64.to_le_bytes());
    drop(rx);
    assert!(matches!(ring.consumer(), Err(ClaimError::Corrupt(_))));
    // The producer reads `read_pos` only when its cache says full: fill the ring first.
    for v in 2..=4 {
        tx.push(v).unwrap();
    }
    poke(&name, at + 8, &1000u64.to_le_bytes());
    assert!(matches!(tx.try_push(5), Err(TryPushError::Corrupt(5, _))));
    assert!(matches!(tx.push(5).map_err(|e| e.into_inner()), Err(5)));
    assert!(tx.write(&[5, 6]).is_err());
    // Repaired: back to normal.
    poke(&name, at + 8, &0u64.to_le_bytes());
    assert_eq!(ring.consumer().unwrap().pop().unwrap(), 1);
    // Bad geometry on open.
    assert!(matches!(
        Ring::<u64>::open(&seg, "r"),
        Err(StructureError::ElementSize {
            stored: 4,
            expected: 8,
            ..
        })
    ));
    for cap in [0u32, 6, 32] {
        poke(&name, at + 16, &cap.to_le_bytes());
        let err = Ring::<u32>::open(&seg, "r").unwrap_err();
        assert!(
            matches!(
                &err,
                StructureError::Corrupt(Corruption::Field {
                    field: "capacity",
                    ..
                })
            ),
            "{cap}: {err}"
        );
    }
}

const N: u64 = if cfg!(debug_assertions) {
    200_000
} else {
    2_000_000
};
const SPSC_TEST: &str = "a_producer_process_and_a_consumer_process_see_every_element_in_order";

#[test]
fn a_producer_process_and_a_consumer_process_see_every_element_in_order() {
    let deadline = Instant::now() + Duration::from_secs(240);
    if let Some(name) = child_role("producer") {
        let seg = Segment::open(&name).unwrap();
        let mut tx = Ring::<u64>::open(&seg, "r").unwrap().producer().unwrap();
        let mut next = 0u64;
        let mut batch = Vec::with_capacity(64);
        while next < N {
            batch.clear();
            // Mix single pushes and bulk writes of varying size.
            if next % 3 == 0 {
                if tx.try_push(next).is_ok() {
                    next += 1;
                }
            } else {
                batch.extend(next..(next + 1 + next % 61).min(N));
                next += tx.write(&batch).unwrap() as u64;
            }
            assert!(Instant::now() < deadline, "producer deadline");
            std::thread::yield_now();
        }
        return;
    }
    let name = ShmName::new("ring_spsc");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    let ring: Ring<u64> = Ring::create(&seg, "r", 1000).unwrap();
    let producer = spawn_child(SPSC_TEST, "producer", &name);
    let mut rx = ring.consumer().unwrap();
    let mut expect = 0u64;
    let mut buf = [0u64; 97];
    while expect < N {
        let n = if expect % 2 == 0 {
            rx.read(&mut buf).unwrap()
        } else {
            match rx.try_pop() {
                Ok(v) => {
                    buf[0] = v;
                    1
                }
                Err(TryPopError::Empty) => 0,
                Err(e) => panic!("{e}"),
            }
        };
        for v in &buf[..n] {
            assert_eq!(*v, expect);
            expect += 1;
        }
        if n == 0 {
            assert!(Instant::now() < deadline, "consumer deadline");
            std::thread::yield_now();
        }
    }
    wait_ok(producer, 240);
    assert_eq!(rx.try_pop(), Err(TryPopError::Empty));
    assert_eq!(ring.len().unwrap(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random header bytes: open is Ok or a typed error, and an Ok handle's operations
    /// return (no panic, no hang, no out-of-bounds copy).
    #[test]
    fn corrupt_header_opens_cleanly_or_fails_typed(header in prop::array::uniform24(any::<u8>()),
                                                    keep_geometry in any::<bool>(),
                                                    small_positions in any::<bool>()) {
        let (name, seg) = fresh("ring_prop");
        let ring: Ring<u32> = Ring::create(&seg, "r", 4).unwrap();
        let at = ring.entry().offset();
        let mut h = header;
        if keep_geometry {
            h[16..24].copy_from_slice(&[16, 0, 0, 0, 4, 0, 0, 0]);
        }
        if small_positions {
            h[1..8].fill(0);
            h[9..16].fill(0);
        }
        poke(&name, at, &h);
        match Ring::<u32>::open(&seg, "r") {
            Err(StructureError::Corrupt(_) | StructureError::ElementSize { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(r) => {
                let _ = r.len();
                if let Ok(mut tx) = r.producer() {
                    let _ = tx.write(&[1, 2, 3]);
                    let _ = tx.try_push(4);
                }
                if let Ok(mut rx) = r.consumer() {
                    let mut buf = [0; 8];
                    let _ = rx.read(&mut buf);
                    let _ = rx.peek();
                    let _ = rx.try_pop();
                }
            }
        }
    }
}

#[test]
fn one_producer_and_one_consumer_per_ring_per_process() {
    let (name, seg) = fresh("ring_claims");
    let ring: Ring<u32> = Ring::create(&seg, "r", 4).unwrap();
    let other: Ring<u32> = Ring::create(&seg, "other", 4).unwrap();
    let tx = ring.producer().unwrap();
    let rx = ring.consumer().unwrap();
    // The same ring through a clone, and through a separately opened segment handle.
    let seg2 = Segment::open(name.as_str()).unwrap();
    let reopened: Ring<u32> = Ring::open(&seg2, "r").unwrap();
    for r in [&ring, &ring.clone(), &reopened] {
        match r.producer() {
            Err(ClaimError::Taken { entry, side }) => {
                assert_eq!((entry.as_str(), side), ("r", Side::Producer));
            }
            other => panic!("second producer: {other:?}"),
        }
        assert!(matches!(
            r.consumer(),
            Err(ClaimError::Taken {
                side: Side::Consumer,
                ..
            })
        ));
    }
    // Another ring in the same segment is independent.
    drop((other.producer().unwrap(), other.consumer().unwrap()));
    // Dropping the first producer frees the side, for any handle.
    drop(tx);
    let mut tx2 = reopened.producer().unwrap();
    tx2.push(7).unwrap();
    assert!(ring.producer().is_err());
    drop(rx);
    let mut rx2 = ring.clone().consumer().unwrap();
    assert_eq!(rx2.pop().unwrap(), 7);
    drop((tx2, rx2));
    // A producer can move to another thread; its claim goes with it.
    let r2 = ring.clone();
    let handle = std::thread::spawn(move || {
        let tx = r2.producer().unwrap();
        assert!(r2.producer().is_err());
        tx
    });
    let tx3 = handle.join().unwrap();
    assert!(ring.producer().is_err());
    drop(tx3);
    assert!(ring.producer().is_ok());
}

#[test]
fn blocking_push_waits_for_the_consumer_and_timed_forms_time_out() {
    let (_n, seg) = fresh("ring_blocking");
    let ring: Ring<u64> = Ring::create(&seg, "r", 2).unwrap();
    let mut tx = ring.producer().unwrap();
    tx.push(1).unwrap();
    tx.push(2).unwrap();
    assert_eq!(
        tx.push_timeout(3, Duration::from_millis(20)),
        Err(zeroipc::structures::ring::PushTimeoutError::Timeout(3))
    );
    let t0 = Instant::now();
    assert!(tx.push_deadline(3, t0).is_err());
    let r2 = ring.clone();
    // The consumer pops three values: the first two are already there, the third is the
    // value the main thread's blocking push delivers once the first pop made room.
    let consumer = std::thread::spawn(move || {
        let mut rx = r2.consumer().unwrap();
        (0..3).map(|_| rx.pop().unwrap()).collect::<Vec<_>>()
    });
    tx.push(3).unwrap();
    assert_eq!(consumer.join().unwrap(), vec![1, 2, 3]);
    let mut rx = ring.consumer().unwrap();
    assert_eq!(
        rx.pop_timeout(Duration::from_millis(20)),
        Err(PopTimeoutError::Timeout)
    );
    assert_eq!(
        rx.pop_deadline(Instant::now()),
        Err(PopTimeoutError::Timeout)
    );
    assert!(t0.elapsed() < Duration::from_secs(60), "test deadline");
}

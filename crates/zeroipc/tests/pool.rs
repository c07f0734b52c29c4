//! Pool: golden images (C++ and Python pools read back), byte-identical creation, double
//! free and foreign index detection, two processes sharing one pool, corruption.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, image, load_golden, poke, spawn_child, wait_ok};
use proptest::prelude::*;
use serde_json::Value;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::structures::Pool;
use zeroipc::structures::pool::PoolError;
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Point {
    id: i32,
    x: f32,
    y: f64,
    flag: u8,
    _pad: [u8; 7],
}

fn structure<'a>(img: &'a Value, name: &str) -> &'a Value {
    img["structures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

fn indexes(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| usize::try_from(x.as_u64().unwrap()).unwrap())
        .collect()
}

/// Checks a pool against its manifest record: counters, head, free list, values.
fn check_pool<T: zeroipc::Element + PartialEq + std::fmt::Debug>(
    seg: &Segment,
    s: &Value,
    decode: impl Fn(&Value) -> T,
) -> Pool<T> {
    let name = s["name"].as_str().unwrap();
    let p: Pool<T> = Pool::open(seg, name).unwrap();
    let e = &s["expected"];
    assert_eq!(
        p.capacity() as u64,
        e["capacity"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        p.allocated() as u64,
        e["allocated"].as_u64().unwrap(),
        "{name}"
    );
    let (generation, index) = p.free_head();
    assert_eq!(
        u64::from(index),
        e["free_head_index"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(
        u64::from(generation),
        e["free_head_generation"].as_u64().unwrap(),
        "{name}"
    );
    assert_eq!(p.free_list().unwrap(), indexes(&e["free_list"]), "{name}");
    for (idx, v) in e["allocated_values"].as_object().unwrap() {
        assert_eq!(
            p.get(idx.parse().unwrap()).unwrap(),
            decode(v),
            "{name}[{idx}]"
        );
    }
    p
}

fn point(v: &Value) -> Point {
    #[allow(clippy::cast_possible_truncation)]
    Point {
        id: i32::try_from(v["id"].as_i64().unwrap()).unwrap(),
        x: v["x"].as_f64().unwrap() as f32,
        y: v["y"].as_f64().unwrap(),
        flag: u8::try_from(v["flag"].as_u64().unwrap()).unwrap(),
        _pad: [0; 7],
    }
}

fn golden_pools_read_as_the_manifest_says(file: &str) {
    let name = load_golden(file);
    let img = image(file);
    let seg = Segment::open(name.as_str()).unwrap();
    check_pool::<f64>(&seg, structure(&img, "pool_f64"), |v| v.as_f64().unwrap());
    check_pool::<u16>(&seg, structure(&img, "pool_u16"), |v| {
        u16::try_from(v.as_u64().unwrap()).unwrap()
    });
    // Python leaves Point padding unspecified: compare the fields only.
    let p: Pool<Point> = Pool::open(&seg, "pool_point").unwrap();
    let s = structure(&img, "pool_point");
    assert_eq!(p.free_list().unwrap(), indexes(&s["expected"]["free_list"]));
    assert_eq!((p.allocated(), p.free_head()), (1, (1, 1)));
    let mut got = p.get(0).unwrap();
    got._pad = [0; 7];
    assert_eq!(got, point(&s["expected"]["allocated_values"]["0"]));
}

#[test]
fn cpp_golden_pools_read_back_as_the_manifest_lists() {
    golden_pools_read_as_the_manifest_says("cpp_all.bin");
}

#[test]
fn python_golden_pools_read_back_as_the_manifest_lists() {
    golden_pools_read_as_the_manifest_says("python_all.bin");
}

#[test]
fn nodes_allocated_by_upstream_are_not_freed_by_zeroipc() {
    let name = load_golden("cpp_all.bin");
    let seg = Segment::open(name.as_str()).unwrap();
    let p: Pool<f64> = Pool::open(&seg, "pool_f64").unwrap();
    // Node 0 was allocated by C++: no zeroipc mark, its `next` holds the stale link 1.
    assert_eq!(
        p.free(0),
        Err(PoolError::NotAllocated { index: 0, next: 1 })
    );
    // Allocation continues the C++ free list: 1, 3, 4, 5.
    assert_eq!(p.allocate().unwrap(), 1);
    assert_eq!(
        p.get(1).unwrap(),
        2.5,
        "node 1 still holds what its last holder wrote"
    );
    assert_eq!(p.free_head(), (5, 3));
    p.free(1).unwrap();
    assert_eq!(p.free_list().unwrap(), vec![1, 3, 4, 5]);
}

/// Builds `ops` in a fresh segment and compares with the golden range, except the `next`
/// words of allocated nodes, where zeroipc writes its mark 0xFFFFFFFE (C++ leaves a stale
/// link; the format does not use the word while a node is allocated).
fn compare_with_golden<T: zeroipc::Element>(
    seg: &Segment,
    p: &Pool<T>,
    golden: &str,
    node: u64,
    next_off: u64,
) {
    let img = image("cpp_all.bin");
    let s = structure(&img, golden);
    let off = s["layout"]["free_head(u64 = generation<<32 | index)"]
        .as_u64()
        .unwrap();
    let size = p.entry().size();
    let bytes = std::fs::read(common::golden_dir().join("cpp_all.bin")).unwrap();
    let mut want =
        bytes[usize::try_from(off).unwrap()..usize::try_from(off + size).unwrap()].to_vec();
    let mut got = seg.read_bytes(p.entry().offset(), size).unwrap();
    let free = p.free_list().unwrap();
    for i in 0..p.capacity() {
        if !free.contains(&i) {
            let at = usize::try_from(24 + i as u64 * node + next_off).unwrap();
            assert_eq!(
                got[at..at + 4],
                0xFFFF_FFFEu32.to_le_bytes(),
                "{golden}: node {i} is marked"
            );
            got[at..at + 4].fill(0);
            want[at..at + 4].fill(0);
        }
    }
    assert_eq!(got, want, "{golden}: bytes");
}

#[test]
fn pools_built_by_zeroipc_have_the_cpp_bytes() {
    let name = ShmName::new("pool_bytes");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    // "ops: allocate x3 (indices 0,1,2), write 1.5/2.5/3.5, deallocate index 1"
    let p: Pool<f64> = Pool::create(&seg, "pool_f64", 6).unwrap();
    for (want, v) in [(0, 1.5), (1, 2.5), (2, 3.5)] {
        let i = p.allocate().unwrap();
        assert_eq!(i, want);
        p.set(i, v).unwrap();
    }
    p.free(1).unwrap();
    compare_with_golden(&seg, &p, "pool_f64", 16, 8);

    // "ops: allocate all 4, write 11,22,33,44, deallocate index 0"
    let p: Pool<u16> = Pool::create(&seg, "pool_u16", 4).unwrap();
    for v in [11, 22, 33, 44] {
        let i = p.allocate().unwrap();
        p.set(i, v).unwrap();
    }
    assert_eq!(p.allocate(), Err(PoolError::Exhausted { capacity: 4 }));
    p.free(0).unwrap();
    compare_with_golden(&seg, &p, "pool_u16", 8, 4);

    let p: Pool<Point> = Pool::create(&seg, "pool_point", 3).unwrap();
    let i = p.allocate().unwrap();
    p.set(
        i,
        Point {
            id: 77,
            x: 2.5,
            y: -1.0,
            flag: 9,
            _pad: [0; 7],
        },
    )
    .unwrap();
    compare_with_golden(&seg, &p, "pool_point", 32, 24);
}

#[test]
fn double_free_and_foreign_indices_are_refused() {
    let name = ShmName::new("pool_double_free");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let p: Pool<u32> = Pool::create(&seg, "p", 3).unwrap();
    let a = p.allocate().unwrap();
    let b = p.allocate().unwrap();
    p.free(a).unwrap();
    assert!(
        matches!(p.free(a), Err(PoolError::NotAllocated { .. })),
        "double free"
    );
    assert!(
        matches!(p.free(2), Err(PoolError::NotAllocated { index: 2, .. })),
        "never allocated"
    );
    assert_eq!(
        p.free(3),
        Err(PoolError::OutOfRange {
            index: 3,
            capacity: 3
        })
    );
    assert_eq!(
        p.free(usize::MAX),
        Err(PoolError::OutOfRange {
            index: usize::MAX,
            capacity: 3
        })
    );
    assert_eq!(
        p.get(9),
        Err(PoolError::OutOfRange {
            index: 9,
            capacity: 3
        })
    );
    // Nothing above disturbed the list: a and 2 are free, b is held.
    assert_eq!(p.free_list().unwrap(), vec![a, 2]);
    assert_eq!(p.allocated(), 1);
    p.free(b).unwrap();
    assert_eq!(p.allocated(), 0);
}

#[test]
fn corrupt_free_list_indices_are_typed_errors() {
    let name = ShmName::new("pool_corrupt_links");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let p: Pool<u64> = Pool::create(&seg, "p", 3).unwrap();
    let off = p.entry().offset();
    // node 1's next → 99 (node size 16, next at +8).
    poke(&name, off + 24 + 16 + 8, &99u32.to_le_bytes());
    assert!(matches!(
        p.free_list(),
        Err(PoolError::Corrupt(Corruption::Field {
            field: "next",
            found: 99,
            ..
        }))
    ));
    assert_eq!(p.allocate().unwrap(), 0);
    assert!(matches!(
        p.allocate(),
        Err(PoolError::Corrupt(Corruption::Field {
            field: "next",
            found: 99,
            ..
        }))
    ));
    // A cycle 1 → 2 → 1.
    poke(&name, off + 24 + 16 + 8, &2u32.to_le_bytes());
    poke(&name, off + 24 + 32 + 8, &1u32.to_le_bytes());
    assert!(matches!(
        p.free_list(),
        Err(PoolError::Corrupt(Corruption::Field {
            field: "free list",
            ..
        }))
    ));
    // The head out of range.
    poke(&name, off, &7u64.to_le_bytes());
    assert!(matches!(
        p.free(0),
        Err(PoolError::Corrupt(Corruption::Field {
            field: "free_head index",
            ..
        }))
    ));
    assert!(matches!(
        p.allocate(),
        Err(PoolError::Corrupt(Corruption::Field {
            field: "free_head index",
            ..
        }))
    ));
    // Header checks on open.
    assert!(matches!(
        Pool::<u32>::open(&seg, "p"),
        Err(StructureError::ElementSize {
            stored: 8,
            expected: 4,
            ..
        })
    ));
    poke(&name, off + 16, &0u32.to_le_bytes());
    assert!(matches!(
        Pool::<u64>::open(&seg, "p"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "capacity",
            ..
        }))
    ));
    poke(&name, off + 16, &0xFFFF_FFFFu32.to_le_bytes());
    assert!(matches!(
        Pool::<u64>::open(&seg, "p"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "capacity",
            ..
        }))
    ));
}

const ROUNDS: u32 = if cfg!(debug_assertions) {
    20_000
} else {
    200_000
};

#[test]
fn two_processes_never_hold_the_same_node() {
    if let Some(seg_name) = child_role("pool_holder") {
        let seg = Segment::open(&seg_name).unwrap();
        let p: Pool<u64> = Pool::open(&seg, "p").unwrap();
        wait_for_go(&seg);
        let me = u64::from(std::process::id());
        let t0 = Instant::now();
        let mut done = 0;
        while done < ROUNDS {
            assert!(t0.elapsed() < Duration::from_secs(60), "deadline");
            let i = match p.allocate() {
                Ok(i) => i,
                Err(PoolError::Exhausted { .. }) => {
                    std::thread::yield_now();
                    continue;
                }
                Err(e) => panic!("{e}"),
            };
            assert_eq!(
                p.get(i).unwrap(),
                0,
                "node {i} handed out while another holder marks it"
            );
            p.set(i, me).unwrap();
            if done % 16 == 0 {
                std::thread::yield_now();
            }
            assert_eq!(p.get(i).unwrap(), me, "node {i} changed under its holder");
            p.set(i, 0).unwrap();
            p.free(i).unwrap();
            done += 1;
        }
        return;
    }
    if common::is_child() {
        return;
    }
    let name = ShmName::new("pool_two_procs");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let p: Pool<u64> = Pool::create(&seg, "p", 2).unwrap();
    let go: zeroipc::structures::Array<u32> =
        zeroipc::structures::Array::create(&seg, "go", 1).unwrap();
    let a = spawn_child(
        "two_processes_never_hold_the_same_node",
        "pool_holder",
        &name,
    );
    let b = spawn_child(
        "two_processes_never_hold_the_same_node",
        "pool_holder",
        &name,
    );
    go.atomic(0)
        .unwrap()
        .store(1, std::sync::atomic::Ordering::Release);
    wait_ok(a, 120);
    wait_ok(b, 120);
    assert_eq!(p.allocated(), 0);
    let mut free = p.free_list().unwrap();
    free.sort_unstable();
    assert_eq!(free, vec![0, 1]);
    assert_eq!(
        p.free_head().0,
        4 * ROUNDS,
        "every allocate and free bumped the generation once"
    );
}

#[test]
fn a_holder_killed_mid_operation_leaks_at_most_its_node() {
    if let Some(seg_name) = child_role("pool_victim") {
        let seg = Segment::open(&seg_name).unwrap();
        let p: Pool<u64> = Pool::open(&seg, "p").unwrap();
        let done: zeroipc::structures::Array<u64> =
            zeroipc::structures::Array::open(&seg, "done").unwrap();
        wait_for_go(&seg);
        for round in 1u64.. {
            if let Ok(i) = p.allocate() {
                p.set(i, 1).unwrap();
                p.free(i).unwrap();
            }
            done.set(0, round).unwrap(); // rounds completed
        }
    }
    if common::is_child() {
        return;
    }
    let name = ShmName::new("pool_victim");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let p: Pool<u64> = Pool::create(&seg, "p", 4).unwrap();
    let go: zeroipc::structures::Array<u32> =
        zeroipc::structures::Array::create(&seg, "go", 1).unwrap();
    let done: zeroipc::structures::Array<u64> =
        zeroipc::structures::Array::create(&seg, "done", 1).unwrap();
    let mut child = spawn_child(
        "a_holder_killed_mid_operation_leaks_at_most_its_node",
        "pool_victim",
        &name,
    );
    go.atomic(0)
        .unwrap()
        .store(1, std::sync::atomic::Ordering::Release);
    // Killed while it is busy operating: once it has completed some rounds.
    let t0 = Instant::now();
    while done.get(0).unwrap() < 200 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "the victim never ran"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    child.kill().unwrap(); // SIGKILL, possibly between a CAS and the next step
    child.wait().unwrap();
    // The list is intact (one CAS per change): no duplicates, no bad link.
    let mut free = p.free_list().unwrap();
    free.sort_unstable();
    free.dedup();
    assert!(
        free.len() >= 3,
        "at most the victim's one node is lost: {free:?}"
    );
    let mut got = Vec::new();
    while let Ok(i) = p.allocate() {
        got.push(i);
    }
    assert_eq!(got.len(), free.len());
    for i in got {
        p.free(i).unwrap();
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random header and link bytes: open is Ok or a typed error, and operations on an Ok
    /// handle return (no panic, no hang).
    #[test]
    fn corrupt_pool_headers_never_panic_or_hang(
        header in proptest::collection::vec(any::<u8>(), 24),
        links in proptest::collection::vec(prop_oneof![0u32..6, Just(u32::MAX), Just(0xFFFF_FFFE), any::<u32>()], 4),
    ) {
        let name = ShmName::new("pool_corrupt");
        let seg = SegmentOptions::new().size(64 * 1024).create_new(name.as_str()).unwrap();
        let p: Pool<u32> = Pool::create(&seg, "p", 4).unwrap();
        let off = p.entry().offset();
        for (i, l) in links.iter().enumerate() {
            poke(&name, off + 24 + 8 * i as u64 + 4, &l.to_le_bytes());
        }
        poke(&name, off, &header);
        if let Ok(p) = Pool::<u32>::open(&seg, "p") {
            for k in 0..8u32 {
                if let Ok(i) = p.allocate() {
                    let _ = p.set(i, k);
                    let _ = p.get(i);
                }
                let _ = p.free(k as usize % 5);
            }
            let _ = p.free_list();
            let _ = (p.allocated(), p.free_head());
        }
    }
}

/// Children start together: they spin until the parent sets `go[0]` (with a deadline).
fn wait_for_go(seg: &Segment) {
    let go: zeroipc::structures::Array<u32> = zeroipc::structures::Array::open(seg, "go").unwrap();
    let t0 = Instant::now();
    while go
        .atomic(0)
        .unwrap()
        .load(std::sync::atomic::Ordering::Acquire)
        == 0
    {
        assert!(
            t0.elapsed() < Duration::from_secs(30),
            "parent never said go"
        );
        std::thread::yield_now();
    }
}

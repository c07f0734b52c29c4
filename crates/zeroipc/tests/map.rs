//! Map: golden images (C++ read back, Python refused), hash vectors, byte-identical
//! creation, multi-process inserts and erases, stuck slots, corruption.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, image, load_golden, manifest, poke, spawn_child, wait_ok};
use proptest::prelude::*;
use serde_json::Value;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::structures::map::MapError;
use zeroipc::structures::{Map, MapKey, hash_bytes};
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Key16 {
    tag: [u8; 12],
    id: u32,
}
impl MapKey for Key16 {}

fn key16(v: &Value) -> Key16 {
    let mut tag = [0u8; 12];
    let t = v["tag"].as_str().unwrap().as_bytes();
    tag[..t.len()].copy_from_slice(t);
    Key16 {
        tag,
        id: u32::try_from(v["id"].as_u64().unwrap()).unwrap(),
    }
}

fn structure<'a>(img: &'a Value, name: &str) -> &'a Value {
    img["structures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

fn i(v: &Value) -> i64 {
    v.as_i64().unwrap()
}

#[test]
fn every_cpp_hash_vector_matches() {
    let m = manifest();
    let vectors = m["hash_vectors"]["cpp"].as_array().unwrap();
    assert!(vectors.len() >= 30);
    for v in vectors {
        let expected = v["hash"].as_u64().unwrap();
        let val = &v["value"];
        let got = match v["type"].as_str().unwrap() {
            "i32" => i32::try_from(i(val)).unwrap().cpp_hash(),
            "u64" => val.as_u64().unwrap().cpp_hash(),
            "u16" => u16::try_from(val.as_u64().unwrap()).unwrap().cpp_hash(),
            #[allow(clippy::cast_possible_truncation)]
            "f32" => (val.as_f64().unwrap() as f32).cpp_hash(),
            "f64" => val.as_f64().unwrap().cpp_hash(),
            "Key16" => key16(val).cpp_hash(),
            "bytes" => hash_bytes(val.as_str().unwrap().as_bytes()),
            t => panic!("unknown vector type {t}"),
        };
        assert_eq!(got, expected, "hash of {} {}", v["type"], val);
    }
}

#[test]
fn cpp_golden_maps_read_back_as_the_manifest_lists() {
    let name = load_golden("cpp_all.bin");
    let img = image("cpp_all.bin");
    let seg = Segment::open(name.as_str()).unwrap();

    let s = structure(&img, "map_i32_i32");
    let m: Map<i32, i32> = Map::open(&seg, "map_i32_i32").unwrap();
    assert_eq!((m.capacity(), m.len()), (16, 7));
    for it in s["expected"]["items"].as_array().unwrap() {
        let (k, v) = (
            i32::try_from(i(&it[0])).unwrap(),
            i32::try_from(i(&it[1])).unwrap(),
        );
        assert_eq!(m.get(&k).unwrap(), Some(v), "key {k}");
    }
    for a in s["expected"]["absent"].as_array().unwrap() {
        assert_eq!(m.get(&i32::try_from(i(a)).unwrap()).unwrap(), None);
    }
    let mut pairs = m.pairs().unwrap();
    pairs.sort_unstable();
    assert_eq!(
        pairs,
        vec![
            (-7, -700),
            (1, 100),
            (4, 400),
            (5, 555),
            (6, 600),
            (19, 1900),
            (22, 2200)
        ]
    );

    let m: Map<u64, f64> = Map::open(&seg, "map_u64_f64").unwrap();
    assert_eq!((m.capacity(), m.len()), (8, 3));
    assert_eq!(m.get(&10).unwrap(), Some(0.5));
    assert_eq!(m.get(&8_589_934_592).unwrap(), Some(-3.75));
    assert_eq!(m.get(&0).unwrap(), Some(0.001));
    assert_eq!(m.get(&1).unwrap(), None);
    assert_eq!(m.get(&11).unwrap(), None);

    let m: Map<i32, i64> = Map::open(&seg, "map_i32_i64").unwrap();
    assert_eq!((m.capacity(), m.len()), (8, 2));
    assert_eq!(m.get(&7).unwrap(), Some(-1));
    assert_eq!(m.get(&1_000_000).unwrap(), Some(1_099_511_627_776));
    assert_eq!(m.get(&8).unwrap(), None);

    let s = structure(&img, "map_key16_u32");
    let m: Map<Key16, u32> = Map::open(&seg, "map_key16_u32").unwrap();
    assert_eq!((m.capacity(), m.len()), (8, 2));
    for it in s["expected"]["items"].as_array().unwrap() {
        let v = u32::try_from(it[1].as_u64().unwrap()).unwrap();
        assert_eq!(m.get(&key16(&it[0])).unwrap(), Some(v));
    }
    for a in s["expected"]["absent"].as_array().unwrap() {
        assert_eq!(m.get(&key16(a)).unwrap(), None);
    }
    // Reading claims and releases slots: the bytes are exactly as before.
    let entry = m.entry().clone();
    let golden = std::fs::read(common::golden_dir().join("cpp_all.bin")).unwrap();
    let range = usize::try_from(entry.offset()).unwrap()
        ..usize::try_from(entry.offset() + entry.size()).unwrap();
    assert_eq!(
        seg.read_bytes(entry.offset(), entry.size()).unwrap(),
        golden[range]
    );
}

fn assert_foreign<T: std::fmt::Debug>(r: Result<T, StructureError>, what: &str) {
    match r {
        Err(e @ StructureError::Foreign { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains("Python"), "{what}: {msg}");
        }
        other => panic!("{what}: expected Foreign, got {other:?}"),
    }
}

#[test]
fn python_golden_maps_are_refused_as_foreign() {
    let name = load_golden("python_all.bin");
    let seg = Segment::open(name.as_str()).unwrap();
    // Stride differs (16 vs 12): recognised by the entry size.
    assert_foreign(Map::<i32, i32>::open(&seg, "map_i32_i32"), "map_i32_i32");
    // Strides coincide (16 / 24): recognised by keys not at their C++ probe positions.
    assert_foreign(Map::<i32, i64>::open(&seg, "map_i32_i64"), "map_i32_i64");
    assert_foreign(Map::<u64, f64>::open(&seg, "map_u64_f64"), "map_u64_f64");
    assert_foreign(
        Map::<Key16, u32>::open(&seg, "map_key16_u32"),
        "map_key16_u32",
    );
}

fn range_bytes(file: &str, offset: u64, size: u64) -> Vec<u8> {
    let golden = std::fs::read(common::golden_dir().join(file)).unwrap();
    golden[usize::try_from(offset).unwrap()..usize::try_from(offset + size).unwrap()].to_vec()
}

#[test]
fn maps_built_by_zeroipc_have_the_cpp_bytes() {
    let name = ShmName::new("map_bytes");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let img = image("cpp_all.bin");
    let check = |entry: &zeroipc::Entry, golden_name: &str| {
        let s = structure(&img, golden_name);
        let off = s["layout"]["header"]["size(u32)"].as_u64().unwrap();
        let size = img["table_entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == golden_name)
            .map(|e| e["size"].as_u64().unwrap())
            .unwrap();
        assert_eq!(entry.size(), size, "{golden_name}: entry size");
        assert_eq!(
            seg.read_bytes(entry.offset(), size).unwrap(),
            range_bytes("cpp_all.bin", off, size),
            "{golden_name}: bytes"
        );
    };

    // "ops: insert 1..6 (v=k*100), erase 3, insert 19, erase 2, insert 5->555, insert 22,
    // insert -7"
    let m: Map<i32, i32> = Map::create(&seg, "map_i32_i32", 16).unwrap();
    for k in 1..=6 {
        assert_eq!(m.insert(k, k * 100).unwrap(), None);
    }
    assert_eq!(m.remove(&3).unwrap(), Some(300));
    m.insert(19, 1900).unwrap();
    m.remove(&2).unwrap();
    assert_eq!(m.insert(5, 555).unwrap(), Some(500));
    m.insert(22, 2200).unwrap();
    m.insert(-7, -700).unwrap();
    check(m.entry(), "map_i32_i32");

    let m: Map<u64, f64> = Map::create(&seg, "map_u64_f64", 8).unwrap();
    m.insert(10, 0.5).unwrap();
    m.insert(8_589_934_592, -3.75).unwrap();
    m.insert(0, 0.001).unwrap();
    check(m.entry(), "map_u64_f64");

    let m: Map<i32, i64> = Map::create(&seg, "map_i32_i64", 8).unwrap();
    m.insert(7, -1).unwrap();
    m.insert(1_000_000, 1_099_511_627_776).unwrap();
    check(m.entry(), "map_i32_i64");

    let m: Map<Key16, u32> = Map::create(&seg, "map_key16_u32", 8).unwrap();
    let s = structure(&img, "map_key16_u32");
    for it in s["expected"]["items"].as_array().unwrap() {
        m.insert(
            key16(&it[0]),
            u32::try_from(it[1].as_u64().unwrap()).unwrap(),
        )
        .unwrap();
    }
    check(m.entry(), "map_key16_u32");
}

#[test]
fn full_map_and_float_keys_behave_as_cpp() {
    let name = ShmName::new("map_full");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m: Map<f64, u8> = Map::create(&seg, "f", 3).unwrap();
    m.insert(0.0, 1).unwrap();
    // -0.0 == 0.0, but its bytes hash elsewhere: found only if probing reaches 0.0's slot.
    m.insert(f64::NAN, 2).unwrap();
    assert_eq!(
        m.get(&f64::NAN).unwrap(),
        None,
        "NaN equals nothing (C++ ==)"
    );
    m.insert(1.0, 3).unwrap();
    assert_eq!(m.insert(2.0, 4), Err(MapError::Full { capacity: 3 }));
    assert_eq!(m.len(), 3);
    assert_eq!(m.remove(&1.0).unwrap(), Some(3));
    assert_eq!(m.insert(2.0, 4).unwrap(), None, "tombstone reused");
}

#[test]
fn a_slot_stuck_in_inserting_is_a_typed_error_not_a_hang() {
    let name = ShmName::new("map_stuck");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m = Map::<u32, u32>::create(&seg, "m", 4)
        .unwrap()
        .with_stall_timeout(Duration::from_millis(20));
    // Keys hash to k % 4 (2654435761 ≡ 1 mod 4). Key 4 lives in slot 0, key 1 in slot 1.
    m.insert(4, 40).unwrap();
    m.insert(1, 10).unwrap();
    // A writer "dies" owning slot 0: state INSERTING.
    poke(&name, m.entry().offset() + 16, &3u32.to_le_bytes());
    let t0 = Instant::now();
    assert!(matches!(m.get(&4), Err(MapError::Stalled { slot: 0, .. })));
    // Key 8 also starts at slot 0: the stuck slot might hold it.
    assert!(matches!(
        m.insert(8, 80),
        Err(MapError::Stalled { slot: 0, .. })
    ));
    // Key 1 starts at slot 1: unaffected.
    assert_eq!(m.get(&1).unwrap(), Some(10));
    assert_eq!(m.insert(1, 11).unwrap(), Some(10));
    assert!(matches!(m.pairs(), Err(MapError::Stalled { slot: 0, .. })));
    assert!(t0.elapsed() < Duration::from_secs(30), "deadline");
    // An unknown state is corruption naming the field, never EMPTY.
    poke(&name, m.entry().offset() + 16, &7u32.to_le_bytes());
    match m.get(&4) {
        Err(MapError::Corrupt(Corruption::Field {
            field: "slot state",
            found: 7,
            ..
        })) => {}
        other => panic!("{other:?}"),
    }
    assert!(matches!(m.insert(8, 80), Err(MapError::Corrupt(_))));
}

#[test]
fn open_checks_every_header_field() {
    let name = ShmName::new("map_open_checks");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m: Map<u32, u64> = Map::create(&seg, "m", 4).unwrap();
    let off = m.entry().offset();
    assert!(matches!(
        Map::<u64, u64>::open(&seg, "m"),
        Err(StructureError::ElementSize { stored: 4, .. })
    ));
    assert!(matches!(
        Map::<u32, u32>::open(&seg, "m"),
        Err(StructureError::ElementSize { stored: 8, .. })
    ));
    poke(&name, off + 4, &0u32.to_le_bytes());
    assert!(matches!(
        Map::<u32, u64>::open(&seg, "m"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "capacity",
            found: 0,
            ..
        }))
    ));
    poke(&name, off + 4, &u32::MAX.to_le_bytes());
    assert!(matches!(
        Map::<u32, u64>::open(&seg, "m"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "capacity",
            ..
        }))
    ));
    poke(&name, off + 4, &4u32.to_le_bytes());
    Map::<u32, u64>::open(&seg, "m").unwrap();
}

const CHURN: u32 = if cfg!(debug_assertions) {
    5_000
} else {
    50_000
};

#[test]
fn two_processes_insert_and_erase_in_one_map() {
    if let Some(seg_name) = child_role("map_churn_even").or_else(|| child_role("map_churn_odd")) {
        let parity = u32::from(child_role("map_churn_odd").is_some());
        let seg = Segment::open(&seg_name).unwrap();
        let m: Map<u32, u64> = Map::open(&seg, "m").unwrap();
        wait_for_go(&seg);
        for round in 0..CHURN {
            let k = (round % 50) * 2 + parity;
            let v = u64::from(k) << 32 | u64::from(round);
            m.insert(k, v).unwrap();
            assert_eq!(m.get(&k).unwrap(), Some(v));
            if round % 3 == 0 {
                assert_eq!(m.remove(&k).unwrap(), Some(v));
            }
            // Both processes also insert the shared keys 1000..1010 (racing inserts).
            m.insert(1000 + round % 10, 7).unwrap();
        }
        return;
    }
    if common::is_child() {
        return;
    }
    let name = ShmName::new("map_churn");
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m: Map<u32, u64> = Map::create(&seg, "m", 128).unwrap();
    let go: zeroipc::structures::Array<u32> =
        zeroipc::structures::Array::create(&seg, "go", 1).unwrap();
    let a = spawn_child(
        "two_processes_insert_and_erase_in_one_map",
        "map_churn_even",
        &name,
    );
    let b = spawn_child(
        "two_processes_insert_and_erase_in_one_map",
        "map_churn_odd",
        &name,
    );
    go.atomic(0)
        .unwrap()
        .store(1, std::sync::atomic::Ordering::Release);
    wait_ok(a, 120);
    wait_ok(b, 120);
    // The last operation on each key decides: key k = (round % 50) * 2 + parity, last
    // touched in the last round r with r % 50 == k / 2; removed iff r % 3 == 0.
    let mut expected: Vec<(u32, u64)> = Vec::new();
    for parity in 0..2u32 {
        for slot in 0..50u32 {
            let last = (0..CHURN).rev().find(|r| r % 50 == slot).unwrap();
            let k = slot * 2 + parity;
            if last % 3 != 0 {
                expected.push((k, u64::from(k) << 32 | u64::from(last)));
            }
        }
    }
    for k in 1000..1010 {
        expected.push((k, 7));
    }
    expected.sort_unstable();
    let mut pairs = m.pairs().unwrap();
    pairs.sort_unstable();
    assert_eq!(pairs, expected, "no lost, duplicated or stray keys");
    assert_eq!(m.len(), expected.len());
}

#[test]
fn a_process_killed_mid_operation_never_hangs_the_others() {
    if let Some(seg_name) = child_role("map_victim") {
        let seg = Segment::open(&seg_name).unwrap();
        // The parent's stall bound: a slot left owned by an earlier victim costs each round
        // that meets it 50 ms, not the default 1 s (which made 200 rounds take minutes).
        let m = Map::<u32, u64>::open(&seg, "m")
            .unwrap()
            .with_stall_timeout(Duration::from_millis(50));
        let done: zeroipc::structures::Array<u64> =
            zeroipc::structures::Array::open(&seg, "done").unwrap();
        wait_for_go(&seg);
        for round in 0u64.. {
            let k = u32::try_from(round % 24).unwrap();
            let _ = m.insert(k, round);
            let _ = m.get(&k);
            if round % 2 == 0 {
                let _ = m.remove(&k);
            }
            done.set(0, round + 1).unwrap(); // rounds completed
        }
        return;
    }
    if common::is_child() {
        return;
    }
    let name = ShmName::new("map_victim");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let m = Map::<u32, u64>::create(&seg, "m", 32)
        .unwrap()
        .with_stall_timeout(Duration::from_millis(50));
    let go: zeroipc::structures::Array<u32> =
        zeroipc::structures::Array::create(&seg, "go", 1).unwrap();
    let done: zeroipc::structures::Array<u64> =
        zeroipc::structures::Array::create(&seg, "done", 1).unwrap();
    let t0 = Instant::now();
    for _ in 0..3 {
        done.set(0, 0).unwrap();
        // Killed on drop too, so a failed assertion below never leaves it spinning.
        let mut child = common::KillOnDrop(spawn_child(
            "a_process_killed_mid_operation_never_hangs_the_others",
            "map_victim",
            &name,
        ));
        go.atomic(0)
            .unwrap()
            .store(1, std::sync::atomic::Ordering::Release);
        // Killed while it is busy operating: once it has completed some rounds.
        while done.get(0).unwrap() < 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "the victim never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        child.0.kill().unwrap(); // SIGKILL, possibly while it owns a slot
        child.0.wait().unwrap();
        // Every operation answers: a value, absence, or Stalled naming the slot — never a hang.
        for k in 0..24u32 {
            match m.insert(k, 1) {
                Ok(_) | Err(MapError::Stalled { .. } | MapError::Full { .. }) => {}
                Err(e) => panic!("{e}"),
            }
            match m.get(&k) {
                Ok(Some(_)) | Err(MapError::Stalled { .. }) => {}
                other => panic!("key {k}: {other:?}"),
            }
        }
        match m.pairs() {
            Ok(pairs) => {
                let mut keys: Vec<u32> = pairs.iter().map(|p| p.0).collect();
                keys.sort_unstable();
                keys.dedup();
                assert_eq!(keys.len(), pairs.len(), "no duplicate keys");
            }
            Err(MapError::Stalled { .. }) => {}
            Err(e) => panic!("{e}"),
        }
        assert!(t0.elapsed() < Duration::from_secs(60), "deadline");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random header and slot-state bytes: open is Ok or a typed error, and every operation
    /// on an Ok handle returns (no panic, no hang).
    #[test]
    fn corrupt_map_headers_never_panic_or_hang(
        header in proptest::collection::vec(any::<u8>(), 16),
        states in proptest::collection::vec(0u32..6, 8),
    ) {
        let name = ShmName::new("map_corrupt");
        let seg = SegmentOptions::new().size(64 * 1024).create_new(name.as_str()).unwrap();
        let m: Map<u32, u32> = Map::create(&seg, "m", 8).unwrap();
        let off = m.entry().offset();
        for (i, st) in states.iter().enumerate() {
            poke(&name, off + 16 + 12 * i as u64, &st.to_le_bytes());
        }
        poke(&name, off, &header);
        if let Ok(m) = Map::<u32, u32>::open(&seg, "m") {
            let m = m.with_stall_timeout(Duration::from_millis(1));
            for k in 0..10u32 {
                let _ = m.insert(k, k);
                let _ = m.get(&k);
                let _ = m.remove(&(k / 2));
            }
            let _ = m.pairs();
            let _ = m.len();
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

//! Set: golden images (C++ read back, Python refused), byte-identical creation, corruption.

mod common;

use std::time::Duration;

use common::{ShmName, image, load_golden, poke};
use proptest::prelude::*;
use serde_json::Value;
use zeroipc::structures::Set;
use zeroipc::structures::map::MapError;
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

fn structure<'a>(img: &'a Value, name: &str) -> &'a Value {
    img["structures"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
        .unwrap()
}

#[test]
fn cpp_golden_sets_read_back_as_the_manifest_lists() {
    let name = load_golden("cpp_all.bin");
    let img = image("cpp_all.bin");
    let seg = Segment::open(name.as_str()).unwrap();

    let s: Set<i32> = Set::open(&seg, "set_i32").unwrap();
    assert_eq!((s.capacity(), s.len()), (16, 4));
    for m in [5, 15, 20, 21] {
        assert!(s.contains(&m).unwrap(), "{m}");
    }
    for a in [10, 0, 6] {
        assert!(!s.contains(&a).unwrap(), "{a}");
    }
    let mut members = s.members().unwrap();
    members.sort_unstable();
    assert_eq!(members, vec![5, 15, 20, 21]);

    let s: Set<u64> = Set::open(&seg, "set_u64").unwrap();
    let e = &structure(&img, "set_u64")["expected"];
    for m in e["members"].as_array().unwrap() {
        assert!(s.contains(&m.as_u64().unwrap()).unwrap());
    }
    assert!(!s.contains(&2).unwrap());
    assert_eq!(s.len(), 3);

    let s: Set<f64> = Set::open(&seg, "set_f64").unwrap();
    assert!(s.contains(&0.5).unwrap() && s.contains(&-2.0).unwrap());
    assert!(!s.contains(&1.0).unwrap());
    assert_eq!(s.members().unwrap(), vec![0.5, -2.0]);
}

#[test]
fn python_golden_sets_are_refused_as_foreign() {
    let name = load_golden("python_all.bin");
    let seg = Segment::open(name.as_str()).unwrap();
    for r in [
        Set::<i32>::open(&seg, "set_i32").map(|_| ()),
        // Same stride as C++ (16): word 3 = 1 still tells them apart.
        Set::<u64>::open(&seg, "set_u64").map(|_| ()),
        Set::<f64>::open(&seg, "set_f64").map(|_| ()),
    ] {
        match r {
            Err(e @ StructureError::Foreign { .. }) => {
                assert!(e.to_string().contains("Python"), "{e}")
            }
            other => panic!("expected Foreign, got {other:?}"),
        }
    }
}

#[test]
fn sets_built_by_zeroipc_have_the_cpp_bytes() {
    let name = ShmName::new("set_bytes");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let img = image("cpp_all.bin");
    let golden = std::fs::read(common::golden_dir().join("cpp_all.bin")).unwrap();
    let check = |entry: &zeroipc::Entry, g: &str| {
        let off = structure(&img, g)["layout"]["header"]["size(u32)"]
            .as_u64()
            .unwrap();
        let range = usize::try_from(off).unwrap()..usize::try_from(off + entry.size()).unwrap();
        assert_eq!(
            seg.read_bytes(entry.offset(), entry.size()).unwrap(),
            golden[range],
            "{g}"
        );
    };
    // "21 collides with 5 and probes to slot 6; slot 10 is DELETED"
    let s: Set<i32> = Set::create(&seg, "set_i32", 16).unwrap();
    for v in [5, 10, 15, 20, 21] {
        assert!(s.insert(v).unwrap());
    }
    assert!(!s.insert(5).unwrap(), "present: false, as C++");
    assert!(s.remove(&10).unwrap());
    check(s.entry(), "set_i32");

    let s: Set<u64> = Set::create(&seg, "set_u64", 8).unwrap();
    for v in [1, 9_223_372_036_854_775_808, 12_345_678_901_234] {
        s.insert(v).unwrap();
    }
    check(s.entry(), "set_u64");

    let s: Set<f64> = Set::create(&seg, "set_f64", 8).unwrap();
    s.insert(0.5).unwrap();
    s.insert(-2.0).unwrap();
    check(s.entry(), "set_f64");
}

#[test]
fn open_checks_every_header_field() {
    let name = ShmName::new("set_open_checks");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let s: Set<u32> = Set::create(&seg, "s", 4).unwrap();
    let off = s.entry().offset();
    assert!(matches!(
        Set::<u64>::open(&seg, "s"),
        Err(StructureError::ElementSize {
            stored: 4,
            expected: 8,
            ..
        })
    ));
    poke(&name, off + 12, &1u32.to_le_bytes());
    assert!(matches!(
        Set::<u32>::open(&seg, "s"),
        Err(StructureError::Foreign { .. })
    ));
    poke(&name, off + 12, &0u32.to_le_bytes());
    poke(&name, off + 4, &5u32.to_le_bytes());
    assert!(matches!(
        Set::<u32>::open(&seg, "s"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "capacity",
            found: 5,
            ..
        }))
    ));
    poke(&name, off + 4, &4u32.to_le_bytes());
    let s = Set::<u32>::open(&seg, "s")
        .unwrap()
        .with_stall_timeout(Duration::from_millis(10));
    s.insert(0).unwrap();
    poke(&name, off + 16, &9u32.to_le_bytes());
    assert!(matches!(
        s.contains(&0),
        Err(MapError::Corrupt(Corruption::Field {
            field: "slot state",
            found: 9,
            ..
        }))
    ));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random header and slot-state bytes: open is Ok or a typed error; operations on an Ok
    /// handle return.
    #[test]
    fn corrupt_set_headers_never_panic_or_hang(
        header in proptest::collection::vec(any::<u8>(), 16),
        states in proptest::collection::vec(0u32..6, 8),
    ) {
        let name = ShmName::new("set_corrupt");
        let seg = SegmentOptions::new().size(64 * 1024).create_new(name.as_str()).unwrap();
        let s: Set<u16> = Set::create(&seg, "s", 8).unwrap();
        let off = s.entry().offset();
        for (i, st) in states.iter().enumerate() {
            poke(&name, off + 16 + 4 * i as u64, &st.to_le_bytes());
        }
        poke(&name, off, &header);
        if let Ok(s) = Set::<u16>::open(&seg, "s") {
            let s = s.with_stall_timeout(Duration::from_millis(1));
            for k in 0..10u16 {
                let _ = s.insert(k);
                let _ = s.contains(&k);
                let _ = s.remove(&(k / 2));
            }
            let _ = s.members();
        }
    }
}

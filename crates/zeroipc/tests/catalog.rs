//! The type catalog (`__zeroipc_catalog`, docs/CATALOG.md): what every create records, two
//! processes appending at once, a catalog that is full, turned off, or corrupt.

mod common;

use std::os::unix::fs::FileExt;

use common::{ShmName, child_role, spawn_child, wait_ok};
use proptest::prelude::*;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::codata::channel::Channel;
use zeroipc::codata::future::Future;
use zeroipc::codata::lazy::Lazy;
use zeroipc::codata::stream::Stream;
use zeroipc::inspect::{Contents, Kind, Value, classify, classify_all, decode};
use zeroipc::segment::{CATALOG_ENTRY_NAME, CatalogError, CatalogKind, Record};
use zeroipc::structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc::sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal,
};
use zeroipc::{Segment, SegmentOptions};

#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Sample {
    id: i32,
    gain: f32,
    t: f64,
    flag: u8,
    _pad: [u8; 7],
}

fn record<'a>(records: &'a [Record], name: &str) -> &'a Record {
    records
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no record for {name}: {records:#?}"))
}

/// (kind, type name, elem size, elem align, value size, value align, layout, parts)
type Expect<'a> = (
    CatalogKind,
    &'a str,
    u32,
    u32,
    u32,
    u32,
    &'a str,
    &'a [&'a str],
);

#[test]
fn every_structure_is_recorded_with_its_kind_type_size_alignment_and_entries() {
    let name = ShmName::new("catalog_every_kind");
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .max_entries(128)
        .create_new(name.as_str())
        .unwrap();
    Array::<f32>::create(&seg, "arr", 4).unwrap();
    Array::<Sample>::create(&seg, "samples", 2).unwrap();
    Queue::<u64>::create(&seg, "q", 8).unwrap();
    Stack::<i16>::create(&seg, "st", 8).unwrap();
    Ring::<i32>::create(&seg, "ring", 8).unwrap();
    Pool::<u32>::create(&seg, "pool", 8).unwrap();
    Map::<u32, f64>::create(&seg, "map", 8).unwrap();
    Set::<i64>::create(&seg, "set", 8).unwrap();
    Semaphore::create(&seg, "sem", 1, 4).unwrap();
    Mutex::create(&seg, "mtx").unwrap();
    RwLock::create(&seg, "rw").unwrap();
    Barrier::create(&seg, "bar", 2).unwrap();
    Latch::create(&seg, "latch", 2).unwrap();
    Once::create(&seg, "once").unwrap();
    Event::create(&seg, "ev", EventMode::ManualReset).unwrap();
    Monitor::create(&seg, "mon").unwrap();
    Signal::<f64>::create(&seg, "sig", 1.5).unwrap();
    Future::<u64>::create(&seg, "fut").unwrap();
    Lazy::<f64>::create(&seg, "lazy").unwrap();
    Channel::<u32>::create(&seg, "chb", 4).unwrap();
    Channel::<u16>::create(&seg, "chu", 0).unwrap();
    Stream::<i32>::create(&seg, "str", 8).unwrap();

    let c = seg.catalog().unwrap().expect("a catalog");
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    let sample = std::any::type_name::<Sample>();
    let expected: Vec<(&str, Expect)> = vec![
        ("arr", (CatalogKind::Array, "f32", 4, 4, 0, 0, "f32", &[""])),
        (
            "samples",
            (CatalogKind::Array, sample, 24, 8, 0, 0, "", &[""]),
        ),
        ("q", (CatalogKind::Queue, "u64", 8, 8, 0, 0, "u64", &[""])),
        ("st", (CatalogKind::Stack, "i16", 2, 2, 0, 0, "i16", &[""])),
        ("ring", (CatalogKind::Ring, "i32", 4, 4, 0, 0, "i32", &[""])),
        ("pool", (CatalogKind::Pool, "u32", 4, 4, 0, 0, "u32", &[""])),
        (
            "map",
            (CatalogKind::Map, "u32=f64", 4, 4, 8, 8, "u32=f64", &[""]),
        ),
        ("set", (CatalogKind::Set, "i64", 8, 8, 0, 0, "i64", &[""])),
        ("sem", (CatalogKind::Semaphore, "", 0, 0, 0, 0, "", &[""])),
        ("mtx", (CatalogKind::Mutex, "", 0, 0, 0, 0, "", &[""])),
        (
            "rw",
            (
                CatalogKind::RwLock,
                "",
                0,
                0,
                0,
                0,
                "",
                &["_state", "_rmtx", "_wmtx", ""],
            ),
        ),
        ("rw_rmtx", (CatalogKind::Mutex, "", 0, 0, 0, 0, "", &[""])),
        ("bar", (CatalogKind::Barrier, "", 0, 0, 0, 0, "", &[""])),
        ("latch", (CatalogKind::Latch, "", 0, 0, 0, 0, "", &[""])),
        ("once", (CatalogKind::Once, "", 0, 0, 0, 0, "", &[""])),
        (
            "ev",
            (CatalogKind::Event, "", 0, 0, 0, 0, "", &["", "_sem"]),
        ),
        (
            "ev_sem",
            (CatalogKind::Semaphore, "", 0, 0, 0, 0, "", &[""]),
        ),
        (
            "mon",
            (
                CatalogKind::Monitor,
                "",
                0,
                0,
                0,
                0,
                "",
                &["_mtx", "_cond", "_count", ""],
            ),
        ),
        (
            "mon_cond",
            (CatalogKind::Semaphore, "", 0, 0, 0, 0, "", &[""]),
        ),
        (
            "sig",
            (
                CatalogKind::Signal,
                "f64",
                8,
                8,
                0,
                0,
                "f64",
                &["_state", "_mtx", ""],
            ),
        ),
        (
            "fut",
            (CatalogKind::Future, "u64", 8, 8, 0, 0, "u64", &[""]),
        ),
        ("lazy", (CatalogKind::Lazy, "f64", 8, 8, 0, 0, "f64", &[""])),
        (
            "chb",
            (
                CatalogKind::Channel,
                "u32",
                4,
                4,
                0,
                0,
                "u32",
                &["_header", "_buffer"],
            ),
        ),
        (
            "chb_buffer",
            (CatalogKind::Queue, "u32", 4, 4, 0, 0, "u32", &[""]),
        ),
        (
            "chu",
            (
                CatalogKind::Channel,
                "u16",
                2,
                2,
                0,
                0,
                "u16",
                &["_header", "_slot"],
            ),
        ),
        (
            "str",
            (
                CatalogKind::Stream,
                "i32",
                4,
                4,
                0,
                0,
                "i32",
                &["_header", "_buffer"],
            ),
        ),
        (
            "str_buffer",
            (CatalogKind::Ring, "i32", 4, 4, 0, 0, "i32", &[""]),
        ),
    ];
    for (n, (kind, ty, es, ea, vs, va, layout, parts)) in expected {
        let r = record(&c.records, n);
        assert_eq!(r.kind, kind, "{n}");
        assert_eq!(r.type_name, ty, "{n}");
        assert_eq!((r.elem_size, r.elem_align), (es, ea), "{n}");
        assert_eq!((r.value_size, r.value_align), (vs, va), "{n}");
        assert_eq!(r.layout, layout, "{n}");
        assert_eq!(r.parts, parts, "{n}");
        // The record names its first entry by index, and every entry exists.
        let first = seg.find(&r.entry_names()[0]).unwrap();
        assert_eq!(first.index(), r.entry_index, "{n}");
        for e in r.entry_names() {
            seg.find(&e).unwrap();
        }
    }
    // Decoding every entry with what the catalog says finds nothing wrong.
    for (e, k) in classify_all(&seg).unwrap() {
        assert!(
            !matches!(k, Kind::Unknown | Kind::Ambiguous(_)),
            "{}: {k}",
            e.name()
        );
        let d = decode(&seg, &e, &k, None);
        assert!(d.problems.is_empty(), "{}: {:?}", e.name(), d.problems);
        assert_eq!(d.type_error, None, "{}", e.name());
    }
    // Every table entry but the catalog and the registries (zeroipc's bookkeeping, added
    // with the first Queue and the first Semaphore, recognised by `inspect`) is described by
    // a record or is part of one.
    for e in seg.entries().unwrap() {
        if e.name() == CATALOG_ENTRY_NAME {
            assert_eq!(e.index(), 0);
            continue;
        }
        if e.name() == "__zeroipc_waiters" || e.name() == "__zeroipc_permits" {
            continue;
        }
        assert!(
            c.describing(&e).is_some() || c.containing(&e).is_some(),
            "{} is not recorded",
            e.name()
        );
    }
}

#[test]
fn classify_and_decode_use_the_catalog_for_exact_kinds_and_values() {
    let name = ShmName::new("catalog_classify");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    // A 16-byte sync primitive alone is ambiguous by its bytes; the catalog settles it.
    Barrier::create(&seg, "bar", 3).unwrap();
    Latch::create(&seg, "latch", 3).unwrap();
    let q = Queue::<i64>::create(&seg, "q", 4).unwrap();
    q.push(-5).unwrap();
    q.push(7).unwrap();
    let m = Map::<u32, f64>::create(&seg, "m", 8).unwrap();
    m.insert(3, 0.5).unwrap();
    let a = Array::<Sample>::create(&seg, "samples", 2).unwrap();
    a.set(
        1,
        Sample {
            id: -2,
            gain: 0.25,
            t: 1e9,
            flag: 7,
            _pad: [0; 7],
        },
    )
    .unwrap();

    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let kinds = classify_all(&ro).unwrap();
    let kind_of = |n: &str| kinds.iter().find(|(e, _)| e.name() == n).unwrap().1.clone();
    assert_eq!(kind_of(CATALOG_ENTRY_NAME).name(), "catalog");
    assert_eq!(kind_of("bar").name(), "barrier");
    assert_eq!(kind_of("latch").name(), "latch");

    let e = ro.find("q").unwrap();
    let d = decode(&ro, &e, &classify(&ro, &e), None);
    assert_eq!(d.spec, Some("i64".parse().unwrap()));
    let values: Vec<Value> = d.items().iter().map(|i| i.value.clone()).collect();
    assert_eq!(values, [Value::Signed(-5), Value::Signed(7)]);

    let e = ro.find("m").unwrap();
    let d = decode(&ro, &e, &classify(&ro, &e), None);
    let Contents::Pairs(pairs) = &d.contents else {
        panic!("{d:?}")
    };
    assert_eq!(pairs[0].key, Some(Value::Unsigned(3)));
    assert_eq!(pairs[0].value, Value::F64(0.5));

    // A user struct is not decoded until its layout is described...
    let e = ro.find("samples").unwrap();
    let d = decode(&ro, &e, &classify(&ro, &e), None);
    assert_eq!(d.contents, Contents::None);
    seg.describe("samples", "i32,f32,f64,u8").unwrap();
    let d = decode(&ro, &e, &classify(&ro, &e), None);
    assert_eq!(d.spec, Some("i32,f32,f64,u8".parse().unwrap()));
    assert_eq!(
        d.items()[1].value,
        Value::Struct(vec![
            Value::Signed(-2),
            Value::F32(0.25),
            Value::F64(1e9),
            Value::Unsigned(7)
        ])
    );
    // ...and a layout of the wrong size is refused.
    let err = seg.describe("samples", "i32,f32").unwrap_err();
    assert!(
        err.to_string().contains("8 bytes, the element is 24"),
        "{err}"
    );
    // The catalog entry lists its records.
    let c = ro.find(CATALOG_ENTRY_NAME).unwrap();
    let d = decode(&ro, &c, &classify(&ro, &c), None);
    assert!(matches!(d.kind, Kind::Catalog { .. }));
    let names: Vec<&str> = d.records.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["bar", "latch", "q", "m", "samples"]);
}

#[test]
fn when_the_catalog_contradicts_the_header_the_bytes_win() {
    let name = ShmName::new("catalog_bytes_win");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    let q = Queue::<u32>::create(&seg, "q", 4).unwrap();
    q.push(9).unwrap();
    let cat = seg.find(CATALOG_ENTRY_NAME).unwrap();
    // Record 0's elem_size (at 16 + 0x28) says 8, its layout (at 16 + 0xA0) "u64".
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    file.write_all_at(&8u32.to_le_bytes(), cat.offset() + 16 + 0x28)
        .unwrap();
    file.write_all_at(b"u64\0", cat.offset() + 16 + 0xA0)
        .unwrap();
    let e = seg.find("q").unwrap();
    let kind = classify(&seg, &e);
    assert_eq!(
        kind,
        Kind::Queue {
            capacity: 4,
            elem_size: 4,
            head: 0,
            tail: 1
        }
    );
    let d = decode(&seg, &e, &kind, None);
    assert_eq!(d.spec, None);
    assert_eq!(d.contents, Contents::None);
    assert!(
        d.problems.iter().any(|p| p.contains("the header wins")),
        "{:?}",
        d.problems
    );
    assert!(
        d.problems
            .iter()
            .any(|p| p.contains("does not fit the bytes")),
        "{:?}",
        d.problems
    );
    // `--as` still decodes.
    let d = decode(&seg, &e, &kind, Some("u32".parse().unwrap()));
    assert_eq!(d.items()[0].value, Value::Unsigned(9));
}

#[test]
fn a_full_or_absent_catalog_never_fails_a_create() {
    // 64 KiB with 64 entries: the catalog holds 30 records.
    let name = ShmName::new("catalog_full");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let cap = seg.catalog().unwrap().unwrap().capacity;
    assert_eq!(cap, 30);
    for i in 0..40 {
        Mutex::create(&seg, &format!("m{i}")).unwrap();
    }
    let c = seg.catalog().unwrap().unwrap();
    assert_eq!((c.count, c.records.len()), (cap, cap as usize));
    assert!(c.records.iter().all(|r| r.kind == CatalogKind::Mutex));

    // Turned off: the table is exactly what upstream would write.
    let off = ShmName::new("catalog_off");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .catalog(false)
        .create_new(off.as_str())
        .unwrap();
    assert_eq!(seg.catalog().unwrap(), None);
    let q = Queue::<u8>::create(&seg, "q", 2).unwrap();
    assert_eq!(q.entry().index(), 0);
    assert_eq!(q.entry().offset(), 32 + 48 * 64);

    // Too small for a record in an eighth of it, or one table slot: none either.
    let tiny = ShmName::new("catalog_tiny");
    let seg = SegmentOptions::new()
        .size(4 * 1024)
        .max_entries(64)
        .create_new(tiny.as_str())
        .unwrap();
    assert_eq!(seg.catalog().unwrap(), None);
    let one = ShmName::new("catalog_one_slot");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .max_entries(1)
        .create_new(one.as_str())
        .unwrap();
    Queue::<u8>::create(&seg, "q", 2).unwrap();
    assert_eq!(seg.catalog().unwrap(), None);
}

const PER_CHILD: usize = 12;

#[test]
fn two_processes_creating_at_once_leave_a_consistent_catalog() {
    for role in ["a", "b"] {
        if let Some(seg_name) = child_role(role) {
            let seg = Segment::open(&seg_name).unwrap();
            for i in 0..PER_CHILD {
                let n = format!("{role}{i}");
                if i % 2 == 0 {
                    Queue::<u32>::create(&seg, &n, 4).unwrap();
                } else {
                    RwLock::create(&seg, &n).unwrap();
                }
            }
            return;
        }
    }
    let name = ShmName::new("catalog_two_processes");
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .max_entries(200)
        .create_new(name.as_str())
        .unwrap();
    let test = "two_processes_creating_at_once_leave_a_consistent_catalog";
    let a = spawn_child(test, "a", &name);
    let b = spawn_child(test, "b", &name);
    wait_ok(a, 60);
    wait_ok(b, 60);
    let c = seg.catalog().unwrap().unwrap();
    assert!(c.problems.is_empty(), "{:?}", c.problems);
    // Each RwLock records itself and its two mutexes: 6 queues + 6 × 3 per child.
    assert_eq!(c.count as usize, 2 * (PER_CHILD / 2 * 4));
    for role in ["a", "b"] {
        for i in 0..PER_CHILD {
            let n = format!("{role}{i}");
            let r = record(&c.records, &n);
            let kind = if i % 2 == 0 {
                CatalogKind::Queue
            } else {
                CatalogKind::RwLock
            };
            assert_eq!(r.kind, kind);
            let first = seg.find(&r.entry_names()[0]).unwrap();
            assert_eq!(first.index(), r.entry_index);
        }
    }
}

#[test]
fn a_catalog_with_a_bad_header_is_a_typed_error_and_the_segment_still_works() {
    let name = ShmName::new("catalog_bad_header");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    let cat = seg.find(CATALOG_ENTRY_NAME).unwrap();
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    file.write_all_at(&1000u32.to_le_bytes(), cat.offset() + 12)
        .unwrap();
    assert_eq!(
        seg.catalog(),
        Err(CatalogError::Count {
            count: 1000,
            capacity: 63
        })
    );
    // Creates still work (and record nothing); classification falls back to the bytes.
    let q = Queue::<u16>::create(&seg, "q", 4).unwrap();
    assert_eq!(classify(&seg, q.entry()).name(), "queue");
    file.write_all_at(b"XXXX", cat.offset()).unwrap();
    assert!(matches!(seg.catalog(), Err(CatalogError::BadMagic { .. })));
    assert_eq!(classify(&seg, &cat), Kind::Unknown);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any bytes in the catalog (header and records) give a catalog, a typed error, or
    /// skipped records: never a panic, and classify/decode of every entry still answer.
    #[test]
    fn corrupt_catalog_bytes_never_panic(
        writes in proptest::collection::vec((0u64..(16 + 256 * 4), any::<u8>()), 1..64),
        header in proptest::option::of(any::<[u8; 16]>()),
    ) {
        let name = ShmName::new("catalog_proptest");
        let seg = SegmentOptions::new().size(1 << 20).create_new(name.as_str()).unwrap();
        Queue::<u32>::create(&seg, "q", 4).unwrap();
        Map::<u32, f64>::create(&seg, "m", 4).unwrap();
        RwLock::create(&seg, "rw").unwrap();
        let cat = seg.find(CATALOG_ENTRY_NAME).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(name.path()).unwrap();
        if let Some(h) = header {
            file.write_all_at(&h, cat.offset()).unwrap();
        }
        for (at, b) in writes {
            file.write_all_at(&[b], cat.offset() + at).unwrap();
        }
        let ro = Segment::open_read_only(name.as_str()).unwrap();
        if let Ok(Some(c)) = ro.catalog() {
            prop_assert!(c.records.len() <= c.count as usize);
            for r in &c.records {
                for n in r.entry_names() {
                    prop_assert!(ro.find(&n).is_ok());
                }
            }
        }
        for (e, k) in classify_all(&ro).unwrap() {
            let _ = decode(&ro, &e, &k, None);
        }
        // Creating still works whatever the catalog holds.
        Mutex::create(&seg, "after").unwrap();
    }
}

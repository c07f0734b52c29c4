//! `zeroipc::inspect::decode` against the golden manifests (every container and sync
//! primitive of every image decodes to the manifest's expected contents, and decoding
//! leaves the bytes unchanged), against segments made by this library, and against
//! hostile bytes (never a panic).

mod common;

use common::{ShmName, child_role, golden_dir, image, load_golden, spawn_child};
use proptest::prelude::*;
use serde_json::Value as Json;
use zeroipc::inspect::{
    Contents, Decoded, ElemType, FieldValue, Kind, KindName, SlotState, TypeSpec, Value, classify,
    classify_all, decode, find_structure, read_as,
};
use zeroipc::structures::{Pool, Queue, Stack};
use zeroipc::sync::{Mutex, Once, RwLock};
use zeroipc::{ReadOnlySegment, Segment, SegmentOptions};

const IMAGES: [&str; 4] = ["cpp_all.bin", "cpp_min.bin", "python_all.bin", "c_all.bin"];

/// The manifest kinds this test checks, and the decoded name each must have.
const CHECKED: [&str; 15] = [
    "queue",
    "stack",
    "ring",
    "pool",
    "map",
    "set",
    "semaphore",
    "mutex",
    "barrier",
    "latch",
    "once",
    "event",
    "rwlock",
    "monitor",
    "signal",
];

fn elem(types: &Json, key: &str) -> Option<ElemType> {
    types[key].as_str()?.parse().ok()
}

/// The `--as` for a manifest structure, `None` when its type is a struct (Point, Key16).
fn spec_of(st: &Json) -> Option<TypeSpec> {
    let t = &st["types"];
    if t.get("key").is_some() {
        return Some(TypeSpec::pair(elem(t, "key")?, elem(t, "value")?));
    }
    Some(TypeSpec::one(elem(t, "elem")?))
}

/// The candidate decoded as `kind` (the decoded itself when not ambiguous).
fn as_kind<'a>(d: &'a Decoded, kind: &str) -> &'a Decoded {
    if let Kind::Ambiguous(_) = d.kind {
        d.candidates
            .iter()
            .find(|c| c.name == kind)
            .unwrap_or_else(|| panic!("no {kind} candidate among {:?}", d.kind))
    } else {
        assert_eq!(d.name, kind, "{:?}", d.kind);
        d
    }
}

fn num(d: &Decoded, field: &str) -> i128 {
    match d.field(field) {
        Some(FieldValue::Unsigned(u)) => i128::from(*u),
        Some(FieldValue::Signed(s)) => i128::from(*s),
        Some(FieldValue::Bool(b)) => i128::from(*b),
        other => panic!("field {field}: {other:?} in {:?}", d.fields),
    }
}

fn json_num(j: &Json) -> i128 {
    j.as_i64()
        .map(i128::from)
        .or_else(|| j.as_u64().map(i128::from))
        .unwrap_or_else(|| panic!("not an integer: {j}"))
}

/// Whether a decoded value equals a manifest number (f32 compared as f32).
fn same(v: &Value, j: &Json) -> bool {
    match v {
        Value::Signed(s) => j.as_i64() == Some(*s),
        Value::Unsigned(u) => j.as_u64() == Some(*u),
        #[allow(clippy::cast_possible_truncation)]
        Value::F32(f) => j.as_f64().map(|x| x as f32) == Some(*f),
        Value::F64(f) => j.as_f64() == Some(*f),
        _ => false,
    }
}

fn values(d: &Decoded) -> Vec<Value> {
    d.items().iter().map(|i| i.value.clone()).collect()
}

fn assert_values(d: &Decoded, expected: &Json, what: &str) {
    let exp = expected.as_array().unwrap();
    let got = values(d);
    assert_eq!(got.len(), exp.len(), "{what}: {got:?} vs {exp:?}");
    for (g, e) in got.iter().zip(exp) {
        assert!(same(g, e), "{what}: {got:?} vs {exp:?}");
    }
    assert!(
        d.items().iter().all(|i| i.state == SlotState::Ready),
        "{what}: {:?}",
        d.items()
    );
}

fn check(d: &Decoded, kind: &str, st: &Json, spec: Option<TypeSpec>, what: &str) {
    let exp = &st["expected"];
    assert!(d.problems.is_empty(), "{what}: {:?}", d.problems);
    assert_eq!(d.type_error, None, "{what}");
    let fill = d.fill;
    let f = |name: &str| num(d, name);
    let e = |name: &str| json_num(&exp[name]);
    match kind {
        "queue" => {
            assert_eq!(
                (f("capacity"), f("head"), f("tail")),
                (e("capacity"), e("head"), e("tail")),
                "{what}"
            );
            assert_eq!(i128::from(fill.unwrap().len), e("size"), "{what}");
            if spec.is_some() {
                assert_values(d, &exp["pop_order"], what);
            }
        }
        "stack" => {
            assert_eq!(
                (f("capacity"), f("top")),
                (e("capacity"), e("top")),
                "{what}"
            );
            assert_eq!(i128::from(fill.unwrap().len), e("size"), "{what}");
            if spec.is_some() {
                assert_values(d, &exp["pop_order"], what);
            }
        }
        "ring" => {
            assert_eq!(
                (f("capacity_bytes"), f("write_pos"), f("read_pos")),
                (e("capacity_bytes"), e("write_pos"), e("read_pos")),
                "{what}"
            );
            assert_eq!(i128::from(fill.unwrap().len), e("available"), "{what}");
            if spec.is_some() {
                assert_values(d, &exp["read_order"], what);
            }
        }
        "pool" => {
            assert_eq!(
                (
                    f("allocated"),
                    f("free_head_index"),
                    f("free_head_generation")
                ),
                (
                    e("allocated"),
                    e("free_head_index"),
                    e("free_head_generation")
                ),
                "{what}"
            );
            let free: Vec<i128> = exp["free_list"]
                .as_array()
                .unwrap()
                .iter()
                .map(json_num)
                .collect();
            let got: Vec<i128> = d
                .free_list
                .as_ref()
                .unwrap()
                .iter()
                .map(|&i| i128::from(i))
                .collect();
            assert_eq!(got, free, "{what}");
            assert_eq!(f("free_list_len"), i128::try_from(free.len()).unwrap());
            if spec.is_some() {
                let alloc = exp["allocated_values"].as_object().unwrap();
                assert_eq!(d.items().len(), alloc.len(), "{what}");
                for item in d.items() {
                    let want = &alloc[&item.slot.to_string()];
                    assert!(
                        same(&item.value, want),
                        "{what}: node {} {:?} vs {want}",
                        item.slot,
                        item.value
                    );
                }
            }
        }
        "map" | "set" => {
            assert_eq!(f("capacity"), e("capacity"), "{what}");
            assert_eq!(i128::from(fill.unwrap().len), e("size"), "{what}");
            if spec.is_some() {
                let key = if kind == "map" { "items" } else { "members" };
                let exp = exp[key].as_array().unwrap();
                assert_eq!(d.items().len(), exp.len(), "{what}: {:?}", d.items());
                for want in exp {
                    let found = d.items().iter().any(|i| match (kind, &i.key) {
                        ("map", Some(k)) => same(k, &want[0]) && same(&i.value, &want[1]),
                        _ => same(&i.value, want),
                    });
                    assert!(found, "{what}: {want} not in {:?}", d.items());
                }
                let contents_ok = match kind {
                    "map" => matches!(d.contents, Contents::Pairs(_)),
                    _ => matches!(d.contents, Contents::Members(_)),
                };
                assert!(contents_ok, "{what}");
            }
        }
        "semaphore" => {
            for k in ["count", "waiting", "max_count"] {
                assert_eq!(f(k), e(k), "{what}: {k}");
            }
        }
        "mutex" => {
            assert_eq!(f("count"), e("count"), "{what}");
            assert_eq!(f("max_count"), e("max_count"), "{what}");
            assert_eq!(
                d.field("locked"),
                Some(&FieldValue::Bool(exp["locked"].as_bool().unwrap())),
                "{what}"
            );
        }
        "barrier" => {
            for k in ["arrived", "generation", "num_participants"] {
                assert_eq!(f(k), e(k), "{what}: {k}");
            }
        }
        "latch" => {
            for k in ["count", "initial_count"] {
                assert_eq!(f(k), e(k), "{what}: {k}");
            }
        }
        "once" => assert_eq!(f("state_code"), e("state"), "{what}"),
        "event" => {
            assert_eq!(f("signaled"), e("signaled"), "{what}");
            let mode = if e("mode") == 0 {
                "auto_reset"
            } else {
                "manual_reset"
            };
            assert_eq!(d.field("mode"), Some(&FieldValue::Text(mode)), "{what}");
            assert_eq!(f("waiting"), e("waiting"), "{what}");
            assert_eq!(f("sem_count"), e("sem_count"), "{what}");
            assert_eq!(f("sem_max_count"), e("sem_max_count"), "{what}");
        }
        "rwlock" => {
            for k in ["readers", "writer_active", "rmtx_count", "wmtx_count"] {
                assert_eq!(f(k), e(k), "{what}: {k}");
            }
        }
        "monitor" => {
            for k in ["mtx_count", "cond_count", "cond_max_count"] {
                assert_eq!(f(k), e(k), "{what}: {k}");
            }
            assert_eq!(f("waiting"), e("waiting_count"), "{what}");
        }
        "signal" => {
            assert_eq!(
                (f("version"), f("mtx_count")),
                (e("version"), e("mtx_count")),
                "{what}"
            );
            if spec.is_some() {
                let Contents::Value(v) = &d.contents else {
                    panic!("{what}: {:?}", d.contents)
                };
                assert!(same(v, &exp["value"]), "{what}: {v:?}");
            }
        }
        other => unreachable!("{other}"),
    }
}

#[test]
fn golden_structures_decode_to_the_manifest_contents() {
    let mut checked = 0;
    for file in IMAGES {
        let name = load_golden(file);
        let before = std::fs::read(name.path()).unwrap();
        let seg = Segment::open_read_only(name.as_str()).unwrap();
        for st in image(file)["structures"].as_array().unwrap() {
            let kind = st["kind"].as_str().unwrap();
            if !CHECKED.contains(&kind) {
                continue;
            }
            let sname = st["name"].as_str().unwrap();
            let entry = find_structure(&seg, sname).unwrap();
            let k = classify(&seg, &entry);
            let spec = spec_of(st);
            let what = format!("{file}:{sname} ({kind}, {spec:?})");
            // Without a type: header fields, fill and sync state.
            let d = decode(&seg, &entry, &k, None);
            check(as_kind(&d, kind), kind, st, None, &what);
            // With the manifest's primitive type: the contents too.
            if spec.is_some() {
                let d = decode(&seg, &entry, &k, spec.clone());
                check(as_kind(&d, kind), kind, st, spec, &what);
            }
            checked += 1;
        }
        drop(seg);
        assert_eq!(
            std::fs::read(name.path()).unwrap(),
            before,
            "{file} changed"
        );
    }
    assert!(checked >= 85, "only {checked} structures checked");
}

#[test]
fn composites_decode_from_every_part() {
    let name = load_golden("cpp_all.bin");
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    for part in ["rw_write", "rw_write_state"] {
        let e = seg.find(part).unwrap();
        let d = decode(&seg, &e, &classify(&seg, &e), None);
        assert_eq!(d.name, "rwlock");
        assert_eq!(d.field("writer_active"), Some(&FieldValue::Signed(1)));
        assert_eq!(d.field("wmtx_locked"), Some(&FieldValue::Bool(true)));
        assert_eq!(d.field("rmtx_locked"), Some(&FieldValue::Bool(false)));
    }
    let e = seg.find("sig_f64_state").unwrap();
    let d = decode(&seg, &e, &classify(&seg, &e), Some("f64".parse().unwrap()));
    assert_eq!(
        (d.name, &d.contents),
        ("signal", &Contents::Value(Value::F64(1.5)))
    );
    let e = seg.find("mon_count").unwrap();
    assert_eq!(decode(&seg, &e, &classify(&seg, &e), None).name, "monitor");
}

#[test]
fn a_type_that_does_not_fit_is_reported_not_decoded() {
    let name = load_golden("cpp_all.bin");
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    let dec = |entry: &str, spec: &str| {
        let e = seg.find(entry).unwrap();
        decode(&seg, &e, &classify(&seg, &e), Some(spec.parse().unwrap()))
    };
    let d = dec("q_i32", "u64");
    assert!(
        d.type_error.as_deref().unwrap().contains("4 bytes"),
        "{:?}",
        d.type_error
    );
    assert_eq!(d.contents, Contents::None);
    assert!(
        dec("map_i32_i32", "i32")
            .type_error
            .unwrap()
            .contains("--as KEY=VALUE")
    );
    assert!(dec("map_i32_i32", "i32,i64").type_error.is_some());
    assert!(dec("q_i32", "i32,i32").type_error.is_some());
    assert!(dec("once_done", "i32").type_error.is_some());
    // The same bytes read as another type of the same size decode.
    assert_eq!(values(&dec("q_i32", "u32"))[0], Value::Unsigned(105));
}

fn segment(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap()
}

fn decode_named(ro: &ReadOnlySegment, entry: &str, spec: Option<&str>) -> Decoded {
    let e = find_structure(ro, entry).unwrap();
    decode(ro, &e, &classify(ro, &e), spec.map(|s| s.parse().unwrap()))
}

#[test]
fn library_structures_decode_in_pop_order_without_consuming() {
    let name = ShmName::new("decode_library");
    let seg = segment(&name);
    let q: Queue<i64> = Queue::create(&seg, "q", 4).unwrap();
    for v in [1, 2, 3, 4] {
        q.push(v).unwrap();
    }
    assert_eq!(q.try_pop(), Ok(1));
    q.push(5).unwrap(); // wraps
    let s: Stack<u16> = Stack::create(&seg, "s", 4).unwrap();
    for v in [10, 20, 30] {
        s.push(v).unwrap();
    }
    let p: Pool<f64> = Pool::create(&seg, "p", 4).unwrap();
    let a = p.allocate().unwrap();
    p.set(a, 2.5).unwrap();
    let b = p.allocate().unwrap();
    p.set(b, -1.0).unwrap();
    p.free(a).unwrap();

    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let d = decode_named(&ro, "q", Some("i64"));
    assert_eq!(values(&d), [2, 3, 4, 5].map(Value::Signed));
    assert_eq!(d.fill.map(|f| (f.len, f.capacity)), Some((4, 4)));
    assert_eq!(d.items()[3].slot, 0);
    let d = decode_named(&ro, "s", Some("u16"));
    assert_eq!(values(&d), [30, 20, 10].map(Value::Unsigned));
    let d = decode_named(&ro, "p", Some("f64"));
    assert_eq!(values(&d), [Value::F64(-1.0)]);
    assert_eq!(d.free_list.as_ref().map(Vec::len), Some(3));
    assert_eq!(d.field("allocated"), Some(&FieldValue::Unsigned(1)));

    // Nothing was consumed.
    assert_eq!(q.try_pop(), Ok(2));
    assert_eq!(s.try_pop(), Ok(30));
}

#[test]
fn a_held_mutex_shows_this_process_as_its_live_holder() {
    let name = ShmName::new("decode_mutex");
    let seg = segment(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let rw = RwLock::create(&seg, "rw").unwrap();
    let me = FieldValue::Unsigned(std::process::id().into());
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    {
        let _g = m.lock().unwrap();
        let _w = rw.write().unwrap();
        let e = ro.find("m").unwrap();
        let k = classify(&ro, &e);
        assert!(matches!(k, Kind::Mutex { count: 0, .. }), "{k}");
        let d = decode(&ro, &e, &k, None);
        assert_eq!(d.field("locked"), Some(&FieldValue::Bool(true)));
        assert_eq!(d.field("holder_pid"), Some(&me));
        assert_eq!(d.field("holder_alive"), Some(&FieldValue::Bool(true)));
        let d = decode_named(&ro, "rw", None);
        assert_eq!(d.field("writer_active"), Some(&FieldValue::Signed(1)));
        assert_eq!(d.field("wmtx_holder_pid"), Some(&me));
        assert_eq!(d.field("rmtx_holder_pid"), None);
    }
    let d = decode_named(&ro, "m", None);
    let d = as_kind(&d, "mutex");
    assert_eq!(d.field("locked"), Some(&FieldValue::Bool(false)));
    assert_eq!(d.field("holder_pid"), None);
}

#[test]
fn impossible_values_are_reported() {
    // A stack whose top was overwritten with 99 (capacity 8), a queue with tail - head >
    // capacity, a pool whose free list cycles.
    let mut bytes = std::fs::read(golden_dir().join("cpp_all.bin")).unwrap();
    let at = |name: &str| {
        let img = image("cpp_all.bin");
        let e = img["table_entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["name"] == name)
            .cloned()
            .unwrap();
        usize::try_from(e["offset"].as_u64().unwrap()).unwrap()
    };
    let stk = at("stk_i32");
    let q = at("q_i32");
    let pool = at("pool_f64");
    let name = ShmName::new("decode_corrupt");
    bytes[stk..stk + 4].copy_from_slice(&99i32.to_le_bytes());
    bytes[q + 4..q + 8].copy_from_slice(&100u32.to_le_bytes());
    // pool_f64 free list 1 -> 3 -> 4 -> 5: make 5 point back at 3 (node 16 bytes, next at 8).
    let n5 = pool + 24 + 5 * 16 + 8;
    bytes[n5..n5 + 4].copy_from_slice(&3u32.to_le_bytes());
    std::fs::write(name.path(), &bytes).unwrap();
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let force = |entry: &str, kind: Kind, spec: &str| {
        let e = ro.find(entry).unwrap();
        // read_as gives the same kind from the raw header, without the classifier's checks.
        assert_eq!(
            read_as(&ro, &e, kind.name().parse().unwrap()).unwrap(),
            kind
        );
        decode(&ro, &e, &kind, Some(spec.parse().unwrap()))
    };
    let d = force(
        "stk_i32",
        Kind::Stack {
            capacity: 8,
            elem_size: 4,
            top: 99,
        },
        "i32",
    );
    assert_eq!(d.problems, ["corrupt: top 99 >= capacity 8"]);
    assert_eq!(d.items().len(), 8);
    let d = force(
        "q_i32",
        Kind::Queue {
            capacity: 8,
            elem_size: 4,
            head: 5,
            tail: 100,
        },
        "i32",
    );
    assert_eq!(d.problems, ["corrupt: tail - head = 95 > capacity 8"]);
    // The classifier refuses a cycling free list; decode it as the pool it was.
    let e = ro.find("pool_f64").unwrap();
    assert!(!matches!(classify(&ro, &e), Kind::Pool { .. }));
    let d = force(
        "pool_f64",
        Kind::Pool {
            capacity: 6,
            elem_size: 8,
            allocated: 2,
            node_size: 16,
            free_head: (4 << 32) | 1,
        },
        "f64",
    );
    assert!(
        d.problems[0].contains("cycles back to node 3"),
        "{:?}",
        d.problems
    );
    assert_eq!(d.free_list, Some(vec![1, 3, 4, 5]));
}

/// Every kind a classifier can return, with geometry taken from hostile bytes.
fn forced_kinds(b: &[u8]) -> Vec<Kind> {
    let w = |i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let q = |i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    #[allow(clippy::cast_possible_wrap)]
    let s = |i: usize| w(i) as i32;
    vec![
        Kind::Array {
            capacity: q(0),
            elem_size: q(8) % 9,
        },
        Kind::CArray {
            capacity: q(0),
            elem_size: q(8),
        },
        Kind::Queue {
            capacity: w(8),
            elem_size: w(12),
            head: 0,
            tail: 0,
        },
        Kind::Stack {
            capacity: w(4),
            elem_size: w(8),
            top: 0,
        },
        Kind::Ring {
            capacity: w(16),
            elem_size: w(20),
            write_pos: 0,
            read_pos: 0,
        },
        Kind::Pool {
            capacity: w(16),
            elem_size: w(20),
            allocated: 0,
            node_size: q(8),
            free_head: q(0),
        },
        Kind::Map {
            flavor: zeroipc::inspect::Flavor::Cpp,
            capacity: w(4),
            key_size: w(8),
            value_size: w(12),
            len: w(0),
            entry_size: q(8) % 64,
        },
        Kind::Set {
            flavor: zeroipc::inspect::Flavor::Python,
            capacity: w(4),
            elem_size: w(8),
            len: w(0),
            entry_size: q(8) % 64,
        },
        Kind::Semaphore {
            count: s(0),
            waiting: 0,
            max_count: 0,
        },
        Kind::Mutex {
            count: 0,
            waiting: 0,
        },
        Kind::Barrier {
            arrived: 0,
            generation: 0,
            participants: 0,
        },
        Kind::Latch {
            count: 0,
            initial_count: 0,
        },
        Kind::Once { state: 0 },
        Kind::Event {
            signaled: 0,
            mode: 0,
            waiting: 0,
        },
        Kind::RwLockState {
            readers: 0,
            writer_active: 0,
        },
        Kind::MonitorCount { waiting: 0 },
        Kind::SignalState {
            version: 0,
            value_size_min: 0,
            value_size_max: 0,
        },
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Random bytes over a structure's header (and beyond): classify and decode every entry,
    /// and decode as every kind with the hostile geometry, with and without types. Never a
    /// panic; the image is never written.
    #[test]
    fn hostile_headers_never_panic(
        entry in 0usize..84,
        damage in proptest::collection::vec((0usize..64, any::<u8>()), 1..24),
    ) {
        let img = image("cpp_all.bin");
        let e = &img["table_entries"][entry];
        let off = usize::try_from(e["offset"].as_u64().unwrap()).unwrap();
        let mut bytes = std::fs::read(golden_dir().join("cpp_all.bin")).unwrap();
        for (i, v) in damage {
            bytes[off + i] = v;
        }
        let name = ShmName::new("decode_hostile");
        std::fs::write(name.path(), &bytes).unwrap();
        let ro = Segment::open_read_only(name.as_str()).unwrap();
        let specs: [Option<TypeSpec>; 5] = [None, "u8".parse().ok(), "i32".parse().ok(), "i32,f64".parse().ok(), "i32=f64".parse().ok()];
        for (entry, kind) in classify_all(&ro).unwrap() {
            for spec in &specs {
                let _ = decode(&ro, &entry, &kind, spec.clone());
            }
        }
        let target = ro.find(e["name"].as_str().unwrap()).unwrap();
        for kind in forced_kinds(&bytes[off..off + 64]) {
            for spec in &specs {
                let _ = decode(&ro, &target, &kind, spec.clone());
            }
        }
        drop(ro);
        prop_assert_eq!(std::fs::read(name.path()).unwrap(), bytes);
    }
}

#[test]
fn read_as_refuses_geometry_that_does_not_fit() {
    let name = load_golden("cpp_all.bin");
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let e = ro.find("q_i32").unwrap();
    let err = read_as(&ro, &e, KindName::Stack).unwrap_err().to_string();
    assert!(err.contains("needs 160 bytes"), "{err}");
    assert!(read_as(&ro, &e, KindName::Semaphore).is_err());
    assert!(
        "no_such_kind"
            .parse::<KindName>()
            .unwrap_err()
            .to_string()
            .contains("unknown kind")
    );
    let e = ro.find("sem").unwrap();
    let d = decode(
        &ro,
        &e,
        &read_as(&ro, &e, KindName::Semaphore).unwrap(),
        None,
    );
    assert_eq!(d.field("max_count"), Some(&FieldValue::Signed(5)));
    for (entry, _) in classify_all(&ro).unwrap() {
        for kind in KindName::ALL {
            if let Ok(k) = read_as(&ro, &entry, kind) {
                let _ = decode(&ro, &entry, &k, Some("u8".parse().unwrap()));
            }
        }
    }
}

#[test]
fn holders_that_died_are_shown_dead() {
    if let Some(name) = child_role("die_holding") {
        let seg = Segment::open(&name).unwrap();
        let m = Mutex::open(&seg, "m").unwrap();
        let once = Once::open(&seg, "init").unwrap();
        let guard = m.lock().unwrap();
        std::mem::forget(guard);
        // Exits inside the initialiser: the Once stays EXECUTING with our pid.
        let _ = once.call_once(|| std::process::exit(0));
        unreachable!("call_once returned");
    }
    let name = ShmName::new("decode_dead_holders");
    let seg = segment(&name);
    Mutex::create(&seg, "m").unwrap();
    Once::create(&seg, "init").unwrap();
    let mut child = spawn_child("holders_that_died_are_shown_dead", "die_holding", &name);
    let pid = child.id();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "child: {status}");
            break; // reaped: not a zombie
        }
        assert!(std::time::Instant::now() < deadline, "child did not exit");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let dead = FieldValue::Bool(false);
    let d = decode_named(&ro, "m", None);
    assert_eq!(d.field("locked"), Some(&FieldValue::Bool(true)));
    assert_eq!(
        d.field("holder_pid"),
        Some(&FieldValue::Unsigned(pid.into()))
    );
    assert_eq!(d.field("holder_alive"), Some(&dead));
    let d = decode_named(&ro, "init", None);
    assert_eq!(d.field("state"), Some(&FieldValue::Text("executing")));
    assert_eq!(
        d.field("initialiser_pid"),
        Some(&FieldValue::Unsigned(pid.into()))
    );
    assert_eq!(d.field("initialiser_alive"), Some(&dead));
}

#[test]
fn stack_slots_in_flight_are_marked() {
    // stk_i32: top 3, states [2, 2, 2, 2, 0, ...]; slot 3 WRITING, slot 1 READING.
    let mut bytes = std::fs::read(golden_dir().join("cpp_all.bin")).unwrap();
    let img = image("cpp_all.bin");
    let e = img["table_entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "stk_i32")
        .cloned()
        .unwrap();
    let states = usize::try_from(e["offset"].as_u64().unwrap()).unwrap() + 48;
    bytes[states + 12..states + 16].copy_from_slice(&1u32.to_le_bytes());
    bytes[states + 4..states + 8].copy_from_slice(&3u32.to_le_bytes());
    let name = ShmName::new("decode_stack_states");
    std::fs::write(name.path(), &bytes).unwrap();
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let d = decode_named(&ro, "stk_i32", Some("i32"));
    let states: Vec<SlotState> = d.items().iter().map(|i| i.state).collect();
    assert_eq!(
        states,
        [
            SlotState::Writing,
            SlotState::Ready,
            SlotState::Reading,
            SlotState::Ready
        ]
    );
    assert_eq!(values(&d), [40, 30, 20, 10].map(Value::Signed));
}

/// The decoded (or its candidate) named `kind`, for codata that may be ambiguous.
fn codata<'a>(d: &'a Decoded, kind: &str) -> &'a Decoded {
    if d.candidates.is_empty() {
        assert_eq!(d.name, kind, "{:?}", d.kind);
        return d;
    }
    d.candidates
        .iter()
        .find(|c| c.name == kind)
        .unwrap_or_else(|| panic!("no {kind} candidate among {:?}", d.kind))
}

#[test]
fn golden_codata_decode_to_the_manifest() {
    let name = load_golden("cpp_all.bin");
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    let mut checked = 0;
    for st in image("cpp_all.bin")["structures"].as_array().unwrap() {
        let (kind, sname) = (st["kind"].as_str().unwrap(), st["name"].as_str().unwrap());
        let exp = &st["expected"];
        let spec = spec_of(st);
        let entry = find_structure(&seg, sname).unwrap();
        let k = classify(&seg, &entry);
        let untyped = decode(&seg, &entry, &k, None);
        let typed = decode(&seg, &entry, &k, spec.clone());
        let what = format!("{sname} ({kind})");
        match kind {
            "future" => {
                for d in [codata(&untyped, "future"), codata(&typed, "future")] {
                    let state = d.field("state").unwrap().to_string();
                    assert_eq!(
                        state,
                        exp["state"].as_str().unwrap().to_lowercase(),
                        "{what}"
                    );
                    assert_eq!(num(d, "waiters"), json_num(&exp["waiters"]), "{what}");
                    assert_eq!(d.text("error"), exp["error"].as_str(), "{what}");
                }
                let d = codata(&typed, "future");
                match (&d.contents, &spec) {
                    (Contents::Value(v), Some(_)) => assert!(same(v, &exp["value"]), "{what}: {v}"),
                    (Contents::None, _) => assert!(exp.get("value").is_none() || spec.is_none()),
                    other => panic!("{what}: {other:?}"),
                }
            }
            "lazy" => {
                for d in [codata(&untyped, "lazy"), codata(&typed, "lazy")] {
                    assert_eq!(
                        num(d, "compute_count"),
                        json_num(&exp["compute_count"]),
                        "{what}"
                    );
                    let computed = d.field("state").unwrap().to_string() == "computed";
                    assert_eq!(computed, exp["computed"].as_bool().unwrap(), "{what}");
                    assert_eq!(d.text("error"), None, "{what}");
                }
                let d = codata(&typed, "lazy");
                match &d.contents {
                    Contents::Value(v) => assert!(same(v, &exp["value"]), "{what}: {v}"),
                    Contents::None => assert!(exp.get("value").is_none(), "{what}"),
                    other => panic!("{what}: {other:?}"),
                }
                let want: Vec<&Json> = exp["operands"].as_array().map_or_else(
                    || exp.get("value").into_iter().collect(),
                    |a| a.iter().collect(),
                );
                assert_eq!(d.operands.len(), want.len(), "{what}: {:?}", d.operands);
                assert!(
                    d.operands.iter().zip(want).all(|(v, j)| same(v, j)),
                    "{what}"
                );
            }
            "stream" => {
                for via in [sname.to_owned(), format!("{sname}_header")] {
                    let e = find_structure(&seg, &via).unwrap();
                    let d = decode(&seg, &e, &classify(&seg, &e), spec.clone());
                    assert_eq!(d.name, "stream", "{what}");
                    assert_eq!(num(&d, "sequence"), json_num(&exp["sequence"]), "{what}");
                    assert_eq!(num(&d, "subscribers"), json_num(&exp["subscribers"]));
                    assert_eq!(num(&d, "closed") != 0, exp["closed"].as_bool().unwrap());
                    assert_eq!(d.text("transform"), Some(""), "{what}");
                    let fill = d.fill.unwrap();
                    let len = exp["read_order"].as_array().unwrap().len() as u64;
                    assert_eq!(
                        (fill.len, fill.capacity),
                        (len, exp["buffer_capacity"].as_u64().unwrap())
                    );
                    assert_values(&d, &exp["read_order"], &what);
                    assert!(d.problems.is_empty(), "{what}: {:?}", d.problems);
                }
            }
            "channel" | "channel_unbuffered" => {
                for d in [&untyped, &typed] {
                    assert_eq!(d.name, "channel", "{what}");
                    assert_eq!(num(d, "capacity"), json_num(&exp["capacity"]), "{what}");
                    assert_eq!(num(d, "senders"), json_num(&exp["senders"]), "{what}");
                    assert_eq!(num(d, "receivers"), json_num(&exp["receivers"]), "{what}");
                    assert_eq!(num(d, "closed") != 0, exp["closed"].as_bool().unwrap());
                    assert_eq!(
                        d.field("buffered"),
                        Some(&FieldValue::Bool(exp["buffered"].as_bool().unwrap()))
                    );
                    assert!(d.problems.is_empty(), "{what}: {:?}", d.problems);
                    if kind == "channel" {
                        let fill = d.fill.unwrap();
                        let len = exp["recv_order"].as_array().unwrap().len() as u64;
                        assert_eq!(
                            (fill.len, fill.capacity),
                            (len, exp["capacity"].as_u64().unwrap())
                        );
                    } else {
                        assert_eq!(
                            num(d, "slot_ready") != 0,
                            exp["slot_ready"].as_bool().unwrap()
                        );
                        assert_eq!(
                            num(d, "slot_consumed") != 0,
                            exp["slot_consumed"].as_bool().unwrap()
                        );
                    }
                }
                if kind == "channel" {
                    assert_values(&typed, &exp["recv_order"], &what);
                }
            }
            _ => continue,
        }
        checked += 1;
    }
    assert!(checked >= 15, "only {checked} codata structures checked");
}

#[test]
fn library_codata_decode_with_error_text_transform_and_fill() {
    use zeroipc::codata::future::Future;
    use zeroipc::codata::stream::Stream;
    let name = ShmName::new("decode_library_codata");
    let seg = segment(&name);
    let ok: Future<u64> = Future::create(&seg, "ok").unwrap();
    ok.set_value(41).unwrap();
    let bad: Future<f64> = Future::create(&seg, "bad").unwrap();
    bad.set_error("disk on fire").unwrap();
    let s: Stream<u16> = Stream::create(&seg, "s", 8).unwrap();
    let w = s
        .window_by_time(
            &seg,
            "w",
            std::time::Duration::from_secs(60),
            0u32,
            |n, _| n + 1,
        )
        .unwrap();
    let ro = Segment::open_read_only(name.as_str()).unwrap();

    let d = decode_named(&ro, "ok", Some("u64"));
    assert_eq!(
        codata(&d, "future").contents,
        Contents::Value(Value::Unsigned(41))
    );
    for spec in [None, Some("f64")] {
        let d = decode_named(&ro, "bad", spec);
        assert_eq!(codata(&d, "future").text("error"), Some("disk on fire"));
    }
    let d = decode_named(&ro, "w", Some("u32"));
    assert_eq!((d.name, d.text("transform")), ("stream", Some("window")));
    assert_eq!(d.fill.map(|f| (f.len, f.capacity)), Some((0, 8)));
    // The stage stopped first, so that it does not consume what the snapshot should see.
    drop(w);
    s.emit(1).unwrap();
    s.emit(2).unwrap();
    let d = decode_named(&ro, "s", Some("u16"));
    assert_eq!(values(&d), [Value::Unsigned(1), Value::Unsigned(2)]);
}

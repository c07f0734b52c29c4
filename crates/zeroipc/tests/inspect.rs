//! `zeroipc::inspect` against the upstream golden images and segments made by this library.

mod common;

use std::collections::HashMap;

use common::{ShmName, image, load_golden};
use zeroipc::inspect::{Kind, NotZeroIpc, Status, classify, classify_all, list_segments};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

const IMAGES: [&str; 4] = ["cpp_all.bin", "cpp_min.bin", "python_all.bin", "c_all.bin"];

/// The manifest structure kinds a classified kind is compatible with.
fn compatible(kind: &Kind, manifest_kind: &str) -> bool {
    let allowed: &[&str] = match kind {
        Kind::Array { .. } => &["array"],
        Kind::CArray { .. } => &["array_c"],
        Kind::Queue { .. } => &["queue", "channel", "channel_py"],
        Kind::Stack { .. } => &["stack"],
        Kind::Ring { .. } => &["ring", "stream", "stream_py"],
        Kind::Pool { .. } => &["pool"],
        Kind::Map { .. } => &["map"],
        Kind::Set { .. } => &["set"],
        Kind::Future { .. } => &["future"],
        Kind::Lazy { .. } => &["lazy"],
        Kind::LazyBool { .. } => &["lazy_bool"],
        Kind::StreamVoid { .. } => &["stream_void"],
        Kind::StreamHeader { .. } => &["stream"],
        Kind::ChannelHeader { .. } => &["channel", "channel_unbuffered"],
        Kind::ChannelSlot { .. } => &["channel_unbuffered"],
        Kind::ChannelSync { .. } => &["channel_py"],
        Kind::Semaphore { .. } => &["semaphore", "event", "monitor"],
        Kind::Mutex { .. } => &["mutex", "rwlock", "monitor", "signal"],
        Kind::Barrier { .. } => &["barrier"],
        Kind::Latch { .. } => &["latch"],
        Kind::Once { .. } => &["once"],
        Kind::Event { .. } => &["event"],
        Kind::RwLockState { .. } => &["rwlock"],
        Kind::MonitorCount { .. } => &["monitor"],
        Kind::SignalState { .. } => &["signal"],
        Kind::Marker { of } => match of.as_str() {
            "rwlock" => &["rwlock"],
            "monitor" => &["monitor"],
            _ => &["signal"],
        },
        Kind::Ambiguous(ks) => return ks.iter().any(|k| compatible(k, manifest_kind)),
        _ => return false,
    };
    allowed.contains(&manifest_kind)
}

#[test]
fn classification_never_contradicts_the_golden_manifests() {
    let mut undecided = Vec::new();
    for file in IMAGES {
        let name = load_golden(file);
        let img = image(file);
        let seg = Segment::open_read_only(name.as_str()).unwrap();
        let kinds: HashMap<String, Kind> = classify_all(&seg)
            .unwrap()
            .into_iter()
            .map(|(e, k)| (e.name().to_string(), k))
            .collect();
        assert_eq!(
            kinds.len(),
            img["table_entries"].as_array().unwrap().len(),
            "{file}"
        );
        for st in img["structures"].as_array().unwrap() {
            let mk = st["kind"].as_str().unwrap();
            for e in st["table_entries"].as_array().unwrap() {
                let e = e.as_str().unwrap();
                let k = &kinds[e];
                match k {
                    Kind::Unknown => undecided.push(format!("{file}:{e} ({mk}) unknown")),
                    Kind::Ambiguous(_) => {
                        assert!(compatible(k, mk), "{file}: {e} is a {mk}, classified {k}");
                        undecided.push(format!("{file}:{e} ({mk}) {k}"));
                    }
                    _ => assert!(compatible(k, mk), "{file}: {e} is a {mk}, classified {k}"),
                }
            }
        }
    }
    println!(
        "undecided entries ({}):\n{}",
        undecided.len(),
        undecided.join("\n")
    );
    // Only these kinds may stay undecided: the 16-byte sync primitives and Lazy<bool>
    // (identical 16-byte layouts), Futures vs Lazies (the C++ 280-byte and the Python
    // layouts overlap), and Python Sets (a Python Set is a Python Map<T, u8>).
    let allowed = [
        "(semaphore)",
        "(barrier)",
        "(latch)",
        "(mutex)",
        "(future)",
        "(lazy)",
        "(lazy_bool)",
    ];
    for u in &undecided {
        let python_set = u.starts_with("python_all.bin:set_") && u.contains("(set)");
        assert!(
            python_set || allowed.iter().any(|a| u.contains(a)),
            "undecided: {u}"
        );
        assert!(!u.ends_with("unknown"), "{u}");
    }
    assert!(
        undecided.len() <= 35,
        "{} undecided entries",
        undecided.len()
    );
}

#[test]
fn classify_recognises_arrays_made_by_this_library() {
    let name = ShmName::new("classify_arrays");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u8>::create(&seg, "bytes", 13).unwrap();
    Array::<f64>::create(&seg, "reals", 6).unwrap();
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    let e = ro.find("bytes").unwrap();
    assert_eq!(
        classify(&ro, &e),
        Kind::Array {
            capacity: 13,
            elem_size: 1
        }
    );
    let e = ro.find("reals").unwrap();
    assert_eq!(
        classify(&ro, &e),
        Kind::Array {
            capacity: 6,
            elem_size: 8
        }
    );
}

#[test]
fn golden_structures_decode_their_geometry() {
    let name = load_golden("cpp_all.bin");
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    let kind = |n: &str| classify(&seg, &seg.find(n).unwrap());
    assert!(matches!(
        kind("q_u64_r5"),
        Kind::Queue {
            capacity: 8,
            elem_size: 8,
            ..
        }
    ));
    assert!(matches!(
        kind("stk_u16"),
        Kind::Stack {
            capacity: 5,
            elem_size: 2,
            ..
        }
    ));
    assert!(matches!(
        kind("ring_f64"),
        Kind::Ring {
            capacity: 48,
            elem_size: 8,
            ..
        }
    ));
    assert!(matches!(
        kind("pool_point"),
        Kind::Pool {
            capacity: 3,
            elem_size: 24,
            node_size: 32,
            ..
        }
    ));
    assert!(matches!(
        kind("map_i32_i32"),
        Kind::Map {
            capacity: 16,
            key_size: 4,
            value_size: 4,
            entry_size: 12,
            ..
        }
    ));
    assert!(matches!(
        kind("set_f64"),
        Kind::Set {
            capacity: 8,
            elem_size: 8,
            entry_size: 16,
            ..
        }
    ));
    assert!(matches!(
        kind("strm_header"),
        Kind::StreamHeader {
            buffer_capacity: 16,
            ..
        }
    ));
    assert!(matches!(kind("chu_slot"), Kind::ChannelSlot { .. }));
    assert!(matches!(kind("ev_manual"), Kind::Event { mode: 1, .. }));
    assert!(matches!(kind("once_done"), Kind::Once { state: 2 }));
    assert_eq!(kind("mon").name(), "marker");

    let c = load_golden("c_all.bin");
    let seg = Segment::open_read_only(c.as_str()).unwrap();
    assert_eq!(
        classify(&seg, &seg.find("arr_i32").unwrap()),
        Kind::CArray {
            capacity: 10,
            elem_size: 4
        }
    );
}

#[test]
fn list_segments_reports_segments_foreign_objects_and_corruption() {
    let good = ShmName::new("list_good");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(good.as_str())
        .unwrap();
    Array::<u32>::create(&seg, "a", 4).unwrap();
    let foreign = ShmName::new("list_foreign");
    std::fs::write(foreign.path(), vec![0xAB; 4096]).unwrap();
    let tiny = ShmName::new("list_tiny");
    std::fs::write(tiny.path(), b"abc").unwrap();
    let zeros = ShmName::new("list_zeros");
    std::fs::write(zeros.path(), vec![0; 4096]).unwrap();
    // A valid header whose first entry points past the end.
    let corrupt = ShmName::new("list_corrupt");
    let mut bytes = std::fs::read(good.path()).unwrap();
    bytes[32 + 32..32 + 40].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(corrupt.path(), bytes).unwrap();

    let mut v3 = std::fs::read(good.path()).unwrap();
    v3[4..8].copy_from_slice(&3u32.to_le_bytes());
    let newer = ShmName::new("list_v3");
    std::fs::write(newer.path(), v3).unwrap();

    let all = list_segments().unwrap();
    let status = |n: &ShmName| {
        all.iter()
            .find(|l| l.name == n.as_str())
            .map(|l| l.status.clone())
            .unwrap()
    };
    match status(&good) {
        Status::Segment(s) => {
            assert_eq!(
                (s.entry_count, s.max_entries, s.memory_size),
                (1, 64, 65536)
            );
            assert_eq!(s.next_offset, 3104 + 24);
        }
        other => panic!("{other}"),
    }
    assert_eq!(
        status(&foreign),
        Status::NotZeroIpc(NotZeroIpc::BadMagic { found: 0xABAB_ABAB })
    );
    assert_eq!(status(&tiny), Status::NotZeroIpc(NotZeroIpc::TooSmall));
    assert_eq!(
        status(&zeros),
        Status::NotZeroIpc(NotZeroIpc::NotInitialized)
    );
    assert_eq!(status(&newer), Status::UnsupportedVersion { found: 3 });
    match status(&corrupt) {
        Status::Corrupt { reason } => assert!(reason.contains("entry 0"), "{reason}"),
        other => panic!("{other}"),
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
    /// Random bytes in the data area of a real table: classification answers, never panics.
    #[test]
    fn classify_never_panics_on_random_structure_bytes(
        noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 6400),
        file in 0usize..4,
    ) {
        let name = ShmName::new("classify_noise");
        let mut image = std::fs::read(common::golden_dir().join(IMAGES[file])).unwrap();
        let table = 32 + 48 * u32::from_le_bytes(image[12..16].try_into().unwrap()) as usize;
        for (dst, src) in image[table..].iter_mut().zip(noise.iter().cycle()) {
            *dst = *src;
        }
        std::fs::write(name.path(), &image).unwrap();
        let seg = Segment::open_read_only(name.as_str()).unwrap();
        for (_, kind) in classify_all(&seg).unwrap() {
            let _ = kind.to_string();
        }
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// A few bytes of real structures changed: classification answers, never panics.
    #[test]
    fn classify_never_panics_on_damaged_golden_structures(
        flips in proptest::collection::vec((0usize..9000, proptest::prelude::any::<u8>()), 1..24),
        file in 0usize..4,
    ) {
        let name = ShmName::new("classify_flips");
        let mut image = std::fs::read(common::golden_dir().join(IMAGES[file])).unwrap();
        let table = 32 + 48 * u32::from_le_bytes(image[12..16].try_into().unwrap()) as usize;
        for (pos, val) in flips {
            image[table + pos] = val;
        }
        std::fs::write(name.path(), &image).unwrap();
        let seg = Segment::open_read_only(name.as_str()).unwrap();
        for (_, kind) in classify_all(&seg).unwrap() {
            let _ = kind.to_string();
        }
    }
}

#[test]
fn the_waiter_registry_created_with_a_queue_is_recognised() {
    use std::time::{Duration, Instant};
    use zeroipc::inspect::{Kind, classify};
    use zeroipc::structures::Queue;
    let name = common::ShmName::new("waiter_registry");
    let seg = zeroipc::SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    // The registry comes with the queue's create (never with a blocking pop).
    let e = seg.find("__zeroipc_waiters").unwrap();
    assert_eq!(e.size(), 8 * 64);
    let registry = |sleepers| Kind::WaiterRegistry {
        slots: 64,
        sleepers,
    };
    assert_eq!(classify(&seg, &e), registry(0));
    // A blocked pop registers in it while it sleeps, and leaves when it returns.
    let q2 = q.clone();
    let popper = std::thread::spawn(move || q2.pop_timeout(Duration::from_secs(60)));
    let deadline = Instant::now() + Duration::from_secs(30);
    while classify(&seg, &e) != registry(1) {
        assert!(Instant::now() < deadline, "the pop never registered");
        std::thread::sleep(Duration::from_millis(1));
    }
    q.push(7).unwrap();
    assert_eq!(popper.join().unwrap().unwrap(), 7);
    assert_eq!(classify(&seg, &e), registry(0), "the sleeper left");
    let entries = seg.header().unwrap().entry_count;
    assert_eq!(entries, 2, "q and the registry, nothing added at run time");
}

#[test]
fn the_permit_registry_created_with_a_semaphore_is_recognised() {
    use zeroipc::inspect::{Kind, classify};
    use zeroipc::sync::Semaphore;
    let name = common::ShmName::new("permit_registry");
    let seg = zeroipc::SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let s = Semaphore::create(&seg, "s", 2, 2).unwrap();
    // The registry comes with the semaphore's create (never with an acquire).
    let e = seg.find("__zeroipc_permits").unwrap();
    assert_eq!(
        classify(&seg, &e),
        Kind::PermitRegistry { used: 0, held: 0 }
    );
    s.acquire().unwrap();
    s.acquire().unwrap();
    assert_eq!(e.size(), 16 * 64);
    assert_eq!(
        classify(&seg, &e),
        Kind::PermitRegistry { used: 1, held: 2 }
    );
    s.release().unwrap();
    assert_eq!(
        classify(&seg, &e),
        Kind::PermitRegistry { used: 1, held: 1 }
    );
    assert_eq!(
        classify(&seg, &e).to_string(),
        "permit_registry (used=1 held=1)"
    );
}

//! Golden images: every Semaphore, Mutex, Barrier, Latch and Once that upstream C++ and
//! Python wrote decodes to the state MANIFEST.md lists, and replaying the same operations in
//! zeroipc writes the same bytes.

mod common;

use common::{ShmName, image, load_golden};
use serde_json::Value;
use zeroipc::sync::{Barrier, Latch, Mutex, Once, Semaphore};
use zeroipc::{Segment, SegmentOptions};

const KINDS: [&str; 5] = ["semaphore", "mutex", "barrier", "latch", "once"];

fn int(v: &Value, key: &str) -> i64 {
    v[key].as_i64().unwrap_or_else(|| panic!("{key} in {v}"))
}

fn structures(file: &str) -> Vec<Value> {
    let img = image(file);
    let all = img["structures"].as_array().unwrap().clone();
    all.into_iter()
        .filter(|s| KINDS.contains(&s["kind"].as_str().unwrap()))
        .collect()
}

/// Decodes one structure through the public handles and compares with `expected`.
fn check_decode(seg: &Segment, s: &Value) {
    let name = s["name"].as_str().unwrap();
    let exp = &s["expected"];
    let entry = seg.find(name).unwrap();
    let first_field = s["layout"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .as_u64()
        .unwrap();
    assert_eq!(entry.offset(), first_field, "{name}: offset");
    match s["kind"].as_str().unwrap() {
        "semaphore" => {
            let sem = Semaphore::open(seg, name).unwrap();
            assert_eq!(i64::from(sem.count().unwrap()), int(exp, "count"), "{name}");
            assert_eq!(
                i64::from(sem.waiting().unwrap()),
                int(exp, "waiting"),
                "{name}"
            );
            assert_eq!(i64::from(sem.max_count()), int(exp, "max_count"), "{name}");
        }
        "mutex" => {
            let m = Mutex::open(seg, name).unwrap();
            assert_eq!(
                m.is_locked().unwrap(),
                exp["locked"].as_bool().unwrap(),
                "{name}"
            );
            assert_eq!(
                m.owner().unwrap(),
                None,
                "{name}: upstream records no owner"
            );
            let sem = Semaphore::open(seg, name).unwrap();
            assert_eq!(i64::from(sem.count().unwrap()), int(exp, "count"), "{name}");
            assert_eq!(i64::from(sem.max_count()), int(exp, "max_count"), "{name}");
        }
        "barrier" => {
            let b = Barrier::open(seg, name).unwrap();
            assert_eq!(
                i64::from(b.arrived().unwrap()),
                int(exp, "arrived"),
                "{name}"
            );
            assert_eq!(
                i64::from(b.generation().unwrap()),
                int(exp, "generation"),
                "{name}"
            );
            assert_eq!(
                i64::from(b.participants()),
                int(exp, "num_participants"),
                "{name}"
            );
        }
        "latch" => {
            let l = Latch::open(seg, name).unwrap();
            assert_eq!(i64::from(l.count().unwrap()), int(exp, "count"), "{name}");
            assert_eq!(
                i64::from(l.initial_count().unwrap()),
                int(exp, "initial_count"),
                "{name}"
            );
            assert_eq!(l.try_wait().unwrap(), int(exp, "count") == 0, "{name}");
        }
        "once" => {
            let o = Once::open(seg, name).unwrap();
            assert_eq!(i64::from(o.state().unwrap()), int(exp, "state"), "{name}");
            assert_eq!(
                o.is_completed().unwrap(),
                exp["done"].as_bool().unwrap(),
                "{name}"
            );
        }
        other => unreachable!("{other}"),
    }
}

/// Replays the operations that produced `s` in a zeroipc segment and returns the bytes.
fn replay(seg: &Segment, s: &Value) -> Vec<u8> {
    let name = s["name"].as_str().unwrap();
    let exp = &s["expected"];
    let p = &s["params"];
    let as_u32 = |v: i64| u32::try_from(v).unwrap();
    match s["kind"].as_str().unwrap() {
        "semaphore" => {
            let initial = int(p, "initial_count");
            let sem =
                Semaphore::create(seg, name, as_u32(initial), as_u32(int(p, "max_count"))).unwrap();
            let target = int(exp, "count");
            for _ in target..initial {
                sem.try_acquire().unwrap();
            }
            for _ in initial..target {
                sem.release().unwrap();
            }
        }
        "mutex" => {
            let m = Mutex::create(seg, name).unwrap();
            if exp["locked"].as_bool().unwrap() {
                std::mem::forget(m.try_lock().unwrap());
            }
        }
        "barrier" => {
            let n = int(p, "num_participants");
            let b = Barrier::create(seg, name, as_u32(n)).unwrap();
            for _ in 0..int(exp, "generation") {
                std::thread::scope(|sc| {
                    for _ in 0..n {
                        sc.spawn(|| b.wait_timeout(std::time::Duration::from_secs(30)).unwrap());
                    }
                });
            }
        }
        "latch" => {
            let initial = int(p, "initial_count");
            let l = Latch::create(seg, name, as_u32(initial)).unwrap();
            let target = int(exp, "count");
            // `latch_done`: count_down(5) on a count of 2 saturates at 0.
            let by = if target == 0 {
                initial + 3
            } else {
                initial - target
            };
            l.count_down(as_u32(by)).unwrap();
        }
        "once" => {
            let o = Once::create(seg, name).unwrap();
            if exp["done"].as_bool().unwrap() {
                o.call_once(|| ()).unwrap();
            }
        }
        other => unreachable!("{other}"),
    }
    let e = seg.find(name).unwrap();
    seg.read_bytes(e.offset(), e.size()).unwrap()
}

fn golden_image_decodes_and_replays(file: &str) {
    let shm = load_golden(file);
    let golden = Segment::open(shm.as_str()).unwrap();
    let ours_name = ShmName::new(&format!("replay_{}", file.replace('.', "_")));
    let ours = SegmentOptions::new()
        .size(64 * 1024)
        .max_entries(128)
        .create_new(ours_name.as_str())
        .unwrap();
    let list = structures(file);
    assert_eq!(
        list.len(),
        10,
        "{file}: sem, sem_unb, bar, bar_new, latch, latch_done, 2 mutexes, 2 onces"
    );
    for s in &list {
        check_decode(&golden, s);
        let name = s["name"].as_str().unwrap();
        let e = golden.find(name).unwrap();
        let want = golden.read_bytes(e.offset(), e.size()).unwrap();
        let mut got = replay(&ours, s);
        if s["kind"] == "mutex" && s["expected"]["locked"] == true {
            // The one intended difference: a zeroipc holder records its pid in the padding
            // word (bytes 12..16) that upstream leaves 0.
            assert_eq!(
                got[12..16],
                std::process::id().to_le_bytes(),
                "{name}: owner pid"
            );
            got[12..16].fill(0);
        }
        assert_eq!(got, want, "{file}: {name} bytes");
    }
}

#[test]
fn cpp_all_sync_primitives_decode_and_replay_to_the_same_bytes() {
    golden_image_decodes_and_replays("cpp_all.bin");
}

#[test]
fn python_all_sync_primitives_decode_and_replay_to_the_same_bytes() {
    golden_image_decodes_and_replays("python_all.bin");
}

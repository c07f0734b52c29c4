//! Real processes sharing one segment: each test re-runs this test binary as its children
//! (`spawn_child`), which find the segment by name.
//!
//! Every test has its own deadline: children that have not finished after [`DEADLINE`] are
//! killed and the test fails; the segment is unlinked by `ShmName` even then.

mod common;

use std::process::Child;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release};
use std::time::{Duration, Instant};

use common::{ShmName, child_role, spawn_child, spawn_child_with};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::structures::Array;
use zeroipc::{Element, Segment, SegmentOptions};

/// How long any test waits for its children (or for a go signal) before failing.
const DEADLINE: Duration = Duration::from_secs(60);

/// Environment variable giving a child its id.
const ID_ENV: &str = "ZEROIPC_TEST_CHILD_ID";

/// Children that are killed (and reaped) if the test ends before they do.
struct Children(Vec<Child>);

impl Children {
    /// Waits for every child until `deadline`; fails on a hang or a non-zero exit.
    fn wait_all(mut self, deadline: Instant) {
        while let Some(mut child) = self.0.pop() {
            loop {
                if let Some(status) = child.try_wait().expect("try_wait") {
                    assert!(status.success(), "child failed: {status}");
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("child did not finish within {DEADLINE:?}");
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Spins until `cond()` holds; panics after [`DEADLINE`].
fn spin_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::yield_now();
    }
}

/// A small struct element, shared between processes by value.
#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Sample {
    id: u32,
    weight: f32,
    total: i64,
}

fn samples() -> Vec<Sample> {
    (0..5u8)
        .map(|i| Sample {
            id: u32::from(i) * 11,
            weight: f32::from(i) / 4.0,
            total: -(i64::from(i) << 40),
        })
        .collect()
}

fn ints() -> Vec<i32> {
    (0..100).map(|i| i * i - 2500).collect()
}

fn floats() -> Vec<f64> {
    (0..17).map(|i| f64::from(i) * 0.1 - 1.0).collect()
}

fn bytes() -> Vec<u8> {
    (0..=255).collect()
}

fn words() -> Vec<u64> {
    vec![0, 1, u64::MAX, 1 << 63, 0xDEAD_BEEF_CAFE_F00D]
}

/// A digest of arrays: the sum of the `i32`s, the sum of the bytes, the XOR of the words.
fn digest(ints: &[i32], bytes: &[u8], words: &[u64]) -> [i64; 3] {
    [
        ints.iter().map(|&v| i64::from(v)).sum(),
        bytes.iter().map(|&v| i64::from(v)).sum(),
        i64::from_ne_bytes(words.iter().fold(0, |acc, w| acc ^ w).to_ne_bytes()),
    ]
}

#[test]
fn child_reads_every_value_the_parent_wrote_and_answers() {
    const TEST: &str = "child_reads_every_value_the_parent_wrote_and_answers";
    if let Some(name) = child_role("reader") {
        let seg = Segment::open(&name).unwrap();
        assert_eq!(Array::<i32>::open(&seg, "ints").unwrap().to_vec(), ints());
        let f = Array::<f64>::open(&seg, "floats").unwrap().to_vec();
        assert_eq!(
            f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            floats().iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert_eq!(Array::<u8>::open(&seg, "bytes").unwrap().to_vec(), bytes());
        let w = Array::<u64>::open(&seg, "words").unwrap();
        for (i, v) in words().into_iter().enumerate() {
            assert_eq!(w.get(i), Some(v));
        }
        assert_eq!(
            Array::<Sample>::open(&seg, "samples").unwrap().to_vec(),
            samples()
        );
        // The answer is computed from what this process read.
        let answer = digest(
            &Array::<i32>::open(&seg, "ints").unwrap().to_vec(),
            &Array::<u8>::open(&seg, "bytes").unwrap().to_vec(),
            &w.to_vec(),
        );
        Array::<i64>::open(&seg, "answer")
            .unwrap()
            .write_from(0, &answer)
            .unwrap();
        return;
    }

    let name = ShmName::new(TEST);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    Array::<i32>::create(&seg, "ints", 100)
        .unwrap()
        .write_from(0, &ints())
        .unwrap();
    Array::<f64>::create(&seg, "floats", 17)
        .unwrap()
        .write_from(0, &floats())
        .unwrap();
    Array::<u8>::create(&seg, "bytes", 256)
        .unwrap()
        .write_from(0, &bytes())
        .unwrap();
    Array::<u64>::create(&seg, "words", 5)
        .unwrap()
        .write_from(0, &words())
        .unwrap();
    Array::<Sample>::create(&seg, "samples", 5)
        .unwrap()
        .write_from(0, &samples())
        .unwrap();
    let answer = Array::<i64>::create(&seg, "answer", 3).unwrap();
    assert_eq!(answer.to_vec(), [0, 0, 0]);

    let deadline = Instant::now() + DEADLINE;
    Children(vec![spawn_child(TEST, "reader", &name)]).wait_all(deadline);
    assert_eq!(answer.to_vec(), digest(&ints(), &bytes(), &words()));
}

/// Arrays each allocator creates.
const PER_PROCESS: u64 = 15;
/// Allocating processes: the parent (id 0) and two children (ids 1, 2).
const ALLOCATORS: u64 = 3;

/// Array `k` of allocator `id`: name, and pattern value `i`.
fn alloc_name(id: u64, k: u64) -> String {
    format!("p{id}_arr{k}")
}

fn pattern(id: u64, k: u64, i: u64) -> u64 {
    (id << 48) | (k << 32) | (i * 2_654_435_761 % 0xFFFF_FFFF)
}

/// The low 32 bits of a pattern value (the `u32` arrays keep those).
#[allow(clippy::cast_possible_truncation)] // truncation is the point
fn low32(v: u64) -> u32 {
    v as u32
}

/// The low 8 bits of a pattern value (the `u8` arrays keep those).
#[allow(clippy::cast_possible_truncation)] // truncation is the point
fn low8(v: u64) -> u8 {
    v as u8
}

/// Creates allocator `id`'s 15 arrays, of three element types and growing capacities, and
/// fills each with its pattern.
fn allocate_all(seg: &Segment, id: u64) {
    for k in 0..PER_PROCESS {
        let name = alloc_name(id, k);
        let cap = 1 + k + id;
        let values = (0..cap).map(|i| pattern(id, k, i));
        match k % 3 {
            0 => {
                let a = Array::<u64>::create(seg, &name, usize::try_from(cap).unwrap()).unwrap();
                a.write_from(0, &values.collect::<Vec<_>>()).unwrap();
            }
            1 => {
                let a = Array::<u32>::create(seg, &name, usize::try_from(cap).unwrap()).unwrap();
                a.write_from(0, &values.map(low32).collect::<Vec<_>>())
                    .unwrap();
            }
            _ => {
                let a = Array::<u8>::create(seg, &name, usize::try_from(cap).unwrap()).unwrap();
                a.write_from(0, &values.map(low8).collect::<Vec<_>>())
                    .unwrap();
            }
        }
    }
}

/// Checks that array `k` of allocator `id` still holds its creator's pattern.
fn check_pattern(seg: &Segment, id: u64, k: u64) {
    let name = alloc_name(id, k);
    let cap = 1 + k + id;
    fn check<T: Element + PartialEq + std::fmt::Debug>(
        seg: &Segment,
        name: &str,
        expected: Vec<T>,
    ) {
        let a = Array::<T>::open(seg, name).unwrap_or_else(|e| panic!("open {name}: {e}"));
        assert_eq!(a.to_vec(), expected, "{name} lost its creator's pattern");
    }
    let values = (0..cap).map(|i| pattern(id, k, i));
    match k % 3 {
        0 => check::<u64>(seg, &name, values.collect()),
        1 => check::<u32>(seg, &name, values.map(low32).collect()),
        _ => check::<u8>(seg, &name, values.map(low8).collect()),
    }
}

#[test]
fn three_processes_allocating_at_once_get_disjoint_entries() {
    const TEST: &str = "three_processes_allocating_at_once_get_disjoint_entries";
    // flags[0]: go signal (parent stores 1); flags[1]: children ready.
    if let Some(name) = child_role("allocator") {
        let id: u64 = std::env::var(ID_ENV).unwrap().parse().unwrap();
        let seg = Segment::open(&name).unwrap();
        let flags = Array::<u32>::open(&seg, "flags").unwrap();
        flags.atomic(1).unwrap().fetch_add(1, Release);
        spin_until("the go signal", || {
            flags.atomic(0).unwrap().load(Acquire) == 1
        });
        allocate_all(&seg, id);
        return;
    }

    let name = ShmName::new(TEST);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(1 << 20)
        .max_entries(64)
        .create_new(name.as_str())
        .unwrap();
    let flags = Array::<u32>::create(&seg, "flags", 2).unwrap();
    Array::<u64>::create(&seg, "pre", 3).unwrap().fill(7);
    let pre_existing = 2;

    let deadline = Instant::now() + DEADLINE;
    let children = Children(
        (1..ALLOCATORS)
            .map(|id| spawn_child_with(TEST, "allocator", &name, &[(ID_ENV, id.to_string())]))
            .collect(),
    );
    spin_until("both children to be ready", || {
        flags.atomic(1).unwrap().load(Acquire) == u32::try_from(ALLOCATORS - 1).unwrap()
    });
    flags.atomic(0).unwrap().store(1, Release);
    allocate_all(&seg, 0);
    children.wait_all(deadline);

    // The table holds every entry exactly once.
    let entries = seg.entries().unwrap();
    let h = seg.header().unwrap();
    let total = pre_existing + ALLOCATORS * PER_PROCESS;
    assert_eq!(u64::from(h.entry_count), total);
    assert_eq!(entries.len() as u64, total);
    let mut names: Vec<String> = entries.iter().map(|e| e.name().to_string()).collect();
    names.sort();
    let mut expected: Vec<String> = (0..ALLOCATORS)
        .flat_map(|id| (0..PER_PROCESS).map(move |k| alloc_name(id, k)))
        .chain(["flags".to_owned(), "pre".to_owned()])
        .collect();
    expected.sort();
    assert_eq!(names, expected);

    // Ranges: after the table, inside the bound, 8-aligned, pairwise disjoint.
    let mut by_offset = entries.clone();
    by_offset.sort_by_key(|e| e.offset());
    for e in &by_offset {
        assert!(e.offset() >= h.table_size, "{e:?} starts inside the table");
        assert!(
            e.offset() + e.size() <= seg.bound(),
            "{e:?} ends past the bound"
        );
        assert_eq!(e.offset() % 8, 0, "{e:?}");
    }
    for pair in by_offset.windows(2) {
        assert!(
            pair[0].offset() + pair[0].size() <= pair[1].offset(),
            "{:?} and {:?} overlap",
            pair[0],
            pair[1]
        );
    }
    // next_offset is the end of the last allocation (in table order, which is also the highest).
    let last = entries.last().unwrap();
    assert_eq!(h.next_offset, last.offset() + last.size());
    assert_eq!(by_offset.last().unwrap(), last);

    // Every array still holds its creator's pattern.
    for id in 0..ALLOCATORS {
        for k in 0..PER_PROCESS {
            check_pattern(&seg, id, k);
        }
    }
    assert_eq!(Array::<u64>::open(&seg, "pre").unwrap().to_vec(), [7, 7, 7]);
}

/// Increments per process.
const INCREMENTS: u64 = 100_000;

#[test]
fn fetch_add_from_two_processes_loses_no_increment() {
    const TEST: &str = "fetch_add_from_two_processes_loses_no_increment";
    /// Process `me` (0 parent, 1 child) adds 1 a hundred thousand times, in lock step with
    /// the other: chunk `k` starts only once both have finished chunk `k - 1`, so the two
    /// processes' increments overlap whatever the scheduler does between chunks.
    fn hammer(seg: &Segment, me: u64) {
        const CHUNK: u64 = 10_000;
        let counter = Array::<u64>::open(seg, "counter").unwrap();
        let progress = Array::<u32>::open(seg, "progress").unwrap();
        let (mine, other) = (
            progress.atomic(usize::try_from(me).unwrap()).unwrap(),
            progress.atomic(usize::try_from(1 - me).unwrap()).unwrap(),
        );
        let c = counter.atomic(0).unwrap();
        for step in 1..=u32::try_from(INCREMENTS / CHUNK).unwrap() {
            mine.store(step, Release);
            // Busy-spin first, so both usually leave the barrier at the same moment (with a
            // non-atomic increment this test then fails in most runs); yield after a while so
            // a descheduled partner gets the core back.
            let t0 = Instant::now();
            let mut spins = 0u32;
            while other.load(Acquire) < step {
                assert!(
                    t0.elapsed() < DEADLINE,
                    "timed out waiting for the other process"
                );
                spins += 1;
                if spins < 100_000 {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
            for _ in 0..CHUNK {
                c.fetch_add(1, Relaxed);
            }
        }
    }
    if let Some(name) = child_role("adder") {
        hammer(&Segment::open(&name).unwrap(), 1);
        return;
    }

    let name = ShmName::new(TEST);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let counter = Array::<u64>::create(&seg, "counter", 1).unwrap();
    Array::<u32>::create(&seg, "progress", 2).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let children = Children(vec![spawn_child(TEST, "adder", &name)]);
    hammer(&seg, 0);
    children.wait_all(deadline);
    assert_eq!(counter.atomic(0).unwrap().load(Acquire), 2 * INCREMENTS);
}

/// Arrays the parent publishes while the child watches.
const PUBLISHED: u32 = 200;

/// Capacity of published array `k`: growing, so creating the later ones takes a while.
fn published_capacity(k: u32) -> usize {
    1 + 16 * k as usize
}

#[test]
fn every_entry_another_process_can_see_is_complete() {
    const TEST: &str = "every_entry_another_process_can_see_is_complete";
    // A structure becomes visible when `entry_count` is stored (Release) after its entry and
    // header are written: a reader in another process must never see an entry whose capacity
    // is not yet consistent with its size. The watcher opens each newest entry the moment
    // the count shows it.
    if let Some(name) = child_role("watcher") {
        let seg = Segment::open(&name).unwrap();
        let flags = Array::<u32>::open(&seg, "flags").unwrap();
        flags.atomic(0).unwrap().store(1, Release);
        let mut seen = 0;
        spin_until("all arrays to be published", || {
            let count = seg
                .header()
                .expect("a published table is always valid")
                .entry_count;
            // Entry 0 is `flags`; entry i + 1 is `pub_{i}`.
            if count > 1 && count - 1 > seen {
                let k = count - 2;
                let n = format!("pub_{k}");
                let a = Array::<u64>::open(&seg, &n).unwrap_or_else(|err| panic!("{n}: {err}"));
                assert_eq!(a.len(), published_capacity(k), "{n}");
                seen = count - 1;
            }
            seen == PUBLISHED
        });
        for k in 0..PUBLISHED {
            let a = Array::<u64>::open(&seg, &format!("pub_{k}")).unwrap();
            assert_eq!(a.len(), published_capacity(k));
        }
        return;
    }

    let name = ShmName::new(TEST);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(8 << 20)
        .max_entries(PUBLISHED + 1)
        .create_new(name.as_str())
        .unwrap();
    let flags = Array::<u32>::create(&seg, "flags", 1).unwrap();
    let deadline = Instant::now() + DEADLINE;
    let children = Children(vec![spawn_child(TEST, "watcher", &name)]);
    spin_until("the watcher", || {
        flags.atomic(0).unwrap().load(Acquire) == 1
    });
    for k in 0..PUBLISHED {
        Array::<u64>::create(&seg, &format!("pub_{k}"), published_capacity(k)).unwrap();
    }
    children.wait_all(deadline);
}

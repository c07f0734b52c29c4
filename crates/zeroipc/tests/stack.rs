//! Stack<T>: golden images, byte-identical reproduction, validation, stalls and corrupt
//! `top`, multi-process stress (as a multiset), and a corruption property test.

mod common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use common::{ShmName, child_role, image, load_golden, poke, spawn_child_with, wait_ok};
use proptest::prelude::*;
use serde_json::Value;
use zeroipc::structures::stack::{PopError, PushError, TryPopError, TryPushError};
use zeroipc::structures::{Array, Stack};
use zeroipc::{Corruption, Element, Segment, SegmentOptions, StructureError};

/// A non-blocking pop: `None` when empty, panics on any other error.
fn pop_now<T: Element>(s: &Stack<T>) -> Option<T> {
    match s.try_pop() {
        Ok(v) => Some(v),
        Err(TryPopError::Empty) => None,
        Err(e) => panic!("{e}"),
    }
}

/// The raw `top` word.
fn raw_top<T: Element>(seg: &Segment, s: &Stack<T>) -> i32 {
    let b = seg.read_bytes(s.entry().offset(), 4).unwrap();
    i32::from_le_bytes(b.try_into().unwrap())
}

trait FromJson: Element + PartialEq + std::fmt::Debug {
    fn from_json(v: &Value) -> Self;
}
impl FromJson for i32 {
    fn from_json(v: &Value) -> Self {
        i32::try_from(v.as_i64().unwrap()).unwrap()
    }
}
impl FromJson for i64 {
    fn from_json(v: &Value) -> Self {
        v.as_i64().unwrap()
    }
}
impl FromJson for u16 {
    fn from_json(v: &Value) -> Self {
        u16::try_from(v.as_u64().unwrap()).unwrap()
    }
}
impl FromJson for f64 {
    fn from_json(v: &Value) -> Self {
        v.as_f64().unwrap()
    }
}

fn check_golden_stack<T: FromJson>(seg: &Segment, s: &Value) {
    let name = s["name"].as_str().unwrap();
    let exp = &s["expected"];
    let lay = &s["layout"];
    let st: Stack<T> = Stack::open(seg, name).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(
        st.entry().offset(),
        lay["top(i32)"].as_u64().unwrap(),
        "{name}: offset"
    );
    assert_eq!(
        st.capacity() as u64,
        exp["capacity"].as_u64().unwrap(),
        "{name}: capacity"
    );
    assert_eq!(
        st.len() as u64,
        exp["size"].as_u64().unwrap(),
        "{name}: len"
    );
    assert_eq!(
        i64::from(raw_top(seg, &st)),
        exp["top"].as_i64().unwrap(),
        "{name}: top"
    );
    let state_at = lay["state(u32[cap])"].as_u64().unwrap();
    let raw = seg.read_bytes(state_at, 4 * st.capacity() as u64).unwrap();
    let want: Vec<u64> = lay["raw"]["state"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    let got: Vec<u64> = raw
        .chunks_exact(4)
        .map(|c| u64::from(u32::from_le_bytes(c.try_into().unwrap())))
        .collect();
    assert_eq!(got, want, "{name}: state");
    for (k, v) in exp["pop_order"].as_array().unwrap().iter().enumerate() {
        assert_eq!(pop_now(&st), Some(T::from_json(v)), "{name}: pop #{k}");
    }
    assert_eq!(pop_now(&st), None, "{name}: drained");
}

fn check_golden_image(file: &str) -> usize {
    let shm = load_golden(file);
    let seg = Segment::open(shm.as_str()).unwrap();
    let mut n = 0;
    for s in image(file)["structures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "stack")
    {
        match s["types"]["elem"].as_str().unwrap() {
            "i32" => check_golden_stack::<i32>(&seg, s),
            "i64" => check_golden_stack::<i64>(&seg, s),
            "u16" => check_golden_stack::<u16>(&seg, s),
            "f64" => check_golden_stack::<f64>(&seg, s),
            other => panic!("{file}: stack of {other} not covered"),
        }
        n += 1;
    }
    n
}

#[test]
fn golden_cpp_stacks_read_back_as_the_manifest_lists() {
    assert_eq!(check_golden_image("cpp_all.bin"), 3);
    assert_eq!(check_golden_image("cpp_min.bin"), 1);
}

#[test]
fn golden_python_stacks_read_back_as_the_manifest_lists() {
    assert_eq!(check_golden_image("python_all.bin"), 3);
}

#[test]
fn golden_c_stacks_read_back_as_the_manifest_lists() {
    assert_eq!(check_golden_image("c_all.bin"), 2);
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
fn zeroipc_reproduces_the_golden_stacks_byte_for_byte() {
    let (_n, seg) = fresh("stack_bytes");
    // stk_i32: push 10..50, pop x1 (slot 4 keeps 50 in its bytes, state EMPTY).
    let s: Stack<i32> = Stack::create(&seg, "stk_i32", 8).unwrap();
    [10, 20, 30, 40, 50]
        .into_iter()
        .for_each(|v| s.push(v).unwrap());
    assert_eq!(s.pop(), Ok(50));
    let s: Stack<u16> = Stack::create(&seg, "stk_u16", 5).unwrap();
    [7, 65535, 300].into_iter().for_each(|v| s.push(v).unwrap());
    let s: Stack<f64> = Stack::create(&seg, "stk_f64_full", 2).unwrap();
    [1.25, -8.5].into_iter().for_each(|v| s.push(v).unwrap());
    assert!(matches!(s.try_push(0.0), Err(TryPushError::Full(_))));
    let s: Stack<i64> = Stack::create(&seg, "stk_i64", 3).unwrap();
    [-5, 9_000_000_000]
        .into_iter()
        .for_each(|v| s.push(v).unwrap());

    for (file, names) in [
        ("cpp_all.bin", &["stk_i32", "stk_u16", "stk_f64_full"][..]),
        (
            "python_all.bin",
            &["stk_i32", "stk_u16", "stk_f64_full"][..],
        ),
        ("c_all.bin", &["stk_i32", "stk_u16"][..]),
        ("cpp_min.bin", &["stk_i64"][..]),
    ] {
        for name in names {
            assert_eq!(
                entry_bytes(&seg, name),
                golden_entry_bytes(file, name),
                "{file}: {name}"
            );
        }
    }
}

#[test]
fn open_refuses_bad_geometry_with_typed_errors() {
    let (name, seg) = fresh("stack_open_refusals");
    let s: Stack<u32> = Stack::create(&seg, "s", 4).unwrap();
    let at = s.entry().offset();
    assert!(matches!(
        Stack::<u16>::open(&seg, "s"),
        Err(StructureError::ElementSize {
            stored: 4,
            expected: 2,
            ..
        })
    ));
    for cap in [0u32, 3, 5, u32::MAX] {
        poke(&name, at + 4, &cap.to_le_bytes());
        let err = Stack::<u32>::open(&seg, "s").unwrap_err();
        assert!(
            matches!(&err, StructureError::Corrupt(Corruption::Field { field: "capacity", found, .. }) if *found == u64::from(cap)),
            "capacity {cap}: {err}"
        );
    }
    poke(&name, at + 4, &4u32.to_le_bytes());
    for top in [4i32, -2, i32::MAX, i32::MIN] {
        poke(&name, at, &top.to_le_bytes());
        let err = Stack::<u32>::open(&seg, "s").unwrap_err();
        assert!(
            matches!(
                &err,
                StructureError::Corrupt(Corruption::Field { field: "top", .. })
            ),
            "top {top}: {err}"
        );
    }
    poke(&name, at, &(-1i32).to_le_bytes());
    assert!(Stack::<u32>::open(&seg, "s").is_ok());
    assert!(matches!(
        Stack::<u32>::create(&seg, "z", 0),
        Err(StructureError::InvalidCapacity { .. })
    ));
}

#[test]
fn a_top_corrupted_after_open_is_a_typed_error_on_every_operation() {
    let (name, seg) = fresh("stack_corrupt_top");
    let s: Stack<u64> = Stack::create(&seg, "s", 2).unwrap();
    s.push(1).unwrap();
    poke(&name, s.entry().offset(), &7i32.to_le_bytes());
    assert!(matches!(
        s.pop(),
        Err(PopError::Corrupt(Corruption::Field {
            field: "top",
            found: 7,
            ..
        }))
    ));
    assert!(matches!(s.peek(), Err(PopError::Corrupt(_))));
    match s.push(5) {
        Err(PushError::Corrupt { value: 5, .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(s.len(), 2, "len clamps");
}

#[test]
fn a_slot_owned_by_a_dead_peer_is_a_stall_never_empty_or_full() {
    let (name, seg) = fresh("stack_stall");
    let s = Stack::<u32>::create(&seg, "s", 4)
        .unwrap()
        .with_stall_timeout(Duration::from_millis(30));
    s.push(1).unwrap();
    s.push(2).unwrap();
    let state = s.entry().offset() + 16 + 16; // 16 + align8(4 * 4)
    // A popper claimed slot 1 (READING) and died before releasing it; top was already 0.
    poke(&name, s.entry().offset(), &0i32.to_le_bytes());
    poke(&name, state + 4, &3u32.to_le_bytes());
    let t0 = Instant::now();
    match s.push(9) {
        Err(PushError::Stalled {
            value: 9,
            index: 1,
            orphaned: false,
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(t0.elapsed() >= Duration::from_millis(30));
    assert_eq!(s.len(), 1, "the reservation was undone");
    // A pusher reserved slot 1 (top = 1) and died while WRITING.
    poke(&name, s.entry().offset(), &1i32.to_le_bytes());
    poke(&name, state + 4, &1u32.to_le_bytes());
    assert_eq!(
        s.pop(),
        Err(PopError::Stalled {
            index: 1,
            orphaned: false
        })
    );
    assert_eq!(
        s.peek(),
        Err(PopError::Stalled {
            index: 1,
            orphaned: false
        })
    );
    // An unknown state value (corrupt) is never claimed either.
    poke(&name, state + 4, &77u32.to_le_bytes());
    assert_eq!(
        s.pop(),
        Err(PopError::Stalled {
            index: 1,
            orphaned: false
        })
    );
    // Repair by hand: the element below is intact.
    poke(&name, s.entry().offset(), &0i32.to_le_bytes());
    assert_eq!(s.pop(), Ok(1));
}

#[test]
fn threads_push_and_pop_a_multiset() {
    let (_n, seg) = fresh("stack_threads");
    let s: Stack<u32> = Stack::create(&seg, "s", 8).unwrap();
    const N: u32 = 20_000;
    let deadline = Instant::now() + Duration::from_secs(60);
    let pushers: Vec<_> = (0..2u32)
        .map(|id| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    let mut v = id * N + i;
                    loop {
                        match s.try_push(v) {
                            Ok(()) => break,
                            Err(TryPushError::Full(x)) => v = x,
                            Err(e) => panic!("{e}"),
                        }
                        assert!(Instant::now() < deadline);
                        std::thread::yield_now();
                    }
                }
            })
        })
        .collect();
    // Poppers stop once the pushers are done and the stack is empty (not after a quiet
    // spell, which a starved pusher could outlast while the stack stays full).
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let pushed = Arc::new(AtomicBool::new(false));
    let poppers: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            let pushed = pushed.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    // ORDERING: Acquire pairs with the Release store after the pushers
                    // joined: every push happened before a `true` seen here.
                    let done = pushed.load(Ordering::Acquire);
                    match pop_now(&s) {
                        Some(v) => got.push(v),
                        None if done => return got,
                        None => std::thread::yield_now(),
                    }
                    assert!(Instant::now() < deadline);
                }
            })
        })
        .collect();
    pushers.into_iter().for_each(|p| p.join().unwrap());
    // ORDERING: Release pairs with the poppers' Acquire load (see there).
    pushed.store(true, Ordering::Release);
    let mut all: Vec<u32> = poppers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    while let Some(v) = pop_now(&s) {
        all.push(v);
    }
    all.sort_unstable();
    assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
}

/// Items moved by the 2-pusher/2-popper stress test (issue #3 asks for 1,000,000; also in
/// the debug build CI runs).
const STRESS_N: u64 = 1_000_000;
const STRESS_TEST: &str = "two_pusher_and_two_popper_processes_move_every_item_exactly_once";

#[test]
fn two_pusher_and_two_popper_processes_move_every_item_exactly_once() {
    let per = STRESS_N / 2;
    let deadline = Instant::now() + Duration::from_secs(240);
    if let Some(name) = child_role("pusher") {
        let id: u64 = std::env::var("STACK_ID").unwrap().parse().unwrap();
        let seg = Segment::open(&name).unwrap();
        let s = Stack::<u64>::open(&seg, "s")
            .unwrap()
            .with_stall_timeout(Duration::from_secs(20));
        for i in 0..per {
            let mut v = id * per + i;
            loop {
                match s.try_push(v) {
                    Ok(()) => break,
                    Err(TryPushError::Full(x)) => v = x,
                    Err(e) => panic!("{e}"),
                }
                assert!(Instant::now() < deadline, "pusher deadline");
                std::thread::yield_now();
            }
        }
        return;
    }
    if let Some(name) = child_role("popper") {
        let seg = Segment::open(&name).unwrap();
        let s = Stack::<u64>::open(&seg, "s")
            .unwrap()
            .with_stall_timeout(Duration::from_secs(20));
        let seen: Array<u32> = Array::open(&seg, "seen").unwrap();
        let done: Array<u64> = Array::open(&seg, "done").unwrap();
        let done = done.atomic(0).unwrap();
        while done.load(Relaxed) < STRESS_N {
            assert!(Instant::now() < deadline, "popper deadline");
            match pop_now(&s) {
                Some(v) => {
                    assert!(v < STRESS_N, "foreign value {v}");
                    seen.atomic(usize::try_from(v).unwrap())
                        .unwrap()
                        .fetch_add(1, Relaxed);
                    done.fetch_add(1, Relaxed);
                }
                None => std::thread::yield_now(),
            }
        }
        return;
    }
    let name = ShmName::new("stack_stress");
    let seg = SegmentOptions::new()
        .size(4 * STRESS_N + (1 << 20))
        .create_new(name.as_str())
        .unwrap();
    let s: Stack<u64> = Stack::create(&seg, "s", 1024).unwrap();
    let seen: Array<u32> = Array::create(&seg, "seen", usize::try_from(STRESS_N).unwrap()).unwrap();
    let _done: Array<u64> = Array::create(&seg, "done", 1).unwrap();
    let children: Vec<_> = [
        ("pusher", "0"),
        ("pusher", "1"),
        ("popper", "0"),
        ("popper", "1"),
    ]
    .into_iter()
    .map(|(role, id)| spawn_child_with(STRESS_TEST, role, &name, &[("STACK_ID", id.to_owned())]))
    .collect();
    for c in children {
        wait_ok(c, 300);
    }
    let bad: Vec<usize> = seen
        .to_vec()
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != 1)
        .map(|(i, _)| i)
        .take(10)
        .collect();
    assert!(bad.is_empty(), "items not seen exactly once: {bad:?}");
    assert!(s.is_empty());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Random header and state bytes: open is Ok or a typed error, and an Ok handle's
    /// operations return (no panic, no hang).
    #[test]
    fn corrupt_header_opens_cleanly_or_fails_typed(header in prop::array::uniform16(any::<u8>()),
                                                    state in prop::array::uniform16(any::<u8>()),
                                                    keep_geometry in any::<bool>()) {
        let (name, seg) = fresh("stack_prop");
        let s: Stack<u32> = Stack::create(&seg, "s", 4).unwrap();
        let at = s.entry().offset();
        let mut h = header;
        if keep_geometry {
            h[4..12].copy_from_slice(&[4, 0, 0, 0, 4, 0, 0, 0]);
            let top = i32::from(h[0] % 6) - 1;
            h[0..4].copy_from_slice(&top.to_le_bytes());
        }
        poke(&name, at, &h);
        poke(&name, at + 32, &state);
        match Stack::<u32>::open(&seg, "s") {
            Err(StructureError::Corrupt(_) | StructureError::ElementSize { .. }) => {}
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(s) => {
                let s = s.with_stall_timeout(Duration::from_millis(2));
                let t0 = Instant::now();
                for v in 0..5 {
                    let _ = s.try_push(v);
                    let _ = s.push_timeout(v, Duration::ZERO);
                }
                for _ in 0..5 {
                    let _ = s.peek();
                    let _ = s.try_pop();
                    let _ = s.pop_timeout(Duration::ZERO);
                }
                let _ = (s.len(), s.is_empty());
                prop_assert!(t0.elapsed() < Duration::from_secs(20), "operations returned");
            }
        }
    }
}

const CRASH_TEST: &str = "a_pusher_killed_mid_stream_never_hangs_the_popper";

#[test]
fn a_pusher_killed_mid_stream_never_hangs_the_popper() {
    if let Some(name) = child_role("pusher") {
        let seg = Segment::open(&name).unwrap();
        let s = Stack::<u64>::open(&seg, "s").unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut v = 0u64;
        while Instant::now() < deadline {
            match s.try_push(v) {
                Ok(()) => v += 1,
                Err(TryPushError::Full(_)) => std::thread::yield_now(),
                Err(e) => panic!("{e}"),
            }
        }
        return;
    }
    let name = ShmName::new("stack_crash");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    let s = Stack::<u64>::create(&seg, "s", 64)
        .unwrap()
        .with_stall_timeout(Duration::from_millis(200));
    let mut child = common::spawn_child(CRASH_TEST, "pusher", &name);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut popped = 0;
    while popped < 5_000 {
        assert!(Instant::now() < deadline, "popper deadline");
        match pop_now(&s) {
            Some(_) => popped += 1,
            None => std::thread::yield_now(),
        }
    }
    child.kill().unwrap(); // SIGKILL, possibly while the pusher owns a slot (WRITING)
    child.wait().unwrap();
    // Drain: every call returns a value, Empty, or a stall naming the slot; never a hang.
    let mut stalls = 0;
    for _ in 0..200 {
        assert!(Instant::now() < deadline, "drain deadline");
        match s.try_pop() {
            Ok(_) => {}
            Err(TryPopError::Empty) => break,
            Err(TryPopError::Stalled { .. }) => {
                stalls += 1;
                if stalls > 2 {
                    break;
                }
            }
            Err(e) => panic!("{e}"),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The four forms (docs/API_CONVENTIONS.md): `push`/`pop` block, `try_` never blocks,
// `_timeout`/`_deadline` are bounded; `peek` never blocks.

#[test]
fn blocking_push_waits_asleep_until_a_popper_pops() {
    let (_n, seg) = fresh("stack_push_blocks");
    let s: Stack<u32> = Stack::create(&seg, "s", 2).unwrap();
    s.push(1).unwrap();
    s.push(2).unwrap();
    let pusher = {
        let s = s.clone();
        std::thread::spawn(move || s.push(3))
    };
    // Handshake: the pusher is registered as a sleeper waiting for room.
    common::wait_until("the pusher to sleep", Duration::from_secs(60), || {
        common::registered_sleepers(&seg, s.entry()).1 == 1
    });
    assert!(!pusher.is_finished(), "a push onto a full stack waits");
    assert_eq!(s.len(), 2);
    assert_eq!(s.pop(), Ok(2));
    assert_eq!(pusher.join().unwrap(), Ok(()));
    assert_eq!((s.pop(), s.pop()), (Ok(3), Ok(1)));
    assert_eq!(common::registered_sleepers(&seg, s.entry()), (0, 0));
}

#[test]
fn blocking_pop_waits_asleep_until_a_pusher_pushes() {
    let (_n, seg) = fresh("stack_pop_blocks");
    let s: Stack<u64> = Stack::create(&seg, "s", 4).unwrap();
    let popper = {
        let s = s.clone();
        std::thread::spawn(move || s.pop())
    };
    common::wait_until("the popper to sleep", Duration::from_secs(60), || {
        common::registered_sleepers(&seg, s.entry()).0 == 1
    });
    assert!(!popper.is_finished(), "a pop from an empty stack waits");
    assert_eq!(s.peek(), Ok(None), "peek never blocks");
    s.push(42).unwrap();
    assert_eq!(popper.join().unwrap(), Ok(42));
    assert!(s.is_empty());
}

#[test]
fn a_sleeping_popper_sees_a_peer_that_never_calls_futex_wake() {
    // The peer pushes with plain writes to the segment's file, as an upstream process does
    // (slot bytes, state READY, top), and never wakes anyone: the popper's 1 ms re-check
    // finds the element.
    let (name, seg) = fresh("stack_polling_peer");
    let s: Stack<u32> = Stack::create(&seg, "s", 4).unwrap();
    let at = s.entry().offset();
    let popper = {
        let s = s.clone();
        std::thread::spawn(move || s.pop_timeout(Duration::from_secs(60)))
    };
    common::wait_until("the popper to sleep", Duration::from_secs(60), || {
        common::registered_sleepers(&seg, s.entry()).0 == 1
    });
    poke(&name, at + 16, &77u32.to_le_bytes()); // slot 0
    poke(&name, at + 32, &2u32.to_le_bytes()); // state[0] = READY
    poke(&name, at, &0i32.to_le_bytes()); // top = 0
    assert_eq!(popper.join().unwrap(), Ok(77));
}

#[test]
fn try_forms_never_block_even_with_a_long_stall_timeout() {
    // An hour of stall patience: a `try_` call that waited would hang the test.
    let (_n, seg) = fresh("stack_try_forms");
    let s = Stack::<u8>::create(&seg, "s", 1)
        .unwrap()
        .with_stall_timeout(Duration::from_secs(3600));
    assert_eq!(s.try_pop(), Err(TryPopError::Empty));
    s.try_push(1).unwrap();
    let full = s.try_push(2).unwrap_err();
    assert_eq!(full, TryPushError::Full(2));
    assert_eq!(full.to_string(), "the stack is full; expected a free slot");
    assert_eq!(format!("{full:?}"), "Full(..)");
    assert_eq!(full.into_inner(), 2);
    assert_eq!(common::registered_sleepers(&seg, s.entry()), (0, 0));
}

#[test]
fn timeout_and_deadline_forms_are_bounded_and_hand_the_value_back() {
    let (_n, seg) = fresh("stack_timeout_forms");
    let s: Stack<u16> = Stack::create(&seg, "s", 1).unwrap();
    assert_eq!(
        s.pop_timeout(Duration::from_millis(1)),
        Err(zeroipc::structures::stack::PopTimeoutError::Timeout)
    );
    assert_eq!(
        s.pop_deadline(Instant::now()),
        Err(zeroipc::structures::stack::PopTimeoutError::Timeout)
    );
    s.push_deadline(5, Instant::now() + Duration::from_secs(60))
        .unwrap();
    let err = s.push_timeout(6, Duration::from_millis(1)).unwrap_err();
    assert_eq!(
        err,
        zeroipc::structures::stack::PushTimeoutError::Timeout(6)
    );
    assert_eq!(err.into_inner(), 6);
    let err = s.push_deadline(7, Instant::now()).unwrap_err();
    assert_eq!(err.into_inner(), 7);
    assert_eq!(s.pop_timeout(Duration::MAX), Ok(5));
}

#[test]
fn blocking_pushers_and_poppers_on_a_tiny_stack_move_every_item_exactly_once() {
    // Capacity 2 and four threads: pushers and poppers block (and sleep) often; each pop
    // is matched by a push, so every blocked call is eventually woken.
    let (_n, seg) = fresh("stack_blocking_threads");
    let s: Stack<u32> = Stack::create(&seg, "s", 2).unwrap();
    const N: u32 = 5_000;
    let pushers: Vec<_> = (0..2u32)
        .map(|id| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..N {
                    s.push(id * N + i).unwrap();
                }
            })
        })
        .collect();
    let poppers: Vec<_> = (0..2)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || (0..N).map(|_| s.pop().unwrap()).collect::<Vec<_>>())
        })
        .collect();
    pushers.into_iter().for_each(|p| p.join().unwrap());
    let mut all: Vec<u32> = poppers
        .into_iter()
        .flat_map(|p| p.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..2 * N).collect::<Vec<_>>());
    assert!(s.is_empty());
    assert_eq!(common::registered_sleepers(&seg, s.entry()), (0, 0));
}

// Non-blocking means bounded (issue #17 item 3)

#[test]
fn try_pop_and_try_push_return_while_a_peer_keeps_moving_top() {
    const STALL: Duration = Duration::from_millis(50);
    let name = ShmName::new("stack_try_moving_top");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let s: Stack<u64> = Stack::create(&seg, "s", 8)
        .unwrap()
        .with_stall_timeout(STALL);
    for v in 0..4 {
        s.push(v).unwrap();
    }
    // `top` cycles over the four pushed slots. Either outcome of each call is fine (a CAS
    // may win between two writes); returning is the point. (Writes through the file are
    // slow next to a CAS, so this seldom makes the `top` CAS lose: it checks that the calls
    // return, not that the bound on lost CASes holds.)
    let (_, slowest) = common::while_a_peer_moves(
        &name,
        s.entry().offset(),
        |k| k & 3,
        || {
            (0..20)
                .map(|i| {
                    let t0 = Instant::now();
                    if i % 2 == 0 {
                        let _ = s.try_pop();
                    } else {
                        let _ = s.try_push(9);
                    }
                    t0.elapsed()
                })
                .max()
                .unwrap()
        },
    );
    assert!(
        slowest < common::NONBLOCKING_LIVENESS,
        "a call took {slowest:?} (stall bound {STALL:?})"
    );
}

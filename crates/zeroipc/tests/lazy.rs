//! codata::Lazy: C++ golden lazies (and `Lazy<bool>`), Python's Lazy refused, byte-identical
//! creation, computed exactly once across processes, a SIGKILLed computer replaced.

mod common;

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{ShmName, child_role, load_golden, spawn_child_with, wait_ok};
use zeroipc::codata::lazy::{
    BoolOperation, ForceError, ForceTimeoutError, Lazy, LazyBool, LazyState, Operation,
};
use zeroipc::structures::Array;
use zeroipc::sync::Barrier;
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

const WAIT: Duration = Duration::from_secs(30);

fn fresh(test: &str) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

fn poke(name: &ShmName, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.write_all_at(bytes, at).unwrap();
}

#[test]
fn cpp_golden_lazies_decode() {
    let img = load_golden("cpp_all.bin");
    let seg = Segment::open(img.as_str()).unwrap();

    let c: Lazy<f64> = Lazy::open(&seg, "lazy_const").unwrap();
    assert_eq!(c.state().unwrap(), LazyState::Computed);
    assert_eq!(c.peek().unwrap(), Some(2.5));
    assert_eq!(c.operation().unwrap(), Operation::Constant(2.5));
    assert_eq!(c.compute_count().unwrap(), 0);

    let c2: Lazy<f64> = Lazy::open(&seg, "lazy_c2").unwrap();
    assert_eq!(c2.force().unwrap(), 4.0);
    assert_eq!(
        c2.compute_count().unwrap(),
        0,
        "a computed lazy is not recomputed"
    );

    let add: Lazy<f64> = Lazy::open(&seg, "lazy_add").unwrap();
    assert_eq!(add.state().unwrap(), LazyState::NotComputed);
    assert_eq!(add.peek().unwrap(), None);
    assert_eq!(add.operation().unwrap(), Operation::Add(2.5, 4.0));
    assert_eq!(add.compute_count().unwrap(), 0);
    assert_eq!(add.force().unwrap(), 6.5, "forced_value");
    assert_eq!(add.compute_count().unwrap(), 1);
    assert_eq!(add.force().unwrap(), 6.5);
    assert_eq!(add.compute_count().unwrap(), 1);

    let mul: Lazy<f64> = Lazy::open(&seg, "lazy_mul").unwrap();
    assert_eq!(mul.state().unwrap(), LazyState::Computed);
    assert_eq!(mul.peek().unwrap(), Some(10.0));
    assert_eq!(mul.operation().unwrap(), Operation::Multiply(2.5, 4.0));
    assert_eq!(mul.compute_count().unwrap(), 1);

    let i: Lazy<i32> = Lazy::open(&seg, "lazy_i32").unwrap();
    assert_eq!(i.force_timeout(WAIT).unwrap(), -42);
    assert_eq!(i.operation().unwrap(), Operation::Constant(-42));

    let b = LazyBool::open(&seg, "lazy_bool").unwrap();
    assert_eq!(b.state().unwrap(), LazyState::Computed);
    assert_eq!(b.peek().unwrap(), Some(true));
    assert_eq!(b.operation().unwrap(), BoolOperation::Constant(true));

    // Wrong views are refused, not misread.
    assert!(Lazy::<i32>::open(&seg, "lazy_const").is_err());
    assert!(Lazy::<u8>::open(&seg, "lazy_bool").is_err());
    assert!(LazyBool::open(&seg, "lazy_i32").is_err());
}

#[test]
fn python_lazies_are_refused_as_foreign() {
    let img = load_golden("python_all.bin");
    let seg = Segment::open(img.as_str()).unwrap();
    for name in ["lazy_const", "lazy_c2", "lazy_add", "lazy_mul"] {
        match Lazy::<f64>::open(&seg, name) {
            Err(StructureError::Foreign { format, detail, .. }) => {
                assert!(format.contains("Python"), "{format}");
                assert!(detail.contains("268"), "{detail}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    let err = Lazy::<i32>::open(&seg, "lazy_i32").unwrap_err();
    assert!(matches!(err, StructureError::Foreign { .. }), "{err}");
    assert!(err.to_string().contains("Python"), "{err}");
}

/// The golden operations replayed in zeroipc write C++'s bytes exactly.
#[test]
fn created_lazies_have_the_cpp_bytes() {
    let img = load_golden("cpp_all.bin");
    let golden = std::fs::read(img.path()).unwrap();
    let gseg = Segment::open(img.as_str()).unwrap();
    let (_name, seg) = fresh("created_lazies_have_the_cpp_bytes");

    let c: Lazy<f64> = Lazy::constant(&seg, "lazy_const", 2.5).unwrap();
    let c2: Lazy<f64> = Lazy::constant(&seg, "lazy_c2", 4.0).unwrap();
    let add = Lazy::add(&seg, "lazy_add", &c, &c2).unwrap();
    let mul = Lazy::multiply(&seg, "lazy_mul", &c, &c2).unwrap();
    assert_eq!(mul.force().unwrap(), 10.0);
    let i: Lazy<i32> = Lazy::constant(&seg, "lazy_i32", -42).unwrap();

    for l in [c.entry(), c2.entry(), add.entry(), mul.entry(), i.entry()] {
        let name = l.name().to_string();
        let g = gseg.find(&name).unwrap();
        assert_eq!(l.size(), g.size(), "{name}: entry size");
        let ours = seg.read_bytes(l.offset(), l.size()).unwrap();
        let start = usize::try_from(g.offset()).unwrap();
        assert_eq!(ours, &golden[start..start + ours.len()], "{name}: bytes");
    }
}

#[test]
fn operations_evaluate_as_cpp_and_count() {
    let (_name, seg) = fresh("operations_evaluate_as_cpp_and_count");
    let n: Lazy<i64> = Lazy::with_operation(&seg, "n", Operation::Negate(7)).unwrap();
    assert_eq!(n.force().unwrap(), -7);
    let w: Lazy<i32> = Lazy::with_operation(&seg, "w", Operation::Add(i32::MAX, 1)).unwrap();
    assert_eq!(w.force().unwrap(), i32::MIN, "integers wrap");
    let m: Lazy<f32> = Lazy::with_operation(&seg, "m", Operation::Multiply(1.5, 2.0)).unwrap();
    assert_eq!(m.force().unwrap(), 3.0);
    assert_eq!(m.compute_count().unwrap(), 1);

    // reset: COMPUTED -> NOT_COMPUTED only; the next force recomputes and counts.
    assert!(m.reset().unwrap());
    assert!(!m.reset().unwrap());
    assert_eq!(m.state().unwrap(), LazyState::NotComputed);
    assert_eq!(m.force().unwrap(), 3.0);
    assert_eq!(m.compute_count().unwrap(), 2);

    // CHAIN/EXTERNAL cannot be created with operands.
    assert!(Lazy::<i32>::with_operation(&seg, "x", Operation::External(1)).is_err());
}

#[test]
fn closures_errors_and_panics() {
    let (_name, seg) = fresh("closures_errors_and_panics");
    let l: Lazy<u64> = Lazy::create(&seg, "l").unwrap();
    assert_eq!(l.operation().unwrap(), Operation::External(0));
    // force() cannot evaluate EXTERNAL and does not claim it.
    assert!(matches!(
        l.force(),
        Err(ForceError::NoComputation { op: 5 })
    ));
    assert_eq!(l.state().unwrap(), LazyState::NotComputed);
    assert_eq!(l.force_with(|| 9).unwrap(), 9);
    assert_eq!(l.force().unwrap(), 9, "force reads someone else's result");

    let e: Lazy<u64> = Lazy::create(&seg, "e").unwrap();
    let r = e.force_with_result_timeout(WAIT, || Err("no input"));
    assert!(matches!(r, Err(ForceTimeoutError::Failed { ref message }) if message == "no input"));
    assert_eq!(e.state().unwrap(), LazyState::Error);
    // ERROR is permanent (as C++): no closure runs.
    assert!(matches!(
        e.force_with(|| unreachable!()),
        Err(ForceError::Failed { .. })
    ));
    assert!(!e.reset().unwrap());

    let p: Lazy<u64> = Lazy::create(&seg, "p").unwrap();
    let panicked = std::panic::catch_unwind(|| p.force_with(|| panic!("inside")));
    assert!(panicked.is_err(), "the panic continues");
    assert!(matches!(
        p.force_with(|| 1),
        Err(ForceError::Failed { message }) if message == "computation panicked"
    ));
}

#[test]
fn hostile_bytes_are_typed_errors() {
    let (name, seg) = fresh("lazy_hostile_bytes_are_typed_errors");
    let l: Lazy<i32> = Lazy::with_operation(&seg, "l", Operation::Add(1, 2)).unwrap();
    let at = l.entry().offset();
    poke(&name, at + 4, &77u32.to_le_bytes()); // op.type
    assert!(matches!(
        l.force(),
        Err(ForceError::Corrupt(Corruption::Field {
            field: "op.type",
            found: 77,
            ..
        }))
    ));
    assert_eq!(l.state().unwrap(), LazyState::NotComputed, "not claimed");
    poke(&name, at, &9u32.to_le_bytes()); // state
    assert!(matches!(
        l.force_with(|| 0),
        Err(ForceError::Corrupt(Corruption::Field {
            field: "state",
            found: 9,
            ..
        }))
    ));
    assert!(l.peek().is_err());
    // ERROR whose message has no NUL.
    poke(&name, at, &3u32.to_le_bytes());
    poke(&name, at + 20, &[b'y'; 256]);
    assert!(matches!(
        l.force_with(|| 0),
        Err(ForceError::Corrupt(Corruption::Field {
            field: "error_msg",
            ..
        }))
    ));
}

const RACERS: usize = 3;

/// Three processes force one Lazy at once; each counts its own closure calls in an Array.
/// Exactly one closure runs in total, and all three get its value.
#[test]
fn computed_once_by_whichever_of_three_processes_is_first() {
    if let Some(name) = child_role("racer") {
        let me: usize = std::env::var("RACER").unwrap().parse().unwrap();
        let seg = Segment::open(&name).unwrap();
        let lazy: Lazy<u64> = Lazy::open(&seg, "value").unwrap();
        let calls: Array<u64> = Array::open(&seg, "calls").unwrap();
        let results: Array<u64> = Array::open(&seg, "results").unwrap();
        let start = Barrier::open(&seg, "start").unwrap();
        // [2i]: racer i's pid, [2i + 1]: the id of its thread that forces.
        let who: Array<u64> = Array::open(&seg, "who").unwrap();
        start.wait_timeout(WAIT).unwrap();
        who.set(2 * me, u64::from(std::process::id())).unwrap();
        who.set(2 * me + 1, u64::from(common::thread_id())).unwrap();
        let v = lazy
            .force_with_timeout(WAIT, || {
                calls.set(me, calls.get(me).unwrap() + 1).unwrap();
                // Finish only once the others sleep waiting for this computation.
                for other in (0..RACERS).filter(|&i| i != me) {
                    let t0 = Instant::now();
                    while who.get(2 * other + 1) == Some(0) {
                        assert!(t0.elapsed() < WAIT, "racer {other} never started");
                        std::thread::sleep(Duration::from_millis(1));
                    }
                    let id = |i| u32::try_from(who.get(i).unwrap()).unwrap();
                    common::wait_until_asleep(
                        &format!("racer {other} to wait for the computation"),
                        id(2 * other),
                        id(2 * other + 1),
                    );
                }
                1000 + me as u64
            })
            .unwrap();
        results.set(me, v).unwrap();
        return;
    }
    let test = "computed_once_by_whichever_of_three_processes_is_first";
    let (name, seg) = fresh(test);
    let lazy: Lazy<u64> = Lazy::create(&seg, "value").unwrap();
    let calls: Array<u64> = Array::create(&seg, "calls", RACERS).unwrap();
    let results: Array<u64> = Array::create(&seg, "results", RACERS).unwrap();
    Array::<u64>::create(&seg, "who", 2 * RACERS).unwrap();
    Barrier::create(&seg, "start", RACERS).unwrap();
    let children: Vec<_> = (0..RACERS)
        .map(|i| spawn_child_with(test, "racer", &name, &[("RACER", i.to_string())]))
        .collect();
    for c in children {
        wait_ok(c, 60);
    }
    let total: u64 = (0..RACERS).map(|i| calls.get(i).unwrap()).sum();
    assert_eq!(total, 1, "exactly one closure call across all processes");
    let winner = (0..RACERS).find(|&i| calls.get(i) == Some(1)).unwrap();
    for i in 0..RACERS {
        assert_eq!(
            results.get(i),
            Some(1000 + winner as u64),
            "process {i} got the value"
        );
    }
    assert_eq!(lazy.compute_count().unwrap(), 1);
    assert_eq!(lazy.peek().unwrap(), Some(1000 + winner as u64));
}

/// A computer SIGKILLed mid-computation: a process already waiting takes over and
/// computes; the value comes from exactly one finished computation.
#[test]
fn killed_computer_is_replaced_by_a_waiting_process() {
    let test = "killed_computer_is_replaced_by_a_waiting_process";
    if let Some(name) = child_role("computer") {
        let seg = Segment::open(&name).unwrap();
        let lazy: Lazy<u64> = Lazy::open(&seg, "value").unwrap();
        let _ = lazy.force_with(|| {
            loop {
                std::thread::sleep(Duration::from_secs(1)); // computing forever, until killed
            }
        });
        unreachable!();
    }
    if let Some(name) = child_role("recoverer") {
        let seg = Segment::open(&name).unwrap();
        let lazy: Lazy<u64> = Lazy::open(&seg, "value").unwrap();
        let calls: Array<u64> = Array::open(&seg, "calls").unwrap();
        // [1]: the id of the thread that waits for the computer.
        calls.set(1, u64::from(common::thread_id())).unwrap();
        let v = lazy
            .force_with_timeout(WAIT, || {
                calls.set(0, calls.get(0).unwrap() + 1).unwrap();
                77
            })
            .unwrap();
        assert_eq!(v, 77);
        return;
    }
    let (name, seg) = fresh(test);
    let lazy: Lazy<u64> = Lazy::create(&seg, "value").unwrap();
    let calls: Array<u64> = Array::create(&seg, "calls", 2).unwrap();
    let mut computer = spawn_child_with(test, "computer", &name, &[]);
    let t0 = Instant::now();
    while lazy.state().unwrap() != LazyState::Computing {
        assert!(t0.elapsed() < WAIT, "the computer never claimed");
        std::thread::sleep(Duration::from_millis(1));
    }
    let recoverer = spawn_child_with(test, "recoverer", &name, &[]);
    while calls.get(1) == Some(0) {
        assert!(t0.elapsed() < WAIT, "the recoverer never started");
        std::thread::sleep(Duration::from_millis(1));
    }
    common::wait_until_asleep(
        "the recoverer to wait for the computer",
        recoverer.id(),
        u32::try_from(calls.get(1).unwrap()).unwrap(),
    );
    assert_eq!(lazy.state().unwrap(), LazyState::Computing);
    assert_eq!(
        calls.get(0),
        Some(0),
        "no one computes while the computer lives"
    );
    computer.kill().unwrap();
    computer.wait().unwrap(); // reaped: not a zombie that looks alive
    wait_ok(recoverer, 60);
    assert_eq!(calls.get(0), Some(1));
    assert_eq!(lazy.peek().unwrap(), Some(77));
    assert_eq!(lazy.compute_count().unwrap(), 1);
    // The pid word inside error_msg was cleared: bytes as C++ would leave them.
    let bytes = seg.read_bytes(lazy.entry().offset() + 40, 256).unwrap();
    assert!(bytes.iter().all(|&b| b == 0));
}

#[test]
fn timed_and_try_forms_while_another_thread_computes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use zeroipc::codata::lazy::TryForceError;

    let (_name, seg) = fresh("lazy_forms_while_computing");
    let l: Lazy<i64> = Lazy::with_operation(&seg, "l", Operation::Add(2, 3)).unwrap();
    let (computing, release) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let computer = {
        let (l, computing, release) = (l.clone(), computing.clone(), release.clone());
        std::thread::spawn(move || {
            l.force_with(|| {
                computing.store(true, Ordering::Release);
                let deadline = Instant::now() + WAIT;
                while !release.load(Ordering::Acquire) && Instant::now() < deadline {
                    std::thread::yield_now();
                }
                40
            })
        })
    };
    let deadline = Instant::now() + WAIT;
    while !computing.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline, "the computer never started");
        std::thread::yield_now();
    }
    // The other thread holds COMPUTING until released: every timed form with a past
    // deadline times out, every try form would block, and no closure runs here.
    let past = Instant::now();
    assert!(matches!(
        l.force_deadline(past),
        Err(ForceTimeoutError::Timeout)
    ));
    assert!(matches!(
        l.force_timeout(Duration::ZERO),
        Err(ForceTimeoutError::Timeout)
    ));
    assert!(matches!(
        l.force_with_deadline(past, || unreachable!()),
        Err(ForceTimeoutError::Timeout)
    ));
    assert!(matches!(
        l.force_with_result_deadline(past, || -> Result<i64, String> { unreachable!() }),
        Err(ForceTimeoutError::Timeout)
    ));
    assert!(matches!(l.try_force(), Err(TryForceError::WouldBlock)));
    assert!(matches!(
        l.try_force_with(|| unreachable!()),
        Err(TryForceError::WouldBlock)
    ));
    release.store(true, Ordering::Release);
    assert_eq!(computer.join().unwrap().unwrap(), 40);
    assert_eq!(
        l.force().unwrap(),
        40,
        "the closure's value, not the stored op"
    );
    assert_eq!(l.try_force().unwrap(), 40);
    assert_eq!(l.force_deadline(past).unwrap(), 40);
    assert_eq!(l.compute_count().unwrap(), 1);
}

#[test]
fn combine_errors_name_the_failed_step() {
    use zeroipc::codata::lazy::CombineError;

    let (_name, seg) = fresh("lazy_combine_errors");
    let a = Lazy::constant(&seg, "a", 1i32).unwrap();
    let ext: Lazy<i32> = Lazy::create(&seg, "ext").unwrap();
    assert!(matches!(
        Lazy::add(&seg, "s", &a, &ext),
        Err(CombineError::Force(ForceError::NoComputation { op: 5 }))
    ));
    assert!(matches!(
        Lazy::multiply(&seg, "a", &a, &a),
        Err(CombineError::Create(StructureError::Table(_)))
    ));
    assert_eq!(
        Lazy::multiply(&seg, "m", &a, &a).unwrap().force().unwrap(),
        1
    );
}

/// `force_async` waits for another thread's computation without blocking the executor (a
/// second task keeps running meanwhile), resolves to its value once published, and
/// `force_async_timeout` gives up with `Timeout` while the computer still holds it.
#[test]
fn force_async_waits_for_the_computer_without_blocking_the_executor() {
    let (_n, seg) = fresh("force_async_waits_for_the_computer");
    let l: Lazy<u64> = Lazy::create(&seg, "l").unwrap();
    let (started_tx, started_rx) = std::sync::mpsc::channel();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let computer = {
        let l = l.clone();
        std::thread::spawn(move || {
            l.force_with(|| {
                started_tx.send(()).unwrap();
                go_rx.recv().unwrap();
                77
            })
        })
    };
    started_rx.recv().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let v = rt.block_on(async {
        assert_eq!(
            l.force_async_timeout(Duration::from_millis(20)).await,
            Err(ForceTimeoutError::Timeout)
        );
        let waiting = {
            let l = l.clone();
            tokio::spawn(async move { l.force_async_timeout(WAIT).await })
        };
        // The executor is free while the await is pending: this task runs, then lets the
        // computer finish.
        tokio::task::yield_now().await;
        go_tx.send(()).unwrap();
        waiting.await.unwrap()
    });
    assert_eq!(v, Ok(77));
    assert_eq!(computer.join().unwrap().unwrap(), 77);
    assert_eq!(rt.block_on(l.force_async()).unwrap(), 77);
}

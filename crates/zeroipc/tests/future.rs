//! codata::Future: golden images (C++ and Python), byte-identical creation, set-once,
//! hostile bytes, request–response across processes, a SIGKILLed setter, and `.await`
//! under tokio.

mod common;

use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use common::{ShmName, child_role, load_golden, spawn_blocked, spawn_child, wait_ok};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::codata::future::{Future, FutureState, GetError, GetTimeoutError, SetError};
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

/// The golden images' `Point` (24 bytes, 7 bytes of tail padding made explicit).
#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Point {
    id: i32,
    x: f32,
    y: f64,
    flag: u8,
    pad: [u8; 7],
}

const POINT5: Point = Point {
    id: 5,
    x: 0.5,
    y: 5.5,
    flag: 5,
    pad: [0; 7],
};

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

fn failed(r: Result<impl std::fmt::Debug, GetError>) -> String {
    match r {
        Err(GetError::Failed { message }) => message,
        other => panic!("expected a failed future, got {other:?}"),
    }
}

/// The futures of `file` decode as MANIFEST.md lists (C++ and Python write the same).
fn decode_golden_futures(file: &str) {
    let img = load_golden(file);
    let seg = Segment::open(img.as_str()).unwrap();

    let pending: Future<f64> = Future::open(&seg, "fut_pending").unwrap();
    assert_eq!(pending.state().unwrap(), FutureState::Pending);
    assert_eq!(pending.waiters().unwrap(), 0);
    assert!(!pending.is_ready().unwrap());
    assert_eq!(pending.try_get().unwrap(), None);
    assert!(matches!(
        pending.get_timeout(Duration::from_millis(5)),
        Err(GetTimeoutError::Timeout)
    ));
    assert_eq!(
        pending.waiters().unwrap(),
        0,
        "a timed-out waiter uncounts itself"
    );

    let ready: Future<f64> = Future::open(&seg, "fut_ready").unwrap();
    assert_eq!(ready.state().unwrap(), FutureState::Ready);
    assert_eq!(ready.get().unwrap(), 3.25);
    assert!(ready.completion_time().unwrap().is_some_and(|t| t > 0));

    let err: Future<i32> = Future::open(&seg, "fut_err").unwrap();
    assert_eq!(err.state().unwrap(), FutureState::Error);
    assert!(err.is_ready().unwrap());
    assert_eq!(failed(err.get()), "boom: negative input");
    assert_eq!(failed(err.try_get()), "boom: negative input");

    let i: Future<i64> = Future::open(&seg, "fut_i64").unwrap();
    assert_eq!(i.get_timeout(WAIT).unwrap(), -9_876_543_210);

    let p: Future<Point> = Future::open(&seg, "fut_point").unwrap();
    let mut point = p.try_get().unwrap().unwrap();
    point.pad = [0; 7]; // padding: unspecified in Python images
    assert_eq!(point, POINT5);

    // Setting a future someone else set is refused, whoever set it.
    assert!(matches!(
        ready.set_value(1.0),
        Err(SetError::AlreadySet {
            state: FutureState::Ready
        })
    ));
}

#[test]
fn cpp_golden_futures_decode() {
    decode_golden_futures("cpp_all.bin");
}

#[test]
fn python_golden_futures_decode_including_the_unpadded_entry() {
    decode_golden_futures("python_all.bin");
    let img = load_golden("python_all.bin");
    let seg = Segment::open(img.as_str()).unwrap();
    assert_eq!(seg.find("fut_err").unwrap().size(), 276, "Python: 272 + 4");
}

#[test]
fn open_refuses_other_value_sizes() {
    let img = load_golden("cpp_all.bin");
    let seg = Segment::open(img.as_str()).unwrap();
    // fut_point is 296 bytes: a 24-byte value.
    match Future::<u64>::open(&seg, "fut_point") {
        Err(StructureError::ElementSize {
            stored, expected, ..
        }) => assert_eq!((stored, expected), (24, 8)),
        other => panic!("{other:?}"),
    }
    // A Once (4 bytes) is no future.
    assert!(matches!(
        Future::<u64>::open(&seg, "once_done"),
        Err(StructureError::Corrupt(Corruption::Field {
            field: "entry size",
            ..
        }))
    ));
}

/// Replaying the golden operations in zeroipc writes C++'s bytes (except `completion_time`,
/// which the manifest lists as nondeterministic).
#[test]
fn created_futures_have_the_cpp_bytes() {
    let img = load_golden("cpp_all.bin");
    let golden = std::fs::read(img.path()).unwrap();
    let gseg = Segment::open(img.as_str()).unwrap();
    let (_name, seg) = fresh("created_futures_have_the_cpp_bytes");

    let pending: Future<f64> = Future::create(&seg, "fut_pending").unwrap();
    let ready: Future<f64> = Future::create(&seg, "fut_ready").unwrap();
    ready.set_value(3.25).unwrap();
    let err: Future<i32> = Future::create(&seg, "fut_err").unwrap();
    err.set_error("boom: negative input").unwrap();
    let i: Future<i64> = Future::create(&seg, "fut_i64").unwrap();
    i.set_value(-9_876_543_210).unwrap();
    let p: Future<Point> = Future::create(&seg, "fut_point").unwrap();
    p.set_value(POINT5).unwrap();

    for (name, entry, set) in [
        ("fut_pending", pending.entry(), false),
        ("fut_ready", ready.entry(), true),
        ("fut_err", err.entry(), true),
        ("fut_i64", i.entry(), true),
        ("fut_point", p.entry(), true),
    ] {
        let g = gseg.find(name).unwrap();
        assert_eq!(entry.size(), g.size(), "{name}: entry size");
        let mut ours = seg.read_bytes(entry.offset(), entry.size()).unwrap();
        let start = usize::try_from(g.offset()).unwrap();
        let mut theirs = golden[start..start + ours.len()].to_vec();
        if set {
            // completion_time: nondeterministic in the manifest; ours is non-zero too.
            assert_ne!(&ours[8..16], &[0; 8], "{name}: completion time written");
            ours[8..16].fill(0);
            theirs[8..16].fill(0);
        }
        assert_eq!(ours, theirs, "{name}: bytes");
    }
}

#[test]
fn set_is_exactly_once() {
    let (_name, seg) = fresh("set_is_exactly_once");
    let f: Future<u32> = Future::create(&seg, "f").unwrap();
    f.set_value(1).unwrap();
    assert!(matches!(
        f.set_value(2),
        Err(SetError::AlreadySet {
            state: FutureState::Ready
        })
    ));
    assert!(matches!(
        f.set_error("late"),
        Err(SetError::AlreadySet { .. })
    ));
    assert!(f.claim().is_err());
    assert_eq!(f.get().unwrap(), 1);

    let e: Future<u32> = Future::create(&seg, "e").unwrap();
    e.set_error("first").unwrap();
    assert!(matches!(
        e.set_value(3),
        Err(SetError::AlreadySet {
            state: FutureState::Error
        })
    ));
    assert_eq!(failed(e.get()), "first");
}

#[test]
fn long_and_odd_error_messages_are_cut_safely() {
    let (_name, seg) = fresh("long_and_odd_error_messages_are_cut_safely");
    let f: Future<u8> = Future::create(&seg, "f").unwrap();
    let long = "é".repeat(200); // 400 bytes: cut at 240 (a character boundary ≤ 240)
    f.set_error(&long).unwrap();
    let m = failed(f.get());
    assert_eq!(m.len(), 240);
    assert!(long.starts_with(&m));

    let g: Future<u8> = Future::create(&seg, "g").unwrap();
    g.set_error("before\0after").unwrap();
    assert_eq!(failed(g.get()), "before");
}

#[test]
fn dropping_a_promise_sets_an_error() {
    let (_name, seg) = fresh("dropping_a_promise_sets_an_error");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    drop(f.claim().unwrap());
    assert_eq!(failed(f.get()), "promise dropped without a value");
}

#[test]
fn hostile_bytes_are_typed_errors() {
    let (name, seg) = fresh("hostile_bytes_are_typed_errors");
    let f: Future<i32> = Future::create(&seg, "f").unwrap();
    let at = f.entry().offset();
    // A state outside 0..=3.
    poke(&name, at, &7u32.to_le_bytes());
    for r in [f.state().map(|_| ()), f.is_ready().map(|_| ())] {
        assert!(matches!(
            r,
            Err(Corruption::Field {
                field: "state",
                found: 7,
                ..
            })
        ));
    }
    assert!(matches!(
        f.get_timeout(WAIT),
        Err(GetTimeoutError::Corrupt(Corruption::Field {
            field: "state",
            ..
        }))
    ));
    assert!(matches!(f.set_value(1), Err(SetError::Corrupt(_))));
    assert!(Future::<i32>::open(&seg, "f").is_err());
    // ERROR with a message that has no NUL in its 256 bytes.
    poke(&name, at, &3u32.to_le_bytes());
    poke(&name, at + 20, &[b'x'; 256]);
    assert!(matches!(
        f.get(),
        Err(GetError::Corrupt(Corruption::Field {
            field: "error_msg",
            ..
        }))
    ));
}

#[test]
fn a_waiter_blocked_in_get_sees_a_value_set_by_another_thread() {
    let (_name, seg) = fresh("a_waiter_blocked_in_get_sees_a_value_set_by_another_thread");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let waiters: Vec<_> = (0..2)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || f.get_timeout(WAIT))
        })
        .collect();
    let t0 = Instant::now();
    while f.waiters().unwrap() < 2 {
        assert!(t0.elapsed() < WAIT, "waiters never registered");
        std::thread::sleep(Duration::from_millis(1));
    }
    f.set_value(99).unwrap();
    for w in waiters {
        assert_eq!(w.join().unwrap().unwrap(), 99);
    }
    assert_eq!(f.waiters().unwrap(), 0);
}

/// A peer that sets the future without waking anyone (as C++ and Python do: they only
/// store): a sleeping waiter still sees it, thanks to its 1 ms re-check slices.
#[test]
fn a_setter_that_never_wakes_is_still_seen() {
    let (name, seg) = fresh("a_setter_that_never_wakes_is_still_seen");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let at = f.entry().offset();
    let waiter = {
        let f = f.clone();
        spawn_blocked("the waiter to sleep in the futex", move || {
            f.get_timeout(WAIT)
        })
    };
    assert_eq!(f.waiters().unwrap(), 1);
    // Written through the file, like a foreign process: value, then READY. No FUTEX_WAKE.
    poke(&name, at + 16, &31_337u64.to_le_bytes());
    poke(&name, at, &2u32.to_le_bytes());
    assert_eq!(waiter.join().unwrap().unwrap(), 31_337);
}

/// The request–response pattern of `examples/future_request_response.rs`, across
/// processes: the client creates a request and a response future; the server (a child
/// process) waits for the request and answers it.
#[test]
fn request_response_across_processes() {
    if let Some(name) = child_role("server") {
        let seg = Segment::open(&name).unwrap();
        let request: Future<u64> = Future::open(&seg, "request").unwrap();
        let response: Future<u64> = Future::open(&seg, "response").unwrap();
        let n = request.get_timeout(WAIT).unwrap();
        let promise = response.claim().unwrap();
        promise.set_value((1..=n).sum()).unwrap();
        return;
    }
    let (name, seg) = fresh("request_response_across_processes");
    let request: Future<u64> = Future::create(&seg, "request").unwrap();
    let response: Future<u64> = Future::create(&seg, "response").unwrap();
    let server = spawn_child("request_response_across_processes", "server", &name);
    request.set_value(100).unwrap();
    assert_eq!(response.get_timeout(WAIT).unwrap(), 5050);
    wait_ok(server, 30);
}

/// A setter SIGKILLed while it holds COMPUTING: a waiter blocked in `get_timeout` gets
/// `SetterDead` with its pid (never a hang); then another process takes the future over.
#[test]
fn killed_setter_is_reported_to_waiters_and_can_be_replaced() {
    if let Some(name) = child_role("setter") {
        let seg = Segment::open(&name).unwrap();
        let f: Future<u64> = Future::open(&seg, "f").unwrap();
        let _promise = f.claim().unwrap();
        // "Computing" forever, until killed.
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let (name, seg) = fresh("killed_setter_is_reported_to_waiters_and_can_be_replaced");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let mut child = spawn_child(
        "killed_setter_is_reported_to_waiters_and_can_be_replaced",
        "setter",
        &name,
    );
    let pid = child.id();
    let t0 = Instant::now();
    while f.state().unwrap() != FutureState::Computing {
        assert!(t0.elapsed() < WAIT, "the setter never claimed");
        std::thread::sleep(Duration::from_millis(1));
    }
    // The waiter blocks (the setter is alive).
    let waiter = {
        let f = f.clone();
        spawn_blocked("the waiter to block", move || f.get_timeout(WAIT))
    };
    assert!(!waiter.is_finished());
    assert_eq!(f.try_get().unwrap(), None);
    child.kill().unwrap();
    child.wait().unwrap(); // reaped: no zombie left to look alive
    let t1 = Instant::now();
    match waiter.join().unwrap() {
        Err(GetTimeoutError::SetterDead { pid: dead }) => assert_eq!(dead, pid),
        other => panic!("expected SetterDead, got {other:?}"),
    }
    assert!(t1.elapsed() < WAIT);
    assert!(matches!(f.try_get(), Err(GetError::SetterDead { .. })));
    // A new setter takes over.
    f.claim().unwrap().set_value(11).unwrap();
    assert_eq!(f.get().unwrap(), 11);
}

/// A setter in another process, used by the async tests: it sets `f` once the test sets
/// `go` (when the awaits it checks are pending), so the value wakes them.
fn async_setter_child() -> bool {
    if let Some(name) = child_role("async-setter") {
        let seg = Segment::open(&name).unwrap();
        let f: Future<u64> = Future::open(&seg, "f").unwrap();
        let go: Future<u32> = Future::open(&seg, "go").unwrap();
        go.get_timeout(WAIT).unwrap();
        f.set_value(4242).unwrap();
        return true;
    }
    false
}

#[test]
fn await_under_tokio_current_thread() {
    if async_setter_child() {
        return;
    }
    let (name, seg) = fresh("await_under_tokio_current_thread");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let child = spawn_child("await_under_tokio_current_thread", "async-setter", &name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let v = rt.block_on(async {
        // Another task keeps running on the single thread while we wait: the wait does not
        // block the executor. The ticker runs once the await below is pending, and only
        // after its ticks does the setter answer: an await that blocked the thread would
        // never see the value.
        let ticker = tokio::spawn(async move {
            let mut n = 0u32;
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_millis(5)).await;
                n += 1;
            }
            go.set_value(1).unwrap();
            n
        });
        let v = tokio::time::timeout(WAIT, &f).await.expect("deadline");
        assert_eq!(ticker.await.unwrap(), 5);
        v
    });
    assert_eq!(v.unwrap(), 4242);
    assert_eq!(f.waiters().unwrap(), 0);
    wait_ok(child, 30);
}

#[test]
fn await_under_tokio_multi_thread() {
    if async_setter_child() {
        return;
    }
    let (name, seg) = fresh("await_under_tokio_multi_thread");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let go: Future<u32> = Future::create(&seg, "go").unwrap();
    let child = spawn_child("await_under_tokio_multi_thread", "async-setter", &name);
    // The setter answers once all three awaits below are pending (counted as waiters).
    let starter = {
        let f = f.clone();
        std::thread::spawn(move || {
            let t0 = Instant::now();
            while f.waiters().unwrap() < 3 {
                assert!(t0.elapsed() < WAIT, "the awaits never became pending");
                std::thread::sleep(Duration::from_millis(1));
            }
            go.set_value(1).unwrap();
        })
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let tasks: Vec<_> = (0..3)
            .map(|_| {
                let f = f.clone();
                tokio::spawn(async move { f.get_async_timeout(WAIT).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap());
        }
        out
    });
    assert_eq!(got, vec![4242; 3]);
    starter.join().unwrap();
    wait_ok(child, 30);
}

/// The awaitable never wakes the task before there is an answer: count the polls.
#[test]
fn await_does_not_busy_poll_the_executor() {
    use std::pin::pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Wake, Waker};

    struct Count(AtomicUsize, std::thread::Thread);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.unpark();
        }
    }
    let (_name, seg) = fresh("await_does_not_busy_poll_the_executor");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let setter = f.clone();
    // The setter answers only after the first poll came back pending (not after a fixed
    // sleep, which a loaded machine can outlast before the first poll).
    let (first_poll_done, pending) = std::sync::mpsc::channel::<()>();
    let t = std::thread::spawn(move || {
        pending.recv().unwrap();
        std::thread::sleep(Duration::from_millis(20));
        setter.set_value(5).unwrap();
    });
    let count = Arc::new(Count(AtomicUsize::new(0), std::thread::current()));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    let mut wait = pin!(f.get_async_timeout(WAIT));
    let mut polls = 0;
    let t0 = Instant::now();
    let v = loop {
        polls += 1;
        if let Poll::Ready(v) = wait.as_mut().poll(&mut cx) {
            break v;
        }
        if polls == 1 {
            first_poll_done.send(()).unwrap();
        }
        assert!(t0.elapsed() < WAIT, "never woken");
        // Poll again only when woken (or on a rare spurious unpark).
        std::thread::park_timeout(WAIT);
    };
    assert_eq!(v.unwrap(), 5);
    // One wake for the answer (spurious parks may add polls, but never wakes).
    assert_eq!(count.0.load(Ordering::SeqCst), 1, "woken exactly once");
    assert!(polls >= 2);
    t.join().unwrap();

    // Dropping a pending awaitable stops its helper and uncounts it.
    let g: Future<u64> = Future::create(&seg, "g").unwrap();
    {
        let mut wait = Box::pin(g.get_async());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
    }
    let t0 = Instant::now();
    while g.waiters().unwrap() != 0 {
        assert!(t0.elapsed() < WAIT, "helper never stopped");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// `examples/future_request_response.rs` itself: its client in this process, its server in
/// a child process (this test binary, re-run with the example's server variable).
#[test]
fn the_request_response_example_runs() {
    if let Ok(name) = std::env::var(rr_example::SERVER_ENV) {
        rr_example::server(&name).unwrap();
        return;
    }
    let mut server = std::process::Command::new(std::env::current_exe().unwrap());
    server.args([
        "the_request_response_example_runs",
        "--exact",
        "--nocapture",
        "--test-threads=1",
    ]);
    rr_example::client(server).unwrap();
}

#[allow(dead_code, unreachable_pub)] // `main` is the example's entry point, unused here
#[path = "../examples/future_request_response.rs"]
mod rr_example;

/// `.await` also reports a zeroipc setter that dies while the task awaits. The "setter" is
/// a `sleep` process whose pid is written into the owner word as a zeroipc setter writes it
/// (`ZPID` tag, pid), then killed and reaped while the awaitable's helper thread sleeps.
#[test]
fn await_reports_a_setter_that_dies_meanwhile() {
    let (name, seg) = fresh("await_reports_a_setter_that_dies_meanwhile");
    let f: Future<u32> = Future::create(&seg, "f").unwrap();
    let mut setter = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = setter.id();
    let at = f.entry().offset();
    poke(
        &name,
        at + 8,
        &((0x5A50_4944u64 << 32) | u64::from(pid)).to_le_bytes(),
    );
    poke(&name, at, &1u32.to_le_bytes()); // COMPUTING
    assert_eq!(f.try_get().unwrap(), None, "the setter is alive");
    assert_eq!(
        f.completion_time().unwrap(),
        None,
        "the word is a pid, not a time"
    );
    // Killed once the awaitable's helper thread waits (counted as a waiter), not before.
    let watched = f.clone();
    let killer = std::thread::spawn(move || {
        let t0 = Instant::now();
        while watched.waiters().unwrap() == 0 {
            assert!(t0.elapsed() < WAIT, "the await never became pending");
            std::thread::sleep(Duration::from_millis(1));
        }
        setter.kill().unwrap();
        setter.wait().unwrap(); // reaped: gone, not a zombie
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let r = rt.block_on(async { tokio::time::timeout(WAIT, f.get_async()).await });
    killer.join().unwrap();
    match r.expect("deadline") {
        Err(GetError::SetterDead { pid: dead }) => assert_eq!(dead, pid),
        other => panic!("expected SetterDead, got {other:?}"),
    }
    assert!(matches!(f.get(), Err(GetError::SetterDead { .. })));
}

/// Polls `fut` to completion on this thread (a minimal executor).
fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = std::pin::pin!(fut);
    loop {
        if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

#[test]
fn get_blocks_until_another_thread_sets_and_timed_forms_time_out() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let (_name, seg) = fresh("future_forms");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    assert_eq!(f.try_get(), Ok(None), "not set yet is None by design");
    assert_eq!(
        f.get_deadline(Instant::now()),
        Err(GetTimeoutError::Timeout)
    );
    assert_eq!(
        block_on(f.get_async_deadline(Instant::now())),
        Err(GetTimeoutError::Timeout)
    );
    assert_eq!(
        block_on(f.get_async_timeout(Duration::ZERO)),
        Err(GetTimeoutError::Timeout)
    );
    let calling = Arc::new(AtomicBool::new(false));
    let waiter = {
        let (f, calling) = (f.clone(), calling.clone());
        std::thread::spawn(move || {
            calling.store(true, Ordering::Release);
            f.get() // nothing set before this call: it must wait
        })
    };
    let deadline = Instant::now() + WAIT;
    while !calling.load(Ordering::Acquire) {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    f.set_value(99).unwrap();
    assert_eq!(waiter.join().unwrap(), Ok(99));
    assert_eq!(block_on(f.get_async()), Ok(99));
    assert_eq!(f.get_deadline(Instant::now()), Ok(99));
    assert_eq!(f.segment().name(), seg.name());
}

/// How many futures [`awaiting_2000_futures_costs_a_few_threads`] awaits at once.
const MANY: usize = 2000;

/// Threads of this process (`/proc/self/task`).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The awaiting side of [`awaiting_2000_futures_costs_a_few_threads`], in a process of its own
/// so no other test's threads are counted: awaits every future in one current-thread tokio
/// runtime, checks the thread count while all are pending, and that each resolves to its
/// value.
fn mass_awaiter_child() -> bool {
    let Some(name) = child_role("mass-awaiter") else {
        return false;
    };
    let seg = Segment::open(&name).unwrap();
    let futures: Vec<Future<u64>> = (0..MANY)
        .map(|i| Future::open(&seg, &format!("f{i}")).unwrap())
        .collect();
    let before = threads();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let during = rt.block_on(async {
        let tasks: Vec<_> = futures
            .iter()
            .map(|f| {
                let f = f.clone();
                tokio::spawn(async move { f.get_async_timeout(WAIT).await })
            })
            .collect();
        // Every task has polled once and is pending (counted in its future's `waiters`).
        let t0 = Instant::now();
        while futures.iter().map(|f| f.waiters().unwrap()).sum::<usize>() < MANY {
            assert!(t0.elapsed() < WAIT, "the awaits never all became pending");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let during = threads();
        // The parent sets every future now (it watches the same `waiters` counts).
        for (i, t) in tasks.into_iter().enumerate() {
            assert_eq!(t.await.unwrap(), Ok(i as u64), "future {i}");
        }
        during
    });
    eprintln!("threads: {before} before, {during} while {MANY} futures were awaited");
    assert!(
        during <= before + 3,
        "{during} threads while awaiting {MANY} futures, {before} before: expected at most 3 more"
    );
    true
}

/// 2,000 shared futures awaited at once in one tokio runtime cost at most a few threads
/// (one reactor for the process, not a thread per awaited future), and all complete once a
/// setter in another process sets them.
#[test]
fn awaiting_2000_futures_costs_a_few_threads() {
    if mass_awaiter_child() {
        return;
    }
    let name = ShmName::new("awaiting_2000_futures_costs_a_few_threads");
    let seg = SegmentOptions::new()
        .size(8 << 20)
        .max_entries(u32::try_from(MANY).unwrap() + 8)
        // No type catalog: 2,000 catalog checks on open are not what this test measures.
        .catalog(false)
        .create_new(name.as_str())
        .unwrap();
    let futures: Vec<Future<u64>> = (0..MANY)
        .map(|i| Future::create(&seg, &format!("f{i}")).unwrap())
        .collect();
    let mut child = common::KillOnDrop(spawn_child(
        "awaiting_2000_futures_costs_a_few_threads",
        "mass-awaiter",
        &name,
    ));
    // Set them only once all are awaited, from this process.
    let t0 = Instant::now();
    while futures.iter().map(|f| f.waiters().unwrap()).sum::<usize>() < MANY {
        assert!(
            t0.elapsed() < WAIT,
            "the child's awaits never all became pending"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    for (i, f) in futures.iter().enumerate() {
        f.set_value(i as u64).unwrap();
    }
    let t0 = Instant::now();
    let status = loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            break status;
        }
        assert!(t0.elapsed() < WAIT, "the awaiting child never finished");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert!(status.success(), "the awaiting child failed: {status}");
}

/// A child that claims `f` (COMPUTING, its pid recorded), announces it through `ready`, and
/// hangs until killed.
fn claim_and_hang_child() -> bool {
    let Some(name) = child_role("claim-and-hang") else {
        return false;
    };
    let seg = Segment::open(&name).unwrap();
    let f: Future<u64> = Future::open(&seg, "f").unwrap();
    let ready: Future<u32> = Future::open(&seg, "ready").unwrap();
    let promise = f.claim().unwrap();
    ready.set_value(1).unwrap();
    loop {
        std::thread::park();
        let _ = &promise;
    }
}

/// An awaited future whose setter is SIGKILLed while the await is pending resolves to
/// `SetterDead` (the reactor re-checks a COMPUTING future's setter now and then), under a
/// current-thread runtime.
#[test]
fn an_await_sees_its_setter_die() {
    if claim_and_hang_child() {
        return;
    }
    let (name, seg) = fresh("an_await_sees_its_setter_die");
    let f: Future<u64> = Future::create(&seg, "f").unwrap();
    let ready: Future<u32> = Future::create(&seg, "ready").unwrap();
    let mut child = common::KillOnDrop(spawn_child(
        "an_await_sees_its_setter_die",
        "claim-and-hang",
        &name,
    ));
    ready.get_timeout(WAIT).unwrap();
    let pid = child.0.id();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let r = rt.block_on(async {
        let waiting = {
            let f = f.clone();
            tokio::spawn(async move { f.get_async_timeout(WAIT).await })
        };
        let t0 = Instant::now();
        while f.waiters().unwrap() == 0 {
            assert!(t0.elapsed() < WAIT, "the await never became pending");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Dead means gone: kill and reap it (a zombie still looks alive).
        child.0.kill().unwrap();
        child.0.wait().unwrap();
        waiting.await.unwrap()
    });
    assert_eq!(r, Err(GetTimeoutError::SetterDead { pid }));
}

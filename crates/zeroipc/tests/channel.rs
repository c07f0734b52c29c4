//! Channel<T>: golden C++ channels, Python channels refused, byte-identical reproduction,
//! close semantics, select, and real processes: producer–consumer with close, a 2×2
//! rendezvous, and a sender SIGKILLed in the middle of a rendezvous.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{
    ShmName, child_role, load_golden, poke, spawn_blocked, spawn_child, spawn_child_with, wait_ok,
};
use zeroipc::codata::channel::{
    Channel, RecvError, RecvTimeoutError, Select, SendError, SendTimeoutError, TryRecvError,
    TrySendError, select_recv,
};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions, StructureError, TableError};

const LONG: Duration = Duration::from_secs(20);

fn fresh(test: &str) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

fn entry_bytes(seg: &Segment, name: &str) -> Vec<u8> {
    let e = seg.find(name).unwrap();
    seg.read_bytes(e.offset(), e.size()).unwrap()
}

#[test]
fn golden_cpp_channels_decode_as_the_manifest_lists() {
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();

    let chb: Channel<i32> = Channel::open(&seg, "chb").unwrap();
    assert_eq!(chb.capacity(), 8);
    assert!(!chb.is_closed());
    assert_eq!(chb.len(), 5);
    let got: Vec<i32> = std::iter::from_fn(|| chb.try_recv().ok()).collect();
    assert_eq!(got, [3, 4, 5, 6, 7]);
    assert_eq!(chb.try_recv(), Err(TryRecvError::Empty));

    let chu: Channel<i32> = Channel::open(&seg, "chu").unwrap();
    assert_eq!(chu.capacity(), 0);
    assert!(!chu.is_closed());
    // ready = false, consumed = true, data = 77: a completed rendezvous, nothing pending.
    let slot = entry_bytes(&seg, "chu_slot");
    assert_eq!(&slot[..2], &[0, 1]);
    assert_eq!(i32::from_le_bytes(slot[4..8].try_into().unwrap()), 77);
    assert_eq!(chu.try_recv(), Err(TryRecvError::Empty));

    let chc: Channel<f64> = Channel::open(&seg, "chc").unwrap();
    assert_eq!(chc.capacity(), 2);
    assert!(chc.is_closed());
    assert_eq!(chc.send(1.0), Err(SendError::Disconnected(1.0)));
    assert_eq!(chc.recv_timeout(LONG), Ok(9.5));
    assert_eq!(chc.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));

    // Wrong element type: refused with a typed error.
    assert!(matches!(
        Channel::<u64>::open(&seg, "chb"),
        Err(StructureError::ElementSize { .. })
    ));
    assert!(matches!(
        Channel::<u64>::open(&seg, "chu"),
        Err(StructureError::ElementSize { .. })
    ));
}

#[test]
fn golden_python_channels_are_refused_as_foreign() {
    let shm = load_golden("python_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    for name in ["chb", "chu", "chc"] {
        match Channel::<i32>::open(&seg, name) {
            Err(StructureError::Foreign { entry, format, .. }) => {
                assert_eq!(entry, name);
                assert!(format.contains("Python"), "{format}");
            }
            other => panic!("{name}: expected Foreign, got {other:?}"),
        }
    }
}

#[test]
fn zeroipc_reproduces_the_golden_channels_byte_for_byte() {
    let (_n, seg) = fresh("chan_bytes");
    // chb: i32, requested 5 -> 8; send 1..=7, receive 2.
    let chb: Channel<i32> = Channel::create(&seg, "chb", 5).unwrap();
    (1..=7).for_each(|v| chb.send(v).unwrap());
    assert_eq!((chb.recv(), chb.recv()), (Ok(1), Ok(2)));
    // chu: one rendezvous of 77, sender thread, receiver main.
    let chu: Channel<i32> = Channel::create(&seg, "chu", 0).unwrap();
    let tx = chu.clone();
    let t = std::thread::spawn(move || tx.send_timeout(77, LONG));
    assert_eq!(chu.recv_timeout(LONG), Ok(77));
    t.join().unwrap().unwrap();
    // chc: f64, capacity 2, send 9.5, close.
    let chc: Channel<f64> = Channel::create(&seg, "chc", 2).unwrap();
    chc.send(9.5).unwrap();
    chc.close();

    let shm = load_golden("cpp_all.bin");
    let gold = Segment::open(shm.as_str()).unwrap();
    for name in [
        "chb_header",
        "chb_buffer",
        "chu_header",
        "chu_slot",
        "chc_header",
        "chc_buffer",
    ] {
        assert_eq!(entry_bytes(&seg, name), entry_bytes(&gold, name), "{name}");
    }
}

#[test]
fn create_validates_names_and_capacity() {
    let (_n, seg) = fresh("chan_create");
    let c: Channel<u8> = Channel::create(&seg, "one", 1).unwrap();
    assert_eq!(c.capacity(), 2, "never a broken 1-slot queue");
    assert!(matches!(
        Channel::<u8>::create(&seg, "one", 4),
        Err(StructureError::Table(_))
    ));
    Channel::<u8>::create(&seg, "rz", 0).unwrap();
    assert!(matches!(
        Channel::<u8>::create(&seg, "rz", 0),
        Err(StructureError::Table(TableError::AlreadyExists { .. }))
    ));
    // 25-byte base name: "_header" would not fit in 31 bytes.
    assert!(Channel::<u8>::create(&seg, "abcdefghijklmnopqrstuvwxy", 4).is_err());
    assert!(Channel::<u8>::create(&seg, "abcdefghijklmnopqrstuvwx", 4).is_ok());
    assert!(matches!(
        Channel::<u8>::open(&seg, "missing"),
        Err(StructureError::Table(_))
    ));
}

#[test]
fn close_wakes_blocked_receivers_and_senders() {
    let (_n, seg) = fresh("chan_close_wakes");
    for cap in [0, 2] {
        let c: Channel<u32> = Channel::create(&seg, &format!("c{cap}"), cap).unwrap();
        if cap > 0 {
            c.send(1).unwrap();
            c.send(2).unwrap();
        }
        // A sender blocked (full buffer / no receiver) before the close: asleep in its wait.
        let tx = c.clone();
        let sender = spawn_blocked("the sender to block", move || tx.send_timeout(3, LONG));
        let start = Instant::now();
        assert!(c.close());
        let r = sender.join().unwrap();
        assert_eq!(r, Err(SendTimeoutError::Disconnected(3)));
        assert!(start.elapsed() < LONG);
        // Drain what was sent before the close, then Disconnected.
        if cap > 0 {
            assert_eq!(c.recv_timeout(LONG), Ok(1));
            assert_eq!(c.recv_timeout(LONG), Ok(2));
        }
        assert_eq!(c.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
    }
    for cap in [0, 2] {
        let c: Channel<u32> = Channel::create(&seg, &format!("r{cap}"), cap).unwrap();
        let rx = c.clone();
        let receiver = spawn_blocked("the receiver to block", move || rx.recv_timeout(LONG));
        c.close();
        assert_eq!(
            receiver.join().unwrap(),
            Err(RecvTimeoutError::Disconnected)
        );
    }
}

#[test]
fn unbuffered_try_send_and_timeouts_hand_the_value_back() {
    let (_n, seg) = fresh("chan_try");
    let c: Channel<u64> = Channel::create(&seg, "c", 0).unwrap();
    assert_eq!(c.try_send(1), Err(TrySendError::Full(1)));
    assert_eq!(
        c.send_timeout(2, Duration::from_millis(5)),
        Err(SendTimeoutError::Timeout(2))
    );
    assert_eq!(
        c.try_recv(),
        Err(TryRecvError::Empty),
        "a timed-out value is retracted"
    );
    // With a receiver blocked, try_send delivers.
    let rx = c.clone();
    let t = std::thread::spawn(move || rx.recv_timeout(LONG));
    let deadline = Instant::now() + LONG;
    let mut v = 10;
    loop {
        match c.try_send(v) {
            Ok(()) => break,
            Err(TrySendError::Full(back)) => v = back,
            Err(e) => panic!("{e:?}"),
        }
        assert!(Instant::now() < deadline, "receiver never seen");
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(t.join().unwrap(), Ok(10));
}

#[test]
fn select_returns_the_ready_channel() {
    let (_n, seg) = fresh("chan_select");
    let a: Channel<u32> = Channel::create(&seg, "a", 2).unwrap();
    let b: Channel<u16> = Channel::create(&seg, "b", 0).unwrap();
    assert_eq!(
        select_recv(&[&a], Duration::from_millis(5)),
        Err(RecvTimeoutError::Timeout)
    );
    let tx = b.clone();
    let t = std::thread::spawn(move || tx.send_timeout(5, LONG));
    let got = Select::new()
        .recv(&a, u64::from)
        .recv(&b, u64::from)
        .wait_timeout(LONG);
    assert_eq!(got, Ok((1, 5)));
    t.join().unwrap().unwrap();
    a.send(8).unwrap();
    a.close();
    b.close();
    assert_eq!(select_recv(&[&a, &a], LONG), Ok((0, 8)));
    let all_closed = Select::new()
        .recv(&a, u64::from)
        .recv(&b, u64::from)
        .wait_timeout(LONG);
    assert_eq!(all_closed, Err(RecvTimeoutError::Disconnected));
}

#[test]
fn threads_rendezvous_exactly_once() {
    let (_n, seg) = fresh("chan_threads");
    let c: Channel<u32> = Channel::create(&seg, "c", 0).unwrap();
    let senders: Vec<_> = (0..3u32)
        .map(|s| {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..200 {
                    c.send_timeout(s * 1000 + i, LONG).unwrap();
                }
            })
        })
        .collect();
    let receivers: Vec<_> = (0..3)
        .map(|_| {
            let c = c.clone();
            std::thread::spawn(move || c.iter().collect::<Vec<u32>>())
        })
        .collect();
    senders.into_iter().for_each(|t| t.join().unwrap());
    c.close();
    let mut all: Vec<u32> = receivers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    let want: Vec<u32> = (0..3)
        .flat_map(|s| (0..200).map(move |i| s * 1000 + i))
        .collect();
    assert_eq!(all, want);
}

// ---- across processes ------------------------------------------------------------------

const PC_TEST: &str = "producer_consumer_processes_with_close";
const PC_N: u32 = 5000;

#[test]
fn producer_consumer_processes_with_close() {
    if let Some(name) = child_role("producer") {
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "pc").unwrap();
        for i in 0..PC_N {
            c.send_timeout(i, LONG).unwrap();
        }
        c.close();
        return;
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(PC_TEST);
    let c: Channel<u32> = Channel::create(&seg, "pc", 8).unwrap();
    let child = spawn_child(PC_TEST, "producer", &name);
    let mut got = Vec::new();
    loop {
        match c.recv_timeout(LONG) {
            Ok(v) => got.push(v),
            Err(RecvTimeoutError::Disconnected) => break,
            Err(e) => panic!("{e:?} after {} values", got.len()),
        }
    }
    wait_ok(child, 30);
    assert_eq!(
        got,
        (0..PC_N).collect::<Vec<_>>(),
        "every value once, in order"
    );
}

const RV_TEST: &str = "unbuffered_rendezvous_two_senders_two_receivers_across_processes";
const RV_N: u32 = 300;

#[test]
fn unbuffered_rendezvous_two_senders_two_receivers_across_processes() {
    if let Some(name) = child_role("sender") {
        let id: u32 = std::env::var("CHAN_ID").unwrap().parse().unwrap();
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "rv").unwrap();
        for i in 0..RV_N {
            c.send_timeout(id * 100_000 + i, LONG).unwrap();
        }
        return;
    }
    if let Some(name) = child_role("receiver") {
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "rv").unwrap();
        let out: Channel<u32> = Channel::open(&seg, "out").unwrap();
        loop {
            match c.recv_timeout(LONG) {
                Ok(v) => out.send_timeout(v, LONG).unwrap(),
                Err(RecvTimeoutError::Disconnected) => return,
                Err(e) => panic!("{e:?}"),
            }
        }
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(RV_TEST);
    let c: Channel<u32> = Channel::create(&seg, "rv", 0).unwrap();
    let out: Channel<u32> = Channel::create(&seg, "out", 1024).unwrap();
    let senders: Vec<_> = [1, 2]
        .iter()
        .map(|id| spawn_child_with(RV_TEST, "sender", &name, &[("CHAN_ID", id.to_string())]))
        .collect();
    let mut receivers: Vec<_> = (0..2)
        .map(|_| spawn_child(RV_TEST, "receiver", &name))
        .collect();
    let mut got = Vec::new();
    let mut senders = Some(senders);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "rendezvous did not finish");
        if let Ok(v) = out.recv_timeout(Duration::from_millis(10)) {
            got.push(v);
            continue;
        }
        if got.len() == 2 * RV_N as usize && senders.is_some() {
            senders
                .take()
                .unwrap()
                .into_iter()
                .for_each(|s| wait_ok(s, 30));
            c.close();
        }
        if senders.is_none()
            && receivers
                .iter_mut()
                .all(|r| r.try_wait().unwrap().is_some())
        {
            break;
        }
    }
    receivers.into_iter().for_each(|r| wait_ok(r, 1));
    assert!(out.try_recv().is_err());
    let set: BTreeSet<u32> = got.iter().copied().collect();
    assert_eq!(set.len(), got.len(), "a value was received twice");
    let want: BTreeSet<u32> = [1, 2]
        .iter()
        .flat_map(|id| (0..RV_N).map(move |i| id * 100_000 + i))
        .collect();
    assert_eq!(set, want, "every value exactly once");
}

const KILL_TEST: &str = "a_sender_killed_in_a_rendezvous_hangs_nobody";

#[test]
fn a_sender_killed_in_a_rendezvous_hangs_nobody() {
    if let Some(name) = child_role("stuck_sender") {
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "k").unwrap();
        // Nobody receives: blocks in the rendezvous (holding the sender lock) until killed.
        let _ = c.send(5);
        panic!("the parent kills this process before anyone receives");
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(KILL_TEST);
    let c: Channel<u32> = Channel::create(&seg, "k", 0).unwrap();
    let mut child = spawn_child(KILL_TEST, "stuck_sender", &name);
    let deadline = Instant::now() + LONG;
    while c.is_empty() {
        assert!(Instant::now() < deadline, "child never published");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap(); // reaped: its pid is gone, not a zombie
    // Another sender takes over the dead sender's lock; receivers get the dead sender's
    // published value, then the new one.
    let tx = c.clone();
    let t = std::thread::spawn(move || tx.send_timeout(6, LONG));
    assert_eq!(c.recv_timeout(LONG), Ok(5));
    assert_eq!(c.recv_timeout(LONG), Ok(6));
    assert_eq!(t.join().unwrap(), Ok(()));
    // And a receiver alone times out instead of hanging.
    assert_eq!(
        c.recv_timeout(Duration::from_millis(20)),
        Err(RecvTimeoutError::Timeout)
    );
}

#[test]
fn a_sender_killed_while_waiting_for_the_lock_hangs_nobody() {
    const T: &str = "a_sender_killed_while_waiting_for_the_lock_hangs_nobody";
    if let Some(name) = child_role("stuck_sender") {
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "k").unwrap();
        let _ = c.send(5);
        panic!("killed before");
    }
    if let Some(name) = child_role("lock_waiter") {
        let seg = Segment::open(&name).unwrap();
        let c: Channel<u32> = Channel::open(&seg, "k").unwrap();
        // Says which thread is about to wait for the sender lock the first child holds.
        Array::<u32>::open(&seg, "tid")
            .unwrap()
            .set(0, common::thread_id())
            .unwrap();
        let _ = c.send(9);
        panic!("killed before");
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(T);
    let c: Channel<u32> = Channel::create(&seg, "k", 0).unwrap();
    let tid: Array<u32> = Array::create(&seg, "tid", 1).unwrap();
    let mut first = spawn_child(T, "stuck_sender", &name);
    let deadline = Instant::now() + LONG;
    while c.is_empty() {
        assert!(Instant::now() < deadline, "child never published");
        std::thread::sleep(Duration::from_millis(2));
    }
    let mut second = spawn_child(T, "lock_waiter", &name);
    // Killed only once it sleeps waiting for the lock.
    while tid.get(0) == Some(0) {
        assert!(Instant::now() < deadline, "the second child never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    common::wait_until_asleep(
        "the second sender to wait for the lock",
        second.id(),
        tid.get(0).unwrap(),
    );
    for ch in [&mut first, &mut second] {
        ch.kill().unwrap();
        ch.wait().unwrap();
    }
    // One value (the first child's) is pending; after it, a new sender gets through.
    assert_eq!(c.recv_timeout(LONG), Ok(5));
    let tx = c.clone();
    let t = std::thread::spawn(move || tx.send_timeout(7, LONG));
    assert_eq!(c.recv_timeout(LONG), Ok(7));
    assert_eq!(t.join().unwrap(), Ok(()));
}

#[test]
fn example_channel_pipeline_runs_across_processes() {
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("channel_pipeline"))
        .unwrap();
    if !example.exists() {
        // A full `cargo test` builds examples; `cargo test --test channel` does not.
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "-p", "zeroipc", "--example", "channel_pipeline"])
            .status()
            .expect("run cargo build --example");
        assert!(status.success(), "building the example failed");
    }
    let out = std::process::Command::new(&example)
        .output()
        .expect("run the example");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("received 1000 values, sum 499500"), "{text}");
}

#[test]
fn corrupt_headers_are_typed_errors_and_any_nonzero_flag_counts() {
    let (name, seg) = fresh("chan_corrupt");
    let b: Channel<u32> = Channel::create(&seg, "b", 4).unwrap();
    let u: Channel<u32> = Channel::create(&seg, "u", 0).unwrap();
    // capacity 3: not a power of two.
    poke(&name, b.entry().offset(), &3u32.to_le_bytes());
    match Channel::<u32>::open(&seg, "b") {
        Err(StructureError::Corrupt(c)) => assert!(c.to_string().contains("capacity"), "{c}"),
        other => panic!("{other:?}"),
    }
    // capacity 8 while the queue has 4 slots.
    poke(&name, b.entry().offset(), &8u32.to_le_bytes());
    assert!(matches!(
        Channel::<u32>::open(&seg, "b"),
        Err(StructureError::Corrupt(_))
    ));
    // capacity 0 claims a rendezvous slot that does not exist: half-created.
    poke(&name, b.entry().offset(), &0u32.to_le_bytes());
    assert!(matches!(
        Channel::<u32>::open(&seg, "b"),
        Err(StructureError::Corrupt(_))
    ));
    // A peer that writes `ready = 2` and `closed = 7`: read as true, never UB.
    let slot = seg.find("u_slot").unwrap().offset();
    poke(&name, slot + 4, &41u32.to_le_bytes());
    poke(&name, slot, &[2]);
    assert_eq!(u.try_recv(), Ok(41));
    poke(&name, u.entry().offset() + 12, &[7]);
    assert!(u.is_closed());
    assert_eq!(u.send(1), Err(SendError::Disconnected(1)));
}

/// A minimal executor: polls on the current thread, parking between wakes.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: std::sync::Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::sync::Arc::new(Unpark(std::thread::current())).into();
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park_timeout(Duration::from_millis(50));
    }
}

#[test]
fn async_send_and_recv_move_every_value_once() {
    let (_n, seg) = fresh("chan_async");
    for cap in [0, 4] {
        let c: Channel<u32> = Channel::create(&seg, &format!("a{cap}"), cap).unwrap();
        let senders: Vec<_> = (0..2u32)
            .map(|s| {
                let c = c.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        block_on(c.send_async(s * 1000 + i)).unwrap();
                    }
                })
            })
            .collect();
        let rx = c.clone();
        let receiver = std::thread::spawn(move || {
            let mut got = Vec::new();
            while let Ok(v) = block_on(rx.recv_async()) {
                got.push(v);
            }
            got
        });
        senders.into_iter().for_each(|t| t.join().unwrap());
        c.close();
        let mut got = receiver.join().unwrap();
        got.sort_unstable();
        let want: Vec<u32> = (0..2)
            .flat_map(|s| (0..100).map(move |i| s * 1000 + i))
            .collect();
        assert_eq!(got, want, "capacity {cap}");
    }
}

#[test]
fn dropping_a_pending_async_send_retracts_its_value() {
    use std::future::Future;
    let (_n, seg) = fresh("chan_async_drop");
    let c: Channel<u32> = Channel::create(&seg, "c", 0).unwrap();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    {
        let mut f = std::pin::pin!(c.send_async(9));
        assert!(f.as_mut().poll(&mut cx).is_pending());
        assert_eq!(c.len(), 1, "published while pending");
    }
    assert_eq!(c.try_recv(), Err(TryRecvError::Empty), "retracted on drop");
    // The lock was released: a later send goes through.
    let tx = c.clone();
    let t = std::thread::spawn(move || tx.send_timeout(10, LONG));
    assert_eq!(c.recv_timeout(LONG), Ok(10));
    assert_eq!(t.join().unwrap(), Ok(()));
    // A pending receive counts as a waiting receiver and stops counting when dropped.
    {
        let mut r = std::pin::pin!(c.recv_async());
        assert!(r.as_mut().poll(&mut cx).is_pending());
        let header = seg.find("c_header").unwrap().offset();
        assert_eq!(seg.read_bytes(header + 8, 4).unwrap(), 1u32.to_le_bytes());
    }
    let header = seg.find("c_header").unwrap().offset();
    assert_eq!(seg.read_bytes(header + 8, 4).unwrap(), 0u32.to_le_bytes());
}

#[test]
fn a_pending_async_recv_is_not_polled_while_nothing_changes() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::task::{Context, Poll, Wake};
    struct Counting {
        thread: std::thread::Thread,
        wakes: AtomicU32,
    }
    impl Wake for Counting {
        fn wake(self: Arc<Self>) {
            self.wakes.fetch_add(1, Ordering::Relaxed);
            self.thread.unpark();
        }
    }
    let (_n, seg) = fresh("chan_async_idle");
    for cap in [0, 4] {
        let c: Channel<u32> = Channel::create(&seg, &format!("idle{cap}"), cap).unwrap();
        let w = Arc::new(Counting {
            thread: std::thread::current(),
            wakes: AtomicU32::new(0),
        });
        let waker = w.clone().into();
        let mut cx = Context::from_waker(&waker);
        let mut f = std::pin::pin!(c.recv_async());
        let t0 = std::time::Instant::now();
        assert!(f.as_mut().poll(&mut cx).is_pending());
        // 60 ms of silence: a 500 µs poller would have woken the task ~120 times. Only the
        // ticker's 100 ms safety net may wake it (once per 100 ms actually slept, in case the
        // sleep overshoots on a loaded machine).
        std::thread::sleep(Duration::from_millis(60));
        let allowed = u32::try_from(t0.elapsed().as_millis() / 100).unwrap_or(u32::MAX);
        let wakes = w.wakes.load(Ordering::Relaxed);
        assert!(
            wakes <= allowed,
            "woken {wakes} times while nothing changed (cap {cap})"
        );
        // A send changes the channel: the task is woken and gets the value.
        let tx = c.clone();
        let t = std::thread::spawn(move || tx.send_timeout(7, Duration::from_secs(10)));
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let got = loop {
            if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                break v;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "never woken (cap {cap})"
            );
            std::thread::park_timeout(Duration::from_secs(1));
        };
        assert_eq!(got, Ok(7));
        t.join().unwrap().unwrap();
        assert!(w.wakes.load(Ordering::Relaxed) >= 1);
    }
}

// ---- async under tokio ----

const TOKIO_WAIT: Duration = Duration::from_secs(30);
const ECHO_N: u32 = 500;

/// Child role "echo": for the buffered pair (`bdown` → `bup`) and the unbuffered pair
/// (`udown` → `uup`), one thread each receives every value and sends it back, closing the
/// way up once the way down is closed and drained.
fn echo_child() -> bool {
    let Some(name) = child_role("echo") else {
        return false;
    };
    let seg = Segment::open(&name).unwrap();
    let threads: Vec<_> = [("bdown", "bup"), ("udown", "uup")]
        .into_iter()
        .map(|(down, up)| {
            let down: Channel<u32> = Channel::open(&seg, down).unwrap();
            let up: Channel<u32> = Channel::open(&seg, up).unwrap();
            std::thread::spawn(move || {
                loop {
                    match down.recv_timeout(TOKIO_WAIT) {
                        Ok(v) => up.send_timeout(v, TOKIO_WAIT).unwrap(),
                        Err(RecvTimeoutError::Disconnected) => break,
                        Err(e) => panic!("echo: {e:?}"),
                    }
                }
                up.close();
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    true
}

/// Creates the echo channels in `seg` (buffered capacity 8, and unbuffered).
fn echo_channels(seg: &Segment) -> [(Channel<u32>, Channel<u32>); 2] {
    let pair = |down, up, cap| {
        (
            Channel::create(seg, down, cap).unwrap(),
            Channel::create(seg, up, cap).unwrap(),
        )
    };
    [pair("bdown", "bup", 8), pair("udown", "uup", 0)]
}

/// On the current runtime: one task sends 0..ECHO_N down with `send_async` and closes,
/// another receives what comes back up with `recv_async` until it is closed.
async fn echo_round_trip(down: Channel<u32>, up: Channel<u32>) -> Vec<u32> {
    let sender = tokio::spawn(async move {
        for v in 0..ECHO_N {
            down.send_async(v).await.unwrap();
        }
        down.close();
    });
    let receiver = tokio::spawn(async move {
        let mut got = Vec::new();
        loop {
            match up.recv_async().await {
                Ok(v) => got.push(v),
                Err(RecvError::Disconnected) => return got,
                Err(e) => panic!("{e:?} after {} values", got.len()),
            }
        }
    });
    sender.await.unwrap();
    receiver.await.unwrap()
}

const TOKIO_CT_TEST: &str = "async_send_and_recv_cross_processes_under_tokio_current_thread";

#[test]
fn async_send_and_recv_cross_processes_under_tokio_current_thread() {
    if echo_child() || common::is_child() {
        return;
    }
    let (name, seg) = fresh(TOKIO_CT_TEST);
    let [(bdown, bup), (udown, uup)] = echo_channels(&seg);
    let child = spawn_child(TOKIO_CT_TEST, "echo", &name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // Both pairs at once, four tasks on one thread: none may block it.
    let (buffered, unbuffered) = rt.block_on(async {
        let b = tokio::spawn(echo_round_trip(bdown, bup));
        let u = tokio::spawn(echo_round_trip(udown, uup));
        tokio::time::timeout(TOKIO_WAIT, async { (b.await.unwrap(), u.await.unwrap()) })
            .await
            .expect("deadline")
    });
    wait_ok(child, 30);
    let want: Vec<u32> = (0..ECHO_N).collect();
    assert_eq!(buffered, want, "buffered: every value once, in order");
    assert_eq!(unbuffered, want, "unbuffered: every value once, in order");
}

const TOKIO_MT_TEST: &str = "async_send_and_recv_cross_processes_under_tokio_multi_thread";

#[test]
fn async_send_and_recv_cross_processes_under_tokio_multi_thread() {
    if echo_child() || common::is_child() {
        return;
    }
    let (name, seg) = fresh(TOKIO_MT_TEST);
    let [(bdown, bup), (udown, uup)] = echo_channels(&seg);
    let child = spawn_child(TOKIO_MT_TEST, "echo", &name);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let (buffered, unbuffered) = rt.block_on(async {
        let b = tokio::spawn(echo_round_trip(bdown, bup));
        let u = tokio::spawn(echo_round_trip(udown, uup));
        tokio::time::timeout(TOKIO_WAIT, async { (b.await.unwrap(), u.await.unwrap()) })
            .await
            .expect("deadline")
    });
    wait_ok(child, 30);
    let want: Vec<u32> = (0..ECHO_N).collect();
    assert_eq!(buffered, want, "buffered: every value once, in order");
    assert_eq!(unbuffered, want, "unbuffered: every value once, in order");
}

#[test]
fn async_tasks_and_threads_share_channels_under_tokio_multi_thread() {
    const PER: u32 = 200;
    let (_n, seg) = fresh("chan_tokio_mt_threads");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    for cap in [0, 8] {
        let c: Channel<u32> = Channel::create(&seg, &format!("mt{cap}"), cap).unwrap();
        // Senders 0 and 1 are tokio tasks, sender 2 a plain thread; receivers likewise:
        // values cross between tasks and threads in both directions.
        let thread_tx = {
            let c = c.clone();
            std::thread::spawn(move || {
                for i in 0..PER {
                    c.send_timeout(2000 + i, TOKIO_WAIT).unwrap();
                }
            })
        };
        let thread_rx = {
            let c = c.clone();
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    match c.recv_timeout(TOKIO_WAIT) {
                        Ok(v) => got.push(v),
                        Err(RecvTimeoutError::Disconnected) => return got,
                        Err(e) => panic!("{e:?}"),
                    }
                }
            })
        };
        let task_got = rt.block_on(async {
            let receivers: Vec<_> = (0..2)
                .map(|_| {
                    let c = c.clone();
                    tokio::spawn(async move {
                        let mut got = Vec::new();
                        while let Ok(v) = c.recv_async().await {
                            got.push(v);
                        }
                        got
                    })
                })
                .collect();
            let senders: Vec<_> = (0..2u32)
                .map(|s| {
                    let c = c.clone();
                    tokio::spawn(async move {
                        for i in 0..PER {
                            c.send_async(s * 1000 + i).await.unwrap();
                        }
                    })
                })
                .collect();
            tokio::time::timeout(TOKIO_WAIT, async {
                for s in senders {
                    s.await.unwrap();
                }
                // The thread sender must finish too before the close.
                while !thread_tx.is_finished() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                c.close();
                let mut got = Vec::new();
                for r in receivers {
                    got.extend(r.await.unwrap());
                }
                got
            })
            .await
            .expect("deadline")
        });
        thread_tx.join().unwrap();
        let mut got = task_got;
        got.extend(thread_rx.join().unwrap());
        got.sort_unstable();
        let want: Vec<u32> = (0..3)
            .flat_map(|s| (0..PER).map(move |i| s * 1000 + i))
            .collect();
        assert_eq!(got, want, "capacity {cap}: every value exactly once");
    }
}

#[test]
fn a_pending_recv_async_does_not_block_the_tokio_executor() {
    let (_n, seg) = fresh("chan_tokio_not_blocked");
    // The runtime runs on a helper thread, so a blocked executor (whose own timers could not
    // fire either) is still caught by this thread's deadline.
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let seg2 = seg.clone();
    let helper = std::thread::spawn(move || {
        let seg = seg2;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        for cap in [0, 4] {
            let c: Channel<u32> = Channel::create(&seg, &format!("nb{cap}"), cap).unwrap();
            let ticks = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
            let (got, ticks_before_value) = rt.block_on(async {
                // One thread, and the receiver is spawned first: if its pending `recv_async`
                // blocked the thread, the ticker below (which also sends the value) never ran.
                let receiver = {
                    let (c, ticks) = (c.clone(), ticks.clone());
                    tokio::spawn(async move {
                        let v = c.recv_async().await;
                        (v, ticks.load(std::sync::atomic::Ordering::Relaxed))
                    })
                };
                let ticker = {
                    let (c, ticks) = (c.clone(), ticks.clone());
                    tokio::spawn(async move {
                        for _ in 0..5 {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                            ticks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        c.send_async(77).await
                    })
                };
                tokio::time::timeout(TOKIO_WAIT, async {
                    ticker.await.unwrap().unwrap();
                    receiver.await.unwrap()
                })
                .await
                .expect("deadline")
            });
            assert_eq!(got, Ok(77), "capacity {cap}");
            assert_eq!(
                ticks_before_value, 5,
                "capacity {cap}: the other task ran while the receive was pending"
            );
        }
        done_tx.send(()).unwrap();
    });
    match done_rx.recv_timeout(TOKIO_WAIT) {
        Ok(()) => helper.join().unwrap(),
        // The helper panicked (it dropped `done_tx`): report its panic.
        Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => helper.join().unwrap(),
        Err(std::sync::mpsc::RecvTimeoutError::Timeout) => panic!("the executor was blocked"),
    }
}

#[test]
fn each_form_has_its_own_error_type() {
    let (_n, seg) = fresh("chan_forms");
    for cap in [0usize, 2] {
        let c: Channel<u32> = Channel::create(&seg, &format!("f{cap}"), cap).unwrap();
        assert_eq!(c.is_buffered(), cap > 0);
        assert_eq!(c.capacity(), cap);
        assert_eq!(c.len(), 0_usize);
        assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
        assert_eq!(
            c.recv_deadline(Instant::now()),
            Err(RecvTimeoutError::Timeout)
        );
        if cap == 0 {
            assert_eq!(
                c.send_deadline(1, Instant::now()),
                Err(SendTimeoutError::Timeout(1))
            );
        }
        assert_eq!(
            Select::new().recv(&c, |v| v).try_wait(),
            Err(TryRecvError::Empty)
        );
        assert_eq!(
            Select::new().recv(&c, |v| v).wait_deadline(Instant::now()),
            Err(RecvTimeoutError::Timeout)
        );
        c.close();
        // A closed channel: Disconnected from every form, the value handed back.
        assert_eq!(c.try_send(2), Err(TrySendError::Disconnected(2)));
        assert_eq!(c.send(3), Err(SendError::Disconnected(3)));
        assert_eq!(
            c.send_timeout(4, LONG),
            Err(SendTimeoutError::Disconnected(4))
        );
        assert_eq!(c.try_recv(), Err(TryRecvError::Disconnected));
        assert_eq!(c.recv(), Err(RecvError::Disconnected));
        assert_eq!(c.recv_timeout(LONG), Err(RecvTimeoutError::Disconnected));
        assert_eq!(
            Select::new().recv(&c, |v| v).wait(),
            Err(RecvError::Disconnected)
        );
        assert_eq!(c.try_send(5).unwrap_err().into_inner(), 5);
    }
    assert!(matches!(
        Channel::<u8>::create(&seg, "huge", usize::MAX),
        Err(StructureError::InvalidCapacity { .. })
    ));
}

#[test]
fn recv_blocks_until_another_thread_sends() {
    let (_n, seg) = fresh("chan_recv_blocks");
    let c: Channel<u32> = Channel::create(&seg, "c", 4).unwrap();
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let receiver = {
        let (c, calling) = (c.clone(), calling.clone());
        std::thread::spawn(move || {
            assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
            calling.store(true, std::sync::atomic::Ordering::Release);
            c.recv() // nothing sent before this call: it must wait
        })
    };
    let deadline = Instant::now() + LONG;
    while !calling.load(std::sync::atomic::Ordering::Acquire) {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    c.send(11).unwrap();
    assert_eq!(receiver.join().unwrap(), Ok(11));
}

// Non-blocking means bounded (issue #17 item 3)

#[test]
fn try_recv_and_try_send_return_within_the_stall_bound_while_a_peer_keeps_moving_the_queue() {
    const STALL: Duration = Duration::from_millis(50);
    let name = ShmName::new("chan_try_moving_queue");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let c: Channel<u64> = Channel::create(&seg, "c", 8)
        .unwrap()
        .with_stall_timeout(STALL);
    let queue = seg.find("c_buffer").unwrap().offset();
    // (word offset, value written on the k-th write): `head` = 1, 2, ... past an empty
    // queue's `tail`; `tail` one lap behind the slots' `seq`. Both look like a slot held at a
    // position that moves on every write.
    type Write = fn(u32) -> u32;
    let cases: [(u64, Write); 2] = [
        (queue, |k| k),
        (queue + 4, |k| 0u32.wrapping_sub(8).wrapping_add(k % 8)),
    ];
    for (i, (at, value)) in cases.into_iter().enumerate() {
        // Reset both words to an empty queue.
        common::poke(&name, queue, &[0; 8]);
        let (took, ok) = common::while_a_peer_moves(&name, at, value, || {
            if i == 0 {
                matches!(c.try_recv(), Err(TryRecvError::Stalled))
            } else {
                c.try_send(7).is_err()
            }
        });
        assert!(ok, "case {i}: not an error under a moving queue word");
        assert!(
            took < common::NONBLOCKING_LIVENESS,
            "case {i}: took {took:?} (stall bound {STALL:?})"
        );
    }
}

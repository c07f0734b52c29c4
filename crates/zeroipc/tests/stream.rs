//! Stream<T>: golden C++ streams, Python streams refused, byte-identical reproduction,
//! close delivers what is buffered, several emitters, operators as stages, and a sensor
//! pipeline emit → map → filter → subscriber across three processes.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, load_golden, poke, spawn_child, wait_ok};
use zeroipc::codata::stream::{
    EmitError, NextTimeoutError, RecvTimeoutError, Stream, TryEmitError, TryNextError, TryRecvError,
};
use zeroipc::{Segment, SegmentOptions, StructureError};

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
fn golden_cpp_streams_decode_as_the_manifest_lists() {
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();

    let s: Stream<i32> = Stream::open(&seg, "strm").unwrap();
    assert_eq!(
        (s.sequence(), s.subscribers(), s.is_closed(), s.capacity()),
        (10, 0, false, 16)
    );
    assert_eq!(s.transform_name(), "");
    let got: Vec<i32> = std::iter::from_fn(|| s.try_next().ok()).collect();
    assert_eq!(got, [4, 5, 6, 7, 8, 9, 10]);
    assert_eq!(s.try_next(), Err(TryNextError::Empty));

    let c: Stream<f64> = Stream::open(&seg, "strm_closed").unwrap();
    assert_eq!((c.sequence(), c.is_closed(), c.capacity()), (2, true, 4));
    assert_eq!(c.emit(3.0), Err(EmitError::Disconnected(3.0)));
    // Buffered at close: still delivered (C++ subscribers would drop them, D-15).
    let got: Vec<f64> = c.subscribe(LONG).collect();
    assert_eq!(got, [1.0, 2.0]);

    assert!(matches!(
        Stream::<u64>::open(&seg, "strm"),
        Err(StructureError::ElementSize { .. })
    ));
}

#[test]
fn golden_python_streams_are_refused_as_foreign() {
    let shm = load_golden("python_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    for name in ["strm", "strm_f64"] {
        match Stream::<i32>::open(&seg, name) {
            Err(StructureError::Foreign { entry, format, .. }) => {
                assert_eq!(entry, name);
                assert!(format.contains("Python"), "{format}");
            }
            other => panic!("{name}: expected Foreign, got {other:?}"),
        }
    }
}

#[test]
fn zeroipc_reproduces_the_golden_streams_byte_for_byte() {
    let (_n, seg) = fresh("stream_bytes");
    let s: Stream<i32> = Stream::create(&seg, "strm", 16).unwrap();
    (1..=10).for_each(|v| s.emit(v).unwrap());
    (1..=3).for_each(|v| assert_eq!(s.try_next(), Ok(v)));
    let c: Stream<f64> = Stream::create(&seg, "strm_closed", 4).unwrap();
    c.emit(1.0).unwrap();
    c.emit(2.0).unwrap();
    c.close();
    let shm = load_golden("cpp_all.bin");
    let gold = Segment::open(shm.as_str()).unwrap();
    for name in [
        "strm_header",
        "strm_buffer",
        "strm_closed_header",
        "strm_closed_buffer",
    ] {
        assert_eq!(entry_bytes(&seg, name), entry_bytes(&gold, name), "{name}");
    }
}

#[test]
fn several_emitters_keep_sequence_consistent_with_the_ring() {
    let (_n, seg) = fresh("stream_emitters");
    let s: Stream<u32> = Stream::create(&seg, "s", 64).unwrap();
    let emitters: Vec<_> = (0..3u32)
        .map(|e| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..500 {
                    s.emit_timeout(e * 10_000 + i, LONG).unwrap();
                }
            })
        })
        .collect();
    let reader = {
        let s = s.clone();
        std::thread::spawn(move || s.subscribe(LONG).collect::<Vec<u32>>())
    };
    emitters.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(s.sequence(), 1500);
    s.close();
    let got = reader.join().unwrap();
    assert_eq!(got.len(), 1500);
    for e in 0..3u32 {
        let mine: Vec<u32> = got.iter().copied().filter(|v| v / 10_000 == e).collect();
        assert_eq!(mine, (0..500).map(|i| e * 10_000 + i).collect::<Vec<_>>());
    }
}

#[test]
fn operators_run_as_stages_and_never_block_the_caller() {
    let (_n, seg) = fresh("stream_ops");
    let s: Stream<i32> = Stream::create(&seg, "s", 32).unwrap();
    // A chain: skip 2 → map ×10 → filter even tens → take 3, plus fold and window on copies.
    let skipped = s.skip(&seg, "skipped", 2).unwrap();
    let mapped = skipped.output().map(&seg, "mapped", |v| v * 10).unwrap();
    let evens = mapped
        .output()
        .filter(&seg, "evens", |v| v % 20 == 0)
        .unwrap();
    let first3 = evens.output().take(&seg, "first3", 3).unwrap();
    assert_eq!(mapped.output().transform_name(), "map");
    assert_eq!(evens.output().transform_name(), "filter");
    assert_eq!(first3.output().transform_name(), "take");
    (1..=20).for_each(|v| s.emit(v).unwrap());
    s.close();
    let got: Vec<i32> = first3.output().subscribe(LONG).collect();
    assert_eq!(got, [40, 60, 80]);
    first3.join().unwrap();
    // `take` closed its output early; upstream stages are stopped by the caller.
    for st in [skipped, evens] {
        st.stop();
        st.join().unwrap();
    }
    mapped.stop();
    mapped.join().unwrap();

    let t: Stream<u8> = Stream::create(&seg, "t", 8).unwrap();
    let sums = t.fold(&seg, "sums", 0u32, |a, v| a + u32::from(v)).unwrap();
    let w = t.window::<3>(&seg, "w").unwrap();
    w.stop(); // a stopped stage closes its output and reads nothing more
    w.join().unwrap();
    (1..=4).for_each(|v| t.emit(v).unwrap());
    t.close();
    let got: Vec<u32> = sums.output().subscribe(LONG).collect();
    assert_eq!(got, [1, 3, 6, 10]);
    sums.join().unwrap();
}

const PIPE_TEST: &str = "sensor_pipeline_across_three_processes";
const READINGS: u32 = 400;

#[test]
fn sensor_pipeline_across_three_processes() {
    if let Some(name) = child_role("sensor") {
        let seg = Segment::open(&name).unwrap();
        let raw: Stream<u32> = Stream::open(&seg, "raw").unwrap();
        for i in 0..READINGS {
            raw.emit_timeout(i, LONG).unwrap();
        }
        raw.close();
        return;
    }
    if let Some(name) = child_role("pipeline") {
        let seg = Segment::open(&name).unwrap();
        let raw: Stream<u32> = Stream::open(&seg, "raw").unwrap();
        // Celsius tenths → float, keep the hot ones.
        let celsius = raw.map(&seg, "celsius", |r| f64::from(r) / 10.0).unwrap();
        let hot = celsius
            .output()
            .filter(&seg, "hot", |c| *c >= 30.0)
            .unwrap();
        celsius.join().unwrap();
        hot.join().unwrap();
        return;
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(PIPE_TEST);
    let _raw: Stream<u32> = Stream::create(&seg, "raw", 16).unwrap();
    let pipeline = spawn_child(PIPE_TEST, "pipeline", &name);
    let deadline = Instant::now() + LONG;
    let hot: Stream<f64> = loop {
        match Stream::open(&seg, "hot") {
            Ok(s) => break s,
            Err(_) => {
                assert!(Instant::now() < deadline, "pipeline never created 'hot'");
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    };
    let sensor = spawn_child(PIPE_TEST, "sensor", &name);
    let mut sub = hot.subscribe(LONG);
    let got: Vec<f64> = sub.by_ref().collect();
    assert_eq!(sub.error(), Some(&NextTimeoutError::Disconnected));
    drop(sub);
    wait_ok(sensor, 30);
    wait_ok(pipeline, 30);
    let want: Vec<f64> = (300..READINGS).map(|r| f64::from(r) / 10.0).collect();
    assert_eq!(got, want);
    assert_eq!(hot.transform_name(), "filter");
}

#[test]
fn a_ring_lock_left_by_a_dead_process_is_taken_over() {
    let (name, seg) = fresh("stream_dead_lock");
    let s: Stream<u32> = Stream::create(&seg, "s", 4).unwrap();
    // A process that has exited (and been reaped): its pid is free.
    let mut dead = std::process::Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    // The ring lock lives in the header's tail padding, bytes 52..56.
    poke(&name, s.entry().offset() + 52, &pid.to_le_bytes());
    s.emit_timeout(1, LONG).unwrap();
    assert_eq!(s.next_timeout(LONG), Ok(1));
    // The lock is free again: the header is byte-for-byte C++'s.
    let h = seg.read_bytes(s.entry().offset() + 52, 4).unwrap();
    assert_eq!(h, [0, 0, 0, 0]);
}

const BCAST_TEST: &str = "broadcast_every_subscriber_process_sees_every_value";
const BCAST_N: u32 = 300;

#[test]
fn broadcast_every_subscriber_process_sees_every_value() {
    use zeroipc::codata::channel::Channel;
    if let Some(name) = child_role("subscriber") {
        let seg = Segment::open(&name).unwrap();
        let s: Stream<u32> = Stream::open(&seg, "b").unwrap();
        assert!(s.is_broadcast());
        let mut sub = s.broadcast_subscriber().unwrap();
        let ready: Channel<u32> = Channel::open(&seg, "ready").unwrap();
        ready.send_timeout(1, LONG).unwrap();
        let mut got = Vec::new();
        loop {
            match sub.recv_timeout(LONG) {
                Ok(v) => got.push(v),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => panic!("{e:?} after {} values", got.len()),
            }
        }
        assert_eq!(got, (0..BCAST_N).collect::<Vec<_>>());
        return;
    }
    if common::is_child() {
        return;
    }
    let (name, seg) = fresh(BCAST_TEST);
    let s: Stream<u32> = Stream::create_broadcast(&seg, "b", 512).unwrap();
    let ready: Channel<u32> = Channel::create(&seg, "ready", 2).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| spawn_child(BCAST_TEST, "subscriber", &name))
        .collect();
    for _ in 0..2 {
        assert_eq!(ready.recv_timeout(LONG), Ok(1));
    }
    for v in 0..BCAST_N {
        s.emit(v).unwrap();
    }
    s.close();
    children.into_iter().for_each(|c| wait_ok(c, 30));
}

#[test]
fn a_lagging_broadcast_subscriber_is_told_how_many_it_missed() {
    let (_n, seg) = fresh("stream_lag");
    let s: Stream<u16> = Stream::create_broadcast(&seg, "b", 4).unwrap();
    let mut fast = s.broadcast_subscriber().unwrap();
    let mut slow = s.broadcast_subscriber().unwrap();
    let mut fast_got = Vec::new();
    for v in 1..=10 {
        s.emit(v).unwrap(); // never Full on a broadcast stream
        fast_got.push(fast.try_recv().unwrap());
    }
    assert_eq!(fast_got, (1..=10).collect::<Vec<_>>());
    assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged { missed: 6 }));
    let rest: Vec<u16> = std::iter::from_fn(|| slow.try_recv().ok()).collect();
    assert_eq!(rest, [7, 8, 9, 10]);
    s.close();
    assert_eq!(slow.try_recv(), Err(TryRecvError::Disconnected));
    assert_eq!(s.sequence(), 10);
}

#[test]
fn a_ring_lock_kept_by_a_live_process_is_a_stall_not_a_hang() {
    let (name, seg) = fresh("stream_live_lock");
    let s: Stream<u32> = Stream::create(&seg, "s", 4).unwrap();
    // pid 1 exists and never releases the lock we pretend it holds.
    poke(&name, s.entry().offset() + 52, &1u32.to_le_bytes());
    assert_eq!(s.emit(1), Err(EmitError::Stalled(1)));
    // Reads take no lock (issue #15): an empty stream is just empty.
    assert_eq!(s.try_next(), Err(TryNextError::Empty));
    poke(&name, s.entry().offset() + 52, &0u32.to_le_bytes());
    s.emit(2).unwrap();
    assert_eq!(s.try_next(), Ok(2));
}

#[test]
fn window_by_time_separates_bursts_split_by_longer_pauses() {
    let (_name, seg) = fresh("window-by-time-bursts");
    let s: Stream<u32> = Stream::create(&seg, "s", 64).unwrap();
    // Long enough that a burst of a few values, emitted back to back, is read within one
    // window even on a loaded machine.
    let period = Duration::from_secs(1);
    // Each window: (count, sum) packed as count << 32 | sum.
    let w = s
        .window_by_time(&seg, "w", period, 0u64, |acc, v| {
            acc + (1 << 32) + u64::from(v)
        })
        .unwrap();
    assert_eq!(w.output().transform_name(), "window");
    let unpack = |x: u64| (x >> 32, x & 0xffff_ffff);
    let bursts: [&[u32]; 3] = [&[1, 2, 3], &[10, 20], &[100, 200, 300, 400]];
    let mut got = Vec::new();
    for (i, burst) in bursts.iter().enumerate() {
        for &v in *burst {
            s.emit(v).unwrap();
        }
        if i + 1 < bursts.len() {
            // The pause lasts until this burst's window has closed (not a fixed sleep, which
            // a held-up stage thread could outlast): the next burst opens a new one.
            got.push(unpack(w.output().next_timeout(LONG).unwrap()));
        }
    }
    s.close(); // flushes the last, partial window
    got.extend(w.output().subscribe(LONG).map(unpack));
    assert_eq!(got, [(3, 6), (2, 30), (4, 1000)]);
    assert!(w.output().is_closed());
    w.join().unwrap();
}

#[test]
fn window_by_time_emits_nothing_for_empty_windows() {
    let (_name, seg) = fresh("window-by-time-empty");
    let s: Stream<u8> = Stream::create(&seg, "s", 8).unwrap();
    let period = Duration::from_millis(20);
    let w = s
        .window_by_time(&seg, "w", period, 0u32, |n, _| n + 1)
        .unwrap();
    // A first window, read back: the stage is running and has closed a window.
    s.emit(1).unwrap();
    assert_eq!(w.output().next_timeout(LONG), Ok(1));
    // Then six periods without a value (a sleep is the right tool here: it guarantees that
    // much time has passed, whenever the stage thread gets to run), then a second value.
    // The stage closes any window that is due before it folds the value it just read, so an
    // empty window would come out ahead of the second value's window.
    std::thread::sleep(6 * period);
    s.emit(2).unwrap();
    s.close(); // flushes the second, partial window
    let got: Vec<u32> = w.output().subscribe(LONG).collect();
    assert_eq!(got, [1], "only the second value's window, no empty ones");
    w.join().unwrap();
}

#[test]
fn a_stopped_window_by_time_stage_closes_its_output() {
    let (_name, seg) = fresh("window-by-time-stop");
    let s: Stream<u32> = Stream::create(&seg, "s", 8).unwrap();
    let w = s
        .window_by_time(&seg, "w", Duration::from_secs(60), 0u32, |n, _| n + 1)
        .unwrap();
    s.emit(1).unwrap();
    let t0 = Instant::now();
    w.stop();
    let out = w.output().clone();
    w.join().unwrap();
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert!(out.is_closed());
    assert!(!s.is_closed(), "stopping a stage leaves its input open");
}

/// Spins (yielding) until `flag` is set: the handshake the form tests below use.
fn wait_for(flag: &std::sync::atomic::AtomicBool) {
    let deadline = Instant::now() + LONG;
    while !flag.load(std::sync::atomic::Ordering::Acquire) {
        assert!(
            Instant::now() < deadline,
            "the other thread never got there"
        );
        std::thread::yield_now();
    }
}

#[test]
fn next_blocks_until_another_thread_emits() {
    let (_n, seg) = fresh("stream_next_blocks");
    let s: Stream<u32> = Stream::create(&seg, "s", 4).unwrap();
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, calling) = (s.clone(), calling.clone());
        std::thread::spawn(move || {
            assert_eq!(s.try_next(), Err(TryNextError::Empty));
            calling.store(true, std::sync::atomic::Ordering::Release);
            s.next() // nothing was emitted before this call: it must wait
        })
    };
    wait_for(&calling);
    s.emit(7).unwrap();
    assert_eq!(reader.join().unwrap(), Ok(7));
    // And a blocked next wakes with Disconnected on close.
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (s, calling) = (s.clone(), calling.clone());
        std::thread::spawn(move || {
            calling.store(true, std::sync::atomic::Ordering::Release);
            s.next()
        })
    };
    wait_for(&calling);
    s.close();
    assert_eq!(
        reader.join().unwrap(),
        Err(zeroipc::codata::stream::NextError::Disconnected)
    );
}

#[test]
fn try_emit_on_a_full_stream_returns_full_at_once() {
    let (_n, seg) = fresh("stream_try_emit_full");
    let s: Stream<u32> = Stream::create(&seg, "s", 2).unwrap();
    s.try_emit(1).unwrap();
    s.try_emit(2).unwrap();
    assert_eq!(s.try_emit(3), Err(TryEmitError::Full(3)));
    assert_eq!(s.try_emit(4).map_err(TryEmitError::into_inner), Err(4));
    s.close();
    assert_eq!(s.try_emit(5), Err(TryEmitError::Disconnected(5)));
}

#[test]
fn emit_blocks_until_a_reader_frees_room() {
    let (_n, seg) = fresh("stream_emit_blocks");
    let s: Stream<u32> = Stream::create(&seg, "s", 1).unwrap();
    s.emit(1).unwrap();
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let emitter = {
        let (s, calling) = (s.clone(), calling.clone());
        std::thread::spawn(move || {
            assert_eq!(s.try_emit(2), Err(TryEmitError::Full(2)));
            calling.store(true, std::sync::atomic::Ordering::Release);
            s.emit(2) // full when called: must wait for the reader below
        })
    };
    wait_for(&calling);
    assert_eq!(s.next(), Ok(1));
    assert_eq!(emitter.join().unwrap(), Ok(()));
    assert_eq!(s.next(), Ok(2));
    assert_eq!(s.sequence(), 2);
    // A blocked emit wakes with Disconnected (value handed back) on close.
    s.emit(3).unwrap();
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let emitter = {
        let (s, calling) = (s.clone(), calling.clone());
        std::thread::spawn(move || {
            calling.store(true, std::sync::atomic::Ordering::Release);
            s.emit(4)
        })
    };
    wait_for(&calling);
    s.close();
    assert_eq!(emitter.join().unwrap(), Err(EmitError::Disconnected(4)));
}

#[test]
fn timed_emit_and_next_forms_report_timeout() {
    let (_n, seg) = fresh("stream_timed_forms");
    let s: Stream<u32> = Stream::create(&seg, "s", 1).unwrap();
    assert_eq!(
        s.next_deadline(Instant::now()),
        Err(NextTimeoutError::Timeout)
    );
    s.emit_deadline(1, Instant::now()).unwrap();
    assert_eq!(
        s.emit_deadline(2, Instant::now()),
        Err(zeroipc::codata::stream::EmitTimeoutError::Timeout(2))
    );
    assert_eq!(
        s.emit_timeout(3, Duration::from_millis(1)),
        Err(zeroipc::codata::stream::EmitTimeoutError::Timeout(3))
    );
    assert_eq!(s.next_timeout(LONG), Ok(1));
    assert_eq!(s.capacity(), 1_usize);
    assert_eq!(s.subscribers(), 0_usize);
}

#[test]
fn broadcast_recv_blocks_until_a_value_and_reports_lag() {
    let (_n, seg) = fresh("stream_bcast_recv");
    let s: Stream<u32> = Stream::create_broadcast(&seg, "b", 2).unwrap();
    let mut sub = s.broadcast_subscriber().unwrap();
    assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
    assert_eq!(
        sub.recv_deadline(Instant::now()),
        Err(RecvTimeoutError::Timeout)
    );
    let calling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (mut sub, calling) = (sub.clone(), calling.clone());
        std::thread::spawn(move || {
            calling.store(true, std::sync::atomic::Ordering::Release);
            sub.recv()
        })
    };
    wait_for(&calling);
    s.emit(5).unwrap();
    assert_eq!(reader.join().unwrap(), Ok(5));
    (5..=9).for_each(|v| s.emit(v).unwrap()); // broadcast: emit never waits
    assert_eq!(
        sub.recv(),
        Err(zeroipc::codata::stream::RecvError::Lagged { missed: 4 })
    );
    assert_eq!(sub.recv(), Ok(8));
    assert_eq!(sub.recv(), Ok(9));
    s.close();
    assert_eq!(
        sub.recv(),
        Err(zeroipc::codata::stream::RecvError::Disconnected)
    );
}

/// `next_async` under a current-thread tokio runtime: an emitter thread pushes more values
/// than the buffer holds (it blocks until the awaiting task takes some, so the task is
/// pending and woken again and again), then closes; the task sees every value in order, then
/// `Disconnected`. The timed forms report `Timeout` on an empty stream.
#[test]
fn next_async_sees_every_value_in_order_then_disconnected() {
    use zeroipc::codata::stream::{NextError, NextTimeoutError};
    let (_name, seg) = fresh("next_async");
    let s: Stream<u32> = Stream::create(&seg, "s", 4).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(
        rt.block_on(s.next_async_timeout(Duration::from_millis(5))),
        Err(NextTimeoutError::Timeout)
    );
    assert_eq!(
        rt.block_on(s.next_async_deadline(Instant::now())),
        Err(NextTimeoutError::Timeout)
    );
    let emitter = s.clone();
    let t = std::thread::spawn(move || {
        for v in 0..200u32 {
            emitter.emit_timeout(v, Duration::from_secs(30)).unwrap();
        }
        emitter.close();
    });
    let got = rt.block_on(async {
        let mut got = Vec::new();
        loop {
            match s.next_async().await {
                Ok(v) => got.push(v),
                Err(NextError::Disconnected) => break got,
                Err(e) => panic!("next_async: {e:?}"),
            }
        }
    });
    t.join().unwrap();
    assert_eq!(got, (0..200).collect::<Vec<_>>());
}

const COMPETE_TEST: &str = "competing_reader_processes_and_emitters_lose_and_duplicate_nothing";
const COMPETE_PER_EMITTER: u32 = 20_000;
/// A reader process's "finished" on the result channel (no emitted value is this large).
const DONE: u32 = u32::MAX;

/// Readers take without a lock (a CAS of the ring's `read_pos`, issue #15): two reader
/// processes and this process's reader thread compete while two emitter threads emit
/// (single values and batches); every value is read exactly once.
#[test]
fn competing_reader_processes_and_emitters_lose_and_duplicate_nothing() {
    use zeroipc::codata::channel::Channel;
    if let Some(name) = child_role("reader") {
        let seg = Segment::open(&name).unwrap();
        let s: Stream<u32> = Stream::open(&seg, "s").unwrap();
        let out: Channel<u32> = Channel::open(&seg, "out").unwrap();
        let mut buf = [0u32; 7];
        loop {
            match s.try_next_many(&mut buf) {
                Ok(n) => buf[..n]
                    .iter()
                    .for_each(|&v| out.send_timeout(v, LONG).unwrap()),
                Err(TryNextError::Empty) => match s.next_timeout(LONG) {
                    Ok(v) => out.send_timeout(v, LONG).unwrap(),
                    Err(NextTimeoutError::Disconnected) => break,
                    Err(e) => panic!("{e:?}"),
                },
                Err(TryNextError::Disconnected) => break,
                Err(e) => panic!("{e:?}"),
            }
        }
        out.send_timeout(DONE, LONG).unwrap();
        return;
    }
    let (name, seg) = fresh("stream_compete");
    let s: Stream<u32> = Stream::create(&seg, "s", 16).unwrap();
    let out: Channel<u32> = Channel::create(&seg, "out", 1024).unwrap();
    let kids: Vec<_> = (0..2)
        .map(|_| spawn_child(COMPETE_TEST, "reader", &name))
        .collect();
    let local = {
        let s = s.clone();
        std::thread::spawn(move || s.subscribe(LONG).collect::<Vec<u32>>())
    };
    let emitters: Vec<_> = (0..2u32)
        .map(|e| {
            let s = s.clone();
            std::thread::spawn(move || {
                let base = e * 1_000_000;
                let mut i = 0;
                while i < COMPETE_PER_EMITTER {
                    if i % 3 == 0 {
                        let batch: Vec<u32> = (i..(i + 5).min(COMPETE_PER_EMITTER))
                            .map(|k| base + k)
                            .collect();
                        let n = s.try_emit_many(&batch).unwrap();
                        i += u32::try_from(n).unwrap();
                        if n == 0 {
                            std::thread::yield_now();
                        }
                    } else {
                        s.emit_timeout(base + i, LONG).unwrap();
                        i += 1;
                    }
                }
            })
        })
        .collect();
    let total = 2 * COMPETE_PER_EMITTER as usize;
    let mut got = Vec::with_capacity(total);
    let collector = {
        let out = out.clone();
        std::thread::spawn(move || {
            // Until both reader processes said they are done (no idle guess).
            let (mut v, mut done) = (Vec::new(), 0);
            while done < 2 {
                match out.recv_timeout(LONG).unwrap() {
                    DONE => done += 1,
                    x => v.push(x),
                }
            }
            v
        })
    };
    emitters.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(s.sequence(), total as u64);
    s.close();
    for k in kids {
        wait_ok(k, 60);
    }
    got.extend(local.join().unwrap());
    got.extend(collector.join().unwrap());
    assert_eq!(got.len(), total, "every value read once");
    got.sort_unstable();
    let mut want: Vec<u32> = (0..2u32)
        .flat_map(|e| (0..COMPETE_PER_EMITTER).map(move |i| e * 1_000_000 + i))
        .collect();
    want.sort_unstable();
    assert_eq!(got, want);
}

#[test]
fn batched_emit_and_reads_keep_order_and_report_full_empty_and_closed() {
    let (_n, seg) = fresh("stream_batches");
    let s: Stream<u64> = Stream::create(&seg, "s", 8).unwrap();
    assert_eq!(s.try_emit_many(&[]).unwrap(), 0);
    assert_eq!(s.try_emit_many(&(0..20).collect::<Vec<_>>()).unwrap(), 8);
    assert_eq!(s.try_emit_many(&[99]).unwrap(), 0, "full: nothing appended");
    assert_eq!(s.sequence(), 8);
    let mut buf = [0u64; 5];
    assert_eq!(s.try_next_many(&mut buf).unwrap(), 5);
    assert_eq!(buf, [0, 1, 2, 3, 4]);
    assert_eq!(s.try_emit_many(&[8, 9]).unwrap(), 2);
    assert_eq!(s.try_next(), Ok(5));
    assert_eq!(s.try_next_many(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], &[6, 7, 8, 9]);
    assert_eq!(s.try_next_many(&mut buf), Err(TryNextError::Empty));
    assert_eq!(s.try_next_many(&mut []), Ok(0));
    s.try_emit_many(&[10, 11]).unwrap();
    s.close();
    assert_eq!(
        s.try_emit_many(&[12]),
        Err(zeroipc::codata::stream::TryEmitManyError::Disconnected)
    );
    assert_eq!(
        s.try_next_many(&mut buf).unwrap(),
        2,
        "buffered before the close"
    );
    assert_eq!(s.try_next_many(&mut buf), Err(TryNextError::Disconnected));
}

#[test]
fn a_broadcast_batch_larger_than_the_buffer_keeps_the_newest_and_reports_the_lag() {
    let (_n, seg) = fresh("stream_bcast_batches");
    let s: Stream<u32> = Stream::create_broadcast(&seg, "b", 4).unwrap();
    let mut sub = s.broadcast_subscriber().unwrap();
    assert_eq!(s.try_emit_many(&(1..=10).collect::<Vec<_>>()).unwrap(), 10);
    assert_eq!(s.sequence(), 10);
    let mut buf = [0u32; 8];
    assert_eq!(
        sub.try_recv_many(&mut buf),
        Err(TryRecvError::Lagged { missed: 6 })
    );
    assert_eq!(sub.try_recv_many(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], &[7, 8, 9, 10]);
    assert_eq!(sub.try_recv_many(&mut buf), Err(TryRecvError::Empty));
    // A subscriber that joins now starts after everything emitted so far.
    let mut late = s.broadcast_subscriber().unwrap();
    s.emit(11).unwrap();
    assert_eq!((sub.try_recv(), late.try_recv()), (Ok(11), Ok(11)));
}

#[test]
fn an_emitter_claim_excludes_other_emitters_until_dropped_and_not_readers() {
    let (_n, seg) = fresh("stream_emitter_claim");
    let s: Stream<u32> = Stream::create(&seg, "s", 8).unwrap();
    let tx = s.emitter().unwrap();
    tx.emit(1).unwrap();
    assert_eq!(tx.try_emit_many(&[2, 3]).unwrap(), 2);
    let other = s.clone().with_stall_timeout(Duration::from_millis(20));
    assert_eq!(other.try_emit(9), Err(TryEmitError::Stalled(9)));
    assert!(matches!(
        other.emitter(),
        Err(zeroipc::codata::stream::EmitterError::Stalled)
    ));
    assert_eq!(s.try_next(), Ok(1), "readers do not wait for the claim");
    assert_eq!(s.sequence(), 3);
    drop(tx);
    other.try_emit(4).unwrap();
    let rest: Vec<u32> = std::iter::from_fn(|| s.try_next().ok()).collect();
    assert_eq!(rest, [2, 3, 4]);
}

const DEAD_CLAIM_TEST: &str = "an_emitter_claim_whose_process_died_is_taken_over";

#[test]
fn an_emitter_claim_whose_process_died_is_taken_over() {
    if let Some(name) = child_role("claimant") {
        let seg = Segment::open(&name).unwrap();
        let s: Stream<u32> = Stream::open(&seg, "s").unwrap();
        let tx = s.emitter().unwrap();
        tx.emit(1).unwrap();
        // Exit without dropping the emitter: the claim stays with a dead pid.
        std::mem::forget(tx);
        std::process::exit(0);
    }
    let (name, seg) = fresh("stream_dead_claim");
    let s: Stream<u32> = Stream::create(&seg, "s", 8).unwrap();
    wait_ok(spawn_child(DEAD_CLAIM_TEST, "claimant", &name), 60);
    assert_eq!(s.try_next(), Ok(1));
    s.emit_timeout(2, LONG).unwrap();
    let tx = s.emitter().unwrap();
    tx.emit(3).unwrap();
    drop(tx);
    assert_eq!((s.try_next(), s.try_next()), (Ok(2), Ok(3)));
    let h = seg.read_bytes(s.entry().offset() + 52, 4).unwrap();
    assert_eq!(h, [0, 0, 0, 0], "the lock is free again");
}

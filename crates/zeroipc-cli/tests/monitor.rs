//! `zeroipc monitor`: following a Queue that another process pushes to (nothing consumed),
//! a Ring, a Signal and an Array, `--count`, and its errors.
//!
//! The pushing process is this test binary run again with `ZEROIPC_MONITOR_CHILD` set.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{ShmName, zeroipc};
use zeroipc::structures::{Array, Queue, Ring};
use zeroipc::sync::{Mutex, Signal};
use zeroipc::{Channel, Segment, SegmentOptions, Stream};

const CHILD: &str = "ZEROIPC_MONITOR_CHILD";

fn create(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .expect("create segment")
}

/// Starts `zeroipc monitor` with `args`, stdout piped.
fn monitor(args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .arg("monitor")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn zeroipc monitor")
}

/// Waits (at most 20 s) for the monitor to finish; returns its stdout.
fn finish(child: Child) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut child = child;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("monitor did not stop: {:?}", child.wait_with_output());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{:?}", out);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Waits until the monitor has read its starting position, so that what the test writes next
/// is printed.
///
/// A fixed sleep was not enough: a debug `zeroipc` on a loaded machine can take longer than
/// that to start, and then the monitor counts the test's writes as already there. So this
/// waits (at most 20 s) until the monitor process has the segment mapped (`/proc/PID/maps`),
/// which happens first thing in `run`, and then until its main thread is asleep in the
/// kernel (`/proc/PID/stat` state `S`): between mapping and its first poll interval it only
/// reads memory (resolving the entry and its starting position), so its first sleep comes
/// after the start is read.
fn settle(mon: &mut Child, name: &ShmName) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = mon.try_wait().unwrap() {
            panic!("monitor exited before mapping {}: {status}", name.as_str());
        }
        let users = zeroipc::inspect::segment_users(name.as_str()).unwrap();
        if users.mapped_by.contains(&mon.id()) {
            break;
        }
        assert!(Instant::now() < deadline, "monitor did not map the segment");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stat = format!("/proc/{}/stat", mon.id());
    loop {
        // "pid (comm) S ...": the state follows the last ')'.
        let text = std::fs::read_to_string(&stat).unwrap_or_default();
        let state = text
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next());
        if state == Some("S") {
            return;
        }
        if let Some(status) = mon.try_wait().unwrap() {
            panic!("monitor exited before its first poll: {status}");
        }
        assert!(
            Instant::now() < deadline,
            "monitor never slept between polls (state {state:?})"
        );
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Child: push 100..120 into queue `q` of segment `$CHILD`, a little apart.
#[test]
fn child_push() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let seg = Segment::open(&name).unwrap();
    let q: Queue<u64> = Queue::open(&seg, "q").unwrap();
    for v in 100..120 {
        q.push(v).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn queue_values_pushed_by_another_process_are_printed_once_in_order_and_not_consumed() {
    let name = ShmName::new("monitor_queue");
    let seg = create(&name);
    let q: Queue<u64> = Queue::create(&seg, "q", 64).unwrap();
    for v in [1, 2, 3] {
        q.push(v).unwrap(); // already there: not printed
    }
    let mut mon = monitor(&[name.as_str(), "q", "--count", "20", "--interval", "5"]);
    settle(&mut mon, &name);
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_push", "--test-threads", "1"])
        .env(CHILD, name.as_str())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let out = finish(mon);
    let expected: String = (100..120).map(|v| format!("{v}\n")).collect();
    assert_eq!(out, expected);
    // Nothing consumed: the queue still holds everything, in order.
    let mut held = Vec::new();
    while let Ok(v) = q.try_pop() {
        held.push(v);
    }
    let mut want = vec![1, 2, 3];
    want.extend(100..120);
    assert_eq!(held, want);
}

#[test]
fn queue_json_lines_carry_positions() {
    let name = ShmName::new("monitor_queue_json");
    let seg = create(&name);
    let q: Queue<i32> = Queue::create(&seg, "q", 8).unwrap();
    q.push(5).unwrap();
    let mut mon = monitor(&[name.bare(), "q", "--count", "2", "--as", "i32", "--json"]);
    settle(&mut mon, &name);
    q.push(-7).unwrap();
    q.push(9).unwrap();
    let out = finish(mon);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines,
        [
            serde_json::json!({"position": 1, "value": -7}),
            serde_json::json!({"position": 2, "value": 9}),
        ]
    );
}

#[test]
fn queue_reports_missed_values_when_consumers_and_producers_lap_it() {
    let name = ShmName::new("monitor_queue_missed");
    let seg = create(&name);
    let q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    // A slow poll: everything below happens between two reads.
    let mut mon = monitor(&[name.as_str(), "q", "--count", "4", "--interval", "1000"]);
    settle(&mut mon, &name);
    for v in 0..10 {
        q.push(v).unwrap();
        assert_eq!(q.try_pop(), Ok(v));
    }
    q.push(42).unwrap();
    // Positions 0..=6 were overwritten; 7, 8, 9 were popped but their bytes are intact (their
    // seq says "popped one lap ago"), and 42 is at position 10.
    assert_eq!(finish(mon), "missed 7\n7\n8\n9\n42\n");
}

#[test]
fn ring_values_are_printed_as_written() {
    let name = ShmName::new("monitor_ring");
    let seg = create(&name);
    let mut r = Ring::<u32>::create(&seg, "r", 16)
        .unwrap()
        .producer()
        .unwrap();
    r.push(1).unwrap();
    let mut mon = monitor(&[name.as_str(), "r", "--count", "3"]);
    settle(&mut mon, &name);
    for v in [10, 20, 30] {
        r.push(v).unwrap();
    }
    assert_eq!(finish(mon), "10\n20\n30\n");
}

#[test]
fn signal_values_are_printed_on_version_change() {
    let name = ShmName::new("monitor_signal");
    let seg = create(&name);
    let s: Signal<f64> = Signal::create(&seg, "temp", 1.5).unwrap();
    let mut mon = monitor(&[name.as_str(), "temp", "--count", "1", "--as", "f64"]);
    settle(&mut mon, &name);
    s.set(2.25).unwrap();
    assert_eq!(finish(mon), "version 1: 2.25\n");
}

#[test]
fn array_changes_are_printed_with_their_index() {
    let name = ShmName::new("monitor_array");
    let seg = create(&name);
    let a: Array<u16> = Array::create(&seg, "a", 8).unwrap();
    let mut mon = monitor(&[name.as_str(), "a", "--count", "1"]);
    settle(&mut mon, &name);
    a.set(3, 77).unwrap();
    assert_eq!(finish(mon), "[3] 77\n");
}

#[test]
fn values_are_read_as_the_type_the_catalog_records() {
    let name = ShmName::new("monitor_catalog");
    let seg = create(&name);
    let a: Array<f32> = Array::create(&seg, "gains", 4).unwrap();
    let mut mon = monitor(&[name.as_str(), "gains", "--count", "1"]);
    settle(&mut mon, &name);
    a.set(1, 2.5).unwrap();
    // Without the catalog this would print the bits as a u32 (1075838976).
    assert_eq!(finish(mon), "[1] 2.5\n");
    // `--as` overrides it.
    let mut mon = monitor(&[name.as_str(), "gains", "--count", "1", "--as", "u32"]);
    settle(&mut mon, &name);
    a.set(2, 1.0).unwrap();
    assert_eq!(finish(mon), "[2] 1065353216\n");
}

#[test]
fn monitor_errors_are_one_line() {
    let name = ShmName::new("monitor_errors");
    let seg = create(&name);
    Mutex::create(&seg, "m").unwrap();
    let _q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    let line = zeroipc(&["monitor", name.as_str(), "m"]).one_line_error();
    assert!(line.contains("cannot be monitored"), "{line}");
    let line = zeroipc(&["monitor", name.as_str(), "nope"]).one_line_error();
    assert!(line.contains("nope"), "{line}");
    let line = zeroipc(&["monitor", name.as_str(), "q", "--as", "u64"]).one_line_error();
    assert!(line.contains("4 bytes"), "{line}");
    let missing = ShmName::new("monitor_missing");
    zeroipc(&["monitor", missing.as_str(), "q"]).one_line_error();
}

#[test]
fn monitor_stops_cleanly_when_its_reader_goes_away() {
    use std::io::{BufRead, BufReader};
    let name = ShmName::new("monitor_sigpipe");
    let seg = create(&name);
    let q: Queue<u32> = Queue::create(&seg, "q", 64).unwrap();
    let mut mon = monitor(&[name.as_str(), "q"]);
    settle(&mut mon, &name);
    q.push(1).unwrap();
    // Read the first line on a thread, so that a monitor that never prints fails the test
    // (killing the monitor ends the read) instead of hanging it.
    let stdout = mon.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut stdout = BufReader::new(stdout);
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        tx.send(line).unwrap();
        stdout
    });
    let Ok(line) = rx.recv_timeout(Duration::from_secs(20)) else {
        mon.kill().unwrap();
        panic!(
            "monitor printed nothing in 20 s: {:?}",
            mon.wait_with_output()
        );
    };
    assert_eq!(line, "1\n");
    drop(reader.join().unwrap()); // as `| head -1` does
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut v = 2;
    let status = loop {
        if let Some(status) = mon.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "monitor kept running");
        q.push(v).unwrap();
        v += 1;
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(mon.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(err.is_empty(), "{err}");
}

#[test]
fn streams_and_channels_are_followed_through_their_buffers() {
    use std::os::unix::fs::FileExt;
    let name = common::load_golden("cpp_all.bin");
    // By base name or header; an unbuffered channel has nothing to follow.
    for entry in ["strm", "strm_header", "chb", "chb_header", "sig_f64"] {
        let run = zeroipc(&["monitor", name.as_str(), entry, "--count", "0"]);
        assert_eq!(run.code, Some(0), "{entry}: {}", run.stderr);
    }
    let line = zeroipc(&["monitor", name.as_str(), "chu"]).one_line_error();
    assert!(line.contains("chu_buffer"), "{line}");

    // The stream's ring (strm_buffer, i32, write_pos 40 of 64 bytes): a producer writes 777.
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    let ring = seg.find("strm_buffer").unwrap().offset();
    drop(seg);
    let mut mon = monitor(&[name.as_str(), "strm", "--count", "1", "--as", "i32"]);
    settle(&mut mon, &name);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    file.write_all_at(&777i32.to_le_bytes(), ring + 24 + 40)
        .unwrap();
    file.write_all_at(&44u64.to_le_bytes(), ring).unwrap();
    assert_eq!(finish(mon), "777\n");
}

#[test]
fn a_stream_is_followed_as_values_are_emitted_and_keeps_them() {
    let name = ShmName::new("monitor_stream");
    let seg = create(&name);
    let s: Stream<u64> = Stream::create(&seg, "temperature_stream", 16).unwrap();
    for v in [1, 2] {
        s.emit(v).unwrap(); // already there: not printed
    }
    let mut mon = monitor(&[
        name.as_str(),
        "temperature_stream",
        "--count",
        "3",
        "--interval",
        "5",
    ]);
    settle(&mut mon, &name);
    for v in [10, 11, 12] {
        s.emit(v).unwrap();
    }
    assert_eq!(finish(mon), "10\n11\n12\n");
    // Nothing consumed: the stream still holds every value, in order.
    assert_eq!(s.len().unwrap(), 5);
    let mut held = Vec::new();
    while let Ok(v) = s.try_next() {
        held.push(v);
    }
    assert_eq!(held, [1, 2, 10, 11, 12]);
}

#[test]
fn a_channel_is_followed_as_values_are_sent_and_keeps_them() {
    let name = ShmName::new("monitor_channel");
    let seg = create(&name);
    let ch: Channel<u64> = Channel::create(&seg, "jobs", 8).unwrap();
    ch.send(1).unwrap(); // already there: not printed
    let mut mon = monitor(&[name.as_str(), "jobs", "--count", "2", "--interval", "5"]);
    settle(&mut mon, &name);
    for v in [20, 21] {
        ch.send(v).unwrap();
    }
    assert_eq!(finish(mon), "20\n21\n");
    // Nothing received by the monitor: the channel still holds every value, in order.
    assert_eq!(ch.len(), 3);
    let mut held = Vec::new();
    while let Ok(v) = ch.try_recv() {
        held.push(v);
    }
    assert_eq!(held, [1, 20, 21]);
}

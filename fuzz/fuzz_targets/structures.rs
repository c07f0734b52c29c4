//! A segment holding one of every structure zeroipc has, and "use each of them every way
//! there is" helpers, for the targets that corrupt structure headers and slots.
//!
//! Self-contained (zeroipc and std only): the stable proptest twin,
//! `crates/zeroipc/tests/structure_ops.rs`, includes this same file with `#[path]`, so the
//! fuzz targets and the test suite run the same operations.
//!
//! Every operation is a `try_` form or has a zero (or microsecond) timeout, and every stall
//! bound is set to 100 µs: a corrupt segment must give an error quickly, never a hang (the
//! libFuzzer `-timeout` catches one).
#![allow(dead_code, unreachable_pub)]

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use zeroipc::codata::channel::Channel;
use zeroipc::codata::future::Future;
use zeroipc::codata::lazy::Lazy;
use zeroipc::codata::stream::Stream;
use zeroipc::inspect;
use zeroipc::structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc::sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal,
};
use zeroipc::{ReadOnlySegment, Segment, SegmentOptions};

/// The prefix of the scratch segment [`image`] is built in (removed again at once).
const IMAGE_PREFIX: &str = "zeroipc-fuzz-";

/// Geometry of [`image`].
pub const SIZE: u64 = 24 * 1024;
pub const MAX_ENTRIES: u32 = 48;

/// The structures of [`image`], by name.
pub const ARRAY: &str = "array";
pub const QUEUE: &str = "queue";
pub const STACK: &str = "stack";
pub const RING: &str = "ring";
pub const POOL: &str = "pool";
pub const MAP: &str = "map";
pub const SET: &str = "set";
pub const SEM: &str = "sem";
pub const MUTEX: &str = "mutex";
pub const RWLOCK: &str = "rw";
pub const BARRIER: &str = "barrier";
pub const LATCH: &str = "latch";
pub const ONCE: &str = "once";
pub const EVENT: &str = "event";
pub const MONITOR: &str = "mon";
pub const SIGNAL: &str = "signal";
pub const FUTURE: &str = "future";
pub const FUTURE_SET: &str = "future_set";
pub const LAZY: &str = "lazy";
pub const CHANNEL: &str = "chan";
pub const STREAM: &str = "stream";
pub const BROADCAST: &str = "bcast";

/// How long a fuzzed operation may wait for a stuck peer: short, so executions stay fast.
pub const STALL: Duration = Duration::from_micros(100);

/// The operation codes (modulo 32) from this one up decode an entry ([`inspect_one`]); every
/// lower code uses a structure. (`concurrent_corruption` runs them only when asked.)
pub const FIRST_DECODE_OP: u8 = 30;

/// A valid segment with one of every structure, each holding a few items, written by the
/// library once per process. Its table and headers are what the inputs corrupt.
pub fn image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = format!("/{IMAGE_PREFIX}{}-structures", std::process::id());
        let _ = Segment::unlink(&name);
        let seg = SegmentOptions::new()
            .size(SIZE)
            .max_entries(MAX_ENTRIES)
            .create_new(&name)
            .expect("create the structures image");
        build(&seg);
        let bytes = std::fs::read(format!("/dev/shm{name}")).expect("read the image");
        let _ = Segment::unlink(&name);
        bytes
    })
}

fn build(seg: &Segment) {
    let a = Array::<u64>::create(seg, ARRAY, 6).unwrap();
    a.fill(7);
    let q = Queue::<u64>::create(seg, QUEUE, 8).unwrap();
    let s = Stack::<u64>::create(seg, STACK, 8).unwrap();
    let r = Ring::<u64>::create(seg, RING, 8).unwrap();
    let mut rp = r.producer().unwrap();
    for i in 1..=3u64 {
        q.push(i).unwrap();
        s.push(i).unwrap();
        rp.push(i).unwrap();
    }
    drop(rp);
    let p = Pool::<u64>::create(seg, POOL, 8).unwrap();
    let i = p.allocate().unwrap();
    p.set(i, 99).unwrap();
    let _ = p.allocate().unwrap();
    let m = Map::<u64, u64>::create(seg, MAP, 16).unwrap();
    let t = Set::<u32>::create(seg, SET, 16).unwrap();
    for k in 0..5u32 {
        m.insert(u64::from(k), u64::from(k) * 10).unwrap();
        t.insert(k * 3).unwrap();
    }
    m.remove(&2).unwrap();
    t.remove(&3).unwrap();
    Semaphore::create(seg, SEM, 2, 4).unwrap();
    Mutex::create(seg, MUTEX).unwrap();
    RwLock::create(seg, RWLOCK).unwrap();
    Barrier::create(seg, BARRIER, 2).unwrap();
    Latch::create(seg, LATCH, 3).unwrap();
    Once::create(seg, ONCE).unwrap();
    Event::create(seg, EVENT, EventMode::ManualReset).unwrap();
    Monitor::create(seg, MONITOR).unwrap();
    Signal::<u64>::create(seg, SIGNAL, 5).unwrap();
    Future::<u64>::create(seg, FUTURE).unwrap();
    Future::<u64>::create(seg, FUTURE_SET)
        .unwrap()
        .set_value(42)
        .unwrap();
    Lazy::<u64>::constant(seg, LAZY, 11).unwrap();
    let c = Channel::<u64>::create(seg, CHANNEL, 4).unwrap();
    c.try_send(1).unwrap();
    let st = Stream::<u64>::create(seg, STREAM, 8).unwrap();
    let b = Stream::<u64>::create_broadcast(seg, BROADCAST, 4).unwrap();
    for i in 0..3u64 {
        st.emit(i).unwrap();
        b.emit(i).unwrap();
    }
}

/// Reads one entry the way `zeroipc show` does: classify it, then decode it with and
/// without an element type. (`classify_all` of every entry and decoding each measured 340
/// executions per second; `open_segment` covers `classify_all`.)
pub fn inspect_one(ro: &ReadOnlySegment, pick: usize) {
    let Ok(entries) = ro.entries() else {
        return;
    };
    if entries.is_empty() {
        return;
    }
    let entry = &entries[pick % entries.len()];
    let kind = inspect::classify(ro, entry);
    let _ = kind.name();
    let _ = kind.fields();
    let _ = inspect::decode(ro, entry, &kind, None);
    let _ = inspect::decode(ro, entry, &kind, Some("u64".parse().unwrap()));
}

/// One operation chosen by an input byte, run against the structures of `seg`. Values come
/// from the byte too; `salt` (the operation's position in the input) widens the choice of
/// entry to decode. Returns nothing: every outcome (a value or a typed error) is fine, as
/// long as nothing panics, crashes or hangs.
pub fn op(seg: &Segment, code: u8, salt: usize) {
    let v = u64::from(code);
    match code % 32 {
        0 => {
            if let Ok(a) = Array::<u64>::open(seg, ARRAY) {
                let _ = a.get(usize::from(code % 8));
                let _ = a.to_vec();
                let _ = a.set(usize::from(code % 8), v);
            }
        }
        1 => {
            if let Ok(q) = Queue::<u64>::open(seg, QUEUE) {
                let q = q.with_stall_timeout(STALL);
                let _ = (q.len(), q.is_empty(), q.is_full(), q.capacity());
                let _ = q.try_push(v);
                // Never the untimed `push`: a full queue would block the fuzzer.
                let _ = q.push_deadline(v, Instant::now());
            }
        }
        2 => {
            if let Ok(q) = Queue::<u64>::open(seg, QUEUE) {
                let q = q.with_stall_timeout(STALL);
                let _ = q.try_pop();
                let _ = q.pop_deadline(Instant::now());
                let _ = q.pop_timeout(Duration::ZERO);
                let _ = q.push_timeout(v, Duration::ZERO);
            }
        }
        3 => {
            if let Ok(s) = Stack::<u64>::open(seg, STACK) {
                let s = s.with_stall_timeout(STALL);
                let _ = (s.len(), s.is_empty(), s.capacity());
                let _ = s.try_push(v);
                let _ = s.push_timeout(v, Duration::ZERO);
                let _ = s.peek();
            }
        }
        4 => {
            if let Ok(s) = Stack::<u64>::open(seg, STACK) {
                let s = s.with_stall_timeout(STALL);
                let _ = s.try_pop();
                let _ = s.pop_timeout(Duration::ZERO);
                let _ = s.pop_deadline(Instant::now());
            }
        }
        5 => {
            if let Ok(r) = Ring::<u64>::open(seg, RING) {
                let _ = (r.len(), r.is_empty(), r.capacity(), r.capacity_bytes());
                if let Ok(mut p) = r.producer() {
                    let _ = p.try_push(v);
                    let _ = p.write(&[v, v + 1, v + 2]);
                }
            }
        }
        6 => {
            if let Ok(r) = Ring::<u64>::open(seg, RING)
                && let Ok(mut c) = r.consumer()
            {
                let _ = c.peek();
                let _ = c.try_pop();
                let mut buf = [0u64; 5];
                let _ = c.read(&mut buf);
            }
        }
        7 => {
            if let Ok(p) = Pool::<u64>::open(seg, POOL) {
                let _ = (p.allocated(), p.capacity(), p.free_head());
                let _ = p.free_list();
                let _ = p.free_len();
                if let Ok(i) = p.allocate() {
                    let _ = p.set(i, v);
                    let _ = p.get(i);
                }
            }
        }
        8 => {
            if let Ok(p) = Pool::<u64>::open(seg, POOL) {
                let i = usize::from(code >> 5);
                let _ = p.get(i);
                let _ = p.free(i);
                let _ = p.free(i);
            }
        }
        9 => {
            if let Ok(m) = Map::<u64, u64>::open(seg, MAP) {
                let m = m.with_stall_timeout(STALL);
                let _ = (m.len(), m.is_empty(), m.capacity());
                let _ = m.insert(v % 8, v);
                let _ = m.get(&(v % 8));
                let _ = m.contains_key(&3);
            }
        }
        10 => {
            if let Ok(m) = Map::<u64, u64>::open(seg, MAP) {
                let m = m.with_stall_timeout(STALL);
                let _ = m.remove(&(v % 8));
                let _ = m.pairs();
            }
        }
        11 => {
            if let Ok(t) = Set::<u32>::open(seg, SET) {
                let t = t.with_stall_timeout(STALL);
                let _ = t.insert(code.into());
                let _ = t.contains(&3);
                let _ = t.remove(&6);
                let _ = t.members();
            }
        }
        12 => {
            if let Ok(s) = Semaphore::open(seg, SEM) {
                let _ = (s.count(), s.waiting(), s.max_count());
                if s.try_acquire().is_ok() {
                    let _ = s.release();
                }
                let _ = s.acquire_timeout(Duration::ZERO);
                let _ = s.release();
            }
        }
        13 => {
            if let Ok(m) = Mutex::open(seg, MUTEX) {
                let _ = (m.is_locked(), m.owner());
                match m.try_lock() {
                    Ok(g) => {
                        let _ = g.unlock();
                    }
                    Err(e) => drop(e),
                }
                if let Ok(g) = m.lock_timeout(Duration::ZERO) {
                    drop(g);
                }
            }
        }
        14 => {
            if let Ok(rw) = RwLock::open(seg, RWLOCK) {
                let _ = rw.snapshot();
                if let Ok(g) = rw.try_read() {
                    drop(g);
                }
                if let Ok(g) = rw.read_timeout(Duration::ZERO) {
                    drop(g);
                }
            }
        }
        15 => {
            if let Ok(rw) = RwLock::open(seg, RWLOCK) {
                if let Ok(g) = rw.try_write() {
                    drop(g);
                }
                if let Ok(g) = rw.write_timeout(Duration::ZERO) {
                    drop(g);
                }
            }
        }
        16 => {
            if let Ok(b) = Barrier::open(seg, BARRIER) {
                let _ = (b.arrived(), b.generation(), b.participants());
                let _ = b.wait_timeout(Duration::ZERO);
            }
        }
        17 => {
            if let Ok(l) = Latch::open(seg, LATCH) {
                let _ = (l.count(), l.initial_count(), l.try_wait());
                let _ = l.count_down(usize::from(code >> 5));
                let _ = l.wait_timeout(Duration::ZERO);
            }
        }
        18 => {
            if let Ok(o) = Once::open(seg, ONCE) {
                let _ = (o.state(), o.is_completed());
                let _ = o.call_once_timeout(Duration::ZERO, || {});
            }
        }
        19 => {
            if let Ok(e) = Event::open(seg, EVENT).map(|e| e.with_stall_timeout(STALL)) {
                let _ = (e.mode(), e.is_signaled(), e.waiting());
                let _ = e.wait_timeout(Duration::ZERO);
                let _ = e.signal();
                if code & 0x20 != 0 {
                    // Waits up to its grace period while `waiting` (corruptible) is non-zero.
                    let _ = e.pulse();
                }
                let _ = e.reset();
            }
        }
        20 => {
            if let Ok(m) = Monitor::open(seg, MONITOR) {
                let _ = m.waiting();
                if let Ok(g) = m.lock_timeout(Duration::ZERO) {
                    let _ = m.wait_timeout(g, Duration::ZERO);
                }
                let _ = m.notify_one();
                let _ = m.notify_all();
            }
        }
        21 => {
            if let Ok(s) = Signal::<u64>::open(seg, SIGNAL) {
                let _ = (s.version(), s.get_timeout(Duration::ZERO));
                let _ = s.set_timeout(v, Duration::ZERO);
                let _ = s.update_timeout(|x| x.wrapping_add(1), Duration::ZERO);
                let _ = s.has_changed(0);
                let _ = s.wait_for_change_timeout(u64::MAX, Duration::ZERO);
            }
        }
        22 => {
            for name in [FUTURE, FUTURE_SET] {
                if let Ok(f) = Future::<u64>::open(seg, name) {
                    let _ = (f.state(), f.is_ready(), f.waiters(), f.completion_time());
                    let _ = f.try_get();
                    let _ = f.get_timeout(Duration::ZERO);
                }
            }
        }
        23 => {
            if let Ok(f) = Future::<u64>::open(seg, FUTURE) {
                if code & 0x20 == 0 {
                    let _ = f.set_value(v);
                } else {
                    let _ = f.set_error("fuzz");
                }
            }
        }
        24 => {
            if let Ok(l) = Lazy::<u64>::open(seg, LAZY) {
                let _ = (l.state(), l.is_computed(), l.peek(), l.compute_count());
                let _ = l.operation();
                let _ = l.force_with_timeout(Duration::ZERO, || v);
                let _ = l.try_force_with(|| v);
                if code & 0x20 != 0 {
                    let _ = l.reset();
                }
            }
        }
        25 => {
            if let Ok(c) = Channel::<u64>::open(seg, CHANNEL) {
                let c = c.with_stall_timeout(STALL);
                let _ = (c.len(), c.is_empty(), c.capacity(), c.is_closed());
                let _ = c.try_send(v);
                let _ = c.send_timeout(v, Duration::ZERO);
                let _ = c.is_buffered();
            }
        }
        26 => {
            if let Ok(c) = Channel::<u64>::open(seg, CHANNEL) {
                let c = c.with_stall_timeout(STALL);
                let _ = c.try_recv();
                let _ = c.recv_timeout(Duration::ZERO);
                if code & 0x20 != 0 {
                    let _ = c.close();
                }
            }
        }
        27 => {
            if let Ok(s) = Stream::<u64>::open(seg, STREAM).map(|s| s.with_stall_timeout(STALL)) {
                let _ = (
                    s.capacity(),
                    s.sequence(),
                    s.subscribers(),
                    s.transform_name(),
                );
                let _ = (s.len(), s.is_empty(), s.is_closed());
                // Never the blocking `emit`: a full stream would wait for a reader forever.
                let _ = s.try_emit(v);
                let _ = s.emit_timeout(v, Duration::ZERO);
                let _ = s.emit_deadline(v, std::time::Instant::now());
            }
        }
        28 => {
            if let Ok(s) = Stream::<u64>::open(seg, STREAM).map(|s| s.with_stall_timeout(STALL)) {
                let _ = s.try_next();
                let _ = s.next_timeout(Duration::ZERO);
                let _ = s.next_deadline(std::time::Instant::now());
                let mut sub = s.subscribe(Duration::ZERO);
                let _ = sub.next();
            }
            if let Ok(b) = Stream::<u64>::open(seg, BROADCAST).map(|s| s.with_stall_timeout(STALL))
            {
                let _ = b.is_broadcast();
                let _ = b.try_emit(v);
                if let Ok(mut sub) = b.broadcast_subscriber() {
                    let _ = sub.try_recv();
                    let _ = sub.recv_deadline(std::time::Instant::now());
                }
            }
        }
        29 => {
            // Opening with the wrong element type or kind must be a typed error.
            let _ = Queue::<u32>::open(seg, STACK);
            let _ = Stack::<u8>::open(seg, QUEUE);
            let _ = Map::<u32, u32>::open(seg, SET);
            let _ = Set::<u64>::open(seg, MAP);
            let _ = Ring::<u32>::open(seg, RING);
            let _ = Pool::<u32>::open(seg, POOL);
            let _ = Channel::<u32>::open(seg, STREAM);
            let _ = Stream::<u32>::open(seg, CHANNEL);
            let _ = Future::<u32>::open(seg, LAZY);
            let _ = Lazy::<u32>::open(seg, FUTURE);
            let _ = Signal::<u32>::open(seg, SIGNAL);
        }
        // `FIRST_DECODE_OP` and up.
        _ => inspect_one(
            seg,
            salt * 16 + usize::from(code >> 5) * 2 + usize::from(code & 1),
        ),
    }
}

//! Single-process micro-benchmarks (divan): the hot paths without a second process.
//!
//! ```text
//! cargo bench -p zeroipc-bench --bench micro
//! ```
//!
//! Cross-process round trips and throughput are in `pingpong.rs`.

use std::sync::atomic::Ordering;

use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

fn main() {
    divan::main();
}

/// A segment that unlinks itself when the benchmark ends.
struct Scratch {
    name: String,
    seg: Segment,
}

impl Scratch {
    fn new(tag: &str) -> Self {
        let name = format!("/zeroipc-bench-{}-{tag}", std::process::id());
        let seg = SegmentOptions::new()
            .size(4 << 20)
            .create_or_replace(&name)
            .expect("create");
        Self { name, seg }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.name);
    }
}

/// Opening and validating a segment with 64 entries (the cost a peer pays once).
#[divan::bench]
fn segment_open_validate(bencher: divan::Bencher) {
    let s = Scratch::new("open");
    // A full table: 64 entries, the first of them the type catalog.
    for i in 0..63 {
        Array::<u64>::create(&s.seg, &format!("a{i}"), 16).expect("array");
    }
    bencher.bench(|| Segment::open(divan::black_box(&s.name)).expect("open"));
}

/// Array element copy in (word-wise Relaxed stores) and out.
#[divan::bench(types = [u32, u64, [u64; 4]])]
fn array_set_get<T: zeroipc::Element + Default>(bencher: divan::Bencher) {
    let s = Scratch::new("array");
    let a: Array<T> = Array::create(&s.seg, "a", 1024).expect("array");
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) & 1023;
        a.set(i, divan::black_box(T::default())).expect("in bounds");
        divan::black_box(a.get(i))
    });
}

/// The floor for `array_set_get::<u64>`: the same store and load on a heap atomic.
#[divan::bench]
fn floor_heap_atomic_u64(bencher: divan::Bencher) {
    let v: Vec<std::sync::atomic::AtomicU64> = (0..1024)
        .map(|_| std::sync::atomic::AtomicU64::new(0))
        .collect();
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) & 1023;
        v[i].store(divan::black_box(0), Ordering::Relaxed);
        divan::black_box(v[i].load(Ordering::Relaxed))
    });
}

/// `fetch_add` on a shared Array element.
#[divan::bench]
fn array_atomic_fetch_add(bencher: divan::Bencher) {
    let s = Scratch::new("atomic");
    let a: Array<u64> = Array::create(&s.seg, "a", 8).expect("array");
    let w = a.atomic(0).expect("in bounds");
    bencher.bench_local(|| w.fetch_add(1, Ordering::Relaxed));
}

/// Single-thread Queue<u64> push then pop (target: no slower than crossbeam's ArrayQueue).
/// Fixed sample size: divan's calibration otherwise picks 100 iterations per sample when the
/// first call (which looks the waiter registry up once) is slow, and the timer then dominates.
#[divan::bench(sample_size = 10_000)]
fn queue_push_pop(bencher: divan::Bencher) {
    let s = Scratch::new("queue");
    let q: zeroipc::structures::Queue<u64> =
        zeroipc::structures::Queue::create(&s.seg, "q", 1024).expect("queue");
    bencher.bench_local(|| {
        q.try_push(divan::black_box(7)).expect("room");
        divan::black_box(q.try_pop())
    });
}

/// The floor for `queue_push_pop`: crossbeam's ArrayQueue on the heap.
#[divan::bench(sample_size = 10_000)]
fn crossbeam_array_queue_push_pop(bencher: divan::Bencher) {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(1024);
    bencher.bench_local(|| {
        q.push(divan::black_box(7)).expect("room");
        divan::black_box(q.pop())
    });
}

/// Uncontended zeroipc Mutex lock + unlock (target: within 1.2x of std's Mutex). Fixed
/// sample size, as for the queue (the first call's one-time costs confuse calibration).
#[divan::bench(sample_size = 10_000)]
fn mutex_lock_unlock(bencher: divan::Bencher) {
    let s = Scratch::new("mutex");
    let m = zeroipc::sync::Mutex::create(&s.seg, "m").expect("mutex");
    bencher.bench_local(|| drop(divan::black_box(m.lock().expect("uncontended"))));
}

/// `mutex_lock_unlock` 100 times per iteration: the harness's per-iteration cost (a call
/// through the closure, the timing loop) amortised. Divide by 100.
#[divan::bench(sample_size = 1_000)]
fn mutex_lock_unlock_x100(bencher: divan::Bencher) {
    let s = Scratch::new("mutex100");
    let m = zeroipc::sync::Mutex::create(&s.seg, "m").expect("mutex");
    bencher.bench_local(|| {
        for _ in 0..100 {
            drop(divan::black_box(m.lock().expect("uncontended")));
        }
    });
}

/// `std_mutex_lock_unlock` 100 times per iteration (see `mutex_lock_unlock_x100`).
#[divan::bench(sample_size = 1_000)]
fn std_mutex_lock_unlock_x100(bencher: divan::Bencher) {
    let m = std::sync::Mutex::new(());
    bencher.bench_local(|| {
        for _ in 0..100 {
            drop(divan::black_box(m.lock().expect("uncontended")));
        }
    });
}

/// `queue_push_pop` 100 times per iteration (see `mutex_lock_unlock_x100`).
#[divan::bench(sample_size = 1_000)]
fn queue_push_pop_x100(bencher: divan::Bencher) {
    let s = Scratch::new("queue100");
    let q: zeroipc::structures::Queue<u64> =
        zeroipc::structures::Queue::create(&s.seg, "q", 1024).expect("queue");
    bencher.bench_local(|| {
        for _ in 0..100 {
            q.try_push(divan::black_box(7)).expect("room");
            let _ = divan::black_box(q.try_pop());
        }
    });
}

/// `crossbeam_array_queue_push_pop` 100 times per iteration (see `mutex_lock_unlock_x100`).
#[divan::bench(sample_size = 1_000)]
fn crossbeam_array_queue_push_pop_x100(bencher: divan::Bencher) {
    let q = crossbeam_queue::ArrayQueue::<u64>::new(1024);
    bencher.bench_local(|| {
        for _ in 0..100 {
            q.push(divan::black_box(7)).expect("room");
            divan::black_box(q.pop());
        }
    });
}

/// The floor for `mutex_lock_unlock`: std's futex Mutex.
#[divan::bench(sample_size = 10_000)]
fn std_mutex_lock_unlock(bencher: divan::Bencher) {
    let m = std::sync::Mutex::new(());
    bencher.bench_local(|| drop(divan::black_box(m.lock().expect("uncontended"))));
}

/// Ring<u64> single-thread push then pop, and a 64-element write then read.
#[divan::bench(args = [1, 64])]
fn ring_write_read(bencher: divan::Bencher, n: usize) {
    let s = Scratch::new(&format!("ring{n}"));
    let r: zeroipc::structures::Ring<u64> =
        zeroipc::structures::Ring::create(&s.seg, "r", 1024).expect("ring");
    let (mut tx, mut rx) = (
        r.producer().expect("producer"),
        r.consumer().expect("consumer"),
    );
    let src = vec![7u64; n];
    let mut dst = vec![0u64; n];
    bencher
        .counter(divan::counter::ItemsCount::new(n))
        .bench_local(|| {
            tx.write(divan::black_box(&src)).expect("ring");
            rx.read(divan::black_box(&mut dst)).expect("ring")
        });
}

//! Cross-process benchmark harness (`harness = false`): round trips, wake-ups and throughput
//! between two real processes sharing one segment, always next to the floors measured in the
//! same run.
//!
//! ```text
//! cargo bench -p zeroipc-bench --bench pingpong               # full run (about a minute)
//! cargo bench -p zeroipc-bench --bench pingpong -- --quick    # a few seconds
//! cargo bench -p zeroipc-bench --bench pingpong -- --json     # machine-readable
//! ```
//!
//! The machine is shared and noisy, so every scenario is reported as a ratio to a floor
//! measured in the same run, **interleaved** with it (`zeroipc_bench::stats`): a row is `n`
//! pairs (floor batch, subject batch), its ratio the median of the per-pair ratios with their
//! spread (min..max); a pair whose floor is implausible (both processes on one CPU) is
//! dropped, and a row left with fewer than half its pairs is re-measured once, then printed
//! "invalid". Every batch runs against a fresh child on a fresh segment, the two processes
//! pinned to different CPUs (`zeroipc_bench::pin`), and the clock starts only once the child
//! has said it is running. The floors:
//! - `floor/spin`: a bare cache-line ping-pong (two `AtomicU64` on different lines, each side
//!   spins until the other's store is visible) — the cost of moving a line between cores;
//!   the floor for spinning round trips and throughput;
//! - `floor/futex-wake`: a bare shared-futex hand-off — the cost of a kernel wake-up; the
//!   floor for blocking hand-offs (`floor/futex`, a futex ping-pong, is a row against it).
//!
//! Adding a row is one call of the `row` closure in `main` (name, unit, floor, config, and
//! the function measuring one subject batch, usually `batch(scenario, iters)` with the
//! scenario's two sides in `Side::run`).
//!
//! Throughput scenarios report items per second (the consumer times each batch).
//! `crossbeam/*` runs crossbeam's `ArrayQueue` between two threads of one process, for scale.
//! `mutex/blocked-cpu` reports the CPU time a process blocked in `Mutex::lock` for 500 ms
//! burns (it must sleep in the kernel, not spin).
//!
//! The parent re-runs this binary as the child (`ZEROIPC_BENCH_ROLE`), so both sides are the
//! same code.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crossbeam_queue::ArrayQueue;
use zeroipc::codata::channel::Channel;
use zeroipc::codata::future::Future;
use zeroipc::codata::stream::Stream;
use zeroipc::structures::{Array, Queue, Ring};
use zeroipc::sync::{Mutex, Semaphore};
use zeroipc::{Segment, SegmentOptions};
use zeroipc_bench::pin;
use zeroipc_bench::stats::{self, Compare, Floor, Summary};

#[path = "pingpong/broadcast.rs"]
mod broadcast;

const ROLE_ENV: &str = "ZEROIPC_BENCH_ROLE";
const NAME_ENV: &str = "ZEROIPC_BENCH_SEGMENT";
const ITERS_ENV: &str = "ZEROIPC_BENCH_ITERS";
/// Two words 128 bytes apart (different cache lines, and different adjacent-line pairs).
const PING: usize = 0;
const PONG: usize = 16;
/// Items per `write`/`read` call in the batched Ring scenario.
const BATCH: usize = 64;
/// Slots of the queues and rings in throughput scenarios.
const CAPACITY: u32 = 4096;
/// The child's "I am running" word (its own cache line).
const READY: usize = 24;

#[derive(Clone, Copy)]
struct Config {
    iters: u64,
    batches: usize,
    json: bool,
}

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    /// Nanoseconds per round trip (lower is better).
    RoundTrip,
    /// Items per second (higher is better).
    Throughput,
    /// Nanoseconds from a release to the sleeping waiter running again (lower is better).
    WakeLatency,
}

struct Row {
    scenario: &'static str,
    unit: Unit,
    floor: Floor,
    summary: Summary,
}

/// The CPU every child pins itself to (set once by the parent; unset: not pinned).
static CHILD_CPU: OnceLock<usize> = OnceLock::new();

fn main() {
    if let Ok(role) = std::env::var(ROLE_ENV) {
        let name = std::env::var(NAME_ENV).expect("segment name");
        let iters: u64 = std::env::var(ITERS_ENV)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        child(&role, &name, iters);
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let json = args.iter().any(|a| a == "--json");
    // `--only a,b`: measure only the rows whose scenario contains one of these words.
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|v| v.split(',').map(str::to_owned).collect())
        .unwrap_or_default();
    // `cargo bench` passes --bench; `cargo test --benches` runs us without it: a smoke run.
    let full = args.iter().any(|a| a == "--bench") && !quick;
    let cfg = if full {
        Config {
            iters: 20_000,
            batches: 21,
            json,
        }
    } else if quick || json {
        Config {
            iters: 2_000,
            batches: 7,
            json,
        }
    } else {
        Config {
            iters: 200,
            batches: 3,
            json,
        }
    };
    // The parent on the first allowed CPU, every child on the second (zeroipc_bench::pin).
    if let Some((mine, theirs)) = pin::pair() {
        if pin::pin_to(mine).is_ok() {
            let _ = CHILD_CPU.set(theirs);
        }
    }
    let wake_cfg = Config {
        iters: (cfg.iters / 20).max(50),
        ..cfg
    };
    let one = |c: &Config| Config { batches: 1, ..*c };
    let mut rows = Vec::new();
    // Every row below is measured as interleaved (floor batch, subject batch) pairs, each batch
    // against a fresh pinned child (`batch`); its ratio is the median of the per-pair ratios.
    let mut row = |scenario: &'static str,
                   unit: Unit,
                   floor: Floor,
                   c: &Config,
                   subject: &dyn Fn() -> f64| {
        if !only.is_empty() && !only.iter().any(|w| scenario.contains(w.as_str())) {
            return;
        }
        let (floor_scenario, floor_iters) = match floor {
            Floor::Spin => ("floor/spin", cfg.iters),
            Floor::FutexWake => ("floor/futex-wake", wake_cfg.iters),
        };
        let compare = if unit == Unit::Throughput {
            Compare::Throughput
        } else {
            Compare::Time
        };
        let summary = stats::interleave::<()>(
            c.batches,
            floor,
            compare,
            || Ok(batch(floor_scenario, floor_iters)),
            || Ok(subject()),
        )
        .expect("batches do not fail");
        rows.push(Row {
            scenario,
            unit,
            floor,
            summary,
        });
    };
    for scenario in ["floor/spin", "queue/rtt", "channel/rtt"] {
        row(scenario, Unit::RoundTrip, Floor::Spin, &cfg, &|| {
            batch(scenario, cfg.iters)
        });
    }
    row("crossbeam/rtt", Unit::RoundTrip, Floor::Spin, &cfg, &|| {
        crossbeam_rtt(&one(&cfg))
    });
    for scenario in [
        "floor/futex-wake",
        "floor/futex",
        "semaphore/wake",
        "mutex/wake",
        "channel/wake",
        "stream/wake",
    ] {
        let unit = if scenario == "floor/futex" {
            Unit::RoundTrip
        } else {
            Unit::WakeLatency
        };
        row(scenario, unit, Floor::FutexWake, &wake_cfg, &|| {
            batch(scenario, wake_cfg.iters)
        });
    }
    // A Future is set once: each round uses a fresh one, so these runs are shorter.
    let future_cfg = Config {
        iters: wake_cfg.iters.min(100),
        batches: 1,
        ..cfg
    };
    for scenario in ["future/wake", "future/await"] {
        row(
            scenario,
            Unit::WakeLatency,
            Floor::FutexWake,
            &wake_cfg,
            &|| future_pair(scenario, &future_cfg),
        );
    }
    let thr = Config {
        iters: cfg.iters * 50,
        ..cfg
    };
    for scenario in [
        "queue/throughput",
        "ring/throughput",
        "ring/throughput-batch64",
        "stream/throughput",
        "stream/throughput-locked",
        "stream/throughput-batch64",
    ] {
        row(scenario, Unit::Throughput, Floor::Spin, &thr, &|| {
            batch(scenario, thr.iters)
        });
    }
    row(
        "crossbeam/throughput",
        Unit::Throughput,
        Floor::Spin,
        &thr,
        &|| crossbeam_throughput(&one(&thr)),
    );
    // Broadcast: every subscriber process sees every value (flow-controlled emitter, batched
    // reads); the 4-subscriber row's rate is per subscriber.
    for (scenario, subs) in [("stream/broadcast-1", 1), ("stream/broadcast-4", 4)] {
        row(scenario, Unit::Throughput, Floor::Spin, &thr, &|| {
            broadcast::run(subs, thr.iters)
        });
    }
    let blocked = blocked_cpu_percent();
    report(&rows, blocked, &cfg);
}

/// A fresh segment holding every structure the scenarios use.
fn setup(name: &str) -> Segment {
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .create_or_replace(name)
        .expect("create segment");
    Array::<u64>::create(&seg, "words", 32).expect("array");
    Queue::<u64>::create(&seg, "a2b", CAPACITY as usize).expect("queue");
    Queue::<u64>::create(&seg, "b2a", CAPACITY as usize).expect("queue");
    Ring::<u64>::create(&seg, "ring", CAPACITY as usize).expect("ring");
    Semaphore::create(&seg, "s1", 0, 0).expect("semaphore");
    Semaphore::create(&seg, "s2", 0, 0).expect("semaphore");
    Mutex::create(&seg, "mutex").expect("mutex");
    Channel::<u64>::create(&seg, "c_a2b", 64).expect("channel");
    Channel::<u64>::create(&seg, "c_b2a", 64).expect("channel");
    Stream::<u64>::create(&seg, "stream", CAPACITY as usize).expect("stream");
    seg
}

/// One batch of `scenario` between this process (initiator / consumer) and a fresh child on
/// a fresh segment; returns nanoseconds per round trip (or per item, or the median wake-up).
/// The clock starts once the child has said it is running (`READY`).
fn batch(scenario: &str, iters: u64) -> f64 {
    let name = format!(
        "/zeroipc-bench-{}-{}",
        std::process::id(),
        scenario.replace('/', "-")
    );
    let seg = setup(&name);
    let mut kid = spawn(scenario, &name, iters);
    let mut side = Side::new(&seg);
    let mut spins = 0u32;
    // ORDERING: Acquire pairs with the child's Release store of READY.
    while word(&side.words, READY).load(Ordering::Acquire) != 1 {
        spins = spins.wrapping_add(1);
        if spins % 1024 == 0 {
            if let Ok(Some(status)) = kid.try_wait() {
                panic!("{scenario} child exited before it was ready: {status}");
            }
            std::thread::yield_now();
        }
        std::hint::spin_loop();
    }
    let t0 = Instant::now();
    let latencies = side.run(scenario, iters, true);
    #[allow(clippy::cast_precision_loss)]
    let v = match latencies {
        Some(mut l) => median(&mut l),
        None => t0.elapsed().as_nanos() as f64 / iters as f64,
    };
    let status = kid.wait().expect("wait child");
    assert!(status.success(), "{scenario} child failed");
    let _ = Segment::unlink(&name);
    v
}

fn spawn(role: &str, name: &str, iters: u64) -> Child {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    if let Some(cpu) = CHILD_CPU.get() {
        cmd.env(pin::CPU_ENV, cpu.to_string());
    }
    cmd.env(ROLE_ENV, role)
        .env(NAME_ENV, name)
        .env(ITERS_ENV, iters.to_string())
        .spawn()
        .expect("spawn child")
}

fn child(role: &str, name: &str, iters: u64) {
    pin::pin_child_from_env();
    let seg = Segment::open_timeout(name, Duration::from_secs(10)).expect("open");
    if role == "mutex/blocked-cpu" {
        return blocked_child(&seg);
    }
    if role == broadcast::SUBSCRIBER {
        return broadcast::subscriber(&seg, iters);
    }
    if role.starts_with("future/") {
        let _ = future_side(&seg, role, iters, false);
        return;
    }
    let mut side = Side::new(&seg);
    // ORDERING: Release publishes "opened and running" to the parent's Acquire wait.
    word(&side.words, READY).store(1, Ordering::Release);
    let _ = side.run(role, iters, false);
}

/// One process's handles on the scenario structures.
struct Side {
    words: Array<u64>,
    a2b: Queue<u64>,
    b2a: Queue<u64>,
    ring: Ring<u64>,
    s1: Semaphore,
    s2: Semaphore,
    m1: Mutex,
    c_a2b: Channel<u64>,
    c_b2a: Channel<u64>,
    stream: Stream<u64>,
    /// Items already produced/consumed, so successive batches continue the sequence.
    done: u64,
}

impl Side {
    fn new(seg: &Segment) -> Self {
        Self {
            words: Array::open(seg, "words").expect("array"),
            a2b: Queue::open(seg, "a2b").expect("queue"),
            b2a: Queue::open(seg, "b2a").expect("queue"),
            ring: Ring::open(seg, "ring").expect("ring"),
            s1: Semaphore::open(seg, "s1").expect("semaphore"),
            s2: Semaphore::open(seg, "s2").expect("semaphore"),
            m1: Mutex::open(seg, "mutex").expect("mutex"),
            c_a2b: Channel::open(seg, "c_a2b").expect("channel"),
            c_b2a: Channel::open(seg, "c_b2a").expect("channel"),
            stream: Stream::open(seg, "stream").expect("stream"),
            done: 0,
        }
    }

    /// `initiator` is the parent (it times); the child is the responder / producer. Wake
    /// scenarios return the one-way wake latencies the responder measured.
    fn run(&mut self, scenario: &str, iters: u64, initiator: bool) -> Option<Vec<f64>> {
        if let Some(l) = self.run_wake(scenario, iters, initiator) {
            return l;
        }
        match scenario {
            "floor/spin" => spin_side(&self.words, iters, initiator),
            "floor/futex" => futex_side(&self.words, iters, initiator),
            "queue/rtt" => {
                let (tx, rx) = if initiator {
                    (&self.a2b, &self.b2a)
                } else {
                    (&self.b2a, &self.a2b)
                };
                for i in 0..iters {
                    if initiator {
                        push_spin(tx, i);
                        assert_eq!(pop_spin(rx), i);
                    } else {
                        let v = pop_spin(rx);
                        push_spin(tx, v);
                    }
                }
            }
            "semaphore/wake" => {
                for _ in 0..iters {
                    if initiator {
                        self.s1.release().expect("release");
                        self.s2.acquire().expect("acquire");
                    } else {
                        self.s1.acquire().expect("acquire");
                        self.s2.release().expect("release");
                    }
                }
            }
            "channel/rtt" => {
                let (tx, rx) = if initiator {
                    (&self.c_a2b, &self.c_b2a)
                } else {
                    (&self.c_b2a, &self.c_a2b)
                };
                for i in 0..iters {
                    if initiator {
                        spin_send(tx, i);
                        assert_eq!(spin_recv(rx), i);
                    } else {
                        let v = spin_recv(rx);
                        spin_send(tx, v);
                    }
                }
            }
            // One value per call: through a claimed `Emitter` (the one-emitter form, no lock
            // per emit), or `Stream::try_emit` (the emit lock taken per value).
            "stream/throughput" | "stream/throughput-locked" => {
                let claimed = scenario == "stream/throughput";
                let tx = (claimed && !initiator).then(|| self.stream.emitter().expect("claim"));
                for i in self.done..self.done + iters {
                    if initiator {
                        let v = loop {
                            if let Ok(v) = self.stream.try_next() {
                                break v;
                            }
                            std::hint::spin_loop();
                        };
                        assert_eq!(v, i);
                    } else {
                        let mut v = i;
                        loop {
                            let r = match &tx {
                                Some(tx) => tx.try_emit(v),
                                None => self.stream.try_emit(v),
                            };
                            match r {
                                Ok(()) => break,
                                Err(e) => v = e.into_inner(),
                            }
                            std::hint::spin_loop();
                        }
                    }
                }
                self.done += iters;
            }
            "queue/throughput" => {
                for i in self.done..self.done + iters {
                    if initiator {
                        assert_eq!(pop_spin(&self.a2b), i);
                    } else {
                        push_spin(&self.a2b, i);
                    }
                }
                self.done += iters;
            }
            "ring/throughput" => {
                if initiator {
                    let mut rx = self.ring.consumer().expect("consumer");
                    for i in self.done..self.done + iters {
                        loop {
                            match rx.try_pop() {
                                Ok(v) => {
                                    assert_eq!(v, i);
                                    break;
                                }
                                Err(zeroipc::structures::ring::TryPopError::Empty) => {
                                    std::hint::spin_loop();
                                }
                                Err(e) => panic!("ring: {e}"),
                            }
                        }
                    }
                } else {
                    let mut tx = self.ring.producer().expect("producer");
                    for i in self.done..self.done + iters {
                        while tx.try_push(i).is_err() {
                            std::hint::spin_loop();
                        }
                    }
                }
                self.done += iters;
            }
            "stream/throughput-batch64" => {
                let mut buf = [0u64; BATCH];
                let end = self.done + iters;
                let mut next = self.done;
                while next < end {
                    let want = usize::try_from((end - next).min(BATCH as u64)).unwrap_or(BATCH);
                    if initiator {
                        match self.stream.try_next_many(&mut buf[..want]) {
                            Ok(n) => {
                                for &v in &buf[..n] {
                                    assert_eq!(v, next);
                                    next += 1;
                                }
                            }
                            Err(zeroipc::codata::stream::TryNextError::Empty) => {
                                std::hint::spin_loop();
                            }
                            Err(e) => panic!("stream: {e}"),
                        }
                    } else {
                        for (k, slot) in buf[..want].iter_mut().enumerate() {
                            *slot = next + k as u64;
                        }
                        let n = self.stream.try_emit_many(&buf[..want]).expect("stream");
                        next += n as u64;
                        if n == 0 {
                            std::hint::spin_loop();
                        }
                    }
                }
                self.done = end;
            }
            "ring/throughput-batch64" => {
                let mut buf = [0u64; BATCH];
                let end = self.done + iters;
                let mut next = self.done;
                if initiator {
                    let mut rx = self.ring.consumer().expect("consumer");
                    while next < end {
                        let want = usize::try_from((end - next).min(BATCH as u64)).unwrap_or(BATCH);
                        let n = rx.read(&mut buf[..want]).expect("ring");
                        for &v in &buf[..n] {
                            assert_eq!(v, next);
                            next += 1;
                        }
                        if n == 0 {
                            std::hint::spin_loop();
                        }
                    }
                } else {
                    let mut tx = self.ring.producer().expect("producer");
                    while next < end {
                        let want = usize::try_from((end - next).min(BATCH as u64)).unwrap_or(BATCH);
                        for (k, slot) in buf[..want].iter_mut().enumerate() {
                            *slot = next + k as u64;
                        }
                        let n = tx.write(&buf[..want]).expect("ring");
                        next += n as u64;
                        if n == 0 {
                            std::hint::spin_loop();
                        }
                    }
                }
                self.done = end;
            }
            other => panic!("unknown scenario {other}"),
        }
        None
    }

    /// One-way wake latency: the responder blocks (futex, semaphore or mutex) and is surely
    /// asleep when the initiator, after a 200 µs pause, stamps CLOCK_MONOTONIC into the
    /// segment and releases; the responder stamps again when it runs. The two then swap
    /// back through a second word or semaphore (or a flag word for the mutex).
    /// `Some(None)` for the responder, `Some(Some(latencies))` for the initiator, `None` if
    /// `scenario` is not a wake scenario.
    #[allow(clippy::option_option)]
    fn run_wake(
        &mut self,
        scenario: &str,
        iters: u64,
        initiator: bool,
    ) -> Option<Option<Vec<f64>>> {
        let stamp_at = word(&self.words, 4);
        let latency_at = word(&self.words, 6);
        let mut out = Vec::new();
        let pause = || {
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
        };
        match scenario {
            "floor/futex-wake" => {
                use rustix::thread::futex;
                let (ping, pong) = (futex_word(&self.words, PING), futex_word(&self.words, PONG));
                let wait = |w: &AtomicU32, until: u32| loop {
                    let cur = w.load(Ordering::Acquire);
                    if cur == until {
                        return;
                    }
                    let _ = futex::wait(w, futex::Flags::empty(), cur, None);
                };
                #[allow(clippy::cast_possible_truncation)]
                for i in 1..=iters as u32 {
                    let round = self.done as u32 + i;
                    if initiator {
                        pause();
                        stamp_at.store(now_ns(), Ordering::Release);
                        ping.store(round, Ordering::Release);
                        let _ = futex::wake(ping, futex::Flags::empty(), 1);
                        wait(pong, round);
                        #[allow(clippy::cast_precision_loss)]
                        out.push(latency_at.load(Ordering::Acquire) as f64);
                    } else {
                        wait(ping, round);
                        latency_at.store(
                            now_ns() - stamp_at.load(Ordering::Acquire),
                            Ordering::Release,
                        );
                        pong.store(round, Ordering::Release);
                        let _ = futex::wake(pong, futex::Flags::empty(), 1);
                    }
                }
                self.done += iters;
            }
            "channel/wake" => {
                for _ in 0..iters {
                    if initiator {
                        pause();
                        stamp_at.store(now_ns(), Ordering::Release);
                        self.c_a2b.send(1).expect("send");
                        self.c_b2a.recv().expect("recv");
                        #[allow(clippy::cast_precision_loss)]
                        out.push(latency_at.load(Ordering::Acquire) as f64);
                    } else {
                        self.c_a2b.recv().expect("recv");
                        latency_at.store(
                            now_ns() - stamp_at.load(Ordering::Acquire),
                            Ordering::Release,
                        );
                        self.c_b2a.send(1).expect("send");
                    }
                }
            }
            "stream/wake" => {
                let far = Duration::from_secs(60);
                for i in 0..iters {
                    if initiator {
                        pause();
                        stamp_at.store(now_ns(), Ordering::Release);
                        self.stream.emit(self.done + i).expect("emit");
                        self.c_b2a.recv().expect("recv");
                        #[allow(clippy::cast_precision_loss)]
                        out.push(latency_at.load(Ordering::Acquire) as f64);
                    } else {
                        assert_eq!(self.stream.next_timeout(far).expect("next"), self.done + i);
                        latency_at.store(
                            now_ns() - stamp_at.load(Ordering::Acquire),
                            Ordering::Release,
                        );
                        self.c_b2a.send(1).expect("send");
                    }
                }
                self.done += iters;
            }
            "semaphore/wake" => {
                for _ in 0..iters {
                    if initiator {
                        pause();
                        stamp_at.store(now_ns(), Ordering::Release);
                        self.s1.release().expect("release");
                        self.s2.acquire().expect("acquire");
                        #[allow(clippy::cast_precision_loss)]
                        out.push(latency_at.load(Ordering::Acquire) as f64);
                    } else {
                        self.s1.acquire().expect("acquire");
                        latency_at.store(
                            now_ns() - stamp_at.load(Ordering::Acquire),
                            Ordering::Release,
                        );
                        self.s2.release().expect("release");
                    }
                }
            }
            "mutex/wake" => {
                // The initiator holds m1; the responder announces it is about to block on it
                // (word 8) and reports the latency through word 10.
                for _ in 0..iters {
                    if initiator {
                        let g = self.m1.lock().expect("lock");
                        let ready = word(&self.words, 8);
                        // Wait for the responder to be about to block on m1.
                        while ready.load(Ordering::Acquire) == 0 {
                            std::hint::spin_loop();
                        }
                        ready.store(0, Ordering::Relaxed);
                        pause();
                        stamp_at.store(now_ns(), Ordering::Release);
                        drop(g);
                        let done = word(&self.words, 10);
                        while done.load(Ordering::Acquire) == 0 {
                            std::hint::spin_loop();
                        }
                        done.store(0, Ordering::Relaxed);
                        #[allow(clippy::cast_precision_loss)]
                        out.push(latency_at.load(Ordering::Acquire) as f64);
                    } else {
                        let ready = word(&self.words, 8);
                        // Make sure the initiator holds m1 before we announce we block.
                        while !self.m1.is_locked().expect("mutex") {
                            std::hint::spin_loop();
                        }
                        ready.store(1, Ordering::Release);
                        let g = self.m1.lock().expect("lock");
                        latency_at.store(
                            now_ns() - stamp_at.load(Ordering::Acquire),
                            Ordering::Release,
                        );
                        drop(g);
                        word(&self.words, 10).store(1, Ordering::Release);
                    }
                }
            }
            _ => return None,
        }
        Some(if initiator { Some(out) } else { None })
    }
}

/// CLOCK_MONOTONIC in nanoseconds: one clock for every process on the machine.
fn now_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

fn push_spin(q: &Queue<u64>, mut v: u64) {
    loop {
        match q.try_push(v) {
            Ok(()) => return,
            Err(e) => v = e.into_inner(),
        }
        std::hint::spin_loop();
    }
}

/// Channel send/recv while both sides stay busy (no sleeping).
fn spin_send(c: &Channel<u64>, mut v: u64) {
    loop {
        match c.try_send(v) {
            Ok(()) => return,
            Err(e) => v = e.into_inner(),
        }
        std::hint::spin_loop();
    }
}

fn spin_recv(c: &Channel<u64>) -> u64 {
    loop {
        if let Ok(v) = c.try_recv() {
            return v;
        }
        std::hint::spin_loop();
    }
}

fn pop_spin(q: &Queue<u64>) -> u64 {
    loop {
        if let Ok(v) = q.try_pop() {
            return v;
        }
        std::hint::spin_loop();
    }
}

fn word(words: &Array<u64>, i: usize) -> &AtomicU64 {
    words.atomic(i).expect("index in range")
}

/// Bare cache-line ping-pong: the initiator bumps PING, the responder copies it to PONG.
fn spin_side(words: &Array<u64>, iters: u64, initiator: bool) {
    let (ping, pong) = (word(words, PING), word(words, PONG));
    if initiator {
        let base = ping.load(Ordering::Relaxed);
        for i in 1..=iters {
            ping.store(base + i, Ordering::Release);
            while pong.load(Ordering::Acquire) != base + i {
                std::hint::spin_loop();
            }
        }
    } else {
        for i in 1..=iters {
            while ping.load(Ordering::Acquire) < i {
                std::hint::spin_loop();
            }
            pong.store(i, Ordering::Release);
        }
    }
}

/// The low half of a u64 element, viewed as the 32-bit futex word (little-endian).
fn futex_word(words: &Array<u64>, i: usize) -> &AtomicU32 {
    let w = word(words, i);
    // SAFETY: an AtomicU64 is 8-aligned and 8 bytes; its first 4 bytes are a valid, aligned
    // AtomicU32 for as long as the Array (and so the mapping) lives. Only this benchmark
    // accesses these words, always as AtomicU32 in the futex scenario.
    unsafe { &*std::ptr::from_ref(w).cast::<AtomicU32>() }
}

/// Bare shared-futex ping-pong: each side sleeps in FUTEX_WAIT until woken.
fn futex_side(words: &Array<u64>, iters: u64, initiator: bool) {
    use rustix::thread::futex;
    let (ping, pong) = (futex_word(words, PING), futex_word(words, PONG));
    let wait = |w: &AtomicU32, until: u32| loop {
        let cur = w.load(Ordering::Acquire);
        if cur == until {
            return;
        }
        let _ = futex::wait(w, futex::Flags::empty(), cur, None);
    };
    #[allow(clippy::cast_possible_truncation)] // wrapping round counters
    if initiator {
        let base = ping.load(Ordering::Relaxed);
        for i in 1..=iters as u32 {
            ping.store(base.wrapping_add(i), Ordering::Release);
            let _ = futex::wake(ping, futex::Flags::empty(), 1);
            wait(pong, base.wrapping_add(i));
        }
    } else {
        for i in 1..=iters as u32 {
            wait(ping, i);
            pong.store(i, Ordering::Release);
            let _ = futex::wake(pong, futex::Flags::empty(), 1);
        }
    }
}

/// crossbeam's ArrayQueue round trip between two threads (for scale).
fn crossbeam_rtt(cfg: &Config) -> f64 {
    let a2b = Arc::new(ArrayQueue::<u64>::new(CAPACITY as usize));
    let b2a = Arc::new(ArrayQueue::<u64>::new(CAPACITY as usize));
    let total = cfg.iters * cfg.batches as u64;
    let (rx, tx) = (a2b.clone(), b2a.clone());
    let started = Arc::new(AtomicBool::new(false));
    let started2 = started.clone();
    let t = std::thread::spawn(move || {
        pin_helper_thread(&started2);
        for _ in 0..total {
            let v = loop {
                if let Some(v) = rx.pop() {
                    break v;
                }
                std::hint::spin_loop();
            };
            while tx.push(v).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    wait_started(&started);
    let mut per = Vec::new();
    for b in 0..cfg.batches as u64 {
        let t0 = Instant::now();
        for i in 0..cfg.iters {
            let v = b * cfg.iters + i;
            while a2b.push(v).is_err() {
                std::hint::spin_loop();
            }
            loop {
                if let Some(got) = b2a.pop() {
                    assert_eq!(got, v);
                    break;
                }
                std::hint::spin_loop();
            }
        }
        #[allow(clippy::cast_precision_loss)]
        per.push(t0.elapsed().as_nanos() as f64 / cfg.iters as f64);
    }
    t.join().expect("responder");
    median(&mut per)
}

/// Moves a helper thread of this (pinned) process to the children's CPU, so crossbeam's two
/// threads run on two CPUs as the zeroipc rows' two processes do.
fn pin_helper_thread(started: &AtomicBool) {
    if let Some(&cpu) = CHILD_CPU.get() {
        let _ = pin::pin_to(cpu);
    }
    // ORDERING: Release pairs with `wait_started`'s Acquire (the thread is running on its
    // CPU before the clock starts).
    started.store(true, Ordering::Release);
}

/// Spins until the helper thread has said it is running (`pin_helper_thread`).
fn wait_started(started: &AtomicBool) {
    // ORDERING: Acquire pairs with the helper's Release store.
    while !started.load(Ordering::Acquire) {
        std::hint::spin_loop();
    }
}

/// crossbeam's ArrayQueue throughput between two threads (ns per item).
fn crossbeam_throughput(cfg: &Config) -> f64 {
    let q = Arc::new(ArrayQueue::<u64>::new(CAPACITY as usize));
    let total = cfg.iters * cfg.batches as u64;
    let tx = q.clone();
    let started = Arc::new(AtomicBool::new(false));
    let started2 = started.clone();
    let t = std::thread::spawn(move || {
        pin_helper_thread(&started2);
        for i in 0..total {
            while tx.push(i).is_err() {
                std::hint::spin_loop();
            }
        }
    });
    wait_started(&started);
    let mut per = Vec::new();
    let mut next = 0;
    for _ in 0..cfg.batches {
        let t0 = Instant::now();
        for _ in 0..cfg.iters {
            loop {
                if let Some(v) = q.pop() {
                    assert_eq!(v, next);
                    next += 1;
                    break;
                }
                std::hint::spin_loop();
            }
        }
        #[allow(clippy::cast_precision_loss)]
        per.push(t0.elapsed().as_nanos() as f64 / cfg.iters as f64);
    }
    t.join().expect("producer");
    median(&mut per)
}

/// The parent holds the mutex for 500 ms while the child blocks in `lock`; the child reports
/// the CPU time it used while blocked, as a percentage of the wall time.
fn blocked_cpu_percent() -> f64 {
    let name = format!("/zeroipc-bench-{}-blocked", std::process::id());
    let seg = setup(&name);
    let mutex = Mutex::open(&seg, "mutex").expect("mutex");
    let words: Array<u64> = Array::open(&seg, "words").expect("array");
    let guard = mutex.lock().expect("lock");
    let mut kid = spawn("mutex/blocked-cpu", &name, 0);
    // Wait until the child is about to block (it sets words[1]).
    let t0 = Instant::now();
    while words.get(1) != Some(1) && t0.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(1));
    }
    std::thread::sleep(Duration::from_millis(500));
    drop(guard);
    assert!(
        kid.wait().expect("wait").success(),
        "blocked-cpu child failed"
    );
    let (cpu, wall) = (words.get(2).unwrap_or(0), words.get(3).unwrap_or(1));
    let _ = Segment::unlink(&name);
    #[allow(clippy::cast_precision_loss)]
    let pct = 100.0 * cpu as f64 / wall.max(1) as f64;
    pct
}

fn blocked_child(seg: &Segment) {
    use rustix::time::{ClockId, clock_gettime};
    let mutex = Mutex::open(seg, "mutex").expect("mutex");
    let words: Array<u64> = Array::open(seg, "words").expect("array");
    let cpu = || {
        let t = clock_gettime(ClockId::ProcessCPUTime);
        u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
    };
    words.set(1, 1).expect("set");
    let (c0, t0) = (cpu(), Instant::now());
    let guard = mutex.lock().expect("lock");
    let (c1, wall) = (cpu(), t0.elapsed());
    drop(guard);
    words.set(2, c1 - c0).expect("set");
    words
        .set(3, u64::try_from(wall.as_nanos()).unwrap_or(u64::MAX))
        .expect("set");
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn floor_name(f: Floor) -> &'static str {
    match f {
        Floor::Spin => "floor/spin",
        Floor::FutexWake => "floor/futex-wake",
    }
}

fn report(rows: &[Row], blocked_cpu: f64, cfg: &Config) {
    let value = |r: &Row| match r.unit {
        Unit::Throughput => 1e9 / r.summary.subject_ns,
        _ => r.summary.subject_ns,
    };
    if cfg.json {
        let mut out: Vec<String> = rows
            .iter()
            .map(|r| {
                let unit = match r.unit {
                    Unit::RoundTrip => "ns_per_round_trip",
                    Unit::Throughput => "items_per_second",
                    Unit::WakeLatency => "ns_wake_latency",
                };
                let num = |x: Option<f64>| x.map_or("null".to_owned(), |x| format!("{x:.3}"));
                format!(
                    "{{\"scenario\":\"{}\",\"{unit}\":{:.1},\"floor\":\"{}\",\"floor_ns\":{:.1},\"ratio_to_floor\":{},\"ratio_min\":{},\"ratio_max\":{},\"pairs\":{},\"pairs_kept\":{},\"valid\":{}}}",
                    r.scenario,
                    value(r),
                    floor_name(r.floor),
                    r.summary.floor_ns,
                    num(r.summary.ratio),
                    num(r.summary.spread.map(|s| s.0)),
                    num(r.summary.spread.map(|s| s.1)),
                    r.summary.pairs,
                    r.summary.kept,
                    r.summary.valid(),
                )
            })
            .collect();
        out.push(format!(
            "{{\"scenario\":\"mutex/blocked-cpu\",\"cpu_percent\":{blocked_cpu:.2}}}"
        ));
        println!("[{}]", out.join(","));
        return;
    }
    println!(
        "{:<26} {:>14} {:>9}  {:<18} floor",
        "scenario", "value", "ratio", "spread"
    );
    for r in rows {
        let v = match r.unit {
            Unit::Throughput => format!("{:.1} M/s", value(r) / 1e6),
            _ => format!("{:.0} ns", value(r)),
        };
        let (ratio, spread) = match (r.summary.ratio, r.summary.spread) {
            (Some(x), Some((lo, hi))) => (format!("{x:.2}x"), format!("{lo:.2}..{hi:.2}x")),
            _ => ("invalid".to_owned(), "(floor implausible)".to_owned()),
        };
        let floor = match (r.unit, r.floor) {
            (Unit::Throughput, _) => "spin (items per floor RTT)",
            (_, f) => floor_name(f),
        };
        println!(
            "{:<26} {v:>14} {ratio:>9}  {spread:<18} {floor}",
            r.scenario
        );
    }
    println!("{:<26} {:>12.2} %", "mutex/blocked-cpu", blocked_cpu);
    println!(
        "(median of {} interleaved floor/subject pairs per row, {} round trips a batch, throughput batches of {} items; {})",
        cfg.batches,
        cfg.iters,
        cfg.iters * 50,
        if CHILD_CPU.get().is_some() {
            "the two processes on different CPUs"
        } else {
            "not pinned: fewer than two CPUs"
        }
    );
}

/// `future/wake` and `future/await`: one-way wake latency of a Future waiter in another
/// process — blocked in `get`, or awaiting `get_async` under a minimal thread-parking
/// executor (woken through the process's reactor thread) — from the setter's stamp right
/// before `set_value` to the waiter running. One fresh Future per round (set once).
fn future_pair(scenario: &str, cfg: &Config) -> f64 {
    let name = format!(
        "/zeroipc-bench-{}-{}",
        std::process::id(),
        scenario.replace('/', "-")
    );
    let rounds = cfg.iters * cfg.batches as u64;
    let seg = SegmentOptions::new()
        .size(16 << 20)
        .max_entries(u32::try_from(rounds).expect("rounds fit") + 8)
        // No catalog: opening thousands of futures by name is not what is measured.
        .catalog(false)
        .create_or_replace(&name)
        .expect("create segment");
    Array::<u64>::create(&seg, "words", 32).expect("array");
    for i in 0..rounds {
        Future::<u64>::create(&seg, &format!("f{i}")).expect("future");
    }
    let mut kid = spawn(scenario, &name, rounds);
    let mut l = future_side(&seg, scenario, rounds, true).expect("latencies");
    let status = kid.wait().expect("wait child");
    assert!(status.success(), "{scenario} child failed");
    let _ = Segment::unlink(&name);
    // Median of the per-batch medians, as the other scenarios.
    let per_batch = usize::try_from(cfg.iters).expect("iters fit");
    let mut per: Vec<f64> = l.chunks_mut(per_batch).map(median).collect();
    median(&mut per)
}

/// One side of [`future_pair`]: the initiator sets future `i` once the responder waits on it
/// (counted in `waiters`) and has had 200 µs to fall asleep; the responder reports its wake
/// latency through word 6 and acknowledges round `i` in word 12.
fn future_side(seg: &Segment, scenario: &str, rounds: u64, initiator: bool) -> Option<Vec<f64>> {
    let words: Array<u64> = Array::open(seg, "words").expect("array");
    let (stamp_at, latency_at, ack) = (word(&words, 4), word(&words, 6), word(&words, 12));
    let mut out = Vec::new();
    for i in 0..rounds {
        let f: Future<u64> = Future::open(seg, &format!("f{i}")).expect("future");
        if initiator {
            while f.waiters().expect("future") == 0 {
                std::hint::spin_loop();
            }
            let t = Instant::now();
            while t.elapsed() < Duration::from_micros(200) {
                std::hint::spin_loop();
            }
            stamp_at.store(now_ns(), Ordering::Release);
            f.set_value(i).expect("set");
            while ack.load(Ordering::Acquire) != i + 1 {
                std::hint::spin_loop();
            }
            #[allow(clippy::cast_precision_loss)]
            out.push(latency_at.load(Ordering::Acquire) as f64);
        } else {
            let v = if scenario == "future/await" {
                block_on(f.get_async())
            } else {
                f.get()
            };
            assert_eq!(v.expect("get"), i);
            latency_at.store(
                now_ns() - stamp_at.load(Ordering::Acquire),
                Ordering::Release,
            );
            ack.store(i + 1, Ordering::Release);
        }
    }
    initiator.then_some(out)
}

/// The smallest executor: poll, park the thread until the waker unparks it.
fn block_on<F: std::future::Future>(fut: F) -> F::Output {
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

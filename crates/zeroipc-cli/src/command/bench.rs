//! `zeroipc bench`: measures this machine between two real processes (this binary re-run as
//! the child with `--role`) on a fresh segment `/zeroipc-bench-<pid>`, removed at the end
//! (also on error).
//!
//! Every row is measured as interleaved pairs (a floor batch, then a subject batch, again and
//! again; `zeroipc_bench::stats`), each batch between this process and a fresh child pinned
//! to another CPU (`zeroipc_bench::pin`) that has said it is running before the clock starts.
//! A row reports the median of its per-pair ratios and their spread; pairs whose floor is
//! implausible (the two sides sharing a CPU) are dropped, and a row left with fewer than
//! half its pairs is re-measured once, then reported invalid, never as a 0.00x or a 35,000x
//! ratio. Floors: `floor/spin` (a bare cache-line ping-pong) for spinning round trips and
//! throughput, `floor/futex-wake` (a bare shared-futex hand-off) for blocking hand-offs.
//!
//! Every wait is bounded: a child that fails makes the parent report an error, never hang.

use std::io::{IsTerminal, Write};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rustix::thread::futex::{self, Flags, Timespec};
use zeroipc::structures::{Array, Queue, Ring};
use zeroipc::sync::Semaphore;
use zeroipc::{Segment, SegmentOptions};
use zeroipc_bench::pin;
use zeroipc_bench::stats::{self, Compare, Floor, Summary};

use super::CliError;

/// How long any single wait may take before the run is reported stuck.
const PATIENCE: Duration = Duration::from_secs(20);
/// Slots of the queues and the ring.
const CAPACITY: u32 = 4096;
/// Items per `write`/`read` call in the batched Ring scenario.
const BATCH: usize = 64;
/// Word indices (u64) on different cache lines.
const PING: usize = 0;
const PONG: usize = 16;
/// The child's "I am running" word (u64 index, its own cache line).
const READY: usize = 48;
/// u32 futex words, on different cache lines.
const FPING: usize = 0;
const FPONG: usize = 32;

/// The rows measured against a floor, in order: (name, unit, floor, how they compare).
const SUBJECTS: [(&str, &str, Floor, Compare); 4] = [
    ("queue/rtt", "ns_per_round_trip", Floor::Spin, Compare::Time),
    (
        "ring/throughput",
        "items_per_second",
        Floor::Spin,
        Compare::Throughput,
    ),
    (
        "ring/throughput-batch64",
        "items_per_second",
        Floor::Spin,
        Compare::Throughput,
    ),
    (
        "semaphore/wake",
        "ns_per_hand_off",
        Floor::FutexWake,
        Compare::Time,
    ),
];

fn floor_name(f: Floor) -> &'static str {
    match f {
        Floor::Spin => "floor/spin",
        Floor::FutexWake => "floor/futex-wake",
    }
}

fn floor_unit(f: Floor) -> &'static str {
    match f {
        Floor::Spin => "ns_per_round_trip",
        Floor::FutexWake => "ns_per_hand_off",
    }
}

fn err(what: impl std::fmt::Display) -> CliError {
    CliError::Message(format!("bench: {what}"))
}

/// Runs the benchmark (no role) or its child process.
pub(crate) fn run(
    out: &mut impl Write,
    quick: bool,
    json: bool,
    role: Option<&str>,
    segment: Option<&str>,
    iters: u64,
) -> Result<(), CliError> {
    match (role, segment) {
        (None, _) => parent(out, quick, json),
        (Some(role), Some(name)) => {
            pin::pin_child_from_env();
            let seg = Segment::open_timeout(name, PATIENCE).map_err(err)?;
            let mut side = Side::new(&seg)?;
            // ORDERING: Release publishes "opened and running" to the parent's Acquire wait
            // before its clock starts.
            side.word(READY).store(1, Ordering::Release);
            side.run(role, iters, false).map(|_| ())
        }
        (Some(_), None) => Err(err("--role needs --segment")),
    }
}

struct Cleanup(String);
impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Segment::unlink(&self.0);
    }
}

/// One printed row.
struct Row {
    scenario: &'static str,
    unit: &'static str,
    floor: &'static str,
    summary: Summary,
    /// A floor row: its value is the floor itself, its ratio 1.
    is_floor: bool,
}

impl Row {
    /// The row's value in its unit (items per second for throughput).
    fn value(&self) -> f64 {
        let ns = if self.is_floor {
            self.summary.floor_ns
        } else {
            self.summary.subject_ns
        };
        if self.unit == "items_per_second" {
            1e9 / ns
        } else {
            ns
        }
    }

    fn ratio(&self) -> Option<f64> {
        if self.is_floor {
            self.summary.valid().then_some(1.0)
        } else {
            self.summary.ratio
        }
    }

    fn spread(&self) -> Option<(f64, f64)> {
        if self.is_floor {
            self.summary.valid().then_some((1.0, 1.0))
        } else {
            self.summary.spread
        }
    }
}

fn parent(out: &mut impl Write, quick: bool, json: bool) -> Result<(), CliError> {
    let name = format!("/zeroipc-bench-{}", std::process::id());
    let on_interrupt = name.clone();
    let _ = ctrlc::set_handler(move || {
        let _ = Segment::unlink(&on_interrupt);
        eprintln!("\nzeroipc: bench interrupted; removed {on_interrupt}");
        std::process::exit(130);
    });

    // The parent on the first allowed CPU, each child on the second.
    let child_cpu = pin::pair().and_then(|(mine, theirs)| pin::pin_to(mine).ok().map(|()| theirs));
    let (iters, pairs, wake_iters) = if quick {
        (1_000, 7, 20)
    } else {
        (20_000, 15, 200)
    };
    let progress = std::io::stderr().is_terminal();
    let mut rows: Vec<Row> = Vec::new();
    for (scenario, unit, floor, compare) in SUBJECTS {
        if progress {
            eprintln!("measuring {scenario} (with {})…", floor_name(floor));
        }
        let n = match unit {
            "items_per_second" => iters * 20,
            "ns_per_hand_off" => wake_iters,
            _ => iters,
        };
        let floor_n = if floor == Floor::Spin {
            iters
        } else {
            wake_iters
        };
        let batch = |s: &str, n: u64| run_batch(&name, s, n, child_cpu);
        let summary = stats::interleave(
            pairs,
            floor,
            compare,
            || batch(floor_name(floor), floor_n),
            || batch(scenario, n),
        )?;
        if !rows.iter().any(|r| r.scenario == floor_name(floor)) {
            rows.push(Row {
                scenario: floor_name(floor),
                unit: floor_unit(floor),
                floor: floor_name(floor),
                summary: summary.clone(),
                is_floor: true,
            });
        }
        rows.push(Row {
            scenario,
            unit,
            floor: floor_name(floor),
            summary,
            is_floor: false,
        });
    }
    if json {
        let arr: Vec<serde_json::Value> = rows
            .iter()
            .map(|r| {
                let (lo, hi) = r.spread().map_or((None, None), |(a, b)| (Some(a), Some(b)));
                serde_json::json!({
                    "scenario": r.scenario,
                    "value": r.value(),
                    "unit": r.unit,
                    "ratio": r.ratio(),
                    "ratio_min": lo,
                    "ratio_max": hi,
                    "valid": r.summary.valid(),
                    "pairs": r.summary.pairs,
                    "pairs_kept": r.summary.kept,
                    "floor": r.floor,
                    "floor_ns": r.summary.floor_ns,
                    "pinned": child_cpu.is_some(),
                })
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(arr)).map_err(CliError::Io)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:>14} {:>9}  {:<17} floor",
        "scenario", "value", "ratio", "spread"
    )
    .map_err(CliError::Io)?;
    for r in &rows {
        let value = if r.unit == "items_per_second" {
            format!("{:.1} M/s", r.value() / 1e6)
        } else {
            format!("{:.0} ns", r.value())
        };
        let (ratio, spread) = match (r.ratio(), r.spread()) {
            (Some(x), Some((lo, hi))) => (
                format!("{}x", significant(x)),
                format!("{}..{}x", significant(lo), significant(hi)),
            ),
            _ => ("invalid".to_owned(), "(floor implausible)".to_owned()),
        };
        writeln!(
            out,
            "{:<24} {value:>14} {ratio:>9}  {spread:<17} {}",
            r.scenario, r.floor
        )
        .map_err(CliError::Io)?;
    }
    writeln!(
        out,
        "(median of {pairs} interleaved floor/subject pairs, {}; throughput ratio = items per floor/spin round trip)",
        if child_cpu.is_some() {
            "the two processes on different CPUs"
        } else {
            "not pinned: fewer than two CPUs"
        }
    )
    .map_err(CliError::Io)?;
    Ok(())
}

/// A fresh segment `name` holding every structure the scenarios use.
fn fresh_segment(name: &str) -> Result<Segment, CliError> {
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .create_new(name)
        .map_err(err)?;
    let m = |e| err(e);
    Array::<u64>::create(&seg, "words", 64).map_err(m)?;
    Array::<u32>::create(&seg, "futex", 64).map_err(m)?;
    Queue::<u64>::create(&seg, "a2b", CAPACITY as usize).map_err(m)?;
    Queue::<u64>::create(&seg, "b2a", CAPACITY as usize).map_err(m)?;
    Ring::<u64>::create(&seg, "ring", CAPACITY as usize).map_err(m)?;
    Semaphore::create(&seg, "s1", 0, 0).map_err(m)?;
    Semaphore::create(&seg, "s2", 0, 0).map_err(m)?;
    Ok(seg)
}

/// One batch of `scenario` against a fresh child (pinned to `cpu`) on a fresh segment
/// `name` (removed after the batch: a child that exits leaves nothing behind that the next
/// batch would see, such as semaphore permits recorded as its own); returns nanoseconds per
/// iteration (per item for throughput, the median hand-off for wake scenarios). The clock
/// starts only once the child says it is running.
fn run_batch(name: &str, scenario: &str, iters: u64, cpu: Option<usize>) -> Result<f64, CliError> {
    let seg = fresh_segment(name)?;
    let _cleanup = Cleanup(name.to_owned());
    let mut side = Side::new(&seg)?;
    side.reset();
    let mut cmd = Command::new(std::env::current_exe().map_err(err)?);
    cmd.args(["bench", "--role", scenario, "--segment", name, "--iters"])
        .arg(iters.to_string());
    if let Some(cpu) = cpu {
        cmd.env(pin::CPU_ENV, cpu.to_string());
    }
    let mut kid: Child = cmd.spawn().map_err(err)?;
    let result = (|| {
        // ORDERING: Acquire pairs with the child's Release store of READY.
        spin_until(|| side.word(READY).load(Ordering::Acquire) == 1)?;
        let t0 = Instant::now();
        let hand_off = side.run(scenario, iters, true)?;
        #[allow(clippy::cast_precision_loss)]
        Ok(match hand_off {
            Some(ns) => ns,
            None => t0.elapsed().as_nanos() as f64 / iters as f64,
        })
    })();
    if result.is_err() {
        let _ = kid.kill();
    }
    let status = kid.wait().map_err(err)?;
    let v = result.map_err(|e: CliError| err(format!("{scenario}: {e}")))?;
    if !status.success() {
        return Err(err(format!("{scenario}: the child exited with {status}")));
    }
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(err(format!("{scenario}: no measurement")))
    }
}

/// `x` with three significant digits (at least two decimals), so a small ratio never shows as 0.
fn significant(x: f64) -> String {
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let decimals = if x > 0.0 && x.is_finite() {
        (2.0 - x.log10().floor()).clamp(2.0, 12.0) as usize
    } else {
        2
    };
    format!("{x:.decimals$}")
}

/// Spins until `ready` returns true, checking the deadline every 1024 spins.
fn spin_until(mut ready: impl FnMut() -> bool) -> Result<(), CliError> {
    let t0 = Instant::now();
    let mut n = 0u32;
    while !ready() {
        n = n.wrapping_add(1);
        if n % 1024 == 0 {
            if t0.elapsed() > PATIENCE {
                return Err(CliError::Message(
                    "the other process stopped answering".into(),
                ));
            }
            // The other side may be descheduled (more spinners than cores): let it run.
            std::thread::yield_now();
        }
        std::hint::spin_loop();
    }
    Ok(())
}

/// Sleeps in FUTEX_WAIT (shared, 10 ms slices) until `w` holds `until`.
fn futex_wait_for(w: &AtomicU32, until: u32) -> Result<(), CliError> {
    let t0 = Instant::now();
    let slice = Timespec {
        tv_sec: 0,
        tv_nsec: 10_000_000,
    };
    loop {
        let cur = w.load(Ordering::Acquire);
        if cur == until {
            return Ok(());
        }
        if t0.elapsed() > PATIENCE {
            return Err(CliError::Message(
                "the other process stopped answering".into(),
            ));
        }
        let _ = futex::wait(w, Flags::empty(), cur, Some(&slice));
    }
}

/// One process's handles on the benchmark structures.
struct Side {
    words: Array<u64>,
    futex: Array<u32>,
    a2b: Queue<u64>,
    b2a: Queue<u64>,
    ring: Ring<u64>,
    s1: Semaphore,
    s2: Semaphore,
    /// Iterations already done, so successive batches continue the sequence.
    done: u64,
}

impl Side {
    fn new(seg: &Segment) -> Result<Self, CliError> {
        Ok(Self {
            words: Array::open(seg, "words").map_err(err)?,
            futex: Array::open(seg, "futex").map_err(err)?,
            a2b: Queue::open(seg, "a2b").map_err(err)?,
            b2a: Queue::open(seg, "b2a").map_err(err)?,
            ring: Ring::open(seg, "ring").map_err(err)?,
            s1: Semaphore::open(seg, "s1").map_err(err)?,
            s2: Semaphore::open(seg, "s2").map_err(err)?,
            done: 0,
        })
    }

    /// Zeroes the shared words before a batch starts (no child runs yet).
    fn reset(&self) {
        for i in [PING, PONG, READY] {
            self.word(i).store(0, Ordering::Relaxed);
        }
        for i in [FPING, FPONG] {
            self.fword(i).store(0, Ordering::Relaxed);
        }
    }

    fn word(&self, i: usize) -> &AtomicU64 {
        self.words.atomic(i).expect("index in range")
    }

    fn fword(&self, i: usize) -> &AtomicU32 {
        self.futex.atomic(i).expect("index in range")
    }

    /// `initiator` is the parent (it times); the child responds or produces. Hand-off
    /// scenarios return the initiator's median nanoseconds per hand-off round trip.
    fn run(
        &mut self,
        scenario: &str,
        iters: u64,
        initiator: bool,
    ) -> Result<Option<f64>, CliError> {
        let start = self.done;
        let end = start + iters;
        self.done = end;
        match scenario {
            "floor/spin" => {
                let (ping, pong) = (self.word(PING), self.word(PONG));
                for i in start + 1..=end {
                    if initiator {
                        ping.store(i, Ordering::Release);
                        spin_until(|| pong.load(Ordering::Acquire) == i)?;
                    } else {
                        spin_until(|| ping.load(Ordering::Acquire) >= i)?;
                        pong.store(i, Ordering::Release);
                    }
                }
            }
            "queue/rtt" => {
                let (tx, rx) = if initiator {
                    (&self.a2b, &self.b2a)
                } else {
                    (&self.b2a, &self.a2b)
                };
                for i in start..end {
                    let mut v = if initiator {
                        i
                    } else {
                        let mut got = None;
                        spin_until(|| {
                            got = rx.try_pop().ok();
                            got.is_some()
                        })?;
                        got.unwrap_or_default()
                    };
                    spin_until(|| match tx.try_push(v) {
                        Ok(()) => true,
                        Err(e) => {
                            v = e.into_inner();
                            false
                        }
                    })?;
                    if initiator {
                        let mut got = None;
                        spin_until(|| {
                            got = rx.try_pop().ok();
                            got.is_some()
                        })?;
                        if got != Some(i) {
                            return Err(err(format!("queue/rtt: expected {i}, got {got:?}")));
                        }
                    }
                }
            }
            "ring/throughput" => {
                if initiator {
                    let mut rx = self.ring.consumer().map_err(err)?;
                    for i in start..end {
                        let mut got = None;
                        let mut bad = None;
                        spin_until(|| match rx.try_pop() {
                            Ok(v) => {
                                got = Some(v);
                                true
                            }
                            Err(zeroipc::structures::ring::TryPopError::Empty) => false,
                            Err(e) => {
                                bad = Some(e);
                                true
                            }
                        })?;
                        if let Some(e) = bad {
                            return Err(err(e));
                        }
                        if got != Some(i) {
                            return Err(err(format!("ring: expected {i}, got {got:?}")));
                        }
                    }
                } else {
                    let mut tx = self.ring.producer().map_err(err)?;
                    for i in start..end {
                        spin_until(|| tx.try_push(i).is_ok())?;
                    }
                }
            }
            "ring/throughput-batch64" => {
                let mut buf = [0u64; BATCH];
                let mut next = start;
                if initiator {
                    let mut rx = self.ring.consumer().map_err(err)?;
                    while next < end {
                        let want = usize::try_from((end - next).min(BATCH as u64)).unwrap_or(BATCH);
                        let mut n = 0;
                        spin_until(|| {
                            n = rx.read(&mut buf[..want]).unwrap_or(usize::MAX);
                            n != 0
                        })?;
                        if n == usize::MAX {
                            return Err(err("ring: corrupt"));
                        }
                        for &v in &buf[..n] {
                            if v != next {
                                return Err(err(format!("ring: expected {next}, got {v}")));
                            }
                            next += 1;
                        }
                    }
                } else {
                    let mut tx = self.ring.producer().map_err(err)?;
                    while next < end {
                        let want = usize::try_from((end - next).min(BATCH as u64)).unwrap_or(BATCH);
                        for (k, slot) in (next..).zip(buf[..want].iter_mut()) {
                            *slot = k;
                        }
                        let mut n = 0;
                        spin_until(|| {
                            n = tx.write(&buf[..want]).unwrap_or(0);
                            n != 0
                        })?;
                        next += n as u64;
                    }
                }
            }
            "floor/futex-wake" | "semaphore/wake" => {
                return self.hand_off(scenario == "semaphore/wake", start, end, initiator);
            }
            other => return Err(err(format!("unknown scenario {other}"))),
        }
        Ok(None)
    }

    /// Blocking hand-off round trips: the initiator pauses 200 µs (the responder is surely
    /// asleep), then wakes it and sleeps until woken back. Returns the median per round.
    fn hand_off(
        &self,
        semaphore: bool,
        start: u64,
        end: u64,
        initiator: bool,
    ) -> Result<Option<f64>, CliError> {
        let (ping, pong) = (self.fword(FPING), self.fword(FPONG));
        let mut per = Vec::new();
        #[allow(clippy::cast_possible_truncation)] // wrapping round counters
        for i in start + 1..=end {
            let round = i as u32;
            if initiator {
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(200) {
                    std::hint::spin_loop();
                }
                let t0 = Instant::now();
                if semaphore {
                    self.s1.release().map_err(err)?;
                    self.s2.acquire_timeout(PATIENCE).map_err(err)?;
                } else {
                    ping.store(round, Ordering::Release);
                    let _ = futex::wake(ping, Flags::empty(), 1);
                    futex_wait_for(pong, round)?;
                }
                #[allow(clippy::cast_precision_loss)]
                per.push(t0.elapsed().as_nanos() as f64);
            } else if semaphore {
                self.s1.acquire_timeout(PATIENCE).map_err(err)?;
                self.s2.release().map_err(err)?;
            } else {
                futex_wait_for(ping, round)?;
                pong.store(round, Ordering::Release);
                let _ = futex::wake(pong, Flags::empty(), 1);
            }
        }
        Ok(initiator.then(|| stats::median(&per)))
    }
}

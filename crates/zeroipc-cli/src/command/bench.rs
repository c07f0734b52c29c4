//! `zeroipc bench`: measures this machine between two real processes (this binary re-run as
//! the child with `--role`) on a fresh segment `/zeroipc-bench-<pid>`, removed at the end
//! (also on error). Every scenario is a median over batches, reported next to its floor of the
//! same run: `floor/spin` (a bare cache-line ping-pong) for spinning round trips and
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
/// u32 futex words, on different cache lines.
const FPING: usize = 0;
const FPONG: usize = 32;

/// Every scenario, in the order they run: (name, unit, floor).
const SCENARIOS: [(&str, &str, &str); 6] = [
    ("floor/spin", "ns_per_round_trip", "floor/spin"),
    ("queue/rtt", "ns_per_round_trip", "floor/spin"),
    ("ring/throughput", "items_per_second", "floor/spin"),
    ("ring/throughput-batch64", "items_per_second", "floor/spin"),
    ("floor/futex-wake", "ns_per_hand_off", "floor/futex-wake"),
    ("semaphore/wake", "ns_per_hand_off", "floor/futex-wake"),
];

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
            let seg = Segment::open_timeout(name, PATIENCE).map_err(err)?;
            Side::new(&seg)?.run(role, iters, false).map(|_| ())
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

fn parent(out: &mut impl Write, quick: bool, json: bool) -> Result<(), CliError> {
    let name = format!("/zeroipc-bench-{}", std::process::id());
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .create_new(&name)
        .map_err(err)?;
    let _cleanup = Cleanup(name.clone());
    let on_interrupt = name.clone();
    let _ = ctrlc::set_handler(move || {
        let _ = Segment::unlink(&on_interrupt);
        eprintln!("\nzeroipc: bench interrupted; removed {on_interrupt}");
        std::process::exit(130);
    });
    let m = |e| err(e);
    Array::<u64>::create(&seg, "words", 64).map_err(m)?;
    Array::<u32>::create(&seg, "futex", 64).map_err(m)?;
    Queue::<u64>::create(&seg, "a2b", CAPACITY as usize).map_err(m)?;
    Queue::<u64>::create(&seg, "b2a", CAPACITY as usize).map_err(m)?;
    Ring::<u64>::create(&seg, "ring", CAPACITY as usize).map_err(m)?;
    Semaphore::create(&seg, "s1", 0, 0).map_err(m)?;
    Semaphore::create(&seg, "s2", 0, 0).map_err(m)?;

    let (iters, batches, wake_iters) = if quick {
        (500, 5, 20)
    } else {
        (20_000, 15, 200)
    };
    let progress = std::io::stderr().is_terminal();
    let mut values = Vec::new();
    for (scenario, unit, _) in SCENARIOS {
        if progress {
            eprintln!("measuring {scenario}…");
        }
        let n = match unit {
            "items_per_second" => iters * 20,
            "ns_per_hand_off" => wake_iters,
            _ => iters,
        };
        let ns = run_pair(&seg, &name, scenario, n, batches)?;
        values.push(if unit == "items_per_second" {
            1e9 / ns
        } else {
            ns
        });
    }
    let floor = |f: &str| {
        SCENARIOS
            .iter()
            .position(|s| s.0 == f)
            .map_or(1.0, |i| values[i])
    };
    let rows: Vec<(&str, f64, &str, f64, &str)> = SCENARIOS
        .iter()
        .zip(&values)
        .map(|(&(s, unit, fl), &v)| {
            let ratio = if unit == "items_per_second" {
                // Items moved in the time the cache line makes one round trip.
                v * floor(fl) / 1e9
            } else {
                v / floor(fl)
            };
            (s, v, unit, ratio, fl)
        })
        .collect();
    if json {
        let arr: Vec<serde_json::Value> = rows
            .iter()
            .map(|&(s, v, unit, ratio, fl)| {
                serde_json::json!({"scenario": s, "value": v, "unit": unit, "ratio": ratio, "floor": fl})
            })
            .collect();
        writeln!(out, "{}", serde_json::Value::Array(arr)).map_err(CliError::Io)?;
        return Ok(());
    }
    writeln!(
        out,
        "{:<24} {:>14} {:>9}  floor",
        "scenario", "value", "ratio"
    )
    .map_err(CliError::Io)?;
    for (s, v, unit, ratio, fl) in rows {
        let value = if unit == "items_per_second" {
            format!("{:.1} M/s", v / 1e6)
        } else {
            format!("{v:.0} ns")
        };
        let ratio = format!("{}x", significant(ratio));
        writeln!(out, "{s:<24} {value:>14} {ratio:>9}  {fl}").map_err(CliError::Io)?;
    }
    writeln!(
        out,
        "(medians of {batches} batches; throughput ratio = items per floor/spin round trip)"
    )
    .map_err(CliError::Io)?;
    Ok(())
}

/// Runs `scenario` against a child; returns the median nanoseconds per iteration.
fn run_pair(
    seg: &Segment,
    name: &str,
    scenario: &str,
    iters: u64,
    batches: usize,
) -> Result<f64, CliError> {
    let mut side = Side::new(seg)?;
    side.reset();
    let total = iters * batches as u64;
    let mut kid: Child = Command::new(std::env::current_exe().map_err(err)?)
        .args(["bench", "--role", scenario, "--segment", name, "--iters"])
        .arg(total.to_string())
        .spawn()
        .map_err(err)?;
    let result = (|| {
        let mut per = Vec::with_capacity(batches);
        for _ in 0..batches {
            let t0 = Instant::now();
            let hand_off = side.run(scenario, iters, true)?;
            #[allow(clippy::cast_precision_loss)]
            per.push(match hand_off {
                Some(ns) => ns,
                None => t0.elapsed().as_nanos() as f64 / iters as f64,
            });
        }
        Ok(median(&mut per))
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
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

    /// Zeroes the shared words before a scenario starts (no child runs yet).
    fn reset(&self) {
        for i in [PING, PONG] {
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
        Ok(initiator.then(|| median(&mut per)))
    }
}

//! Cross-process benchmark harness (`harness = false`): round trips and throughput between two
//! real processes sharing one segment, always next to the floors measured in the same run.
//!
//! ```text
//! cargo bench -p zeroipc --bench pingpong               # full run
//! cargo bench -p zeroipc --bench pingpong -- --quick    # a few seconds, for CI smoke
//! cargo bench -p zeroipc --bench pingpong -- --json     # machine-readable
//! ```
//!
//! The machine is shared and noisy, so every scenario is reported as a ratio to the floor
//! measured in the same run:
//! - `floor/spin`: a bare cache-line ping-pong (two `AtomicU64` on different lines, each side
//!   spins until the other's store is visible) — the cost of moving a line between cores;
//! - `floor/futex`: a bare shared-futex ping-pong (each side sleeps in `FUTEX_WAIT` until the
//!   other's `FUTEX_WAKE`) — the cost of a kernel wake-up.
//!
//! The parent re-runs this binary as the child (`ZEROIPC_BENCH_ROLE`), so both sides are the
//! same code. Medians are over batches; each batch times `iters` round trips.

use std::process::{Child, Command};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

const ROLE_ENV: &str = "ZEROIPC_BENCH_ROLE";
const NAME_ENV: &str = "ZEROIPC_BENCH_SEGMENT";
const ITERS_ENV: &str = "ZEROIPC_BENCH_ITERS";
/// Two words 128 bytes apart (different cache lines, and different adjacent-line pairs).
const PING: u64 = 0;
const PONG: u64 = 16;

struct Config {
    iters: u64,
    batches: usize,
    json: bool,
}

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
    let cfg = Config {
        iters: if quick { 2_000 } else { 20_000 },
        batches: if quick { 5 } else { 21 },
        json: args.iter().any(|a| a == "--json"),
    };
    // `cargo bench` passes --bench; `cargo test --benches` runs us with no --bench: smoke only.
    let cfg = if args.iter().any(|a| a == "--bench") || quick || cfg.json {
        cfg
    } else {
        Config {
            iters: 200,
            batches: 3,
            ..cfg
        }
    };

    let mut results: Vec<(&str, f64)> = Vec::new();
    let spin = run_pair("floor/spin", &cfg);
    results.push(("floor/spin", spin));
    let futex = run_pair("floor/futex", &cfg);
    results.push(("floor/futex", futex));

    report(&results, spin, futex, &cfg);
}

/// Runs scenario `role` between this process and a child; returns the median ns per round trip.
fn run_pair(role: &str, cfg: &Config) -> f64 {
    let name = format!(
        "/zeroipc-bench-{}-{}",
        std::process::id(),
        role.replace('/', "-")
    );
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_or_replace(&name)
        .expect("create segment");
    let words: Array<u64> = Array::create(&seg, "words", 32).expect("array");
    let mut medians = Vec::with_capacity(cfg.batches);
    let mut kid = spawn(role, &name, cfg.iters * cfg.batches as u64);
    for _ in 0..cfg.batches {
        let t0 = Instant::now();
        match role {
            "floor/spin" => spin_side(&words, cfg.iters, true),
            "floor/futex" => futex_side(&words, cfg.iters, true),
            _ => unreachable!(),
        }
        #[allow(clippy::cast_precision_loss)]
        medians.push(t0.elapsed().as_nanos() as f64 / cfg.iters as f64);
    }
    let status = kid.wait().expect("wait child");
    assert!(status.success(), "{role} child failed");
    let _ = Segment::unlink(&name);
    median(&mut medians)
}

fn spawn(role: &str, name: &str, iters: u64) -> Child {
    Command::new(std::env::current_exe().expect("current_exe"))
        .env(ROLE_ENV, role)
        .env(NAME_ENV, name)
        .env(ITERS_ENV, iters.to_string())
        .spawn()
        .expect("spawn child")
}

fn child(role: &str, name: &str, iters: u64) {
    let seg = Segment::open_timeout(name, Duration::from_secs(10)).expect("open");
    let words: Array<u64> = Array::open(&seg, "words").expect("array");
    match role {
        "floor/spin" => spin_side(&words, iters, false),
        "floor/futex" => futex_side(&words, iters, false),
        other => panic!("unknown role {other}"),
    }
}

fn word(words: &Array<u64>, i: u64) -> &AtomicU64 {
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
fn futex_word(words: &Array<u64>, i: u64) -> &AtomicU32 {
    let w = word(words, i);
    // SAFETY: an AtomicU64 is 8-aligned and 8 bytes; its first 4 bytes are a valid, aligned
    // AtomicU32 for as long as the Array (and so the mapping) lives. Only this benchmark
    // accesses these words, always as AtomicU32 after this point.
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

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(results: &[(&str, f64)], spin: f64, futex: f64, cfg: &Config) {
    if cfg.json {
        let rows: Vec<String> = results
            .iter()
            .map(|(n, ns)| {
                format!(
                    "{{\"scenario\":\"{n}\",\"ns_per_round_trip\":{ns:.1},\"x_spin_floor\":{:.3},\"x_futex_floor\":{:.3}}}",
                    ns / spin,
                    ns / futex
                )
            })
            .collect();
        println!("[{}]", rows.join(","));
        return;
    }
    println!(
        "{:<24} {:>14} {:>10} {:>10}",
        "scenario", "ns/round trip", "x spin", "x futex"
    );
    for (n, ns) in results {
        println!(
            "{n:<24} {ns:>14.1} {:>10.2} {:>10.2}",
            ns / spin,
            ns / futex
        );
    }
    println!(
        "({} batches of {} round trips; medians)",
        cfg.batches, cfg.iters
    );
}

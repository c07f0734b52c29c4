//! Randomised kill loops over the claim protocols of Lazy and Future (issue #17): a child
//! loops over a protocol and is SIGKILLed at a random moment; after each kill a survivor
//! (this process) must complete or take over within [`BOUND`], never find the structure
//! wedged.
//!
//! The number of kills per protocol is `ZEROIPC_KILL_LOOP_KILLS` (default [`CI_KILLS`], sized
//! for CI; docs/THREAT_MODEL.md records a 500-kill run). A wedge is counted (and repaired
//! so the loop goes on); the test fails at the end if there was any, with the counts.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, poke, spawn_child_with};
use zeroipc::codata::future::{Future, FutureState, SetError};
use zeroipc::codata::lazy::{ForceTimeoutError, Lazy};
use zeroipc::{Segment, SegmentOptions};

/// How long a survivor may take to complete or take over after a kill.
const BOUND: Duration = Duration::from_secs(2);
/// Kills per protocol unless `ZEROIPC_KILL_LOOP_KILLS` says otherwise.
const CI_KILLS: usize = 100;
/// The longest random delay between "the child is looping" and the kill.
const MAX_DELAY_NS: u64 = 400_000;
/// Futures per segment in the Future loop.
const FUTURES: usize = 240;
/// Table entries per segment in the Future loop (the futures and the catalog, with room).
const ENTRIES: u32 = 248;
/// How long the child may take to start looping.
const START: Duration = Duration::from_secs(30);

fn kills() -> usize {
    std::env::var("ZEROIPC_KILL_LOOP_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(CI_KILLS)
}

/// xorshift64*: a seed from the clock and the pid, printed so a failing run can be told apart.
struct Rng(u64);

impl Rng {
    fn new() -> Self {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos();
        #[allow(clippy::cast_possible_truncation)]
        let seed = ((t as u64) ^ (u64::from(std::process::id()) << 32)) | 1;
        eprintln!("kill loop seed {seed:#x}");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Busy-waits a random time below [`MAX_DELAY_NS`], then SIGKILLs and reaps `child` (reaped:
/// `kill(pid, 0)` then says it is gone, as for any dead peer).
fn kill_at_random(rng: &mut Rng, mut child: std::process::Child) {
    let delay = Duration::from_nanos(rng.next() % MAX_DELAY_NS);
    let t0 = Instant::now();
    while t0.elapsed() < delay {
        std::hint::spin_loop();
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert!(!status.success(), "the child must not exit on its own");
}

fn segment(test: &str, entries: u32) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .max_entries(entries)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

/// A child loops `force_with` + `reset` on a `Lazy<u64>`; after each kill the survivor's
/// `force_with_timeout` must return the value (computing it, taking over from the dead
/// computer, or reading the computed value) within [`BOUND`].
#[test]
fn lazy_force_reset_survives_random_kills() {
    let test = "lazy_force_reset_survives_random_kills";
    if let Some(name) = child_role("looper") {
        let seg = Segment::open(&name).unwrap();
        let lazy: Lazy<u64> = Lazy::open(&seg, "l").unwrap();
        loop {
            assert_eq!(lazy.force_with(|| 7), Ok(7));
            lazy.reset().unwrap();
        }
    }
    let (name, seg) = segment(test, 64);
    let lazy: Lazy<u64> = Lazy::create(&seg, "l").unwrap();
    let mut rng = Rng::new();
    let (mut wedged, mut computed_here) = (0usize, 0usize);
    let n = kills();
    for _ in 0..n {
        let before = lazy.compute_count().unwrap();
        let child = spawn_child_with(test, "looper", &name, &[]);
        let t0 = Instant::now();
        while lazy.compute_count().unwrap() < before + 2 {
            assert!(t0.elapsed() < START, "the child never looped");
            std::thread::yield_now();
        }
        kill_at_random(&mut rng, child);
        let t0 = Instant::now();
        let mut ran = false;
        match lazy.force_with_timeout(BOUND, || {
            ran = true;
            7
        }) {
            Ok(7) => computed_here += usize::from(ran),
            Err(ForceTimeoutError::Timeout) => {
                wedged += 1;
                eprintln!(
                    "wedged: state {:?}, bytes {:02x?}",
                    lazy.state(),
                    seg.read_bytes(lazy.entry().offset(), lazy.entry().size())
                        .unwrap()
                );
                // Repair (NOT_COMPUTED, owner words zero) so the loop goes on.
                let at = lazy.entry().offset();
                poke(&name, at + 40, &[0; 256]);
                poke(&name, at, &0u32.to_le_bytes());
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(t0.elapsed() < BOUND + Duration::from_secs(1));
    }
    eprintln!(
        "lazy kill loop: {n} kills, {computed_here} computed by the survivor, {wedged} wedged"
    );
    assert_eq!(wedged, 0, "{wedged} of {n} kills left the Lazy wedged");
}

/// A child sets futures `f<start>`, `f<start+1>`, ... (claim + `set_value`) in order; after
/// each kill the survivor must find every future either set or claimable (a dead setter
/// taken over, or still free) and set it, within [`BOUND`].
#[test]
fn future_set_survives_random_kills() {
    let test = "future_set_survives_random_kills";
    if let Some(name) = child_role("setter") {
        let seg = Segment::open(&name).unwrap();
        let start: usize = std::env::var("KILL_LOOP_START").unwrap().parse().unwrap();
        let futures: Vec<Future<u64>> = (start..FUTURES)
            .map(|k| Future::open(&seg, &format!("f{k}")).unwrap())
            .collect();
        // The parent waits for `f<start>` to leave PENDING before it picks the moment.
        for (k, f) in (start..).zip(&futures) {
            f.set_value(k as u64).unwrap();
        }
        // Out of futures: wait to be killed.
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let mut rng = Rng::new();
    let (mut wedged, mut took_over, mut kills_done) = (0usize, 0usize, 0usize);
    let n = kills();
    let mut round = 0;
    while kills_done < n {
        round += 1;
        let (name, seg) = segment(&format!("{test}_{round}"), ENTRIES);
        let futures: Vec<Future<u64>> = (0..FUTURES)
            .map(|k| Future::create(&seg, &format!("f{k}")).unwrap())
            .collect();
        let mut start = 0;
        while start < FUTURES - 16 && kills_done < n {
            let child = spawn_child_with(
                test,
                "setter",
                &name,
                &[("KILL_LOOP_START", start.to_string())],
            );
            let t0 = Instant::now();
            while futures[start].state().unwrap() == FutureState::Pending {
                assert!(t0.elapsed() < START, "the child never started setting");
                std::thread::yield_now();
            }
            kill_at_random(&mut rng, child);
            kills_done += 1;
            // The survivor: every future from `start` on is set, or can be claimed and set.
            let t0 = Instant::now();
            let mut next = FUTURES;
            for (k, f) in futures.iter().enumerate().skip(start) {
                match f.state().unwrap() {
                    FutureState::Ready => continue,
                    FutureState::Pending => {
                        // Untouched or claimable: claiming must work (a stale intent of the
                        // dead setter does not block it).
                        match f.claim() {
                            Ok(p) => p.set_value(k as u64).unwrap(),
                            Err(e) => {
                                wedged += 1;
                                eprintln!("pending future f{k} not claimable: {e:?}");
                            }
                        }
                        next = k + 1;
                        break;
                    }
                    _ => {}
                }
                match f.claim() {
                    Ok(p) => {
                        took_over += 1;
                        p.set_value(k as u64).unwrap();
                    }
                    Err(SetError::AlreadySet { .. }) if f.try_get() == Ok(Some(k as u64)) => {}
                    Err(e) => {
                        wedged += 1;
                        eprintln!(
                            "wedged: f{k} {e:?}, get_timeout {:?}, bytes {:02x?}",
                            f.get_timeout(Duration::from_millis(10)),
                            seg.read_bytes(f.entry().offset(), 24).unwrap()
                        );
                    }
                }
                next = k + 1;
                break;
            }
            assert!(t0.elapsed() < BOUND, "the survivor took {:?}", t0.elapsed());
            // Everything before `next` is final; the next child starts there.
            for f in &futures[start..next.min(FUTURES)] {
                assert!(f.state().unwrap() != FutureState::Pending || wedged > 0);
            }
            start = next;
        }
    }
    eprintln!("future kill loop: {kills_done} kills, {took_over} take-overs, {wedged} wedged");
    assert_eq!(
        wedged, 0,
        "{wedged} of {kills_done} kills left a Future wedged"
    );
}

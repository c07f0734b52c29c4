//! `stream/broadcast-N`: one emitter (this process) and N subscriber processes on a broadcast
//! Stream; every subscriber must see every value, so the emitter keeps at most one buffer
//! (less a batch) ahead of the slowest subscriber, whose progress it reads from `words`.
//! Both sides move values in batches of [`BATCH`] (`try_emit_many` / `try_recv_many`). The
//! result is nanoseconds per value, which is also each subscriber's rate.

use std::sync::atomic::Ordering;
use std::time::Instant;

use zeroipc::codata::stream::{Stream, TryRecvError};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

use super::{BATCH, CAPACITY, spawn, word};

/// The subscriber child's role name.
pub(super) const SUBSCRIBER: &str = "stream/broadcast-sub";
/// Subscribers that have subscribed (each takes its index from it).
const JOINED: usize = 0;
/// Words per progress slot: one cache line each.
const STRIDE: usize = 8;
/// At most this many subscribers.
const MAX_SUBS: usize = 4;

fn progress_word(i: usize) -> usize {
    STRIDE * (i + 1)
}

/// One run: `subs` subscriber processes each read `iters` values; returns ns per value.
#[allow(clippy::cast_precision_loss)] // a count of values as the divisor of a duration
pub(super) fn run(subs: usize, iters: u64) -> f64 {
    assert!((1..=MAX_SUBS).contains(&subs));
    let name = format!("/zeroipc-bench-{}-broadcast-{subs}", std::process::id());
    let seg = SegmentOptions::new()
        .size(4 << 20)
        .create_or_replace(&name)
        .expect("create segment");
    let words = Array::<u64>::create(&seg, "words", STRIDE * (MAX_SUBS + 1)).expect("array");
    let s = Stream::<u64>::create_broadcast(&seg, "bcast", CAPACITY as usize).expect("stream");
    let mut kids: Vec<_> = (0..subs).map(|_| spawn(SUBSCRIBER, &name, iters)).collect();
    // ORDERING: Acquire pairs with each subscriber's Release after it subscribed.
    while word(&words, JOINED).load(Ordering::Acquire) < subs as u64 {
        for k in &mut kids {
            if let Ok(Some(status)) = k.try_wait() {
                panic!("a broadcast subscriber exited before it subscribed: {status}");
            }
        }
        std::thread::yield_now();
    }
    let slowest = || {
        (0..subs)
            // ORDERING: Acquire pairs with the subscriber's Release of its count.
            .map(|i| word(&words, progress_word(i)).load(Ordering::Acquire))
            .min()
            .unwrap_or(0)
    };
    let ahead_max = u64::from(CAPACITY) - BATCH as u64;
    let mut buf = [0u64; BATCH];
    let mut next = 0u64;
    let t0 = Instant::now();
    while next < iters {
        let room = (slowest() + ahead_max).saturating_sub(next);
        if room == 0 {
            std::thread::yield_now();
            continue;
        }
        let want = usize::try_from(room.min(BATCH as u64).min(iters - next)).unwrap_or(BATCH);
        for (k, slot) in buf[..want].iter_mut().enumerate() {
            *slot = next + k as u64;
        }
        assert_eq!(s.try_emit_many(&buf[..want]).expect("emit"), want);
        next += want as u64;
    }
    while slowest() < iters {
        std::thread::yield_now();
    }
    let ns = t0.elapsed().as_secs_f64() * 1e9;
    for mut k in kids {
        assert!(k.wait().expect("wait").success(), "a subscriber failed");
    }
    let _ = Segment::unlink(&name);
    ns / iters as f64
}

/// A subscriber child: subscribes, says so, then reads `iters` values in order (a lag is a
/// failure: the emitter's flow control must prevent it), publishing its count per batch.
pub(super) fn subscriber(seg: &Segment, iters: u64) {
    let words: Array<u64> = Array::open(seg, "words").expect("array");
    let s: Stream<u64> = Stream::open(seg, "bcast").expect("stream");
    let mut sub = s.broadcast_subscriber().expect("subscribe");
    // ORDERING: AcqRel — Release publishes "subscribed" to the emitter's Acquire wait.
    let me = usize::try_from(word(&words, JOINED).fetch_add(1, Ordering::AcqRel)).expect("index");
    let progress = word(&words, progress_word(me));
    let mut buf = [0u64; BATCH];
    let mut got = 0u64;
    while got < iters {
        match sub.try_recv_many(&mut buf) {
            Ok(n) => {
                for &v in &buf[..n] {
                    assert_eq!(v, got, "subscriber {me} saw values out of order");
                    got += 1;
                }
                // ORDERING: Release — the emitter's Acquire reads how far we are.
                progress.store(got, Ordering::Release);
            }
            // Others may share this CPU: let them run.
            Err(TryRecvError::Empty) => std::thread::yield_now(),
            Err(e) => panic!("subscriber {me} after {got} values: {e}"),
        }
    }
}

//! The four forms of every waiting operation of `zeroipc::sync` (docs/API_CONVENTIONS.md §1):
//! `op` blocks until it succeeds (proved by a handshake: the other thread acts only once the
//! waiter is about to wait, and the waiter cannot have returned before that), `try_op` never
//! blocks (`WouldBlock`), `op_timeout` / `op_deadline` give up (`Timeout`). Plus the numbers
//! rule (§4): counts are `usize`, too-large arguments are `InvalidCapacity`, negative wire
//! counts are `Corruption` naming what was found.
//!
//! Threads only (no child processes): the cross-process behaviour is tests/sync.rs's.

mod common;

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{ShmName, poke};
use zeroipc::sync::{
    Barrier, Event, EventMode, Latch, LockError, LockTimeoutError, Monitor, Mutex, Once,
    OnceOutcome, RwLock, Semaphore, Signal, TryLockError, TryWaitError, WaitTimeoutError,
};
use zeroipc::{Corruption, Segment, SegmentOptions, StructureError};

/// Bounds every blocking test: a broken wake-up fails the test instead of hanging it.
const TEST_DEADLINE: Duration = Duration::from_secs(60);

fn create(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .catalog(false)
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap()
}

/// Runs `wait` on a thread that raises a flag right before calling it; once the flag is up
/// (and the thread has not returned: `wait` cannot end before `act`), runs `act`; returns
/// what `wait` returned.
fn handshake<R: Send>(wait: impl FnOnce() -> R + Send, act: impl FnOnce()) -> R {
    let about_to_wait = AtomicBool::new(false);
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            about_to_wait.store(true, SeqCst);
            wait()
        });
        let t0 = Instant::now();
        while !about_to_wait.load(SeqCst) {
            assert!(t0.elapsed() < TEST_DEADLINE, "the waiter never started");
            thread::yield_now();
        }
        assert!(
            !waiter.is_finished(),
            "the blocking form returned before the other side acted"
        );
        act();
        waiter.join().unwrap()
    })
}

fn past() -> Instant {
    Instant::now()
}

// ---------------------------------------------------------------------------------------
// Locks: LockError / TryLockError / LockTimeoutError.

#[test]
fn mutex_forms() {
    let name = ShmName::new("forms_mutex");
    let seg = create(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let held = m.lock().unwrap();
    assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        m.lock_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        m.lock_timeout(Duration::ZERO),
        Err(LockTimeoutError::Timeout)
    ));
    // `lock` blocks until the holder unlocks.
    let got = handshake(
        || m.lock().map(drop).map_err(LockError::drop_guard),
        || drop(held),
    );
    got.unwrap();
    // Free again: every form takes it.
    drop(m.try_lock().unwrap());
    drop(m.lock_deadline(past()).unwrap());
    drop(m.lock_timeout(Duration::ZERO).unwrap());
    assert_eq!(m.entry().name(), "m");
    assert_eq!(m.segment().name(), seg.name());
}

#[test]
fn rwlock_forms() {
    let name = ShmName::new("forms_rwlock");
    let seg = create(&name);
    let l = RwLock::create(&seg, "rw").unwrap();
    let r = l.read().unwrap();
    assert!(matches!(l.try_write(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        l.write_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert_eq!(l.snapshot().unwrap(), (1, false));
    // `write` blocks until the reader leaves.
    handshake(
        || l.write().map(drop).map_err(LockError::drop_guard),
        || drop(r),
    )
    .unwrap();
    let w = l.write().unwrap();
    assert!(matches!(l.try_read(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        l.read_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        l.read_timeout(Duration::ZERO),
        Err(LockTimeoutError::Timeout)
    ));
    handshake(
        || l.read().map(drop).map_err(LockError::drop_guard),
        || drop(w),
    )
    .unwrap();
    assert_eq!(l.entry().name(), "rw_state");
}

#[test]
fn semaphore_forms() {
    let name = ShmName::new("forms_semaphore");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 0, 0).unwrap();
    assert!(matches!(s.try_acquire(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        s.acquire_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.acquire_timeout(Duration::ZERO),
        Err(LockTimeoutError::Timeout)
    ));
    handshake(|| s.acquire(), || s.release().unwrap()).unwrap();
    assert_eq!((s.count().unwrap(), s.max_count()), (0, 0));
    s.release().unwrap();
    s.acquire_deadline(past()).unwrap();
    assert_eq!(s.waiting().unwrap(), 0);
}

#[test]
fn monitor_forms() {
    let name = ShmName::new("forms_monitor");
    let seg = create(&name);
    let mon = Monitor::create(&seg, "mon").unwrap();
    let held = mon.lock().unwrap();
    assert!(matches!(mon.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(matches!(
        mon.lock_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        mon.lock_timeout(Duration::ZERO),
        Err(LockTimeoutError::Timeout)
    ));
    drop(held);
    // `wait_until` blocks until another thread makes the predicate true and notifies: the
    // waiter counts itself (under the lock) before it sleeps, so the notifier waits for
    // `waiting() == 1`, then sets the flag under the lock and notifies.
    let ready = AtomicBool::new(false);
    let (tx, rx) = mpsc::channel();
    thread::scope(|s| {
        let waiter = s.spawn(|| {
            let g = mon.lock().unwrap();
            tx.send(()).unwrap();
            let g = mon.wait_until(g, || ready.load(SeqCst)).unwrap();
            drop(g);
        });
        rx.recv().unwrap();
        let t0 = Instant::now();
        while mon.waiting().unwrap() == 0 {
            assert!(t0.elapsed() < TEST_DEADLINE, "the waiter never waited");
            thread::yield_now();
        }
        assert!(!waiter.is_finished());
        let g = mon.lock_timeout(TEST_DEADLINE).unwrap();
        ready.store(true, SeqCst);
        mon.notify_all().unwrap();
        drop(g);
        waiter.join().unwrap();
    });
    // The timed forms: nobody notifies.
    let g = mon.lock().unwrap();
    let (g, timed_out) = mon.wait_deadline(g, past()).unwrap();
    assert!(timed_out);
    let (g, timed_out) = mon.wait_until_deadline(g, past(), || false).unwrap();
    assert!(timed_out);
    let (g, timed_out) = mon.wait_until_timeout(g, Duration::ZERO, || true).unwrap();
    assert!(!timed_out, "a predicate that holds needs no wait");
    drop(g);
    assert_eq!(mon.entry().name(), "mon_mtx");
}

#[test]
fn signal_lock_forms() {
    let name = ShmName::new("forms_signal_lock");
    let seg = create(&name);
    let s: Signal<u32> = Signal::create(&seg, "sig", 7).unwrap();
    assert_eq!(s.get_deadline(Instant::now() + TEST_DEADLINE).unwrap(), 7);
    let held = s.mutex().lock().unwrap();
    assert!(matches!(
        s.get_deadline(past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.set_deadline(1, past()),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.update_deadline(|v| v + 1, past()),
        Err(LockTimeoutError::Timeout)
    ));
    // `set` blocks until the mutex is released.
    let v = handshake(|| s.set(8), || drop(held)).unwrap();
    assert_eq!(v, 1);
    assert_eq!(s.update_deadline(|v| v + 1, past()).unwrap(), 2);
    assert_eq!(s.get().unwrap(), 9);
    assert_eq!(s.entry().name(), "sig_state");
}

// ---------------------------------------------------------------------------------------
// Waits: WaitError / TryWaitError / WaitTimeoutError.

#[test]
fn signal_wait_for_change_blocks_until_another_thread_sets() {
    let name = ShmName::new("forms_signal_wait");
    let seg = create(&name);
    let s: Signal<u64> = Signal::create(&seg, "sig", 0).unwrap();
    let v0 = s.version().unwrap();
    assert!(matches!(
        s.wait_for_change_deadline(v0, past()),
        Err(WaitTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.wait_for_change_timeout(v0, Duration::ZERO),
        Err(WaitTimeoutError::Timeout)
    ));
    let seen = handshake(
        || s.wait_for_change(v0),
        || {
            s.set(42).unwrap();
        },
    )
    .unwrap();
    assert_eq!(seen, v0 + 1);
    assert_eq!(s.get().unwrap(), 42);
}

#[test]
fn latch_forms() {
    let name = ShmName::new("forms_latch");
    let seg = create(&name);
    let l = Latch::create(&seg, "l", 1).unwrap();
    assert!(matches!(l.try_wait(), Err(TryWaitError::WouldBlock)));
    assert!(matches!(
        l.wait_deadline(past()),
        Err(WaitTimeoutError::Timeout)
    ));
    handshake(|| l.wait(), || l.count_down(1).unwrap()).unwrap();
    l.try_wait().unwrap();
    l.wait_deadline(past()).unwrap();
    assert_eq!((l.count().unwrap(), l.initial_count().unwrap()), (0, 1));
    // Any count-down larger than the count saturates, however large.
    let big = Latch::create(&seg, "big", 3).unwrap();
    big.count_down(usize::MAX).unwrap();
    assert_eq!(big.count().unwrap(), 0);
}

#[test]
fn event_forms() {
    let name = ShmName::new("forms_event");
    let seg = create(&name);
    for mode in [EventMode::AutoReset, EventMode::ManualReset] {
        let ev_name = format!("ev{}", mode as u8);
        let e = Event::create(&seg, &ev_name, mode).unwrap();
        assert!(matches!(e.try_wait(), Err(TryWaitError::WouldBlock)));
        assert!(matches!(
            e.wait_deadline(past()),
            Err(WaitTimeoutError::Timeout)
        ));
        assert!(matches!(
            e.wait_timeout(Duration::ZERO),
            Err(WaitTimeoutError::Timeout)
        ));
        handshake(|| e.wait(), || e.signal().unwrap()).unwrap();
        e.signal().unwrap();
        e.try_wait().unwrap();
        match mode {
            // Auto-reset: the try consumed the signal.
            EventMode::AutoReset => {
                assert!(matches!(e.try_wait(), Err(TryWaitError::WouldBlock)));
            }
            // Manual-reset: signaled until reset.
            EventMode::ManualReset => {
                e.try_wait().unwrap();
                e.reset().unwrap();
                assert!(matches!(e.try_wait(), Err(TryWaitError::WouldBlock)));
            }
        }
        assert_eq!(e.waiting().unwrap(), 0);
        assert_eq!(e.entry().name(), ev_name.as_str());
    }
}

#[test]
fn event_stall_timeout_is_the_one_stall_name() {
    let name = ShmName::new("forms_event_stall");
    let seg = create(&name);
    let e = Event::create(&seg, "ev", EventMode::ManualReset).unwrap();
    assert_eq!(e.stall_timeout(), Duration::from_millis(50));
    let e = e.with_stall_timeout(Duration::from_millis(3));
    assert_eq!(e.stall_timeout(), Duration::from_millis(3));
    assert_eq!(
        e.clone().stall_timeout(),
        Duration::from_millis(3),
        "clones keep it"
    );
}

#[test]
fn barrier_forms() {
    let name = ShmName::new("forms_barrier");
    let seg = create(&name);
    let b = Barrier::create(&seg, "b", 2).unwrap();
    assert_eq!(b.participants(), 2);
    assert!(matches!(
        b.wait_deadline(past()),
        Err(WaitTimeoutError::Timeout)
    ));
    assert_eq!(
        b.arrived().unwrap(),
        0,
        "the timed-out arrival was withdrawn"
    );
    // `wait` blocks until the second participant arrives.
    let first = handshake(
        || b.wait(),
        || {
            // The waiter may not have arrived yet: arriving with a deadline either
            // completes the cycle (it was there) or times out and is withdrawn (retry).
            loop {
                match b.wait_timeout(Duration::from_millis(1)) {
                    Ok(_) => break,
                    Err(WaitTimeoutError::Timeout) => {}
                    Err(e) => panic!("{e}"),
                }
            }
        },
    )
    .unwrap();
    let _ = first.is_leader();
    assert_eq!(b.generation().unwrap(), 1);
}

#[test]
fn once_forms() {
    let name = ShmName::new("forms_once");
    let seg = create(&name);
    let o = Once::create(&seg, "o").unwrap();
    let (started_tx, started_rx) = mpsc::channel();
    let (finish_tx, finish_rx) = mpsc::channel::<()>();
    thread::scope(|s| {
        let o = &o;
        let runner = s.spawn(move || {
            o.call_once(move || {
                started_tx.send(()).unwrap();
                finish_rx.recv().unwrap();
            })
        });
        started_rx.recv().unwrap();
        // Another caller, while the initialiser runs: the timed forms give up, `f` unrun.
        assert!(matches!(
            o.call_once_deadline(past(), || unreachable!()),
            Err(WaitTimeoutError::Timeout)
        ));
        // The blocking form waits until the initialiser finishes.
        let second = handshake(
            || o.call_once(|| unreachable!()),
            || finish_tx.send(()).unwrap(),
        );
        assert_eq!(second.unwrap(), OnceOutcome::AlreadyDone);
        assert_eq!(runner.join().unwrap().unwrap(), OnceOutcome::Ran);
    });
    assert_eq!(
        o.call_once_timeout(Duration::ZERO, || unreachable!())
            .unwrap(),
        OnceOutcome::AlreadyDone
    );
}

// ---------------------------------------------------------------------------------------
// Numbers: usize counts, typed errors for what the wire cannot hold.

#[test]
fn counts_that_do_not_fit_the_wire_are_invalid_capacity() {
    let name = ShmName::new("forms_capacity");
    let seg = create(&name);
    let too_big = usize::try_from(i32::MAX).unwrap() + 1;
    let invalid = |r: Result<(), StructureError>| {
        assert!(
            matches!(r, Err(StructureError::InvalidCapacity { .. })),
            "{r:?}"
        );
    };
    invalid(Semaphore::create(&seg, "s1", too_big, 0).map(drop));
    invalid(Semaphore::create(&seg, "s2", 0, too_big).map(drop));
    invalid(Semaphore::create(&seg, "s3", 3, 2).map(drop));
    invalid(Latch::create(&seg, "l", too_big).map(drop));
    invalid(Barrier::create(&seg, "b0", 0).map(drop));
    invalid(Barrier::create(&seg, "b", too_big).map(drop));
    let max = usize::try_from(i32::MAX).unwrap();
    let s = Semaphore::create(&seg, "ok", max, max).unwrap();
    assert_eq!((s.count().unwrap(), s.max_count()), (max, max));
}

#[test]
fn negative_wire_counts_are_corruption_naming_what_was_found() {
    let name = ShmName::new("forms_negative");
    let seg = create(&name);
    let minus_one = (-1_i32).to_le_bytes();
    let found = u64::from(u32::MAX);
    let check = |r: Result<usize, Corruption>, field: &str| match r {
        Err(Corruption::Field {
            field: f, found: v, ..
        }) => {
            assert_eq!((f, v), (field, found));
        }
        other => panic!("{field}: expected corruption, got {other:?}"),
    };

    let s = Semaphore::create(&seg, "s", 1, 0).unwrap();
    poke(&name, s.entry().offset(), &minus_one);
    check(s.count(), "count");
    poke(&name, s.entry().offset() + 4, &minus_one);
    check(s.waiting(), "waiting");
    let e = s.count().unwrap_err();
    assert!(e.to_string().contains(&found.to_string()), "{e}");

    let l = Latch::create(&seg, "l", 2).unwrap();
    poke(&name, l.entry().offset(), &minus_one);
    check(l.count(), "count");
    assert!(matches!(l.try_wait(), Err(TryWaitError::Corrupt(_))));
    poke(&name, l.entry().offset() + 4, &minus_one);
    check(l.initial_count(), "initial_count");

    let b = Barrier::create(&seg, "b", 2).unwrap();
    poke(&name, b.entry().offset(), &minus_one);
    check(b.arrived(), "arrived");

    let rw = RwLock::create(&seg, "rw").unwrap();
    poke(&name, rw.entry().offset(), &minus_one);
    check(rw.snapshot().map(|(r, _)| r), "readers");
}

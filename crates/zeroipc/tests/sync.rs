//! Synchronisation primitives across real processes: mutual exclusion, wake-ups, and crash
//! tests that SIGKILL a holder and prove the others recover or time out, never hang.

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, poke, spawn_child, wait_ok};
use zeroipc::structures::Array;
use zeroipc::sync::{
    Barrier, Latch, LockError, LockTimeoutError, Mutex, Once, OnceOutcome, Semaphore, TryLockError,
    WaitError, WaitTimeoutError,
};
use zeroipc::{Segment, SegmentOptions};

const TEST_DEADLINE: Duration = Duration::from_secs(60);

fn create(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .catalog(false)
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap()
}

/// Polls `cond` until it holds, panicking after the test deadline.
fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < TEST_DEADLINE, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

const INCREMENTS: u64 = 100_000;

#[test]
fn mutex_gives_two_processes_exact_plain_counter() {
    if let Some(name) = child_role("incrementer") {
        let seg = Segment::open(&name).unwrap();
        let m = Mutex::open(&seg, "m").unwrap();
        let counter: Array<u64> = Array::open(&seg, "counter").unwrap();
        for _ in 0..INCREMENTS {
            let g = m.lock_timeout(TEST_DEADLINE).unwrap();
            // A plain read-modify-write: only the mutex makes it exact.
            let v = counter.get(0).unwrap();
            counter.set(0, v + 1).unwrap();
            drop(g);
        }
        return;
    }
    let name = ShmName::new("mutex_exact_counter");
    let seg = create(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let counter: Array<u64> = Array::create(&seg, "counter", 1).unwrap();
    let a = spawn_child(
        "mutex_gives_two_processes_exact_plain_counter",
        "incrementer",
        &name,
    );
    let b = spawn_child(
        "mutex_gives_two_processes_exact_plain_counter",
        "incrementer",
        &name,
    );
    wait_ok(a, 120);
    wait_ok(b, 120);
    assert_eq!(counter.get(0), Some(2 * INCREMENTS));
    assert!(!m.is_locked().unwrap());
    assert_eq!(m.owner().unwrap(), None);
}

#[test]
fn mutex_sigkilled_holder_is_detected_and_taken_over() {
    if let Some(name) = child_role("holder") {
        let seg = Segment::open(&name).unwrap();
        let m = Mutex::open(&seg, "m").unwrap();
        let flag: Array<u32> = Array::open(&seg, "flag").unwrap();
        let _g = m.lock().unwrap();
        flag.set(0, 1).unwrap(); // "I hold it"
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let name = ShmName::new("mutex_sigkill_holder");
    let seg = create(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let flag: Array<u32> = Array::create(&seg, "flag", 1).unwrap();
    let mut child = spawn_child(
        "mutex_sigkilled_holder_is_detected_and_taken_over",
        "holder",
        &name,
    );
    let pid = child.id();
    wait_for("the child to hold the mutex", || flag.get(0) == Some(1));
    assert_eq!(m.owner().unwrap(), Some(pid));
    // While the holder lives, we time out.
    assert!(matches!(
        m.lock_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::Timeout)
    ));

    // A waiter blocked in another thread sees the death once the child is reaped.
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let m = &m;
        let waiter = s.spawn(move || {
            tid_tx.send(common::thread_id()).unwrap();
            match m.lock_timeout(TEST_DEADLINE) {
                Err(LockTimeoutError::OwnerDead(dead)) => {
                    let pid = dead.pid();
                    drop(dead.into_guard());
                    pid
                }
                other => panic!("expected OwnerDead, got {:?}", other.map(|_| ())),
            }
        });
        // The child dies only once the waiter sleeps in `lock_timeout`.
        common::wait_until_thread_asleep("the waiter to block", tid_rx.recv().unwrap());
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(waiter.join().unwrap(), pid);
    });
    // Recovered: the mutex works normally again.
    assert!(!m.is_locked().unwrap());
    let g = m.lock_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(m.owner().unwrap(), Some(std::process::id()));
    g.unlock().unwrap();
}

#[test]
fn mutex_release_in_other_process_wakes_a_blocked_locker() {
    if let Some(name) = child_role("locker") {
        let seg = Segment::open(&name).unwrap();
        let m = Mutex::open(&seg, "m").unwrap();
        let flag: Array<u32> = Array::open(&seg, "flag").unwrap();
        let g = m.lock_timeout(TEST_DEADLINE).unwrap();
        flag.set(0, 2).unwrap();
        drop(g);
        return;
    }
    let name = ShmName::new("mutex_cross_wake");
    let seg = create(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let flag: Array<u32> = Array::create(&seg, "flag", 1).unwrap();
    let g = m.lock().unwrap();
    let child = spawn_child(
        "mutex_release_in_other_process_wakes_a_blocked_locker",
        "locker",
        &name,
    );
    let sem = Semaphore::open(&seg, "m").unwrap(); // the same bytes, viewed as a semaphore
    wait_for("the child to block", || sem.waiting().unwrap() == 1);
    assert_eq!(flag.get(0), Some(0));
    drop(g);
    wait_ok(child, 60);
    assert_eq!(flag.get(0), Some(2));
    assert_eq!(sem.waiting().unwrap(), 0);
}

#[test]
fn corrupt_words_are_typed_errors_naming_the_field() {
    let name = ShmName::new("sync_corrupt");
    let seg = create(&name);
    let m = Mutex::create(&seg, "m").unwrap();
    let s = Semaphore::create(&seg, "s", 0, 3).unwrap();
    let once = Once::create(&seg, "o").unwrap();
    let latch = Latch::create(&seg, "l", 2).unwrap();
    let b = Barrier::create(&seg, "b", 2).unwrap();
    let err = Mutex::open(&seg, "s").unwrap_err();
    assert!(err.to_string().contains("max_count"), "{err}");

    poke(&name, m.entry().offset(), &7u32.to_le_bytes());
    let e = m
        .lock_timeout(Duration::from_millis(10))
        .map(|_| ())
        .unwrap_err();
    assert!(
        matches!(&e, LockTimeoutError::Corrupt(c) if c.to_string().contains("count")),
        "{e}"
    );
    assert!(m.is_locked().is_err());

    poke(&name, s.entry().offset(), &9u32.to_le_bytes()); // above max_count 3
    assert!(matches!(s.try_acquire(), Err(TryLockError::Corrupt(_))));
    assert!(matches!(
        s.release(),
        Err(zeroipc::sync::ReleaseError::Corrupt(_))
    ));

    poke(&name, once.entry().offset(), &5u32.to_le_bytes());
    assert!(matches!(once.call_once(|| ()), Err(WaitError::Corrupt(_))));

    poke(&name, latch.entry().offset(), &(-1i32).to_le_bytes());
    assert!(matches!(latch.wait(), Err(WaitError::Corrupt(_))));
    assert!(latch.count_down(1).is_err());

    poke(&name, b.entry().offset(), &2i32.to_le_bytes()); // already "full" on arrival
    assert!(matches!(b.wait(), Err(WaitError::Corrupt(_))));
    assert_eq!(b.arrived().unwrap(), 2, "the bad arrival was undone");
}

#[test]
fn semaphore_release_in_other_process_wakes_acquirer() {
    if let Some(name) = child_role("releaser") {
        let seg = Segment::open(&name).unwrap();
        let s = Semaphore::open(&seg, "s").unwrap();
        let acquired: Array<u32> = Array::open(&seg, "acquired").unwrap();
        for i in 0..3 {
            // Each release lands while the parent is blocked in its next `acquire_timeout`
            // (counted as waiting once it has taken the permits released before).
            wait_for("the parent to block in acquire", || {
                acquired.get(0) == Some(i) && s.waiting().unwrap() > 0
            });
            s.release().unwrap();
        }
        return;
    }
    let name = ShmName::new("semaphore_cross");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 0, 0).unwrap();
    let acquired: Array<u32> = Array::create(&seg, "acquired", 1).unwrap();
    let child = spawn_child(
        "semaphore_release_in_other_process_wakes_acquirer",
        "releaser",
        &name,
    );
    for i in 1..=3 {
        s.acquire_timeout(TEST_DEADLINE).unwrap();
        acquired.set(0, i).unwrap();
    }
    wait_ok(child, 60);
    assert_eq!(s.count().unwrap(), 0);
    assert!(matches!(s.try_acquire(), Err(TryLockError::WouldBlock)));
    let bounded = Semaphore::create(&seg, "b", 1, 1).unwrap();
    assert!(matches!(
        bounded.release(),
        Err(zeroipc::sync::ReleaseError::Overflow { count: 1, max: 1 })
    ));
}

#[test]
fn once_sigkilled_initialiser_is_recovered() {
    if let Some(name) = child_role("initialiser") {
        let seg = Segment::open(&name).unwrap();
        let once = Once::open(&seg, "init").unwrap();
        let flag: Array<u32> = Array::open(&seg, "flag").unwrap();
        once.call_once(|| {
            flag.set(0, 1).unwrap(); // "I am initialising"
            loop {
                std::thread::sleep(Duration::from_secs(1));
            }
        })
        .unwrap();
        return;
    }
    let name = ShmName::new("once_sigkill");
    let seg = create(&name);
    let once = Once::create(&seg, "init").unwrap();
    let flag: Array<u32> = Array::create(&seg, "flag", 1).unwrap();
    let mut child = spawn_child(
        "once_sigkilled_initialiser_is_recovered",
        "initialiser",
        &name,
    );
    let pid = child.id();
    wait_for("the child to start initialising", || flag.get(0) == Some(1));
    assert!(matches!(
        once.call_once_timeout(Duration::from_millis(20), || panic!("not yet")),
        Err(WaitTimeoutError::Timeout)
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    let mut ran = false;
    let outcome = once
        .call_once_timeout(TEST_DEADLINE, || ran = true)
        .unwrap();
    assert_eq!(outcome, OnceOutcome::Recovered { pid });
    assert!(ran);
    assert!(once.is_completed().unwrap());
    assert_eq!(
        once.call_once(|| panic!("twice")).unwrap(),
        OnceOutcome::AlreadyDone
    );
}

#[test]
fn once_waiter_in_other_process_sees_done() {
    if let Some(name) = child_role("waiter") {
        let seg = Segment::open(&name).unwrap();
        let once = Once::open(&seg, "init").unwrap();
        let data: Array<u32> = Array::open(&seg, "data").unwrap();
        // Says which thread is about to wait for the parent's initialisation.
        data.set(1, common::thread_id()).unwrap();
        let out = once
            .call_once_timeout(TEST_DEADLINE, || panic!("the parent initialises"))
            .unwrap();
        assert_eq!(out, OnceOutcome::AlreadyDone);
        assert_eq!(data.get(0), Some(42));
        return;
    }
    let name = ShmName::new("once_cross");
    let seg = create(&name);
    let once = Once::create(&seg, "init").unwrap();
    // [0]: the data the initialiser publishes; [1]: the child's waiting thread.
    let data: Array<u32> = Array::create(&seg, "data", 2).unwrap();
    let child = std::cell::Cell::new(None);
    once.call_once(|| {
        let c = spawn_child("once_waiter_in_other_process_sees_done", "waiter", &name);
        // Finish only once the child sleeps waiting for this initialisation.
        wait_for("the child to start", || data.get(1) != Some(0));
        common::wait_until_asleep(
            "the child to wait for the initialisation",
            c.id(),
            data.get(1).unwrap(),
        );
        child.set(Some(c));
        data.set(0, 42).unwrap();
    })
    .unwrap();
    wait_ok(child.take().unwrap(), 60);
}

#[test]
fn latch_count_down_in_other_processes_releases_waiter() {
    if let Some(name) = child_role("worker") {
        let seg = Segment::open(&name).unwrap();
        Latch::open(&seg, "done").unwrap().count_down(1).unwrap();
        return;
    }
    let name = ShmName::new("latch_cross");
    let seg = create(&name);
    let latch = Latch::create(&seg, "done", 3).unwrap();
    let kids: Vec<_> = (0..3)
        .map(|_| {
            spawn_child(
                "latch_count_down_in_other_processes_releases_waiter",
                "worker",
                &name,
            )
        })
        .collect();
    latch.wait_timeout(TEST_DEADLINE).unwrap();
    for k in kids {
        wait_ok(k, 60);
    }
    assert_eq!(latch.count().unwrap(), 0);
    latch.count_down(9).unwrap(); // saturated: stays 0
    assert_eq!(latch.count().unwrap(), 0);
}

#[test]
fn barrier_cycles_across_processes() {
    const CYCLES: i32 = 20;
    if let Some(name) = child_role("participant") {
        let seg = Segment::open(&name).unwrap();
        let b = Barrier::open(&seg, "b").unwrap();
        for _ in 0..CYCLES {
            b.wait_timeout(TEST_DEADLINE).unwrap();
        }
        return;
    }
    let name = ShmName::new("barrier_cross");
    let seg = create(&name);
    let b = Barrier::create(&seg, "b", 3).unwrap();
    let kids: Vec<_> = (0..2)
        .map(|_| spawn_child("barrier_cycles_across_processes", "participant", &name))
        .collect();
    let mut leaders = 0;
    for _ in 0..CYCLES {
        leaders += i32::from(b.wait_timeout(TEST_DEADLINE).unwrap().is_leader());
    }
    for k in kids {
        wait_ok(k, 60);
    }
    assert_eq!(b.generation().unwrap(), u32::try_from(CYCLES).unwrap());
    assert_eq!(b.arrived().unwrap(), 0);
    assert!(leaders <= CYCLES);
}

#[test]
fn barrier_sigkilled_participant_makes_others_time_out_and_barrier_stays_usable() {
    if let Some(name) = child_role("doomed") {
        let seg = Segment::open(&name).unwrap();
        let flag: Array<u32> = Array::open(&seg, "flag").unwrap();
        flag.set(0, 1).unwrap(); // "I am up" — and never arrive
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let name = ShmName::new("barrier_sigkill");
    let seg = create(&name);
    let b = Barrier::create(&seg, "b", 3).unwrap();
    let flag: Array<u32> = Array::create(&seg, "flag", 1).unwrap();
    let mut child = spawn_child(
        "barrier_sigkilled_participant_makes_others_time_out_and_barrier_stays_usable",
        "doomed",
        &name,
    );
    wait_for("the child to start", || flag.get(0) == Some(1));
    child.kill().unwrap();
    child.wait().unwrap();
    // Two surviving participants (threads) wait; the third is dead: both time out.
    std::thread::scope(|s| {
        let other = s.spawn(|| b.wait_timeout(Duration::from_millis(100)));
        let mine = b.wait_timeout(Duration::from_millis(100));
        assert!(matches!(mine, Err(WaitTimeoutError::Timeout)), "{mine:?}");
        assert!(matches!(
            other.join().unwrap(),
            Err(WaitTimeoutError::Timeout)
        ));
    });
    // Arrivals were withdrawn (no D-19 drift): three new participants pass.
    assert_eq!(b.arrived().unwrap(), 0);
    std::thread::scope(|s| {
        let t1 = s.spawn(|| b.wait_timeout(TEST_DEADLINE).unwrap());
        let t2 = s.spawn(|| b.wait_timeout(TEST_DEADLINE).unwrap());
        b.wait_timeout(TEST_DEADLINE).unwrap();
        t1.join().unwrap();
        t2.join().unwrap();
    });
    assert_eq!(b.generation().unwrap(), 1);
}

#[test]
fn rwlock_sigkilled_writer_is_cleared_by_reader_and_lock_recovers() {
    use zeroipc::sync::RwLock;
    if let Some(name) = child_role("writer") {
        let seg = Segment::open(&name).unwrap();
        let lock = RwLock::open(&seg, "rw").unwrap();
        let flag: Array<u32> = Array::open(&seg, "flag").unwrap();
        let _w = lock.write().unwrap();
        flag.set(0, 1).unwrap(); // "I hold the write lock"
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let name = ShmName::new("rwlock_sigkill_writer");
    let seg = create(&name);
    let lock = RwLock::create(&seg, "rw").unwrap();
    let flag: Array<u32> = Array::create(&seg, "flag", 1).unwrap();
    let mut child = spawn_child(
        "rwlock_sigkilled_writer_is_cleared_by_reader_and_lock_recovers",
        "writer",
        &name,
    );
    let pid = child.id();
    wait_for("the child to hold the write lock", || {
        flag.get(0) == Some(1)
    });
    assert_eq!(lock.snapshot().unwrap(), (0, true));
    assert!(matches!(
        lock.read_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        lock.write_timeout(Duration::from_millis(20)),
        Err(LockTimeoutError::Timeout)
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    match lock.read_timeout(TEST_DEADLINE) {
        Err(LockTimeoutError::OwnerDead(dead)) => {
            assert_eq!(dead.pid(), pid);
            assert_eq!(lock.snapshot().unwrap(), (1, false));
            drop(dead.into_guard());
        }
        other => panic!("expected OwnerDead, got {:?}", other.map(|_| ())),
    }
    assert_eq!(lock.snapshot().unwrap(), (0, false));
    let w = lock.write_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(
        lock.writer_mutex().owner().unwrap(),
        Some(std::process::id())
    );
    drop(w);
    let _r = lock.read_timeout(Duration::from_secs(5)).unwrap();
}

#[test]
fn rwlock_writer_excludes_readers_across_processes() {
    use zeroipc::sync::RwLock;
    const ROUNDS: u64 = 2_000;
    if let Some(name) = child_role("rw_writer") {
        let seg = Segment::open(&name).unwrap();
        let lock = RwLock::open(&seg, "rw").unwrap();
        let pair: Array<u64> = Array::open(&seg, "pair").unwrap();
        for i in 1..=ROUNDS {
            let _w = lock.write_timeout(TEST_DEADLINE).unwrap();
            pair.set(0, i).unwrap();
            pair.set(1, i).unwrap();
        }
        return;
    }
    let name = ShmName::new("rwlock_exclusion");
    let seg = create(&name);
    let lock = RwLock::create(&seg, "rw").unwrap();
    let pair: Array<u64> = Array::create(&seg, "pair", 2).unwrap();
    let child = spawn_child(
        "rwlock_writer_excludes_readers_across_processes",
        "rw_writer",
        &name,
    );
    let t0 = Instant::now();
    loop {
        let r = lock.read_timeout(TEST_DEADLINE).unwrap();
        let (a, b) = (pair.get(0).unwrap(), pair.get(1).unwrap());
        drop(r);
        assert_eq!(a, b, "a reader saw a half-written pair");
        if a == ROUNDS {
            break;
        }
        assert!(t0.elapsed() < TEST_DEADLINE);
    }
    wait_ok(child, 60);
    assert_eq!(lock.snapshot().unwrap(), (0, false));
}

#[test]
fn composite_names_are_checked_first_and_half_created_is_reported() {
    use zeroipc::sync::RwLock;
    let name = ShmName::new("composite_names");
    let seg = create(&name);
    let long = "a".repeat(26); // + "_state" = 32 bytes > 31
    assert!(RwLock::create(&seg, &long).is_err());
    assert!(seg.entries().unwrap().is_empty(), "nothing was created");
    // A creator that died after `_state` and `_rmtx`:
    Mutex::create(&seg, "half_rmtx").unwrap();
    Semaphore::create(&seg, "half_state", 0, 0).ok(); // any entry will do for the test
    let e = RwLock::open(&seg, "half").unwrap_err();
    assert!(e.to_string().contains("half_wmtx"), "{e}");
    let e = RwLock::create(&seg, "half").unwrap_err();
    assert!(e.to_string().contains("half-created"), "{e}");
    assert!(matches!(
        RwLock::open(&seg, "none"),
        Err(zeroipc::StructureError::Table(_))
    ));
    RwLock::create(&seg, "ok").unwrap();
    assert!(matches!(
        RwLock::create(&seg, "ok"),
        Err(zeroipc::StructureError::Table(_))
    ));
    RwLock::open(&seg, "ok").unwrap();
}

#[test]
fn event_signals_cross_processes_in_both_modes() {
    use zeroipc::sync::{Event, EventMode};
    if let Some(name) = child_role("manual_waiter") {
        let seg = Segment::open(&name).unwrap();
        let ev = Event::open(&seg, "manual").unwrap();
        ev.wait_timeout(TEST_DEADLINE).unwrap();
        Event::open(&seg, "auto").unwrap().signal().unwrap();
        return;
    }
    let name = ShmName::new("event_cross");
    let seg = create(&name);
    let manual = Event::create(&seg, "manual", EventMode::ManualReset).unwrap();
    let auto = Event::create(&seg, "auto", EventMode::AutoReset).unwrap();
    let kids: Vec<_> = (0..2)
        .map(|_| {
            spawn_child(
                "event_signals_cross_processes_in_both_modes",
                "manual_waiter",
                &name,
            )
        })
        .collect();
    wait_for("both children to wait", || manual.waiting().unwrap() == 2);
    manual.signal().unwrap(); // releases both
    // Each child signals the auto-reset event once: two waits pass, a third times out.
    auto.wait_timeout(TEST_DEADLINE).unwrap();
    auto.wait_timeout(TEST_DEADLINE).unwrap();
    for k in kids {
        wait_ok(k, 60);
    }
    assert!(matches!(
        auto.wait_timeout(Duration::from_millis(10)),
        Err(WaitTimeoutError::Timeout)
    ));
    assert!(!auto.is_signaled().unwrap());
    assert!(manual.is_signaled().unwrap());
    manual.pulse().unwrap();
    assert!(!manual.is_signaled().unwrap());
}

#[test]
fn monitor_wait_notify_across_processes() {
    use zeroipc::sync::Monitor;
    if let Some(name) = child_role("consumer") {
        let seg = Segment::open(&name).unwrap();
        let mon = Monitor::open(&seg, "mon").unwrap();
        let items: Array<u32> = Array::open(&seg, "items").unwrap();
        let g = mon.lock_timeout(TEST_DEADLINE).unwrap();
        let (_g, timed_out) = mon
            .wait_until_timeout(g, TEST_DEADLINE, || items.get(0) == Some(1))
            .unwrap();
        assert!(!timed_out);
        return;
    }
    let name = ShmName::new("monitor_cross");
    let seg = create(&name);
    let mon = Monitor::create(&seg, "mon").unwrap();
    let items: Array<u32> = Array::create(&seg, "items", 1).unwrap();
    let kids: Vec<_> = (0..2)
        .map(|_| spawn_child("monitor_wait_notify_across_processes", "consumer", &name))
        .collect();
    wait_for("both consumers to wait", || mon.waiting().unwrap() == 2);
    {
        let _g = mon.lock().unwrap();
        items.set(0, 1).unwrap();
    }
    mon.notify_all().unwrap();
    for k in kids {
        wait_ok(k, 60);
    }
    // D-24: exactly one permit per notified waiter, none left over.
    assert_eq!(mon.condition().count().unwrap(), 0);
    assert_eq!(mon.waiting().unwrap(), 0);
    mon.notify_all().unwrap();
    mon.notify_one().unwrap();
    assert_eq!(
        mon.condition().count().unwrap(),
        0,
        "no waiters: no permits"
    );
}

#[test]
fn monitor_timed_out_waiters_leave_no_permits_behind() {
    use zeroipc::sync::Monitor;
    let name = ShmName::new("monitor_d24");
    let seg = create(&name);
    let mon = Monitor::create(&seg, "mon").unwrap();
    const TIMEOUT: Duration = Duration::from_millis(300);
    // Each round notifies (twice) once all three waiters wait, at a point near the end of
    // their timeouts, so that notifications meet waiters that are timing out. No outcome
    // hangs on where the notify lands: whatever the interleaving, nobody is left counted
    // and no permit is left behind. The rounds only aim it at different points: before
    // the last waiter's timeout ends, at its end, and after it (when all have timed out).
    // (A waiter claimed by a notify waits for its permit for the shorter of 100 ms and its
    // timeout: a long timeout gives this thread the full 100 ms between claiming and
    // releasing, however loaded the machine.)
    for aim in [
        Duration::from_millis(280),
        TIMEOUT,
        Duration::from_millis(320),
    ] {
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    let g = mon.lock().unwrap();
                    let (_g, _timed_out) = mon.wait_timeout(g, TIMEOUT).unwrap();
                });
            }
            // Every waiter's timeout started by the time all three are counted: the last
            // one ends at most TIMEOUT from now.
            wait_for("the three waiters to wait", || mon.waiting().unwrap() == 3);
            std::thread::sleep(aim);
            mon.notify_all().unwrap();
            mon.notify_all().unwrap();
        });
        assert_eq!(mon.waiting().unwrap(), 0, "aimed at {aim:?}");
        assert_eq!(
            mon.condition().count().unwrap(),
            0,
            "permits piled up (D-24), aimed at {aim:?}"
        );
    }
}

#[test]
fn signal_wait_for_change_sees_value_set_in_other_process() {
    use zeroipc::sync::Signal;
    if let Some(name) = child_role("watcher") {
        let seg = Segment::open(&name).unwrap();
        let sig: Signal<u64> = Signal::open(&seg, "sig").unwrap();
        // Start from the version `create` gives (0). `ready` carries the id of the thread
        // that waits: the parent makes each update only once it sleeps in the wait.
        let mut seen = 0;
        Signal::<u32>::open(&seg, "ready")
            .unwrap()
            .set(common::thread_id())
            .unwrap();
        let mut values = Vec::new();
        while values.last() != Some(&5) {
            seen = sig.wait_for_change_timeout(seen, TEST_DEADLINE).unwrap();
            values.push(sig.get().unwrap());
        }
        assert!(values.windows(2).all(|w| w[0] < w[1]), "{values:?}");
        return;
    }
    let name = ShmName::new("signal_cross");
    let seg = create(&name);
    let sig: Signal<u64> = Signal::create(&seg, "sig", 0).unwrap();
    let ready: Signal<u32> = Signal::create(&seg, "ready", 0).unwrap();
    let child = spawn_child(
        "signal_wait_for_change_sees_value_set_in_other_process",
        "watcher",
        &name,
    );
    ready.wait_for_change_timeout(0, TEST_DEADLINE).unwrap();
    let watcher = ready.get().unwrap();
    for v in 1..=5u64 {
        common::wait_until_asleep("the watcher to wait for a change", child.id(), watcher);
        sig.update(|x| x + 1).unwrap();
        assert_eq!(sig.get().unwrap(), v);
    }
    wait_ok(child, 60);
    assert_eq!(sig.version().unwrap(), 5);
    assert!(matches!(
        sig.wait_for_change_timeout(5, Duration::from_millis(5)),
        Err(WaitTimeoutError::Timeout)
    ));
}

// ---------------------------------------------------------------------------------------
// Semaphore permits held by dead processes (issue #4: the permit-holder registry).

/// The registry's table entry and slot size (docs/EXTENSIONS.md).
const PERMITS_ENTRY: &str = "__zeroipc_permits";
const PERMIT_SLOT: u64 = 16;

/// The four words of registry slot `s`: pid, entry_index, held, reserved.
fn permit_slot(seg: &Segment, s: u64) -> [u32; 4] {
    let e = seg.find(PERMITS_ENTRY).unwrap();
    let b = seg
        .read_bytes(e.offset() + PERMIT_SLOT * s, PERMIT_SLOT)
        .unwrap();
    core::array::from_fn(|i| u32::from_le_bytes(b[4 * i..4 * i + 4].try_into().unwrap()))
}

/// Writes the four words of registry slot `s` through the file, as a hostile peer would.
fn poke_permit_slot(name: &ShmName, seg: &Segment, s: u64, words: [u32; 4]) {
    let e = seg.find(PERMITS_ENTRY).unwrap();
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    poke(name, e.offset() + PERMIT_SLOT * s, &bytes);
}

/// The pid of a process that has exited and been reaped.
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Runs `f` on a thread; panics if it has not returned within `secs` (a hang).
fn watchdog<R: Send + 'static>(secs: u64, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs))
        .expect("the call hung (watchdog)")
}

#[test]
fn semaphore_permits_of_a_killed_holder_are_reclaimed_by_an_untimed_acquire() {
    if let Some(name) = child_role("holder") {
        let seg = Segment::open(&name).unwrap();
        let s = Semaphore::open(&seg, "s").unwrap();
        s.acquire().unwrap();
        s.acquire().unwrap();
        std::thread::sleep(TEST_DEADLINE); // killed by the parent long before
        return;
    }
    let name = ShmName::new("sem_reclaim");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 2, 2).unwrap();
    // The registry comes with the semaphore's create (never with an acquire), all free.
    assert_eq!(permit_slot(&seg, 0), [0; 4], "created with the semaphore");
    let mut child = spawn_child(
        "semaphore_permits_of_a_killed_holder_are_reclaimed_by_an_untimed_acquire",
        "holder",
        &name,
    );
    let pid = child.id();
    wait_for("the child's two permits", || {
        s.count().unwrap() == 0 && permit_slot(&seg, 0)[2] == 2
    });
    assert_eq!(permit_slot(&seg, 0), [pid, s.entry().index(), 2, 0]);

    // Alive: its permits are its own.
    assert!(matches!(
        s.acquire_timeout(Duration::from_millis(300)),
        Err(LockTimeoutError::Timeout)
    ));
    assert_eq!(permit_slot(&seg, 0), [pid, s.entry().index(), 2, 0]);

    child.kill().unwrap();
    child.wait().unwrap(); // reaped: kill(pid, 0) now fails
    let s2 = s.clone();
    let r = watchdog(30, move || s2.acquire().map_err(LockError::drop_guard));
    match r {
        Err(LockError::OwnerDead(d)) => assert_eq!(d.pid(), pid),
        other => panic!("expected OwnerDead({pid}), got {other:?}"),
    }
    // Both permits came back; the reclaimer holds one of them.
    assert_eq!(s.count().unwrap(), 1);
    assert_eq!(s.waiting().unwrap(), 0);
    // Our slot was claimed (the first free one) before we took anything; the dead slot
    // was freed.
    assert_eq!(permit_slot(&seg, 0), [0, s.entry().index(), 0, 0]);
    assert_eq!(
        permit_slot(&seg, 1),
        [std::process::id(), s.entry().index(), 1, 0]
    );
    s.try_acquire().unwrap();
    assert_eq!(permit_slot(&seg, 1)[2], 2);
    assert!(matches!(s.try_acquire(), Err(TryLockError::WouldBlock)));
    s.release().unwrap();
    s.release().unwrap();
    assert_eq!(s.count().unwrap(), 2);
    assert_eq!(permit_slot(&seg, 1)[2], 0);
    assert!(s.release().is_err(), "no permit was created");
    assert_eq!(
        permit_slot(&seg, 1),
        [std::process::id(), s.entry().index(), 0, 0],
        "a refused release leaves the record (and no intent)"
    );
}

#[test]
fn semaphore_corrupt_permit_registry_never_panics_or_over_releases() {
    let name = ShmName::new("sem_reclaim_corrupt");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 0, 2).unwrap();
    let t = Semaphore::create(&seg, "t", 1, 1).unwrap();
    t.acquire().unwrap(); // our slot 0 (of the registry `s`'s create added) records `t`
    assert_eq!(
        permit_slot(&seg, 0),
        [std::process::id(), t.entry().index(), 1, 0]
    );
    let idx = s.entry().index();
    let dead = dead_pid();
    let ppid = std::os::unix::process::parent_id(); // alive, not ours
    let pending = 1u32 << 31;
    let slots: [[u32; 4]; 7] = [
        [dead, idx, u32::MAX, 0],        // 1: huge held: dropped, never released
        [dead, 9_999, 5, 0],             // 2: entry out of range: never matches
        [ppid, idx, 1, 0],               // 3: live unrelated process: left alone
        [dead | pending, idx, 1, 0],     // 4: died mid-protocol holding 1: reclaimed
        [0, idx, 7, 0],                  // 5: free slot: claimed by us, `held` reset
        [u32::MAX, idx, 3, u32::MAX],    // 6: garbage pid, held above max: dropped
        [dead, t.entry().index(), 1, 0], // 7: another semaphore's: not ours to reclaim
    ];
    for (i, w) in slots.iter().enumerate() {
        poke_permit_slot(&name, &seg, i as u64 + 1, *w);
    }
    let s2 = s.clone();
    let r = watchdog(30, move || {
        s2.acquire_timeout(Duration::from_secs(20))
            .map_err(LockTimeoutError::drop_guard)
    });
    match r {
        Err(LockTimeoutError::OwnerDead(d)) => assert_eq!(d.pid(), dead),
        other => panic!("expected OwnerDead({dead}), got {other:?}"),
    }
    // Exactly the one recorded permit came back, and we hold it.
    assert_eq!(s.count().unwrap(), 0);
    assert!(matches!(
        s.acquire_timeout(Duration::from_millis(200)),
        Err(LockTimeoutError::Timeout)
    ));
    assert_eq!(s.count().unwrap(), 0);
    // Our slot for `s` was claimed before anything was taken: slot 5, the first free one
    // (its stale `held` reset); slot 1 was freed (its huge count dropped).
    assert_eq!(permit_slot(&seg, 5), [std::process::id(), idx, 1, 0]);
    assert_eq!(permit_slot(&seg, 1), [0, idx, 0, 0]);
    assert_eq!(permit_slot(&seg, 2), slots[1]);
    assert_eq!(permit_slot(&seg, 3), slots[2]);
    assert_eq!(permit_slot(&seg, 4), [0, idx, 0, 0]);
    // The garbage slot's held and intent are cleared with it.
    assert_eq!(permit_slot(&seg, 6), [0, idx, 0, 0]);
    assert_eq!(permit_slot(&seg, 7), slots[6]);
    s.release().unwrap();
    assert_eq!(s.count().unwrap(), 1);
    t.release().unwrap();
    assert_eq!(t.count().unwrap(), 1);
}

#[test]
fn semaphore_without_holder_tracking_records_and_reclaims_nothing() {
    let name = ShmName::new("sem_untracked");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 1, 1)
        .unwrap()
        .without_holder_tracking();
    s.acquire().unwrap();
    s.release().unwrap();
    // The registry came with the create (another handle may track); this one took no slot.
    for slot in 0..64 {
        assert_eq!(
            permit_slot(&seg, slot),
            [0; 4],
            "slot {slot}: untracked use"
        );
    }
}

mod permit_registry_props {
    use super::*;
    use proptest::prelude::*;

    /// A slot word pattern: mostly values that reach the reclaim path.
    fn slot(idx: u32, dead: u32, ppid: u32) -> impl Strategy<Value = [u32; 4]> {
        let pid = prop_oneof![
            Just(0),
            Just(dead),
            Just(dead | 1 << 31),
            Just(ppid),
            any::<u32>()
        ];
        let entry = prop_oneof![3 => Just(idx), 1 => any::<u32>()];
        let held = prop_oneof![3 => 0u32..4, 1 => any::<u32>()];
        (pid, entry, held, any::<u32>()).prop_map(|(p, e, h, r)| [p, e, h, r])
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

        /// Whatever the registry holds, a blocked acquire returns (never panics, never
        /// reports the count corrupt) and the count stays within `max_count`.
        #[test]
        fn semaphore_acquire_over_a_random_permit_registry_stays_in_bounds(
            seed_slots in proptest::collection::vec(
                slot(0, dead_pid_once(), std::os::unix::process::parent_id()),
                63,
            ),
        ) {
            let name = ShmName::new("sem_registry_prop");
            let seg = create(&name);
            let s = Semaphore::create(&seg, "s", 1, 3).unwrap();
            assert_eq!(s.entry().index(), 0);
            s.acquire().unwrap(); // our slot is 0 (the registry came with `s`)
            for (i, w) in seed_slots.iter().enumerate() {
                poke_permit_slot(&name, &seg, i as u64 + 1, *w);
            }
            for _ in 0..3 {
                match s.acquire_timeout(Duration::from_millis(5)) {
                    Ok(()) | Err(LockTimeoutError::OwnerDead(_)) => {
                        let c = s.count().unwrap();
                        prop_assert!((0..=3).contains(&c), "count {c}");
                    }
                    Err(LockTimeoutError::Timeout) => {}
                    Err(e) => prop_assert!(false, "unexpected {e:?}"),
                }
                let c = s.count().unwrap();
                prop_assert!((0..=3).contains(&c), "count {c}");
            }
        }
    }

    /// One dead pid for the whole run (spawning per generated value would be slow).
    fn dead_pid_once() -> u32 {
        static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        *PID.get_or_init(dead_pid)
    }
}

#[test]
fn semaphore_threads_of_one_process_share_one_registry_slot() {
    let name = ShmName::new("sem_registry_threads");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 4, 4).unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..2_000 {
                    s.acquire_timeout(TEST_DEADLINE).unwrap();
                    s.release().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    assert_eq!(s.count().unwrap(), 4);
    let me = std::process::id();
    let ours: Vec<u64> = (0..64).filter(|&i| permit_slot(&seg, i)[0] == me).collect();
    assert_eq!(ours, vec![0], "one slot for this process and semaphore");
    assert_eq!(permit_slot(&seg, 0), [me, s.entry().index(), 0, 0]);
}

//! Regressions for what the `structure_ops` fuzz target found (issue #7): each one is a
//! segment corrupted the way the fuzzer's input did, and the operation that hung on it.
//! Each must now return a typed error (the test fails by hanging under nextest's timeout if
//! the defect returns).

mod common;

use std::time::Duration;

use common::{ShmName, poke};
use zeroipc::codata::stream::{Stream, TryEmitError};
use zeroipc::sync::{Event, EventMode, Monitor, Mutex, Signal};
use zeroipc::{LockTimeoutError, ReleaseError, Segment, SegmentOptions};

fn segment(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap()
}

/// `notify_all` released one permit per counted waiter, in a loop: a corrupt count of four
/// billion waiters kept it busy for hours. Now all permits go in one step, and a count that
/// does not fit is an overflow error.
#[test]
fn notify_all_with_a_corrupt_waiter_count_returns_an_error_at_once() {
    let name = ShmName::new("notify-all-corrupt");
    let seg = segment(&name);
    let m = Monitor::create(&seg, "mon").unwrap();
    let count = seg.find("mon_count").unwrap();
    poke(&name, count.offset(), &0xffff_ff17_u32.to_le_bytes());
    match m.notify_all() {
        Err(ReleaseError::Overflow { count, max }) => {
            assert_eq!(
                (count, max),
                (0, 0),
                "the condition semaphore was untouched"
            );
        }
        other => panic!("expected an overflow error, got {other:?}"),
    }
    // The condition semaphore got nothing: a waiter is not let through by the bad count.
    assert_eq!(m.condition().count().unwrap(), 0);
    // A sane count still works, and gives exactly that many permits.
    poke(&name, count.offset(), &3_u32.to_le_bytes());
    m.notify_all().unwrap();
    assert_eq!(m.condition().count().unwrap(), 3);
}

/// `Signal::get`/`set`/`update` take the signal's mutex without a deadline: with the mutex
/// held by someone who never releases it (here: its bytes say "locked" and name no owner,
/// as a crashed C++ holder leaves them) they wait forever. The `_timeout` forms answer.
#[test]
fn signal_timeouts_answer_when_its_mutex_is_never_released() {
    let name = ShmName::new("signal-stuck-mutex");
    let seg = segment(&name);
    let s = Signal::<u64>::create(&seg, "sig", 5).unwrap();
    assert_eq!(s.get_timeout(Duration::ZERO).unwrap(), 5);
    let mtx = seg.find("sig_mtx").unwrap();
    poke(&name, mtx.offset(), &0_u32.to_le_bytes()); // count 0: locked, owner 0: unknown
    assert!(Mutex::open(&seg, "sig_mtx").unwrap().is_locked().unwrap());
    let wait = Duration::from_millis(20);
    assert!(matches!(
        s.get_timeout(wait),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.set_timeout(6, wait),
        Err(LockTimeoutError::Timeout)
    ));
    assert!(matches!(
        s.update_timeout(|v| v + 1, wait),
        Err(LockTimeoutError::Timeout)
    ));
    assert_eq!(s.version().unwrap(), 0, "nothing was written");
    poke(&name, mtx.offset(), &1_u32.to_le_bytes());
    assert_eq!(s.set_timeout(6, wait).unwrap(), 1);
    assert_eq!(s.get_timeout(wait).unwrap(), 6);
}

/// A stream's lock naming a live process that never lets go (here: our parent, alive for
/// the whole test) made even `try_next` wait the fixed 1 s stall bound; the bound is now the
/// handle's own (`with_stall_timeout`), and the answer is `Stalled`. Since issue #15 reads
/// take no lock at all (a CAS of the ring's `read_pos`): only emits wait for it.
#[test]
fn a_stream_lock_held_by_a_live_stranger_is_reported_as_stalled() {
    let name = ShmName::new("stream-stuck-lock");
    let seg = segment(&name);
    let s = Stream::<u64>::create(&seg, "st", 8).unwrap();
    s.emit(1).unwrap();
    let header = seg.find("st_header").unwrap();
    let stranger = std::os::unix::process::parent_id();
    poke(&name, header.offset() + 52, &stranger.to_le_bytes());
    let s = s.with_stall_timeout(Duration::from_millis(5));
    assert_eq!(s.try_emit(2), Err(TryEmitError::Stalled(2)));
    assert_eq!(s.try_next(), Ok(1), "reads do not wait for the emit lock");
    poke(&name, header.offset() + 52, &0_u32.to_le_bytes());
    assert_eq!(s.try_emit(2), Ok(()));
    assert_eq!(s.try_next(), Ok(2));
}

/// A manual-reset Event whose `waiting` count names waiters that will never leave (they
/// died while counted, or the word is corrupt) makes every `pulse` wait out its grace
/// period (50 ms by default; the fuzz target spent most of its time there). The grace is
/// now the caller's to set, and a pulse still signals and resets when it runs out.
#[test]
fn pulse_with_stranded_waiters_waits_only_its_own_grace_then_resets() {
    let name = ShmName::new("event-stranded-waiters");
    let seg = segment(&name);
    let e = Event::create(&seg, "ev", EventMode::ManualReset)
        .unwrap()
        .with_stall_timeout(Duration::from_millis(1));
    assert_eq!(e.stall_timeout(), Duration::from_millis(1));
    let header = seg.find("ev").unwrap();
    poke(&name, header.offset() + 8, &7_u32.to_le_bytes()); // `waiting`
    assert_eq!(e.waiting().unwrap(), 7);
    e.pulse().unwrap();
    assert!(!e.is_signaled().unwrap(), "the pulse reset the event");
    assert_eq!(e.waiting().unwrap(), 7, "a pulse never rewrites the count");
    // Another handle to the same event keeps the default.
    let other = Event::open(&seg, "ev").unwrap();
    assert_eq!(other.stall_timeout(), Duration::from_millis(50));
}

/// `Monitor::wait_timeout` bounded its wait for a notification but then re-took the mutex
/// without a deadline: a mutex taken meanwhile by a holder that never lets go (here its
/// bytes say "locked" and name no owner, as a crashed C++ holder leaves them) kept it from
/// ever returning. Found by `concurrent_corruption`. The re-lock now gives up a second
/// `timeout` later, with `Timeout` and the mutex not held.
#[test]
fn monitor_wait_timeout_gives_up_on_a_mutex_that_is_never_released() {
    let name = ShmName::new("monitor-stuck-relock");
    let seg = segment(&name);
    let m = Monitor::create(&seg, "mon").unwrap();
    let mtx = seg.find("mon_mtx").unwrap();
    let mtx_handle = Mutex::open(&seg, "mon_mtx").unwrap();
    std::thread::scope(|s| {
        // The stranger must take the mutex while the waiter waits for a notification; the
        // long timeout leaves this thread a second to do so, however loaded the machine.
        let waiter = s.spawn(|| {
            let g = m.lock().unwrap();
            m.wait_timeout(g, Duration::from_secs(1)).map(|_| ())
        });
        // The waiter is counted before it lets go of the mutex: wait for both.
        while m.waiting().unwrap() == 0 || mtx_handle.is_locked().unwrap() {
            std::thread::yield_now();
        }
        poke(&name, mtx.offset(), &0_u32.to_le_bytes()); // count 0: locked, owner unknown
        match waiter.join().unwrap() {
            Err(LockTimeoutError::Timeout) => {}
            other => panic!("expected Timeout, got {other:?}"),
        }
    });
    assert!(m.try_lock().is_err(), "the stranger still holds the mutex");
    assert_eq!(m.waiting().unwrap(), 0, "the timed-out waiter withdrew");
    // Once the stranger lets go, the monitor works as before.
    poke(&name, mtx.offset(), &1_u32.to_le_bytes());
    let g = m.lock_timeout(Duration::ZERO).unwrap();
    let (g, timed_out) = m.wait_timeout(g, Duration::ZERO).unwrap();
    assert!(timed_out);
    drop(g);
}

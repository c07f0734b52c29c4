//! zeroipc never writes the table of a segment at run time (issue #13, item 3).
//!
//! Upstream creators allocate without any lock, so a table entry added at an arbitrary
//! moment could collide with theirs and lose one; it would also eat into the 64 entries
//! upstream openers assume. zeroipc's registries (`__zeroipc_permits`, `__zeroipc_waiters`,
//! docs/EXTENSIONS.md) are therefore created only with the structure that needs them
//! (`Semaphore::create`, `Queue::create`); blocking operations only look them up, and
//! without one they degrade (permits untracked, sleepers polling every millisecond).

mod common;

use std::time::{Duration, Instant};

use common::{ShmName, child_role, golden_dir, image, load_golden, spawn_child, wait_ok};
use zeroipc::structures::Queue;
use zeroipc::structures::queue::{PopTimeoutError, PushTimeoutError};
use zeroipc::sync::{Event, EventMode, LockTimeoutError, Monitor, Semaphore};
use zeroipc::{Segment, SegmentOptions};

const PERMITS: &str = "__zeroipc_permits";
const WAITERS: &str = "__zeroipc_waiters";
const SHORT: Duration = Duration::from_millis(30);

fn entry_count(seg: &Segment) -> u32 {
    seg.header().unwrap().entry_count
}

/// The golden C++ image's entry count, from its manifest (84).
fn cpp_all_entries() -> u32 {
    let n = image("cpp_all.bin")["entry_count"].as_u64().unwrap();
    u32::try_from(n).unwrap()
}

#[test]
fn semaphore_and_queue_use_leave_a_cpp_segment_byte_for_byte_unchanged() {
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    assert_eq!(entry_count(&seg), 84);
    assert_eq!(cpp_all_entries(), 84, "the manifest agrees");

    // `sem`: count 2 of max 5. Every acquire form, each released again.
    let sem = Semaphore::open(&seg, "sem").unwrap();
    sem.acquire().unwrap();
    sem.release().unwrap();
    sem.try_acquire().unwrap();
    sem.release().unwrap();
    sem.acquire_timeout(SHORT).unwrap();
    sem.acquire_deadline(Instant::now() + SHORT).unwrap();
    sem.release().unwrap();
    sem.release().unwrap();
    assert_eq!(sem.count(), Ok(2));

    // `sem_unb`: count 2, unbounded. Drained, then a blocked acquire (which looks for dead
    // holders' permits) times out.
    let unb = Semaphore::open(&seg, "sem_unb").unwrap();
    unb.acquire().unwrap();
    unb.acquire().unwrap();
    assert!(matches!(
        unb.acquire_timeout(SHORT),
        Err(LockTimeoutError::Timeout)
    ));
    unb.release().unwrap();
    unb.release().unwrap();

    // `q_empty`: a blocked pop sleeps and times out; `q_wrap` is full: a blocked push too.
    let q: Queue<i32> = Queue::open(&seg, "q_empty").unwrap();
    assert!(matches!(
        q.pop_timeout(SHORT),
        Err(PopTimeoutError::Timeout)
    ));
    let full: Queue<u32> = Queue::open(&seg, "q_wrap").unwrap();
    assert!(matches!(
        full.push_timeout(9, SHORT),
        Err(PushTimeoutError::Timeout(9))
    ));

    assert_eq!(entry_count(&seg), 84, "no entry added at run time");
    assert!(seg.find(PERMITS).is_err());
    assert!(seg.find(WAITERS).is_err());
    // Not a byte changed: the table, and the structures (counts restored, waiters gone).
    let golden = std::fs::read(golden_dir().join("cpp_all.bin")).unwrap();
    assert_eq!(
        std::fs::read(shm.path()).unwrap(),
        golden,
        "the segment's bytes"
    );
}

#[test]
fn creating_a_structure_in_a_cpp_segment_adds_its_registry_once() {
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    assert_eq!(entry_count(&seg), 84);

    // An explicit create is a table write the user asked for: the structure and, the first
    // time, the registry it needs.
    let q: Queue<u64> = Queue::create(&seg, "zq", 4).unwrap();
    assert_eq!(entry_count(&seg), 86, "zq and {WAITERS}");
    assert!(seg.find(WAITERS).is_ok());
    Queue::<u64>::create(&seg, "zq2", 4).unwrap();
    assert_eq!(entry_count(&seg), 87, "zq2 only: the registry exists");
    let s = Semaphore::create(&seg, "zs", 1, 1).unwrap();
    assert_eq!(entry_count(&seg), 89, "zs and {PERMITS}");
    Semaphore::create(&seg, "zs2", 1, 1).unwrap();
    assert_eq!(entry_count(&seg), 90, "zs2 only");

    // From here on blocking use (of ours and of C++'s structures) adds nothing.
    assert!(matches!(
        q.pop_timeout(SHORT),
        Err(PopTimeoutError::Timeout)
    ));
    let q_empty: Queue<i32> = Queue::open(&seg, "q_empty").unwrap();
    assert!(matches!(
        q_empty.pop_timeout(SHORT),
        Err(PopTimeoutError::Timeout)
    ));
    s.acquire().unwrap();
    assert!(matches!(
        s.acquire_timeout(SHORT),
        Err(LockTimeoutError::Timeout)
    ));
    s.release().unwrap();
    let sem = Semaphore::open(&seg, "sem").unwrap();
    sem.acquire().unwrap();
    sem.release().unwrap();
    assert_eq!(entry_count(&seg), 90);
}

#[test]
fn in_a_segment_zeroipc_creates_the_registries_come_with_their_structures() {
    let name = ShmName::new("foreign_table_own");
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    assert_eq!(entry_count(&seg), 1, "the catalog only");

    // Neither registry for structures that do not use one (the Event's and Monitor's
    // semaphores never record permits; no queue sleeps on them).
    Event::create(&seg, "ev", EventMode::AutoReset).unwrap();
    Monitor::create(&seg, "mon").unwrap();
    let before = entry_count(&seg);
    assert!(seg.find(PERMITS).is_err());
    assert!(seg.find(WAITERS).is_err());

    let q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    assert!(seg.find(WAITERS).is_ok(), "with the first queue");
    let s = Semaphore::create(&seg, "s", 1, 1).unwrap();
    assert!(seg.find(PERMITS).is_ok(), "with the first semaphore");
    assert_eq!(entry_count(&seg), before + 4);

    assert!(matches!(
        q.pop_timeout(SHORT),
        Err(PopTimeoutError::Timeout)
    ));
    s.acquire().unwrap();
    assert!(matches!(
        s.acquire_timeout(SHORT),
        Err(LockTimeoutError::Timeout)
    ));
    s.release().unwrap();
    assert_eq!(entry_count(&seg), before + 4, "nothing added at run time");
}

/// The child's role: takes the one permit of `s` and exits without giving it back.
const HOLDER: &str = "holder";

#[test]
fn a_dead_holders_permit_is_given_back_through_the_registry_made_at_create() {
    if let Some(name) = child_role(HOLDER) {
        let seg = Segment::open(&name).unwrap();
        let s = Semaphore::open(&seg, "s").unwrap();
        s.acquire().unwrap();
        std::process::exit(0); // dies holding it
    }
    let name = ShmName::new("foreign_table_give_back");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let s = Semaphore::create(&seg, "s", 1, 1).unwrap();
    let entries = entry_count(&seg);
    let child = spawn_child(
        "a_dead_holders_permit_is_given_back_through_the_registry_made_at_create",
        HOLDER,
        &name,
    );
    let pid = child.id();
    wait_ok(child, 30); // exited (and reaped) holding the permit
    assert_eq!(s.count(), Ok(0));
    match s.acquire_timeout(Duration::from_secs(20)) {
        Err(LockTimeoutError::OwnerDead(d)) => assert_eq!(d.pid(), pid),
        other => panic!("expected OwnerDead({pid}), got {other:?}"),
    }
    s.release().unwrap();
    assert_eq!(s.count(), Ok(1));
    assert_eq!(entry_count(&seg), entries);
}

#[test]
fn a_cpp_semaphore_without_a_registry_degrades_to_untracked_permits() {
    if let Some(name) = child_role(HOLDER) {
        let seg = Segment::open(&name).unwrap();
        let s = Semaphore::open(&seg, "sem").unwrap();
        s.acquire().unwrap(); // nowhere to record it
        std::process::exit(0);
    }
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    let sem = Semaphore::open(&seg, "sem").unwrap();
    // Take all but one of the 2 permits, so the child takes the last one.
    sem.acquire().unwrap();
    let child = spawn_child(
        "a_cpp_semaphore_without_a_registry_degrades_to_untracked_permits",
        HOLDER,
        &shm,
    );
    wait_ok(child, 30);
    assert_eq!(sem.count(), Ok(0));
    // The dead child's permit was never recorded: it is lost, as a C++ holder's would be,
    // and the acquire simply times out (no error, no table write).
    assert!(matches!(
        sem.acquire_timeout(Duration::from_millis(100)),
        Err(LockTimeoutError::Timeout)
    ));
    sem.release().unwrap();
    assert_eq!(entry_count(&seg), 84);
    assert!(seg.find(PERMITS).is_err());
}

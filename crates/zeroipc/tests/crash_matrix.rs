//! The crash matrix (issue #7, STYLE.md §3.14): for every injection point of
//! `zeroipc::fault`, a child process (this binary, re-run with `ZEROIPC_CRASH_AT=<point>`)
//! operates on a shared structure and dies by `SIGKILL` at the point; the parent then
//! operates on the structure and asserts what survivors see (docs/THREAT_MODEL.md, "Crash
//! matrix"): recovery, or a typed error within the configured short timeout, never a hang,
//! and every push/insert that completed before the crash is still there.
//!
//! Each row of the matrix is one `crash_case!` line: test name, point, setup (parent,
//! before the child), child operation, check (parent, after the child's death).
//!
//! The injection points exist because `Cargo.toml` turns on the `fault-injection` feature
//! for this crate's tests (a self dev-dependency).

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::{Duration, Instant};

use common::{ShmName, child_role, spawn_child_with};
use zeroipc::codata::future::{
    Future, FutureState, GetError as FutureGetError, GetTimeoutError as FutureGetTimeoutError,
};
use zeroipc::codata::lazy::{ForceTimeoutError as LazyForceTimeoutError, Lazy, LazyState};
use zeroipc::codata::stream::Stream;
use zeroipc::fault::{CRASH_AT_ENV, POINTS};
use zeroipc::structures::map::MapError;
use zeroipc::structures::pool::PoolError;
use zeroipc::structures::queue::{PopTimeoutError, PushTimeoutError, TryPopError};
use zeroipc::structures::stack::{self, PopError, PushError};
use zeroipc::structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc::sync::{Barrier, Mutex, Once, OnceOutcome, RwLock, Semaphore};
use zeroipc::{LockTimeoutError, Segment, SegmentOptions, WaitTimeoutError};

/// The stall / stuck timeout every handle in the matrix is given.
const STALL: Duration = Duration::from_millis(100);
/// The "does not hang" bound on every survivor call (far above `STALL`).
const DEADLINE: Duration = Duration::from_secs(10);
/// How long a survivor waits for a lock / permit / barrier whose holder is gone undetected.
const SHORT: Duration = Duration::from_millis(200);
/// The role of the dying child.
const ROLE: &str = "crash";

/// What the check gets: the segment and the dead child's pid.
struct Dead<'a> {
    seg: &'a Segment,
    pid: u32,
}

/// Runs `f`, asserting it returned within [`DEADLINE`].
fn bounded<R>(what: &str, f: impl FnOnce() -> R) -> R {
    let t0 = Instant::now();
    let r = f();
    assert!(t0.elapsed() < DEADLINE, "{what} took {:?}", t0.elapsed());
    r
}

/// Parent side of one row: a fresh segment, `setup`, a child that must die by SIGKILL at
/// `point` doing `child`'s operation, then `check`.
fn run_case(test: &str, point: &str, setup: fn(&Segment), check: fn(Dead<'_>)) {
    assert!(POINTS.contains(&point), "{point} is not a fault point");
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(256 * 1024)
        .create_new(name.as_str())
        .unwrap();
    setup(&seg);
    let mut child = spawn_child_with(test, ROLE, &name, &[(CRASH_AT_ENV, point.to_string())]);
    let pid = child.id();
    let deadline = Instant::now() + DEADLINE;
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{point}: the child did not die within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    // Reaped: from here `kill(pid, 0)` says the child is gone, as for any dead peer.
    assert_eq!(
        status.signal(),
        Some(9),
        "{point}: the child must die by SIGKILL at the point ({status})"
    );
    check(Dead { seg: &seg, pid });
}

/// Child side: open the segment and do the operation (which dies at the point).
fn run_child(name: &str, op: fn(&Segment)) {
    let seg = Segment::open(name).unwrap();
    op(&seg);
    // Reaching here means the point was not reached: the parent sees a clean exit and fails.
}

/// One matrix row: `crash_case! { test_name, "point", setup, child_op, check }` (braces:
/// rustfmt leaves each row on its line).
macro_rules! crash_case {
    ($test:ident, $point:literal, $setup:expr, $child:expr, $check:expr) => {
        #[test]
        fn $test() {
            if let Some(name) = child_role(ROLE) {
                return run_child(&name, $child);
            }
            run_case(stringify!($test), $point, $setup, $check);
        }
    };
}

/// Every point of `fault::POINTS` is exercised by a row below.
const COVERED: &[&str] = &[
    "queue.push.after_claim",
    "queue.push.before_publish",
    "queue.pop.after_claim",
    "queue.pop.before_release",
    "stack.push.after_reserve",
    "stack.push.after_claim",
    "stack.push.before_publish",
    "stack.pop.after_reserve",
    "stack.pop.after_claim",
    "stack.pop.before_release",
    "ring.write.before_publish",
    "ring.read.before_release",
    "stream.emit.before_publish",
    "stream.take.before_claim",
    "pool.allocate.before_cas",
    "pool.allocate.after_cas",
    "pool.free.before_cas",
    "pool.free.after_cas",
    "hash.insert.after_claim",
    "hash.insert.after_key",
    "hash.insert.before_publish",
    "hash.update.after_claim",
    "hash.remove.after_claim",
    "mutex.lock.after_intent",
    "mutex.lock.after_cas",
    "mutex.unlock.after_release",
    "rwlock.write.after_wmtx",
    "rwlock.write.after_active",
    "once.call.after_intent",
    "once.call.after_claim",
    "once.finish.after_done",
    "semaphore.acquire.after_intent",
    "semaphore.acquire.after_cas",
    "semaphore.acquire.after_record",
    "semaphore.release.after_cas",
    "semaphore.reclaim.after_take",
    "semaphore.reclaim.after_give_back",
    "barrier.wait.after_arrive",
    "barrier.wait.before_release",
    "lazy.claim.after_intent",
    "lazy.claim.after_cas",
    "lazy.finish.before_publish",
    "lazy.finish.after_publish",
    "lazy.fail.before_publish",
    "lazy.fail.after_publish",
    "lazy.takeover.after_cas",
    "future.claim.after_intent",
    "future.claim.after_cas",
    "future.finish.after_tail",
    "future.finish.before_publish",
    "future.finish.after_publish",
    "future.takeover.after_cas",
];

/// The call sites in `src/` and the table in `fault`'s docs name exactly the points of
/// `fault::POINTS`, each once.
#[test]
fn the_point_table_matches_the_call_sites() {
    fn walk(dir: &std::path::Path, found: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let path = e.unwrap().path();
            if path.is_dir() {
                walk(&path, found);
            } else if path.extension().is_some_and(|x| x == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for part in text.split("crate::fault::point(\"").skip(1) {
                    found.push(part.split('"').next().unwrap().to_string());
                }
            }
        }
    }
    let mut found = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut found,
    );
    found.sort_unstable();
    let mut points: Vec<String> = POINTS.iter().map(ToString::to_string).collect();
    points.sort_unstable();
    assert_eq!(found, points);
    // The table in the module docs lists the same names.
    let docs = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/fault.rs"),
    )
    .unwrap();
    let mut table: Vec<String> = docs
        .lines()
        .filter_map(|l| l.strip_prefix("//! | `"))
        .map(|l| l.split('`').next().unwrap().to_string())
        .collect();
    table.sort_unstable();
    assert_eq!(table, points);
}

#[test]
fn every_fault_point_has_a_row() {
    let mut a: Vec<_> = POINTS.to_vec();
    let mut b: Vec<_> = COVERED.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------
// Queue: capacity 4, items 1 and 2 pushed (completed) before the child runs.

fn queue(seg: &Segment) -> Queue<u64> {
    Queue::<u64>::open(seg, "q")
        .unwrap()
        .with_stall_timeout(STALL)
}

fn queue_setup(seg: &Segment) {
    let q = Queue::<u64>::create(seg, "q", 4).unwrap();
    q.push(1).unwrap();
    q.push(2).unwrap();
}

fn queue_child_push(seg: &Segment) {
    let _ = queue(seg).push(3);
}

fn queue_child_pop(seg: &Segment) {
    let _ = queue(seg).pop();
}

/// A producer died holding position 2: both completed items pop, then position 2 is
/// `Stalled` (not Empty), for every later pop; producers still append behind it.
fn queue_check_dead_producer(d: Dead<'_>) {
    let q = queue(d.seg);
    assert_eq!(bounded("pop", || q.pop_timeout(DEADLINE)), Ok(1));
    assert_eq!(bounded("pop", || q.pop_timeout(DEADLINE)), Ok(2));
    assert_eq!(
        bounded("pop", || q.pop_timeout(DEADLINE)),
        Err(PopTimeoutError::Stalled { position: 2 })
    );
    assert_eq!(q.try_pop(), Err(TryPopError::Stalled { position: 2 }));
    bounded("push", || q.push_timeout(4, DEADLINE)).unwrap();
    assert_eq!(
        bounded("pop", || q.pop_timeout(DEADLINE)),
        Err(PopTimeoutError::Stalled { position: 2 })
    );
}

/// A consumer died holding position 0: item 1 went with it (its pop had begun), item 2
/// pops; producers fill the other slots and are told `Stalled` when they come round to
/// slot 0, with the value handed back.
fn queue_check_dead_consumer(d: Dead<'_>) {
    let q = queue(d.seg);
    assert_eq!(bounded("pop", || q.pop_timeout(DEADLINE)), Ok(2));
    bounded("push", || q.push_timeout(5, DEADLINE)).unwrap();
    bounded("push", || q.push_timeout(6, DEADLINE)).unwrap();
    assert_eq!(
        bounded("push", || q.push_timeout(7, DEADLINE)),
        Err(PushTimeoutError::Stalled {
            value: 7,
            position: 4
        })
    );
    assert_eq!(bounded("pop", || q.pop_timeout(DEADLINE)), Ok(5));
    assert_eq!(bounded("pop", || q.pop_timeout(DEADLINE)), Ok(6));
    assert_eq!(q.try_pop(), Err(TryPopError::Empty));
}

crash_case! { queue_push_after_claim, "queue.push.after_claim", queue_setup, queue_child_push, queue_check_dead_producer }
crash_case! { queue_push_before_publish, "queue.push.before_publish", queue_setup, queue_child_push, queue_check_dead_producer }
crash_case! { queue_pop_after_claim, "queue.pop.after_claim", queue_setup, queue_child_pop, queue_check_dead_consumer }
crash_case! { queue_pop_before_release, "queue.pop.before_release", queue_setup, queue_child_pop, queue_check_dead_consumer }

// ---------------------------------------------------------------------------------------
// Stack: capacity 4, items 1 and 2 pushed (completed) before the child runs.

fn stack(seg: &Segment) -> Stack<u64> {
    Stack::<u64>::open(seg, "s")
        .unwrap()
        .with_stall_timeout(STALL)
}

fn stack_setup(seg: &Segment) {
    let s = Stack::<u64>::create(seg, "s", 4).unwrap();
    s.push(1).unwrap();
    s.push(2).unwrap();
}

fn stack_child_push(seg: &Segment) {
    let _ = stack(seg).push(3);
}

fn stack_child_pop(seg: &Segment) {
    let _ = stack(seg).pop();
}

/// A pusher died owning index 2: pops that reach it are `Stalled` (top moved back, not
/// orphaned); pushes above it still work and pop; items 1 and 2 stay stored (below the
/// stuck slot, so a LIFO pop cannot reach them: it reports the stall instead).
fn stack_check_dead_pusher(d: Dead<'_>) {
    let s = stack(d.seg);
    assert_eq!(s.len(), 3);
    assert_eq!(
        bounded("pop", || s.pop()),
        Err(PopError::Stalled {
            index: 2,
            orphaned: false
        })
    );
    assert_eq!(s.len(), 3, "the stalled pop moved top back");
    bounded("push", || s.push(4)).unwrap();
    assert_eq!(bounded("pop", || s.pop()), Ok(4));
    assert_eq!(
        bounded("pop", || s.pop()),
        Err(PopError::Stalled {
            index: 2,
            orphaned: false
        })
    );
}

/// A popper died owning index 1: item 2 went with it (its pop had begun); item 1 pops; a
/// push that reaches index 1 is `Stalled` with its value back.
fn stack_check_dead_popper(d: Dead<'_>) {
    let s = stack(d.seg);
    assert_eq!(s.len(), 1);
    assert_eq!(
        bounded("push", || s.push(5)),
        Err(PushError::Stalled {
            value: 5,
            index: 1,
            orphaned: false
        })
    );
    assert_eq!(bounded("pop", || s.pop()), Ok(1));
    assert_eq!(
        bounded("pop", || s.try_pop()),
        Err(stack::TryPopError::Empty)
    );
}

crash_case! { stack_push_after_reserve, "stack.push.after_reserve", stack_setup, stack_child_push, stack_check_dead_pusher }
crash_case! { stack_push_after_claim, "stack.push.after_claim", stack_setup, stack_child_push, stack_check_dead_pusher }
crash_case! { stack_push_before_publish, "stack.push.before_publish", stack_setup, stack_child_push, stack_check_dead_pusher }
crash_case! { stack_pop_after_reserve, "stack.pop.after_reserve", stack_setup, stack_child_pop, stack_check_dead_popper }
crash_case! { stack_pop_after_claim, "stack.pop.after_claim", stack_setup, stack_child_pop, stack_check_dead_popper }
crash_case! { stack_pop_before_release, "stack.pop.before_release", stack_setup, stack_child_pop, stack_check_dead_popper }

// ---------------------------------------------------------------------------------------
// Ring (single producer, single consumer): capacity 8 elements.

fn ring_setup(seg: &Segment) {
    let r = Ring::<u64>::create(seg, "r", 8).unwrap();
    r.producer().unwrap().write(&[1, 2, 3]).unwrap();
}

fn ring_child_write(seg: &Segment) {
    let r = Ring::<u64>::open(seg, "r").unwrap();
    let _ = r.producer().unwrap().write(&[7, 8]);
}

fn ring_child_read(seg: &Segment) {
    let r = Ring::<u64>::open(seg, "r").unwrap();
    let mut buf = [0u64; 2];
    let _ = r.consumer().unwrap().read(&mut buf);
}

/// A producer died after copying, before publishing: the copy is invisible; the completed
/// write (1, 2, 3) reads back; a new producer continues where the published data ends.
fn ring_check_dead_writer(d: Dead<'_>) {
    let r = Ring::<u64>::open(d.seg, "r").unwrap();
    assert_eq!(r.len().unwrap(), 3);
    bounded("write", || r.producer().unwrap().write(&[4]).unwrap());
    let mut buf = [0u64; 8];
    let n = bounded("read", || r.consumer().unwrap().read(&mut buf).unwrap());
    assert_eq!(&buf[..n], &[1, 2, 3, 4]);
}

/// A consumer died after copying, before releasing: nothing was consumed; a new consumer
/// reads the same elements again (at-least-once).
fn ring_check_dead_reader(d: Dead<'_>) {
    let r = Ring::<u64>::open(d.seg, "r").unwrap();
    assert_eq!(r.len().unwrap(), 3);
    let mut buf = [0u64; 8];
    let n = bounded("read", || r.consumer().unwrap().read(&mut buf).unwrap());
    assert_eq!(&buf[..n], &[1, 2, 3]);
    assert!(r.is_empty().unwrap());
}

crash_case! { ring_write_before_publish, "ring.write.before_publish", ring_setup, ring_child_write, ring_check_dead_writer }
crash_case! { ring_read_before_release, "ring.read.before_release", ring_setup, ring_child_read, ring_check_dead_reader }

// ---------------------------------------------------------------------------------------
// Stream: capacity 8, holding 1, 2, 3.

fn stream_setup(seg: &Segment) {
    let s = Stream::<u64>::create(seg, "s", 8).unwrap();
    assert_eq!(s.try_emit_many(&[1, 2, 3]).unwrap(), 3);
}

fn stream_child_emit(seg: &Segment) {
    let s = Stream::<u64>::open(seg, "s").unwrap();
    let _ = s.try_emit_many(&[7, 8]);
}

fn stream_child_take(seg: &Segment) {
    let s = Stream::<u64>::open(seg, "s").unwrap();
    let mut buf = [0u64; 2];
    let _ = s.try_next_many(&mut buf);
}

/// An emitter died holding the emit lock, after copying and counting, before publishing:
/// the copy is invisible, the next emitter takes the dead holder's lock over, and
/// `sequence` counts the two values that were never published (it runs ahead, never behind,
/// so no emitter's cached position is trusted past the dead one's work).
fn stream_check_dead_emitter(d: Dead<'_>) {
    let s = Stream::<u64>::open(d.seg, "s").unwrap();
    assert_eq!(s.len().unwrap(), 3);
    assert_eq!(s.sequence(), 5);
    bounded("emit", || s.emit_timeout(4, DEADLINE).unwrap());
    let mut buf = [0u64; 8];
    let n = bounded("read", || s.try_next_many(&mut buf).unwrap());
    assert_eq!(&buf[..n], &[1, 2, 3, 4]);
    assert_eq!(s.sequence(), 6);
}

/// A reader died after copying, before its claim (the `read_pos` CAS): nothing was taken;
/// the next reader takes the same values.
fn stream_check_dead_taker(d: Dead<'_>) {
    let s = Stream::<u64>::open(d.seg, "s").unwrap();
    assert_eq!(s.len().unwrap(), 3);
    let mut buf = [0u64; 8];
    let n = bounded("read", || s.try_next_many(&mut buf).unwrap());
    assert_eq!(&buf[..n], &[1, 2, 3]);
    assert!(s.is_empty().unwrap());
}

crash_case! { stream_emit_before_publish, "stream.emit.before_publish", stream_setup, stream_child_emit, stream_check_dead_emitter }
crash_case! { stream_take_before_claim, "stream.take.before_claim", stream_setup, stream_child_take, stream_check_dead_taker }

// ---------------------------------------------------------------------------------------
// Pool: capacity 4.

fn pool(seg: &Segment) -> Pool<u64> {
    Pool::<u64>::open(seg, "p").unwrap()
}

fn pool_setup_empty(seg: &Segment) {
    Pool::<u64>::create(seg, "p", 4).unwrap();
}

/// Allocates one node (the child frees it).
fn pool_setup_one(seg: &Segment) {
    let p = Pool::<u64>::create(seg, "p", 4).unwrap();
    let i = p.allocate().unwrap();
    p.set(i, 42).unwrap();
}

fn pool_child_allocate(seg: &Segment) {
    let _ = pool(seg).allocate();
}

fn pool_child_free(seg: &Segment) {
    let p = pool(seg);
    let i = (0..4).find(|i| p.get(*i) == Ok(42)).unwrap();
    let _ = p.free(i);
}

/// Allocates until exhausted; returns how many.
fn drain(p: &Pool<u64>) -> u32 {
    bounded("allocate", || {
        let mut n = 0;
        loop {
            match p.allocate() {
                Ok(_) => n += 1,
                Err(PoolError::Exhausted { .. }) => return n,
                Err(e) => panic!("{e}"),
            }
        }
    })
}

/// Died before the CAS: nothing happened; all 4 nodes allocate.
fn pool_check_nothing_happened(d: Dead<'_>) {
    let p = pool(d.seg);
    assert_eq!(p.allocated(), 0);
    assert_eq!(p.free_len().unwrap(), 4);
    assert_eq!(drain(&p), 4);
}

/// Died after taking a node off the list, before counting and marking it: the node is
/// leaked (never handed out again; a free of it is refused); the other 3 allocate.
fn pool_check_leaked_by_allocate(d: Dead<'_>) {
    let p = pool(d.seg);
    let free = p.free_list().unwrap();
    assert_eq!(free.len(), 3);
    let leaked = (0..4).find(|i| !free.contains(i)).unwrap();
    assert_eq!(p.allocated(), 0, "the counter was not incremented");
    assert!(matches!(
        p.free(leaked),
        Err(PoolError::NotAllocated { .. })
    ));
    assert_eq!(drain(&p), 3);
}

/// Died after unmarking the node, before linking it: the node is leaked (a second free is
/// refused as a double free); the other 3 allocate.
fn pool_check_leaked_by_free(d: Dead<'_>) {
    let p = pool(d.seg);
    let free = p.free_list().unwrap();
    assert_eq!(free.len(), 3);
    let leaked = (0..4).find(|i| !free.contains(i)).unwrap();
    assert_eq!(p.allocated(), 1);
    assert!(matches!(
        p.free(leaked),
        Err(PoolError::NotAllocated { .. })
    ));
    assert_eq!(drain(&p), 3);
}

/// Died after linking the node, before the counter: the free happened (all 4 allocate);
/// only the `allocated` statistic is one too high.
fn pool_check_freed_counter_stale(d: Dead<'_>) {
    let p = pool(d.seg);
    assert_eq!(p.free_len().unwrap(), 4);
    assert_eq!(p.allocated(), 1, "the statistic missed the free");
    assert_eq!(drain(&p), 4);
}

crash_case! { pool_allocate_before_cas, "pool.allocate.before_cas", pool_setup_empty, pool_child_allocate, pool_check_nothing_happened }
crash_case! { pool_allocate_after_cas, "pool.allocate.after_cas", pool_setup_empty, pool_child_allocate, pool_check_leaked_by_allocate }
crash_case! { pool_free_before_cas, "pool.free.before_cas", pool_setup_one, pool_child_free, pool_check_leaked_by_free }
crash_case! { pool_free_after_cas, "pool.free.after_cas", pool_setup_one, pool_child_free, pool_check_freed_counter_stale }

// ---------------------------------------------------------------------------------------
// Map and Set (shared open-addressing code): capacity 16, key 1 inserted (completed).

fn map(seg: &Segment) -> Map<u64, u64> {
    Map::<u64, u64>::open(seg, "m")
        .unwrap()
        .with_stall_timeout(STALL)
}

fn map_setup(seg: &Segment) {
    let m = Map::<u64, u64>::create(seg, "m", 16).unwrap();
    assert_eq!(m.insert(1, 10), Ok(None));
}

fn map_child_insert_new(seg: &Segment) {
    let _ = map(seg).insert(2, 20);
}

fn map_child_update(seg: &Segment) {
    let _ = map(seg).insert(1, 11);
}

fn map_child_remove(seg: &Segment) {
    let _ = map(seg).remove(&1);
}

fn stuck(r: Result<impl std::fmt::Debug, MapError>) {
    match r {
        Err(MapError::Stalled { waited, .. }) => assert!(waited >= STALL, "{waited:?}"),
        other => panic!("expected Stalled, got {other:?}"),
    }
}

/// An inserter of key 2 died owning its slot: key 1 (completed) reads back; every
/// operation on key 2 is `Stuck` after the stuck timeout.
fn map_check_dead_inserter(d: Dead<'_>) {
    let m = map(d.seg);
    assert_eq!(bounded("get", || m.get(&1)), Ok(Some(10)));
    stuck(bounded("get", || m.get(&2)));
    stuck(bounded("insert", || m.insert(2, 21)));
    stuck(bounded("remove", || m.remove(&2)));
    stuck(bounded("pairs", || m.pairs()));
}

/// A process died owning key 1's slot (update or remove under way): operations on key 1
/// are `Stuck`; the key is neither lost silently nor duplicated by a re-insert.
fn map_check_dead_owner_of_key_1(d: Dead<'_>) {
    let m = map(d.seg);
    stuck(bounded("get", || m.get(&1)));
    stuck(bounded("insert", || m.insert(1, 12)));
    stuck(bounded("remove", || m.remove(&1)));
    assert_eq!(m.len(), 1);
}

crash_case! { map_insert_after_claim, "hash.insert.after_claim", map_setup, map_child_insert_new, map_check_dead_inserter }
crash_case! { map_insert_after_key, "hash.insert.after_key", map_setup, map_child_insert_new, map_check_dead_inserter }
crash_case! { map_insert_before_publish, "hash.insert.before_publish", map_setup, map_child_insert_new, map_check_dead_inserter }
crash_case! { map_update_after_claim, "hash.update.after_claim", map_setup, map_child_update, map_check_dead_owner_of_key_1 }
crash_case! { map_remove_after_claim, "hash.remove.after_claim", map_setup, map_child_remove, map_check_dead_owner_of_key_1 }

fn set(seg: &Segment) -> Set<u64> {
    Set::<u64>::open(seg, "s")
        .unwrap()
        .with_stall_timeout(STALL)
}

fn set_setup(seg: &Segment) {
    let s = Set::<u64>::create(seg, "s", 16).unwrap();
    assert_eq!(s.insert(1), Ok(true));
}

fn set_child_insert(seg: &Segment) {
    let _ = set(seg).insert(2);
}

fn set_child_remove(seg: &Segment) {
    let _ = set(seg).remove(&1);
}

fn set_check_dead_inserter(d: Dead<'_>) {
    let s = set(d.seg);
    assert_eq!(bounded("contains", || s.contains(&1)), Ok(true));
    stuck(bounded("contains", || s.contains(&2)));
    stuck(bounded("insert", || s.insert(2)));
}

fn set_check_dead_remover(d: Dead<'_>) {
    let s = set(d.seg);
    stuck(bounded("contains", || s.contains(&1)));
    stuck(bounded("insert", || s.insert(1)));
}

crash_case! { set_insert_after_claim, "hash.insert.after_claim", set_setup, set_child_insert, set_check_dead_inserter }
crash_case! { set_insert_after_key, "hash.insert.after_key", set_setup, set_child_insert, set_check_dead_inserter }
crash_case! { set_insert_before_publish, "hash.insert.before_publish", set_setup, set_child_insert, set_check_dead_inserter }
crash_case! { set_remove_after_claim, "hash.remove.after_claim", set_setup, set_child_remove, set_check_dead_remover }

// ---------------------------------------------------------------------------------------
// Mutex.

fn mutex_setup(seg: &Segment) {
    Mutex::create(seg, "mx").unwrap();
}

fn mutex_child_lock(seg: &Segment) {
    let m = Mutex::open(seg, "mx").unwrap();
    let g = m.lock();
    std::mem::forget(g);
}

fn mutex_child_lock_unlock(seg: &Segment) {
    let m = Mutex::open(seg, "mx").unwrap();
    if let Ok(g) = m.lock() {
        let _ = g.unlock();
    }
}

/// Died holding `owner` but not `count` (after its intent, before its `count` CAS; or
/// after its unlock's `count` CAS, before clearing `owner`): the lock is free, the next
/// locker clears the dead pid and locks normally (no `OwnerDead`: nothing was half-done).
fn mutex_check_free_with_dead_owner(d: Dead<'_>) {
    let m = Mutex::open(d.seg, "mx").unwrap();
    assert_eq!(m.is_locked(), Ok(false));
    assert_eq!(m.owner(), Ok(Some(d.pid)));
    // Even a non-blocking try clears the dead pid and takes the free lock.
    let Ok(g) = bounded("try_lock", || m.try_lock()) else {
        panic!("expected the lock without OwnerDead");
    };
    assert_eq!(m.owner(), Ok(Some(std::process::id())));
    drop(g);
    assert_eq!(m.owner(), Ok(None));
    drop(bounded("lock", || m.lock_timeout(DEADLINE)).unwrap());
}

/// The holder died with its pid recorded: the next locker gets `OwnerDead(pid)` with the
/// lock held, and the mutex works normally after the unlock.
fn mutex_check_owner_dead(d: Dead<'_>) {
    let m = Mutex::open(d.seg, "mx").unwrap();
    assert_eq!(m.owner(), Ok(Some(d.pid)));
    match bounded("lock", || m.lock_timeout(DEADLINE)) {
        Err(LockTimeoutError::OwnerDead(dead)) => {
            assert_eq!(dead.pid(), d.pid);
            dead.into_guard().unlock().unwrap();
        }
        other => panic!("expected OwnerDead, got {:?}", other.map(|_| ())),
    }
    drop(bounded("lock", || m.lock_timeout(DEADLINE)).unwrap());
}

crash_case! { mutex_lock_after_intent, "mutex.lock.after_intent", mutex_setup, mutex_child_lock, mutex_check_free_with_dead_owner }
crash_case! { mutex_lock_after_cas, "mutex.lock.after_cas", mutex_setup, mutex_child_lock, mutex_check_owner_dead }
crash_case! { mutex_unlock_after_release, "mutex.unlock.after_release", mutex_setup, mutex_child_lock_unlock, mutex_check_free_with_dead_owner }

// ---------------------------------------------------------------------------------------
// RwLock: the child takes the write lock.

fn rwlock_setup(seg: &Segment) {
    RwLock::create(seg, "rw").unwrap();
}

fn rwlock_child_write(seg: &Segment) {
    let l = RwLock::open(seg, "rw").unwrap();
    let g = l.write();
    std::mem::forget(g);
}

/// Died holding only the writer mutex: readers are not blocked; the next writer gets
/// `OwnerDead(pid)` and the lock works afterwards.
fn rwlock_check_dead_in_wmtx(d: Dead<'_>) {
    let l = RwLock::open(d.seg, "rw").unwrap();
    assert_eq!(l.snapshot().unwrap(), (0, false));
    drop(bounded("read", || l.read_timeout(DEADLINE)).unwrap());
    match bounded("write", || l.write_timeout(DEADLINE)) {
        Err(LockTimeoutError::OwnerDead(dead)) => {
            assert_eq!(dead.pid(), d.pid);
            drop(dead.into_guard());
        }
        other => panic!("expected OwnerDead, got {:?}", other.map(|_| ())),
    }
    assert_eq!(l.snapshot().unwrap(), (0, false));
    drop(bounded("read", || l.read_timeout(DEADLINE)).unwrap());
}

/// Died as the active writer: the next reader gets `OwnerDead(pid)` (the writer phase is
/// cleared) and the lock works afterwards.
fn rwlock_check_dead_writer(d: Dead<'_>) {
    let l = RwLock::open(d.seg, "rw").unwrap();
    assert_eq!(l.snapshot().unwrap(), (0, true));
    match bounded("read", || l.read_timeout(DEADLINE)) {
        Err(LockTimeoutError::OwnerDead(dead)) => {
            assert_eq!(dead.pid(), d.pid);
            drop(dead.into_guard());
        }
        other => panic!("expected OwnerDead, got {:?}", other.map(|_| ())),
    }
    assert_eq!(l.snapshot().unwrap(), (0, false));
    drop(bounded("write", || l.write_timeout(DEADLINE)).unwrap());
}

crash_case! { rwlock_write_after_wmtx, "rwlock.write.after_wmtx", rwlock_setup, rwlock_child_write, rwlock_check_dead_in_wmtx }
crash_case! { rwlock_write_after_active, "rwlock.write.after_active", rwlock_setup, rwlock_child_write, rwlock_check_dead_writer }

// ---------------------------------------------------------------------------------------
// Once.

fn once_setup(seg: &Segment) {
    Once::create(seg, "once").unwrap();
}

fn once_child_call(seg: &Segment) {
    let o = Once::open(seg, "once").unwrap();
    let _ = o.call_once(|| {});
}

/// Died after recording its pid (the intent), before claiming: the Once is still PENDING;
/// the next caller takes the dead pid's place and runs the initialiser (`Ran`: it never
/// started before).
fn once_check_takes_over_intent(d: Dead<'_>) {
    let o = Once::open(d.seg, "once").unwrap();
    assert_eq!(o.state(), Ok(0));
    let mut ran = false;
    let r = bounded("call_once", || o.call_once_timeout(DEADLINE, || ran = true));
    assert!(matches!(r, Ok(OnceOutcome::Ran)), "{r:?}");
    assert!(ran);
    let r = o.call_once_timeout(DEADLINE, || panic!("must not run"));
    assert!(matches!(r, Ok(OnceOutcome::AlreadyDone)), "{r:?}");
}

/// Died after storing DONE, before clearing its pid: the Once is complete.
fn once_check_done(d: Dead<'_>) {
    let o = Once::open(d.seg, "once").unwrap();
    assert_eq!(o.is_completed(), Ok(true));
    let r = bounded("call_once", || {
        o.call_once_timeout(SHORT, || panic!("must not run"))
    });
    assert!(matches!(r, Ok(OnceOutcome::AlreadyDone)), "{r:?}");
}

/// Died running the initialiser with its pid recorded: the next caller re-runs it
/// (`Recovered(pid)`); later callers see it done.
fn once_check_recovered(d: Dead<'_>) {
    let o = Once::open(d.seg, "once").unwrap();
    let mut ran = false;
    let r = bounded("call_once", || o.call_once_timeout(DEADLINE, || ran = true));
    assert!(
        matches!(r, Ok(OnceOutcome::Recovered { pid }) if pid == d.pid),
        "{r:?}"
    );
    assert!(ran);
    let r = o.call_once_timeout(DEADLINE, || panic!("must not run"));
    assert!(matches!(r, Ok(OnceOutcome::AlreadyDone)), "{r:?}");
}

crash_case! { once_call_after_intent, "once.call.after_intent", once_setup, once_child_call, once_check_takes_over_intent }
crash_case! { once_call_after_claim, "once.call.after_claim", once_setup, once_child_call, once_check_recovered }
crash_case! { once_finish_after_done, "once.finish.after_done", once_setup, once_child_call, once_check_done }

// ---------------------------------------------------------------------------------------
// Semaphore: one permit.

fn semaphore_setup(seg: &Segment) {
    Semaphore::create(seg, "sem", 1, 1).unwrap();
}

fn semaphore_child_acquire(seg: &Segment) {
    let _ = Semaphore::open(seg, "sem").unwrap().acquire();
}

/// Died in the gate with nothing half-done, or with a step the survivor settles (module
/// docs of `sync::semaphore`): the one permit is there to take, exactly one.
fn semaphore_check_exactly_one(d: Dead<'_>) {
    let s = Semaphore::open(d.seg, "sem").unwrap();
    match bounded("acquire", || s.acquire_timeout(DEADLINE)) {
        Ok(()) | Err(LockTimeoutError::OwnerDead(_)) => {}
        Err(e) => panic!("expected the permit, got {e:?}"),
    }
    assert_eq!(s.count(), Ok(0), "we hold the one permit");
    s.release().unwrap();
    assert_eq!(s.count(), Ok(1));
    bounded("acquire", || s.acquire_timeout(DEADLINE)).unwrap();
    assert!(s.release().is_ok());
    assert!(s.release().is_err(), "no permit was created");
}

fn semaphore_child_acquire_release(seg: &Segment) {
    let s = Semaphore::open(seg, "sem").unwrap();
    if s.acquire().is_ok() {
        let _ = s.release();
    }
}

/// Died holding the permit, recorded in the permit-holder registry: the next blocked
/// acquirer gives it back and gets `OwnerDead(pid)` holding it; the count stays exact.
fn semaphore_check_permit_reclaimed(d: Dead<'_>) {
    let s = Semaphore::open(d.seg, "sem").unwrap();
    assert_eq!(s.count(), Ok(0));
    match bounded("acquire", || s.acquire_timeout(DEADLINE)) {
        Err(LockTimeoutError::OwnerDead(dead)) => assert_eq!(dead.pid(), d.pid),
        other => panic!("expected OwnerDead, got {other:?}"),
    }
    assert_eq!(s.count(), Ok(0), "we hold the one permit");
    s.release().unwrap();
    assert_eq!(s.count(), Ok(1));
    bounded("acquire", || s.acquire_timeout(DEADLINE)).unwrap();
    assert!(s.release().is_ok());
    assert!(s.release().is_err(), "no permit was created");
}

/// Registry and a dead holder's slot (slot 1: one permit of `sem`, whose count is 0): the
/// parent's own slot 0 records a permit of `other`.
fn semaphore_setup_dead_holder(seg: &Segment) {
    use std::os::unix::fs::FileExt;
    let s = Semaphore::create(seg, "sem", 0, 1).unwrap();
    let other = Semaphore::create(seg, "other", 1, 1).unwrap();
    other.acquire().unwrap(); // takes slot 0 of the registry the creates added
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let dead = c.id();
    c.wait().unwrap();
    let e = seg.find("__zeroipc_permits").unwrap();
    let words = [dead, s.entry().index(), 1, 0];
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm{}", seg.name()))
        .unwrap()
        .write_all_at(&bytes, e.offset() + 16)
        .unwrap();
}

crash_case! { semaphore_acquire_after_intent, "semaphore.acquire.after_intent", semaphore_setup, semaphore_child_acquire, semaphore_check_exactly_one }
crash_case! { semaphore_acquire_after_cas, "semaphore.acquire.after_cas", semaphore_setup, semaphore_child_acquire, semaphore_check_permit_reclaimed }
crash_case! { semaphore_acquire_after_record, "semaphore.acquire.after_record", semaphore_setup, semaphore_child_acquire, semaphore_check_permit_reclaimed }
crash_case! { semaphore_release_after_cas, "semaphore.release.after_cas", semaphore_setup, semaphore_child_acquire_release, semaphore_check_exactly_one }
crash_case! { semaphore_reclaim_after_take, "semaphore.reclaim.after_take", semaphore_setup_dead_holder, semaphore_child_acquire, semaphore_check_exactly_one }
crash_case! { semaphore_reclaim_after_give_back, "semaphore.reclaim.after_give_back", semaphore_setup_dead_holder, semaphore_child_acquire, semaphore_check_exactly_one }

// ---------------------------------------------------------------------------------------
// Barrier.

fn barrier3_setup(seg: &Segment) {
    Barrier::create(seg, "b", 3).unwrap();
}

fn barrier_child_wait(seg: &Segment) {
    let _ = Barrier::open(seg, "b")
        .unwrap()
        .wait_timeout(Duration::from_secs(30));
}

/// A non-last participant died after arriving: its arrival stays counted. With 3
/// participants, one survivor times out (and takes its own arrival back); two survivors
/// complete the cycle together.
fn barrier_check_dead_arrival(d: Dead<'_>) {
    let b = Barrier::open(d.seg, "b").unwrap();
    assert_eq!(b.arrived(), Ok(1));
    assert!(matches!(
        bounded("wait", || b.wait_timeout(SHORT)),
        Err(WaitTimeoutError::Timeout)
    ));
    assert_eq!(b.arrived(), Ok(1));
    let g = b.generation().unwrap();
    let other = {
        let name = d.seg.name().to_string();
        std::thread::spawn(move || {
            let seg = Segment::open(&name).unwrap();
            let b = Barrier::open(&seg, "b").unwrap();
            b.wait_timeout(DEADLINE).map(|r| r.is_leader())
        })
    };
    let mine = bounded("wait", || b.wait_timeout(DEADLINE))
        .unwrap()
        .is_leader();
    let theirs = other.join().unwrap().unwrap();
    assert!(mine ^ theirs, "exactly one leader");
    assert_eq!(b.generation(), Ok(g.wrapping_add(1)));
}

fn barrier2_setup(seg: &Segment) {
    Barrier::create(seg, "b", 2).unwrap();
    Array::<u32>::create(seg, "up", 1).unwrap();
    // The survivor arrives first, on a thread that outlives setup, once the child is up (so
    // that its timeout does not run while the child starts); the child is the last.
    let name = seg.name().to_string();
    let waiter = std::thread::spawn(move || {
        let seg = Segment::open(&name).unwrap();
        let b = Barrier::open(&seg, "b").unwrap();
        let up = Array::<u32>::open(&seg, "up").unwrap();
        let t0 = Instant::now();
        while up.get(0) != Some(1) {
            assert!(t0.elapsed() < DEADLINE, "the child did not start");
            std::thread::sleep(Duration::from_millis(1));
        }
        let t0 = Instant::now();
        let r = b.wait_timeout(RELEASER_WAIT).map(|r| r.is_leader());
        (r, t0.elapsed())
    });
    *WAITER.lock().unwrap() = Some(waiter);
}

/// Child of the dead-releaser row: says it is up, then arrives last, after the survivor.
fn barrier_child_wait_last(seg: &Segment) {
    let b = Barrier::open(seg, "b").unwrap();
    Array::<u32>::open(seg, "up").unwrap().set(0, 1).unwrap();
    let t0 = Instant::now();
    while b.arrived() != Ok(1) {
        assert!(t0.elapsed() < DEADLINE, "the survivor did not arrive");
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = b.wait_timeout(Duration::from_secs(30));
}

/// The surviving waiter's timeout in the dead-releaser row: from its arrival, which comes
/// once the child is up, long enough for the child to arrive after it; the survivor is never
/// woken, so the row takes this long.
const RELEASER_WAIT: Duration = Duration::from_secs(3);

type WaiterResult = (Result<bool, WaitTimeoutError>, Duration);
static WAITER: std::sync::Mutex<Option<std::thread::JoinHandle<WaiterResult>>> =
    std::sync::Mutex::new(None);

/// The last arriver died after resetting `arrived`, before bumping `generation`: the
/// waiter is not woken, but at its timeout it finds the reset and reports the cycle as
/// passed (not leader); the barrier works for the next cycle.
fn barrier_check_dead_releaser(d: Dead<'_>) {
    let waiter = WAITER.lock().unwrap().take().unwrap();
    let (r, waited) = waiter.join().unwrap();
    assert!(matches!(r, Ok(false)), "{r:?}");
    assert!(
        waited >= RELEASER_WAIT,
        "not woken: it passed at its timeout ({waited:?})"
    );
    let b = Barrier::open(d.seg, "b").unwrap();
    assert_eq!(b.arrived(), Ok(0));
    let name = d.seg.name().to_string();
    let other = std::thread::spawn(move || {
        let seg = Segment::open(&name).unwrap();
        let b = Barrier::open(&seg, "b").unwrap();
        b.wait_timeout(DEADLINE).map(|r| r.is_leader())
    });
    let mine = bounded("wait", || b.wait_timeout(DEADLINE))
        .unwrap()
        .is_leader();
    assert!(mine ^ other.join().unwrap().unwrap(), "exactly one leader");
}

crash_case! { barrier_wait_after_arrive, "barrier.wait.after_arrive", barrier3_setup, barrier_child_wait, barrier_check_dead_arrival }
crash_case! { barrier_wait_before_release, "barrier.wait.before_release", barrier2_setup, barrier_child_wait_last, barrier_check_dead_releaser }

// ---------------------------------------------------------------------------------------
// Lazy<u64> "l" (EXTERNAL): the claim protocol of `codata::lazy` (owner word at 288, the
// last 8-aligned 8 bytes of `error_msg` @40). A kill at every step leaves a computed value
// or a state the survivor takes over at once (docs/THREAT_MODEL.md, "Crash matrix").

const LAZY_OWNER: u64 = 288;
const ZPID: u64 = 0x5A50_4944 << 32;

fn lazy(seg: &Segment) -> Lazy<u64> {
    Lazy::open(seg, "l").unwrap()
}

fn lazy_owner(seg: &Segment, l: &Lazy<u64>) -> u64 {
    let b = seg.read_bytes(l.entry().offset() + LAZY_OWNER, 8).unwrap();
    u64::from_le_bytes(b.try_into().unwrap())
}

/// A pid that no process has (a reaped child's).
fn dead_pid() -> u32 {
    let mut c = std::process::Command::new("true").spawn().unwrap();
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Writes `bytes` at `offset` of the segment, as a dead peer would have left them.
fn poke_seg(seg: &Segment, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    std::fs::OpenOptions::new()
        .write(true)
        .open(format!("/dev/shm{}", seg.name()))
        .unwrap()
        .write_all_at(bytes, offset)
        .unwrap();
}

fn lazy_setup(seg: &Segment) {
    Lazy::<u64>::create(seg, "l").unwrap();
}

/// COMPUTING under a dead zeroipc computer.
fn lazy_setup_dead_computer(seg: &Segment) {
    let l = Lazy::<u64>::create(seg, "l").unwrap();
    let at = l.entry().offset();
    poke_seg(
        seg,
        at + LAZY_OWNER,
        &(ZPID | u64::from(dead_pid())).to_le_bytes(),
    );
    poke_seg(seg, at, &1u32.to_le_bytes());
}

fn lazy_child_force(seg: &Segment) {
    let _ = lazy(seg).force_with(|| 7);
}

fn lazy_child_fail(seg: &Segment) {
    let _ = lazy(seg).force_with_result(|| Err::<u64, _>("boom"));
}

/// Died with only its intent recorded: still NOT_COMPUTED; the survivor's claim overwrites
/// the dead intent and computes, without waiting (even the try form).
fn lazy_check_dead_intent(d: Dead<'_>) {
    let l = lazy(d.seg);
    assert_eq!(l.state(), Ok(LazyState::NotComputed));
    assert_eq!(lazy_owner(d.seg, &l), ZPID | u64::from(d.pid));
    assert_eq!(bounded("try_force_with", || l.try_force_with(|| 8)), Ok(8));
    assert_eq!(l.compute_count(), Ok(1));
    assert_eq!(lazy_owner(d.seg, &l), 0, "the owner word is cleared");
}

/// Died holding COMPUTING (before or while computing, or before publishing): a forcer
/// with nothing to compute is told who died; one with a closure takes over at once.
fn lazy_check_dead_computer(d: Dead<'_>) {
    let l = lazy(d.seg);
    assert_eq!(l.state(), Ok(LazyState::Computing));
    assert_eq!(
        bounded("force", || l.force_timeout(DEADLINE)),
        Err(LazyForceTimeoutError::ComputerDead { pid: d.pid })
    );
    let mut ran = false;
    let r = bounded("force_with", || {
        l.force_with_timeout(DEADLINE, || {
            ran = true;
            8
        })
    });
    assert_eq!((r, ran), (Ok(8), true));
    assert_eq!(l.compute_count(), Ok(1));
    assert_eq!(lazy_owner(d.seg, &l), 0);
    // Whatever the dead computer left in `error_msg` is gone: C++'s bytes.
    let msg = d.seg.read_bytes(l.entry().offset() + 40, 256).unwrap();
    assert!(msg.iter().all(|&b| b == 0));
}

/// Died after publishing COMPUTED, before clearing its owner word: the value is there;
/// `reset` and the next claim are not hindered by the stale word.
fn lazy_check_computed_stale_owner(d: Dead<'_>) {
    let l = lazy(d.seg);
    assert_eq!(l.peek(), Ok(Some(7)));
    assert_eq!(l.compute_count(), Ok(1));
    assert_eq!(lazy_owner(d.seg, &l), ZPID | u64::from(d.pid));
    assert_eq!(
        bounded("force_with", || l.force_with(|| unreachable!())),
        Ok(7)
    );
    assert_eq!(l.reset(), Ok(true));
    assert_eq!(
        lazy_owner(d.seg, &l),
        0,
        "reset clears a dead computer's word"
    );
    assert_eq!(bounded("try_force_with", || l.try_force_with(|| 9)), Ok(9));
    assert_eq!(lazy_owner(d.seg, &l), 0);
}

/// Died after publishing ERROR, before clearing its owner word: the error is permanent and
/// its message intact (it ends before the owner word).
fn lazy_check_failed_stale_owner(d: Dead<'_>) {
    let l = lazy(d.seg);
    assert_eq!(l.state(), Ok(LazyState::Error));
    assert_eq!(
        bounded("force_with", || l.force_with_timeout(DEADLINE, || 8)),
        Err(LazyForceTimeoutError::Failed {
            message: "boom".into()
        })
    );
    assert_eq!(lazy_owner(d.seg, &l), ZPID | u64::from(d.pid));
}

crash_case! { lazy_claim_after_intent, "lazy.claim.after_intent", lazy_setup, lazy_child_force, lazy_check_dead_intent }
crash_case! { lazy_claim_after_cas, "lazy.claim.after_cas", lazy_setup, lazy_child_force, lazy_check_dead_computer }
crash_case! { lazy_finish_before_publish, "lazy.finish.before_publish", lazy_setup, lazy_child_force, lazy_check_dead_computer }
crash_case! { lazy_finish_after_publish, "lazy.finish.after_publish", lazy_setup, lazy_child_force, lazy_check_computed_stale_owner }
crash_case! { lazy_fail_before_publish, "lazy.fail.before_publish", lazy_setup, lazy_child_fail, lazy_check_dead_computer }
crash_case! { lazy_fail_after_publish, "lazy.fail.after_publish", lazy_setup, lazy_child_fail, lazy_check_failed_stale_owner }
crash_case! { lazy_takeover_after_cas, "lazy.takeover.after_cas", lazy_setup_dead_computer, lazy_child_force, lazy_check_dead_computer }

// ---------------------------------------------------------------------------------------
// Future<u64> "f": the claim protocol of `codata::future` (`completion_time` @8 names the
// setter from its intent on; the finish owner word @272, inside `error_msg` @24, while it
// finishes).

const FUTURE_TAIL: u64 = 272;

fn future(seg: &Segment) -> Future<u64> {
    Future::open(seg, "f").unwrap()
}

fn word_at(seg: &Segment, f: &Future<u64>, off: u64) -> u64 {
    let b = seg.read_bytes(f.entry().offset() + off, 8).unwrap();
    u64::from_le_bytes(b.try_into().unwrap())
}

fn future_setup(seg: &Segment) {
    Future::<u64>::create(seg, "f").unwrap();
}

/// COMPUTING under a dead zeroipc setter.
fn future_setup_dead_setter(seg: &Segment) {
    let f = Future::<u64>::create(seg, "f").unwrap();
    let at = f.entry().offset();
    poke_seg(seg, at + 8, &(ZPID | u64::from(dead_pid())).to_le_bytes());
    poke_seg(seg, at, &1u32.to_le_bytes());
}

fn future_child_set(seg: &Segment) {
    let _ = future(seg).set_value(7);
}

/// Died with only its intent in `completion_time`: still PENDING; the survivor claims over
/// the dead intent and sets it.
fn future_check_dead_intent(d: Dead<'_>) {
    let f = future(d.seg);
    assert_eq!(f.state(), Ok(FutureState::Pending));
    assert_eq!(word_at(d.seg, &f, 8), ZPID | u64::from(d.pid));
    assert_eq!(f.try_get(), Ok(None));
    bounded("set_value", || f.set_value(8)).unwrap();
    assert_eq!(f.try_get(), Ok(Some(8)));
    assert!(
        f.completion_time()
            .unwrap()
            .is_some_and(|t| t > 0 && t >> 32 != ZPID >> 32)
    );
}

/// Died holding COMPUTING (claimed, or part-way through `finish`): waiters are told who
/// died; `claim` takes over and sets it; the completion time is real, the tail clear.
fn future_check_dead_setter(d: Dead<'_>) {
    let f = future(d.seg);
    assert_eq!(f.state(), Ok(FutureState::Computing));
    assert_eq!(
        bounded("get", || f.get_timeout(DEADLINE)),
        Err(FutureGetTimeoutError::SetterDead { pid: d.pid })
    );
    assert_eq!(f.try_get(), Err(FutureGetError::SetterDead { pid: d.pid }));
    bounded("claim", || f.claim())
        .unwrap()
        .set_value(8)
        .unwrap();
    assert_eq!(bounded("get", || f.get_timeout(DEADLINE)), Ok(8));
    assert!(
        f.completion_time()
            .unwrap()
            .is_some_and(|t| t > 0 && t >> 32 != ZPID >> 32)
    );
    assert_eq!(word_at(d.seg, &f, FUTURE_TAIL), 0);
}

/// Died after publishing READY, before clearing the finish owner word: the value and its
/// real completion time are there; the stale word (inside the unused `error_msg`) is
/// harmless.
fn future_check_ready_stale_tail(d: Dead<'_>) {
    let f = future(d.seg);
    assert_eq!(bounded("get", || f.get_timeout(DEADLINE)), Ok(7));
    assert!(
        f.completion_time()
            .unwrap()
            .is_some_and(|t| t > 0 && t >> 32 != ZPID >> 32)
    );
    assert_eq!(word_at(d.seg, &f, FUTURE_TAIL), ZPID | u64::from(d.pid));
    assert!(matches!(
        f.set_value(9),
        Err(zeroipc::codata::future::SetError::AlreadySet {
            state: FutureState::Ready
        })
    ));
}

crash_case! { future_claim_after_intent, "future.claim.after_intent", future_setup, future_child_set, future_check_dead_intent }
crash_case! { future_claim_after_cas, "future.claim.after_cas", future_setup, future_child_set, future_check_dead_setter }
crash_case! { future_finish_after_tail, "future.finish.after_tail", future_setup, future_child_set, future_check_dead_setter }
crash_case! { future_finish_before_publish, "future.finish.before_publish", future_setup, future_child_set, future_check_dead_setter }
crash_case! { future_finish_after_publish, "future.finish.after_publish", future_setup, future_child_set, future_check_ready_stale_tail }
crash_case! { future_takeover_after_cas, "future.takeover.after_cas", future_setup_dead_setter, future_child_set, future_check_dead_setter }

//! Hostile peers (issue #7): a peer scribbling over a segment while we read it, a stopped
//! holder of the allocation lock, a peer that truncates the segment under our mapping, and
//! crashed peers that leave stale segments behind. Real shared memory and real processes.

mod common;

use std::io::Read;
use std::os::unix::fs::FileExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{NAME_ENV, ROLE_ENV, ShmName, child_role, spawn_child};
use proptest::prelude::*;
use rustix::fs::FlockOperation;
use rustix::process::{Pid, Signal};
use zeroipc::inspect::{self, Removal, UnknownProcesses, Usage};
use zeroipc::segment::ALLOCATION_LOCK_TIMEOUT;
use zeroipc::structures::Array;
use zeroipc::{Corruption, OpenError, Segment, SegmentOptions, StructureError, TableError};

/// Every blocking wait in these tests gives up (and fails the test) after this long.
const DEADLINE: Duration = Duration::from_secs(60);

fn pid_of(child: &Child) -> Pid {
    Pid::from_raw(i32::try_from(child.id()).unwrap()).unwrap()
}

/// Kills (SIGKILL) and reaps a child; ignores "already gone".
fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Asserts the verdict for a segment nobody uses: no visible user; `Unused` unless some
/// process could not be inspected (then `Unknown`, never `InUse`). In this project's sandbox
/// pid 1 is unreadable even to root, so both branches are real.
fn assert_unused(users: &inspect::SegmentUsers) {
    assert!(users.pids().is_empty(), "{users:?}");
    if users.unknown.is_empty() && !users.proc_restricted {
        assert_eq!(users.usage(), Usage::Unused, "{users:?}");
        assert!(users.is_stale(UnknownProcesses::CountAsUsers));
    } else {
        assert_eq!(users.usage(), Usage::Unknown, "{users:?}");
        assert!(!users.is_stale(UnknownProcesses::CountAsUsers));
    }
    assert!(users.is_stale(UnknownProcesses::Ignore));
}

/// Removes a segment nobody uses with [`inspect::remove_if_stale`]: the strict policy refuses
/// only when some process could not be inspected; ignoring those removes it.
fn remove_unused(name: &ShmName) {
    match inspect::remove_if_stale(name.as_str(), UnknownProcesses::CountAsUsers).unwrap() {
        Removal::Removed => {}
        Removal::Unknown(users) => {
            assert!(
                users.pids().is_empty() && !users.unknown.is_empty(),
                "{users:?}"
            );
            assert!(name.path().exists(), "the strict policy must not remove it");
            assert_eq!(
                inspect::remove_if_stale(name.as_str(), UnknownProcesses::Ignore).unwrap(),
                Removal::Removed
            );
        }
        other => panic!("expected removal, got {other:?}"),
    }
    assert!(!name.path().exists());
}

/// Polls `cond` every 2 ms until it holds; panics after [`DEADLINE`].
fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

// ---------------------------------------------------------------------------------------
// The allocation lock
// ---------------------------------------------------------------------------------------

#[test]
fn creating_a_structure_gives_up_on_a_stopped_lock_holder() {
    const TEST: &str = "creating_a_structure_gives_up_on_a_stopped_lock_holder";
    if let Some(name) = child_role("lock_holder") {
        // Take the segment's allocation lock the way any process with the object open can,
        // and keep it (the parent stops, then kills us; give up on our own after a minute).
        let file = std::fs::File::open(format!("/dev/shm{name}")).unwrap();
        rustix::fs::flock(&file, FlockOperation::LockExclusive).unwrap();
        std::thread::sleep(DEADLINE);
        return;
    }
    let name = ShmName::new(TEST);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let mut child = common::KillOnDrop(spawn_child(TEST, "lock_holder", &name));
    // The child holds the lock once our own non-blocking attempt fails.
    let probe = std::fs::File::open(name.path()).unwrap();
    wait_until("the child to take the flock", || {
        match rustix::fs::flock(&probe, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {
                rustix::fs::flock(&probe, FlockOperation::Unlock).unwrap();
                false
            }
            Err(e) => {
                assert_eq!(e, rustix::io::Errno::WOULDBLOCK);
                true
            }
        }
    });
    // A stopped holder: it will never release the lock by itself.
    rustix::process::kill_process(pid_of(&child.0), Signal::STOP).unwrap();

    let t0 = Instant::now();
    let err = Array::<u64>::create(&seg, "blocked", 4).unwrap_err();
    let waited = t0.elapsed();
    let StructureError::Table(TableError::Lock(io)) = &err else {
        panic!("expected a lock error, got {err:?}");
    };
    assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
    assert!(
        err.to_string()
            .contains("another process holds the allocation lock"),
        "{err}"
    );
    // It did wait for the holder (a minimum, never a maximum).
    assert!(
        waited >= ALLOCATION_LOCK_TIMEOUT,
        "gave up after {waited:?}"
    );
    // Nothing was published.
    assert!(seg.entries().unwrap().is_empty());

    // The holder dies: the kernel releases its flock with its descriptor, and we go on.
    kill_and_reap(&mut child.0);
    let a = Array::<u64>::create(&seg, "after", 4).unwrap();
    a.set(3, 7).unwrap();
    assert_eq!(a.get(3), Some(7));
}

// ---------------------------------------------------------------------------------------
// Permissions
// ---------------------------------------------------------------------------------------

#[test]
fn the_umask_does_not_narrow_the_requested_mode() {
    const TEST: &str = "the_umask_does_not_narrow_the_requested_mode";
    if let Some(name) = child_role("umask") {
        // umask is per process: set it in a child, not in the shared test process.
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
        drop(
            SegmentOptions::new()
                .catalog(false)
                .size(64 * 1024)
                .mode(0o660)
                .create_new(&name)
                .unwrap(),
        );
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let name = ShmName::new(TEST);
    common::wait_ok(spawn_child(TEST, "umask", &name), 60);
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o660);
}

/// Environment variable naming the second (0644) segment for the "nobody" child.
const READABLE_ENV: &str = "ZEROIPC_TEST_READABLE";

#[test]
fn another_user_can_neither_open_a_0600_segment_nor_write_a_0644_one() {
    const TEST: &str = "another_user_can_neither_open_a_0600_segment_nor_write_a_0644_one";
    if let Some(private) = child_role("nobody") {
        let readable = std::env::var(READABLE_ENV).unwrap();
        // Become `nobody` (credentials are per thread in Linux; this thread does the opens).
        if let Err(e) = rustix::thread::set_thread_uid(rustix::process::Uid::from_raw(65534)) {
            println!("SKIP cannot switch to uid 65534: {e}");
            return;
        }
        let denied = |r: Result<_, OpenError>| match r {
            Err(OpenError::Os { source, .. }) => {
                assert_eq!(
                    source.kind(),
                    std::io::ErrorKind::PermissionDenied,
                    "{source}"
                );
            }
            Err(e) => panic!("expected permission denied, got {e:?}"),
            Ok(_) => panic!("expected permission denied, it opened"),
        };
        // 0600: nothing at all.
        denied(Segment::open(&private).map(drop));
        denied(Segment::open_read_only(&private).map(drop));
        // 0644: reading yes, writing no, and so no truncation either.
        denied(Segment::open(&readable).map(drop));
        let ro = Segment::open_read_only(&readable).unwrap();
        assert_eq!(ro.entries().unwrap().len(), 1);
        let path = format!("/dev/shm{readable}");
        let err = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::PermissionDenied);
        let read_only_fd = std::fs::File::open(&path).unwrap();
        assert!(
            read_only_fd.set_len(4096).is_err(),
            "truncated through a read-only descriptor"
        );
        // The sticky bit of /dev/shm: only the owner removes a segment.
        assert!(matches!(
            Segment::unlink(&readable),
            Err(OpenError::Os { .. })
        ));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 64 * 1024);
        println!("nobody-checks-done");
        return;
    }
    let private = ShmName::new("perm_private");
    let readable = ShmName::new("perm_readable");
    let _a = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(private.as_str())
        .unwrap();
    let b = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .mode(0o644)
        .create_new(readable.as_str())
        .unwrap();
    Array::<u8>::create(&b, "x", 1).unwrap();
    let child = common::spawn_child_with(
        TEST,
        "nobody",
        &private,
        &[(READABLE_ENV, readable.as_str().to_owned())],
    );
    common::wait_ok(child, 60);
    assert!(readable.path().exists() && private.path().exists());
}

// ---------------------------------------------------------------------------------------
// Truncation under our mapping
// ---------------------------------------------------------------------------------------

const SHRINK_SIZE: u64 = 64 * 1024;

fn segment_with_a_large_array(name: &ShmName) -> Segment {
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(SHRINK_SIZE)
        .create_new(name.as_str())
        .unwrap();
    // Fills most of the segment: its tail lies in pages a truncation to 4 KiB cuts off.
    let a = Array::<u64>::create(&seg, "big", 7000).unwrap();
    a.fill(0x5A5A);
    seg
}

#[test]
fn a_truncated_segment_is_refused_with_a_typed_error_instead_of_sigbus() {
    let name = ShmName::new("truncated_typed_error");
    let seg = segment_with_a_large_array(&name);
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    // A peer with write access cuts the object to one page (the table survives).
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
        .set_len(4096)
        .unwrap();
    let shrunk = Corruption::Shrunk {
        size: 4096,
        mapped: SHRINK_SIZE,
    };
    for view in [&*seg, &ro] {
        assert_eq!(view.entries().unwrap_err(), shrunk);
        assert_eq!(view.header().unwrap_err(), shrunk);
        assert_eq!(view.read_bytes(60_000, 8).unwrap_err(), shrunk);
        assert!(
            matches!(view.find("big"), Err(TableError::Corrupt(ref c)) if *c == shrunk),
            "{:?}",
            view.find("big")
        );
    }
    assert!(matches!(
        Array::<u64>::open(&seg, "big"),
        Err(StructureError::Corrupt(ref c)) if *c == shrunk
    ));
    assert!(matches!(
        Array::<u64>::create(&seg, "more", 2),
        Err(StructureError::Corrupt(ref c)) if *c == shrunk
    ));
    assert!(shrunk.to_string().contains("truncated to 4096 bytes"));
    // A fresh open maps only what is left, and the header no longer fits it.
    assert!(matches!(
        Segment::open(name.as_str()),
        Err(OpenError::Corrupt(Corruption::MemorySize { found, mapped: 4096, .. })) if found == SHRINK_SIZE
    ));
    // Growing it back makes the old handles usable again: the check is live, not sticky.
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
        .set_len(SHRINK_SIZE)
        .unwrap();
    assert_eq!(seg.entries().unwrap().len(), 1);
    // The cut-off pages came back as zeroes.
    let big = Array::<u64>::open(&seg, "big").unwrap();
    assert_eq!(big.get(0), Some(0x5A5A));
    assert_eq!(big.get(6999), Some(0));
}

/// Why truncation cannot be prevented: a shm_open'ed object starts sealed against new seals
/// (`F_SEAL_SEAL`), so `F_SEAL_SHRINK` cannot be added (only memfds created with
/// `MFD_ALLOW_SEALING` can take it); and the `fallocate` reservation does not stop a shrink.
#[test]
fn seals_cannot_be_added_to_a_shm_object_and_reservation_does_not_stop_a_shrink() {
    use rustix::fs::SealFlags;
    let name = ShmName::new("no_seals");
    drop(
        SegmentOptions::new()
            .catalog(false)
            .size(SHRINK_SIZE)
            .create_new(name.as_str())
            .unwrap(),
    );
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.path())
        .unwrap();
    assert_eq!(rustix::fs::fcntl_get_seals(&file).unwrap(), SealFlags::SEAL);
    assert_eq!(
        rustix::fs::fcntl_add_seals(&file, SealFlags::SHRINK).unwrap_err(),
        rustix::io::Errno::PERM
    );
    // `create_new` reserved the pages with fallocate; a peer shrinks it anyway.
    file.set_len(4096).unwrap();
    assert_eq!(std::fs::metadata(name.path()).unwrap().len(), 4096);
}

/// What cannot be defended: an `Array` opened before the truncation reads its elements
/// without a system call, so touching a cut-off page raises SIGBUS in the reader. The test
/// pins this documented limit (docs/THREAT_MODEL.md): the reader dies by SIGBUS.
#[test]
fn a_reader_touching_cut_off_pages_dies_by_sigbus() {
    const TEST: &str = "a_reader_touching_cut_off_pages_dies_by_sigbus";
    const READY: u64 = 0xC0DE;
    if let Some(name) = child_role("toucher") {
        // No core file for the expected crash.
        rustix::process::setrlimit(
            rustix::process::Resource::Core,
            rustix::process::Rlimit {
                current: Some(0),
                maximum: None,
            },
        )
        .unwrap();
        let seg = Segment::open(&name).unwrap();
        let big = Array::<u64>::open(&seg, "big").unwrap();
        assert_eq!(big.get(6999), Some(0x5A5A));
        big.set(0, READY).unwrap(); // opened: the parent may truncate now
        let path = format!("/dev/shm{name}");
        let t0 = Instant::now();
        while std::fs::metadata(&path).unwrap().len() == SHRINK_SIZE {
            assert!(t0.elapsed() < DEADLINE, "the parent never truncated");
            std::thread::sleep(Duration::from_millis(1));
        }
        // The last element is in a page that no longer exists.
        let _ = std::hint::black_box(big.get(6999));
        unreachable!("reading a cut-off page did not raise SIGBUS");
    }
    let name = ShmName::new(TEST);
    let seg = segment_with_a_large_array(&name);
    let child = spawn_child(TEST, "toucher", &name);
    // Truncate once the child has opened the array (a truncation before its `open` would be
    // refused with a typed error instead, as the test above shows). Element 0 is in the
    // first page, which the truncation keeps; nothing here reads the array afterwards.
    let big = Array::<u64>::open(&seg, "big").unwrap();
    wait_until("the child to open the array", || big.get(0) == Some(READY));
    std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap()
        .set_len(4096)
        .unwrap();
    let status = wait_status(child);
    assert_eq!(
        status.signal(),
        Some(Signal::BUS.as_raw()),
        "expected death by SIGBUS, got {status}"
    );
    drop(seg); // unmaps without touching the cut-off pages
}

fn wait_status(mut child: Child) -> std::process::ExitStatus {
    let t0 = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if t0.elapsed() > DEADLINE {
            kill_and_reap(&mut child);
            panic!("child did not finish");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------------------------------
// Stale segments
// ---------------------------------------------------------------------------------------

/// Starts this test binary as `role` with a piped stdin: the child exits when it reads EOF.
fn spawn_stdin_child(test: &str, role: &str, name: &ShmName) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(NAME_ENV, name.as_str())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn a_segment_used_by_a_child_is_in_use_until_the_child_exits() {
    const TEST: &str = "a_segment_used_by_a_child_is_in_use_until_the_child_exits";
    if let Some(name) = child_role("mapper") {
        let seg = Segment::open(&name).unwrap();
        assert_eq!(Array::<u32>::open(&seg, "x").unwrap().get(0), Some(11));
        // Hold the mapping until the parent closes our stdin.
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
        drop(seg);
        return;
    }
    let name = ShmName::new(TEST);
    {
        let seg = SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_new(name.as_str())
            .unwrap();
        Array::<u32>::create(&seg, "x", 1)
            .unwrap()
            .set(0, 11)
            .unwrap();
    }
    let me = std::process::id();
    // Nobody maps it now.
    assert_unused(&inspect::segment_users(name.as_str()).unwrap());

    let mut child = spawn_stdin_child(TEST, "mapper", &name);
    let pid = child.id();
    wait_until("the child to map the segment", || {
        inspect::segment_users(name.as_str())
            .unwrap()
            .mapped_by
            .contains(&pid)
    });
    let users = inspect::segment_users(name.as_str()).unwrap();
    assert_eq!(users.usage(), Usage::InUse);
    assert!(!users.is_stale(UnknownProcesses::Ignore));
    // A Segment keeps its descriptor open as well as its mapping.
    assert!(users.open_in.contains(&pid), "{users:?}");
    assert!(!users.pids().contains(&me), "{users:?}");
    assert!(
        !inspect::stale_segments(UnknownProcesses::Ignore)
            .unwrap()
            .iter()
            .any(|s| s.name == name.as_str())
    );
    // The removal helper re-checks and refuses.
    assert!(matches!(
        inspect::remove_if_stale(name.as_str(), UnknownProcesses::Ignore).unwrap(),
        Removal::InUse(u) if u.mapped_by.contains(&pid)
    ));
    assert!(name.path().exists());

    // The child exits normally.
    drop(child.stdin.take());
    let status = wait_status(child);
    assert!(status.success(), "{status}");
    assert_unused(&inspect::segment_users(name.as_str()).unwrap());
    let stale = inspect::stale_segments(UnknownProcesses::Ignore).unwrap();
    assert!(stale.iter().any(|s| s.name == name.as_str()), "{stale:?}");
    remove_unused(&name);
    assert!(matches!(
        Segment::open(name.as_str()),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn a_crashed_user_leaves_a_stale_segment_behind() {
    const TEST: &str = "a_crashed_user_leaves_a_stale_segment_behind";
    if let Some(name) = child_role("crasher") {
        let _seg = Segment::open(&name).unwrap();
        std::thread::sleep(DEADLINE); // until SIGKILL
        return;
    }
    let name = ShmName::new(TEST);
    drop(
        SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_new(name.as_str())
            .unwrap(),
    );
    let mut child = common::KillOnDrop(spawn_child(TEST, "crasher", &name));
    let pid = child.0.id();
    wait_until("the child to map the segment", || {
        inspect::segment_users(name.as_str())
            .unwrap()
            .pids()
            .contains(&pid)
    });
    kill_and_reap(&mut child.0);
    assert_unused(&inspect::segment_users(name.as_str()).unwrap());
    remove_unused(&name);
}

#[test]
fn an_open_descriptor_without_a_mapping_is_a_user() {
    let name = ShmName::new("descriptor_only");
    drop(
        SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_new(name.as_str())
            .unwrap(),
    );
    let me = std::process::id();
    let file = std::fs::File::open(name.path()).unwrap();
    let users = inspect::segment_users(name.as_str()).unwrap();
    assert!(users.open_in.contains(&me), "{users:?}");
    assert!(!users.mapped_by.contains(&me), "{users:?}");
    assert!(matches!(
        inspect::remove_if_stale(name.as_str(), UnknownProcesses::Ignore).unwrap(),
        Removal::InUse(_)
    ));
    drop(file);
    assert_unused(&inspect::segment_users(name.as_str()).unwrap());
}

#[test]
fn a_replaced_object_is_not_the_one_still_mapped() {
    // A process maps the old object; the name now refers to a new one that nobody uses.
    let name = ShmName::new("replaced_object");
    let old = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    drop(
        SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_or_replace(name.as_str())
            .unwrap(),
    );
    let users = inspect::segment_users(name.as_str()).unwrap();
    assert!(!users.pids().contains(&std::process::id()), "{users:?}");
    assert_unused(&users);
    assert!(old.entries().unwrap().is_empty());
}

#[test]
fn users_of_a_missing_or_foreign_object_are_an_error() {
    let name = ShmName::new("users_missing");
    let err = inspect::segment_users(name.as_str()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    let err = inspect::remove_if_stale("/a/b", UnknownProcesses::Ignore).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

// ---------------------------------------------------------------------------------------
// A peer scribbling while we read (the stable twin of fuzz/concurrent_corruption)
// ---------------------------------------------------------------------------------------

const IMAGE_SIZE: u64 = 8192;
const MAX_ENTRIES: u32 = 8;
const TABLE: u64 = 32 + 48 * MAX_ENTRIES as u64;
const NAMES: [&str; 4] = ["a8", "b32", "c64", "d8"];

/// A valid image with four arrays, built once in a real segment.
fn valid_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = ShmName::new("hostile_image_source");
        let seg = SegmentOptions::new()
            .catalog(false)
            .size(IMAGE_SIZE)
            .max_entries(MAX_ENTRIES)
            .create_new(name.as_str())
            .unwrap();
        Array::<u8>::create(&seg, NAMES[0], 40).unwrap().fill(1);
        Array::<u32>::create(&seg, NAMES[1], 50).unwrap().fill(2);
        Array::<u64>::create(&seg, NAMES[2], 60).unwrap().fill(3);
        Array::<u8>::create(&seg, NAMES[3], 7).unwrap().fill(4);
        std::fs::read(name.path()).unwrap()
    })
}

/// One write of the scribbling peer: `bytes` at `at`.
#[derive(Clone, Debug)]
struct Scribble {
    at: u64,
    bytes: Vec<u8>,
}

fn scribble() -> impl Strategy<Value = Scribble> {
    let table_word = (0..TABLE / 8, any::<u64>()).prop_map(|(w, v)| Scribble {
        at: w * 8,
        bytes: v.to_le_bytes().to_vec(),
    });
    let table_byte = (0..TABLE, any::<u8>()).prop_map(|(at, v)| Scribble { at, bytes: vec![v] });
    let header_field = (
        0..4u64,
        prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()],
    )
        .prop_map(|(i, v)| Scribble {
            at: 8 + i * 8,
            bytes: v.to_le_bytes().to_vec(),
        });
    let anywhere = (0..IMAGE_SIZE, prop::collection::vec(any::<u8>(), 1..16))
        .prop_map(|(at, bytes)| Scribble { at, bytes });
    prop_oneof![3 => table_word, 2 => table_byte, 2 => header_field, 1 => anywhere]
}

/// Everything a reader does, over and over; returns how many calls returned.
fn read_everything(name: &str, seg: &Segment) -> u64 {
    let mut calls = 0;
    let _ = seg.header();
    if let Ok(entries) = seg.entries() {
        for e in &entries {
            let _ = seg.read_bytes(e.offset(), e.size());
            let _ = inspect::classify(seg, e);
            calls += 1;
        }
    }
    for n in NAMES {
        let _ = seg.find(n);
        if let Ok(a) = Array::<u8>::open(seg, n) {
            assert!(a.entry().offset() + 8 + a.len() as u64 <= seg.bound());
            let _ = a.get(a.len().saturating_sub(1));
            assert_eq!(a.to_vec().len(), a.len());
        }
        if let Ok(a) = Array::<u32>::open(seg, n) {
            let _ = a.get(0);
            let _ = a.to_vec();
        }
        if let Ok(a) = Array::<u64>::open(seg, n) {
            let _ = a.to_vec();
        }
        calls += 1;
    }
    match Segment::open(name) {
        Ok(peer) => {
            let _ = peer.entries();
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
    if let Ok(ro) = Segment::open_read_only(name) {
        let _ = ro.entries();
    }
    calls + 1
}

proptest! {
    // Bounded: 48 cases of 100 reader rounds each, against a peer that never stops writing.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn a_peer_scribbling_while_we_open_look_up_and_read_never_crashes_us(
        writes in prop::collection::vec(scribble(), 1..24),
        restore_every in 2usize..16,
    ) {
        let name = ShmName::new("scribble_proptest");
        std::fs::write(name.path(), valid_image()).unwrap();
        let seg = Segment::open(name.as_str()).unwrap();
        let stop = AtomicBool::new(false);
        let mut calls = 0;
        std::thread::scope(|s| {
            s.spawn(|| {
                let file = std::fs::OpenOptions::new().write(true).open(name.path()).unwrap();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    for w in &writes {
                        // Never past the end: growing the object is not what this tests.
                        let room = usize::try_from(IMAGE_SIZE - w.at).unwrap();
                        file.write_all_at(&w.bytes[..w.bytes.len().min(room)], w.at).unwrap();
                        n += 1;
                        if n % restore_every == 0 {
                            file.write_all_at(valid_image(), 0).unwrap();
                        }
                    }
                }
            });
            for _ in 0..100 {
                calls += read_everything(name.as_str(), &seg);
            }
            stop.store(true, Ordering::Relaxed);
        });
        prop_assert!(calls >= 100);
        // With the valid image back, everything reads as before.
        std::fs::write(name.path(), valid_image()).unwrap();
        let seg = Segment::open(name.as_str()).unwrap();
        prop_assert_eq!(Array::<u64>::open(&seg, "c64").unwrap().to_vec(), vec![3u64; 60]);
    }
}

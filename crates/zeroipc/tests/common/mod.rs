//! Shared test helpers: unique segment names that unlink themselves, re-running this test
//! binary as a child process, and the golden images in the repository's `golden/`.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable naming the role of a child process.
pub const ROLE_ENV: &str = "ZEROIPC_TEST_ROLE";
/// Environment variable carrying the segment name to a child process.
pub const NAME_ENV: &str = "ZEROIPC_TEST_SEGMENT";

/// A unique segment name, `/zeroipc-test-<pid>-<test>-<n>`, unlinked on drop (also when the
/// test panics).
#[derive(Debug)]
pub struct ShmName(String);

impl ShmName {
    pub fn new(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let mut short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        short.truncate(80);
        Self(format!("/zeroipc-test-{}-{short}-{n}", std::process::id()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The file behind the name.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.0))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

/// If this process is a child started by [`spawn_child`] with `role`, the segment name.
pub fn child_role(role: &str) -> Option<String> {
    match std::env::var(ROLE_ENV) {
        Ok(r) if r == role => std::env::var(NAME_ENV).ok(),
        _ => None,
    }
}

/// Whether this process is any child (so a test body can return early in children that run
/// other roles).
pub fn is_child() -> bool {
    std::env::var_os(ROLE_ENV).is_some()
}

/// Re-runs this test binary with only `test` selected, as `role`, with the segment name in
/// the environment. The child's stdout/stderr go to ours (captured by the harness).
pub fn spawn_child(test: &str, role: &str, name: &ShmName) -> Child {
    spawn_child_with(test, role, name, &[])
}

/// [`spawn_child`] with extra environment variables.
pub fn spawn_child_with(test: &str, role: &str, name: &ShmName, env: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("current_exe");
    let mut cmd = Command::new(exe);
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(ROLE_ENV, role)
        .env(NAME_ENV, name.as_str())
        .stdin(Stdio::null())
        // The child's own harness summary would read like a second test run; its panics and
        // eprintln! output still reach us on stderr.
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawn child test process")
}

/// A child that is killed and reaped when the test ends, also when it fails: a child that
/// loops until killed (or a stopped one) would otherwise outlive the test run.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits for `child` up to `secs` seconds; kills it and panics on a hang, panics on failure.
pub fn wait_ok(mut child: Child, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            assert!(status.success(), "child failed: {status}");
            return;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("child did not finish within {secs} s");
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

/// The kernel's id of the calling thread (`gettid`), for [`wait_until_asleep`]: a thread
/// sends it to the test before it calls the operation that should block.
pub fn thread_id() -> u32 {
    // "/proc/thread-self" links to "<pid>/task/<tid>".
    let link = std::fs::read_link("/proc/thread-self").expect("read /proc/thread-self");
    link.file_name()
        .and_then(|t| t.to_str())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("unexpected /proc/thread-self link {link:?}"))
}

/// Waits (at most 60 s, else panics naming `what`) until thread `tid` of process `pid` is
/// asleep in the kernel (state `S` in `/proc/<pid>/task/<tid>/stat`: a futex wait or a timed
/// sleep). The handshake for "this thread is blocked in the call it made": the test learns
/// the thread's id (see [`thread_id`]; a child process writes it into the segment) before
/// the thread calls the blocking operation, and runs the step that must find it blocked
/// (a close, a kill, a write without a wake) only once this returns. A thread that has not
/// reached the call yet is running, not asleep; one that returned has nothing left to block
/// on in these tests.
pub fn wait_until_asleep(what: &str, pid: u32, tid: u32) {
    let path = format!("/proc/{pid}/task/{tid}/stat");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let stat = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{what}: cannot read {path} ({e}): the thread is gone"));
        // "tid (comm) S ...": the state follows the last ')' (comm may contain one).
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{what}: unexpected {path}: {stat:?}"));
        if state == "S" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: thread {tid} of process {pid} never went to sleep (state {state})"
        );
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
}

/// [`wait_until_asleep`] for a thread of this process.
pub fn wait_until_thread_asleep(what: &str, tid: u32) {
    wait_until_asleep(what, std::process::id(), tid);
}

/// Runs `f` on a new thread and returns once that thread is asleep in the kernel, i.e.
/// blocked in `f` ([`wait_until_asleep`]); `what` names the wait in a failure.
pub fn spawn_blocked<R: Send + 'static>(
    what: &str,
    f: impl FnOnce() -> R + Send + 'static,
) -> std::thread::JoinHandle<R> {
    let (tid_tx, tid_rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        tid_tx.send(thread_id()).unwrap();
        f()
    });
    let tid = tid_rx.recv().expect("the thread sends its id first");
    wait_until_thread_asleep(what, tid);
    t
}

/// The golden images: `golden/` at the workspace root (see `golden/PROVENANCE.md`).
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../golden")
}

/// Copies golden image `file` into /dev/shm under a fresh unique name.
pub fn load_golden(file: &str) -> ShmName {
    let name = ShmName::new(&format!("golden_{}", file.replace('.', "_")));
    std::fs::copy(golden_dir().join(file), name.path()).expect("copy golden image into /dev/shm");
    name
}

/// `manifest.json` from the golden directory.
pub fn manifest() -> serde_json::Value {
    let text =
        std::fs::read_to_string(golden_dir().join("manifest.json")).expect("read manifest.json");
    serde_json::from_str(&text).expect("parse manifest.json")
}

/// The manifest's record for image `file`.
pub fn image(file: &str) -> serde_json::Value {
    manifest()["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["file"] == file)
        .cloned()
        .unwrap_or_else(|| panic!("{file} not in manifest"))
}

/// Writes `bytes` at `offset` of segment `name`'s object through its file, as a misbehaving
/// or crashed peer would leave them.
pub fn poke(name: &ShmName, offset: u64, bytes: &[u8]) {
    use std::os::unix::fs::FileExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.write_all_at(bytes, offset).unwrap();
}

/// The `(data, room)` sleeper counters that the segment's waiter registry
/// (`__zeroipc_waiters`, 8 bytes per table slot) holds for `entry`; `(0, 0)` while there is
/// no registry. A test waits for a blocked thread to show up here before it unblocks it: a
/// handshake proving the thread is asleep, not a sleep that hopes so.
pub fn registered_sleepers(seg: &zeroipc::Segment, entry: &zeroipc::Entry) -> (u32, u32) {
    let Ok(reg) = seg.find("__zeroipc_waiters") else {
        return (0, 0);
    };
    let b = seg
        .read_bytes(reg.offset() + 8 * u64::from(entry.index()), 8)
        .unwrap();
    (
        u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
    )
}

/// Waits (yielding, at most `limit`) until `cond` holds; panics with `what` otherwise.
pub fn wait_until(what: &str, limit: std::time::Duration, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + limit;
    while !cond() {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::yield_now();
    }
}

/// A liveness bound for non-blocking calls under a peer that keeps writing (issue #17), not
/// a speed benchmark: before the fix such a call spun for as long as the peer wrote (the
/// peer of [`while_a_peer_moves`] stops after 30 s), after it the call returns within its
/// stall bound. 10 s separates the two with room for any load on the machine.
pub const NONBLOCKING_LIVENESS: std::time::Duration = std::time::Duration::from_secs(10);

/// Runs `op` while a peer thread keeps writing the u32 at `at` of segment `name` (through
/// its file, as [`poke`] does) with `value(k)` for k = 1, 2, ...; returns how long `op`
/// took and what it returned. The peer has written at least once before `op` starts (a
/// handshake), and stops when `op` returns (or after 30 s, so that a regression fails the
/// test instead of hanging it).
pub fn while_a_peer_moves<R>(
    name: &ShmName,
    at: u64,
    value: impl Fn(u32) -> u32 + Send + 'static,
    op: impl FnOnce() -> R,
) -> (std::time::Duration, R) {
    use std::os::unix::fs::FileExt;
    use std::sync::Arc;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering::{Acquire, Release};
    use std::time::{Duration, Instant};
    let started = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    let peer = {
        let (started, stop) = (started.clone(), stop.clone());
        std::thread::spawn(move || {
            let limit = Instant::now() + Duration::from_secs(30);
            let mut k = 0u32;
            while !stop.load(Acquire) && Instant::now() < limit {
                k = k.wrapping_add(1);
                f.write_all_at(&value(k).to_ne_bytes(), at).unwrap();
                started.store(true, Release);
            }
        })
    };
    while !started.load(Acquire) {
        std::thread::yield_now();
    }
    let t0 = Instant::now();
    let r = op();
    let took = t0.elapsed();
    stop.store(true, Release);
    peer.join().unwrap();
    (took, r)
}

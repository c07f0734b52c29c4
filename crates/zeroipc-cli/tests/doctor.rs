//! `zeroipc doctor`: healthy segments, golden images, a Mutex whose holder was SIGKILLed, a
//! queue slot claimed but never published, a half-created RwLock, `--json`, and `--stale`.
//!
//! Child processes are this test binary run again with `ZEROIPC_DOCTOR_CHILD` set: the
//! `child_*` tests do their work only then.

mod common;

use std::io::{BufRead, BufReader};
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};

use common::{ShmName, load_golden, zeroipc};
use zeroipc::structures::{Array, Queue};
use zeroipc::sync::{Mutex, RwLock, Semaphore};
use zeroipc::{Segment, SegmentOptions};

const CHILD: &str = "ZEROIPC_DOCTOR_CHILD";

fn create(name: &ShmName) -> Segment {
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .expect("create segment")
}

/// Runs test `test` of this binary as a child process with `CHILD=arg`, stdout piped.
fn spawn_child(test: &str, arg: &str) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads", "1"])
        .env(CHILD, arg)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn child")
}

/// Reads the child's stdout until a line equal to `line`.
fn wait_for_line(child: &mut std::process::Child, line: &str) {
    let out = child.stdout.as_mut().unwrap();
    let mut reader = BufReader::new(out);
    let mut buf = String::new();
    loop {
        buf.clear();
        assert!(reader.read_line(&mut buf).unwrap() > 0, "child ended early");
        if buf.trim_end().ends_with(line) {
            return;
        }
    }
}

/// Child: lock Mutex `m` of segment `$CHILD`, say so, and wait to be killed.
#[test]
fn child_hold_mutex() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let seg = Segment::open(&name).unwrap();
    let m = Mutex::open(&seg, "m").unwrap();
    let guard = m.lock().unwrap();
    std::mem::forget(guard);
    println!("locked");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Child: take both permits of semaphore `s` of segment `$CHILD`, then wait to be killed.
#[test]
fn child_hold_permits() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let seg = Segment::open(&name).unwrap();
    let s = Semaphore::open(&seg, "s").unwrap();
    s.acquire().unwrap();
    s.acquire().unwrap();
    println!("acquired");
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
}

/// Child: sleep in a blocking pop on the empty queue `q` of segment `$CHILD` (registering
/// as a sleeper), until killed.
#[test]
fn child_sleep_on_queue() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let seg = Segment::open(&name).unwrap();
    let q: Queue<u32> = Queue::open(&seg, "q").unwrap();
    println!("sleeping");
    let _ = q.pop_timeout(std::time::Duration::from_secs(60));
}

/// Child: open segment `$CHILD` (becoming a user) and exit.
#[test]
fn child_use_and_exit() {
    let Ok(name) = std::env::var(CHILD) else {
        return;
    };
    let seg = Segment::open(&name).unwrap();
    drop(seg);
}

fn doctor_json(args: &[&str]) -> (i32, serde_json::Value) {
    let run = zeroipc(args);
    assert!(run.stderr.is_empty(), "stderr: {}", run.stderr);
    let doc = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", run.stdout));
    (run.code.unwrap(), doc)
}

fn categories(doc: &serde_json::Value) -> Vec<String> {
    doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["category"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_healthy_library_segment_exits_0_with_no_findings() {
    let name = ShmName::new("doctor_healthy");
    let seg = create(&name);
    let q: Queue<u32> = Queue::create(&seg, "q", 8).unwrap();
    q.push(1).unwrap();
    Array::<u64>::create(&seg, "a", 4).unwrap();
    let m = Mutex::create(&seg, "m").unwrap();
    drop(m.lock().unwrap());
    RwLock::create(&seg, "rw").unwrap();

    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("healthy: no problems found"),
        "{}",
        run.stdout
    );
    // We map it ourselves: listed as a user.
    assert!(
        run.stdout
            .contains(&format!("mapped by [{}]", std::process::id())),
        "{}",
        run.stdout
    );

    let (code, doc) = doctor_json(&["doctor", name.bare(), "--json"]);
    assert_eq!(code, 0);
    assert_eq!(doc["healthy"], true);
    assert_eq!(doc["segment"], name.as_str());
    // __zeroipc_catalog, q, __zeroipc_waiters (created with q), a, m, rw_state, rw_rmtx,
    // rw_wmtx, rw
    assert_eq!(doc["entries"], 9);
    assert_eq!(doc["findings"], serde_json::json!([]));
    assert!(
        doc["users"]["mapped_by"]
            .as_array()
            .unwrap()
            .contains(&std::process::id().into())
    );
}

#[test]
fn golden_images_are_healthy_and_an_upstream_held_mutex_is_only_a_note() {
    for file in ["cpp_all.bin", "python_all.bin", "c_all.bin", "cpp_min.bin"] {
        let name = load_golden(file);
        let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
        assert_eq!(code, 0, "{file}: {doc}");
        assert_eq!(doc["healthy"], true, "{file}");
        assert!(categories(&doc).is_empty(), "{file}: {doc}");
        if file == "cpp_all.bin" || file == "python_all.bin" {
            let notes = doc["notes"].as_array().unwrap();
            let note = |entry: &str| {
                notes
                    .iter()
                    .find(|n| n["entry"] == entry)
                    .unwrap_or_else(|| panic!("{file}: no note for {entry}: {doc}"))["message"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            };
            // The held mutex stores no pid (upstream): not a dead holder, just a note.
            assert!(note("mtx_locked").contains("holder unknown"), "{file}");
            // The write-locked RwLock is reported once, under its base name.
            assert!(note("rw_write").contains("wmtx held"), "{file}");
            assert!(
                !notes.iter().any(|n| n["entry"] == "rw_write_wmtx"),
                "{file}"
            );
        }
    }
}

#[test]
fn semaphore_permits_of_a_sigkilled_holder_are_a_dead_holder_until_a_waiter_reclaims_them() {
    let name = ShmName::new("doctor_dead_permits");
    let seg = create(&name);
    let s = Semaphore::create(&seg, "s", 2, 2).unwrap();
    let mut child = spawn_child("child_hold_permits", name.as_str());
    wait_for_line(&mut child, "acquired");
    let pid = child.id();

    // Alive: a note, not a finding.
    let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    assert_eq!(code, 0, "{doc}");
    assert!(
        doc["notes"].to_string().contains(&format!(
            "2 permit(s) of semaphore s held by process {pid} (alive)"
        )),
        "{doc}"
    );

    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains(&format!(
            "2 permit(s) of semaphore s held by process {pid}, which no longer exists"
        )),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("OwnerDead"), "{}", run.stdout);

    // The library's waiter gives them back; then the segment is healthy again.
    match s.acquire_timeout(std::time::Duration::from_secs(30)) {
        Err(zeroipc::LockTimeoutError::OwnerDead(dead)) => assert_eq!(dead.pid(), pid),
        other => panic!("expected OwnerDead, got {other:?}"),
    }
    s.release().unwrap();
    let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["healthy"], true);
}

#[test]
fn a_mutex_whose_holder_was_sigkilled_is_a_dead_holder_with_its_pid() {
    let name = ShmName::new("doctor_dead_holder");
    let seg = create(&name);
    Mutex::create(&seg, "m").unwrap();
    drop(seg);
    let mut child = spawn_child("child_hold_mutex", name.as_str());
    wait_for_line(&mut child, "locked");
    let pid = child.id();
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .contains(&format!("by process {pid}, which no longer exists")),
        "{}",
        run.stdout
    );
    assert!(run.stdout.starts_with(&format!("{}:", name.as_str())));
    assert!(run.stdout.contains("dead_holder m:"), "{}", run.stdout);
    assert!(run.stdout.contains("1 problem(s) found"), "{}", run.stdout);

    let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json", "--repair"]);
    assert_eq!(code, 1);
    assert_eq!(doc["healthy"], false);
    assert_eq!(categories(&doc), ["dead_holder"]);
    let f = &doc["findings"][0];
    assert_eq!(f["entry"], "m");
    assert!(f["message"].as_str().unwrap().contains(&pid.to_string()));
    assert!(f["remedy"].as_str().unwrap().contains("OwnerDead"));
    // --repair changed nothing, and says so.
    assert_eq!(doc["repaired"], serde_json::json!([]));
    assert!(
        doc["repair_note"]
            .as_str()
            .unwrap()
            .contains("left as found")
    );

    // The library's takeover path then recovers the lock.
    let seg = Segment::open(name.as_str()).unwrap();
    let m = Mutex::open(&seg, "m").unwrap();
    assert!(m.lock().is_err(), "OwnerDead expected");
    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(0), "{}", run.stdout);
}

#[test]
fn a_queue_slot_claimed_but_never_published_is_a_stuck_slot() {
    let name = ShmName::new("doctor_stuck_queue");
    let seg = create(&name);
    let q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    q.push(7).unwrap();
    let offset = seg.find("q").unwrap().offset();
    drop(q);
    drop(seg);
    // A pusher claimed position 1 (tail 1 -> 2) and died before publishing seq[1] = 2.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    file.write_all_at(&2u32.to_le_bytes(), offset + 4).unwrap();

    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("stuck_slot q: slot 1 is unpublished"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout
            .contains("not repairable: recreate the structure")
    );
    let (_, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    assert_eq!(categories(&doc), ["stuck_slot"]);
}

/// Appends a table entry `entry` of `size` bytes by writing the table directly.
fn append_raw_entry(name: &ShmName, entry: &str, size: u64) {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.path())
        .unwrap();
    let mut header = [0u8; 32];
    file.read_exact_at(&mut header, 0).unwrap();
    let count = u32::from_le_bytes(header[8..12].try_into().unwrap());
    let next = u64::from_le_bytes(header[24..32].try_into().unwrap());
    let offset = next.div_ceil(8) * 8;
    let mut e = [0u8; 48];
    e[..entry.len()].copy_from_slice(entry.as_bytes());
    e[32..40].copy_from_slice(&offset.to_le_bytes());
    e[40..48].copy_from_slice(&size.to_le_bytes());
    file.write_all_at(&e, 32 + 48 * u64::from(count)).unwrap();
    file.write_all_at(&(offset + size).to_le_bytes(), 24)
        .unwrap();
    file.write_all_at(&(count + 1).to_le_bytes(), 8).unwrap();
}

#[test]
fn a_half_created_rwlock_is_reported_with_its_missing_parts() {
    let name = ShmName::new("doctor_half_rwlock");
    drop(create(&name));
    append_raw_entry(&name, "x_state", 8);

    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout.contains("half_created x_state:"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("'x'"), "{}", run.stdout);
    let (_, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    assert_eq!(categories(&doc), ["half_created"]);

    // With its Mutexes but no marker: an RwLock missing only 'x'.
    let name = ShmName::new("doctor_half_rwlock_marker");
    let seg = create(&name);
    RwLock::create(&seg, "y").unwrap();
    drop(seg);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    // Drop the last entry (the marker 'y') from the table.
    file.write_all_at(&3u32.to_le_bytes(), 8).unwrap();
    let run = zeroipc(&["doctor", name.as_str()]);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("half_created"), "{}", run.stdout);
    assert!(run.stdout.contains("'y'"), "{}", run.stdout);
}

#[test]
fn doctor_errors_are_one_line() {
    let name = ShmName::new("doctor_missing");
    let line = zeroipc(&["doctor", name.as_str()]).one_line_error();
    assert!(line.contains("not found"), "{line}");
    let bad = common::install("doctor_garbage", &[0xAB; 4096]);
    zeroipc(&["doctor", bad.as_str()]).one_line_error();
}

#[test]
fn stale_lists_and_removes_a_segment_whose_user_exited() {
    let name = ShmName::new("doctor_stale");
    let seg = create(&name);
    // While we map it, it is not stale.
    let out = zeroipc(&["doctor", name.as_str(), "--stale", "--ignore-unknown"]).ok();
    assert_eq!(out, "no stale segments\n");
    drop(seg);
    let mut child = spawn_child("child_use_and_exit", name.as_str());
    assert!(child.wait().unwrap().success());

    let out = zeroipc(&["doctor", "--stale", "--ignore-unknown"]).ok();
    assert!(out.contains(&format!("{}: stale", name.as_str())), "{out}");
    let doc: serde_json::Value = serde_json::from_str(
        &zeroipc(&[
            "doctor",
            name.as_str(),
            "--stale",
            "--ignore-unknown",
            "--json",
        ])
        .ok(),
    )
    .unwrap();
    assert_eq!(doc[0]["segment"], name.as_str());
    assert_eq!(doc[0]["status"], "stale");
    assert!(name.path().exists());

    let out = zeroipc(&[
        "doctor",
        name.as_str(),
        "--stale",
        "--remove",
        "--ignore-unknown",
    ])
    .ok();
    // (A note follows when some process could not be inspected, as a sandbox's init.)
    assert!(
        out.starts_with(&format!("{}: removed", name.as_str())),
        "{out}"
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    assert!(!name.path().exists());
}

/// The sleepers registered in the segment's waiter registry, as `inspect` reads them; 0
/// if the registry does not exist. Maps the segment only for the read.
fn registered_sleepers(name: &ShmName) -> u64 {
    use zeroipc::inspect::{Kind, classify};
    let seg = Segment::open_read_only(name.as_str()).unwrap();
    let Ok(e) = seg.find("__zeroipc_waiters") else {
        return 0;
    };
    match classify(&seg, &e) {
        Kind::WaiterRegistry { sleepers, .. } => sleepers,
        other => panic!("__zeroipc_waiters is {other:?}"),
    }
}

#[test]
fn sleepers_left_by_a_killed_waiter_are_reported_once_nobody_uses_the_segment() {
    let name = ShmName::new("doctor_sleepers");
    let seg = create(&name);
    let _q: Queue<u32> = Queue::create(&seg, "q", 4).unwrap();
    drop(_q);
    drop(seg);
    let mut child = spawn_child("child_sleep_on_queue", name.as_str());
    wait_for_line(&mut child, "sleeping");
    // Wait until it has registered (the registry entry appears with a non-zero count).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
        // __zeroipc_catalog, q, and the waiter registry created with q (the sleeper adds
        // no entry: zeroipc never writes the table at run time).
        if doc["entries"] == 3 && registered_sleepers(&name) > 0 {
            // The child still uses it: nothing to report about sleepers.
            assert!(
                !categories(&doc).contains(&"stale_sleepers".to_owned()),
                "{doc}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the child never slept: {doc}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    let text = doc.to_string();
    assert!(
        text.contains("1 sleeper(s) registered while no other process uses"),
        "{doc}"
    );
    // A finding when every process could be inspected; a note (exit 0) when some could
    // not, as in sandboxes whose init is unreadable.
    let unknown = !doc["users"]["unknown"].as_array().unwrap().is_empty()
        || doc["users"]["proc_restricted"] == true;
    let (_, fixed) = doctor_json(&["doctor", name.as_str(), "--json", "--repair"]);
    if unknown {
        assert_eq!(code, 0, "{doc}");
        assert!(doc["notes"][0]["entry"] == "__zeroipc_waiters", "{doc}");
        // Not provably dead: --repair leaves the counter alone.
        assert_eq!(fixed["repaired"], serde_json::json!([]), "{fixed}");
        assert!(fixed.to_string().contains("1 sleeper(s)"), "{fixed}");
    } else {
        assert_eq!(code, 1, "{doc}");
        assert_eq!(categories(&doc), ["stale_sleepers"]);
        assert_eq!(
            fixed["repaired"][0],
            "__zeroipc_waiters: cleared 1 sleeper registration(s) of dead processes"
        );
        let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
        assert_eq!(code, 0, "{doc}");
    }
}

#[test]
fn impossible_field_values_are_corrupt_findings() {
    let name = ShmName::new("doctor_corrupt_field");
    let seg = create(&name);
    RwLock::create(&seg, "rw").unwrap();
    let offset = seg.find("rw_state").unwrap().offset();
    drop(seg);
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    // writer_active 7: neither 0 nor 1.
    file.write_all_at(&7i32.to_le_bytes(), offset + 4).unwrap();
    let (code, doc) = doctor_json(&["doctor", name.as_str(), "--json"]);
    assert_eq!(code, 1, "{doc}");
    assert_eq!(categories(&doc), ["corrupt"], "{doc}");
    assert_eq!(doc["findings"][0]["entry"], "rw");
    assert_eq!(
        doc["findings"][0]["remedy"],
        "not repairable: recreate the structure"
    );
}

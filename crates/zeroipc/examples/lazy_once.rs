//! A Lazy computed once by whichever of four processes gets there first.
//!
//! The parent creates the segment, a `Lazy<u64>` and a few counters, starts four children
//! (this same program re-run with a role argument), and releases them at once. Each child
//! forces the Lazy with its own closure, which counts its runs in shared memory, records its
//! pid and sleeps a little to widen the race; every child prints the value it got. The
//! value is derived from the computing pid, so "everyone got the same value" also shows
//! whose computation they got. The parent checks that exactly one closure ran and prints
//! a summary; the segment is unlinked however the program leaves.
//!
//! ```text
//! cargo run -p zeroipc --example lazy_once
//! ```

use std::error::Error;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use zeroipc::codata::Lazy;
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

const CHILDREN: usize = 4;
const DEADLINE: Duration = Duration::from_secs(30);

/// `runs` indices: the start flag, closures run, the last computer's pid, children ready.
const GO: usize = 0;
const RUNS: usize = 1;
const COMPUTER: usize = 2;
const READY: usize = 3;

/// The value the process `pid` computes.
fn value_for(pid: u32) -> u64 {
    1_000_000 + u64::from(pid)
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, index, name] = &args[..] {
        return child(index.parse()?, name);
    }
    parent()
}

fn parent() -> Result<(), Box<dyn Error>> {
    let name = format!("/zeroipc-example-lazy-{}", std::process::id());
    let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    // Remove the segment however we leave (dropping a handle never unlinks).
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Segment::unlink(self.0);
        }
    }
    let _cleanup = Cleanup(&name);

    let answer: Lazy<u64> = Lazy::create(&seg, "answer")?;
    let runs: Array<u32> = Array::create(&seg, "runs", 4)?;
    // got[i]: the value child i received (0 until it has one).
    let got: Array<u64> = Array::create(&seg, "got", CHILDREN)?;

    let exe = std::env::current_exe()?;
    let mut children = Children(Vec::new());
    for i in 0..CHILDREN {
        children
            .0
            .push(Command::new(&exe).args([&i.to_string(), &name]).spawn()?);
    }
    // Release the children together, once all of them are waiting.
    let ready = runs.atomic(READY).ok_or("runs has 4 elements")?;
    let deadline = Instant::now() + DEADLINE;
    // ORDERING: Relaxed — only a count; the start flag below carries no data.
    while (ready.load(Ordering::Relaxed) as usize) < CHILDREN {
        if Instant::now() > deadline {
            return Err("the children never got ready".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    // ORDERING: Release pairs with the children's Acquire load of the start flag.
    runs.atomic(GO)
        .ok_or("runs has 4 elements")?
        .store(1, Ordering::Release);
    children.wait_all(Instant::now() + DEADLINE)?;

    let count = runs.get(RUNS).ok_or("runs has 4 elements")?;
    let pid = runs.get(COMPUTER).ok_or("runs has 4 elements")?;
    let values = got.to_vec();
    let v = values[0];
    if count != 1 || answer.compute_count()? != 1 {
        return Err(format!("the closure ran {count} times").into());
    }
    if values.iter().any(|&g| g != v) || v != value_for(pid) {
        return Err(format!("computer {pid}, but the children got {values:?}").into());
    }
    println!("computed {count} time(s) by pid {pid}; all {CHILDREN} processes got {v}");
    Ok(())
}

fn child(index: usize, name: &str) -> Result<(), Box<dyn Error>> {
    let seg = Segment::open_timeout(name, Duration::from_secs(5))?;
    let answer: Lazy<u64> = Lazy::open(&seg, "answer")?;
    let runs: Array<u32> = Array::open(&seg, "runs")?;
    let got: Array<u64> = Array::open(&seg, "got")?;
    let go = runs.atomic(GO).ok_or("runs has 4 elements")?;
    // ORDERING: Relaxed — only a count the parent waits for.
    runs.atomic(READY)
        .ok_or("runs has 4 elements")?
        .fetch_add(1, Ordering::Relaxed);
    let deadline = Instant::now() + DEADLINE;
    // ORDERING: Acquire pairs with the parent's Release store of the start flag.
    while go.load(Ordering::Acquire) == 0 {
        if Instant::now() > deadline {
            return Err("never started".into());
        }
        std::thread::yield_now();
    }
    let me = std::process::id();
    let closures_run = runs.atomic(RUNS).ok_or("runs has 4 elements")?;
    let computer = runs.atomic(COMPUTER).ok_or("runs has 4 elements")?;
    let v = answer.force_with_timeout(DEADLINE, || {
        // ORDERING: Relaxed — the parent reads both only after every child has exited.
        closures_run.fetch_add(1, Ordering::Relaxed);
        computer.store(me, Ordering::Relaxed);
        std::thread::sleep(Duration::from_millis(50)); // let the others arrive and wait
        value_for(me)
    })?;
    got.set(index, v)?;
    println!("child {index} (pid {me}): got {v}");
    Ok(())
}

/// Child processes, killed and reaped on drop unless [`Children::wait_all`] saw them exit.
struct Children(Vec<Child>);

impl Children {
    /// Waits for every child until `deadline`; any failure or a hang is an error.
    fn wait_all(&mut self, deadline: Instant) -> Result<(), Box<dyn Error>> {
        while let Some(child) = self.0.last_mut() {
            if let Some(status) = child.try_wait()? {
                self.0.pop();
                if !status.success() {
                    return Err(format!("a child failed: {status}").into());
                }
            } else if Instant::now() > deadline {
                return Err("a child did not finish in time".into());
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

//! Test fixture for `scripts/watch-tmux.sh`: adds a few structures to an existing segment
//! (made with `zeroipc create`, since the CLI itself creates no structures), and can keep a
//! queue busy so that `zeroipc watch` has rates to show.
//!
//! ```text
//! zeroipc create /demo --size 64K
//! cargo run -p zeroipc-cli --example watch_fixture -- /demo          # add the structures
//! cargo run -p zeroipc-cli --example watch_fixture -- /demo churn 30 # push/pop for 30 s
//! zeroipc watch /demo
//! ```
//!
//! Adding prints one line per entry, `<name> <kind>`: what `zeroipc watch` must show (the
//! queue brings zeroipc's waiter registry, `__zeroipc_waiters`, with it).

use std::error::Error;
use std::time::{Duration, Instant};

use zeroipc::Segment;
use zeroipc::inspect::classify_all;
use zeroipc::structures::{Array, Queue, Stack};

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let name = args
        .first()
        .ok_or("usage: watch_fixture SEGMENT [churn SECONDS]")?;
    let seg = Segment::open(name)?;
    if args.get(1).map(String::as_str) == Some("churn") {
        let secs: u64 = args.get(2).map_or(Ok(10), |s| s.parse())?;
        return churn(&seg, Duration::from_secs(secs));
    }

    let temps: Array<f64> = Array::create(&seg, "temperatures", 16)?;
    for i in 0..16_u32 {
        temps.set(i as usize, 20.0 + f64::from(i) / 4.0)?;
    }
    let ids: Array<u32> = Array::create(&seg, "sensor_ids", 8)?;
    ids.write_from(0, &[11, 12, 13, 14, 15, 16, 17, 18])?;
    let counters: Array<u64> = Array::create(&seg, "counters", 4)?;
    counters.fill(7);
    let jobs: Queue<u64> = Queue::create(&seg, "jobs", 16)?;
    for job in 1..=5 {
        jobs.try_push(job).map_err(|_| "queue full")?;
    }
    let undo: Stack<u64> = Stack::create(&seg, "undo", 10)?;
    for step in 1..=3 {
        undo.try_push(step).map_err(|_| "stack full")?;
    }

    // Every entry as the inspector classifies it, in table order: these structures and
    // what zeroipc added beside them (the catalog, and the waiter registry that came with
    // the first queue: docs/EXTENSIONS.md).
    for (entry, kind) in classify_all(&Segment::open_read_only(name)?)? {
        println!("{} {}", entry.name(), kind.name());
    }
    Ok(())
}

/// Pushes and pops 4 jobs every 10 ms for `duration` (or until the segment is removed),
/// keeping the queue's length where it was.
fn churn(seg: &Segment, duration: Duration) -> Result<(), Box<dyn Error>> {
    let jobs: Queue<u64> = Queue::open(seg, "jobs")?;
    let end = Instant::now() + duration;
    let mut next = 100;
    while Instant::now() < end {
        for _ in 0..4 {
            jobs.try_push(next).map_err(|_| "queue full")?;
            next += 1;
            jobs.try_pop().map_err(|_| "queue empty")?;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

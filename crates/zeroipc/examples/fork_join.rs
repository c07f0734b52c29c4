//! Fork-join across processes with Futures: the parent creates one `Future<u64>` per part
//! in a fresh segment and starts that many workers (this same program re-run with the
//! arguments `worker <index> <segment>`). Each worker claims its part, computes the sum of
//! k² over its slice of 1..=N and sets the part. The parent joins the parts
//! (`join_all_timeout`: the values in order, or the first error, or the parts still unset
//! at the deadline), sets their sum into a future, and chains a `then` that checks the total
//! against the closed form N(N+1)(2N+1)/6 and yields it. It prints the total, waits for the
//! workers, exits 0, and removes its segment however it leaves.
//!
//! ```text
//! cargo run -p zeroipc --example fork_join
//! ```

use std::error::Error;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zeroipc::codata::Future;
use zeroipc::codata::future::join_all_timeout;
use zeroipc::{Segment, SegmentOptions};

/// Worker processes, one part each.
const WORKERS: u64 = 4;
/// The sum runs over k = 1..=N.
const N: u64 = 1_000_000;
const DEADLINE: Duration = Duration::from_secs(30);

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, index, name] = &args[..] {
        if role == "worker" {
            return worker(index.parse()?, name);
        }
    }
    parent()
}

/// The slice of 1..=N that part `index` covers.
fn slice(index: u64) -> std::ops::RangeInclusive<u64> {
    let per = N / WORKERS;
    let first = index * per + 1;
    let last = if index + 1 == WORKERS {
        N
    } else {
        first + per - 1
    };
    first..=last
}

fn parent() -> Result<(), Box<dyn Error>> {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH)?.subsec_nanos();
    let name = format!("/zeroipc-example-fork-join-{}-{nanos}", std::process::id());
    let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    // Remove the segment however we leave (dropping a handle never unlinks).
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Segment::unlink(self.0);
        }
    }
    let _cleanup = Cleanup(&name);

    // Fork: one future per part, then one worker per future.
    let parts = (0..WORKERS)
        .map(|i| Future::<u64>::create(&seg, &format!("part{i}")))
        .collect::<Result<Vec<_>, _>>()?;
    let exe = std::env::current_exe()?;
    let mut workers = Workers(Vec::new());
    for i in 0..WORKERS {
        let child = Command::new(&exe)
            .args(["worker", &i.to_string(), &name])
            .spawn()?;
        workers.0.push(child);
    }

    // Join: every part's value in order (a failed or dead worker would be an error here,
    // and a worker that never answers a timeout naming its part).
    let values = join_all_timeout(&parts, DEADLINE)?;
    for (i, v) in values.iter().enumerate() {
        println!("part {i} (k in {:?}): {v}", slice(i as u64));
    }

    // Chain: the sum of the parts, then a `then` stage that checks it and yields the total.
    let sum: Future<u64> = Future::create(&seg, "sum")?;
    let total = sum.then("total", |s| {
        let closed = u128::from(N) * u128::from(N + 1) * u128::from(2 * N + 1) / 6;
        if u128::from(s) == closed {
            Ok(s)
        } else {
            Err(format!(
                "the parts sum to {s}, the closed form gives {closed}"
            ))
        }
    })?;
    sum.set_value(values.iter().sum())?;
    let t = total.output().get_timeout(DEADLINE)?;
    total.join()?;
    workers.wait_all(Instant::now() + DEADLINE)?;
    println!("total: the sum of k² for k in 1..={N} is {t} (= N(N+1)(2N+1)/6)");
    Ok(())
}

fn worker(index: u64, name: &str) -> Result<(), Box<dyn Error>> {
    let seg = Segment::open_timeout(name, Duration::from_secs(5))?;
    let part: Future<u64> = Future::open(&seg, &format!("part{index}"))?;
    // Claim first: if this process dies while computing, the parent's join reports it
    // (`SetterDead`) instead of waiting.
    let promise = part.claim()?;
    let value: u64 = slice(index).map(|k| k * k).sum();
    promise.set_value(value)?;
    Ok(())
}

/// Worker processes, killed and reaped on drop unless [`Workers::wait_all`] saw them exit.
struct Workers(Vec<Child>);

impl Workers {
    /// Waits for every worker until `deadline`; any failure or a hang is an error.
    fn wait_all(&mut self, deadline: Instant) -> Result<(), Box<dyn Error>> {
        while let Some(child) = self.0.last_mut() {
            if let Some(status) = child.try_wait()? {
                self.0.pop();
                if !status.success() {
                    return Err(format!("a worker failed: {status}").into());
                }
            } else if Instant::now() > deadline {
                return Err("a worker did not finish in time".into());
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

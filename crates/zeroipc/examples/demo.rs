//! Two processes sharing one segment: the parent creates it, a child process (this same
//! program, re-run with `--child`) opens it by name and streams sensor samples into an Array
//! while the parent watches them arrive, zero copies, no serialization.
//!
//! ```text
//! cargo run --release -p zeroipc --example demo
//! ```

use std::error::Error;
use std::process::Command;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

const SAMPLES: usize = 16;

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        return child(&args[2]);
    }

    let name = format!("/zeroipc-demo-{}", std::process::id());
    let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    // Remove the segment however we leave (Segment::unlink is explicit; dropping never unlinks).
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Segment::unlink(self.0);
        }
    }
    let _cleanup = Cleanup(&name);

    let samples: Array<f64> = Array::create(&seg, "samples", SAMPLES)?;
    // progress[0]: samples written by the child; progress[1]: its pid.
    let progress: Array<u64> = Array::create(&seg, "progress", 2)?;
    println!(
        "parent {}: created {name} with arrays 'samples' and 'progress'",
        std::process::id()
    );

    let mut child = Command::new(std::env::current_exe()?)
        .args(["--child", &name])
        .spawn()?;
    let written = progress.atomic(0).ok_or("progress has 2 elements")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut seen = 0;
    while seen < SAMPLES as u64 {
        // ORDERING: Acquire pairs with the child's Release store of the count, so the
        // samples below it are visible.
        let n = written.load(Ordering::Acquire);
        for i in seen..n {
            let v = samples
                .get(usize::try_from(i)?)
                .ok_or("index below capacity")?;
            println!(
                "parent: sample {i:2} = {v:+.4}   (written by pid {})",
                progress.get(1).unwrap_or(0)
            );
        }
        seen = n;
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the child stopped making progress".into());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let status = child.wait()?;
    let sum: f64 = samples.to_vec().iter().sum();
    println!("parent: child exited with {status}; sum of samples read in place = {sum:+.4}");
    println!("parent: unlinking {name}");
    Ok(())
}

fn child(name: &str) -> Result<(), Box<dyn Error>> {
    let seg = Segment::open_timeout(name, Duration::from_secs(5))?;
    let samples: Array<f64> = Array::open(&seg, "samples")?;
    let progress: Array<u64> = Array::open(&seg, "progress")?;
    progress.set(1, u64::from(std::process::id()))?;
    println!(
        "child {}: opened {name}, {} entries",
        std::process::id(),
        seg.entries()?.len()
    );
    let written = progress.atomic(0).ok_or("progress has 2 elements")?;
    for i in 0..samples.len() {
        #[allow(clippy::cast_precision_loss)] // small indices
        samples.set(i, (i as f64 * 0.4).sin())?;
        // ORDERING: Release publishes the sample written above (Acquire in the parent).
        written.store(i as u64 + 1, Ordering::Release);
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(())
}

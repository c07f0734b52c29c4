//! A sensor pipeline across three processes: **emit → map → filter → subscriber**.
//!
//! - process A (`emitter`) emits raw sensor readings into the Stream `readings`;
//! - process B (`stages`) owns two operator [`Stage`](zeroipc::codata::stream::Stage)s:
//!   `map` turns each raw reading into °C (stream `celsius`), `filter` keeps the hot ones
//!   (stream `hot`);
//! - process C (`subscriber`) subscribes to `hot`, prints every value, and a summary line.
//!
//! The parent creates the segment and the input stream, starts the three roles (this same
//! program re-run with a role argument), waits for them under a deadline, checks C's count
//! and sum against the values it computes itself, and unlinks the segment however it leaves.
//! Closing flows down the pipeline: A closes `readings`; each stage closes its output once
//! its input is closed and drained; C's subscription then ends.
//!
//! ```text
//! cargo run -p zeroipc --example sensor_pipeline
//! ```

use std::error::Error;
use std::process::{Child, Command};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use zeroipc::codata::stream::{NextTimeoutError, Stream};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

/// Readings emitted by A.
const N: u32 = 200;
/// Values above this many °C pass the filter.
const HOT: i32 = 50;
const DEADLINE: Duration = Duration::from_secs(30);

/// The `i`-th raw reading: deterministic, 0..100, every value in a different order.
fn reading(i: u32) -> u32 {
    (i * 37 + 11) % 100
}

/// The `map` stage: raw reading → °C.
fn celsius(raw: u32) -> i32 {
    i32::try_from(raw).unwrap_or(i32::MAX) - 20
}

/// The `filter` stage.
fn is_hot(t: &i32) -> bool {
    *t > HOT
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name] = &args[..] {
        let seg = Segment::open_timeout(name, Duration::from_secs(5))?;
        return match role.as_str() {
            "emitter" => emitter(&seg),
            "stages" => stages(&seg),
            "subscriber" => subscriber(&seg),
            other => Err(format!("unknown role {other}").into()),
        };
    }
    parent()
}

fn parent() -> Result<(), Box<dyn Error>> {
    let name = format!("/zeroipc-example-sensors-{}", std::process::id());
    let seg = SegmentOptions::new().size(256 * 1024).create_new(&name)?;
    // Remove the segment however we leave (dropping a handle never unlinks).
    struct Cleanup<'a>(&'a str);
    impl Drop for Cleanup<'_> {
        fn drop(&mut self) {
            let _ = Segment::unlink(self.0);
        }
    }
    let _cleanup = Cleanup(&name);

    let _readings: Stream<u32> = Stream::create(&seg, "readings", 16)?;
    // [0]: B has created its stages (C waits for it); [1], [2]: C's count and sum.
    let control: Array<u64> = Array::create(&seg, "control", 3)?;

    let exe = std::env::current_exe()?;
    let mut children = Children(Vec::new());
    for role in ["subscriber", "stages", "emitter"] {
        let child = Command::new(&exe).args([role, &name]).spawn()?;
        children.0.push((role, child));
    }
    children.wait_all(Instant::now() + DEADLINE)?;

    let hot: Vec<i32> = (0..N).map(|i| celsius(reading(i))).filter(is_hot).collect();
    let (count, sum) = (
        hot.len() as u64,
        hot.iter().map(|&t| i64::from(t)).sum::<i64>(),
    );
    let (got_count, got_sum) = (
        control.get(1).ok_or("control has 3 elements")?,
        control.get(2).ok_or("control has 3 elements")?,
    );
    if (got_count, got_sum) != (count, sum.unsigned_abs()) {
        return Err(format!(
            "subscriber got {got_count} values, sum {got_sum}; expected {count}, sum {sum}"
        )
        .into());
    }
    println!("parent: {N} readings in, {count} hot readings out, sum {sum}: as expected");
    Ok(())
}

/// Process A: emits the readings, then closes the stream.
fn emitter(seg: &Segment) -> Result<(), Box<dyn Error>> {
    let readings: Stream<u32> = Stream::open(seg, "readings")?;
    for i in 0..N {
        // Waits while the buffer is full (B has not caught up, or has not started yet).
        readings.emit_timeout(reading(i), DEADLINE)?;
    }
    readings.close();
    println!("emitter {}: emitted {N} readings", std::process::id());
    Ok(())
}

/// Process B: owns the map and filter stages until the input is closed and drained.
fn stages(seg: &Segment) -> Result<(), Box<dyn Error>> {
    let readings: Stream<u32> = Stream::open(seg, "readings")?;
    let control: Array<u64> = Array::open(seg, "control")?;
    let to_celsius = readings.map(seg, "celsius", celsius)?;
    let hot = to_celsius.output().filter(seg, "hot", is_hot)?;
    // ORDERING: Release pairs with the subscriber's Acquire load: `celsius` and `hot` exist.
    control
        .atomic(0)
        .ok_or("control has 3 elements")?
        .store(1, Ordering::Release);
    // Each stage closes its output when its input is closed and drained.
    to_celsius.join()?;
    hot.join()?;
    println!("stages {}: map and filter done", std::process::id());
    Ok(())
}

/// Process C: prints every hot reading, then a summary line; stores count and sum.
fn subscriber(seg: &Segment) -> Result<(), Box<dyn Error>> {
    let control: Array<u64> = Array::open(seg, "control")?;
    let ready = control.atomic(0).ok_or("control has 3 elements")?;
    let deadline = Instant::now() + DEADLINE;
    // ORDERING: Acquire pairs with the Release store in `stages`.
    while ready.load(Ordering::Acquire) == 0 {
        if Instant::now() > deadline {
            return Err("the stages never started".into());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let hot: Stream<i32> = Stream::open(seg, "hot")?;
    let (mut count, mut sum) = (0u64, 0i64);
    let mut sub = hot.subscribe(DEADLINE);
    for t in sub.by_ref() {
        println!("subscriber: {t} °C");
        count += 1;
        sum += i64::from(t);
    }
    match sub.error() {
        Some(NextTimeoutError::Disconnected) => {}
        other => return Err(format!("subscription ended with {other:?}").into()),
    }
    control.set(1, count)?;
    control.set(2, sum.unsigned_abs())?;
    println!("subscriber: received {count} hot readings, sum {sum}");
    Ok(())
}

/// Child processes, killed and reaped on drop unless [`Children::wait_all`] saw them exit.
struct Children(Vec<(&'static str, Child)>);

impl Children {
    /// Waits for every child until `deadline`; any failure or a hang is an error.
    fn wait_all(&mut self, deadline: Instant) -> Result<(), Box<dyn Error>> {
        while let Some((role, child)) = self.0.last_mut() {
            if let Some(status) = child.try_wait()? {
                let role = *role;
                self.0.pop();
                if !status.success() {
                    return Err(format!("{role} failed: {status}").into());
                }
            } else if Instant::now() > deadline {
                return Err(format!("{role} did not finish in time").into());
            } else {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    }
}

impl Drop for Children {
    fn drop(&mut self) {
        for (_, child) in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

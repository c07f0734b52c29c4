//! A producer process and a consumer process joined by a buffered `Channel`, with close.
//!
//! Run `cargo run --example channel_pipeline`: the program creates a segment and a channel,
//! starts itself again as the producer (a second process), receives until the producer
//! closes the channel, and prints what it got.

use std::process::Command;
use std::time::Duration;

use zeroipc::codata::Channel;
use zeroipc::{Segment, SegmentOptions};

const N: u64 = 1000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, role, name] = &args[..] {
        if role == "producer" {
            let seg = Segment::open(name)?;
            let jobs: Channel<u64> = Channel::open(&seg, "jobs")?;
            for v in 0..N {
                jobs.send_timeout(v, Duration::from_secs(10))?;
            }
            jobs.close(); // the consumer drains what is buffered, then its loop ends
            return Ok(());
        }
    }
    let name = format!("/zeroipc-example-pipeline-{}", std::process::id());
    let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    let jobs: Channel<u64> = Channel::create(&seg, "jobs", 16)?;
    let mut producer = Command::new(std::env::current_exe()?)
        .args(["producer", &name])
        .spawn()?;
    let (mut count, mut sum) = (0u64, 0u64);
    for v in &jobs {
        count += 1;
        sum += v;
    }
    let status = producer.wait()?;
    Segment::unlink(&name)?;
    println!("received {count} values, sum {sum}");
    if !status.success() {
        return Err(format!("producer failed: {status}").into());
    }
    Ok(())
}

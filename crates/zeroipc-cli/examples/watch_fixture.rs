//! Test fixture for `scripts/watch-tmux.sh`: adds a few Arrays to an existing segment (made
//! with `zeroipc create`, since the CLI itself creates no structures) and writes values.
//!
//! ```text
//! zeroipc create /demo --size 64K
//! cargo run -p zeroipc-cli --example watch_fixture -- /demo
//! zeroipc watch /demo
//! ```
//!
//! Prints one line per array, `<name> <kind>`: what `zeroipc watch` must show.

use std::error::Error;

use zeroipc::Segment;
use zeroipc::structures::Array;

fn main() -> Result<(), Box<dyn Error>> {
    let name = std::env::args()
        .nth(1)
        .ok_or("usage: watch_fixture SEGMENT")?;
    let seg = Segment::open(&name)?;

    let temps: Array<f64> = Array::create(&seg, "temperatures", 16)?;
    for i in 0..16_u32 {
        temps.set(u64::from(i), 20.0 + f64::from(i) / 4.0)?;
    }
    let ids: Array<u32> = Array::create(&seg, "sensor_ids", 8)?;
    ids.write_from(0, &[11, 12, 13, 14, 15, 16, 17, 18])?;
    let counters: Array<u64> = Array::create(&seg, "counters", 4)?;
    counters.fill(7);

    for a in ["temperatures", "sensor_ids", "counters"] {
        println!("{a} array");
    }
    Ok(())
}

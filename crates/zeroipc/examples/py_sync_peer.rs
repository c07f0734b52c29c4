//! The Rust side of the Python package's mixed-language sync and codata tests
//! (`crates/zeroipc-python/python/tests/test_sync_rust_peer.py`).
//!
//! ```text
//! py_sync_peer mutex SEG N     open Mutex "m", Array<i64> "counter", Barrier "start" in SEG;
//!                              print "ready", meet at the barrier, then N times: lock,
//!                              counter[0] += 1, unlock
//! py_sync_peer future SEG      open Future<i64> "f" and Channel<i64> "c"; print "ready";
//!                              wait for f's value v, send v + 1 on c
//! ```

use std::error::Error;
use std::io::Write;

use zeroipc::Segment;
use zeroipc::codata::{Channel, Future};
use zeroipc::structures::Array;
use zeroipc::sync::{Barrier, Mutex};

fn ready() {
    println!("ready");
    let _ = std::io::stdout().flush();
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| args.get(i).map(String::as_str).ok_or("missing argument");
    let seg = Segment::open(arg(2)?)?;
    match arg(1)? {
        "mutex" => {
            let n: usize = arg(3)?.parse()?;
            let m = Mutex::open(&seg, "m")?;
            let counter: Array<i64> = Array::open(&seg, "counter")?;
            let start = Barrier::open(&seg, "start")?;
            ready();
            start.wait()?;
            for _ in 0..n {
                let g = m.lock().map_err(|e| e.drop_guard())?;
                let v = counter.get(0).ok_or("counter has no element 0")?;
                counter.set(0, v + 1)?;
                g.unlock()?;
            }
        }
        "future" => {
            let f: Future<i64> = Future::open(&seg, "f")?;
            let c: Channel<i64> = Channel::open(&seg, "c")?;
            ready();
            let v = f.get()?;
            c.send(v + 1).map_err(|e| e.to_string())?;
        }
        other => return Err(format!("unknown mode {other} (expected mutex or future)").into()),
    }
    Ok(())
}

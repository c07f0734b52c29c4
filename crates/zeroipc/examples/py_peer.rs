//! The Rust side of the Python package's mixed-language tests and benchmarks
//! (`crates/zeroipc-python/python/tests`, `crates/zeroipc-python/benchmarks`).
//!
//! ```text
//! py_peer temperature SEG              create SEG with Array<f32> "temperature" (23.5 at 0),
//!                                      print "ready", wait for a line on stdin, unlink SEG
//! py_peer echo SEG N                   open Queue<u64> "ping"/"pong" in SEG; N times pop
//!                                      from ping and push the value + 1 to pong
//! py_peer produce SEG QUEUE START N    push START..START+N (u64) to QUEUE
//! py_peer consume SEG QUEUE N          pop N u64 from QUEUE, print their sum and count
//! py_peer pingpong SEG N               the client side of `echo` (Rust↔Rust round trip):
//!                                      print the mean round trip in ns
//! py_peer echo-spin SEG N              `echo`, both sides busy: `try_pop` in a loop
//! py_peer pingpong-spin SEG N          `pingpong` against `echo-spin`, busy too
//! ```
//!
//! Every mode prints "ready" once its handles are open (a handshake for the caller).

use std::error::Error;
use std::io::{BufRead, Write};
use std::time::Instant;

use zeroipc::structures::{Array, Queue};
use zeroipc::{Segment, SegmentOptions};

fn ready() {
    println!("ready");
    let _ = std::io::stdout().flush();
}

/// Pops with `try_pop` in a busy loop (both sides busy: the round trip without sleeps).
fn spin_pop(q: &Queue<u64>) -> Result<u64, Box<dyn Error>> {
    loop {
        match q.try_pop() {
            Ok(v) => return Ok(v),
            Err(zeroipc::structures::queue::TryPopError::Empty) => core::hint::spin_loop(),
            Err(e) => return Err(e.into()),
        }
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| -> Result<&str, Box<dyn Error>> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the module docs").into())
    };
    match arg(1)? {
        "temperature" => {
            let name = arg(2)?;
            let seg = SegmentOptions::new().size(1 << 20).create_new(name)?;
            let temps: Array<f32> = Array::create(&seg, "temperature", 16)?;
            temps.set(0, 23.5)?;
            ready();
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Segment::unlink(name)?;
        }
        "echo" => {
            let seg = Segment::open(arg(2)?)?;
            let n: u64 = arg(3)?.parse()?;
            let ping: Queue<u64> = Queue::open(&seg, "ping")?;
            let pong: Queue<u64> = Queue::open(&seg, "pong")?;
            ready();
            for _ in 0..n {
                let v = ping.pop()?;
                pong.push(v + 1)?;
            }
        }
        "echo-spin" => {
            let seg = Segment::open(arg(2)?)?;
            let n: u64 = arg(3)?.parse()?;
            let ping: Queue<u64> = Queue::open(&seg, "ping")?;
            let pong: Queue<u64> = Queue::open(&seg, "pong")?;
            ready();
            for _ in 0..n {
                let v = spin_pop(&ping)?;
                pong.push(v + 1)?;
            }
        }
        "pingpong-spin" => {
            let seg = Segment::open(arg(2)?)?;
            let n: u64 = arg(3)?.parse()?;
            let ping: Queue<u64> = Queue::open(&seg, "ping")?;
            let pong: Queue<u64> = Queue::open(&seg, "pong")?;
            ready();
            let start = Instant::now();
            for i in 0..n {
                ping.push(i)?;
                let v = spin_pop(&pong)?;
                assert_eq!(v, i + 1, "echo answered {v} to {i}");
            }
            let ns = start.elapsed().as_nanos() / u128::from(n.max(1));
            println!("{ns}");
        }
        "produce" => {
            let seg = Segment::open(arg(2)?)?;
            let q: Queue<u64> = Queue::open(&seg, arg(3)?)?;
            let (start, n): (u64, u64) = (arg(4)?.parse()?, arg(5)?.parse()?);
            ready();
            for v in start..start + n {
                q.push(v)?;
            }
        }
        "consume" => {
            let seg = Segment::open(arg(2)?)?;
            let q: Queue<u64> = Queue::open(&seg, arg(3)?)?;
            let n: u64 = arg(4)?.parse()?;
            ready();
            let mut sum: u128 = 0;
            for _ in 0..n {
                sum += u128::from(q.pop()?);
            }
            println!("{sum} {n}");
        }
        "pingpong" => {
            let seg = Segment::open(arg(2)?)?;
            let n: u64 = arg(3)?.parse()?;
            let ping: Queue<u64> = Queue::open(&seg, "ping")?;
            let pong: Queue<u64> = Queue::open(&seg, "pong")?;
            ready();
            let start = Instant::now();
            for i in 0..n {
                ping.push(i)?;
                let v = pong.pop()?;
                assert_eq!(v, i + 1, "echo answered {v} to {i}");
            }
            let ns = start.elapsed().as_nanos() / u128::from(n.max(1));
            println!("{ns}");
        }
        other => return Err(format!("unknown mode {other:?}; see the module docs").into()),
    }
    Ok(())
}

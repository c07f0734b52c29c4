//! `zeroipc demo`: the README's main job. Four processes share one segment:
//!
//! ```text
//!   producer ──emit──▶ Stream "celsius" ──map (transformer)──▶ Stream "fahrenheit"
//!                                                                  │ subscribe
//!   parent ◀──recv── Channel "averages" ◀──send (every 10)── consumer
//!   parent ◀──get─── Future "hottest"   ◀──set_value (at the end)─┘
//! ```
//!
//! The parent creates the segment and the structures, starts the three others (this same
//! binary, re-run with `--role`), prints what flows, and removes the segment at the end — also
//! on Ctrl-C, when every process of the demo is interrupted.

use std::io::Write;
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use zeroipc::codata::Future;
use zeroipc::codata::Stream;
use zeroipc::codata::channel::{Channel, RecvTimeoutError};
use zeroipc::{Segment, SegmentOptions};

use super::CliError;

/// Readings the producer emits.
const READINGS: u32 = 40;
/// The consumer sends an average every this many readings.
const EVERY: u32 = 10;
/// How long any step may wait before the demo reports it stuck.
const PATIENCE: Duration = Duration::from_secs(20);

/// Which process of the demo this is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Role {
    /// Emits temperature readings into the `celsius` stream.
    Producer,
    /// Runs the `map` stage celsius → fahrenheit.
    Transformer,
    /// Reads `fahrenheit`, sends averages, sets the `hottest` future.
    Consumer,
}

fn err(what: impl std::fmt::Display) -> CliError {
    CliError::Message(format!("demo: {what}"))
}

/// Runs the demo (no role) or one of its processes.
pub(crate) fn run(
    out: &mut impl Write,
    role: Option<Role>,
    segment: Option<&str>,
) -> Result<(), CliError> {
    match (role, segment) {
        (None, _) => parent(out),
        (Some(role), Some(name)) => {
            let seg = Segment::open_timeout(name, PATIENCE).map_err(err)?;
            match role {
                Role::Producer => producer(out, &seg),
                Role::Transformer => transformer(out, &seg),
                Role::Consumer => consumer(out, &seg),
            }
        }
        (Some(_), None) => Err(err("--role needs --segment")),
    }
}

fn say(out: &mut impl Write, who: &str, what: impl std::fmt::Display) -> Result<(), CliError> {
    writeln!(out, "[{who:<11}] {what}")
        .and_then(|()| out.flush())
        .map_err(err)
}

fn parent(out: &mut impl Write) -> Result<(), CliError> {
    let name = format!("/zeroipc-demo-{}", std::process::id());
    // Remove the segment however we leave: normal exit, error, or Ctrl-C. The handler is in
    // place before the segment exists, so no Ctrl-C can leave it behind; it removes the
    // segment only once we created it (never one of the same name that someone else made).
    let created = Arc::new(AtomicBool::new(false));
    let (on_interrupt, ours) = (name.clone(), created.clone());
    ctrlc::set_handler(move || {
        // ORDERING: Acquire pairs with the Release store after `create_new`.
        if ours.load(Ordering::Acquire) {
            let _ = Segment::unlink(&on_interrupt);
            eprintln!("\nzeroipc: demo interrupted; removed {on_interrupt}");
        } else {
            eprintln!("\nzeroipc: demo interrupted");
        }
        std::process::exit(130);
    })
    .map_err(err)?;
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(&name)
        .map_err(err)?;
    // ORDERING: Release pairs with the handler's Acquire load: it sees a created segment.
    created.store(true, Ordering::Release);
    struct Cleanup(String);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = Segment::unlink(&self.0);
        }
    }
    let _cleanup = Cleanup(name.clone());

    let celsius: Stream<f64> = Stream::create(&seg, "celsius", 64).map_err(err)?;
    let averages: Channel<f64> = Channel::create(&seg, "averages", 8).map_err(err)?;
    let hottest: Future<f64> = Future::create(&seg, "hottest").map_err(err)?;
    say(
        out,
        "parent",
        format!("created {name}: stream 'celsius', channel 'averages', future 'hottest'"),
    )?;

    let mut children: Vec<(Role, Child)> = Vec::new();
    for role in [Role::Transformer, Role::Consumer, Role::Producer] {
        let child = Command::new(std::env::current_exe().map_err(err)?)
            .args(["demo", "--role", role_name(role), "--segment", &name])
            .spawn()
            .map_err(err)?;
        say(
            out,
            "parent",
            format!("started the {} (pid {})", role_name(role), child.id()),
        )?;
        children.push((role, child));
    }

    let result = (|| {
        loop {
            match averages.recv_timeout(PATIENCE) {
                Ok(avg) => say(
                    out,
                    "parent",
                    format!("received over the channel: average {avg:.1} °F"),
                )?,
                Err(RecvTimeoutError::Disconnected) => break,
                Err(e) => return Err(err(format!("waiting for averages: {e}"))),
            }
        }
        let max = hottest
            .get_timeout(PATIENCE)
            .map_err(|e| err(format!("waiting for the future: {e}")))?;
        say(
            out,
            "parent",
            format!("the future resolved: hottest reading {max:.1} °F"),
        )?;
        Ok(())
    })();
    for (role, mut child) in children {
        if result.is_err() {
            let _ = child.kill();
        }
        let status = child.wait().map_err(err)?;
        if result.is_ok() && !status.success() {
            return Err(err(format!("the {} exited with {status}", role_name(role))));
        }
    }
    result?;
    say(
        out,
        "parent",
        format!(
            "{} readings flowed through the pipeline; removing {name}",
            celsius.sequence()
        ),
    )
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Producer => "producer",
        Role::Transformer => "transformer",
        Role::Consumer => "consumer",
    }
}

fn producer(out: &mut impl Write, seg: &Segment) -> Result<(), CliError> {
    let celsius: Stream<f64> = Stream::open(seg, "celsius").map_err(err)?;
    // Give the transformer a moment to attach (values emitted before are kept anyway).
    std::thread::sleep(Duration::from_millis(100));
    for i in 0..READINGS {
        let t = 20.0 + 8.0 * (f64::from(i) * 0.3).sin();
        celsius.emit_timeout(t, PATIENCE).map_err(err)?;
        if i % EVERY == 0 {
            say(out, "producer", format!("emitted reading {i}: {t:.1} °C"))?;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    celsius.close();
    say(
        out,
        "producer",
        format!("emitted {READINGS} readings and closed 'celsius'"),
    )
}

fn transformer(out: &mut impl Write, seg: &Segment) -> Result<(), CliError> {
    let celsius: Stream<f64> = Stream::open(seg, "celsius").map_err(err)?;
    let stage = celsius
        .map(seg, "fahrenheit", |c| c * 1.8 + 32.0)
        .map_err(err)?;
    say(
        out,
        "transformer",
        "running map(°C → °F) from 'celsius' into 'fahrenheit'",
    )?;
    stage.join().map_err(err)?;
    say(
        out,
        "transformer",
        "'celsius' closed and drained; closed 'fahrenheit'",
    )
}

fn consumer(out: &mut impl Write, seg: &Segment) -> Result<(), CliError> {
    let averages: Channel<f64> = Channel::open(seg, "averages").map_err(err)?;
    let hottest: Future<f64> = Future::open(seg, "hottest").map_err(err)?;
    // The transformer creates 'fahrenheit'; wait for it to appear.
    let deadline = std::time::Instant::now() + PATIENCE;
    let fahrenheit: Stream<f64> = loop {
        match Stream::open(seg, "fahrenheit") {
            Ok(s) => break s,
            Err(_) if std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5))
            }
            Err(e) => return Err(err(e)),
        }
    };
    let (mut n, mut sum, mut max) = (0u32, 0.0, f64::MIN);
    for f in fahrenheit.subscribe(PATIENCE) {
        n += 1;
        sum += f;
        max = max.max(f);
        if n % EVERY == 0 {
            let avg = sum / f64::from(EVERY);
            say(
                out,
                "consumer",
                format!("{n} readings in °F so far; sending the average {avg:.1}"),
            )?;
            averages.send_timeout(avg, PATIENCE).map_err(err)?;
            sum = 0.0;
        }
    }
    averages.close();
    hottest.set_value(max).map_err(err)?;
    say(
        out,
        "consumer",
        format!(
            "'fahrenheit' closed after {n} readings; set the future to {max:.1} and closed the channel"
        ),
    )
}

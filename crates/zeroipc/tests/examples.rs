//! The runnable examples that span several processes, run as the user would run them: each
//! must exit successfully and print its summary line exactly.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Builds `example` if needed (a full `cargo test` builds examples; `cargo test --test
/// examples` does not), runs it, and returns its output once it exited, under a deadline.
fn run_example(example: &str) -> Output {
    let exe = std::env::current_exe().unwrap();
    let path: PathBuf = exe
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join(example))
        .unwrap();
    if !path.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "zeroipc", "--example", example])
            .status()
            .expect("run cargo build --example");
        assert!(status.success(), "building the example {example} failed");
    }
    let mut child = Command::new(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the example");
    // The examples bound their own waits by 30 s; this is the backstop against a hang.
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("reap the example");
            panic!(
                "{example} hung\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child
        .wait_with_output()
        .expect("collect the example's output");
    assert!(
        out.status.success(),
        "{example} failed: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The lines of `out`'s stdout.
fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn example_sensor_pipeline_filters_across_three_processes() {
    let out = run_example("sensor_pipeline");
    let lines = lines(&out);
    // The readings are (37 i + 11) mod 100 for i in 0..200: every value 0..=99 twice. Mapped
    // to raw - 20 °C and filtered at > 50 °C: raw 71..=99 twice, i.e. 51..=79 °C twice.
    let want: Vec<String> = (0..200u32)
        .map(|i| (i * 37 + 11) % 100)
        .map(|raw| i64::from(raw) - 20)
        .filter(|&t| t > 50)
        .map(|t| format!("subscriber: {t} °C"))
        .collect();
    let got: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with("subscriber: ") && l.ends_with(" °C"))
        .collect();
    assert_eq!(
        got,
        want.iter().collect::<Vec<_>>(),
        "every hot value once, in order"
    );
    assert_eq!(want.len(), 58);
    for line in [
        "subscriber: received 58 hot readings, sum 3770",
        "parent: 200 readings in, 58 hot readings out, sum 3770: as expected",
    ] {
        assert!(lines.iter().any(|l| l == line), "no {line:?} in {lines:#?}");
    }
}

#[test]
fn example_lazy_once_computes_once_for_four_processes() {
    let out = run_example("lazy_once");
    let lines = lines(&out);
    let summary = lines
        .iter()
        .find(|l| l.starts_with("computed "))
        .unwrap_or_else(|| panic!("no summary in {lines:#?}"));
    // "computed 1 time(s) by pid P; all 4 processes got V", with V = 1_000_000 + P.
    let pid: u32 = summary
        .strip_prefix("computed 1 time(s) by pid ")
        .and_then(|rest| rest.split(';').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("unexpected summary {summary:?}"));
    let v = 1_000_000 + u64::from(pid);
    assert_eq!(
        summary,
        &format!("computed 1 time(s) by pid {pid}; all 4 processes got {v}")
    );
    // Every child reported the computer's value, and the computer is one of them.
    let children: Vec<&String> = lines.iter().filter(|l| l.starts_with("child ")).collect();
    assert_eq!(children.len(), 4, "{lines:#?}");
    assert!(
        children.iter().all(|l| l.ends_with(&format!(": got {v}"))),
        "{lines:#?}"
    );
    assert!(
        children.iter().any(|l| l.contains(&format!("(pid {pid})"))),
        "the computer is one of the children: {lines:#?}"
    );
}

#[test]
fn example_fork_join_joins_four_worker_processes_and_chains_the_total() {
    let out = run_example("fork_join");
    let lines = lines(&out);
    // Part i sums k² over its quarter of 1..=1,000,000; the total is N(N+1)(2N+1)/6.
    let quarter = 250_000u64;
    for i in 0..4u64 {
        let (first, last) = (i * quarter + 1, (i + 1) * quarter);
        let sum: u64 = (first..=last).map(|k| k * k).sum();
        let line = format!("part {i} (k in {first}..={last}): {sum}");
        assert!(lines.contains(&line), "no {line:?} in {lines:#?}");
    }
    let total =
        "total: the sum of k² for k in 1..=1000000 is 333333833333500000 (= N(N+1)(2N+1)/6)";
    assert_eq!(lines.last().map(String::as_str), Some(total), "{lines:#?}");
    assert_eq!(lines.len(), 5, "{lines:#?}");
}

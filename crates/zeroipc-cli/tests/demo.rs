//! `zeroipc demo`: four processes share a segment; it is removed at the end and on Ctrl-C.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn demo_segments() -> Vec<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("zeroipc-demo-"))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn demo_runs_the_pipeline_and_removes_its_segment() {
    let out = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .arg("demo")
        .stdin(Stdio::null())
        .output()
        .expect("run zeroipc demo");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid = out
        .status
        .code()
        .map(|_| ())
        .and(text.lines().next())
        .unwrap_or_default();
    for needle in [
        "[producer   ] emitted 40 readings and closed 'celsius'",
        "[transformer] 'celsius' closed and drained; closed 'fahrenheit'",
        "[consumer   ] 'fahrenheit' closed after 40 readings",
        "[parent     ] received over the channel: average",
        "[parent     ] the future resolved: hottest reading",
        "[parent     ] 40 readings flowed through the pipeline; removing /zeroipc-demo-",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{text}");
    }
    // Four averages: one per 10 readings.
    assert_eq!(
        text.matches("received over the channel").count(),
        4,
        "{text}"
    );
    let name = pid
        .split_whitespace()
        .find(|w| w.starts_with("/zeroipc-demo-"))
        .map(|w| w.trim_end_matches(':').to_owned())
        .expect("the first line names the segment");
    assert!(
        !std::path::Path::new(&format!("/dev/shm{name}")).exists(),
        "{name} was left behind"
    );
}

#[test]
fn ctrl_c_stops_every_demo_process_and_removes_the_segment() {
    // Its own process group, like a shell job: Ctrl-C reaches the whole group.
    let mut child = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .arg("demo")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("spawn zeroipc demo");
    let pgid = child.id();
    // The demo names its segment after its pid. Interrupt it once it says it started its
    // three processes: by then its Ctrl-C handler is in place and the segment exists. A
    // thread reads the demo's output to the end, so the demo never blocks on the pipe.
    let segment = format!("zeroipc-demo-{pgid}");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return; // the test stopped listening; keep nothing
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut started = 0;
    while started < 3 {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .expect("the demo said it started its three processes");
        started += usize::from(line.contains("started the"));
    }
    assert!(demo_segments().contains(&segment), "{segment} exists");
    let sent = Command::new("kill")
        .args(["-INT", "--", &format!("-{pgid}")])
        .status()
        .expect("run kill");
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the demo did not stop on SIGINT");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().expect("stderr"), &mut err).ok();
    assert_eq!(
        status.code(),
        Some(130),
        "exit status {status}; stderr: {err}"
    );
    assert!(err.contains("demo interrupted; removed"), "{err}");
    assert!(
        !std::path::Path::new(&format!("/dev/shm/{segment}")).exists(),
        "{segment} left behind"
    );
}

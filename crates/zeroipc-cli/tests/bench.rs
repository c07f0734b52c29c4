//! `zeroipc bench`: every scenario measured between two processes, each with a positive value
//! and the median ratio to its floor inside its spread (or marked invalid, never a ratio made
//! of an implausible floor); the segment is removed at the end.

use std::process::{Command, Stdio};

const SCENARIOS: [&str; 6] = [
    "floor/spin",
    "queue/rtt",
    "ring/throughput",
    "ring/throughput-batch64",
    "floor/futex-wake",
    "semaphore/wake",
];

/// Runs `zeroipc bench <args>`; returns stdout and checks the run's segment is gone.
fn bench(args: &[&str]) -> String {
    // One run at a time: two runs of spinning process pairs would share the cores.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _serial = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let child = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .arg("bench")
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run zeroipc bench");
    let pid = child.id();
    let out = child.wait_with_output().expect("wait zeroipc bench");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bench failed: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seg = format!("/dev/shm/zeroipc-bench-{pid}");
    assert!(
        !std::path::Path::new(&seg).exists(),
        "{seg} was left behind"
    );
    // Not a terminal: no progress lines.
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("measuring"),
        "progress printed while stderr is not a terminal"
    );
    text
}

#[test]
fn bench_quick_prints_every_scenario_with_a_value_and_ratio() {
    let text = bench(&["--quick"]);
    for scenario in SCENARIOS {
        let line = text
            .lines()
            .find(|l| l.split_whitespace().next() == Some(scenario))
            .unwrap_or_else(|| panic!("no line for {scenario}:\n{text}"));
        let fields: Vec<&str> = line.split_whitespace().collect();
        let value: f64 = fields[1].parse().expect("numeric value");
        assert!(value > 0.0, "{line}");
        if fields[3] == "invalid" {
            assert!(line.contains("(floor implausible)"), "{line}");
            continue;
        }
        let ratio: f64 = fields[3]
            .strip_suffix('x')
            .and_then(|r| r.parse().ok())
            .unwrap_or_else(|| panic!("no ratio in {line}"));
        assert!(ratio > 0.0, "{line}");
        let (lo, hi) = fields[4]
            .strip_suffix('x')
            .and_then(|r| r.split_once(".."))
            .unwrap_or_else(|| panic!("no spread in {line}"));
        let (lo, hi): (f64, f64) = (lo.parse().expect("spread"), hi.parse().expect("spread"));
        assert!(lo <= ratio && ratio <= hi, "{line}");
    }
}

#[test]
fn bench_quick_json_has_every_scenario_and_floors_at_one() {
    let text = bench(&["--quick", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let rows = rows.as_array().expect("an array");
    for scenario in SCENARIOS {
        let row = rows
            .iter()
            .find(|r| r["scenario"] == scenario)
            .unwrap_or_else(|| panic!("no row for {scenario}: {text}"));
        let value = row["value"].as_f64().expect("value");
        assert!(value > 0.0, "{row}");
        // An invalid row (floors implausible even after a re-measurement) has no ratio at
        // all, never a 0.00x or a 35,000x one; a valid row has its median inside its spread.
        let pairs = row["pairs"].as_u64().expect("pairs");
        let kept = row["pairs_kept"].as_u64().expect("pairs_kept");
        assert!(kept <= pairs && pairs > 0, "{row}");
        if row["valid"] == false {
            assert!(
                row["ratio"].is_null() && row["ratio_min"].is_null(),
                "{row}"
            );
            assert!(
                kept * 2 < pairs,
                "an invalid row lost most of its pairs: {row}"
            );
            continue;
        }
        assert!(kept * 2 >= pairs, "{row}");
        let ratio = row["ratio"].as_f64().expect("ratio");
        let (lo, hi) = (
            row["ratio_min"].as_f64().expect("ratio_min"),
            row["ratio_max"].as_f64().expect("ratio_max"),
        );
        assert!(ratio > 0.0 && lo <= ratio && ratio <= hi, "{row}");
        assert!(row["unit"].as_str().is_some_and(|u| !u.is_empty()), "{row}");
        let floor = row["floor"].as_str().expect("floor");
        assert!(SCENARIOS.contains(&floor), "{row}");
        if floor == scenario {
            assert_eq!(ratio, 1.0, "a floor's ratio to itself: {row}");
        }
    }
}

#[test]
fn bench_child_without_a_segment_fails_with_one_line() {
    let out = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .args(["bench", "--role", "floor/spin"])
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.starts_with("zeroipc: "), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
}

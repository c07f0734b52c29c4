//! `zeroipc watch` in a real terminal: runs `scripts/watch-tmux.sh` (tmux, capture-pane,
//! send-keys) against the built binary. Skipped, with a printed `SKIP`, only when tmux is
//! absent and the script cannot install it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The script's exit status for "tmux missing and not installable".
const SKIP: i32 = 77;

/// `watch_fixture` beside the `zeroipc` binary (`cargo test` builds examples); built here
/// if this test was run on its own.
fn fixture(bin: &Path) -> PathBuf {
    let profile_dir = bin.parent().expect("binary directory");
    let fixture = profile_dir.join("examples/watch_fixture");
    if !fixture.exists() {
        let target = profile_dir.parent().expect("target directory");
        let mut build = Command::new(env!("CARGO"));
        build
            .args([
                "build",
                "-q",
                "-p",
                "zeroipc-cli",
                "--example",
                "watch_fixture",
            ])
            .env("CARGO_TARGET_DIR", target);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build");
        assert!(
            status.success(),
            "building the watch_fixture example failed"
        );
    }
    fixture
}

#[test]
fn watch_shows_every_entry_in_a_real_terminal_and_restores_it() {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_zeroipc"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/watch-tmux.sh");
    let out = Command::new("bash")
        .arg(&script)
        .env("ZEROIPC_BIN", &bin)
        .env("WATCH_FIXTURE_BIN", fixture(&bin))
        // The binary has the panic hook when it is built with debug assertions, as this
        // test is (same profile).
        .env(
            "WATCH_PANIC_HOOK",
            if cfg!(debug_assertions) { "1" } else { "0" },
        )
        .env(
            "GOLDEN_DIR",
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../golden"),
        )
        .output()
        .expect("run scripts/watch-tmux.sh");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(SKIP) {
        println!("SKIP: {}", stdout.trim());
        return;
    }
    assert!(
        out.status.success(),
        "watch-tmux.sh failed ({:?}):\n{stdout}\n{stderr}",
        out.status.code()
    );
    assert!(stdout.contains("watch-tmux: ok"), "{stdout}\n{stderr}");
}

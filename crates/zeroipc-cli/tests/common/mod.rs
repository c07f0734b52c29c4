//! Shared helpers for the CLI tests: unique segment names unlinked on drop, golden images,
//! and running the built `zeroipc` binary.
#![allow(dead_code, unreachable_pub)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A unique segment name, `/zeroipc-test-<pid>-cli-<test>-<n>`, unlinked on drop (also
/// when the test panics).
#[derive(Debug)]
pub struct ShmName(String);

impl ShmName {
    pub fn new(test: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let mut short: String = test
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        short.truncate(80);
        Self(format!(
            "/zeroipc-test-{}-cli-{short}-{n}",
            std::process::id()
        ))
    }

    /// With the leading '/'.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Without the leading '/'.
    pub fn bare(&self) -> &str {
        &self.0[1..]
    }

    /// The file behind the name.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/dev/shm{}", self.0))
    }
}

impl Drop for ShmName {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.path());
    }
}

/// The golden images: `golden/` at the workspace root (see `golden/PROVENANCE.md`).
pub fn golden_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../golden")
}

/// The bytes of golden image `file`.
pub fn golden_bytes(file: &str) -> Vec<u8> {
    std::fs::read(golden_dir().join(file)).expect("read golden image")
}

/// `bytes` written to /dev/shm under a fresh unique name.
pub fn install(test: &str, bytes: &[u8]) -> ShmName {
    let name = ShmName::new(test);
    std::fs::write(name.path(), bytes).expect("write /dev/shm object");
    name
}

/// Golden image `file` copied into /dev/shm under a fresh unique name.
pub fn load_golden(file: &str) -> ShmName {
    install(
        &format!("golden_{}", file.replace('.', "_")),
        &golden_bytes(file),
    )
}

/// The manifest's record for image `file`.
pub fn image(file: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(golden_dir().join("manifest.json")).expect("manifest");
    let manifest: serde_json::Value = serde_json::from_str(&text).expect("parse manifest");
    manifest["images"]
        .as_array()
        .expect("images")
        .iter()
        .find(|i| i["file"] == file)
        .cloned()
        .unwrap_or_else(|| panic!("{file} not in manifest"))
}

/// What a run of the binary produced.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Asserts success with nothing on stderr; returns stdout.
    pub fn ok(self) -> String {
        assert_eq!(self.code, Some(0), "zeroipc failed: {}", self.stderr);
        assert!(self.stderr.is_empty(), "stderr: {}", self.stderr);
        self.stdout
    }

    /// Asserts the documented failure shape: non-zero exit (not a panic), nothing on stdout,
    /// exactly one line `zeroipc: ...` on stderr. Returns that line.
    pub fn one_line_error(self) -> String {
        assert!(
            matches!(self.code, Some(c) if c != 0 && c != 101),
            "exit {:?}: {}",
            self.code,
            self.stderr
        );
        assert!(self.stdout.is_empty(), "stdout: {}", self.stdout);
        assert!(!self.stderr.contains("panicked"), "{}", self.stderr);
        let lines: Vec<&str> = self.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "stderr: {:?}", self.stderr);
        assert!(lines[0].starts_with("zeroipc: "), "{}", lines[0]);
        lines[0].to_owned()
    }

    /// Asserts the run did not panic: success, or a one-line error.
    pub fn no_panic(self) {
        if self.code != Some(0) {
            self.one_line_error();
        }
    }
}

/// Runs the built `zeroipc` binary with `args`.
pub fn zeroipc(args: &[&str]) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .args(args)
        .output()
        .expect("run zeroipc");
    Run {
        code: status.code(),
        stdout: String::from_utf8(stdout).expect("utf-8 stdout"),
        stderr: String::from_utf8(stderr).expect("utf-8 stderr"),
    }
}

/// Runs the binary and parses its stdout as JSON.
pub fn zeroipc_json(args: &[&str]) -> serde_json::Value {
    let out = zeroipc(args).ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("bad JSON ({e}): {out}"))
}

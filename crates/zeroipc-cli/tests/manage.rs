//! `zeroipc create`, `rm`, `completions`, and the errors `watch` gives before it takes the
//! terminal, run as the built binary against real shared memory.

mod common;

use std::process::Command;

use common::{ShmName, install, zeroipc, zeroipc_json};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

/// The permission bits of `name`'s file, as `stat` prints them (`600`).
fn stat_mode(name: &ShmName) -> String {
    let out = Command::new("stat")
        .args(["-c", "%a"])
        .arg(name.path())
        .output()
        .expect("run stat");
    assert!(out.status.success(), "stat failed");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn create_accepts_sizes_with_suffixes_in_powers_of_1024() {
    for (arg, bytes) in [
        ("65536", 65_536_u64),
        ("64K", 64 << 10),
        ("4M", 4 << 20),
        ("1G", 1 << 30),
    ] {
        let name = ShmName::new(&format!("create_size_{arg}"));
        let out = zeroipc(&["create", name.as_str(), "--size", arg]).ok();
        assert_eq!(
            out,
            format!(
                "created {}: {bytes} bytes, 64 entries max (table 3104 bytes), mode 0600\n",
                name.as_str()
            )
        );
        assert_eq!(std::fs::metadata(name.path()).unwrap().len(), bytes);
        let seg = Segment::open_read_only(name.as_str()).expect("a valid segment");
        assert_eq!(seg.size(), bytes);
        assert_eq!(seg.header().unwrap().entry_count, 1); // the type catalog
    }
}

#[test]
fn create_applies_the_octal_mode_and_max_entries() {
    for (arg, expected) in [("0600", "600"), ("640", "640"), ("0644", "644")] {
        let name = ShmName::new(&format!("create_mode_{arg}"));
        let doc = zeroipc_json(&[
            "create",
            name.bare(),
            "--size",
            "64K",
            "--mode",
            arg,
            "--max-entries",
            "8",
            "--json",
        ]);
        assert_eq!(stat_mode(&name), expected, "--mode {arg}");
        assert_eq!(doc["segment"], name.as_str());
        assert_eq!(doc["size"], 65536);
        assert_eq!(doc["max_entries"], 8);
        assert_eq!(doc["table_size"], 32 + 48 * 8);
        assert_eq!(doc["mode"], format!("0{expected}"));
        assert_eq!(doc["replaced"], false);
        assert_eq!(
            Segment::open_read_only(name.as_str())
                .unwrap()
                .max_entries(),
            8
        );
    }
}

#[test]
fn create_is_exclusive_unless_replace() {
    let name = ShmName::new("create_exclusive");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u32>::create(&seg, "keep", 4).unwrap();

    let line = zeroipc(&["create", name.as_str(), "--size", "128K"]).one_line_error();
    assert!(line.contains("already exists"), "{line}");
    assert!(line.contains("--replace"), "{line}");
    // Untouched: same size, same entry.
    let ro = Segment::open_read_only(name.as_str()).unwrap();
    assert_eq!(ro.size(), 64 * 1024);
    assert!(ro.find("keep").is_ok());

    let out = zeroipc(&["create", name.as_str(), "--size", "128K", "--replace"]).ok();
    assert!(
        out.starts_with(&format!("replaced {}: 131072 bytes", name.as_str())),
        "{out}"
    );
    let fresh = Segment::open_read_only(name.as_str()).unwrap();
    assert_eq!(fresh.size(), 128 * 1024);
    assert_eq!(fresh.header().unwrap().entry_count, 1); // the type catalog

    // --replace on a free name simply creates.
    let other = ShmName::new("create_replace_free");
    let doc = zeroipc_json(&[
        "create",
        other.as_str(),
        "--size",
        "64K",
        "--replace",
        "--json",
    ]);
    assert_eq!(doc["replaced"], false);
}

#[test]
fn bad_sizes_and_modes_are_one_line_errors() {
    let name = ShmName::new("create_bad");
    for args in [
        vec!["--size", "12Q"],
        vec!["--size", "-1"],
        vec!["--size", "4.5M"],
        vec!["--size", "99999999999T"],
        vec!["--size", "64K", "--mode", "0800"],
        vec!["--size", "64K", "--mode", "rw-r--r--"],
        vec!["--size", "64K", "--mode", "17777"],
        vec!["--size", "64K", "--max-entries", "-3"],
    ] {
        let mut all = vec!["create", name.as_str()];
        all.extend(&args);
        let line = zeroipc(&all).one_line_error();
        assert!(line.contains(args[args.len() - 1]), "{args:?}: {line}");
        assert!(!name.path().exists(), "{args:?} left an object behind");
    }
    // Valid syntax, but too small for the table, or no table at all.
    for args in [
        vec!["--size", "1K"],
        vec!["--size", "64K", "--max-entries", "0"],
    ] {
        let mut all = vec!["create", name.as_str()];
        all.extend(&args);
        let line = zeroipc(&all).one_line_error();
        assert!(
            line.starts_with("zeroipc: cannot create"),
            "{args:?}: {line}"
        );
        assert!(!name.path().exists(), "{args:?} left an object behind");
    }
    let missing = zeroipc(&["create", name.as_str()]).one_line_error();
    assert!(missing.contains("--size"), "{missing}");
}

#[test]
fn rm_removes_a_zeroipc_segment_and_says_what_it_was() {
    let name = ShmName::new("rm_segment");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u64>::create(&seg, "a", 2).unwrap();
    drop(seg);
    let out = zeroipc(&["rm", name.bare()]).ok();
    assert_eq!(
        out,
        format!(
            "removed {} (zeroipc segment, 65536 bytes, 2 entries)\n",
            name.as_str()
        )
    );
    assert!(!name.path().exists());

    let line = zeroipc(&["rm", name.as_str()]).one_line_error();
    assert!(line.contains("no such segment"), "{line}");
    let forced = zeroipc(&["rm", name.as_str(), "--force"]).one_line_error();
    assert!(forced.contains("no such segment"), "{forced}");
}

#[test]
fn rm_refuses_objects_that_are_not_zeroipc_segments_unless_forced() {
    let mut corrupt = zeroipc_image();
    // entry_count larger than max_entries.
    corrupt[8..12].copy_from_slice(&1000_u32.to_le_bytes());
    for (what, bytes) in [
        ("bad_magic", vec![0x5a_u8; 4096]),
        ("too_small", vec![1, 2, 3]),
        ("zeroes", vec![0; 4096]),
        ("corrupt", corrupt),
    ] {
        let name = install(&format!("rm_foreign_{what}"), &bytes);
        let line = zeroipc(&["rm", name.as_str()]).one_line_error();
        assert!(line.contains("use --force"), "{what}: {line}");
        assert!(name.path().exists(), "{what}: removed without --force");

        let out = zeroipc(&["rm", name.as_str(), "--force"]).ok();
        assert!(
            out.starts_with(&format!("removed {} (", name.as_str())) && out.contains("--force"),
            "{what}: {out}"
        );
        assert!(!name.path().exists(), "{what}: still there after --force");
    }
}

/// The bytes of a fresh, valid 64 KiB segment.
fn zeroipc_image() -> Vec<u8> {
    let name = ShmName::new("image");
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    std::fs::read(name.path()).unwrap()
}

#[test]
fn rm_of_an_invalid_name_is_a_one_line_error() {
    let line = zeroipc(&["rm", "a/b"]).one_line_error();
    assert!(line.contains("a/b"), "{line}");
}

#[test]
fn completions_cover_every_subcommand() {
    let bash = zeroipc(&["completions", "bash"]).ok();
    for cmd in [
        "list",
        "show",
        "dump",
        "watch",
        "create",
        "rm",
        "completions",
    ] {
        assert!(bash.contains(cmd), "bash completions lack {cmd}");
    }
    assert!(bash.contains("complete -F"), "not a bash completion script");
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let script = zeroipc(&["completions", shell]).ok();
        assert!(script.contains("watch"), "{shell}");
    }
    let line = zeroipc(&["completions", "tcsh"]).one_line_error();
    assert!(line.contains("tcsh"), "{line}");
}

#[test]
fn watch_needs_a_segment_and_a_terminal() {
    let missing = ShmName::new("watch_missing");
    let line = zeroipc(&["watch", missing.as_str()]).one_line_error();
    assert!(line.contains("not found"), "{line}");

    let foreign = install("watch_foreign", &[0x5a; 4096]);
    let line = zeroipc(&["watch", foreign.as_str()]).one_line_error();
    assert!(line.contains("magic"), "{line}");

    // The test's stdout is a pipe: no terminal to draw on, and nothing written.
    let name = ShmName::new("watch_pipe");
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let line = zeroipc(&["watch", name.as_str()]).one_line_error();
    assert!(line.contains("needs a terminal"), "{line}");

    let line = zeroipc(&["watch", name.as_str(), "--interval", "0"]).one_line_error();
    assert!(line.contains("--interval"), "{line}");
}

#[test]
fn piped_output_has_no_colour_codes() {
    let name = ShmName::new("no_colour");
    SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let out = zeroipc(&["list"]).ok();
    assert!(!out.contains('\u{1b}'), "{out:?}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(name.as_str()) && l.ends_with("  ok"))
    );
}

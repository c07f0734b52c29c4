//! The `zeroipc` binary against segments made by the library and the upstream golden images.

mod common;

use common::{ShmName, golden_bytes, image, install, load_golden, zeroipc, zeroipc_json};
use zeroipc::structures::Array;
use zeroipc::{Segment, SegmentOptions};

const IMAGES: [&str; 4] = ["cpp_all.bin", "cpp_min.bin", "python_all.bin", "c_all.bin"];

/// `(index, name, offset, size)` of every table entry in the manifest.
fn manifest_entries(file: &str) -> Vec<(u64, String, u64, u64)> {
    image(file)["table_entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["name"].as_str().unwrap().to_owned(),
                e["offset"].as_u64().unwrap(),
                e["size"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[test]
fn show_lists_every_entry_of_every_golden_image() {
    for file in IMAGES {
        let name = load_golden(file);
        let out = zeroipc(&["show", name.bare()]).ok();
        let rows: Vec<Vec<&str>> = out
            .lines()
            .skip_while(|l| !l.trim_start().starts_with("#  NAME"))
            .skip(1)
            .map(|l| l.split_whitespace().collect())
            .collect();
        let expected = manifest_entries(file);
        assert_eq!(rows.len(), expected.len(), "{file}:\n{out}");
        for (row, (index, entry, offset, size)) in rows.iter().zip(&expected) {
            assert_eq!(
                row[..4],
                [
                    index.to_string(),
                    entry.clone(),
                    offset.to_string(),
                    size.to_string()
                ],
                "{file}"
            );
            assert!(row.len() > 4, "{file}: {entry} has no kind");
        }
        let h = &image(file)["table_header"];
        assert!(
            out.contains(&format!("entry_count  {}", h["entry_count"])),
            "{out}"
        );
        assert!(
            out.contains(&format!("next_offset  {} ", h["next_offset"])),
            "{out}"
        );
    }
}

#[test]
fn show_json_lists_every_entry_of_every_golden_image() {
    for file in IMAGES {
        let name = load_golden(file);
        let doc = zeroipc_json(&["show", name.as_str(), "--json"]);
        let img = image(file);
        let h = &img["table_header"];
        assert_eq!(doc["segment"], name.as_str());
        assert_eq!(doc["size"], img["segment_size"]);
        assert_eq!(doc["max_entries"], h["max_entries"]);
        assert_eq!(doc["entry_count"], h["entry_count"]);
        assert_eq!(doc["next_offset"], h["next_offset"]);
        let entries = doc["entries"].as_array().unwrap();
        let expected = manifest_entries(file);
        assert_eq!(entries.len(), expected.len(), "{file}");
        for (e, (_, entry, offset, size)) in entries.iter().zip(&expected) {
            assert_eq!(e["name"], entry.as_str(), "{file}");
            assert_eq!(e["offset"], *offset, "{file} {entry}");
            assert_eq!(e["size"], *size, "{file} {entry}");
            assert!(
                e["kind"].as_str().is_some_and(|k| !k.is_empty()),
                "{file} {entry}"
            );
        }
    }
}

#[test]
fn show_entry_decodes_golden_structures() {
    let name = load_golden("cpp_all.bin");
    let q = zeroipc_json(&["show", name.as_str(), "q_u64_r5", "--json"]);
    assert_eq!(q["kind"], "queue");
    assert_eq!(q["fields"]["capacity"], 8);
    assert_eq!(q["fields"]["elem_size"], 8);
    assert_eq!(q["offset"], 6528);

    let values = zeroipc_json(&["show", name.bare(), "arr_i32", "--as", "i32", "--json"]);
    let expected = image("cpp_all.bin")["structures"][0]["expected"]["values"].clone();
    assert_eq!(values["values"], expected);

    let sem = zeroipc_json(&["show", name.as_str(), "sem", "--json"]);
    assert_eq!(sem["kind"], "ambiguous");
    let candidates: Vec<&str> = sem["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert!(candidates.contains(&"semaphore"), "{candidates:?}");
    assert_eq!(sem["candidates"][1]["fields"]["max_count"], 5);

    let text = zeroipc(&["show", name.as_str(), "arr_f64", "--as", "f64"]).ok();
    assert!(text.contains("[1] -1.5"), "{text}");
    assert!(text.contains("kind     array"), "{text}");
}

#[test]
fn list_json_includes_a_test_segment_with_its_entry_count() {
    let name = ShmName::new("list_json");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u32>::create(&seg, "a", 4).unwrap();
    Array::<f64>::create(&seg, "b", 2).unwrap();
    let foreign = install("list_foreign", &[0x5a; 128]);

    let list = zeroipc_json(&["list", "--json"]);
    let list = list.as_array().unwrap();
    let mine = list
        .iter()
        .find(|l| l["name"] == name.as_str())
        .expect("test segment listed");
    assert_eq!(mine["status"], "ok");
    assert_eq!(mine["entry_count"], 2);
    assert_eq!(mine["size"], 64 * 1024);
    assert_eq!(mine["next_offset"], 3104 + 24 + 24);
    assert!(
        !list.iter().any(|l| l["name"] == foreign.as_str()),
        "foreign objects need --all"
    );

    let all = zeroipc_json(&["list", "--all", "--json"]);
    let other = all
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == foreign.as_str())
        .unwrap();
    assert_eq!(other["status"], "not_zeroipc");

    let text = zeroipc(&["list"]).ok();
    let line = text
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .expect("listed");
    assert!(line.contains("2/64"), "{line}");
}

#[test]
fn dump_prints_a_known_range_with_absolute_offsets() {
    let name = ShmName::new("dump_range");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let a = Array::<u32>::create(&seg, "vals", 4).unwrap();
    a.write_from(0, &[0x1122_3344, 0x4142_4344, 0x7E20_2E21, 0])
        .unwrap();
    assert_eq!(a.entry().offset(), 3104);

    let out = zeroipc(&["dump", name.bare(), "vals", "--offset", "8", "--len", "0xc"]).ok();
    assert_eq!(
        out,
        "00000c28  44 33 22 11 44 43 42 41  21 2e 20 7e              |D3\".DCBA!. ~|\n"
    );
    // The same bytes by absolute offset into the whole segment.
    let abs = zeroipc(&["dump", name.as_str(), "--offset", "3112", "--len", "12"]).ok();
    assert_eq!(abs, out);
    // --size is --len, as the seeds spell it.
    let sized = zeroipc(&["dump", name.as_str(), "--offset", "3112", "--size", "12"]).ok();
    assert_eq!(sized, out);
    let first = zeroipc(&["dump", name.as_str(), "--offset", "0", "--size", "1024"]).ok();
    assert_eq!(first.lines().count(), 1024 / 16);
    assert!(first.starts_with("00000000  4d 50 49 5a"), "{first}");
    // A whole entry: 24 bytes, two lines.
    let whole = zeroipc(&["dump", name.as_str(), "vals"]).ok();
    assert_eq!(whole.lines().count(), 2);
    assert!(
        whole.starts_with("00000c20  04 00 00 00 00 00 00 00  44 33 22 11"),
        "{whole}"
    );
    // The whole segment: 16 bytes a line, the magic first.
    let all = zeroipc(&["dump", name.as_str()]).ok();
    assert_eq!(all.lines().count(), 64 * 1024 / 16);
    assert!(
        all.starts_with("00000000  4d 50 49 5a 02 00 00 00"),
        "{}",
        &all[..80]
    );
}

#[test]
fn dump_json_matches_the_golden_bytes() {
    let file = "cpp_all.bin";
    let name = load_golden(file);
    let bytes = golden_bytes(file);
    let doc = zeroipc_json(&["dump", name.as_str(), "q_i32", "--json"]);
    let (offset, size) = (6448usize, 80usize);
    let hex: String = bytes[offset..offset + size]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(doc["offset"], offset);
    assert_eq!(doc["len"], size);
    assert_eq!(doc["hex"], hex);
}

#[test]
fn a_missing_segment_is_a_one_line_error() {
    let name = ShmName::new("missing");
    let line = zeroipc(&["show", name.as_str()]).one_line_error();
    assert!(line.contains("not found"), "{line}");
    zeroipc(&["dump", name.bare()]).one_line_error();
    zeroipc(&["show", name.as_str(), "--json"]).one_line_error();
}

#[test]
fn a_missing_entry_is_a_one_line_error() {
    let name = ShmName::new("missing_entry");
    let _seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let line = zeroipc(&["show", name.as_str(), "nope"]).one_line_error();
    assert!(line.contains("no entry named 'nope'"), "{line}");
    zeroipc(&["dump", name.as_str(), "nope"]).one_line_error();
}

#[test]
fn bad_ranges_and_types_are_one_line_errors() {
    let name = load_golden("cpp_min.bin");
    let line = zeroipc(&[
        "dump",
        name.as_str(),
        "arr_i32",
        "--offset",
        "20",
        "--len",
        "5",
    ])
    .one_line_error();
    assert!(line.contains("past the end"), "{line}");
    zeroipc(&["dump", name.as_str(), "--offset", "0x10001"]).one_line_error();
    zeroipc(&["dump", name.as_str(), "--len", "banana"]).one_line_error();
    let line = zeroipc(&["show", name.as_str(), "q_u32", "--as", "u64"]).one_line_error();
    assert!(line.contains("elements are 4 bytes, u64 is 8"), "{line}");
    zeroipc(&["show", name.as_str(), "arr_i32", "--as", "i128"]).one_line_error();
}

#[test]
fn a_segment_with_bad_magic_is_a_one_line_error() {
    let mut bytes = golden_bytes("cpp_min.bin");
    bytes[0..4].copy_from_slice(b"JUNK");
    let name = install("bad_magic", &bytes);
    for args in [
        vec!["show", name.as_str()],
        vec!["dump", name.as_str()],
        vec!["show", name.as_str(), "arr_i32"],
    ] {
        let line = zeroipc(&args).one_line_error();
        assert!(line.contains("magic"), "{line}");
    }
    let listed = zeroipc_json(&["list", "--all", "--json"]);
    let me = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name.as_str())
        .unwrap();
    assert_eq!(me["status"], "not_zeroipc");
}

#[test]
fn a_segment_with_an_entry_out_of_bounds_is_a_one_line_error() {
    let mut bytes = golden_bytes("cpp_min.bin");
    // Entry 1's size field (at 32 + 48 + 40) now reaches far past the segment.
    bytes[32 + 48 + 40..32 + 48 + 48].copy_from_slice(&u64::MAX.to_le_bytes());
    let name = install("entry_oob", &bytes);
    for args in [
        vec!["show", name.as_str(), "--json"],
        vec!["dump", name.as_str(), "q_u32"],
    ] {
        let line = zeroipc(&args).one_line_error();
        assert!(
            line.contains("corrupt") && line.contains("entry 1"),
            "{line}"
        );
    }
    let listed = zeroipc_json(&["list", "--json"]);
    let me = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name.as_str())
        .unwrap();
    assert_eq!(me["status"], "corrupt");
}

#[test]
fn hostile_segments_never_make_the_cli_panic() {
    // Deterministic pseudo-random damage to the structures of every golden image.
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..12 {
        let file = IMAGES[round % IMAGES.len()];
        let mut bytes = golden_bytes(file);
        let table = 32 + 48 * u32::from_le_bytes(bytes[12..16].try_into().unwrap()) as usize;
        for _ in 0..64 {
            let span = u64::try_from(bytes.len() - table).unwrap();
            let at = table + usize::try_from(next() % span).unwrap();
            bytes[at] = next().to_le_bytes()[0];
        }
        let name = install("hostile", &bytes);
        zeroipc(&["show", name.as_str()]).no_panic();
        zeroipc(&["show", name.as_str(), "--json"]).no_panic();
        for entry in manifest_entries(file).iter().take(6) {
            zeroipc(&["show", name.as_str(), &entry.1, "--as", "u8"]).no_panic();
            zeroipc(&["dump", name.as_str(), &entry.1, "--offset", "1"]).no_panic();
        }
    }
}

#[test]
fn names_work_with_and_without_the_leading_slash() {
    let name = ShmName::new("slash");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u8>::create(&seg, "x", 3).unwrap();
    drop(seg);
    let with = zeroipc(&["show", name.as_str()]).ok();
    let without = zeroipc(&["show", name.bare()]).ok();
    assert_eq!(with, without);
    let row = with.lines().last().unwrap();
    assert!(row.ends_with("array (capacity=3 elem_size=1)"), "{row}");
    assert!(Segment::open_read_only(name.as_str()).is_ok());
}

#[test]
fn help_has_an_example_for_every_command() {
    for cmd in [
        "list",
        "show",
        "dump",
        "watch",
        "create",
        "rm",
        "completions",
    ] {
        let help = zeroipc(&[cmd, "--help"]).ok();
        assert!(
            help.contains("Examples:") && help.contains(&format!("zeroipc {cmd}")),
            "{help}"
        );
    }
    let line = zeroipc(&["frobnicate"]).one_line_error();
    assert!(line.contains("frobnicate"), "{line}");
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    let name = load_golden("cpp_all.bin");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zeroipc"))
        .args(["dump", name.as_str()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap(); // then the pipe closes
    let out = child.wait_with_output().unwrap();
    assert!(first.starts_with(b"00000000  4d 50 49 5a"));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_segment_of_another_format_version_is_a_one_line_error() {
    let mut bytes = golden_bytes("cpp_min.bin");
    bytes[4..8].copy_from_slice(&3u32.to_le_bytes());
    let name = install("version3", &bytes);
    let line = zeroipc(&["show", name.as_str()]).one_line_error();
    assert!(line.contains("version 3"), "{line}");
    let listed = zeroipc_json(&["list", "--json"]);
    let me = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == name.as_str())
        .unwrap();
    assert_eq!(me["status"], "unsupported_version");
    assert_eq!(me["version"], 3);
}

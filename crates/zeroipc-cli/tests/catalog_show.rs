//! `show` on segments created by zeroipc: the type catalog decodes contents without `--as`;
//! `--as` with C structs and `KEY=VALUE` maps.

mod common;

use common::{ShmName, zeroipc, zeroipc_json};
use serde_json::json;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::SegmentOptions;
use zeroipc::codata::stream::Stream;
use zeroipc::structures::{Array, Map, Queue};

#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Sample {
    id: i32,
    gain: f32,
    t: f64,
    flag: u8,
    _pad: [u8; 7],
}

fn sample(id: i32, gain: f32, t: f64, flag: u8) -> Sample {
    Sample {
        id,
        gain,
        t,
        flag,
        _pad: [0; 7],
    }
}

/// A segment with one of each, filled.
fn fixture(name: &ShmName) -> zeroipc::Segment {
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(name.as_str())
        .unwrap();
    let q: Queue<u64> = Queue::create(&seg, "jobs", 8).unwrap();
    for v in [10, 20, 30] {
        q.push(v).unwrap();
    }
    let m: Map<u32, f64> = Map::create(&seg, "prices", 8).unwrap();
    m.insert(7, 2.5).unwrap();
    let a: Array<f32> = Array::create(&seg, "gains", 3).unwrap();
    a.write_from(0, &[0.5, -1.25, 3.0]).unwrap();
    let s: Stream<i32> = Stream::create(&seg, "ticks", 8).unwrap();
    for v in [-1, 2, -3] {
        s.emit(v).unwrap();
    }
    let samples: Array<Sample> = Array::create(&seg, "samples", 2).unwrap();
    samples.set(0, sample(1, 0.5, 1.5, 2)).unwrap();
    samples.set(1, sample(-7, -0.25, 1e9, 255)).unwrap();
    seg
}

#[test]
fn show_decodes_zeroipc_structures_without_as() {
    let name = ShmName::new("catalog_show");
    let _seg = fixture(&name);
    let show = |entry: &str| zeroipc_json(&["show", name.as_str(), entry, "--json"]);

    let q = show("jobs");
    assert_eq!(
        (q["kind"].clone(), q["as"].clone()),
        (json!("queue"), json!("u64"))
    );
    assert_eq!(q["values"], json!([10, 20, 30]));
    assert_eq!(q["catalog"]["type_name"], "u64");
    let m = show("prices");
    assert_eq!(m["as"], "u32=f64");
    assert_eq!(m["pairs"], json!([[7, 2.5]]));
    let a = show("gains");
    assert_eq!(a["values"], json!([0.5, -1.25, 3.0]));
    let s = show("ticks");
    assert_eq!(s["values"], json!([-1, 2, -3]));
    assert_eq!(
        s["catalog"]["entries"],
        json!(["ticks_header", "ticks_buffer"])
    );

    let text = zeroipc(&["show", name.as_str(), "jobs"]).ok();
    assert!(
        text.contains("values   3 x u64, head first (pop order)"),
        "{text}"
    );
    assert!(text.contains("  [0] 10  (slot 0)"), "{text}");
    assert!(
        text.contains("catalog  #1 jobs: queue of u64 (8 bytes, align 8) as u64"),
        "{text}"
    );
    let text = zeroipc(&["show", name.as_str(), "prices"]).ok();
    assert!(text.contains("  7 => 2.5  (slot "), "{text}");
    let text = zeroipc(&["show", name.as_str(), "ticks"]).ok();
    assert!(text.contains("values   3 x i32"), "{text}");

    // A user struct without a described layout: header only, no guess.
    let d = show("samples");
    assert_eq!(d["values"], serde_json::Value::Null);
    assert!(
        d["catalog"]["type_name"]
            .as_str()
            .unwrap()
            .ends_with("Sample")
    );
    // --as still overrides the catalog.
    let q = zeroipc_json(&["show", name.as_str(), "jobs", "--as", "i64", "--json"]);
    assert_eq!(q["as"], "i64");
}

#[test]
fn show_lists_the_catalog_entry_and_its_records() {
    let name = ShmName::new("catalog_entry");
    let _seg = fixture(&name);
    let text = zeroipc(&["show", name.as_str()]).ok();
    assert!(text.contains("__zeroipc_catalog"), "{text}");
    assert!(text.contains("catalog (capacity=63 count="), "{text}");
    let doc = zeroipc_json(&["show", name.as_str(), "__zeroipc_catalog", "--json"]);
    assert_eq!(doc["kind"], "catalog");
    let names: Vec<&str> = doc["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "jobs",
            "prices",
            "gains",
            "ticks_buffer",
            "ticks",
            "samples"
        ]
    );
    let prices = &doc["records"][1];
    assert_eq!(
        (
            prices["kind"].clone(),
            prices["elem_size"].clone(),
            prices["value_size"].clone()
        ),
        (json!("map"), json!(4), json!(8))
    );
    let text = zeroipc(&["show", name.as_str(), "__zeroipc_catalog"]).ok();
    assert!(text.contains("records  6"), "{text}");
    assert!(
        text.contains(
            "ticks: stream of i32 (4 bytes, align 4) as i32 entries ticks_header,ticks_buffer"
        ),
        "{text}"
    );
}

#[test]
fn as_a_c_struct_decodes_each_field() {
    let name = ShmName::new("catalog_struct");
    let _seg = fixture(&name);
    let doc = zeroipc_json(&[
        "show",
        name.as_str(),
        "samples",
        "--as",
        "i32,f32,f64,u8",
        "--json",
    ]);
    assert_eq!(doc["as"], "i32,f32,f64,u8");
    assert_eq!(
        doc["values"],
        json!([[1, 0.5, 1.5, 2], [-7, -0.25, 1e9, 255]])
    );
    let text = zeroipc(&["show", name.as_str(), "samples", "--as", "i32,f32,f64,u8"]).ok();
    assert!(
        text.contains("values   2 x i32,f32,f64,u8, by index"),
        "{text}"
    );
    assert!(text.contains("  [0] {1, 0.5, 1.5, 2}"), "{text}");
    assert!(
        text.contains("  [1] {-7, -0.25, 1000000000.0, 255}"),
        "{text}"
    );

    // Wrong size: found vs expected, nothing on stdout.
    let err = zeroipc(&["show", name.as_str(), "samples", "--as", "i32,f32,f64"]).one_line_error();
    assert!(
        err.contains("elements are 24 bytes, i32,f32,f64 is 16"),
        "{err}"
    );
    let err = zeroipc(&["show", name.as_str(), "samples", "--as", "i32,,u8"]).one_line_error();
    assert!(err.contains("unknown type"), "{err}");
}

#[test]
fn maps_take_key_equals_value_and_the_older_comma_pair() {
    let name = ShmName::new("catalog_map_as");
    let _seg = fixture(&name);
    for t in ["u32=f64", "u32:f64", "u32,f64"] {
        let doc = zeroipc_json(&["show", name.as_str(), "prices", "--as", t, "--json"]);
        assert_eq!(doc["as"], "u32=f64", "{t}");
        assert_eq!(doc["pairs"], json!([[7, 2.5]]), "{t}");
    }
    // Each side may be a struct: here a 4-byte key read as two u16s.
    let doc = zeroipc_json(&[
        "show",
        name.as_str(),
        "prices",
        "--as",
        "u16,u16=f64",
        "--json",
    ]);
    assert_eq!(doc["pairs"], json!([[[7, 0], 2.5]]));
    let err = zeroipc(&["show", name.as_str(), "prices", "--as", "u64=f64"]).one_line_error();
    assert!(err.contains("4 and 8 bytes"), "{err}");
    let err = zeroipc(&["show", name.as_str(), "jobs", "--as", "u32=u32"]).one_line_error();
    assert!(err.contains("KEY=VALUE pair is for maps"), "{err}");
}

#[test]
fn a_described_struct_decodes_without_as() {
    let name = ShmName::new("catalog_described");
    let seg = fixture(&name);
    seg.describe("samples", "i32,f32,f64,u8").unwrap();
    let doc = zeroipc_json(&["show", name.as_str(), "samples", "--json"]);
    assert_eq!(doc["as"], "i32,f32,f64,u8");
    assert_eq!(doc["values"][1], json!([-7, -0.25, 1e9, 255]));
}

#[test]
fn when_the_catalog_contradicts_the_header_show_says_the_bytes_win() {
    use std::os::unix::fs::FileExt;
    let name = ShmName::new("catalog_contradiction");
    let seg = fixture(&name);
    let cat = seg.find("__zeroipc_catalog").unwrap();
    // Record 0 describes "jobs" (Queue<u64>): claim 4-byte u32 elements instead.
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    file.write_all_at(&4u32.to_le_bytes(), cat.offset() + 16 + 0x28)
        .unwrap();
    file.write_all_at(b"u32\0", cat.offset() + 16 + 0xA0)
        .unwrap();
    let text = zeroipc(&["show", name.as_str(), "jobs"]).ok();
    assert!(text.contains("kind     queue"), "{text}");
    assert!(
        text.contains("problem  the catalog says elem_size 4, the header says 8; the header wins"),
        "{text}"
    );
    assert!(!text.contains("values "), "{text}");
    let doc = zeroipc_json(&["show", name.as_str(), "jobs", "--json"]);
    assert_eq!(doc["values"], serde_json::Value::Null);
    assert_eq!(doc["problems"].as_array().unwrap().len(), 2, "{doc}");
    // A corrupt catalog header: ignored, and said so.
    file.write_all_at(b"XXXX", cat.offset()).unwrap();
    let text = zeroipc(&["show", name.as_str(), "__zeroipc_catalog"]).ok();
    assert!(text.contains("kind     unknown"), "{text}");
    let text = zeroipc(&["show", name.as_str(), "jobs", "--as", "u64"]).ok();
    assert!(text.contains("  [0] 10  (slot 0)"), "{text}");
    assert!(
        text.contains("problem  catalog ignored: catalog has bad magic"),
        "{text}"
    );
}

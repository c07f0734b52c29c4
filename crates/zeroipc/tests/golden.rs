//! Golden images written by upstream C++, Python and C (`golden/` at the workspace root): the table and
//! every Array read back exactly as `manifest.json` lists them, the C layout refused, and a
//! segment built from scratch by this library byte-identical to the C++ images.

mod common;

use std::fmt::Debug;

use common::{golden_dir, image, load_golden};
use serde_json::Value;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::structures::Array;
use zeroipc::{Element, ReadOnlySegment, Segment, SegmentOptions, StructureError};

/// The manifest's `Point`: `struct Point { int32_t id; float x; double y; uint8_t flag; }`
/// (24 bytes, 7 bytes of tail padding written out).
#[derive(Clone, Copy, Debug, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Point {
    id: i32,
    x: f32,
    y: f64,
    flag: u8,
    _pad: [u8; 7],
}

const _: () = assert!(size_of::<Point>() == 24);

/// An element type the manifest names, decodable from its JSON value.
trait Golden: Element + Debug {
    /// The manifest's type tag.
    const TAG: &'static str;
    fn from_json(v: &Value) -> Self;
    /// Exact equality (floats by bit pattern, so -0.0 and 0.0 differ).
    fn same(&self, other: &Self) -> bool;
}

fn int(v: &Value) -> i128 {
    v.as_i64()
        .map(i128::from)
        .or_else(|| v.as_u64().map(i128::from))
        .unwrap_or_else(|| panic!("{v} is not an integer"))
}

macro_rules! golden_int {
    ($($t:ty => $tag:literal),*) => {$(
        impl Golden for $t {
            const TAG: &'static str = $tag;
            fn from_json(v: &Value) -> Self {
                <$t>::try_from(int(v)).unwrap_or_else(|_| panic!("{v} does not fit {}", $tag))
            }
            fn same(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}
golden_int!(i32 => "i32", u8 => "u8", i64 => "i64");

impl Golden for f64 {
    const TAG: &'static str = "f64";
    fn from_json(v: &Value) -> Self {
        v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"))
    }
    fn same(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl Golden for f32 {
    const TAG: &'static str = "f32";
    #[allow(clippy::cast_possible_truncation)] // the manifest prints binary32 values; round back
    fn from_json(v: &Value) -> Self {
        v.as_f64().unwrap_or_else(|| panic!("{v} is not a number")) as f32
    }
    fn same(&self, other: &Self) -> bool {
        self.to_bits() == other.to_bits()
    }
}

impl Golden for Point {
    const TAG: &'static str = "Point";
    fn from_json(v: &Value) -> Self {
        Point {
            id: i32::from_json(&v["id"]),
            x: f32::from_json(&v["x"]),
            y: f64::from_json(&v["y"]),
            flag: u8::from_json(&v["flag"]),
            _pad: [0; 7],
        }
    }
    fn same(&self, other: &Self) -> bool {
        // The padding must be zero too: the manifest says so for every Array<Point>.
        self.id == other.id
            && self.x.to_bits() == other.x.to_bits()
            && self.y.to_bits() == other.y.to_bits()
            && self.flag == other.flag
            && self._pad == other._pad
    }
}

/// `at..at + len` as indices into a file's bytes.
fn range(at: u64, len: u64) -> std::ops::Range<usize> {
    let at = usize::try_from(at).unwrap();
    at..at + usize::try_from(len).unwrap()
}

fn u64_of(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("{v} is not a u64"))
}

/// The header and every table entry of `seg` are exactly the manifest's.
fn check_table(seg: &ReadOnlySegment, img: &Value) {
    let file = img["file"].as_str().unwrap();
    let th = &img["table_header"];
    let h = seg.header().unwrap();
    assert_eq!(
        u64::from(h.entry_count),
        u64_of(&th["entry_count"]),
        "{file}: entry_count"
    );
    assert_eq!(
        u64::from(h.max_entries),
        u64_of(&th["max_entries"]),
        "{file}: max_entries"
    );
    assert_eq!(
        h.memory_size,
        u64_of(&th["memory_size"]),
        "{file}: memory_size"
    );
    assert_eq!(
        h.next_offset,
        u64_of(&th["next_offset"]),
        "{file}: next_offset"
    );
    assert_eq!(h.version, 2, "{file}: version");
    assert_eq!(
        h.table_size,
        32 + 48 * u64_of(&th["max_entries"]),
        "{file}: table size"
    );
    assert_eq!(seg.max_entries(), h.max_entries);
    assert_eq!(seg.size(), u64_of(&img["segment_size"]));
    let magic = u32::from_le_bytes(seg.read_bytes(0, 4).unwrap().try_into().unwrap());
    assert_eq!(
        format!("{magic:#010X}").replace("0X", "0x"),
        th["magic"].as_str().unwrap()
    );

    let expected = img["table_entries"].as_array().unwrap();
    let entries = seg.entries().unwrap();
    assert_eq!(entries.len(), expected.len(), "{file}: number of entries");
    for (e, x) in entries.iter().zip(expected) {
        let what = format!("{file}: entry {}", x["index"]);
        assert_eq!(u64::from(e.index()), u64_of(&x["index"]), "{what}");
        assert_eq!(e.name(), x["name"].as_str().unwrap(), "{what}");
        assert_eq!(e.offset(), u64_of(&x["offset"]), "{what}");
        assert_eq!(e.size(), u64_of(&x["size"]), "{what}");
        // Look-up by name finds the same entry (names are unique in the images).
        assert_eq!(&seg.find(x["name"].as_str().unwrap()).unwrap(), e, "{what}");
    }
}

/// Opens the array `s` as `Array<T>` and compares every value with the manifest's.
fn check_array<T: Golden>(seg: &Segment, ro: &ReadOnlySegment, s: &Value) {
    let name = s["name"].as_str().unwrap();
    let arr: Array<T> = Array::open(seg, name).unwrap_or_else(|e| panic!("open {name}: {e}"));
    let expected: Vec<T> = s["expected"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(T::from_json)
        .collect();
    assert_eq!(
        arr.len() as u64,
        u64_of(&s["params"]["capacity"]),
        "{name}: capacity"
    );
    assert_eq!(arr.len(), expected.len(), "{name}: len");
    let data = &s["layout"]["data"];
    assert_eq!(
        arr.entry().offset(),
        u64_of(&s["layout"]["header"]["capacity(u64)"]),
        "{name}"
    );
    assert_eq!(
        arr.entry().offset() + 8,
        u64_of(&data["offset"]),
        "{name}: data offset"
    );
    assert_eq!(
        size_of::<T>() as u64,
        u64_of(&data["elem_size"]),
        "{name}: elem_size"
    );

    let got = arr.to_vec();
    for (i, (g, x)) in got.iter().zip(&expected).enumerate() {
        assert!(
            g.same(x),
            "{name}[{i}] as {}: got {g:?}, expected {x:?}",
            T::TAG
        );
        let one = arr.get(i).unwrap();
        assert!(one.same(x), "{name}.get({i}): got {one:?}, expected {x:?}");
    }
    assert!(arr.get(expected.len()).is_none());
    // The read-only mapping sees the same element bytes.
    let bytes = ro
        .read_bytes(
            u64_of(&data["offset"]),
            (expected.len() * size_of::<T>()) as u64,
        )
        .unwrap();
    assert_eq!(bytes, got.as_bytes(), "{name}: read-only bytes");
}

fn check_image(file: &str) -> usize {
    let img = image(file);
    let name = load_golden(file);
    let seg = Segment::open(name.as_str()).unwrap_or_else(|e| panic!("open {file}: {e}"));
    let ro =
        Segment::open_read_only(name.as_str()).unwrap_or_else(|e| panic!("open ro {file}: {e}"));
    check_table(&seg, &img);
    check_table(&ro, &img);

    let mut arrays = 0;
    for s in img["structures"].as_array().unwrap() {
        match s["kind"].as_str().unwrap() {
            "array" => {
                match s["types"]["elem"].as_str().unwrap() {
                    "i32" => check_array::<i32>(&seg, &ro, s),
                    "f64" => check_array::<f64>(&seg, &ro, s),
                    "u8" => check_array::<u8>(&seg, &ro, s),
                    "i64" => check_array::<i64>(&seg, &ro, s),
                    "f32" => check_array::<f32>(&seg, &ro, s),
                    "Point" => check_array::<Point>(&seg, &ro, s),
                    other => panic!(
                        "{file}: array {} has element type {other}, not covered",
                        s["name"]
                    ),
                }
                arrays += 1;
            }
            "array_c" => {
                let entry = s["name"].as_str().unwrap();
                assert_c_array_refused::<i32>(&seg, entry);
                assert_c_array_refused::<u8>(&seg, entry);
                assert_c_array_refused::<u64>(&seg, entry);
                arrays += 1;
            }
            _ => {}
        }
    }
    // Every other entry (queues, maps, futures, ...) opened as an Array is a clean refusal
    // or a readable array, never a panic: these are real upstream bytes.
    for e in seg.entries().unwrap() {
        let n = e.name().to_string();
        let readable = [
            Array::<u8>::open(&seg, &n).map(|a| a.to_vec().len()),
            Array::<u32>::open(&seg, &n).map(|a| a.to_vec().len()),
            Array::<u64>::open(&seg, &n).map(|a| a.to_vec().len()),
            Array::<Point>::open(&seg, &n).map(|a| a.to_vec().len()),
        ];
        for len in readable.into_iter().flatten() {
            assert!(8 + len as u64 <= e.size(), "{file}: {n}");
        }
    }
    // Reading did not write: the segment's bytes are still the file's.
    let file_bytes = std::fs::read(golden_dir().join(file)).unwrap();
    assert_eq!(
        ro.read_bytes(0, file_bytes.len() as u64).unwrap(),
        file_bytes,
        "{file} changed"
    );
    arrays
}

fn assert_c_array_refused<T: Element>(seg: &Segment, entry: &str) {
    let err = Array::<T>::open(seg, entry).unwrap_err();
    match &err {
        StructureError::Foreign {
            entry: e,
            format,
            detail,
        } => {
            assert_eq!(e, entry);
            assert!(format.contains("C implementation"), "{format}");
            assert!(detail.contains("16-byte header"), "{detail}");
        }
        other => panic!("expected Foreign for the C array, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("C implementation's Array layout"), "{msg}");
    assert!(msg.contains(entry), "{msg}");
}

#[test]
fn cpp_all_table_and_every_array_match_the_manifest() {
    assert_eq!(check_image("cpp_all.bin"), 6);
}

#[test]
fn cpp_min_table_and_every_array_match_the_manifest() {
    assert_eq!(check_image("cpp_min.bin"), 1);
}

#[test]
fn python_all_table_and_every_array_match_the_manifest() {
    assert_eq!(check_image("python_all.bin"), 6);
}

#[test]
fn c_all_table_matches_and_its_c_layout_array_is_refused_as_foreign() {
    assert_eq!(check_image("c_all.bin"), 1);
}

/// Creates `s` as an `Array<T>` holding the manifest's values.
fn create_like<T: Golden>(seg: &Segment, s: &Value) -> Array<T> {
    let values: Vec<T> = s["expected"]["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(T::from_json)
        .collect();
    let arr = Array::<T>::create(seg, s["name"].as_str().unwrap(), values.len()).unwrap();
    arr.write_from(0, &values).unwrap();
    arr
}

/// Builds `file`'s arrays in a fresh segment of the same size and table capacity, in the same
/// order, and compares entries and array bytes with the image's bytes.
fn rebuild_arrays_and_compare(file: &str, test: &str) {
    let img = image(file);
    let file_bytes = std::fs::read(golden_dir().join(file)).unwrap();
    let name = common::ShmName::new(test);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(u64_of(&img["segment_size"]))
        .max_entries(u32::try_from(u64_of(&img["max_entries"])).unwrap())
        .create_new(name.as_str())
        .unwrap();
    let arrays: Vec<&Value> = img["structures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["kind"] == "array")
        .collect();
    assert!(!arrays.is_empty());
    let mut entries = Vec::new();
    for s in &arrays {
        let entry = match s["types"]["elem"].as_str().unwrap() {
            "i32" => create_like::<i32>(&seg, s).entry().clone(),
            "f64" => create_like::<f64>(&seg, s).entry().clone(),
            "u8" => create_like::<u8>(&seg, s).entry().clone(),
            "i64" => create_like::<i64>(&seg, s).entry().clone(),
            "f32" => create_like::<f32>(&seg, s).entry().clone(),
            "Point" => create_like::<Point>(&seg, s).entry().clone(),
            other => panic!("element type {other} not covered"),
        };
        entries.push(entry);
    }
    let table = img["table_entries"].as_array().unwrap();
    for (e, s) in entries.iter().zip(&arrays) {
        let x = table.iter().find(|t| t["name"] == s["name"]).unwrap();
        let what = format!("{file}: {}", e.name());
        assert_eq!(u64::from(e.index()), u64_of(&x["index"]), "{what}: index");
        assert_eq!(e.offset(), u64_of(&x["offset"]), "{what}: offset");
        assert_eq!(e.size(), u64_of(&x["size"]), "{what}: size");
        // The 48 bytes of the table entry.
        let at = 32 + 48 * u64::from(e.index());
        let ours = seg.read_bytes(at, 48).unwrap();
        assert_eq!(ours, file_bytes[range(at, 48)], "{what}: table entry bytes");
        // The structure's bytes: capacity header and elements.
        let ours = seg.read_bytes(e.offset(), e.size()).unwrap();
        assert_eq!(
            ours,
            file_bytes[range(e.offset(), e.size())],
            "{what}: array bytes"
        );
    }
    // The header fields fixed at creation (magic, version, max_entries, memory_size) agree too.
    let header = seg.read_bytes(0, 32).unwrap();
    assert_eq!(header[0..8], file_bytes[0..8], "magic and version");
    assert_eq!(
        header[12..24],
        file_bytes[12..24],
        "max_entries and memory_size"
    );
    let h = seg.header().unwrap();
    assert_eq!(h.entry_count as usize, arrays.len());
    let last = entries.last().unwrap();
    assert_eq!(h.next_offset, last.offset() + last.size());
    // The whole data area up to the last array, alignment gaps included, is the image's.
    let data = seg
        .read_bytes(h.table_size, h.next_offset - h.table_size)
        .unwrap();
    assert_eq!(
        data,
        file_bytes[range(h.table_size, h.next_offset - h.table_size)],
        "{file}: data area"
    );
}

#[test]
fn arrays_built_from_scratch_match_cpp_all_byte_for_byte() {
    rebuild_arrays_and_compare("cpp_all.bin", "rebuild_cpp_all");
}

#[test]
fn arrays_built_from_scratch_match_cpp_min_byte_for_byte() {
    rebuild_arrays_and_compare("cpp_min.bin", "rebuild_cpp_min");
}

#[test]
fn arrays_built_from_scratch_match_python_all_byte_for_byte() {
    rebuild_arrays_and_compare("python_all.bin", "rebuild_python_all");
}

//! Opening corrupted, truncated and wrong-version segments (FORMAT.md §3.5, Rust
//! recommendation): every broken rule is a specific typed error naming what was found and
//! what was expected, and no bytes whatsoever make the library panic.

mod common;

use std::sync::OnceLock;

use common::ShmName;
use proptest::prelude::*;
use zeroipc::structures::Array;
use zeroipc::{Corruption, OpenError, Segment, SegmentOptions};

/// Size of the images below.
const SIZE: u64 = 8192;
/// Their table capacity: the table is `32 + 48 * 16 = 800` bytes.
const MAX_ENTRIES: u32 = 16;
const TABLE: u64 = 32 + 48 * MAX_ENTRIES as u64;

/// Header field offsets (FORMAT.md §3.1).
const MAGIC_AT: usize = 0x00;
const VERSION_AT: usize = 0x04;
const ENTRY_COUNT_AT: usize = 0x08;
const MAX_ENTRIES_AT: usize = 0x0C;
const MEMORY_SIZE_AT: usize = 0x10;
const NEXT_OFFSET_AT: usize = 0x18;

/// Names of the arrays in the valid image, in table order.
const NAMES: [&str; 5] = ["a_u32", "b_u8", "c_u64", "d_i16", "e_u8x3"];

/// A valid 8 KiB image, written by this library: five Arrays of different element types,
/// filled with known values. Built once (in a real segment), then copied per test.
fn valid_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = ShmName::new("valid_image_source");
        let seg = SegmentOptions::new()
            .catalog(false)
            .size(SIZE)
            .max_entries(MAX_ENTRIES)
            .create_new(name.as_str())
            .unwrap();
        let a = Array::<u32>::create(&seg, NAMES[0], 10).unwrap();
        a.write_from(0, &(0..10).map(|i| i * 1000 + 7).collect::<Vec<_>>())
            .unwrap();
        Array::<u8>::create(&seg, NAMES[1], 13).unwrap().fill(0xAB);
        let c = Array::<u64>::create(&seg, NAMES[2], 4).unwrap();
        c.write_from(0, &[u64::MAX, 0, 1, 1 << 40]).unwrap();
        Array::<i16>::create(&seg, NAMES[3], 7).unwrap().fill(-3);
        Array::<[u8; 3]>::create(&seg, NAMES[4], 5)
            .unwrap()
            .fill([1, 2, 3]);
        std::fs::read(name.path()).unwrap()
    })
}

fn put_u32(bytes: &mut [u8], at: usize, v: u32) {
    bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_u64(bytes: &mut [u8], at: usize, v: u64) {
    bytes[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get_u64(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

/// Byte offset of entry `i`, and of its `offset` and `size` fields.
fn entry_at(i: usize) -> usize {
    32 + 48 * i
}
fn entry_offset_at(i: usize) -> usize {
    entry_at(i) + 32
}
fn entry_size_at(i: usize) -> usize {
    entry_at(i) + 40
}

/// The valid image with `edit` applied, written to a fresh segment name.
fn image_with(test: &str, edit: impl FnOnce(&mut Vec<u8>)) -> ShmName {
    let mut bytes = valid_image().to_vec();
    edit(&mut bytes);
    let name = ShmName::new(test);
    std::fs::write(name.path(), &bytes).unwrap();
    name
}

/// Opens `name` read-write and read-only; both must fail the same way. Returns the error and
/// its Display text.
fn open_err(name: &ShmName) -> (OpenError, String) {
    let ro = Segment::open_read_only(name.as_str()).unwrap_err();
    let rw = Segment::open(name.as_str()).unwrap_err();
    assert_eq!(
        format!("{ro:?}"),
        format!("{rw:?}"),
        "read-only and read-write disagree"
    );
    let text = rw.to_string();
    (rw, text)
}

fn assert_contains(text: &str, parts: &[&str]) {
    for p in parts {
        assert!(text.contains(p), "{text:?} does not mention {p:?}");
    }
}

#[test]
fn the_unmodified_image_opens_and_reads_back() {
    let name = image_with("unmodified", |_| {});
    let seg = Segment::open(name.as_str()).unwrap();
    let names: Vec<String> = seg
        .entries()
        .unwrap()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(names, NAMES);
    let a = Array::<u32>::open(&seg, "a_u32").unwrap();
    assert_eq!(a.get(9), Some(9007));
}

#[test]
fn bad_magic_is_refused_naming_the_word_found_and_expected() {
    let name = image_with("bad_magic", |b| put_u32(b, MAGIC_AT, 0xDEAD_BEEF));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::BadMagic { found: 0xDEAD_BEEF })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["bad magic", "0xdeadbeef", "0x5a49504d"]);
}

#[test]
fn magic_zero_is_not_initialized() {
    let name = image_with("magic_zero", |b| put_u32(b, MAGIC_AT, 0));
    let (err, text) = open_err(&name);
    assert!(
        matches!(&err, OpenError::NotInitialized { name: n } if n == name.as_str()),
        "{err:?}"
    );
    assert_contains(&text, &[name.as_str(), "initialised"]);
}

#[test]
fn other_versions_are_refused_naming_found_and_supported() {
    for v in [0, 1, 3, u32::MAX] {
        let name = image_with("version", |b| put_u32(b, VERSION_AT, v));
        let (err, text) = open_err(&name);
        assert!(
            matches!(err, OpenError::Version { found, supported: 2 } if found == v),
            "{err:?}"
        );
        assert_contains(
            &text,
            &[&format!("version {v} is not supported"), "reads 2"],
        );
    }
}

#[test]
fn max_entries_whose_table_leaves_the_mapping_is_refused() {
    // 32 + 48 * 170 = 8192 still fits exactly; 171 does not.
    let name = image_with("max_entries_171", |b| put_u32(b, MAX_ENTRIES_AT, 171));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::TableOutsideMapping {
                max_entries: 171,
                table_size: 8240,
                mapped: SIZE,
            })
        ),
        "{err:?}"
    );
    assert_contains(
        &text,
        &["max_entries 171", "8240-byte table", "8192-byte segment"],
    );

    let name = image_with("max_entries_huge", |b| put_u32(b, MAX_ENTRIES_AT, u32::MAX));
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::TableOutsideMapping { max_entries: u32::MAX, table_size, .. })
                if table_size == 32 + 48 * u64::from(u32::MAX)
        ),
        "{err:?}"
    );
}

#[test]
fn max_entries_zero_is_read_as_64() {
    // A 64-entry table with max_entries 0, as the C opener accepts it.
    let name = ShmName::new("max_entries_zero");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(SIZE)
        .create_new(name.as_str())
        .unwrap();
    Array::<u32>::create(&seg, "x", 3).unwrap().fill(5);
    drop(seg);
    let mut bytes = std::fs::read(name.path()).unwrap();
    put_u32(&mut bytes, MAX_ENTRIES_AT, 0);
    std::fs::write(name.path(), &bytes).unwrap();

    let seg = Segment::open(name.as_str()).unwrap();
    assert_eq!(seg.max_entries(), 64);
    let h = seg.header().unwrap();
    assert_eq!((h.max_entries, h.table_size), (64, 3104));
    assert_eq!(Array::<u32>::open(&seg, "x").unwrap().to_vec(), [5, 5, 5]);
    // A table of 64 entries must fit: in a 2 KiB object it does not.
    let small = image_with("max_entries_zero_small", |b| {
        put_u32(b, MAX_ENTRIES_AT, 0);
        b.truncate(2048);
        put_u64(b, MEMORY_SIZE_AT, 2048);
    });
    let (err, _) = open_err(&small);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::TableOutsideMapping {
                max_entries: 64,
                table_size: 3104,
                mapped: 2048
            })
        ),
        "{err:?}"
    );
}

#[test]
fn entry_count_above_max_entries_is_refused() {
    let name = image_with("entry_count", |b| {
        put_u32(b, ENTRY_COUNT_AT, MAX_ENTRIES + 1)
    });
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::EntryCount {
                found: 17,
                max_entries: 16
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["entry_count 17 exceeds max_entries 16"]);
}

#[test]
fn memory_size_larger_than_the_object_or_smaller_than_the_table_is_refused() {
    let name = image_with("memory_size_big", |b| put_u64(b, MEMORY_SIZE_AT, SIZE + 1));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::MemorySize {
                found: 8193,
                min: TABLE,
                mapped: SIZE
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["memory_size 8193", "[800, 8192]"]);

    let name = image_with("memory_size_small", |b| {
        put_u64(b, MEMORY_SIZE_AT, TABLE - 1)
    });
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::MemorySize { found: 799, .. })
        ),
        "{err:?}"
    );
}

#[test]
fn memory_size_smaller_than_the_object_becomes_the_bound() {
    // Legal: the bound is min(memory_size, mapped). Entries must then end below it.
    let next = get_u64(valid_image(), NEXT_OFFSET_AT);
    let name = image_with("memory_size_bound", |b| put_u64(b, MEMORY_SIZE_AT, next));
    let seg = Segment::open(name.as_str()).unwrap();
    assert_eq!(seg.bound(), next);
    assert_eq!(seg.size(), SIZE);
    // One byte less cuts the last array.
    let name = image_with("memory_size_cuts", |b| put_u64(b, MEMORY_SIZE_AT, next - 1));
    let (err, text) = open_err(&name);
    assert!(
        matches!(err, OpenError::Corrupt(Corruption::NextOffset { found, max, .. }) if found == next && max == next - 1),
        "{err:?}"
    );
    assert_contains(&text, &[&format!("next_offset {next}")]);
}

#[test]
fn next_offset_below_the_table_or_past_the_bound_is_refused() {
    let name = image_with("next_offset_low", |b| put_u64(b, NEXT_OFFSET_AT, TABLE - 8));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::NextOffset {
                found: 792,
                min: TABLE,
                max: SIZE
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["next_offset 792 outside [800, 8192]"]);

    let name = image_with("next_offset_high", |b| put_u64(b, NEXT_OFFSET_AT, SIZE + 1));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::NextOffset {
                found: 8193,
                min: TABLE,
                max: SIZE
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["next_offset 8193 outside [800, 8192]"]);

    let name = image_with("next_offset_max", |b| put_u64(b, NEXT_OFFSET_AT, u64::MAX));
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::NextOffset {
                found: u64::MAX,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn entry_name_without_nul_is_refused() {
    let name = image_with("entry_name", |b| {
        b[entry_at(2)..entry_at(2) + 32].fill(b'x')
    });
    let (err, text) = open_err(&name);
    assert!(
        matches!(err, OpenError::Corrupt(Corruption::EntryName { index: 2 })),
        "{err:?}"
    );
    assert_contains(&text, &["entry 2", "no NUL", "32 bytes"]);
    // 31 significant bytes and a NUL in the last byte is a valid name.
    let name = image_with("entry_name_31", |b| {
        b[entry_at(2)..entry_at(2) + 31].fill(b'y')
    });
    let seg = Segment::open(name.as_str()).unwrap();
    assert_eq!(seg.entries().unwrap()[2].name(), "y".repeat(31).as_str());
}

#[test]
fn entry_offset_not_8_aligned_is_refused() {
    let name = image_with("entry_misaligned", |b| {
        let off = get_u64(b, entry_offset_at(1));
        put_u64(b, entry_offset_at(1), off + 4);
    });
    let (err, text) = open_err(&name);
    let OpenError::Corrupt(Corruption::EntryMisaligned { index: 1, offset }) = err else {
        panic!("{err:?}")
    };
    assert_eq!(offset % 8, 4);
    assert_contains(
        &text,
        &[
            "entry 1",
            &format!("offset {offset} is not a multiple of 8"),
        ],
    );
}

#[test]
fn entry_range_past_the_bound_or_into_the_table_is_refused() {
    // Ends one byte past the bound.
    let name = image_with("entry_past_bound", |b| {
        put_u64(b, entry_offset_at(0), SIZE - 40);
        put_u64(b, entry_size_at(0), 41);
    });
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::EntryOutOfBounds {
                index: 0,
                offset: 8152,
                size: 41,
                min: TABLE,
                bound: SIZE
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["entry 0", "8152+41", "[800, 8192)"]);
    // offset + size overflows u64.
    let name = image_with("entry_overflow", |b| put_u64(b, entry_size_at(3), u64::MAX));
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::EntryOutOfBounds {
                index: 3,
                size: u64::MAX,
                ..
            })
        ),
        "{err:?}"
    );
    // Starts inside the table.
    let name = image_with("entry_in_table", |b| put_u64(b, entry_offset_at(4), 32));
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::EntryOutOfBounds {
                index: 4,
                offset: 32,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn truncated_objects_are_refused() {
    // Cut inside the structures: memory_size now exceeds the object.
    let name = image_with("truncated_data", |b| b.truncate(4096));
    let (err, text) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::MemorySize {
                found: SIZE,
                min: TABLE,
                mapped: 4096
            })
        ),
        "{err:?}"
    );
    assert_contains(&text, &["memory_size 8192", "[800, 4096]"]);
    // Cut inside the table.
    let name = image_with("truncated_table", |b| b.truncate(500));
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::TableOutsideMapping {
                max_entries: 16,
                table_size: TABLE,
                mapped: 500
            })
        ),
        "{err:?}"
    );
    // Cut to nothing: what a creator looks like before it sizes the object (STYLE.md §3.2).
    let name = image_with("truncated_empty", |b| b.truncate(0));
    let (err, _) = open_err(&name);
    assert!(matches!(err, OpenError::NotInitialized { .. }), "{err:?}");
    // Cut inside the header: every creator sizes the object in one call, so a non-empty
    // object that cannot hold the header is not a segment being initialised.
    for len in [1, 31] {
        let name = image_with("truncated_header", |b| b.truncate(len));
        let (err, _) = open_err(&name);
        assert!(
            matches!(err, OpenError::Corrupt(Corruption::TooSmall { size, min: 32 }) if size == len as u64),
            "{len}: {err:?}"
        );
        assert!(
            err.to_string()
                .contains("smaller than the 32-byte table header"),
            "{err}"
        );
    }
    // Cut inside the structures with memory_size patched to match: the last entries now end
    // past the bound.
    let name = image_with("truncated_patched", |b| {
        b.truncate(usize::try_from(TABLE).unwrap() + 60);
        put_u64(b, MEMORY_SIZE_AT, TABLE + 60);
    });
    let (err, _) = open_err(&name);
    assert!(
        matches!(
            err,
            OpenError::Corrupt(Corruption::NextOffset { max: 860, .. })
        ),
        "{err:?}"
    );
}

/// Runs `Segment::open` and `Segment::open_read_only` on `name` in a thread; fails the test if
/// they do not return within 10 s (they used to block forever on a FIFO).
fn open_both_with_deadline(name: &ShmName) -> (OpenError, OpenError) {
    let n = name.as_str().to_owned();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rw = Segment::open(&n).err();
        let ro = Segment::open_read_only(&n).err();
        let _ = tx.send((rw, ro));
    });
    match rx.recv_timeout(std::time::Duration::from_secs(10)) {
        Ok((Some(rw), Some(ro))) => (rw, ro),
        Ok(other) => panic!("opened something that is not a segment: {other:?}"),
        Err(_) => panic!("open blocked on {} for 10 s", name.as_str()),
    }
}

#[test]
fn a_fifo_directory_or_symlink_under_the_name_is_refused_without_blocking() {
    use rustix::fs::{CWD, FileType, Mode, mknodat};

    let fifo = ShmName::new("fifo");
    mknodat(
        CWD,
        fifo.path().as_path(),
        FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let (rw, ro) = open_both_with_deadline(&fifo);
    for err in [rw, ro] {
        assert!(
            matches!(err, OpenError::Os { op: "shm_open", .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("not a regular file"), "{err}");
    }

    let dir = ShmName::new("directory");
    std::fs::create_dir(dir.path()).unwrap();
    let (rw, ro) = open_both_with_deadline(&dir);
    let _ = std::fs::remove_dir(dir.path());
    for err in [rw, ro] {
        assert!(
            matches!(err, OpenError::Os { op: "shm_open", .. }),
            "{err:?}"
        );
    }

    // A symlink to a valid segment is not followed (glibc's shm_open uses O_NOFOLLOW too).
    let target = image_with("symlink_target", |_| {});
    let link = ShmName::new("symlink");
    std::os::unix::fs::symlink(target.path(), link.path()).unwrap();
    let (rw, ro) = open_both_with_deadline(&link);
    for err in [rw, ro] {
        assert!(
            matches!(err, OpenError::Os { op: "shm_open", .. }),
            "{err:?}"
        );
    }
    assert!(Segment::open(target.as_str()).is_ok());
}

// ---------------------------------------------------------------------------------------------
// Random corruption: whatever the bytes, `open` and everything after it returns, never panics.

/// One edit of the image.
#[derive(Clone, Debug)]
enum Edit {
    /// Overwrite one byte.
    Byte { at: usize, value: u8 },
    /// Overwrite an aligned 4- or 8-byte field with an interesting value.
    Word { at: usize, wide: bool, value: u64 },
    /// Cut the object to `len` bytes.
    Truncate { len: usize },
}

/// Values that sit on the boundaries the validator checks.
fn interesting() -> impl Strategy<Value = u64> {
    let image = SIZE;
    prop_oneof![
        Just(0u64),
        Just(1),
        Just(7),
        Just(8),
        Just(16),
        Just(31),
        Just(32),
        Just(64),
        Just(u64::from(MAX_ENTRIES)),
        Just(u64::from(MAX_ENTRIES) + 1),
        Just(TABLE - 1),
        Just(TABLE),
        Just(TABLE + 8),
        Just(image - 8),
        Just(image - 1),
        Just(image),
        Just(image + 1),
        Just(u64::from(u32::MAX)),
        Just(u64::MAX),
        Just(u64::MAX - 7),
        Just(1 << 63),
        0..=image + 64,
        any::<u64>(),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    let len = usize::try_from(SIZE).unwrap();
    let table = usize::try_from(TABLE).unwrap();
    prop_oneof![
        // Header bytes.
        4 => (0..32usize, any::<u8>()).prop_map(|(at, value)| Edit::Byte { at, value }),
        // Header fields.
        4 => (0..6usize, interesting()).prop_map(|(i, value)| {
            let (at, wide) = [(0, false), (4, false), (8, false), (12, false), (16, true), (24, true)][i];
            Edit::Word { at, wide, value }
        }),
        // Entry bytes (names mostly: 32 of every 48).
        4 => (32..table, any::<u8>()).prop_map(|(at, value)| Edit::Byte { at, value }),
        // Entry offset / size fields of the first entries.
        6 => (0..6usize, any::<bool>(), interesting()).prop_map(|(i, size, value)| Edit::Word {
            at: entry_at(i) + if size { 40 } else { 32 },
            wide: true,
            value,
        }),
        // Array headers (capacities) and data.
        3 => (table..table + 256, interesting()).prop_map(|(at, value)| Edit::Word {
            at: at & !7,
            wide: true,
            value,
        }),
        2 => (table..len, any::<u8>()).prop_map(|(at, value)| Edit::Byte { at, value }),
        // Anywhere.
        1 => (0..len, any::<u8>()).prop_map(|(at, value)| Edit::Byte { at, value }),
        1 => (0..=len).prop_map(|len| Edit::Truncate { len }),
    ]
}

fn apply(bytes: &mut Vec<u8>, e: &Edit) {
    match *e {
        Edit::Byte { at, value } => {
            if let Some(b) = bytes.get_mut(at) {
                *b = value;
            }
        }
        Edit::Word { at, wide, value } => {
            let n = if wide { 8 } else { 4 };
            if let Some(dst) = bytes.get_mut(at..at + n) {
                dst.copy_from_slice(&value.to_le_bytes()[..n]);
            }
        }
        Edit::Truncate { len } => bytes.truncate(len),
    }
}

/// Everything a reader can do with an opened segment; returns how many elements it read.
fn exercise(seg: &Segment) -> u64 {
    let mut reads = 0;
    let _ = seg.header();
    let entries = seg.entries().expect("open validated every entry");
    for e in &entries {
        let name = e.name().to_string();
        let found = seg.find(&name);
        // Names that are not UTF-8 come back lossy and may not be found; valid ones are.
        // An empty name (a zeroed name field in a damaged table) breaks the name rule that
        // `find` enforces, like a name no entry can have (issue #17).
        if e.name().to_str().is_some_and(|n| !n.is_empty()) {
            // The first entry of that name (names may repeat in a damaged table).
            let found = found.expect("every entry can be found by its name");
            assert_eq!(found.name(), e.name());
            assert!(found.index() <= e.index());
        }
        let bytes = seg
            .read_bytes(e.offset(), e.size())
            .expect("entries lie inside the mapping");
        assert_eq!(bytes.len() as u64, e.size());
        reads += read_all::<u8>(seg, &name);
        reads += read_all::<u32>(seg, &name);
    }
    for n in NAMES {
        let _ = seg.find(n);
    }
    // Allocating in a damaged table fails cleanly or lands inside the bound.
    if let Ok(a) = Array::<u64>::create(seg, "zz_new", 3) {
        assert!(a.entry().offset() >= seg.header().unwrap().table_size);
        assert!(a.entry().offset() + a.entry().size() <= seg.bound());
        a.fill(u64::MAX);
        assert_eq!(a.to_vec(), [u64::MAX; 3]);
    }
    reads
}

fn read_all<T: zeroipc::Element>(seg: &Segment, name: &str) -> u64 {
    let Ok(a) = Array::<T>::open(seg, name) else {
        return 0;
    };
    assert!(a.entry().offset() + 8 + (a.len() * size_of::<T>()) as u64 <= seg.bound());
    for i in 0..a.len() {
        assert!(a.get(i).is_some());
    }
    assert!(a.get(a.len()).is_none());
    assert_eq!(a.to_vec().len(), a.len());
    a.len() as u64
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(10_000))]

    #[test]
    fn random_corruption_never_panics(edits in prop::collection::vec(edit(), 1..6)) {
        let mut bytes = valid_image().to_vec();
        for e in &edits {
            apply(&mut bytes, e);
        }
        let name = ShmName::new("random_corruption");
        std::fs::write(name.path(), &bytes).unwrap();
        match Segment::open(name.as_str()) {
            Ok(seg) => {
                exercise(&seg);
                // The read-only view agrees.
                let ro = Segment::open_read_only(name.as_str()).unwrap();
                prop_assert_eq!(ro.entries().unwrap(), seg.entries().unwrap());
            }
            Err(e) => {
                let _ = e.to_string();
                prop_assert!(Segment::open_read_only(name.as_str()).is_err());
            }
        }
    }
}

/// A tiny xorshift generator, so the scribbler below needs no extra crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> usize {
        usize::try_from(self.next() % n).unwrap()
    }
}

#[test]
fn a_peer_scribbling_on_the_table_while_we_read_never_causes_a_panic() {
    use std::os::unix::fs::FileExt;
    use std::sync::atomic::{AtomicBool, Ordering};

    let name = image_with("scribble", |_| {});
    let seg = Segment::open(name.as_str()).unwrap();
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        // The "peer": writes random bytes and interesting words into the header and the
        // entries through the object's file, restoring the valid image now and then.
        s.spawn(|| {
            let file = std::fs::OpenOptions::new()
                .write(true)
                .open(name.path())
                .unwrap();
            let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                if n % 8 == 0 {
                    file.write_all_at(valid_image(), 0).unwrap();
                    continue;
                }
                let at = rng.below(TABLE + 64) as u64;
                let value = rng.next().to_le_bytes();
                let len = [1, 4, 8][rng.below(3)];
                file.write_all_at(&value[..len], at & !(len as u64 - 1))
                    .unwrap();
            }
            file.write_all_at(valid_image(), 0).unwrap();
        });
        // We: every read path, many times over, against a table that keeps changing.
        let (mut ok, mut refused) = (0u32, 0u32);
        for i in 0..3000 {
            let _ = seg.header();
            if let Ok(entries) = seg.entries() {
                for e in entries {
                    let _ = seg.read_bytes(e.offset(), e.size());
                }
            }
            for n in NAMES {
                let _ = seg.find(n);
                read_all::<u8>(&seg, n);
                read_all::<u32>(&seg, n);
            }
            if i % 16 == 0 {
                match Segment::open(name.as_str()) {
                    Ok(peer) => {
                        ok += 1;
                        let _ = peer.entries();
                    }
                    Err(e) => {
                        refused += 1;
                        let _ = e.to_string();
                    }
                }
            }
        }
        stop.store(true, Ordering::Relaxed);
        // Both outcomes are fine; the point is that every call returned.
        assert_eq!(ok + refused, 3000 / 16 + 1);
    });
    // With the valid image back in place, everything reads as before.
    let seg = Segment::open(name.as_str()).unwrap();
    assert_eq!(
        Array::<u32>::open(&seg, "a_u32").unwrap().get(9),
        Some(9007)
    );
}

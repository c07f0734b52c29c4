//! Shared by the fuzz targets: one shm object per fuzz process, rewritten every iteration,
//! a valid segment image to corrupt, and "use everything a reader can use" helpers.
#![allow(dead_code)]

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::sync::OnceLock;

use zeroipc::inspect;
use zeroipc::structures::Array;
use zeroipc::{Element, ReadOnlySegment, Segment, SegmentOptions};

/// The prefix of every object the fuzz targets create (`ci.sh` removes leftovers).
pub const PREFIX: &str = "zeroipc-fuzz-";

/// One shm object per fuzz process, reused by every iteration so executions stay fast.
pub struct Scratch {
    name: String,
    file: File,
}

impl Scratch {
    /// The process's object, `/zeroipc-fuzz-<pid>`, created on first use. Objects of fuzz
    /// processes that no longer exist are removed then (libFuzzer ends with `exit`, which
    /// runs no destructors).
    pub fn get() -> &'static Scratch {
        static S: OnceLock<Scratch> = OnceLock::new();
        S.get_or_init(|| {
            remove_leftovers();
            let name = format!("/{PREFIX}{}", std::process::id());
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(true)
                .open(format!("/dev/shm{name}"))
                .expect("create the scratch shm object");
            Scratch { name, file }
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Makes the object hold exactly `bytes`. Call only while nothing maps it (a shrink
    /// under a live mapping is the documented SIGBUS case, not what is fuzzed here).
    pub fn write(&self, bytes: &[u8]) {
        self.file.set_len(0).expect("ftruncate 0");
        self.file
            .set_len(bytes.len() as u64)
            .expect("ftruncate to the input size");
        self.file.write_all_at(bytes, 0).expect("pwrite the input");
    }

    /// The object's size now (`fstat`; 0 if that fails).
    pub fn len(&self) -> u64 {
        self.file.metadata().map_or(0, |m| m.len())
    }

    /// `pwrite` inside the object's current size (never grows or shrinks it).
    pub fn write_at(&self, at: u64, bytes: &[u8], size: u64) {
        if at >= size {
            return;
        }
        let room = usize::try_from(size - at).unwrap_or(usize::MAX);
        let _ = self.file.write_all_at(&bytes[..bytes.len().min(room)], at);
    }
}

/// Removes `/dev/shm/zeroipc-fuzz-<pid>` objects whose process is gone.
fn remove_leftovers() {
    let Ok(dir) = std::fs::read_dir("/dev/shm") else {
        return;
    };
    for e in dir.flatten() {
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// Geometry of [`valid_image`].
pub const IMAGE_SIZE: u64 = 8192;
pub const MAX_ENTRIES: u32 = 8;
pub const TABLE: u64 = 32 + 48 * MAX_ENTRIES as u64;
pub const NAMES: [&str; 4] = ["a8", "b32", "c64", "d8"];

/// A valid 8 KiB segment with four arrays, written by the library once per process.
pub fn valid_image() -> &'static [u8] {
    static IMAGE: OnceLock<Vec<u8>> = OnceLock::new();
    IMAGE.get_or_init(|| {
        let name = format!("/{PREFIX}{}-image", std::process::id());
        let _ = Segment::unlink(&name);
        let seg = SegmentOptions::new()
            .size(IMAGE_SIZE)
            .max_entries(MAX_ENTRIES)
            .create_new(&name)
            .expect("create the image segment");
        Array::<u8>::create(&seg, NAMES[0], 40).unwrap().fill(1);
        Array::<u32>::create(&seg, NAMES[1], 50).unwrap().fill(2);
        Array::<u64>::create(&seg, NAMES[2], 60).unwrap().fill(3);
        Array::<u8>::create(&seg, NAMES[3], 7).unwrap().fill(4);
        let bytes = std::fs::read(format!("/dev/shm{name}")).unwrap();
        let _ = Segment::unlink(&name);
        bytes
    })
}

/// Entries looked up, classified and opened as arrays per execution (all are validated).
/// Look-ups and classification are linear in the table, so exercising every entry of a
/// 128-entry table is O(n²) per execution: measured, 139 instead of 887 executions per second
/// on `open_segment`. The first entries already reach every check.
pub const EXERCISED_ENTRIES: usize = 16;

/// Everything a read-only inspector does with an opened segment.
pub fn read_only(ro: &ReadOnlySegment) {
    let _ = ro.header();
    let Ok(entries) = ro.entries() else { return };
    for e in &entries {
        assert!(
            e.offset() + e.size() <= ro.bound(),
            "entry outside the bound"
        );
    }
    for e in entries.iter().take(EXERCISED_ENTRIES) {
        if let Some(name) = e.name().to_str() {
            let found = ro.find(name);
            if let Ok(found) = found {
                assert_eq!(found.name(), e.name());
            }
        }
        let _ = ro.read_bytes(e.offset(), e.size().min(1 << 16));
    }
    // One pass over all entries (what `zeroipc list`/`show` do); `classify` of a single
    // entry builds the same index each call, so calling it per entry is quadratic.
    // (Its entry list is its own snapshot: a peer may append between the two.)
    let _ = inspect::classify_all(ro);
    if let Some(e) = entries.first() {
        let _ = inspect::classify(ro, e);
    }
}

/// Everything a read-write user does: [`read_only`] plus typed arrays of three widths.
pub fn read_write(seg: &Segment) {
    read_only(seg);
    let Ok(entries) = seg.entries() else { return };
    for e in entries.iter().take(EXERCISED_ENTRIES) {
        let Some(name) = e.name().to_str() else {
            continue;
        };
        arrays::<u8>(seg, name);
        arrays::<u32>(seg, name);
        arrays::<u64>(seg, name);
    }
    for n in NAMES {
        arrays::<u64>(seg, n);
    }
}

/// Opens `name` as an `Array<T>` and reads it every way there is.
///
/// Through [`Segment::unchecked`]: every entry is opened at three widths on purpose (the
/// bytes are what is fuzzed), and the type catalog would refuse all widths but the one
/// recorded.
pub fn arrays<T: Element>(seg: &Segment, name: &str) {
    let Ok(a) = Array::<T>::open(&seg.unchecked(), name) else {
        return;
    };
    let end = a.entry().offset() + 8 + (a.len() * size_of::<T>()) as u64;
    assert!(end <= seg.bound(), "array data outside the bound");
    let _ = a.get(0);
    let _ = a.get(a.len().saturating_sub(1));
    assert!(a.get(a.len()).is_none());
    assert_eq!(a.to_vec().len(), a.len());
}

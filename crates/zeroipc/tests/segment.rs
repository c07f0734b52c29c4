//! Segment creation, opening, naming, permissions and the table allocator.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::ShmName;
use zeroipc::{CreateError, OpenError, Segment, SegmentOptions, TableError};

#[test]
fn create_new_then_open_sees_the_same_header() {
    let name = ShmName::new("create_new_then_open");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let h = seg.header().unwrap();
    assert_eq!(
        (h.entry_count, h.max_entries, h.memory_size, h.next_offset),
        (0, 64, 65536, 3104)
    );
    let peer = Segment::open(name.as_str()).unwrap();
    assert_eq!(peer.header().unwrap(), h);
    let bytes = peer.read_bytes(0, 32).unwrap();
    assert_eq!(&bytes[..4], b"MPIZ");
    assert_eq!(u32::from_le_bytes(bytes[4..8].try_into().unwrap()), 2);
}

#[test]
fn create_over_existing_name_fails_unless_replace_is_asked() {
    let name = ShmName::new("create_over_existing");
    let first = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    zeroipc::structures::Array::<u32>::create(&first, "a", 4).unwrap();
    let err = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap_err();
    assert!(matches!(err, CreateError::AlreadyExists { .. }), "{err}");
    // The existing segment is intact.
    assert_eq!(
        Segment::open(name.as_str())
            .unwrap()
            .entries()
            .unwrap()
            .len(),
        1
    );
    let replaced = SegmentOptions::new()
        .catalog(false)
        .size(32 * 1024)
        .create_or_replace(name.as_str())
        .unwrap();
    assert_eq!(replaced.entries().unwrap().len(), 0);
    assert_eq!(Segment::open(name.as_str()).unwrap().size(), 32 * 1024);
}

#[test]
fn created_segment_has_mode_0600_unless_asked() {
    let name = ShmName::new("mode_0600");
    let _seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let mode = std::fs::metadata(name.path()).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode, 0o600);

    let name2 = ShmName::new("mode_0640");
    let seg2 = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .mode(0o640)
        .create_new(name2.as_str())
        .unwrap();
    let mode2 = std::fs::metadata(name2.path())
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    assert_eq!(mode2, 0o640);
    assert_eq!(seg2.mode_and_owner().unwrap().0, 0o640);
}

#[test]
fn names_without_slash_reach_the_same_object() {
    let name = ShmName::new("normalise");
    let bare = name.as_str().trim_start_matches('/').to_owned();
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(&bare)
        .unwrap();
    assert_eq!(seg.name(), name.as_str());
    assert!(name.path().exists());
    assert_eq!(Segment::open(name.as_str()).unwrap().name(), name.as_str());
}

#[test]
fn bad_names_and_sizes_are_typed_errors() {
    assert!(matches!(
        SegmentOptions::new().catalog(false).create_new("a/b"),
        Err(CreateError::InvalidName { .. })
    ));
    assert!(matches!(
        SegmentOptions::new().catalog(false).create_new(""),
        Err(CreateError::InvalidName { .. })
    ));
    let name = ShmName::new("too_small");
    let err = SegmentOptions::new()
        .catalog(false)
        .size(100)
        .create_new(name.as_str())
        .unwrap_err();
    assert!(
        matches!(
            err,
            CreateError::TooSmall {
                size: 100,
                min: 3104
            }
        ),
        "{err}"
    );
    assert!(
        !name.path().exists(),
        "a refused create leaves nothing behind"
    );
    let err = SegmentOptions::new()
        .catalog(false)
        .max_entries(0)
        .create_new(name.as_str())
        .unwrap_err();
    assert!(
        matches!(err, CreateError::InvalidMaxEntries { found: 0 }),
        "{err}"
    );
    assert!(matches!(
        Segment::open("/zeroipc-test-does-not-exist"),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn creating_larger_than_dev_shm_fails_with_no_space() {
    let name = ShmName::new("no_space");
    // Far beyond any tmpfs on these machines, but inside the address space.
    let err = SegmentOptions::new()
        .catalog(false)
        .size(1 << 46)
        .create_new(name.as_str())
        .unwrap_err();
    assert!(
        matches!(err, CreateError::NoSpace { .. } | CreateError::Os { .. }),
        "{err}"
    );
    assert!(!name.path().exists(), "nothing left behind");
}

#[test]
fn uninitialised_object_is_reported_and_open_timeout_waits_for_it() {
    let name = ShmName::new("not_initialised");
    // An object that exists but has no size yet: a creator between shm_open and ftruncate.
    std::fs::File::create(name.path()).unwrap();
    assert!(matches!(
        Segment::open(name.as_str()),
        Err(OpenError::NotInitialized { .. })
    ));
    let err =
        Segment::open_timeout(name.as_str(), std::time::Duration::from_millis(50)).unwrap_err();
    assert!(matches!(err, OpenError::NotInitialized { .. }), "{err}");
    // A zero magic (ftruncate done, header not yet published) is the same state.
    std::fs::write(name.path(), vec![0u8; 65536]).unwrap();
    assert!(matches!(
        Segment::open(name.as_str()),
        Err(OpenError::NotInitialized { .. })
    ));

    // open_timeout succeeds once the creator finishes.
    let later = ShmName::new("appears_later");
    let n2 = later.as_str().to_owned();
    let opener = common::thread_id();
    let t = std::thread::spawn(move || {
        // Created only once `open_timeout` sleeps between its attempts.
        common::wait_until_thread_asleep("open_timeout to wait for the segment", opener);
        SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_new(&n2)
            .unwrap()
    });
    let seg = Segment::open_timeout(later.as_str(), std::time::Duration::from_secs(10)).unwrap();
    assert_eq!(seg.size(), 64 * 1024);
    t.join().unwrap();
}

#[test]
fn dropping_handles_never_unlinks() {
    let name = ShmName::new("drop_keeps");
    drop(
        SegmentOptions::new()
            .catalog(false)
            .size(64 * 1024)
            .create_new(name.as_str())
            .unwrap(),
    );
    assert!(Segment::open(name.as_str()).is_ok());
    Segment::unlink(name.as_str()).unwrap();
    assert!(matches!(
        Segment::open(name.as_str()),
        Err(OpenError::NotFound { .. })
    ));
    assert!(matches!(
        Segment::unlink(name.as_str()),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn table_rejects_duplicates_long_names_and_overflow_without_leaking_space() {
    use zeroipc::structures::Array;
    let name = ShmName::new("table_errors");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(4096)
        .max_entries(4)
        .create_new(name.as_str())
        .unwrap();
    let table_end = 32 + 48 * 4;
    assert_eq!(seg.header().unwrap().next_offset, table_end);
    Array::<u8>::create(&seg, "a", 5).unwrap();
    let after_a = seg.header().unwrap().next_offset;
    assert_eq!(after_a, table_end + 13);

    let dup = Array::<u8>::create(&seg, "a", 5).unwrap_err();
    assert!(
        matches!(
            dup,
            zeroipc::StructureError::Table(TableError::AlreadyExists { .. })
        ),
        "{dup}"
    );
    let long = Array::<u8>::create(&seg, &"x".repeat(32), 5).unwrap_err();
    assert!(
        matches!(
            long,
            zeroipc::StructureError::Table(TableError::InvalidName { len: 32, .. })
        ),
        "{long}"
    );
    Array::<u8>::create(&seg, &"y".repeat(31), 1).unwrap();
    let big = Array::<u8>::create(&seg, "big", 1 << 20).unwrap_err();
    assert!(
        matches!(
            big,
            zeroipc::StructureError::Table(TableError::OutOfSpace { .. })
        ),
        "{big}"
    );
    // Failures consumed nothing: the next allocation lands right after the last success.
    let b = Array::<u64>::create(&seg, "b", 1).unwrap();
    assert_eq!(b.entry().offset(), after_a.next_multiple_of(8) + 16);
    Array::<u8>::create(&seg, "c", 1).unwrap();
    let full = Array::<u8>::create(&seg, "d", 1).unwrap_err();
    assert!(
        matches!(
            full,
            zeroipc::StructureError::Table(TableError::TableFull { max_entries: 4 })
        ),
        "{full}"
    );
    let names: Vec<String> = seg
        .entries()
        .unwrap()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(names, ["a", "y".repeat(31).as_str(), "b", "c"]);
}

#[test]
fn a_blank_entry_counted_before_it_is_written_is_skipped() {
    // C++ increments entry_count before writing the entry (FORMAT.md IH-7): an opener racing
    // it sees a counted but all-zero entry. It must not fail the open or shadow real entries.
    use zeroipc::structures::Array;
    let name = ShmName::new("blank_entry");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    Array::<u32>::create(&seg, "a", 4).unwrap();
    drop(seg);
    let mut bytes = std::fs::read(name.path()).unwrap();
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes()); // entry_count 2, entry 1 still zero
    std::fs::write(name.path(), &bytes).unwrap();
    let seg = Segment::open(name.as_str()).unwrap();
    let names: Vec<String> = seg
        .entries()
        .unwrap()
        .iter()
        .map(|e| e.name().to_string())
        .collect();
    assert_eq!(names, ["a"]);
    assert!(Array::<u32>::open(&seg, "a").is_ok());
    // Once the peer fills it in, it appears.
    let mut bytes = std::fs::read(name.path()).unwrap();
    let e1 = 32 + 48;
    bytes[e1..e1 + 1].copy_from_slice(b"b");
    bytes[e1 + 32..e1 + 40].copy_from_slice(&4096u64.to_le_bytes());
    bytes[e1 + 40..e1 + 48].copy_from_slice(&8u64.to_le_bytes());
    std::fs::write(name.path(), &bytes).unwrap();
    let seg = Segment::open(name.as_str()).unwrap();
    assert_eq!(seg.entries().unwrap().len(), 2);
}

/// Issue #17: one name rule for entries. The empty name is refused by create, find and open
/// alike (before, create accepted it and the catalog then reported the record as corrupt).
#[test]
fn the_empty_entry_name_is_refused_everywhere() {
    use zeroipc::structures::Array;
    let name = ShmName::new("empty_entry_name");
    let seg = SegmentOptions::new()
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    let created = Array::<u32>::create(&seg, "", 4).unwrap_err();
    assert!(
        matches!(
            created,
            zeroipc::StructureError::Table(TableError::InvalidName { len: 0, .. })
        ),
        "{created}"
    );
    assert!(matches!(
        seg.find(""),
        Err(TableError::InvalidName { len: 0, .. })
    ));
    let opened = Array::<u32>::open(&seg, "").unwrap_err();
    assert!(
        matches!(
            opened,
            zeroipc::StructureError::Table(TableError::InvalidName { len: 0, .. })
        ),
        "{opened}"
    );
    // Nothing was allocated: the catalog (the table's first entry) is all there is, and it
    // reads back without complaint.
    assert_eq!(seg.entries().unwrap().len(), 1);
    let catalog = seg.catalog().unwrap().unwrap();
    assert!(catalog.records.is_empty() && catalog.problems.is_empty());
}

/// Issue #17: glibc's `shm_open` (which C++ and C use) accepts 255 characters after the
/// slash; so do we, instead of failing with a bare `ENAMETOOLONG` from the OS.
#[test]
fn a_255_character_segment_name_works_as_in_cpp() {
    struct Unlink(String);
    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = Segment::unlink(&self.0);
        }
    }
    let base = ShmName::new("long_name");
    let pad = 256 - base.as_str().len();
    let long = Unlink(format!("{}{}", base.as_str(), "x".repeat(pad)));
    assert_eq!(long.0.len(), 256, "a slash and 255 characters");
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(&long.0)
        .unwrap();
    assert_eq!(seg.name(), long.0);
    assert!(std::path::Path::new("/dev/shm").join(&long.0[1..]).exists());
    assert_eq!(Segment::open(&long.0).unwrap().name(), long.0);
    Segment::unlink(&long.0).unwrap();
    assert!(matches!(
        Segment::open(&long.0),
        Err(OpenError::NotFound { .. })
    ));
    // One more character is refused by name, before the OS is asked.
    let too_long = format!("{}x", long.0);
    assert!(matches!(
        SegmentOptions::new().catalog(false).create_new(&too_long),
        Err(CreateError::InvalidName { .. })
    ));
}

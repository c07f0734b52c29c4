//! The Array API: create/open, copies in and out, bounds, refusals, zero-copy slices and the
//! atomic accessors.

mod common;

use std::os::unix::fs::FileExt;
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use common::ShmName;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::structures::Array;
use zeroipc::{Corruption, OutOfBounds, Segment, SegmentOptions, StructureError, TableError};

fn segment(test: &str) -> (ShmName, Segment) {
    let name = ShmName::new(test);
    let seg = SegmentOptions::new()
        .catalog(false)
        .size(64 * 1024)
        .create_new(name.as_str())
        .unwrap();
    (name, seg)
}

/// Writes `bytes` at segment offset `at` through the object's file (as a foreign writer
/// would), bypassing the library.
fn poke(name: &ShmName, at: u64, bytes: &[u8]) {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(name.path())
        .unwrap();
    f.write_all_at(bytes, at).unwrap();
}

#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Pixel {
    x: u16,
    y: u16,
    rgb: [u8; 3],
    alpha: u8,
}

#[test]
fn create_then_open_by_name_sees_the_same_array() {
    let (name, seg) = segment("create_open");
    let a = Array::<u32>::create(&seg, "temps", 10).unwrap();
    assert_eq!(a.len(), 10);
    assert!(!a.is_empty());
    assert_eq!(a.entry().name(), "temps");
    assert_eq!(a.entry().size(), 8 + 10 * 4);
    assert_eq!(a.to_vec(), [0; 10], "created zeroed");
    a.set(3, 33).unwrap();

    // Another handle, through another mapping of the segment.
    let peer = Segment::open(name.as_str()).unwrap();
    let b = Array::<u32>::open(&peer, "temps").unwrap();
    assert_eq!(b.len(), 10);
    assert_eq!(b.entry(), a.entry());
    assert_eq!(b.get(3), Some(33));
    b.set(4, 44).unwrap();
    assert_eq!(a.get(4), Some(44), "writes are shared both ways");
    // The capacity field is at the entry offset, little-endian.
    let cap = seg.read_bytes(a.entry().offset(), 8).unwrap();
    assert_eq!(u64::from_le_bytes(cap.try_into().unwrap()), 10);
}

#[test]
fn get_set_read_into_write_from_to_vec_and_fill() {
    let (_name, seg) = segment("copies");
    let a = Array::<i64>::create(&seg, "a", 6).unwrap();
    a.fill(-7);
    assert_eq!(a.to_vec(), [-7; 6]);
    a.write_from(2, &[1, 2, 3]).unwrap();
    assert_eq!(a.to_vec(), [-7, -7, 1, 2, 3, -7]);
    let mut out = [0i64; 4];
    a.read_into(1, &mut out).unwrap();
    assert_eq!(out, [-7, 1, 2, 3]);
    a.set(5, i64::MIN).unwrap();
    assert_eq!(a.get(5), Some(i64::MIN));
    assert_eq!(a.get(0), Some(-7));
    // Empty copies at the end are fine.
    a.write_from(6, &[]).unwrap();
    a.read_into(6, &mut []).unwrap();

    // Odd element sizes and struct elements (byte- and 2-byte words).
    let p = Array::<Pixel>::create(&seg, "pixels", 3).unwrap();
    let px = Pixel {
        x: 1,
        y: 65535,
        rgb: [1, 2, 3],
        alpha: 255,
    };
    p.fill(px);
    p.set(1, Pixel { x: 9, ..px }).unwrap();
    assert_eq!(p.to_vec(), [px, Pixel { x: 9, ..px }, px]);
    let t = Array::<[u8; 3]>::create(&seg, "triples", 5).unwrap();
    t.write_from(0, &[[1, 2, 3], [4, 5, 6]]).unwrap();
    assert_eq!(t.to_vec(), [[1, 2, 3], [4, 5, 6], [0; 3], [0; 3], [0; 3]]);
    assert_eq!(t.entry().size(), 8 + 15);
    let f = Array::<f32>::create(&seg, "floats", 2).unwrap();
    f.write_from(0, &[f32::NAN, -0.0]).unwrap();
    let v = f.to_vec();
    assert!(v[0].is_nan());
    assert_eq!(v[1].to_bits(), (-0.0f32).to_bits());
}

#[test]
fn out_of_bounds_accesses_are_errors_and_change_nothing() {
    let (_name, seg) = segment("bounds");
    let a = Array::<u16>::create(&seg, "a", 4).unwrap();
    a.write_from(0, &[1, 2, 3, 4]).unwrap();
    assert_eq!(a.get(4), None);
    assert_eq!(a.get(usize::MAX), None);
    assert_eq!(a.set(4, 9), Err(OutOfBounds { index: 4, len: 4 }));
    assert_eq!(
        a.set(4, 9).unwrap_err().to_string(),
        "index 4 out of bounds for length 4"
    );
    assert_eq!(
        a.set(usize::MAX, 9),
        Err(OutOfBounds {
            index: usize::MAX,
            len: 4
        })
    );
    // A range that passes the end names its end and writes nothing.
    assert_eq!(
        a.write_from(2, &[7, 7, 7]),
        Err(OutOfBounds { index: 5, len: 4 })
    );
    assert_eq!(a.to_vec(), [1, 2, 3, 4]);
    let mut out = [0u16; 3];
    assert_eq!(
        a.read_into(3, &mut out),
        Err(OutOfBounds { index: 6, len: 4 })
    );
    assert_eq!(out, [0; 3], "out is untouched");
    assert!(a.read_into(usize::MAX, &mut out).is_err());
    assert!(a.write_from(usize::MAX - 1, &[1, 2]).is_err());
    assert_eq!(
        a.read_into(5, &mut []),
        Err(OutOfBounds { index: 5, len: 4 })
    );
}

#[test]
fn capacity_zero_overflow_and_oversize_are_refused() {
    let (_name, seg) = segment("capacity");
    let err = Array::<u32>::create(&seg, "zero", 0).unwrap_err();
    assert!(
        matches!(err, StructureError::InvalidCapacity { requested: 0, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("invalid capacity 0"), "{err}");
    let err = Array::<u64>::create(&seg, "huge", usize::MAX / 4).unwrap_err();
    assert!(
        matches!(err, StructureError::InvalidCapacity { .. }),
        "{err:?}"
    );
    let err = Array::<u64>::create(&seg, "big", 1 << 20).unwrap_err();
    assert!(
        matches!(err, StructureError::Table(TableError::OutOfSpace { .. })),
        "{err:?}"
    );
    // Nothing was published by the refusals.
    assert!(seg.entries().unwrap().is_empty());
    assert_eq!(seg.header().unwrap().next_offset, 3104);
}

#[test]
fn open_of_a_missing_or_taken_name_is_a_table_error() {
    let (_name, seg) = segment("names");
    let err = Array::<u8>::open(&seg, "nope").unwrap_err();
    assert!(
        matches!(err, StructureError::Table(TableError::NotFound { .. })),
        "{err:?}"
    );
    Array::<u8>::create(&seg, "x", 1).unwrap();
    let err = Array::<u8>::create(&seg, "x", 1).unwrap_err();
    assert!(
        matches!(err, StructureError::Table(TableError::AlreadyExists { .. })),
        "{err:?}"
    );
}

#[test]
fn open_with_another_element_size_is_refused_with_element_size() {
    let (_name, seg) = segment("elem_size");
    Array::<u32>::create(&seg, "words", 10)
        .unwrap()
        .fill(0xFFFF_FFFF);
    let err = Array::<u64>::open(&seg, "words").unwrap_err();
    match &err {
        StructureError::ElementSize {
            entry,
            stored: 4,
            expected: 8,
        } => assert_eq!(entry, "words"),
        other => panic!("expected ElementSize, got {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "entry 'words' holds 4-byte elements, this type is 8 bytes"
    );
    let err = Array::<u8>::open(&seg, "words").unwrap_err();
    assert!(
        matches!(
            err,
            StructureError::ElementSize {
                stored: 4,
                expected: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // The right type still opens.
    assert_eq!(Array::<i32>::open(&seg, "words").unwrap().get(0), Some(-1));
}

#[test]
fn capacity_that_does_not_match_the_entry_size_is_corruption() {
    let (name, seg) = segment("bad_capacity");
    let a = Array::<u32>::create(&seg, "a", 10).unwrap();
    let at = a.entry().offset();
    for bad in [11u64, 0, 9, u64::MAX] {
        poke(&name, at, &bad.to_le_bytes());
        let err = Array::<u32>::open(&seg, "a").unwrap_err();
        match &err {
            StructureError::Corrupt(Corruption::Field {
                entry,
                field: "capacity",
                found,
                ..
            }) => {
                assert_eq!((entry.as_str(), *found), ("a", bad));
            }
            other => panic!("capacity {bad}: expected Corruption::Field, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(&format!("capacity is {bad}")), "{text}");
        assert!(text.contains("(entry size 48 - 8) / 4"), "{text}");
    }
    // An entry too small for the header.
    let b = Array::<u8>::create(&seg, "b", 1).unwrap();
    let size_field = 32 + 48 * u64::from(b.entry().index()) + 40;
    poke(&name, size_field, &4u64.to_le_bytes());
    let err = Array::<u8>::open(&seg, "b").unwrap_err();
    assert!(
        matches!(
            &err,
            StructureError::Corrupt(Corruption::Field {
                field: "entry size",
                found: 4,
                ..
            })
        ),
        "{err:?}"
    );
}

#[test]
fn zero_copy_slices_round_trip() {
    let (name, seg) = segment("slices");
    let a = Array::<u64>::create(&seg, "a", 1000).unwrap();
    {
        // SAFETY: this test is the only user of the array while the slice lives.
        let s = unsafe { a.as_mut_slice() };
        assert_eq!(s.len(), 1000);
        for (i, v) in s.iter_mut().enumerate() {
            *v = (i as u64) * 3;
        }
    }
    assert_eq!(a.get(999), Some(2997));
    a.set(0, 42).unwrap();
    let peer = Segment::open(name.as_str()).unwrap();
    let b = Array::<u64>::open(&peer, "a").unwrap();
    // SAFETY: nobody writes the array while the slice lives.
    let s = unsafe { b.as_slice() };
    assert_eq!(s.len(), 1000);
    assert_eq!(s[0], 42);
    assert!(
        s.iter()
            .enumerate()
            .skip(1)
            .all(|(i, &v)| v == (i as u64) * 3)
    );
    assert_eq!(s, &b.to_vec()[..]);
}

macro_rules! atomic_round_trip {
    ($seg:expr, $($t:ty),*) => {$({
        let name = concat!("atomic_", stringify!($t));
        let a = Array::<$t>::create($seg, name, 3).unwrap();
        let x = a.atomic(2).expect("in bounds");
        assert_eq!(x.fetch_add(5, SeqCst), 0);
        assert_eq!(x.compare_exchange(5, 7, SeqCst, Relaxed), Ok(5));
        assert_eq!(x.compare_exchange(5, 9, SeqCst, Relaxed), Err(7));
        x.fetch_sub(1, SeqCst);
        assert_eq!(a.get(2), Some(6), "{name}: the atomic is the element");
        a.set(1, <$t>::MAX).unwrap();
        assert_eq!(a.atomic(1).unwrap().load(SeqCst), <$t>::MAX);
        assert!(a.atomic(3).is_none());
        assert!(a.atomic(usize::MAX).is_none());
        // Through another handle too.
        let b = Array::<$t>::open($seg, name).unwrap();
        b.atomic(0).unwrap().store(<$t>::MIN, SeqCst);
        assert_eq!(a.to_vec(), [<$t>::MIN, <$t>::MAX, 6]);
    })*};
}

#[test]
fn every_atomic_accessor_type_reads_and_writes_the_element() {
    let (_name, seg) = segment("atomics");
    atomic_round_trip!(&seg, u8, i8, u16, i16, u32, i32, u64, i64);
}

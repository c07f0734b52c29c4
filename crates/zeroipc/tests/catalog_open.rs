//! Typed opens check the type catalog (issue #17): a structure opened as another kind or
//! element type is refused when the catalog says otherwise, unless the segment handle is
//! [`Segment::unchecked`]; segments without a catalog open as before.

mod common;

use common::{ShmName, load_golden};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
use zeroipc::codata::channel::Channel;
use zeroipc::codata::future::Future;
use zeroipc::codata::lazy::Lazy;
use zeroipc::codata::stream::Stream;
use zeroipc::segment::CatalogKind;
use zeroipc::structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
use zeroipc::sync::{
    Barrier, Event, EventMode, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal,
};
use zeroipc::{Segment, SegmentOptions, StructureError};

/// The creator's element type, in its own module (its type name is `...::demo::Reading`).
mod demo {
    use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

    #[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
    #[repr(C)]
    pub(crate) struct Reading {
        pub(crate) id: u32,
        pub(crate) value: f32,
    }
}

/// The consumer's copy of the same struct, defined in another module (as a second program
/// would define it in its own crate).
#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Reading {
    id: u32,
    value: f32,
}

/// Another struct of the same size and alignment but another name.
#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
#[repr(C)]
struct Sample {
    id: u32,
    value: f32,
}

fn segment(test: &str) -> (ShmName, Segment) {
    let shm = ShmName::new(test);
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .create_new(shm.as_str())
        .expect("create segment");
    (shm, seg)
}

fn kind_mismatch<T: std::fmt::Debug>(
    r: Result<T, StructureError>,
    entry: &str,
    recorded: CatalogKind,
    expected: CatalogKind,
) {
    match r {
        Err(StructureError::KindMismatch {
            entry: e,
            recorded: r,
            expected: x,
        }) => {
            assert_eq!((e.as_str(), r, x), (entry, recorded, expected));
        }
        other => panic!("expected KindMismatch for {entry}, got {other:?}"),
    }
}

fn type_mismatch<T: std::fmt::Debug>(r: Result<T, StructureError>, entry: &str) -> String {
    match r {
        Err(e @ StructureError::TypeMismatch { .. }) => {
            let StructureError::TypeMismatch { entry: ref got, .. } = e else {
                unreachable!()
            };
            assert_eq!(got, entry);
            e.to_string()
        }
        other => panic!("expected TypeMismatch for {entry}, got {other:?}"),
    }
}

#[test]
fn a_mutex_opened_as_a_semaphore_is_a_kind_mismatch() {
    let (_shm, seg) = segment("mutex_as_sem");
    let m = Mutex::create(&seg, "lock").unwrap();
    let guard = m.lock().unwrap();
    let err = Semaphore::open(&seg, "lock");
    kind_mismatch(err, "lock", CatalogKind::Mutex, CatalogKind::Semaphore);
    // The message names what was found and what was expected.
    let msg = Semaphore::open(&seg, "lock").unwrap_err().to_string();
    assert!(msg.contains("mutex") && msg.contains("semaphore"), "{msg}");
    // And the other way round.
    Semaphore::create(&seg, "sem", 1, 1).unwrap();
    kind_mismatch(
        Mutex::open(&seg, "sem"),
        "sem",
        CatalogKind::Semaphore,
        CatalogKind::Mutex,
    );
    // The right kind still opens.
    assert!(Mutex::open(&seg, "lock").is_ok());
    assert!(Semaphore::open(&seg, "sem").is_ok());
    drop(guard);
}

#[test]
fn a_future_of_another_element_type_is_a_type_mismatch() {
    let (_shm, seg) = segment("future_type");
    Future::<u64>::create(&seg, "f64bit").unwrap();
    let msg = type_mismatch(Future::<u32>::open(&seg, "f64bit"), "f64bit");
    assert!(msg.contains("u64 (8 bytes, align 8)"), "{msg}");
    assert!(msg.contains("u32 (4 bytes, align 4)"), "{msg}");
    // Same size and alignment, another name.
    Future::<u32>::create(&seg, "f32bit").unwrap();
    let msg = type_mismatch(Future::<f32>::open(&seg, "f32bit"), "f32bit");
    assert!(msg.contains("u32") && msg.contains("f32"), "{msg}");
    assert!(Future::<u64>::open(&seg, "f64bit").is_ok());
    assert!(Future::<u32>::open(&seg, "f32bit").is_ok());
}

#[test]
fn a_user_struct_defined_in_another_module_opens_by_its_name() {
    let (_shm, seg) = segment("user_struct");
    let q = Queue::<demo::Reading>::create(&seg, "readings", 8).unwrap();
    q.push(demo::Reading { id: 7, value: 1.5 }).unwrap();
    let mine = Queue::<Reading>::open(&seg, "readings").unwrap();
    assert_eq!(mine.pop().unwrap(), Reading { id: 7, value: 1.5 });
    // Another struct of the same shape but another name is refused.
    let msg = type_mismatch(Queue::<Sample>::open(&seg, "readings"), "readings");
    assert!(msg.contains("Reading") && msg.contains("Sample"), "{msg}");
}

#[test]
fn a_structural_mismatch_is_reported_before_the_catalog() {
    let (_shm, seg) = segment("structural_first");
    Queue::<u32>::create(&seg, "q", 8).unwrap();
    assert!(matches!(
        Queue::<u64>::open(&seg, "q"),
        Err(StructureError::ElementSize {
            stored: 4,
            expected: 8,
            ..
        })
    ));
}

#[test]
fn every_kind_refuses_another_kind_and_another_type() {
    let (_shm, seg) = segment("every_kind");
    Array::<u32>::create(&seg, "arr", 4).unwrap();
    Queue::<u32>::create(&seg, "que", 4).unwrap();
    Stack::<u32>::create(&seg, "stk", 4).unwrap();
    Ring::<u32>::create(&seg, "rng", 4).unwrap();
    Pool::<u32>::create(&seg, "pol", 4).unwrap();
    Map::<u32, u32>::create(&seg, "map", 8).unwrap();
    Set::<u32>::create(&seg, "set", 8).unwrap();
    Barrier::create(&seg, "bar", 2).unwrap();
    Latch::create(&seg, "lat", 2).unwrap();
    Once::create(&seg, "onc").unwrap();
    Event::create(&seg, "evt", EventMode::AutoReset).unwrap();
    RwLock::create(&seg, "rwl").unwrap();
    Monitor::create(&seg, "mon").unwrap();
    Signal::<u32>::create(&seg, "sig", 0).unwrap();
    Lazy::<u32>::create(&seg, "lzy").unwrap();
    Channel::<u32>::create(&seg, "chb", 4).unwrap();
    Channel::<u32>::create(&seg, "chu", 0).unwrap();
    Stream::<u32>::create(&seg, "str", 4).unwrap();

    // The right kind and type open.
    assert!(Array::<u32>::open(&seg, "arr").is_ok());
    assert!(Queue::<u32>::open(&seg, "que").is_ok());
    assert!(Stack::<u32>::open(&seg, "stk").is_ok());
    assert!(Ring::<u32>::open(&seg, "rng").is_ok());
    assert!(Pool::<u32>::open(&seg, "pol").is_ok());
    assert!(Map::<u32, u32>::open(&seg, "map").is_ok());
    assert!(Set::<u32>::open(&seg, "set").is_ok());
    assert!(Barrier::open(&seg, "bar").is_ok());
    assert!(Latch::open(&seg, "lat").is_ok());
    assert!(Once::open(&seg, "onc").is_ok());
    assert!(Event::open(&seg, "evt").is_ok());
    assert!(RwLock::open(&seg, "rwl").is_ok());
    assert!(Monitor::open(&seg, "mon").is_ok());
    assert!(Signal::<u32>::open(&seg, "sig").is_ok());
    assert!(Lazy::<u32>::open(&seg, "lzy").is_ok());
    assert!(Channel::<u32>::open(&seg, "chb").is_ok());
    assert!(Channel::<u32>::open(&seg, "chu").is_ok());
    assert!(Stream::<u32>::open(&seg, "str").is_ok());

    // Parts of composites opened by their own names are checked against their own records.
    assert!(Queue::<u32>::open(&seg, "chb_buffer").is_ok());
    assert!(Ring::<u32>::open(&seg, "str_buffer").is_ok());
    assert!(Mutex::open(&seg, "mon_mtx").is_ok());
    assert!(Semaphore::open(&seg, "evt_sem").is_ok());
    type_mismatch(Queue::<f32>::open(&seg, "chb_buffer"), "chb_buffer");

    // Same element size, another type name.
    type_mismatch(Array::<i32>::open(&seg, "arr"), "arr");
    type_mismatch(Queue::<f32>::open(&seg, "que"), "que");
    type_mismatch(Stack::<i32>::open(&seg, "stk"), "stk");
    type_mismatch(Ring::<i32>::open(&seg, "rng"), "rng");
    type_mismatch(Pool::<f32>::open(&seg, "pol"), "pol");
    type_mismatch(Map::<u32, f32>::open(&seg, "map"), "map");
    type_mismatch(Map::<i32, u32>::open(&seg, "map"), "map");
    type_mismatch(Set::<i32>::open(&seg, "set"), "set");
    type_mismatch(Signal::<f32>::open(&seg, "sig"), "sig");
    type_mismatch(Lazy::<i32>::open(&seg, "lzy"), "lzy");
    type_mismatch(Channel::<f32>::open(&seg, "chb"), "chb");
    type_mismatch(Channel::<f32>::open(&seg, "chu"), "chu");
    type_mismatch(Stream::<f32>::open(&seg, "str"), "str");

    // Another kind whose bytes fit (most kinds' headers tell them apart; these do not).
    kind_mismatch(
        Semaphore::open(&seg, "mon_mtx"),
        "mon_mtx",
        CatalogKind::Mutex,
        CatalogKind::Semaphore,
    );
    kind_mismatch(
        Latch::open(&seg, "bar"),
        "bar",
        CatalogKind::Barrier,
        CatalogKind::Latch,
    );
}

#[test]
fn an_unchecked_handle_opens_all_of_them() {
    let (_shm, seg) = segment("unchecked");
    Mutex::create(&seg, "lock").unwrap();
    Future::<u64>::create(&seg, "fut").unwrap();
    Future::<u32>::create(&seg, "fut32").unwrap();
    Queue::<demo::Reading>::create(&seg, "readings", 8).unwrap();
    Barrier::create(&seg, "bar", 2).unwrap();
    let raw = seg.unchecked();
    assert!(Semaphore::open(&raw, "lock").is_ok());
    // The two futures have the same entry size: unchecked, the u64 is read as a u32.
    assert!(Future::<u32>::open(&raw, "fut").is_ok());
    assert!(Future::<f32>::open(&raw, "fut32").is_ok());
    assert!(Queue::<Sample>::open(&raw, "readings").is_ok());
    assert!(Latch::open(&raw, "bar").is_ok());
    // The original handle still checks.
    assert!(Semaphore::open(&seg, "lock").is_err());
}

#[test]
fn a_segment_without_a_catalog_opens_as_before() {
    let shm = ShmName::new("no_catalog");
    let seg = SegmentOptions::new()
        .size(1 << 20)
        .catalog(false)
        .create_new(shm.as_str())
        .unwrap();
    Mutex::create(&seg, "lock").unwrap();
    Future::<u32>::create(&seg, "fut").unwrap();
    Queue::<demo::Reading>::create(&seg, "readings", 8).unwrap();
    assert!(Semaphore::open(&seg, "lock").is_ok());
    assert!(Future::<f32>::open(&seg, "fut").is_ok());
    assert!(Queue::<Sample>::open(&seg, "readings").is_ok());
}

#[test]
fn foreign_golden_images_open_as_before() {
    for file in ["cpp_all.bin", "c_all.bin", "python_all.bin"] {
        let shm = load_golden(file);
        let seg = Segment::open(shm.as_str()).unwrap();
        assert!(seg.catalog().unwrap().is_none(), "{file} has no catalog");
    }
    let shm = load_golden("cpp_all.bin");
    let seg = Segment::open(shm.as_str()).unwrap();
    // Without a catalog, nothing contradicts a raw reading.
    assert!(Semaphore::open(&seg, "mtx_free").is_ok());
    assert!(Mutex::open(&seg, "mtx_free").is_ok());
    assert!(Latch::open(&seg, "bar").is_ok());
    assert!(Array::<u32>::open(&seg, "arr_i32").is_ok());
    assert!(Array::<f32>::open(&seg, "arr_i32").is_ok());
}

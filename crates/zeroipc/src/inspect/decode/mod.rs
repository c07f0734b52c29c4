//! Decoding a structure's contents from a byte snapshot, for tools.
//!
//! [`decode`] copies an entry's bytes once ([`ReadOnlySegment::read_bytes`]) and reads
//! everything from that copy: the header fields, the fill level of a container and, when an
//! element type is given ([`TypeSpec`]), the logical contents **in the order the structure
//! would hand them out**, without changing anything (no pop, no lock):
//!
//! | kind      | contents                                                                 |
//! |-----------|--------------------------------------------------------------------------|
//! | Array     | the values by index                                                      |
//! | Queue     | head to tail (pop order); a slot whose `seq` shows no published element is marked |
//! | Stack     | top first (pop order); slots not READY are marked with their state       |
//! | Ring      | `read_pos` to `write_pos`                                                |
//! | Pool      | the allocated nodes' values (nodes not on the free list), and the free list |
//! | Map / Set | the OCCUPIED slots' pairs / members in slot order (INSERTING ones marked) |
//! | Signal    | the value                                                                |
//!
//! Sync primitives need no type: counts, waiters, and the pid of a zeroipc holder (a Mutex's
//! padding word, the 4 bytes after a Once) with whether that process is alive. Composites
//! (Event, RWLock, Monitor, Signal) are decoded whole from any of their entries.
//!
//! The segment may be changing while it is copied, and its bytes may be hostile: impossible
//! values are reported in [`Decoded::problems`] (`corrupt: top 99 >= capacity 8`), never a
//! panic, and every walk (a pool's free list) is bounded.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::{Composite, FieldValue, Flavor, Kind};
use crate::error::TableError;
use crate::layout::array::{ARRAY_HEADER_LEN, C_ARRAY_HEADER_LEN};
use crate::layout::channel::CHANNEL_HEADER_LEN;
use crate::layout::event::{EVENT_LEN, SEM_SUFFIX};
use crate::layout::map::{
    DELETED, EMPTY as MAP_EMPTY, INSERTING, MAP_HEADER_LEN, OCCUPIED, SlotLayout, python_stride,
    slot_layout, table_bytes,
};
use crate::layout::once::{DONE, ONCE_LEN, ONCE_PID_OFFSET};
use crate::layout::pool::{NULL_INDEX, POOL_HEADER_LEN, node_layout, pool_size, unpack_head};
use crate::layout::queue::{QUEUE_HEADER_LEN, queue_seq_offset, queue_size};
use crate::layout::ring::{RING_HEADER_LEN, ring_size};
use crate::layout::semaphore::{MUTEX_MAX, SEMAPHORE_LEN};
use crate::layout::set::set_slot_layout;
use crate::layout::stack::{
    EMPTY, READING, READY, STACK_HEADER_LEN, WRITING, stack_size, stack_state_offset,
};
use crate::layout::stream::STREAM_HEADER_LEN;
use crate::raw::hash::{hash_bytes, int_hash};
use crate::segment::{Catalog, CatalogError, Entry, ReadOnlySegment, Record};
use crate::sys::process::pid_alive;

/// At most this many bytes of an entry are copied; items past them are not decoded
/// ([`Decoded::truncated`]).
const SNAPSHOT_LIMIT: u64 = 64 << 20;

/// At most this many items are decoded ([`Decoded::truncated`] beyond).
const MAX_ITEMS: u64 = 1 << 20;

/// Maps with more slots than this are not probed to tell the C++ and Python layouts apart.
const PROBE_LIMIT: u64 = 1 << 16;

/// Where `field` of the layout struct `T` starts, as a snapshot offset: the decoders read
/// header fields through the library's own layout types (`crate::layout`), not literals.
macro_rules! at {
    ($t:ty, $field:ident) => {
        core::mem::offset_of!($t, $field) as u64
    };
}

use crate::layout::array::ArrayHeader;
use crate::layout::barrier::BarrierHeader;
use crate::layout::channel::ChannelHeader;
use crate::layout::event::EventHeader;
use crate::layout::future::FutureHeader;
use crate::layout::latch::LatchHeader;
use crate::layout::map::MapHeader;
use crate::layout::pool::PoolHeader;
use crate::layout::queue::QueueHeader;
use crate::layout::ring::RingHeader;
use crate::layout::semaphore::SemaphoreHeader;
use crate::layout::set::SetHeader;
use crate::layout::stack::StackHeader;
use crate::layout::stream::StreamHeader;

mod model;
mod snapshot;
mod structures;
mod sync;
mod types;

pub use model::{Contents, Decoded, Fill, Item, SlotState, Value};
use snapshot::*;
pub use types::{Elem, ElemType, ParseTypeError, TypeSpec};

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// The entry to show for `name`: the entry itself, or for a composite named by its base
/// name whose marker is missing, its `_state` or `_header` part.
///
/// # Errors
///
/// The [`TableError`] of looking `name` up, when no part exists either.
///
/// # Examples
///
/// ```
/// # use zeroipc::{Segment, SegmentOptions, sync::RwLock};
/// use zeroipc::inspect::find_structure;
/// # let name = format!("/zeroipc-doc-find-structure-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// RwLock::create(&seg, "rw")?;
/// assert_eq!(find_structure(&seg, "rw")?.name(), "rw");
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_structure(seg: &ReadOnlySegment, name: &str) -> Result<Entry, TableError> {
    match seg.find(name) {
        Ok(e) => Ok(e),
        Err(err) => ["_state", "_header"]
            .iter()
            .find_map(|suffix| seg.find(&format!("{name}{suffix}")).ok())
            .ok_or(err),
    }
}

/// Decodes `entry`, classified as `kind` (from [`classify`](super::classify), or
/// [`read_as`]), from one snapshot of its bytes; with `spec`, also its logical contents.
/// Never changes the segment (no pop, no lock).
///
/// | kind      | contents with a type                                                   |
/// |-----------|------------------------------------------------------------------------|
/// | Array     | the values by index                                                    |
/// | Queue     | head to tail (pop order); a slot whose `seq` shows no published element is [`SlotState::Unpublished`] |
/// | Stack     | top first (pop order); slots not READY carry their state               |
/// | Ring      | `read_pos` to `write_pos`                                              |
/// | Pool      | the allocated nodes (not on the free list, which is always walked, bounded) |
/// | Map / Set | OCCUPIED slots' pairs / members in slot order (INSERTING ones marked)  |
/// | Signal    | the value                                                              |
/// | Future    | the value when READY; without a type too: the `error` text when ERROR  |
/// | Lazy      | the cached value when computed and (C++) the operands; `compute_count` and the `error` text need no type |
/// | Stream    | from `x_header` (or `x`): the `transform` text, and its `x_buffer` ring's fill and values |
/// | Channel   | from `x_header` (or `x`): buffered, its `x_buffer` queue's fill and values; unbuffered, `slot_ready` / `slot_consumed` |
///
/// Sync primitives need no type: counts and waiters, and the pid of a zeroipc holder (a
/// Mutex's padding word, the 4 bytes after a Once) with whether that process is alive.
/// Composites (Event, RWLock, Monitor, Signal) are decoded whole from any of their entries,
/// their parts' fields prefixed (`wmtx_holder_pid`, `sem_count`). An ambiguous entry has
/// each candidate decoded in [`Decoded::candidates`].
///
/// `kind` gives the structure's geometry (capacity, element size, layout); every other field
/// is read again from the snapshot, so a structure that changed since it was classified is
/// shown as it is now, and impossible values are reported in [`Decoded::problems`].
#[must_use]
pub fn decode(
    seg: &ReadOnlySegment,
    entry: &Entry,
    kind: &Kind,
    spec: Option<TypeSpec>,
) -> Decoded {
    decode_in(seg, &seg.catalog(), entry, kind, spec)
}

/// [`decode`] with the segment's catalog already read (an [`Inspection`](crate::inspect::Inspection)
/// reads it once for every entry).
pub(crate) fn decode_in(
    seg: &ReadOnlySegment,
    catalog: &Result<Option<Catalog>, CatalogError>,
    entry: &Entry,
    kind: &Kind,
    spec: Option<TypeSpec>,
) -> Decoded {
    if let Kind::Catalog { .. } = kind {
        let mut d = Decoded::new(kind.clone());
        match catalog {
            Ok(Some(c)) => {
                d.records.clone_from(&c.records);
                d.problems.clone_from(&c.problems);
            }
            Ok(None) => d.problem("no catalog entry".to_owned()),
            Err(e) => d.problem(format!("corrupt: {e}")),
        }
        no_values(&mut d, spec.as_ref());
        return d;
    }
    let mut catalog_problems = Vec::new();
    let record = match catalog {
        // Skipped records (`c.problems`) are shown with the catalog entry itself.
        Ok(Some(c)) => c.describing(entry).or_else(|| c.containing(entry)).cloned(),
        Ok(None) => None,
        Err(e) => {
            catalog_problems.push(format!("catalog ignored: {e}"));
            None
        }
    };
    let given = spec.is_some();
    let spec = spec.or_else(|| {
        // Only where the structure holds values of that type (not a composite's lock or an
        // unbuffered channel's slot, whose record is the composite's).
        if !takes_values(kind) {
            return None;
        }
        let r = record.as_ref()?;
        if r.layout.is_empty() {
            return None;
        }
        match r.layout.parse::<TypeSpec>() {
            Ok(s) => Some(s),
            Err(e) => {
                catalog_problems.push(format!(
                    "the catalog's layout '{}' does not parse ({e}); ignored",
                    r.layout
                ));
                None
            }
        }
    });
    let snap = Snap::new(seg, entry);
    let ctx = Ctx {
        seg,
        entry,
        spec: spec.clone(),
    };
    let mut d = ctx.decode(&snap, kind);
    if !given && spec.is_some() && (d.type_error.is_some() || all_candidates_failed(&d)) {
        // The catalog's word does not fit the bytes: the bytes win.
        let why = d
            .type_error
            .take()
            .or_else(|| d.candidates.iter().find_map(|c| c.type_error.clone()))
            .unwrap_or_default();
        d = Ctx {
            seg,
            entry,
            spec: None,
        }
        .decode(&snap, kind);
        d.problem(format!(
            "the catalog's type {} does not fit the bytes ({why}); contents not decoded",
            spec.as_ref().map(ToString::to_string).unwrap_or_default()
        ));
    } else if d.type_error.is_none() && !all_candidates_failed(&d) {
        // A map read with the older `K,V` reports the pair it was read as.
        d.spec = match (&d.kind, spec) {
            (
                &Kind::Map {
                    key_size,
                    value_size,
                    ..
                },
                Some(s),
            ) => s.as_pair(key_size.into(), value_size.into()).or(Some(s)),
            (_, s) => s,
        };
    }
    if let Some(r) = &record {
        if let Some(why) = crate::inspect::catalog_mismatch(&d.kind, r) {
            d.problem(why);
        }
    }
    d.problems.extend(catalog_problems);
    d.record = record;
    d
}

/// The element type the segment's catalog records for the structure at `entry` (or the
/// composite it is part of), if the segment has a valid catalog, a record for it, and a
/// layout in that record that parses. The catalog's word only: [`decode`] checks it against
/// the structure's header.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Map};
/// use zeroipc::inspect::catalog_type;
/// # let name = format!("/zeroipc-doc-catalog-type-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// Map::<u32, f64>::create(&seg, "prices", 8)?;
/// let e = seg.find("prices")?;
/// assert_eq!(catalog_type(&seg, &e), Some("u32=f64".parse()?));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn catalog_type(seg: &ReadOnlySegment, entry: &Entry) -> Option<TypeSpec> {
    catalog_type_in(seg.catalog().ok()?.as_ref()?, entry)
}

/// [`catalog_type`] from a catalog already read.
pub(crate) fn catalog_type_in(c: &Catalog, entry: &Entry) -> Option<TypeSpec> {
    let r = c.describing(entry).or_else(|| c.containing(entry))?;
    r.layout.parse().ok()
}

/// Whether a structure of `kind` has contents a type is read for.
pub(super) fn takes_values(kind: &Kind) -> bool {
    match kind {
        Kind::Ambiguous(ks) => ks.iter().any(takes_values),
        Kind::Marker { of } => *of == Composite::Signal,
        Kind::ChannelHeader { capacity, .. } => *capacity > 0,
        Kind::Array { .. }
        | Kind::CArray { .. }
        | Kind::Queue { .. }
        | Kind::Stack { .. }
        | Kind::Ring { .. }
        | Kind::Pool { .. }
        | Kind::Map { .. }
        | Kind::Set { .. }
        | Kind::Future { .. }
        | Kind::Lazy { .. }
        | Kind::StreamHeader { .. }
        | Kind::SignalState { .. } => true,
        _ => false,
    }
}

/// Whether `d` is ambiguous and no candidate takes the type.
pub(super) fn all_candidates_failed(d: &Decoded) -> bool {
    !d.candidates.is_empty() && d.candidates.iter().all(|c| c.type_error.is_some())
}

/// A kind [`read_as`] reads an entry as (the CLI's `show --kind`): every structure,
/// primitive and codata type zeroipc has. Parsed from and shown as its name
/// ([`KIND_NAMES`]).
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::KindName;
/// let k: KindName = "future".parse()?;
/// assert_eq!((k, k.to_string()), (KindName::Future, "future".to_owned()));
/// assert!("no_such_kind".parse::<KindName>().unwrap_err().to_string().contains("unknown kind"));
/// # Ok::<(), zeroipc::inspect::KindError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the names say it
pub enum KindName {
    Array,
    CArray,
    Queue,
    Stack,
    Ring,
    Pool,
    Map,
    Set,
    Semaphore,
    Mutex,
    Barrier,
    Latch,
    Once,
    Event,
    RwLock,
    Monitor,
    Signal,
    Future,
    Lazy,
    Stream,
    Channel,
}

impl KindName {
    /// Every kind, in the order of [`KIND_NAMES`].
    pub const ALL: [Self; 21] = [
        Self::Array,
        Self::CArray,
        Self::Queue,
        Self::Stack,
        Self::Ring,
        Self::Pool,
        Self::Map,
        Self::Set,
        Self::Semaphore,
        Self::Mutex,
        Self::Barrier,
        Self::Latch,
        Self::Once,
        Self::Event,
        Self::RwLock,
        Self::Monitor,
        Self::Signal,
        Self::Future,
        Self::Lazy,
        Self::Stream,
        Self::Channel,
    ];

    /// The kind's name (`"c_array"`, `"rwlock"`, ...).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Array => "array",
            Self::CArray => "c_array",
            Self::Queue => "queue",
            Self::Stack => "stack",
            Self::Ring => "ring",
            Self::Pool => "pool",
            Self::Map => "map",
            Self::Set => "set",
            Self::Semaphore => "semaphore",
            Self::Mutex => "mutex",
            Self::Barrier => "barrier",
            Self::Latch => "latch",
            Self::Once => "once",
            Self::Event => "event",
            Self::RwLock => "rwlock",
            Self::Monitor => "monitor",
            Self::Signal => "signal",
            Self::Future => "future",
            Self::Lazy => "lazy",
            Self::Stream => "stream",
            Self::Channel => "channel",
        }
    }
}

impl fmt::Display for KindName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KindName {
    type Err = KindError;

    fn from_str(s: &str) -> Result<Self, KindError> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                KindError(format!(
                    "unknown kind '{s}' (expected one of {})",
                    KIND_NAMES.join(", ")
                ))
            })
    }
}

/// The names of every [`KindName`], in order (for argument parsers).
pub const KIND_NAMES: [&str; 21] = {
    let mut names = [""; 21];
    let mut i = 0;
    while i < names.len() {
        names[i] = KindName::ALL[i].name();
        i += 1;
    }
    names
};

/// Why [`read_as`] cannot read an entry as the kind asked for.
///
/// # Examples
///
/// ```
/// let e = zeroipc::inspect::KindError::from("no".to_owned());
/// assert_eq!(e.to_string(), "no");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindError(String);

impl From<String> for KindError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for KindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KindError {}

/// `entry` read as `kind` from its raw header,
/// **without** the consistency checks of [`classify`](super::classify): for an entry that is
/// ambiguous, or whose header holds impossible values that [`decode`] then reports.
///
/// Only the geometry must fit: the entry size must be what the size formula of FORMAT.md
/// Appendix A gives for the stored capacity and element size. For `future` and `lazy` the
/// entry size bounds the value size (C++ and Python layouts); `stream` and `channel` read a
/// C++ `x_header` entry (56 and 32 bytes).
///
/// # Errors
///
/// An entry whose size does not fit that kind's geometry.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, sync::Semaphore};
/// use zeroipc::inspect::{Kind, KindName, read_as};
/// # let name = format!("/zeroipc-doc-read-as-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// Semaphore::create(&seg, "slots", 3, 5)?;
/// let e = seg.find("slots")?;
/// assert_eq!(read_as(&seg, &e, KindName::Semaphore)?, Kind::Semaphore { count: 3, waiting: 0, max_count: 5 });
/// assert!(read_as(&seg, &e, KindName::Queue).is_err());
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_as(seg: &ReadOnlySegment, entry: &Entry, kind: KindName) -> Result<Kind, KindError> {
    let name = kind.name();
    let snap = Snap::new(seg, entry);
    let size = entry.size();
    let w = |at: u64| snap.u32(at).unwrap_or(0);
    let sw = |at: u64| snap.i32(at).unwrap_or(0);
    let misfit = |what: String| -> KindError {
        KindError(format!(
            "entry '{}' ({size} bytes) is not a {name}: {what}",
            entry.name()
        ))
    };
    let sized = |n: u64| {
        if size == n {
            Ok(())
        } else {
            Err(misfit(format!("a {name} is {n} bytes")))
        }
    };
    let fits = |expected: Option<u64>, geometry: String| {
        if expected == Some(size) {
            Ok(())
        } else {
            Err(misfit(format!(
                "its header says {geometry}, which needs {} bytes",
                expected.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string())
            )))
        }
    };
    let kind = match kind {
        KindName::Array | KindName::CArray => {
            let capacity = snap.u64(at!(ArrayHeader, capacity)).unwrap_or(0);
            let header = if kind == KindName::Array {
                ARRAY_HEADER_LEN
            } else {
                C_ARRAY_HEADER_LEN
            };
            let data = size.saturating_sub(header);
            let elem_size = if kind == KindName::Array {
                data.checked_div(capacity).unwrap_or(0)
            } else {
                snap.u64(8).unwrap_or(0)
            };
            let needed = capacity
                .checked_mul(elem_size)
                .and_then(|d| d.checked_add(header));
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            if kind == KindName::Array {
                Kind::Array {
                    capacity,
                    elem_size,
                }
            } else {
                Kind::CArray {
                    capacity,
                    elem_size,
                }
            }
        }
        KindName::Queue => {
            let (capacity, elem_size) = (w(8), w(12));
            let needed = queue_size(capacity.into(), elem_size.into());
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            Kind::Queue {
                capacity,
                elem_size,
                head: w(0),
                tail: w(4),
            }
        }
        KindName::Stack => {
            let (capacity, elem_size) = (w(4), w(8));
            let needed = stack_size(capacity.into(), elem_size.into());
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            Kind::Stack {
                capacity,
                elem_size,
                top: sw(0),
            }
        }
        KindName::Ring => {
            let (capacity, elem_size) = (w(16), w(20));
            fits(
                Some(ring_size(capacity)).filter(|_| elem_size > 0),
                format!("{capacity} bytes of {elem_size}-byte elements"),
            )?;
            Kind::Ring {
                capacity,
                elem_size,
                write_pos: snap.u64(at!(RingHeader, write_pos)).unwrap_or(0),
                read_pos: snap.u64(at!(RingHeader, read_pos)).unwrap_or(0),
            }
        }
        KindName::Pool => {
            let (capacity, elem_size) = (w(16), w(20));
            let node_size = [1u64, 2, 4, 8].into_iter().find_map(|a| {
                let (_, node) = node_layout(elem_size.into(), a)?;
                (pool_size(capacity.into(), node) == Some(size)).then_some(node)
            });
            let Some(node_size) = node_size.filter(|_| capacity > 0) else {
                return Err(misfit(format!(
                    "its header says capacity {capacity} x {elem_size} bytes, and no node size fits"
                )));
            };
            Kind::Pool {
                capacity,
                elem_size,
                allocated: w(8),
                node_size,
                free_head: snap.u64(at!(PoolHeader, free_head)).unwrap_or(0),
            }
        }
        KindName::Map | KindName::Set => {
            let (len, capacity, ks, vs) = (w(0), w(4), w(8), w(12));
            let entry_size = size
                .checked_sub(MAP_HEADER_LEN)
                .and_then(|d| d.checked_div(capacity.into()))
                .filter(|&e| {
                    capacity > 0
                        && e >= 4 + u64::from(ks)
                        && table_bytes(capacity.into(), e) == Some(size)
                });
            let Some(entry_size) = entry_size else {
                return Err(misfit(format!(
                    "its header says capacity {capacity}, which does not divide the slots"
                )));
            };
            let python = python_stride(ks.into(), vs.into()) == Some(entry_size);
            let flavor = if python { Flavor::Python } else { Flavor::Cpp };
            if name == "map" {
                Kind::Map {
                    flavor,
                    capacity,
                    key_size: ks,
                    value_size: vs,
                    len,
                    entry_size,
                }
            } else {
                Kind::Set {
                    flavor: if vs == 0 { Flavor::Cpp } else { flavor },
                    capacity,
                    elem_size: ks,
                    len,
                    entry_size,
                }
            }
        }
        KindName::Semaphore | KindName::Mutex | KindName::Barrier | KindName::Latch => {
            sized(SEMAPHORE_LEN)?;
            match kind {
                KindName::Semaphore => Kind::Semaphore {
                    count: sw(at!(SemaphoreHeader, count)),
                    waiting: sw(at!(SemaphoreHeader, waiting)),
                    max_count: sw(at!(SemaphoreHeader, max_count)),
                },
                KindName::Mutex => Kind::Mutex {
                    count: sw(at!(SemaphoreHeader, count)),
                    waiting: sw(at!(SemaphoreHeader, waiting)),
                },
                KindName::Barrier => Kind::Barrier {
                    arrived: sw(at!(BarrierHeader, arrived)),
                    generation: sw(at!(BarrierHeader, generation)),
                    participants: sw(at!(BarrierHeader, num_participants)),
                },
                _ => Kind::Latch {
                    count: sw(at!(LatchHeader, count)),
                    initial_count: sw(at!(LatchHeader, initial_count)),
                },
            }
        }
        KindName::Once => {
            sized(ONCE_LEN)?;
            Kind::Once { state: w(0) }
        }
        KindName::Event => {
            sized(EVENT_LEN)?;
            Kind::Event {
                signaled: w(at!(EventHeader, signaled)),
                mode: w(at!(EventHeader, mode)),
                waiting: w(at!(EventHeader, waiting)),
            }
        }
        KindName::Future => {
            // C++: sizeof(Header) = align8(16 + sizeof(T) + 256); Python: 16 + es + 256.
            if size <= 272 {
                return Err(misfit("a future is more than 272 bytes".to_owned()));
            }
            Kind::Future {
                state: w(0),
                waiters: w(4),
                completion_time: snap.u64(at!(FutureHeader, completion_time)).unwrap_or(0),
                value_size_min: size.saturating_sub(279).max(1),
                value_size_max: size - 272,
            }
        }
        KindName::Lazy => {
            // C++: 280 bytes (T of 1-4 bytes, op at 4) or 304 (8-byte T, op at 8);
            // Python: 260 + sizeof(T), no op stored.
            if size <= 260 {
                return Err(misfit("a lazy is more than 260 bytes".to_owned()));
            }
            let (flavor, op, value_size_max) = match size {
                280 => (Flavor::CppOrPython, Some(w(4)), 20),
                304 => (Flavor::CppOrPython, Some(w(8)), 44),
                _ => (Flavor::Python, None, size - 260),
            };
            Kind::Lazy {
                flavor,
                state: w(0),
                op,
                value_size_max,
            }
        }
        KindName::Stream => {
            sized(STREAM_HEADER_LEN)?;
            Kind::StreamHeader {
                sequence: snap.u64(at!(StreamHeader, sequence)).unwrap_or(0),
                subscribers: w(8),
                closed: snap.get(at!(StreamHeader, closed), 1).map_or(0, |b| b[0]),
                buffer_capacity: w(16),
            }
        }
        KindName::Channel => {
            sized(CHANNEL_HEADER_LEN)?;
            Kind::ChannelHeader {
                capacity: w(at!(ChannelHeader, capacity)),
                senders: w(at!(ChannelHeader, senders)),
                receivers: w(at!(ChannelHeader, receivers)),
                closed: snap.get(at!(ChannelHeader, closed), 1).map_or(0, |b| b[0]),
            }
        }
        KindName::RwLock => Kind::Marker {
            of: Composite::RwLock,
        },
        KindName::Monitor => Kind::Marker {
            of: Composite::Monitor,
        },
        KindName::Signal => Kind::Marker {
            of: Composite::Signal,
        },
    };
    Ok(kind)
}

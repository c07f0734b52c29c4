//! Inspection: format knowledge for tools that look at segments without owning them.
//!
//! Everything here works on read-only mappings ([`Segment::open_read_only`]) and only uses
//! the public segment API, so it can never modify a segment, and a corrupt or hostile segment
//! is answered with a value (a [`Status`], a [`Kind::Unknown`]), never a panic.
//!
//! * [`list_segments`] lists every object in `/dev/shm` and says which are ZeroIPC segments.
//! * [`segment_users`], [`stale_segments`] and [`remove_if_stale`] find the processes that use
//!   a segment through `/proc`, and remove segments nobody uses (see their limits there).
//! * [`classify`] (and [`classify_all`]) say what kind of structure a table entry holds,
//!   **where its bytes prove it**: the table stores no type tags (FORMAT.md §4), so the kind is
//!   deduced from the exact size formulas of FORMAT.md Appendix A, the header fields they
//!   imply, the internal consistency of the structure (a queue's `seq` array, a stack's slot
//!   states, a pool's free list, a map's slot states), and the sub-entry names of composite
//!   structures (Appendix B) confirmed by their siblings.
//!
//! # How a kind is decided
//!
//! 1. **Composites by name**: an entry whose name and siblings form a composite structure
//!    (`x_header` + `x_buffer` of a Stream, `x_state` + `x_rmtx` + `x_wmtx` + `x` of an
//!    RWLock, `x` + `x_sem` of an Event, ...) and whose bytes fit that part.
//! 2. **Self-describing headers**: Queue, Stack, Ring, Pool, Map, Set and Once. Their headers
//!    store capacity and element size, and the entry size must equal the formula exactly.
//! 3. **Weak fits**, only when nothing above matched: Array (`8 + cap*es`), the C Array
//!    (`16 + cap*es`), Future, Lazy, and the 16-byte sync primitives (Semaphore, Mutex,
//!    Barrier, Latch), whose bytes are often indistinguishable from each other.
//!
//! Within a step, one fit gives that kind; several give [`Kind::Ambiguous`] listing them all;
//! none moves on to the next step. Nothing fitting gives [`Kind::Unknown`].
//!
//! **Segments created by zeroipc** carry a type catalog (`__zeroipc_catalog`, shown as
//! [`Kind::Catalog`]; docs/CATALOG.md) recording each structure's kind and element type. For
//! an entry the catalog describes, the recorded kind is read with [`read_as`] and kept when
//! the entry's geometry fits it and its header's element size is the recorded one; for the
//! kinds `read_as` does not cover, the catalog only picks among the candidates of an
//! ambiguous entry. Otherwise the bytes win: the steps above decide, and [`decode`] reports
//! the contradiction in [`Decoded::problems`]. [`decode`] without a type reads the contents
//! with the layout the catalog records ([`catalog_type`]). The catalog is never trusted: a
//! corrupt one is ignored ([`ReadOnlySegment::catalog`] says why).
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Array};
//! use zeroipc::inspect::{classify, Kind};
//! # let name = format!("/zeroipc-doc-inspect-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! Array::<u32>::create(&seg, "ids", 7)?;
//!
//! let ro = Segment::open_read_only(&name)?;
//! let entry = ro.find("ids")?;
//! assert_eq!(classify(&ro, &entry), Kind::Array { capacity: 7, elem_size: 4 });
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;
use std::io;

use crate::error::{Corruption, OpenError};
use crate::segment::{CATALOG_ENTRY_NAME, Catalog, CatalogKind, Entry, ReadOnlySegment, Segment};

mod decode;
mod describe;
pub use decode::{
    Contents, Decoded, Elem, ElemType, Fill, Item, KIND_NAMES, KindError, ParseTypeError,
    SlotState, TypeSpec, Value, catalog_type, decode, find_structure, read_as,
};
pub use describe::DescribeError;
mod registries;
pub use registries::{
    PermitHolding, permit_holdings, process_exists, read_permit_registry, read_waiter_registry,
    sleeper_counts,
};
pub mod users;
pub use users::{
    Removal, SegmentUsers, UnknownProcesses, Usage, remove_if_stale, segment_users, stale_segments,
};

/// Where POSIX shared-memory objects live on Linux.
///
/// # Examples
///
/// ```
/// assert!(std::path::Path::new(zeroipc::inspect::SHM_DIR).is_dir());
/// ```
pub const SHM_DIR: &str = "/dev/shm";

/// At most this many slots of a per-slot array (queue `seq`, stack states, map slots, pool
/// free list) are checked, so classifying a huge structure stays cheap.
const SCAN_LIMIT: u64 = 1 << 16;

/// At most this many bytes of map or set slots are read.
const SCAN_BYTES: u64 = 1 << 20;

/// How many of `capacity` slots of `stride` bytes to scan.
fn scan_count(capacity: u32, stride: u64) -> u64 {
    u64::from(capacity)
        .min(SCAN_LIMIT)
        .min((SCAN_BYTES / stride.max(1)).max(1))
}

// ---------------------------------------------------------------------------------------
// Listing /dev/shm
// ---------------------------------------------------------------------------------------

/// One object in `/dev/shm`, as [`list_segments`] reports it.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::{list_segments, Status};
/// for l in list_segments()? {
///     if let Status::Segment(s) = l.status {
///         println!("{}: {} entries, {} of {} bytes used", l.name, s.entry_count, s.next_offset, l.size);
///     }
/// }
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The shm name, with its leading `/` (non-UTF-8 bytes replaced).
    pub name: String,
    /// The object's size in bytes.
    pub size: u64,
    /// What it is.
    pub status: Status,
}

/// What an object in `/dev/shm` is.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::{NotZeroIpc, Status};
/// let s = Status::NotZeroIpc(NotZeroIpc::BadMagic { found: 0xdeadbeef });
/// assert_eq!(s.to_string(), "not a zeroipc segment: bad magic 0xdeadbeef");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Status {
    /// A valid ZeroIPC segment.
    Segment(Summary),
    /// It has the ZeroIPC magic, but its table breaks the format.
    Corrupt {
        /// What is wrong (the [`Corruption`] text).
        reason: String,
    },
    /// A ZeroIPC segment in a format version this library does not read.
    UnsupportedVersion {
        /// The version found.
        found: u32,
    },
    /// Not a ZeroIPC segment (or not one yet).
    NotZeroIpc(NotZeroIpc),
    /// It could not be opened or mapped (permission denied, ...).
    Unreadable {
        /// The error text.
        reason: String,
    },
}

/// Why an object in `/dev/shm` is not (yet) a ZeroIPC segment.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::NotZeroIpc;
/// assert_eq!(NotZeroIpc::TooSmall.to_string(), "too small for a segment header");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotZeroIpc {
    /// Not a regular file (a directory, ...).
    NotAFile,
    /// Smaller than the 32-byte table header (0 bytes: not sized yet by its creator).
    TooSmall,
    /// The first word is 0: a creator that has not finished initialising, or any object
    /// that starts with zeroes.
    NotInitialized,
    /// The first word is not the ZeroIPC magic.
    BadMagic {
        /// The word found.
        found: u32,
    },
}

/// The table header of a valid segment, as [`list_segments`] reports it.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// use zeroipc::inspect::{list_segments, Status};
/// # let name = format!("/zeroipc-doc-summary-{}", std::process::id());
/// let _seg = SegmentOptions::new().size(64 * 1024).max_entries(8).create_new(&name)?;
/// let l = list_segments()?.into_iter().find(|l| l.name == name).unwrap();
/// let Status::Segment(s) = l.status else { panic!("{}", l.status) };
/// // After the table: the type catalog, 16 + 256 bytes for each of 7 records.
/// assert_eq!((s.max_entries, s.table_size, s.next_offset), (8, 416, 416 + 16 + 7 * 256));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Summary {
    /// Entries in use.
    pub entry_count: u32,
    /// Capacity of the entry table.
    pub max_entries: u32,
    /// The allocator's next free byte: the bytes in use, table included.
    pub next_offset: u64,
    /// `32 + 48 * max_entries`.
    pub table_size: u64,
    /// `memory_size` from the header (bounded by the object's size).
    pub memory_size: u64,
}

impl fmt::Display for NotZeroIpc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAFile => f.write_str("not a regular file"),
            Self::TooSmall => f.write_str("too small for a segment header"),
            Self::NotInitialized => f.write_str("not initialised (first word is 0)"),
            Self::BadMagic { found } => write!(f, "bad magic {found:#010x}"),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Segment(s) => write!(
                f,
                "zeroipc segment: {}/{} entries, {} of {} bytes used",
                s.entry_count, s.max_entries, s.next_offset, s.memory_size
            ),
            Self::Corrupt { reason } => write!(f, "corrupt zeroipc segment: {reason}"),
            Self::UnsupportedVersion { found } => {
                write!(f, "zeroipc segment of unsupported format version {found}")
            }
            Self::NotZeroIpc(why) => write!(f, "not a zeroipc segment: {why}"),
            Self::Unreadable { reason } => write!(f, "unreadable: {reason}"),
        }
    }
}

/// Every object in `/dev/shm`, sorted by name, each with its size and [`Status`].
///
/// Each object is mapped read-only and its table validated; nothing is ever written. Objects
/// of other programs are reported as [`Status::NotZeroIpc`] (or [`Status::Unreadable`] when
/// permissions forbid reading them), never misread.
///
/// # Errors
///
/// Only if `/dev/shm` itself cannot be read; problems with single objects are reported in
/// their [`Status`].
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// use zeroipc::inspect::{list_segments, Status};
/// # let name = format!("/zeroipc-doc-list-{}", std::process::id());
/// let _seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let mine = list_segments()?.into_iter().find(|l| l.name == name).unwrap();
/// assert_eq!(mine.size, 64 * 1024);
/// assert!(matches!(mine.status, Status::Segment(s) if s.entry_count == 1)); // the type catalog
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn list_segments() -> io::Result<Vec<Listing>> {
    let mut out = Vec::new();
    for dirent in std::fs::read_dir(SHM_DIR)? {
        let Ok(dirent) = dirent else { continue };
        let name = format!("/{}", dirent.file_name().to_string_lossy());
        let meta = match dirent.metadata() {
            Ok(m) => m,
            // Removed since the directory was read: it is gone, not unreadable.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                out.push(Listing {
                    name,
                    size: 0,
                    status: Status::Unreadable {
                        reason: e.to_string(),
                    },
                });
                continue;
            }
        };
        let size = meta.len();
        let status = if !meta.is_file() {
            Status::NotZeroIpc(NotZeroIpc::NotAFile)
        } else if dirent.file_name().to_str().is_none() {
            Status::Unreadable {
                reason: "the name is not UTF-8".to_owned(),
            }
        } else {
            match probe(&name, size) {
                Some(status) => status,
                None => continue, // removed meanwhile
            }
        };
        out.push(Listing { name, size, status });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Opens `name` read-only and says what it is; `None` if it no longer exists.
fn probe(name: &str, size: u64) -> Option<Status> {
    if size < 32 {
        return Some(Status::NotZeroIpc(NotZeroIpc::TooSmall));
    }
    Some(match Segment::open_read_only(name) {
        Ok(seg) => match seg.header() {
            Ok(h) => Status::Segment(Summary {
                entry_count: h.entry_count,
                max_entries: h.max_entries,
                next_offset: h.next_offset,
                table_size: h.table_size,
                memory_size: h.memory_size,
            }),
            Err(c) => Status::Corrupt {
                reason: c.to_string(),
            },
        },
        Err(OpenError::NotInitialized { .. }) => Status::NotZeroIpc(NotZeroIpc::NotInitialized),
        Err(OpenError::Corrupt(Corruption::BadMagic { found })) => {
            Status::NotZeroIpc(NotZeroIpc::BadMagic { found })
        }
        Err(OpenError::Corrupt(Corruption::TooSmall { .. })) => {
            Status::NotZeroIpc(NotZeroIpc::TooSmall)
        }
        Err(OpenError::Corrupt(c)) => Status::Corrupt {
            reason: c.to_string(),
        },
        Err(OpenError::Version { found, .. }) => Status::UnsupportedVersion { found },
        Err(OpenError::NotFound { .. }) => return None,
        Err(e) => Status::Unreadable {
            reason: e.to_string(),
        },
    })
}

// ---------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------

/// Which implementation's layout a structure is in, where C++ and Python differ
/// (FORMAT.md §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// The C++ layout (also Go's and the one this library writes).
    Cpp,
    /// The Python layout.
    Python,
    /// Both layouts give these exact bytes.
    CppOrPython,
}

impl Flavor {
    /// `"cpp"`, `"python"` or `"cpp|python"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(zeroipc::inspect::Flavor::CppOrPython.as_str(), "cpp|python");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpp => "cpp",
            Self::Python => "python",
            Self::CppOrPython => "cpp|python",
        }
    }
}

/// The composite structure a 1-byte marker entry belongs to (FORMAT.md Appendix B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Composite {
    /// `x_state`, `x_rmtx`, `x_wmtx`, `x`.
    RwLock,
    /// `x_mtx`, `x_cond`, `x_count`, `x`.
    Monitor,
    /// `x_state`, `x_mtx`, `x`.
    Signal,
}

impl Composite {
    /// `"rwlock"`, `"monitor"` or `"signal"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(zeroipc::inspect::Composite::Monitor.as_str(), "monitor");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RwLock => "rwlock",
            Self::Monitor => "monitor",
            Self::Signal => "signal",
        }
    }
}

/// What a table entry holds, as far as its bytes prove it, with the decoded header fields.
///
/// Element sizes are in bytes. A range `*_min..=*_max` is given where the format leaves a
/// size open (a Future's value size is only known up to the C++ padding). Field names are
/// those of FORMAT.md, so they are not documented one by one.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::Kind;
/// let k = Kind::Queue { capacity: 8, elem_size: 4, head: 5, tail: 12 };
/// assert_eq!(k.to_string(), "queue (head=5 tail=12 capacity=8 elem_size=4 len=7)");
/// let both = Kind::Ambiguous(vec![Kind::Latch { count: 1, initial_count: 2 }, k]);
/// assert_eq!(both.to_string(), "ambiguous (latch | queue)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are named as in FORMAT.md
pub enum Kind {
    /// Array, C++/Go/Python layout: `{u64 capacity}` then the elements (§5.1).
    Array { capacity: u64, elem_size: u64 },
    /// Array in the C implementation's layout: `{u64 capacity, u64 elem_size}` (IH-1).
    CArray { capacity: u64, elem_size: u64 },
    /// Bounded MPMC queue (§5.2). `len = tail - head`.
    Queue {
        capacity: u32,
        elem_size: u32,
        head: u32,
        tail: u32,
    },
    /// Bounded stack (§5.3). `top` is -1 when empty.
    Stack {
        capacity: u32,
        elem_size: u32,
        top: i32,
    },
    /// SPSC byte ring (§5.7); `capacity` is in bytes.
    Ring {
        capacity: u32,
        elem_size: u32,
        write_pos: u64,
        read_pos: u64,
    },
    /// Object pool (§5.6). `free_head` is `(generation << 32) | index`.
    Pool {
        capacity: u32,
        elem_size: u32,
        allocated: u32,
        node_size: u64,
        free_head: u64,
    },
    /// Hash map (§5.4); `len` is the stored `size` field.
    Map {
        flavor: Flavor,
        capacity: u32,
        key_size: u32,
        value_size: u32,
        len: u32,
        entry_size: u64,
    },
    /// Hash set (§5.5). A Python Set is a Python `Map<T, u8>`.
    Set {
        flavor: Flavor,
        capacity: u32,
        elem_size: u32,
        len: u32,
        entry_size: u64,
    },
    /// Future (§6.1): state 0 pending, 1 computing, 2 ready, 3 error.
    Future {
        state: u32,
        waiters: u32,
        completion_time: u64,
        value_size_min: u64,
        value_size_max: u64,
    },
    /// Lazy (§6.2): state 0 not computed, 1 computing, 2 computed, 3 error. `op` is the
    /// C++ operation code (None for the Python layout, which stores none).
    Lazy {
        flavor: Flavor,
        state: u32,
        op: Option<u32>,
        value_size_max: u64,
    },
    /// C++ `Lazy<bool>` (16 bytes).
    LazyBool { state: u32, op: u32, cached: u8 },
    /// C++ `Stream<void>` (16 bytes).
    StreamVoid { event_count: u64, closed: u8 },
    /// C++ Stream `x_header` (§6.3); its ring is `x_buffer`.
    StreamHeader {
        sequence: u64,
        subscribers: u32,
        closed: u8,
        buffer_capacity: u32,
    },
    /// C++ Channel `x_header` (§6.4); capacity 0 means unbuffered (`x_slot`), otherwise the
    /// queue `x_buffer`.
    ChannelHeader {
        capacity: u32,
        senders: u32,
        receivers: u32,
        closed: u8,
    },
    /// C++ unbuffered Channel `x_slot`.
    ChannelSlot { ready: u8, consumed: u8 },
    /// Python Channel `x_sync`; its queue is `x`.
    ChannelSync {
        sender_waiting: u32,
        receiver_waiting: u32,
        closed: u32,
        logical_capacity: u32,
    },
    /// Semaphore (§7.1); `max_count` 0 means unbounded.
    Semaphore {
        count: i32,
        waiting: i32,
        max_count: i32,
    },
    /// Mutex (§7.2): a Semaphore with `max_count` 1 (a binary semaphore has the same bytes);
    /// locked when `count` is 0.
    Mutex { count: i32, waiting: i32 },
    /// Barrier (§7.3).
    Barrier {
        arrived: i32,
        generation: i32,
        participants: i32,
    },
    /// Latch (§7.4).
    Latch { count: i32, initial_count: i32 },
    /// Once (§7.5): 0 pending, 1 executing, 2 done.
    Once { state: u32 },
    /// Event `x` (§7.6); its semaphore is `x_sem`. Mode 0 auto-reset, 1 manual-reset.
    Event {
        signaled: u32,
        mode: u32,
        waiting: u32,
    },
    /// RWLock `x_state` (§7.7).
    RwLockState { readers: i32, writer_active: i32 },
    /// Monitor `x_count` (§7.8).
    MonitorCount { waiting: u32 },
    /// Signal `x_state` (§7.9).
    SignalState {
        version: u64,
        value_size_min: u64,
        value_size_max: u64,
    },
    /// The 1-byte marker entry `x` of a composite.
    Marker { of: Composite },
    /// zeroipc's waiter registry (`__zeroipc_waiters`): two sleeper counters per table slot,
    /// so wakers skip `FUTEX_WAKE` when nobody sleeps. Other implementations ignore it.
    WaiterRegistry {
        /// Table slots covered (the segment's `max_entries`).
        slots: u32,
        /// Processes registered as sleeping, summed over all counters.
        sleepers: u64,
    },
    /// zeroipc's permit-holder registry (`__zeroipc_permits`, docs/EXTENSIONS.md): 64 slots
    /// recording how many permits of which Semaphore each zeroipc process holds, so that
    /// blocked acquirers can give back a dead holder's. Other implementations ignore it.
    PermitRegistry {
        /// Slots in use (a non-zero pid).
        used: u32,
        /// Permits recorded as held, summed over the slots in use.
        held: u64,
    },
    /// zeroipc's type catalog (`__zeroipc_catalog`, docs/CATALOG.md): what zeroipc recorded
    /// about each structure it created. Other implementations ignore it.
    Catalog {
        /// Records it has room for.
        capacity: u32,
        /// Records published.
        count: u32,
    },
    /// Several kinds fit these bytes equally well.
    Ambiguous(Vec<Kind>),
    /// No kind fits (or the bytes could not be read).
    Unknown,
}

/// A decoded header field, for display.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::FieldValue;
/// assert_eq!(FieldValue::Signed(-1).to_string(), "-1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue {
    /// An unsigned number.
    Unsigned(u64),
    /// A signed number.
    Signed(i64),
    /// A word.
    Text(&'static str),
    /// Yes or no (`true` / `false`).
    Bool(bool),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned(v) => write!(f, "{v}"),
            Self::Signed(v) => write!(f, "{v}"),
            Self::Text(t) => f.write_str(t),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Kind {
    /// A short lower-case name: `"array"`, `"queue"`, `"stream_header"`, ...,
    /// `"ambiguous"`, `"unknown"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::Kind;
    /// assert_eq!(Kind::Once { state: 2 }.name(), "once");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Array { .. } => "array",
            Self::CArray { .. } => "c_array",
            Self::Queue { .. } => "queue",
            Self::Stack { .. } => "stack",
            Self::Ring { .. } => "ring",
            Self::Pool { .. } => "pool",
            Self::Map { .. } => "map",
            Self::Set { .. } => "set",
            Self::Future { .. } => "future",
            Self::Lazy { .. } => "lazy",
            Self::LazyBool { .. } => "lazy_bool",
            Self::StreamVoid { .. } => "stream_void",
            Self::StreamHeader { .. } => "stream_header",
            Self::ChannelHeader { .. } => "channel_header",
            Self::ChannelSlot { .. } => "channel_slot",
            Self::ChannelSync { .. } => "channel_sync",
            Self::Semaphore { .. } => "semaphore",
            Self::Mutex { .. } => "mutex",
            Self::Barrier { .. } => "barrier",
            Self::Latch { .. } => "latch",
            Self::Once { .. } => "once",
            Self::Event { .. } => "event",
            Self::RwLockState { .. } => "rwlock_state",
            Self::MonitorCount { .. } => "monitor_count",
            Self::SignalState { .. } => "signal_state",
            Self::Marker { .. } => "marker",
            Self::WaiterRegistry { .. } => "waiter_registry",
            Self::PermitRegistry { .. } => "permit_registry",
            Self::Catalog { .. } => "catalog",
            Self::Ambiguous(_) => "ambiguous",
            Self::Unknown => "unknown",
        }
    }

    /// The decoded header fields, in layout order (empty for `Ambiguous` and `Unknown`).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::{FieldValue, Kind};
    /// let k = Kind::Array { capacity: 3, elem_size: 8 };
    /// assert_eq!(k.fields()[0], ("capacity", FieldValue::Unsigned(3)));
    /// ```
    #[must_use]
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        use FieldValue::{Signed as S, Text as T, Unsigned as U};
        match *self {
            Self::Array {
                capacity,
                elem_size,
            }
            | Self::CArray {
                capacity,
                elem_size,
            } => {
                vec![("capacity", U(capacity)), ("elem_size", U(elem_size))]
            }
            Self::Queue {
                capacity,
                elem_size,
                head,
                tail,
            } => vec![
                ("head", U(head.into())),
                ("tail", U(tail.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("len", U(tail.wrapping_sub(head).into())),
            ],
            Self::Stack {
                capacity,
                elem_size,
                top,
            } => vec![
                ("top", S(top.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("len", U(u64::try_from(i64::from(top) + 1).unwrap_or(0))),
            ],
            Self::Ring {
                capacity,
                elem_size,
                write_pos,
                read_pos,
            } => vec![
                ("write_pos", U(write_pos)),
                ("read_pos", U(read_pos)),
                ("capacity_bytes", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                (
                    "len",
                    U(write_pos.wrapping_sub(read_pos) / u64::from(elem_size.max(1))),
                ),
            ],
            Self::Pool {
                capacity,
                elem_size,
                allocated,
                node_size,
                free_head,
            } => vec![
                ("free_head_index", U(free_head & 0xFFFF_FFFF)),
                ("free_head_generation", U(free_head >> 32)),
                ("allocated", U(allocated.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("node_size", U(node_size)),
            ],
            Self::Map {
                flavor,
                capacity,
                key_size,
                value_size,
                len,
                entry_size,
            } => vec![
                ("layout", T(flavor.as_str())),
                ("len", U(len.into())),
                ("capacity", U(capacity.into())),
                ("key_size", U(key_size.into())),
                ("value_size", U(value_size.into())),
                ("entry_size", U(entry_size)),
            ],
            Self::Set {
                flavor,
                capacity,
                elem_size,
                len,
                entry_size,
            } => vec![
                ("layout", T(flavor.as_str())),
                ("len", U(len.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("entry_size", U(entry_size)),
            ],
            Self::Future {
                state,
                waiters,
                completion_time,
                value_size_min,
                value_size_max,
            } => vec![
                (
                    "state",
                    T(match state {
                        0 => "pending",
                        1 => "computing",
                        2 => "ready",
                        _ => "error",
                    }),
                ),
                ("waiters", U(waiters.into())),
                ("completion_time", U(completion_time)),
                ("value_size_min", U(value_size_min)),
                ("value_size_max", U(value_size_max)),
            ],
            Self::Lazy {
                flavor,
                state,
                op,
                value_size_max,
            } => {
                let mut v = vec![
                    ("layout", T(flavor.as_str())),
                    (
                        "state",
                        T(match state {
                            0 => "not_computed",
                            1 => "computing",
                            2 => "computed",
                            _ => "error",
                        }),
                    ),
                ];
                if let Some(op) = op {
                    v.push((
                        "op",
                        T(match op {
                            0 => "constant",
                            1 => "add",
                            2 => "multiply",
                            3 => "negate",
                            4 => "chain",
                            _ => "external",
                        }),
                    ));
                }
                v.push(("value_size_max", U(value_size_max)));
                v
            }
            Self::LazyBool { state, op, cached } => {
                vec![
                    ("state", U(state.into())),
                    ("op", U(op.into())),
                    ("cached", U(cached.into())),
                ]
            }
            Self::StreamVoid {
                event_count,
                closed,
            } => {
                vec![
                    ("event_count", U(event_count)),
                    ("closed", U(closed.into())),
                ]
            }
            Self::StreamHeader {
                sequence,
                subscribers,
                closed,
                buffer_capacity,
            } => vec![
                ("sequence", U(sequence)),
                ("subscribers", U(subscribers.into())),
                ("closed", U(closed.into())),
                ("buffer_capacity", U(buffer_capacity.into())),
            ],
            Self::ChannelHeader {
                capacity,
                senders,
                receivers,
                closed,
            } => vec![
                ("capacity", U(capacity.into())),
                ("senders", U(senders.into())),
                ("receivers", U(receivers.into())),
                ("closed", U(closed.into())),
            ],
            Self::ChannelSlot { ready, consumed } => {
                vec![("ready", U(ready.into())), ("consumed", U(consumed.into()))]
            }
            Self::ChannelSync {
                sender_waiting,
                receiver_waiting,
                closed,
                logical_capacity,
            } => vec![
                ("sender_waiting", U(sender_waiting.into())),
                ("receiver_waiting", U(receiver_waiting.into())),
                ("closed", U(closed.into())),
                ("logical_capacity", U(logical_capacity.into())),
            ],
            Self::Semaphore {
                count,
                waiting,
                max_count,
            } => vec![
                ("count", S(count.into())),
                ("waiting", S(waiting.into())),
                ("max_count", S(max_count.into())),
            ],
            Self::Mutex { count, waiting } => vec![
                ("locked", T(if count == 0 { "yes" } else { "no" })),
                ("count", S(count.into())),
                ("waiting", S(waiting.into())),
            ],
            Self::Barrier {
                arrived,
                generation,
                participants,
            } => vec![
                ("arrived", S(arrived.into())),
                ("generation", S(generation.into())),
                ("num_participants", S(participants.into())),
            ],
            Self::Latch {
                count,
                initial_count,
            } => {
                vec![
                    ("count", S(count.into())),
                    ("initial_count", S(initial_count.into())),
                ]
            }
            Self::Once { state } => vec![(
                "state",
                T(match state {
                    0 => "pending",
                    1 => "executing",
                    _ => "done",
                }),
            )],
            Self::Event {
                signaled,
                mode,
                waiting,
            } => vec![
                ("signaled", U(signaled.into())),
                (
                    "mode",
                    T(if mode == 0 {
                        "auto_reset"
                    } else {
                        "manual_reset"
                    }),
                ),
                ("waiting", U(waiting.into())),
            ],
            Self::RwLockState {
                readers,
                writer_active,
            } => {
                vec![
                    ("readers", S(readers.into())),
                    ("writer_active", S(writer_active.into())),
                ]
            }
            Self::MonitorCount { waiting } => vec![("waiting", U(waiting.into()))],
            Self::SignalState {
                version,
                value_size_min,
                value_size_max,
            } => vec![
                ("version", U(version)),
                ("value_size_min", U(value_size_min)),
                ("value_size_max", U(value_size_max)),
            ],
            Self::Marker { of } => vec![("of", T(of.as_str()))],
            Self::WaiterRegistry { slots, sleepers } => {
                vec![("slots", U(slots.into())), ("sleepers", U(sleepers))]
            }
            Self::PermitRegistry { used, held } => {
                vec![("used", U(used.into())), ("held", U(held))]
            }
            Self::Catalog { capacity, count } => {
                vec![("capacity", U(capacity.into())), ("count", U(count.into()))]
            }
            Self::Ambiguous(_) | Self::Unknown => Vec::new(),
        }
    }
}

impl fmt::Display for Kind {
    /// `queue (head=0 tail=3 capacity=8 elem_size=4 len=3)`, `ambiguous (semaphore | barrier)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ambiguous(kinds) => {
                let mut names: Vec<&str> = kinds.iter().map(Kind::name).collect();
                names.dedup();
                write!(f, "ambiguous ({})", names.join(" | "))
            }
            Self::Unknown => f.write_str("unknown"),
            k => {
                f.write_str(k.name())?;
                let fields = k.fields();
                if !fields.is_empty() {
                    f.write_str(" (")?;
                    for (i, (name, value)) in fields.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" ")?;
                        }
                        write!(f, "{name}={value}")?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/// The kind of structure `entry` holds, where its bytes prove it (see the
/// [module documentation](self) for the rules); otherwise [`Kind::Ambiguous`] or
/// [`Kind::Unknown`].
///
/// Reads the table to find sibling entries; to classify every entry, [`classify_all`] reads
/// it once.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Array};
/// use zeroipc::inspect::{classify, Kind};
/// # let name = format!("/zeroipc-doc-classify-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a = Array::<f64>::create(&seg, "xs", 3)?;
/// assert_eq!(classify(&seg, a.entry()), Kind::Array { capacity: 3, elem_size: 8 });
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn classify(seg: &ReadOnlySegment, entry: &Entry) -> Kind {
    let siblings = seg.entries().unwrap_or_default();
    Classifier::new(seg, &siblings).classify(entry)
}

/// Every entry of the table with its [`Kind`], in table order.
///
/// # Errors
///
/// The [`Corruption`] of the first invalid table entry.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Array};
/// use zeroipc::inspect::classify_all;
/// # let name = format!("/zeroipc-doc-classify-all-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// Array::<u8>::create(&seg, "a", 5)?;
/// Array::<u16>::create(&seg, "b", 5)?;
/// let kinds: Vec<_> = classify_all(&seg)?.into_iter().map(|(_, k)| k.name()).collect();
/// assert_eq!(kinds, ["catalog", "array", "array"]);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn classify_all(seg: &ReadOnlySegment) -> Result<Vec<(Entry, Kind)>, Corruption> {
    let entries = seg.entries()?;
    let c = Classifier::new(seg, &entries);
    Ok(entries.iter().map(|e| (e.clone(), c.classify(e))).collect())
}

/// Little-endian readers over a byte prefix; `None` past its end.
fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}
fn align_up(n: u64, a: u64) -> Option<u64> {
    Some(n.checked_add(a - 1)? / a * a)
}
/// Alignments a `size`-byte element can have (a power of two dividing it, at most 8).
fn alignments(size: u64) -> impl Iterator<Item = u64> {
    [1u64, 2, 4, 8].into_iter().filter(move |a| size % a == 0)
}
fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// How many leading bytes of an entry are read to decode its header (every header fits).
const HEAD_LEN: u64 = 64;

struct Classifier<'a> {
    seg: &'a ReadOnlySegment,
    by_name: HashMap<&'a [u8], &'a Entry>,
    /// The segment's catalog, if it has a valid one (never trusted: see `catalog_kind`).
    catalog: Option<Catalog>,
    /// Its records by entry name.
    index: CatalogIndex,
}

impl<'a> Classifier<'a> {
    fn new(seg: &'a ReadOnlySegment, entries: &'a [Entry]) -> Self {
        let mut by_name = HashMap::new();
        for e in entries {
            // The first entry of a name wins, as in upstream look-ups.
            by_name.entry(e.name().as_bytes()).or_insert(e);
        }
        let catalog = seg.catalog().ok().flatten();
        let index = CatalogIndex::new(catalog.as_ref());
        Self {
            seg,
            by_name,
            catalog,
            index,
        }
    }

    fn sibling(&self, base: &[u8], suffix: &[u8]) -> Option<&'a Entry> {
        let mut name = base.to_vec();
        name.extend_from_slice(suffix);
        self.by_name.get(name.as_slice()).copied()
    }

    /// Bytes `[at, at + len)` of the entry, clipped to it; None if unreadable.
    fn bytes(&self, entry: &Entry, at: u64, len: u64) -> Option<Vec<u8>> {
        let len = len.min(entry.size().checked_sub(at)?);
        self.seg
            .read_bytes(entry.offset().checked_add(at)?, len)
            .ok()
    }

    /// zeroipc's waiter registry: known by its name and its exact size.
    fn waiter_registry(&self, entry: &Entry) -> Option<Kind> {
        if entry.name() != crate::segment::waiters::WAITERS_ENTRY {
            return None;
        }
        let slots = self.seg.max_entries();
        if entry.size() != 8 * u64::from(slots) {
            return None;
        }
        let bytes = self.seg.read_bytes(entry.offset(), entry.size()).ok()?;
        let sleepers = sleeper_counts(&bytes).into_iter().map(u64::from).sum();
        Some(Kind::WaiterRegistry { slots, sleepers })
    }

    /// zeroipc's permit-holder registry: known by its name and its exact size (1 KiB).
    fn permit_registry(&self, entry: &Entry) -> Option<Kind> {
        if entry.name() != crate::segment::permits::PERMITS_ENTRY
            || entry.size() != crate::segment::permits::PERMITS_LEN
        {
            return None;
        }
        let bytes = self.seg.read_bytes(entry.offset(), entry.size()).ok()?;
        let held = permit_holdings(&bytes)
            .iter()
            .map(|s| u64::from(s.held))
            .sum();
        Some(Kind::PermitRegistry {
            used: registries::permit_slots_in_use(&bytes),
            held,
        })
    }

    fn classify(&self, entry: &Entry) -> Kind {
        if let Some(k) = self.waiter_registry(entry) {
            return k;
        }
        if let Some(k) = self.permit_registry(entry) {
            return k;
        }
        if entry.name() == CATALOG_ENTRY_NAME {
            if let Some(c) = &self.catalog {
                return Kind::Catalog {
                    capacity: c.capacity,
                    count: c.count,
                };
            }
        }
        let by_bytes = self.classify_bytes(entry);
        catalog_kind(self.seg, entry, &self.index, by_bytes)
    }

    /// The kind the bytes prove, without the catalog.
    fn classify_bytes(&self, entry: &Entry) -> Kind {
        let Some(head) = self.bytes(entry, 0, HEAD_LEN) else {
            return Kind::Unknown;
        };
        if let Some(k) = self.composite(entry, &head) {
            return k;
        }
        let size = entry.size();
        let strong: Vec<Kind> = [
            self.queue(entry, &head),
            self.stack(entry, &head),
            ring(size, &head),
            self.pool(entry, &head),
            once(size, &head),
        ]
        .into_iter()
        .flatten()
        .chain(self.map_or_set(entry, &head))
        .collect();
        if let Some(k) = pick(strong) {
            return k;
        }
        let medium: Vec<Kind> = self
            .future(entry, &head)
            .into_iter()
            .chain(self.lazy(entry, &head))
            .collect();
        if let Some(k) = pick(medium) {
            return k;
        }
        let weak: Vec<Kind> = [
            array(size, &head),
            c_array(size, &head),
            lazy_bool(size, &head),
            stream_void(size, &head),
        ]
        .into_iter()
        .flatten()
        .chain(sync16(size, &head))
        .collect();
        pick(weak).unwrap_or(Kind::Unknown)
    }

    // --- composites (FORMAT.md Appendix B) --------------------------------------------

    fn composite(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let name = entry.name().as_bytes();
        let size = entry.size();
        let split = |suffix: &[u8]| name.strip_suffix(suffix);
        let has = |base: &[u8], suffix: &[u8]| self.sibling(base, suffix).is_some();
        let sized = |base: &[u8], suffix: &[u8], n: u64| {
            self.sibling(base, suffix).is_some_and(|e| e.size() == n)
        };
        let marker = |base: &[u8]| self.sibling(base, b"").is_some_and(|e| e.size() == 1);

        if size == 1 {
            if sized(name, b"_state", 8) && sized(name, b"_rmtx", 16) && sized(name, b"_wmtx", 16) {
                return Some(Kind::Marker {
                    of: Composite::RwLock,
                });
            }
            if sized(name, b"_mtx", 16) && sized(name, b"_cond", 16) && sized(name, b"_count", 4) {
                return Some(Kind::Marker {
                    of: Composite::Monitor,
                });
            }
            let state = self.sibling(name, b"_state").is_some_and(|e| e.size() > 8);
            if state && sized(name, b"_mtx", 16) {
                return Some(Kind::Marker {
                    of: Composite::Signal,
                });
            }
        }
        if let Some(base) = split(b"_state") {
            if size == 8 && has(base, b"_rmtx") && has(base, b"_wmtx") && marker(base) {
                return Some(Kind::RwLockState {
                    readers: i32_at(b, 0)?,
                    writer_active: i32_at(b, 4)?,
                });
            }
            if size > 8 && has(base, b"_mtx") && marker(base) {
                // C++ align_up(8 + es, max(8, aT)), Python 8 + es.
                let max = size - 8;
                let min = if size % 8 == 0 {
                    size.saturating_sub(15).max(1)
                } else {
                    max
                };
                return Some(Kind::SignalState {
                    version: u64_at(b, 0)?,
                    value_size_min: min,
                    value_size_max: max,
                });
            }
        }
        if let Some(base) = split(b"_rmtx").or_else(|| split(b"_wmtx")) {
            if has(base, b"_state") && marker(base) {
                return mutex_or_semaphore(size, b);
            }
        }
        if let Some(base) = split(b"_mtx") {
            if marker(base) {
                return mutex_or_semaphore(size, b);
            }
        }
        if let Some(base) = split(b"_cond") {
            if has(base, b"_mtx") && has(base, b"_count") && marker(base) {
                return semaphore(size, b);
            }
        }
        if let Some(base) = split(b"_count") {
            if size == 4 && has(base, b"_mtx") && has(base, b"_cond") && marker(base) {
                return Some(Kind::MonitorCount {
                    waiting: u32_at(b, 0)?,
                });
            }
        }
        if let Some(base) = split(crate::layout::event::SEM_SUFFIX.as_bytes()) {
            if self.sibling(base, b"").is_some_and(|e| e.size() == 12) {
                return semaphore(size, b);
            }
        }
        if size == 12
            && self
                .sibling(name, crate::layout::event::SEM_SUFFIX.as_bytes())
                .is_some_and(|e| e.size() == 16)
        {
            let (signaled, mode, waiting) = (u32_at(b, 0)?, u32_at(b, 4)?, u32_at(b, 8)?);
            if signaled <= 1 && mode <= 1 {
                return Some(Kind::Event {
                    signaled,
                    mode,
                    waiting,
                });
            }
        }
        if let Some(base) = split(b"_header") {
            return self.composite_header(base, size, b);
        }
        if let Some(base) = split(b"_slot") {
            let header = self.sibling(base, b"_header")?;
            let hb = self.bytes(header, 0, 32)?;
            let (ready, consumed) = (u8_at(b, 0)?, u8_at(b, 1)?);
            if header.size() == 32
                && u32_at(&hb, 0)? == 0
                && ready <= 1
                && consumed <= 1
                && size >= 3
            {
                return Some(Kind::ChannelSlot { ready, consumed });
            }
        }
        if let Some(base) = split(b"_sync") {
            let queue = self.sibling(base, b"")?;
            let qb = self.bytes(queue, 0, HEAD_LEN)?;
            if size == 16 && self.queue(queue, &qb).is_some() {
                let closed = u32_at(b, 8)?;
                if closed <= 1 {
                    return Some(Kind::ChannelSync {
                        sender_waiting: u32_at(b, 0)?,
                        receiver_waiting: u32_at(b, 4)?,
                        closed,
                        logical_capacity: u32_at(b, 12)?,
                    });
                }
            }
        }
        None
    }

    /// `x_header` of a C++ Stream (56 bytes, ring `x_buffer`) or Channel (32 bytes, queue
    /// `x_buffer` or slot `x_slot`).
    fn composite_header(&self, base: &[u8], size: u64, b: &[u8]) -> Option<Kind> {
        let closed = u8_at(b, 12)?;
        if closed > 1 || !all_zero(b.get(13..16)?) {
            return None;
        }
        if size == 56 {
            let ring_entry = self.sibling(base, b"_buffer")?;
            let rb = self.bytes(ring_entry, 0, HEAD_LEN)?;
            let Some(Kind::Ring {
                capacity,
                elem_size,
                ..
            }) = ring(ring_entry.size(), &rb)
            else {
                return None;
            };
            let buffer_capacity = u32_at(b, 16)?;
            let name = b.get(20..52)?;
            let proven = u64::from(buffer_capacity) * u64::from(elem_size) == u64::from(capacity)
                && name.contains(&0);
            return proven.then_some(Kind::StreamHeader {
                sequence: u64_at(b, 0)?,
                subscribers: u32_at(b, 8)?,
                closed,
                buffer_capacity,
            });
        }
        if size == 32 {
            let capacity = u32_at(b, 0)?;
            let proven = if capacity == 0 {
                self.sibling(base, b"_slot").is_some()
            } else {
                let q = self.sibling(base, b"_buffer")?;
                let qb = self.bytes(q, 0, HEAD_LEN)?;
                matches!(self.queue(q, &qb), Some(Kind::Queue { capacity: c, .. }) if c == capacity)
            };
            return proven.then_some(Kind::ChannelHeader {
                capacity,
                senders: u32_at(b, 4)?,
                receivers: u32_at(b, 8)?,
                closed,
            });
        }
        None
    }

    // --- self-describing headers -------------------------------------------------------

    /// Queue: `16 + align8(cap*es) + 4*cap == size`, cap a power of two, and every `seq`
    /// word consistent with head/tail (allowing one in-flight operation per slot).
    fn queue(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let (head, tail, capacity, elem_size) =
            (u32_at(b, 0)?, u32_at(b, 4)?, u32_at(b, 8)?, u32_at(b, 12)?);
        if !capacity.is_power_of_two() || elem_size == 0 || tail.wrapping_sub(head) > capacity {
            return None;
        }
        let data = u64::from(capacity).checked_mul(elem_size.into())?;
        let seq_at = 16u64.checked_add(align_up(data, 8)?)?;
        if seq_at.checked_add(4 * u64::from(capacity))? != entry.size() {
            return None;
        }
        let n = u64::from(capacity).min(SCAN_LIMIT);
        let used = tail.wrapping_sub(head);
        let seq = self.bytes(entry, seq_at, 4 * n)?;
        for j in 0..u32::try_from(n).ok()? {
            let p = head.wrapping_add(j);
            let slot = usize::try_from(p % capacity).ok()?;
            if u64::try_from(slot).ok()? >= n {
                continue; // outside the scanned prefix
            }
            let s = u32_at(&seq, slot * 4)?;
            let ok = if j < used {
                s == p.wrapping_add(1) || s == p
            } else {
                s == p || s == p.wrapping_sub(capacity).wrapping_add(1)
            };
            if !ok {
                return None;
            }
        }
        Some(Kind::Queue {
            capacity,
            elem_size,
            head,
            tail,
        })
    }

    /// Stack: `16 + align8(cap*es) + 4*cap == size`, `top` in `[-1, cap-1]`, reserved 0,
    /// every slot state in 0..=3.
    fn stack(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let (top, capacity, elem_size, reserved) =
            (i32_at(b, 0)?, u32_at(b, 4)?, u32_at(b, 8)?, u32_at(b, 12)?);
        if reserved != 0
            || capacity == 0
            || elem_size == 0
            || top < -1
            || i64::from(top) >= i64::from(capacity)
        {
            return None;
        }
        let data = u64::from(capacity).checked_mul(elem_size.into())?;
        let states_at = 16u64.checked_add(align_up(data, 8)?)?;
        if states_at.checked_add(4 * u64::from(capacity))? != entry.size() {
            return None;
        }
        let n = u64::from(capacity).min(SCAN_LIMIT);
        let states = self.bytes(entry, states_at, 4 * n)?;
        if states
            .chunks_exact(4)
            .any(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]) > 3)
        {
            return None;
        }
        Some(Kind::Stack {
            capacity,
            elem_size,
            top,
        })
    }

    /// Pool: `24 + cap*node == size` for a node size some element alignment implies,
    /// `allocated <= cap`, padding 0, and a free list that stays in range and ends.
    fn pool(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let free_head = u64_at(b, 0)?;
        let (allocated, padding, capacity, elem_size) = (
            u32_at(b, 8)?,
            u32_at(b, 12)?,
            u32_at(b, 16)?,
            u32_at(b, 20)?,
        );
        if padding != 0 || capacity == 0 || elem_size == 0 || allocated > capacity {
            return None;
        }
        let es = u64::from(elem_size);
        let next_off = align_up(es, 4)?;
        let node_size = alignments(es).find_map(|a| {
            let node = align_up(next_off + 4, a.max(4))?;
            (24u64.checked_add(u64::from(capacity).checked_mul(node)?)? == entry.size())
                .then_some(node)
        })?;
        // Walk the free list (bounded): every index in range, NULL reached.
        let mut idx = free_head & 0xFFFF_FFFF;
        let mut steps = 0u64;
        while idx != 0xFFFF_FFFF {
            if idx >= u64::from(capacity) || steps > u64::from(capacity) {
                return None;
            }
            if steps >= SCAN_LIMIT {
                break;
            }
            let at = 24 + idx * node_size + next_off;
            idx = u64::from(u32_at(&self.bytes(entry, at, 4)?, 0)?);
            steps += 1;
        }
        Some(Kind::Pool {
            capacity,
            elem_size,
            allocated,
            node_size,
            free_head,
        })
    }

    /// Map / Set: `16 + cap*entry == size` for the C++ or Python entry layout, every slot
    /// state in 0..=3, and the stored `size` equal to the occupied slots (give or take
    /// slots being inserted).
    fn map_or_set(&self, entry: &Entry, b: &[u8]) -> Vec<Kind> {
        let (Some(len), Some(capacity), Some(w2), Some(w3)) =
            (u32_at(b, 0), u32_at(b, 4), u32_at(b, 8), u32_at(b, 12))
        else {
            return Vec::new();
        };
        if capacity == 0 || w2 == 0 || len > capacity {
            return Vec::new();
        }
        let fits = |stride: u64| {
            u64::from(capacity)
                .checked_mul(stride)
                .and_then(|d| d.checked_add(16))
                == Some(entry.size())
                && self.slots_consistent(entry, capacity, stride, len)
        };
        let (ks, vs) = (u64::from(w2), u64::from(w3));
        if w3 == 0 {
            // C++ Set {size, capacity, elem_size, reserved = 0}.
            let stride = alignments(ks).find_map(|a| {
                let s = align_up(align_up(4, a)? + ks, a.max(4))?;
                fits(s).then_some(s)
            });
            return stride
                .map(|entry_size| Kind::Set {
                    flavor: Flavor::Cpp,
                    capacity,
                    elem_size: w2,
                    len,
                    entry_size,
                })
                .into_iter()
                .collect();
        }
        // Map {size, capacity, key_size, value_size}: C++ natural alignment or Python packed.
        let cpp = alignments(ks)
            .flat_map(|ak| alignments(vs).map(move |av| (ak, av)))
            .find_map(|(ak, av)| {
                let key_off = align_up(4, ak)?;
                let val_off = align_up(key_off + ks, av)?;
                let s = align_up(val_off + vs, ak.max(av).max(4))?;
                fits(s).then_some(s)
            });
        let py = align_up(4 + ks + vs, 8).filter(|&s| fits(s));
        let (entry_size, flavor) = match (cpp, py) {
            (Some(c), Some(p)) if c == p => (c, Flavor::CppOrPython),
            (Some(c), _) => (c, Flavor::Cpp),
            (None, Some(p)) => (p, Flavor::Python),
            (None, None) => return Vec::new(),
        };
        let map = Kind::Map {
            flavor,
            capacity,
            key_size: w2,
            value_size: w3,
            len,
            entry_size,
        };
        // A Python Set is a Python Map<T, u8> whose values are all 1.
        if py.is_some() && vs == 1 && self.python_set_values(entry, capacity, py.unwrap_or(8), ks) {
            let set = Kind::Set {
                flavor: Flavor::Python,
                capacity,
                elem_size: w2,
                len,
                entry_size: py.unwrap_or(8),
            };
            return vec![set, map];
        }
        vec![map]
    }

    /// Byte `at` and its 3 successors of slot `i` (a state word), read on its own so a
    /// huge slot stride never means a huge read.
    fn slot_word(&self, entry: &Entry, stride: u64, i: u64, at: u64) -> Option<Vec<u8>> {
        let start = i.checked_mul(stride)?.checked_add(16)?.checked_add(at)?;
        self.bytes(entry, start, 4)
    }

    fn slots_consistent(&self, entry: &Entry, capacity: u32, stride: u64, len: u32) -> bool {
        let n = scan_count(capacity, stride);
        let (mut occupied, mut inserting) = (0u64, 0u64);
        for i in 0..n {
            match self
                .slot_word(entry, stride, i, 0)
                .and_then(|w| u32_at(&w, 0))
            {
                Some(0 | 2) => {}
                Some(1) => occupied += 1,
                Some(3) => inserting += 1,
                _ => return false,
            }
        }
        if n < u64::from(capacity) {
            return true; // partial scan: the count cannot be checked
        }
        let len = u64::from(len);
        len <= occupied + inserting && occupied <= len + inserting
    }

    /// Every occupied slot's value byte (after a `ks`-byte key at 4) is 1.
    fn python_set_values(&self, entry: &Entry, capacity: u32, stride: u64, ks: u64) -> bool {
        (0..scan_count(capacity, stride)).all(|i| {
            let state = self
                .slot_word(entry, stride, i, 0)
                .and_then(|w| u32_at(&w, 0));
            state != Some(1)
                || self
                    .bytes(entry, 16 + i * stride + 4 + ks, 1)
                    .is_some_and(|v| v == [1])
        })
    }

    // --- weak fits ---------------------------------------------------------------------

    /// Future (§6.1): state 0..=3, a pending future has no completion time, and the
    /// error message is empty unless the state is ERROR.
    fn future(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let size = entry.size();
        if size < 273 {
            return None;
        }
        let max = size - 272; // Python: 272 + es; C++: at most this
        let min = if size % 8 == 0 {
            size.saturating_sub(279).max(1)
        } else {
            max
        };
        let (state, waiters, completion_time) = (u32_at(b, 0)?, u32_at(b, 4)?, u64_at(b, 8)?);
        // PENDING: nothing was set yet (the value is zeroed at creation, the time is stored
        // by the setter); READY: the setter stored a completion time.
        let pending_ok = state != 0
            || (completion_time == 0
                && self
                    .bytes(entry, 16, min.min(4096))
                    .is_some_and(|v| all_zero(&v)));
        if state > 3 || !pending_ok || (state == 2 && completion_time == 0) {
            return None;
        }
        // The part of error_msg common to every possible value size.
        let msg = self.bytes(entry, 16 + max, 256 + min - max)?;
        let ok = if state == 3 {
            msg.contains(&0)
        } else {
            all_zero(&msg)
        };
        ok.then_some(Kind::Future {
            state,
            waiters,
            completion_time,
            value_size_min: min,
            value_size_max: max,
        })
    }

    /// Lazy (§6.2): C++ 280 bytes (T of 1-4 bytes) or 304 (8-byte T); Python `260 + es`.
    fn lazy(&self, entry: &Entry, b: &[u8]) -> Vec<Kind> {
        let size = entry.size();
        let mut out = Vec::new();
        let Some(state) = u32_at(b, 0).filter(|&s| s <= 3) else {
            return out;
        };
        let zero_unless_error = |at: u64, len: u64| {
            self.bytes(entry, at, len).is_some_and(|m| {
                if state == 3 {
                    m.contains(&0)
                } else {
                    all_zero(&m)
                }
            })
        };
        // C++: (op offset, common error range, value size).
        // C++ (op offset, union offset, cached offset, common error range, value size).
        let layout = match size {
            280 => Some((4, 8, 16, (20, 253), 4)),
            304 if b.get(4..8).is_some_and(all_zero) => Some((8, 16, 32, (40, 256), 8)),
            _ => None,
        };
        let cpp = layout.and_then(|(op_at, data_at, cached_at, (err_at, err_len), es)| {
            let op = u32_at(b, op_at)?;
            // Only CHAIN, EXTERNAL (and NEGATE of a non-number) can fail; a computed
            // CONSTANT caches its constant (at least the first byte is known to agree).
            let ok = op <= 5
                && (state != 3 || op >= 3)
                && (state != 2 || op != 0 || b.get(data_at) == b.get(cached_at))
                && zero_unless_error(err_at, err_len);
            ok.then_some((op, es))
        });
        let py = (size > 260 && zero_unless_error(size - 256, 256)).then(|| size - 260);
        match (cpp, py) {
            // Both layouts fit: one Lazy; the op is what a C++ reader would see.
            (Some((op, es)), Some(pes)) => out.push(Kind::Lazy {
                flavor: Flavor::CppOrPython,
                state,
                op: Some(op),
                value_size_max: es.max(pes),
            }),
            (Some((op, es)), None) => {
                out.push(Kind::Lazy {
                    flavor: Flavor::Cpp,
                    state,
                    op: Some(op),
                    value_size_max: es,
                });
            }
            (None, Some(es)) => {
                out.push(Kind::Lazy {
                    flavor: Flavor::Python,
                    state,
                    op: None,
                    value_size_max: es,
                });
            }
            (None, None) => {}
        }
        out
    }
}

/// One kind, several (ambiguous, deduplicated) or none.
/// A catalog's records by the names of the entries they describe, so classifying every entry
/// stays linear however many records a (hostile) catalog holds.
#[derive(Default)]
struct CatalogIndex {
    records: Vec<crate::segment::Record>,
    /// First entry name → record (the structure created at that entry).
    first: HashMap<Vec<u8>, usize>,
    /// Any part's entry name → record of the composite it belongs to.
    part: HashMap<Vec<u8>, usize>,
}

impl CatalogIndex {
    fn new(catalog: Option<&Catalog>) -> Self {
        let mut index = Self::default();
        let Some(c) = catalog else {
            return index;
        };
        index.records.clone_from(&c.records);
        for (i, r) in index.records.iter().enumerate() {
            let names = r.entry_names();
            if let Some(first) = names.first() {
                index.first.entry(first.as_bytes().to_vec()).or_insert(i);
            }
            if names.len() > 1 {
                for n in names {
                    index.part.entry(n.into_bytes()).or_insert(i);
                }
            }
        }
        index
    }

    /// The record describing `entry` and whether it is `entry`'s own (not its composite's).
    fn lookup(&self, entry: &Entry) -> Option<(&crate::segment::Record, bool)> {
        let name = entry.name().as_bytes();
        if let Some(&i) = self.first.get(name) {
            let r = &self.records[i];
            if r.entry_index == entry.index() {
                return Some((r, true));
            }
        }
        self.part.get(name).map(|&i| (&self.records[i], false))
    }
}

/// The kind of `entry` given the catalog's word and the kind its bytes prove (`by_bytes`).
///
/// Where the catalog names a kind `read_as` can read, the entry is read as that kind, and
/// kept only if its geometry fits and the element size in its header is the catalog's
/// (the bytes win: otherwise `by_bytes`). Otherwise the catalog only picks among the
/// candidates of an ambiguous `by_bytes`.
fn catalog_kind(
    seg: &ReadOnlySegment,
    entry: &Entry,
    index: &CatalogIndex,
    by_bytes: Kind,
) -> Kind {
    let (record, own) = match index.lookup(entry) {
        Some(found) => found,
        None => return by_bytes,
    };
    let as_name = match record.kind {
        CatalogKind::Array => Some("array"),
        CatalogKind::Queue => Some("queue"),
        CatalogKind::Stack => Some("stack"),
        CatalogKind::Ring => Some("ring"),
        CatalogKind::Pool => Some("pool"),
        CatalogKind::Map => Some("map"),
        CatalogKind::Set => Some("set"),
        CatalogKind::Semaphore => Some("semaphore"),
        CatalogKind::Mutex => Some("mutex"),
        CatalogKind::Barrier => Some("barrier"),
        CatalogKind::Latch => Some("latch"),
        CatalogKind::Once => Some("once"),
        CatalogKind::Event => Some("event"),
        _ => None,
    };
    if let (Some(name), true) = (as_name, own) {
        return match read_as(seg, entry, name) {
            Ok(k) if catalog_mismatch(&k, record).is_none() => k,
            _ => by_bytes,
        };
    }
    let fits: &[&str] = match record.kind {
        CatalogKind::Future => &["future"],
        CatalogKind::Lazy => &["lazy", "lazy_bool"],
        CatalogKind::Stream => &["stream_header", "ring"],
        CatalogKind::Channel => &["channel_header", "channel_slot", "queue"],
        _ => &[],
    };
    match by_bytes {
        Kind::Ambiguous(candidates) => {
            let mut matching: Vec<Kind> = candidates
                .iter()
                .filter(|k| fits.contains(&k.name()))
                .cloned()
                .collect();
            if matching.len() == 1 {
                matching.remove(0)
            } else {
                Kind::Ambiguous(candidates)
            }
        }
        k => k,
    }
}

/// Why the catalog's `record` contradicts what the structure's header says (`kind`), if it
/// does: the element sizes differ.
pub(crate) fn catalog_mismatch(kind: &Kind, record: &crate::segment::Record) -> Option<String> {
    let stored: Option<(&str, u64)> = match *kind {
        Kind::Array { elem_size, .. } | Kind::CArray { elem_size, .. } => {
            Some(("elem_size", elem_size))
        }
        Kind::Queue { elem_size, .. }
        | Kind::Stack { elem_size, .. }
        | Kind::Ring { elem_size, .. }
        | Kind::Pool { elem_size, .. }
        | Kind::Set { elem_size, .. } => Some(("elem_size", elem_size.into())),
        Kind::Map {
            key_size,
            value_size,
            ..
        } => {
            if u64::from(value_size) != u64::from(record.value_size) {
                return Some(format!(
                    "the catalog says value_size {}, the header says {value_size}; the header wins",
                    record.value_size
                ));
            }
            Some(("key_size", key_size.into()))
        }
        _ => None,
    };
    match stored {
        Some((field, n)) if n != u64::from(record.elem_size) => Some(format!(
            "the catalog says {field} {}, the header says {n}; the header wins",
            record.elem_size
        )),
        _ => None,
    }
}

fn pick(mut kinds: Vec<Kind>) -> Option<Kind> {
    kinds.dedup();
    match kinds.len() {
        0 => None,
        1 => kinds.pop(),
        _ => Some(Kind::Ambiguous(kinds)),
    }
}

/// Ring: `24 + capacity == size`, capacity a multiple of elem_size, positions multiples of
/// it with `read_pos <= write_pos <= read_pos + capacity`.
fn ring(size: u64, b: &[u8]) -> Option<Kind> {
    let (write_pos, read_pos, capacity, elem_size) =
        (u64_at(b, 0)?, u64_at(b, 8)?, u32_at(b, 16)?, u32_at(b, 20)?);
    let (cap, es) = (u64::from(capacity), u64::from(elem_size));
    let ok = es > 0
        && cap > 0
        && cap % es == 0
        && 24 + cap == size
        && read_pos <= write_pos
        && write_pos - read_pos <= cap
        && write_pos % es == 0
        && read_pos % es == 0;
    ok.then_some(Kind::Ring {
        capacity,
        elem_size,
        write_pos,
        read_pos,
    })
}

/// Once: exactly 4 bytes holding 0, 1 or 2 (no other structure is 4 bytes, except a
/// Monitor's `_count`, recognised by its siblings first).
fn once(size: u64, b: &[u8]) -> Option<Kind> {
    let state = u32_at(b, 0)?;
    (size == 4 && state <= 2).then_some(Kind::Once { state })
}

/// Array: `8 + capacity * elem_size == size`.
fn array(size: u64, b: &[u8]) -> Option<Kind> {
    let capacity = u64_at(b, 0)?;
    if capacity == 0 {
        return (size == 8).then_some(Kind::Array {
            capacity,
            elem_size: 0,
        });
    }
    let data = size - 8;
    (data % capacity == 0 && data > 0).then_some(Kind::Array {
        capacity,
        elem_size: data / capacity,
    })
}

/// The C Array: `16 + capacity * elem_size == size`, both non-zero.
fn c_array(size: u64, b: &[u8]) -> Option<Kind> {
    let (capacity, elem_size) = (u64_at(b, 0)?, u64_at(b, 8)?);
    let ok = capacity > 0
        && elem_size > 0
        && capacity
            .checked_mul(elem_size)
            .and_then(|d| d.checked_add(16))
            == Some(size);
    ok.then_some(Kind::CArray {
        capacity,
        elem_size,
    })
}

fn lazy_bool(size: u64, b: &[u8]) -> Option<Kind> {
    let (state, op, a, bb, cached) = (
        u32_at(b, 0)?,
        u32_at(b, 4)?,
        u8_at(b, 8)?,
        u8_at(b, 9)?,
        u8_at(b, 12)?,
    );
    // A constant caches its value; padding (10..12, 13..16) is never written.
    let ok = size == 16
        && state <= 2
        && op <= 4
        && a <= 1
        && bb <= 1
        && cached <= 1
        && (op != 0 || a == cached)
        && all_zero(b.get(10..12)?)
        && all_zero(b.get(13..16)?);
    ok.then_some(Kind::LazyBool { state, op, cached })
}

fn stream_void(size: u64, b: &[u8]) -> Option<Kind> {
    let closed = u8_at(b, 8)?;
    (size == 16 && closed <= 1 && all_zero(b.get(9..16)?)).then_some(Kind::StreamVoid {
        event_count: u64_at(b, 0)?,
        closed,
    })
}

/// A Semaphore that is a Mutex when `max_count == 1`.
fn mutex_or_semaphore(size: u64, b: &[u8]) -> Option<Kind> {
    match semaphore(size, b)? {
        Kind::Semaphore {
            count,
            waiting,
            max_count: 1,
        } => Some(Kind::Mutex { count, waiting }),
        other => Some(other),
    }
}

/// Semaphore: 16 bytes, non-negative fields, count within a bounded maximum, padding 0
/// (except in a Mutex, where zeroipc keeps the holder's pid — also, after a kill, with
/// `count` free: `sync::mutex`, "Process death"; a Semaphore's gate is non-zero only for
/// the few instructions of a step, or after a kill in one).
fn semaphore(size: u64, b: &[u8]) -> Option<Kind> {
    let (count, waiting, max_count, pad) =
        (i32_at(b, 0)?, i32_at(b, 4)?, i32_at(b, 8)?, i32_at(b, 12)?);
    let ok = size == 16
        && count >= 0
        && waiting >= 0
        && max_count >= 0
        && (pad == 0 || (max_count == 1 && pad > 0))
        && (max_count == 0 || count <= max_count);
    ok.then_some(Kind::Semaphore {
        count,
        waiting,
        max_count,
    })
}

/// The 16-byte primitives, which bytes alone rarely tell apart.
fn sync16(size: u64, b: &[u8]) -> Vec<Kind> {
    let mut out = Vec::new();
    if size != 16 {
        return out;
    }
    out.extend(mutex_or_semaphore(size, b));
    let (Some(w0), Some(w1), Some(w2), Some(w3)) =
        (i32_at(b, 0), i32_at(b, 4), i32_at(b, 8), i32_at(b, 12))
    else {
        return out;
    };
    if w2 > 0 && (0..w2).contains(&w0) && w1 >= 0 && w3 == 0 {
        out.push(Kind::Barrier {
            arrived: w0,
            generation: w1,
            participants: w2,
        });
    }
    if (0..=w1).contains(&w0) && w2 == 0 && w3 == 0 {
        out.push(Kind::Latch {
            count: w0,
            initial_count: w1,
        });
    }
    out
}

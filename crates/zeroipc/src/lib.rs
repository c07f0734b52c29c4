//! # zeroipc
//!
//! Shared memory as an active computational substrate: processes on one machine share named,
//! typed structures inside one POSIX shared-memory segment, with zero copies and no
//! serialization. The bytes are the ZeroIPC v2 format, so a Rust process can sit in the same
//! segment as the C++, C, Go and Python implementations.
//!
//! ```text
//!   codata        (Future, Lazy, Stream, Channel)   values and sequences over time
//!   structures    (Array, Queue, Stack, Ring, Pool, Map, Set)
//!   sync          (Mutex, RwLock, Semaphore, Barrier, Latch, Once, Event, Monitor, Signal)
//!   wait          backoff, stall patience, futex parking, waiter registry, the async reactor
//!   raw           lock-free algorithms over views (&Header, &[atomic])
//!   segment       the table, validation, THE address -> reference gate
//!   sys           shm_open / mmap / futex / flock (rustix)
//!   layout        the wire format: #[repr(C)] headers, constants
//! ```
//!
//! # Which structure for which job
//!
//! | job                                                        | structure                  |
//! |------------------------------------------------------------|----------------------------|
//! | a table of values every process reads and writes in place  | [`Array`]                 |
//! | hand work items between any number of producers/consumers  | [`Queue`]                 |
//! | a stream of elements from one producer to one consumer, bulk copies | [`Ring`] |
//! | last-in first-out work stealing / undo stacks              | [`Stack`]                 |
//! | fixed-size objects handed out by index                     | [`Pool`]                  |
//! | look values up by key; membership                          | [`Map`], [`Set`] |
//! | mutual exclusion (with dead-holder recovery)               | [`Mutex`], [`RwLock`] |
//! | count permits; wait for N arrivals; wait for a count to reach 0 | [`Semaphore`], [`Barrier`], [`Latch`] |
//! | run an initialiser exactly once across processes           | [`Once`]                  |
//! | signal a condition; wait for a predicate under a lock; publish a value with a version | [`Event`], [`Monitor`], [`Signal`] |
//! | a value set once and awaited by other processes (`.await` too) | [`Future`] |
//! | a value computed once, by whichever process asks first     | [`Lazy`]                  |
//! | CSP channels: buffered or rendezvous, close, select, async | [`Channel`] |
//! | a sequence of values with map/filter/take/skip/fold/window stages | [`Stream`] |
//! | inspect any segment read-only (kinds, users, stale segments) | [`inspect`]              |
//! | what zeroipc recorded about each structure it created (type catalog) | [`ReadOnlySegment::catalog`], [`Segment::describe`] |
//!
//! Every handle is at the crate root (and, but for `Future`, in [`prelude`]).
//!
//! # One shape for every operation
//!
//! Every operation that can wait comes in the same forms, as in std, crossbeam and tokio:
//! `op` blocks, `try_op` never blocks, `op_timeout(Duration)` and `op_deadline(Instant)` are
//! bounded, and `op_async` exists where the type can be awaited. Each form has its own error
//! type with only the outcomes that form can have (`Full`/`Empty`/`WouldBlock` only from
//! `try_op`, `Timeout` only from the timed forms), and a dead peer is an error (`Stalled`,
//! `OwnerDead`), never a silent `None`. Storage (Array, Pool, Map, Set) never waits. Sizes,
//! lengths and counts are `usize`; one stall default, [`DEFAULT_STALL_TIMEOUT`], changed per
//! handle with `with_stall_timeout`. `docs/API.md` in the repository has the whole surface
//! in one table.
//!
//! ```
//! use std::time::Duration;
//! use zeroipc::{Queue, SegmentOptions, structures::queue::{PopTimeoutError, TryPopError}};
//! # let name = format!("/zeroipc-doc-lib-shape-{}", std::process::id());
//! let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
//! let q: Queue<u64> = Queue::create(&seg, "jobs", 4)?;
//! assert_eq!(q.try_pop(), Err(TryPopError::Empty));                      // never blocks
//! assert_eq!(q.pop_timeout(Duration::from_millis(1)), Err(PopTimeoutError::Timeout));
//! q.push(1)?;                                                            // would block if full
//! assert_eq!(q.pop()?, 1);                                               // blocks until there is one
//! # zeroipc::Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Example
//!
//! ```
//! use zeroipc::{Array, Segment, SegmentOptions};
//! # let name = format!("/zeroipc-doc-lib-{}", std::process::id());
//! // Process A creates the segment and an array in it.
//! let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
//! let readings: Array<f64> = Array::create(&seg, "readings", 8)?;
//! readings.set(0, 20.5)?;
//!
//! // Process B (here the same process) opens them by name.
//! let peer = Segment::open(&name)?;
//! let readings: Array<f64> = Array::open(&peer, "readings")?;
//! assert_eq!(readings.get(0), Some(20.5));
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Element types are plain old data: derive zerocopy's `FromBytes`, `IntoBytes`,
//! `Immutable` and `KnownLayout` on a `#[repr(C)]` struct. Types with invalid bit patterns
//! do not compile:
//!
//! ```compile_fail
//! # use zeroipc::{Segment, structures::Array};
//! # fn f(seg: &Segment) {
//! let flags: Array<bool> = Array::create(seg, "flags", 4).unwrap(); // bool is not FromBytes
//! # }
//! ```
//!
//! Opens check the segment's type catalog: a structure opened as another kind (a Mutex as a
//! [`sync::Semaphore`]) or another element type (a `Future<u64>` as a `Future<u32>`, or a
//! `u32` as an `f32`) is refused with [`StructureError::KindMismatch`] or
//! [`StructureError::TypeMismatch`], even where the bytes would fit. A struct's name is
//! compared without its module path, so two programs may each define the same `Reading`.
//! Segments without a catalog (written by C++, C or Python, or created with
//! [`SegmentOptions::catalog`]`(false)`) are opened on their bytes alone, as is any open
//! through [`Segment::unchecked`], for reading a structure as another type on purpose.
//!
//! Elements aligned to more than 8 bytes (`u128`, `#[repr(align(16))]` types) are refused
//! when the program is built (a `const` assertion evaluated as the structure is
//! instantiated): the format only guarantees 8-byte alignment (FORMAT.md §4).
//!
//! # Sharing with processes you do not trust
//!
//! The full threat model is `docs/THREAT_MODEL.md` in the repository. In short:
//!
//! * Segments are created with mode 0600 (set exactly with `fchmod`; the umask is not
//!   applied): only the owner's processes can open them unless [`SegmentOptions::mode`] says
//!   otherwise.
//! * Any bytes a peer with write access writes are answered with typed errors
//!   ([`OpenError`], [`TableError`], [`StructureError`], [`Corruption`]), never with undefined
//!   behaviour, a panic or a hang; nothing in the segment can make this process execute code
//!   or access memory outside its mapping. Element values are whatever the peer wrote.
//! * Segment memory is only ever touched through atomics, element slots included: Queue,
//!   Stack, Ring, Stream and Channel copy each element in and out with Relaxed atomic word
//!   accesses, and their Release/Acquire sequence or position words make a correctly
//!   published element whole. A peer that breaks a structure's protocol (writes slots it
//!   does not own, runs a second Ring producer) yields wrong, torn, lost or duplicated
//!   values or typed errors ([`Corruption`], `Stalled`), never undefined behaviour in this
//!   process. The one exception is the `unsafe` zero-copy [`structures::Array::as_slice`] /
//!   [`structures::Array::as_mut_slice`], whose contract a hostile writer can break.
//! * Safe code cannot break a protocol within this process: a [`Ring`] has at
//!   most one live producer and one live consumer per process (a second
//!   [`structures::Ring::producer`] is an error until the first is dropped). Across
//!   processes, one producer process and one consumer process per ring is the user's rule
//!   (the format has no byte to record an owner in).
//! * A peer that **truncates** the segment is detected before table accesses
//!   ([`Corruption::Shrunk`]), but elements read through handles opened earlier raise
//!   `SIGBUS` on the cut-off pages: **a process with write access can always crash the
//!   processes that map the segment.** Nothing in POSIX shared memory prevents it.
//! * A stopped holder of the allocation lock makes structure creation fail after
//!   [`segment::ALLOCATION_LOCK_TIMEOUT`] instead of blocking forever.
//! * [`Segment::open_read_only`] maps `PROT_READ` and returns a [`ReadOnlySegment`], which has
//!   no writing API; structures are created and opened only from a read-write [`Segment`]:
//!
//! ```compile_fail
//! # use zeroipc::{Segment, structures::Array};
//! # fn f() -> Result<(), Box<dyn std::error::Error>> {
//! let ro = Segment::open_read_only("/sensors")?;
//! let a: Array<u32> = Array::open(&ro, "readings")?; // a ReadOnlySegment is not a Segment
//! # Ok(()) }
//! ```
//!
//! * [`inspect::segment_users`], [`inspect::stale_segments`] and [`inspect::remove_if_stale`]
//!   find and remove segments left behind by crashed processes.
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

// Crash injection points (tests only): public with the feature, for `tests/crash_matrix.rs`.
#[cfg(feature = "fault-injection")]
pub mod fault;
#[cfg(not(feature = "fault-injection"))]
pub(crate) mod fault;
pub(crate) mod layout;
pub(crate) mod loom;
pub(crate) mod raw;
pub(crate) mod sys;
pub(crate) mod wait;

pub mod codata;

#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
pub mod inspect;
#[cfg(not(loom))]
pub mod segment;
#[cfg(not(loom))]
pub mod structures;
pub mod sync;

#[cfg(not(loom))]
pub use error::{
    Corruption, CreateError, NameError, OpenError, OutOfBounds, StructureError, TableError,
};
#[cfg(not(loom))]
pub use segment::{Entry, EntryName, ReadOnlySegment, Segment, SegmentHeader, SegmentOptions};
#[cfg(not(loom))]
pub use sync::{
    LockError, LockTimeoutError, OwnerDead, ReleaseError, TryLockError, TryWaitError, WaitError,
    WaitTimeoutError,
};

pub use layout::{FORMAT_VERSION, MAGIC};

// Every handle at the root (docs/API_CONVENTIONS.md §5); their error types stay in their
// modules (`structures::queue::TryPushError`, `codata::channel::SendError`, ...), where two
// modules may use the same operation name.
#[cfg(not(loom))]
pub use codata::{Channel, Future, Lazy, Promise, Select, Stream};
#[cfg(not(loom))]
pub use structures::{Array, Map, Pool, Queue, Ring, Set, Stack};
#[cfg(not(loom))]
pub use sync::{Barrier, Event, Latch, Monitor, Mutex, Once, RwLock, Semaphore, Signal};

/// The handles and the traits most programs need, for a glob import.
///
/// `Future` is left out: a glob import of it would shadow `core::future::Future` (the
/// prelude's `Future` trait) in the importing module. Name it `zeroipc::Future`.
///
/// # Examples
///
/// ```
/// use zeroipc::prelude::*;
/// # let name = format!("/zeroipc-doc-prelude-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// let q: Queue<u32> = Queue::create(&seg, "jobs", 8)?;
/// let m = Mutex::create(&seg, "lock")?;
/// // `drop_guard` makes the error `'static` (its `OwnerDead` case holds the guard), for `?`.
/// let guard = m.lock().map_err(|e| e.drop_guard())?;
/// q.push(7)?;
/// drop(guard);
/// assert_eq!(q.pop()?, 7);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(not(loom))]
pub mod prelude {
    pub use crate::{
        Array, Barrier, Channel, Element, Event, Latch, Lazy, Map, Monitor, Mutex, Once, Pool,
        Promise, Queue, Ring, RwLock, Segment, SegmentOptions, Select, Semaphore, Set, Signal,
        Stack, Stream,
    };
}

/// How long a peer may stay mid-operation (a half-written slot, a held internal lock, a
/// counted waiter that never leaves) before an operation reports it as stalled, unless the
/// handle was given another bound with `with_stall_timeout`. The one default of the crate.
pub const DEFAULT_STALL_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(1);

/// A value that can be copied into and out of shared memory: plain old data with no
/// invalid bit patterns and no pointers. Derive zerocopy's traits to implement it.
pub trait Element:
    zerocopy::FromBytes
    + zerocopy::IntoBytes
    + zerocopy::Immutable
    + zerocopy::KnownLayout
    + Copy
    + Send
    + Sync
    + 'static
{
}

impl<T> Element for T where
    T: zerocopy::FromBytes
        + zerocopy::IntoBytes
        + zerocopy::Immutable
        + zerocopy::KnownLayout
        + Copy
        + Send
        + Sync
        + 'static
{
}

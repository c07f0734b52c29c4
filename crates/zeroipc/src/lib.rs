//! # zeroipc
//!
//! Shared memory as an active computational substrate: processes on one machine share named,
//! typed structures inside one POSIX shared-memory segment, with zero copies and no
//! serialization. The bytes are the ZeroIPC v2 format, so a Rust process can sit in the same
//! segment as the C++, C, Go and Python implementations.
//!
//! ```text
//!   codata        (Future, Lazy, Stream, Channel)
//!   structures    (Array, ...)        sync (Mutex, Semaphore, ...)
//!   raw           lock-free algorithms over views (&Header, &[atomic])
//!   segment       the table, validation, THE address -> reference gate
//!   sys           shm_open / mmap / futex / flock (rustix)
//!   layout        the wire format: #[repr(C)] headers, constants
//! ```
//!
//! # Which structure for which job
//!
//! | job                                             | structure                      |
//! |-------------------------------------------------|--------------------------------|
//! | a table of values every process reads/writes    | [`structures::Array`]          |
//!
//! # Example
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Array};
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
//! Elements aligned to more than 8 bytes (`u128`, `#[repr(align(16))]` types) are refused
//! when the program is built (a `const` assertion evaluated as the structure is
//! instantiated): the format only guarantees 8-byte alignment (FORMAT.md §4).
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

pub(crate) mod layout;
pub(crate) mod loom;
pub(crate) mod raw;
pub(crate) mod sys;

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
    Corruption, CreateError, Full, NameError, OpenError, OutOfBounds, StructureError, TableError,
    Timeout,
};
#[cfg(not(loom))]
pub use segment::{Entry, EntryName, ReadOnlySegment, Segment, SegmentHeader, SegmentOptions};
#[cfg(not(loom))]
pub use sync::{LockError, OwnerDead, ReleaseError, WaitError};

pub use layout::{FORMAT_VERSION, MAGIC};

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

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

mod catalog;
mod classify;
mod decode;
mod describe;
mod inspection;
mod kind;
mod listing;
pub use decode::{
    Contents, Decoded, Elem, ElemType, Fill, Item, KIND_NAMES, KindError, KindName, ParseTypeError,
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

use catalog::*;
use classify::Classifier;
pub use classify::{classify, classify_all};
pub use inspection::Inspection;

pub use kind::{Composite, FieldValue, Flavor, Kind};
pub use listing::{Listing, NotZeroIpc, Status, Summary, list_segments};

/// Where POSIX shared-memory objects live on Linux.
///
/// # Examples
///
/// ```
/// assert!(std::path::Path::new(zeroipc::inspect::SHM_DIR).is_dir());
/// ```
pub const SHM_DIR: &str = "/dev/shm";

//! Error types: one enum per operation family, and [`Corruption`] for bytes that break the
//! format.
//!
//! Whatever a peer writes into the segment, this library answers with one of these, never
//! with a panic or undefined behaviour. Every variant says what was found and what was
//! expected. Display strings are lower-case with no trailing period.

use std::error::Error;
use std::fmt;
use std::io;

/// Why a segment name was refused. Names are POSIX shm names: one leading `/` (added when
/// missing), no other `/`, no NUL, at most 255 bytes after the slash.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameError {
    /// The name is empty or just `/`.
    Empty,
    /// Longer than `NAME_MAX` (255 bytes) without the leading slash.
    TooLong {
        /// Byte length found (without the leading slash).
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A `/` after the leading one.
    InteriorSlash,
    /// A NUL byte.
    Nul,
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "segment name is empty"),
            Self::TooLong { len, max } => {
                write!(
                    f,
                    "segment name is {len} bytes long (at most {max} allowed)"
                )
            }
            Self::InteriorSlash => write!(f, "segment name has a '/' after the leading one"),
            Self::Nul => write!(f, "segment name contains a NUL byte"),
        }
    }
}

impl Error for NameError {}

/// A value in the segment that breaks the format: what was found, what was expected.
///
/// Produced by validation on open and on every look-up; the segment was written by a buggy or
/// hostile peer, or truncated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Corruption {
    /// The object is smaller than the 32-byte table header (after its creator sized it).
    TooSmall {
        /// Bytes found.
        size: u64,
        /// Minimum.
        min: u64,
    },
    /// The first word is not the ZeroIPC magic: not a ZeroIPC segment.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// `32 + 48 * max_entries` does not fit in the mapped object.
    TableOutsideMapping {
        /// `max_entries` from the header.
        max_entries: u32,
        /// The table size it implies.
        table_size: u64,
        /// The mapped size.
        mapped: u64,
    },
    /// `entry_count > max_entries`.
    EntryCount {
        /// `entry_count` found.
        found: u32,
        /// `max_entries`.
        max_entries: u32,
    },
    /// `memory_size` is larger than the object (truncated?) or smaller than the table.
    MemorySize {
        /// `memory_size` found.
        found: u64,
        /// The table size (lower limit).
        min: u64,
        /// The mapped size (upper limit).
        mapped: u64,
    },
    /// `next_offset` outside `[table_size, bound]`.
    NextOffset {
        /// `next_offset` found.
        found: u64,
        /// Lower limit (table size).
        min: u64,
        /// Upper limit (allocation bound).
        max: u64,
    },
    /// An entry's name field has no NUL within its 32 bytes.
    EntryName {
        /// Entry index.
        index: u32,
    },
    /// An entry's offset is not a multiple of 8.
    EntryMisaligned {
        /// Entry index.
        index: u32,
        /// Offset found.
        offset: u64,
    },
    /// An entry's range `[offset, offset + size)` leaves `[table_size, bound)`.
    EntryOutOfBounds {
        /// Entry index.
        index: u32,
        /// Offset found.
        offset: u64,
        /// Size found.
        size: u64,
        /// The table size: no structure may start below it.
        min: u64,
        /// The allocation bound.
        bound: u64,
    },
    /// A field inside a structure holds an impossible value.
    Field {
        /// Table entry the structure lives in.
        entry: String,
        /// The field.
        field: &'static str,
        /// The value found.
        found: u64,
        /// What a valid value looks like.
        expected: String,
    },
    /// A range inside the segment lies outside the mapping.
    OutOfBounds {
        /// Start of the range.
        offset: u64,
        /// Its length.
        len: u64,
        /// The mapped size.
        bound: u64,
    },
    /// An offset is not aligned for the type stored there.
    Misaligned {
        /// The offset.
        offset: u64,
        /// The alignment required.
        align: u64,
    },
    /// The object is now smaller than this process's mapping of it: a peer with write access
    /// truncated it (`ftruncate`). The cut-off pages would raise `SIGBUS`, so they are not
    /// touched.
    Shrunk {
        /// The object's size now (`fstat`).
        size: u64,
        /// The mapped size (the object's size when it was opened).
        mapped: u64,
    },
}

impl Corruption {
    /// A [`Corruption::Field`]: in `entry`, `field` holds `found` where a valid value is
    /// `expected`. The one way the library builds it.
    ///
    /// # Examples
    ///
    /// ```
    /// let c = zeroipc::Corruption::field("jobs", "capacity", 3, "a power of two");
    /// assert_eq!(c.to_string(), "entry 'jobs': capacity is 3, expected a power of two");
    /// ```
    #[must_use]
    pub fn field(
        entry: impl fmt::Display,
        field: &'static str,
        found: u64,
        expected: impl Into<String>,
    ) -> Self {
        Self::Field {
            entry: entry.to_string(),
            field,
            found,
            expected: expected.into(),
        }
    }
}

impl fmt::Display for Corruption {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooSmall { size, min } => {
                write!(
                    f,
                    "segment is {size} bytes, smaller than the {min}-byte table header"
                )
            }
            Self::BadMagic { found } => write!(
                f,
                "bad magic {found:#010x} (expected {:#010x}): not a ZeroIPC segment",
                crate::layout::MAGIC
            ),
            Self::TableOutsideMapping {
                max_entries,
                table_size,
                mapped,
            } => write!(
                f,
                "max_entries {max_entries} implies a {table_size}-byte table, larger than the \
                 {mapped}-byte segment"
            ),
            Self::EntryCount { found, max_entries } => {
                write!(f, "entry_count {found} exceeds max_entries {max_entries}")
            }
            Self::MemorySize { found, min, mapped } => write!(
                f,
                "memory_size {found} outside [{min}, {mapped}] (table size, mapped size)"
            ),
            Self::NextOffset { found, min, max } => {
                write!(f, "next_offset {found} outside [{min}, {max}]")
            }
            Self::EntryName { index } => {
                write!(
                    f,
                    "entry {index}: name has no NUL terminator within 32 bytes"
                )
            }
            Self::EntryMisaligned { index, offset } => {
                write!(f, "entry {index}: offset {offset} is not a multiple of 8")
            }
            Self::EntryOutOfBounds {
                index,
                offset,
                size,
                min,
                bound,
            } => write!(
                f,
                "entry {index}: range {offset}+{size} leaves the data area [{min}, {bound})"
            ),
            Self::Field {
                entry,
                field,
                found,
                expected,
            } => {
                write!(
                    f,
                    "entry '{entry}': {field} is {found}, expected {expected}"
                )
            }
            Self::OutOfBounds { offset, len, bound } => {
                write!(
                    f,
                    "range {offset}+{len} lies outside the {bound}-byte mapping"
                )
            }
            Self::Misaligned { offset, align } => {
                write!(f, "offset {offset} is not aligned to {align}")
            }
            Self::Shrunk { size, mapped } => write!(
                f,
                "the segment was truncated to {size} bytes under this process's {mapped}-byte \
                 mapping (a peer called ftruncate)"
            ),
        }
    }
}

impl Error for Corruption {}

/// Why creating a segment failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum CreateError {
    /// The name is not a valid segment name.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: NameError,
    },
    /// A shared-memory object with this name exists (use `create_or_replace` to replace it).
    AlreadyExists {
        /// The normalised name.
        name: String,
    },
    /// The size cannot hold the table.
    TooSmall {
        /// Size requested.
        size: u64,
        /// `32 + 48 * max_entries`.
        min: u64,
    },
    /// The size does not fit this process's address space.
    TooLarge {
        /// Size requested.
        size: u64,
    },
    /// `max_entries` of 0.
    InvalidMaxEntries {
        /// Value given.
        found: u32,
    },
    /// `/dev/shm` cannot hold the segment (`fallocate` said `ENOSPC`); nothing was left behind.
    NoSpace {
        /// Size requested.
        size: u64,
        /// The OS error.
        source: io::Error,
    },
    /// The operating system refused.
    Os {
        /// The call that failed (`shm_open`, `fallocate`, `mmap`, ...).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName { name, reason } => {
                write!(f, "invalid segment name {name:?}: {reason}")
            }
            Self::AlreadyExists { name } => write!(
                f,
                "segment {name} already exists (open it, or ask for create_or_replace)"
            ),
            Self::TooSmall { size, min } => write!(
                f,
                "segment size {size} cannot hold the table (at least {min} bytes needed)"
            ),
            Self::TooLarge { size } => write!(f, "segment size {size} does not fit in memory"),
            Self::InvalidMaxEntries { found } => {
                write!(f, "max_entries {found} is invalid (at least 1 needed)")
            }
            Self::NoSpace { size, .. } => {
                write!(f, "/dev/shm has no room for a {size}-byte segment")
            }
            Self::Os { op, source } => write!(f, "{op} failed: {source}"),
        }
    }
}

impl Error for CreateError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::InvalidName { reason, .. } => Some(reason),
            Self::NoSpace { source, .. } | Self::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Why opening a segment failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum OpenError {
    /// The name is not a valid segment name.
    InvalidName {
        /// The name given.
        name: String,
        /// What is wrong with it.
        reason: NameError,
    },
    /// No shared-memory object has this name.
    NotFound {
        /// The normalised name.
        name: String,
    },
    /// The object exists but its creator has not finished initialising it (size 0 or magic
    /// 0). Retry, or use `open_timeout`.
    NotInitialized {
        /// The normalised name.
        name: String,
    },
    /// Written in a format version this library does not read.
    Version {
        /// Version found.
        found: u32,
        /// The version this library reads.
        supported: u32,
    },
    /// The bytes break the format.
    Corrupt(Corruption),
    /// The operating system refused.
    Os {
        /// The call that failed (`shm_open`, `fstat`, `mmap`).
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName { name, reason } => {
                write!(f, "invalid segment name {name:?}: {reason}")
            }
            Self::NotFound { name } => write!(f, "segment {name} not found"),
            Self::NotInitialized { name } => {
                write!(
                    f,
                    "segment {name} is still being initialised by its creator"
                )
            }
            Self::Version { found, supported } => write!(
                f,
                "segment format version {found} is not supported (this library reads {supported})"
            ),
            Self::Corrupt(c) => write!(f, "corrupt segment: {c}"),
            Self::Os { op, source } => write!(f, "{op} failed: {source}"),
        }
    }
}

impl Error for OpenError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::InvalidName { reason, .. } => Some(reason),
            Self::Corrupt(c) => Some(c),
            Self::Os { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl From<Corruption> for OpenError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Why a table operation (look-up or allocation of an entry) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TableError {
    /// No entry has this name.
    NotFound {
        /// The entry name.
        name: String,
    },
    /// An entry with this name exists already.
    AlreadyExists {
        /// The entry name.
        name: String,
    },
    /// The entry name is longer than 31 bytes, or contains a NUL byte.
    InvalidName {
        /// The entry name (lossy).
        name: String,
        /// Its length in bytes.
        len: usize,
    },
    /// Every entry slot is in use.
    TableFull {
        /// The table's capacity.
        max_entries: u32,
    },
    /// Not enough free bytes after `next_offset`.
    OutOfSpace {
        /// Bytes requested (before alignment).
        requested: u64,
        /// Bytes left after aligning `next_offset` to 8.
        available: u64,
    },
    /// The table's bytes break the format.
    Corrupt(Corruption),
    /// Taking the cross-process allocation lock (`flock`) failed.
    Lock(io::Error),
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound { name } => write!(f, "no entry named '{name}'"),
            Self::AlreadyExists { name } => write!(f, "an entry named '{name}' exists already"),
            Self::InvalidName { name, len } => write!(
                f,
                "entry name '{name}' is invalid: {len} bytes (1 to 31 allowed, no NUL)"
            ),
            Self::TableFull { max_entries } => {
                write!(
                    f,
                    "the table is full ({max_entries} entries; in a segment zeroipc created, \
                     one is its type catalog unless SegmentOptions::catalog(false); the first \
                     Queue and the first Semaphore zeroipc creates add one registry each)"
                )
            }
            Self::OutOfSpace {
                requested,
                available,
            } => write!(
                f,
                "out of space: {requested} bytes requested, {available} available"
            ),
            Self::Corrupt(c) => write!(f, "corrupt table: {c}"),
            Self::Lock(e) => write!(f, "cannot take the allocation lock: {e}"),
        }
    }
}

impl Error for TableError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Lock(e) => Some(e),
            _ => None,
        }
    }
}

impl From<Corruption> for TableError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Why creating or opening a typed structure (Array, Queue, ...) failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum StructureError {
    /// The table refused (name taken, table full, out of space, not found, ...).
    Table(TableError),
    /// A capacity (or other size parameter) the structure cannot work with.
    InvalidCapacity {
        /// The value given.
        requested: u64,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The stored element size differs from `size_of::<T>()`.
    ElementSize {
        /// The entry.
        entry: String,
        /// Element size stored in (or implied by) the segment.
        stored: u64,
        /// `size_of::<T>()`.
        expected: u64,
    },
    /// The entry holds another implementation's incompatible layout (a C Array, a Python
    /// Map, ...); reading it as ours would return garbage.
    Foreign {
        /// The entry.
        entry: String,
        /// Whose layout it is.
        format: &'static str,
        /// How it was recognised.
        detail: String,
    },
    /// The structure's bytes break the format.
    Corrupt(Corruption),
    /// The segment's type catalog records this entry as another kind of structure (a
    /// Mutex opened as a Semaphore). [`Segment::unchecked`](crate::Segment::unchecked) opens
    /// without this check.
    KindMismatch {
        /// The entry.
        entry: String,
        /// The kind the catalog records.
        recorded: crate::segment::CatalogKind,
        /// The kind this open expected.
        expected: crate::segment::CatalogKind,
    },
    /// The segment's type catalog records another element type for this entry (a
    /// `Future<u64>` opened as `Future<u32>`, or `u32` as `f32`): its size, alignment or
    /// name differs. [`Segment::unchecked`](crate::Segment::unchecked) opens without this
    /// check.
    TypeMismatch {
        /// The entry.
        entry: String,
        /// The element type the catalog records (name, size, alignment).
        recorded: String,
        /// The element type of this open.
        expected: String,
    },
}

impl fmt::Display for StructureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(e) => e.fmt(f),
            Self::InvalidCapacity { requested, reason } => {
                write!(f, "invalid capacity {requested}: {reason}")
            }
            Self::ElementSize {
                entry,
                stored,
                expected,
            } => write!(
                f,
                "entry '{entry}' holds {stored}-byte elements, this type is {expected} bytes"
            ),
            Self::Foreign {
                entry,
                format,
                detail,
            } => write!(
                f,
                "entry '{entry}' is in the {format} layout, which this library does not read: \
                 {detail}"
            ),
            Self::Corrupt(c) => write!(f, "corrupt structure: {c}"),
            Self::KindMismatch {
                entry,
                recorded,
                expected,
            } => write!(
                f,
                "entry '{entry}' is a {recorded} (the type catalog says so), not a {expected}"
            ),
            Self::TypeMismatch {
                entry,
                recorded,
                expected,
            } => write!(
                f,
                "entry '{entry}' holds {recorded} (the type catalog says so), not {expected}"
            ),
        }
    }
}

impl Error for StructureError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Table(e) => Some(e),
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl From<TableError> for StructureError {
    fn from(e: TableError) -> Self {
        match e {
            TableError::Corrupt(c) => Self::Corrupt(c),
            other => Self::Table(other),
        }
    }
}

impl From<Corruption> for StructureError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// An index past the end of an Array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfBounds {
    /// The index (or end of the range) asked for.
    pub index: usize,
    /// The number of elements.
    pub len: usize,
}

impl fmt::Display for OutOfBounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "index {} out of bounds for length {}",
            self.index, self.len
        )
    }
}

impl Error for OutOfBounds {}

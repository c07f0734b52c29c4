//! Segments: named POSIX shared-memory objects holding a table of named structures.
//!
//! # Layout
//!
//! | offset                | size              | what                                  |
//! |-----------------------|-------------------|---------------------------------------|
//! | 0                     | 32                | table header (magic, version, counts) |
//! | 32                    | 48 × max_entries  | entries: `name[32]`, offset, size     |
//! | 32 + 48 × max_entries | up to memory_size | structures, bump-allocated, 8-aligned |
//!
//! The first structure of a segment zeroipc creates is its type catalog
//! ([`CATALOG_ENTRY_NAME`], read with [`ReadOnlySegment::catalog`]; docs/CATALOG.md) unless
//! [`SegmentOptions::catalog`] turned it off.
//!
//! (FORMAT.md §3.) The creator zeroes the table, writes the header and stores the magic
//! **last** with Release; an opener that finds magic 0 (or a size-0 object) gets
//! [`OpenError::NotInitialized`] and may retry with [`Segment::open_timeout`]. Every header
//! field and entry is validated against the mapped size before use.
//!
//! # Synchronization
//!
//! | store (Release)                   | load (Acquire)                 | publishes                  |
//! |-----------------------------------|--------------------------------|----------------------------|
//! | `magic` in [`SegmentOptions::create_new`] | `magic` on open        | the initialised table      |
//! | `entry_count` when a structure is created | `entry_count` on look-up | the entry and its bytes |
//!
//! Creating structures is serialised among zeroipc processes by `flock` on the segment's
//! descriptor. Upstream C++, C, Go and Python peers take no lock (FORMAT.md D-1): when mixing
//! languages, create structures from one process.
//!
//! # Process death
//!
//! A creator killed before storing the magic leaves a segment that opens as
//! `NotInitialized` forever; remove it with [`Segment::unlink`]. A process killed while
//! creating a structure publishes nothing (see the table's `allocate`). Dropping a handle
//! never unlinks: segments live until [`Segment::unlink`] (or a reboot), as upstream.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions};
//! # let name = format!("/zeroipc-doc-segment-{}", std::process::id());
//! let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
//! assert_eq!(seg.size(), 1 << 20);
//!
//! let peer = Segment::open(&name)?; // typically in another process
//! assert_eq!(peer.max_entries(), 64);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub(crate) mod catalog;
mod expect;
pub(crate) mod name;
pub(crate) mod permits;
pub(crate) mod region;
pub(crate) mod table;
pub(crate) mod validate;
pub(crate) mod waiters;

use std::fmt;
use std::io;
use std::ops::Deref;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{CreateError, OpenError, TableError};
use crate::layout::table::TableHeader;
use crate::layout::{DEFAULT_MAX_ENTRIES, FORMAT_VERSION, MAGIC, NAME_FIELD_LEN, table_size};
use crate::loom::Ordering::{Relaxed, Release};
use crate::sys::mapping::Mapping;
use crate::sys::shm::{Access, Shm};

pub use catalog::{CATALOG_ENTRY_NAME, Catalog, CatalogError, CatalogKind, Record};
use region::Region;
use validate::TableLayout;

/// Default permission bits of a new segment: owner read/write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// How long creating a structure waits for the segment's allocation lock (`flock`) before
/// failing with [`TableError::Lock`]. Holders keep it for microseconds (the time to zero
/// the new structure), so reaching this bound means the holder is stopped or hung.
pub const ALLOCATION_LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Builder for creating segments.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// # let name = format!("/zeroipc-doc-options-{}", std::process::id());
/// let seg = SegmentOptions::new()
///     .size(4 << 20)
///     .max_entries(128)
///     .mode(0o660)
///     .create_new(&name)?;
/// assert_eq!(seg.max_entries(), 128);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct SegmentOptions {
    size: u64,
    max_entries: u32,
    mode: u32,
    catalog: bool,
}

impl Default for SegmentOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentOptions {
    /// 1 MiB, 64 entries (what upstream C++, Go and Python openers assume), mode 0600.
    #[must_use]
    pub fn new() -> Self {
        Self {
            size: 1 << 20,
            max_entries: DEFAULT_MAX_ENTRIES,
            mode: DEFAULT_MODE,
            catalog: true,
        }
    }

    /// Total segment size in bytes, table included.
    #[must_use]
    pub fn size(mut self, bytes: u64) -> Self {
        self.size = bytes;
        self
    }

    /// Capacity of the entry table (default 64). Upstream C++, Go and Python peers open with
    /// 64 unless told otherwise and refuse a table with more than 64 entries in use.
    ///
    /// With the type catalog on (the default, [`SegmentOptions::catalog`]) one of these
    /// entries is the catalog, so `n − 1` remain for structures (composites such as RwLock
    /// and Stream take several each). The first [`Queue`](crate::structures::Queue) (or
    /// Channel) and the first [`Semaphore`](crate::sync::Semaphore) created in a segment add
    /// one more entry each: zeroipc's waiter and permit-holder registries
    /// (docs/EXTENSIONS.md), created with those structures and never at run time.
    #[must_use]
    pub fn max_entries(mut self, n: u32) -> Self {
        self.max_entries = n;
        self
    }

    /// Permission bits (default 0600). Applied exactly with `fchmod`, so the umask does not
    /// narrow them (unlike upstream, which asks for 0666 and lets the umask decide).
    #[must_use]
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode & 0o7777;
        self
    }

    /// Whether to create the type catalog (default `true`): the first table entry,
    /// `__zeroipc_catalog`, where zeroipc records the kind, element type and sub-entries of
    /// every structure it creates, so `zeroipc show` decodes them without `--as`
    /// (`docs/CATALOG.md`). It costs one table slot and at most an eighth of the space after
    /// the table; it is not created when that space holds no record or `max_entries` is 1.
    ///
    /// Turn it off for a segment that must be byte-identical to one created by the C++, C, Go
    /// or Python implementations (other implementations ignore the entry, but it shifts the
    /// offsets of every structure after it). Creating a Queue or a Semaphore in it still adds
    /// the registry that structure needs, the first time (docs/EXTENSIONS.md); nothing else
    /// zeroipc does adds a table entry.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions};
    /// # let name = format!("/zeroipc-doc-options-catalog-{}", std::process::id());
    /// let seg = SegmentOptions::new().catalog(false).create_new(&name)?;
    /// assert_eq!(seg.header()?.entry_count, 0);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn catalog(mut self, on: bool) -> Self {
        self.catalog = on;
        self
    }

    /// Creates a new segment; fails with [`CreateError::AlreadyExists`] if the name is taken.
    ///
    /// The segment's pages are reserved up front (`fallocate`), so a size `/dev/shm` cannot
    /// hold fails here with [`CreateError::NoSpace`], never with `SIGBUS` later.
    ///
    /// # Errors
    ///
    /// [`CreateError`]: invalid name or size, name taken, no space, or an OS error. On error
    /// nothing is left behind.
    pub fn create_new(&self, name: &str) -> Result<Segment, CreateError> {
        crate::sys::membarrier::register();
        let name = name::normalize(name).map_err(|reason| CreateError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        if self.max_entries == 0 {
            return Err(CreateError::InvalidMaxEntries { found: 0 });
        }
        let min = table_size(self.max_entries);
        if self.size < min {
            return Err(CreateError::TooSmall {
                size: self.size,
                min,
            });
        }
        let len = usize::try_from(self.size)
            .ok()
            .filter(|&l| isize::try_from(l).is_ok())
            .ok_or(CreateError::TooLarge { size: self.size })?;
        let shm = Shm::create_exclusive(&name, self.mode).map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => CreateError::AlreadyExists { name: name.clone() },
            _ => CreateError::Os {
                op: "shm_open",
                source: e,
            },
        })?;
        // From here on, a failure removes what we created.
        let fail = |e: CreateError| {
            let _ = Shm::unlink(&name);
            e
        };
        shm.reserve(self.size).map_err(|e| {
            fail(
                if e.raw_os_error() == Some(rustix::io::Errno::NOSPC.raw_os_error()) {
                    CreateError::NoSpace {
                        size: self.size,
                        source: e,
                    }
                } else {
                    CreateError::Os {
                        op: "fallocate",
                        source: e,
                    }
                },
            )
        })?;
        let mapping = Mapping::map(&shm, len, Access::ReadWrite).map_err(|e| {
            fail(CreateError::Os {
                op: "mmap",
                source: e,
            })
        })?;
        let region = Region::new(mapping);
        let table = table_size(self.max_entries);
        let header: &TableHeader = region.header(0).map_err(|_| {
            fail(CreateError::TooSmall {
                size: self.size,
                min,
            })
        })?;
        // ORDERING: Relaxed — nobody can see the segment until the magic is stored (Release,
        // below; Acquire in `open`), which publishes these stores.
        region.zero(0, table).map_err(|_| {
            fail(CreateError::TooSmall {
                size: self.size,
                min,
            })
        })?;
        header.version.store(FORMAT_VERSION, Relaxed);
        header.entry_count.store(0, Relaxed);
        header.max_entries.store(self.max_entries, Relaxed);
        header.memory_size.store(self.size, Relaxed);
        header.next_offset.store(table, Relaxed);
        let layout = TableLayout {
            max_entries: self.max_entries,
            table_size: table,
            bound: self.size,
        };
        if self.catalog {
            // Cannot fail for a table we just sized; if it did, the segment simply has no
            // catalog (it is optional).
            let _ = catalog::create(&region, &layout);
        }
        // ORDERING: Release — pairs with the Acquire load of `magic` in `TableLayout::read`:
        // an opener that sees MAGIC sees the whole initialised table (and the catalog).
        header.magic.store(MAGIC, Release);
        Ok(Segment {
            ro: ReadOnlySegment {
                inner: Arc::new(Inner::new(name, shm, region, layout)),
            },
            check_catalog: true,
        })
    }

    /// Removes any object named `name`, then creates a new segment: the upstream C++/Go
    /// behaviour, only when asked for.
    ///
    /// Processes that still map the old object keep using it and no longer share anything
    /// with processes that open the new one (FORMAT.md IH-3).
    ///
    /// # Errors
    ///
    /// As [`SegmentOptions::create_new`]. If another process recreates the name between
    /// our unlink and our create, one more unlink-and-create is tried, as upstream.
    pub fn create_or_replace(&self, name: &str) -> Result<Segment, CreateError> {
        let normalized = name::normalize(name).map_err(|reason| CreateError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        let _ = Shm::unlink(&normalized);
        match self.create_new(&normalized) {
            Err(CreateError::AlreadyExists { .. }) => {
                let _ = Shm::unlink(&normalized);
                self.create_new(&normalized)
            }
            other => other,
        }
    }
}

/// What both segment handles share.
struct Inner {
    name: String,
    shm: Shm,
    region: Region,
    layout: TableLayout,
    /// The in-process half of the allocation lock (flock is per open file description).
    alloc: Mutex<()>,
    /// Where this process found the waiter registry (see `waiters`).
    waiters: waiters::Cache,
    /// This process's slots in the permit-holder registry (see `permits`).
    permits: permits::Cache,
}

impl Inner {
    fn new(name: String, shm: Shm, region: Region, layout: TableLayout) -> Self {
        Self {
            name,
            shm,
            region,
            layout,
            alloc: Mutex::new(()),
            waiters: waiters::Cache::default(),
            permits: permits::Cache::default(),
        }
    }
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("size", &self.region.len())
            .field("max_entries", &self.layout.max_entries)
            .field("writable", &self.region.writable())
            .finish()
    }
}

/// A read-only view of a segment: inspection that never writes.
///
/// Mapped with `PROT_READ`, so no bug can modify the segment through it. [`Segment`]
/// dereferences to this type, so everything here is available on both.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// # let name = format!("/zeroipc-doc-readonly-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let ro = Segment::open_read_only(&name)?;
/// for entry in ro.entries()? {
///     println!("{} at {} ({} bytes)", entry.name(), entry.offset(), entry.size());
/// }
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ReadOnlySegment {
    inner: Arc<Inner>,
}

/// A read-write handle on a segment. Cheap to clone (an `Arc`), `Send + Sync`; structure
/// handles keep it alive. Dropping it never unlinks the segment.
///
/// Dereferences to [`ReadOnlySegment`] for inspection (entries, header, raw bytes).
///
/// See the [module documentation](self) for the layout and an example.
#[derive(Clone, Debug)]
pub struct Segment {
    ro: ReadOnlySegment,
    /// Whether typed opens through this handle check the type catalog
    /// ([`Segment::unchecked`] turns it off).
    check_catalog: bool,
}

impl Deref for Segment {
    type Target = ReadOnlySegment;
    fn deref(&self) -> &ReadOnlySegment {
        &self.ro
    }
}

fn open_mapped(name: &str, access: Access) -> Result<ReadOnlySegment, OpenError> {
    crate::sys::membarrier::register();
    let name = name::normalize(name).map_err(|reason| OpenError::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let shm = Shm::open(&name, access).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => OpenError::NotFound { name: name.clone() },
        _ => OpenError::Os {
            op: "shm_open",
            source: e,
        },
    })?;
    let size = shm.size().map_err(|e| OpenError::Os {
        op: "fstat",
        source: e,
    })?;
    if size == 0 {
        // The creator has not sized it yet (or it is not ours; a timeout will tell).
        return Err(OpenError::NotInitialized { name });
    }
    let len = usize::try_from(size).map_err(|_| OpenError::Os {
        op: "mmap",
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            "segment larger than the address space",
        ),
    })?;
    let mapping = Mapping::map(&shm, len, access).map_err(|e| OpenError::Os {
        op: "mmap",
        source: e,
    })?;
    let region = Region::new(mapping);
    let layout = TableLayout::read(&region, &name)?;
    // Validate every entry now, so a corrupt table is reported at open.
    table::entries(&region, &layout)?;
    Ok(ReadOnlySegment {
        inner: Arc::new(Inner::new(name, shm, region, layout)),
    })
}

fn with_timeout<T>(
    timeout: Duration,
    mut attempt: impl FnMut() -> Result<T, OpenError>,
) -> Result<T, OpenError> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_micros(100);
    loop {
        match attempt() {
            Err(OpenError::NotFound { .. } | OpenError::NotInitialized { .. })
                if Instant::now() < deadline =>
            {
                std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
                pause = (pause * 2).min(Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

impl Segment {
    /// Opens an existing segment read-write and validates its table (FORMAT.md §3.5).
    ///
    /// `max_entries` is taken from the header, not from the caller (FORMAT.md IH-2).
    ///
    /// # Errors
    ///
    /// [`OpenError::NotFound`], [`OpenError::NotInitialized`] (the creator is still
    /// initialising it), [`OpenError::Version`], [`OpenError::Corrupt`] naming the field that
    /// is wrong, or an OS error (for example permission denied).
    pub fn open(name: &str) -> Result<Segment, OpenError> {
        Ok(Segment {
            ro: open_mapped(name, Access::ReadWrite)?,
            check_catalog: true,
        })
    }

    /// [`Segment::open`], waiting up to `timeout` for the segment to appear and be
    /// initialised by its creator.
    ///
    /// # Errors
    ///
    /// As [`Segment::open`]; `NotFound` or `NotInitialized` once `timeout` has passed.
    pub fn open_timeout(name: &str, timeout: Duration) -> Result<Segment, OpenError> {
        with_timeout(timeout, || Self::open(name))
    }

    /// Opens an existing segment read-only (`PROT_READ`): inspection never writes.
    ///
    /// # Errors
    ///
    /// As [`Segment::open`].
    pub fn open_read_only(name: &str) -> Result<ReadOnlySegment, OpenError> {
        open_mapped(name, Access::ReadOnly)
    }

    /// [`Segment::open_read_only`], waiting up to `timeout` for the segment to be ready.
    ///
    /// # Errors
    ///
    /// As [`Segment::open_timeout`].
    pub fn open_read_only_timeout(
        name: &str,
        timeout: Duration,
    ) -> Result<ReadOnlySegment, OpenError> {
        with_timeout(timeout, || Self::open_read_only(name))
    }

    /// Removes the name `name` (`shm_unlink`). Processes that map the segment keep it until
    /// they drop their handles.
    ///
    /// # Errors
    ///
    /// [`OpenError::InvalidName`], [`OpenError::NotFound`], or [`OpenError::Os`] (for
    /// example permission denied).
    pub fn unlink(name: &str) -> Result<(), OpenError> {
        let name = name::normalize(name).map_err(|reason| OpenError::InvalidName {
            name: name.to_owned(),
            reason,
        })?;
        Shm::unlink(&name).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => OpenError::NotFound { name },
            _ => OpenError::Os {
                op: "shm_unlink",
                source: e,
            },
        })
    }

    /// Appends an entry of `size` bytes named `name`, zeroes it, lets `init` write the
    /// structure at the returned offset, and only then publishes the entry.
    ///
    /// Serialised among zeroipc processes (flock) and threads (a mutex). Waits at most
    /// [`ALLOCATION_LOCK_TIMEOUT`] for the flock: a holder that is stopped or hung makes this
    /// fail with [`TableError::Lock`] (kind `TimedOut`) instead of blocking forever.
    pub(crate) fn allocate<E: From<TableError>>(
        &self,
        name: &str,
        size: u64,
        init: impl FnOnce(&Region, u64) -> Result<(), E>,
    ) -> Result<Entry, E> {
        self.with_allocation_lock(|region, layout| {
            table::allocate(region, layout, name, size, |at| init(region, at))
        })
    }

    /// Runs `f` holding the allocation lock (the process-local mutex, then the `flock`, for at
    /// most [`ALLOCATION_LOCK_TIMEOUT`]), after checking that no peer truncated the segment.
    pub(crate) fn with_allocation_lock<T, E: From<TableError>>(
        &self,
        f: impl FnOnce(&Region, &TableLayout) -> Result<T, E>,
    ) -> Result<T, E> {
        let inner = &self.ro.inner;
        let _local = inner
            .alloc
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner
            .shm
            .lock_exclusive_until(Instant::now() + ALLOCATION_LOCK_TIMEOUT)
            .map_err(TableError::Lock)?;
        // Writing past `next_offset` touches pages a peer may have cut off (they would raise
        // SIGBUS): refuse if the object shrank.
        if let Err(c) = self.ro.check_not_shrunk() {
            let _ = inner.shm.unlock();
            return Err(TableError::Corrupt(c).into());
        }
        let result = f(&inner.region, &inner.layout);
        let _ = inner.shm.unlock();
        result
    }
}

impl ReadOnlySegment {
    /// The normalised name (with its leading `/`).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The mapped size in bytes (the object's size when it was opened).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.inner.region.len()
    }

    /// Capacity of the entry table, from the header.
    #[must_use]
    pub fn max_entries(&self) -> u32 {
        self.inner.layout.max_entries
    }

    /// Where structures end: `min(memory_size, mapped size)`.
    #[must_use]
    pub fn bound(&self) -> u64 {
        self.inner.layout.bound
    }

    /// A snapshot of the table header, validated.
    ///
    /// # Errors
    ///
    /// [`Corruption`](crate::Corruption) if a peer has since written an invalid
    /// `entry_count` or `next_offset`.
    pub fn header(&self) -> Result<SegmentHeader, crate::Corruption> {
        self.check_not_shrunk()?;
        let inner = &self.inner;
        Ok(SegmentHeader {
            version: FORMAT_VERSION,
            entry_count: inner.layout.entry_count(&inner.region)?,
            max_entries: inner.layout.max_entries,
            memory_size: inner.layout.bound,
            next_offset: inner.layout.next_offset(&inner.region)?,
            table_size: inner.layout.table_size,
        })
    }

    /// Every entry in table order.
    ///
    /// # Errors
    ///
    /// [`Corruption`](crate::Corruption) at the first invalid entry, or
    /// [`Corruption::Shrunk`](crate::Corruption::Shrunk) if a peer truncated the segment.
    pub fn entries(&self) -> Result<Vec<Entry>, crate::Corruption> {
        self.check_not_shrunk()?;
        table::entries(&self.inner.region, &self.inner.layout)
    }

    /// The entry named `name`.
    ///
    /// # Errors
    ///
    /// [`TableError::NotFound`], [`TableError::InvalidName`] for a name no entry can have,
    /// or [`TableError::Corrupt`] (also when a peer truncated the segment:
    /// [`Corruption::Shrunk`](crate::Corruption::Shrunk)).
    pub fn find(&self, name: &str) -> Result<Entry, TableError> {
        table::check_entry_name(name)?;
        self.check_not_shrunk()?;
        table::find(&self.inner.region, &self.inner.layout, name)?.ok_or_else(|| {
            TableError::NotFound {
                name: name.to_owned(),
            }
        })
    }

    /// Copies `len` bytes at segment offset `offset` (Relaxed atomic loads: a snapshot that
    /// other processes may be changing, never a data race).
    ///
    /// # Errors
    ///
    /// [`Corruption::OutOfBounds`](crate::Corruption::OutOfBounds) if the range leaves the
    /// mapping.
    pub fn read_bytes(&self, offset: u64, len: u64) -> Result<Vec<u8>, crate::Corruption> {
        let n = usize::try_from(len).map_err(|_| crate::Corruption::OutOfBounds {
            offset,
            len,
            bound: self.size(),
        })?;
        self.inner.region.check(offset, len, 1)?;
        self.check_not_shrunk()?;
        let mut out = vec![0; n];
        self.inner.region.read_bytes(offset, &mut out)?;
        Ok(out)
    }

    /// The shm object's permission bits and owner uid.
    ///
    /// # Errors
    ///
    /// The `fstat` error.
    pub fn mode_and_owner(&self) -> io::Result<(u32, u32)> {
        self.inner.shm.mode_and_owner()
    }

    pub(crate) fn region(&self) -> &Region {
        &self.inner.region
    }

    /// Which shared-memory object this is, as `(device, inode)` of its descriptor: equal for
    /// every handle on the same object in this process, however it was opened (clones,
    /// separate `open`s, other names for the same file). Used for per-process claims (one
    /// producer per Ring). If `fstat` fails (it cannot for a shm descriptor we own), the
    /// mapping's address stands in: still unique per mapping, just not across opens.
    pub(crate) fn identity(&self) -> (u64, u64) {
        self.inner
            .shm
            .identity()
            .unwrap_or((u64::MAX, Arc::as_ptr(&self.inner).addr() as u64))
    }

    /// Fails with [`Corruption::Shrunk`](crate::Corruption::Shrunk) if the object is now
    /// smaller than our mapping: a peer with write access called `ftruncate`, and touching
    /// the cut-off pages would raise `SIGBUS`.
    ///
    /// One `fstat`. Called before every table access (open of structures, `entries`, `find`,
    /// `header`, `read_bytes`, allocation), not on element access: a truncation after this
    /// check still kills us on the next touch of a cut-off page (docs/THREAT_MODEL.md).
    pub(crate) fn check_not_shrunk(&self) -> Result<(), crate::Corruption> {
        let mapped = self.inner.region.len();
        match self.inner.shm.size() {
            Ok(size) if size < mapped => Err(crate::Corruption::Shrunk { size, mapped }),
            // `fstat` of a descriptor we own cannot fail for a shm object in practice; if it
            // ever did, we know nothing new and carry on as before this check existed.
            _ => Ok(()),
        }
    }
}

/// A validated snapshot of a segment's table header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentHeader {
    /// Format version (always 2).
    pub version: u32,
    /// Entries in use.
    pub entry_count: u32,
    /// Capacity of the entry table.
    pub max_entries: u32,
    /// `memory_size` from the header (never larger than the mapping, or the open failed).
    pub memory_size: u64,
    /// The bump allocator's next free byte.
    pub next_offset: u64,
    /// `32 + 48 * max_entries`: where structures begin.
    pub table_size: u64,
}

/// A table entry: a name and the byte range of the structure it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    index: u32,
    name: EntryName,
    offset: u64,
    size: u64,
}

impl Entry {
    /// Position in the table.
    #[must_use]
    pub fn index(&self) -> u32 {
        self.index
    }

    /// The entry's name.
    #[must_use]
    pub fn name(&self) -> &EntryName {
        &self.name
    }

    /// Start of the structure, from the segment base (a multiple of 8).
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Size of the structure as requested by its creator (not rounded up).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }
}

/// An entry name: up to 31 bytes, usually UTF-8 (C peers may store any bytes).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntryName {
    bytes: [u8; NAME_FIELD_LEN],
    len: u8,
}

impl EntryName {
    fn from_field(field: &[u8; NAME_FIELD_LEN], len: usize) -> Self {
        let mut bytes = [0; NAME_FIELD_LEN];
        let len = len.min(NAME_FIELD_LEN - 1);
        bytes[..len].copy_from_slice(&field[..len]);
        // `len` <= 31 fits in a u8.
        Self {
            bytes,
            len: u8::try_from(len).unwrap_or(31),
        }
    }

    /// The name's bytes, without the NUL.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    /// The name as UTF-8, if it is.
    #[must_use]
    pub fn to_str(&self) -> Option<&str> {
        std::str::from_utf8(self.as_bytes()).ok()
    }
}

impl PartialEq<str> for EntryName {
    fn eq(&self, other: &str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl PartialEq<&str> for EntryName {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl fmt::Display for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}

impl fmt::Debug for EntryName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

//! The type catalog: one zeroipc-only table entry, `__zeroipc_catalog`, recording for each
//! structure zeroipc creates its kind, element type name, element size and alignment, field
//! layout and sub-entries, so tools decode zeroipc's own segments exactly. The byte layout
//! is documented in `docs/CATALOG.md`; the field offsets are in `layout::catalog`.
//!
//! # Layout
//!
//! | off            | size | field                                                     |
//! |----------------|------|-----------------------------------------------------------|
//! | 0x00           | 4    | `magic` `"ZCAT"` (0x5441435A)                             |
//! | 0x04           | 4    | `version` 1                                               |
//! | 0x08           | 4    | `capacity`: records the entry holds                       |
//! | 0x0C           | 4    | `count`: records published                                |
//! | 16 + 256·i     | 256  | record *i* (name, entry index, kind, sizes, texts)        |
//!
//! The catalog is created by [`SegmentOptions::create_new`](super::SegmentOptions) as the
//! first table entry, before the segment's magic is published, unless
//! [`SegmentOptions::catalog`](super::SegmentOptions::catalog) turned it off or it would take
//! more than an eighth of the segment or the last table slot. Segments created by other
//! implementations have none, and zeroipc never adds one to them: their structures are
//! recognised by the size formulas (see [`crate::inspect`]).
//!
//! # Synchronization
//!
//! | store (Release)                     | load (Acquire)                         | publishes     |
//! |-------------------------------------|----------------------------------------|---------------|
//! | `count` in `Segment::record`        | `count` in [`ReadOnlySegment::catalog`] | the record   |
//!
//! Appends are serialised by the segment's allocation lock (the process-local mutex plus the
//! `flock` that serialises table allocation): the appender writes record `count` completely,
//! then stores `count + 1` with Release. A reader loads `count` with Acquire and reads only
//! records below it, so it never sees half a record. A record is never changed once
//! published; attaching a field layout later ([`Segment::describe`]) appends a new record for
//! the same structure, and the **last** record for a name wins.
//!
//! # Process death
//!
//! A process killed while appending releases the `flock` with its descriptor; if it died
//! before the Release store of `count`, the half-written record is invisible and the next
//! append overwrites it. A process killed between creating a structure and recording it
//! leaves a structure without a record: tools then classify it by its bytes, as for a
//! foreign segment. The catalog is never needed for correctness: creating a structure never
//! fails because of it (a full, missing or corrupt catalog just records nothing).
//!
//! Nothing read from the catalog is trusted: [`ReadOnlySegment::catalog`] checks the header
//! (a typed [`CatalogError`]) and every record (a bad record is skipped with a
//! [`Catalog::problems`] line), and the inspector checks every claim against the
//! structure's own header, whose bytes win.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::fmt;

use crate::error::{Corruption, TableError};
use crate::layout::catalog::{
    CATALOG_ENTRY, CATALOG_HEADER_LEN, CATALOG_MAGIC, CATALOG_VERSION, CatalogHeader,
    CatalogRecord, LAYOUT_LEN, PARTS_LEN, RECORD_LEN, TYPE_NAME_LEN, catalog_size,
};
use crate::layout::{MAX_ENTRY_NAME_LEN, NAME_FIELD_LEN};
use crate::loom::AtomicU8;
use crate::loom::Ordering::{Acquire, Relaxed, Release};

use super::region::Region;
use super::validate::TableLayout;
use super::{Entry, ReadOnlySegment, Segment};

/// The catalog's table entry name. Other implementations see an entry they never look up.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// # let name = format!("/zeroipc-doc-catalog-entry-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// assert_eq!(seg.entries()?[0].name(), zeroipc::segment::CATALOG_ENTRY_NAME);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const CATALOG_ENTRY_NAME: &str = CATALOG_ENTRY;

/// The catalog takes at most this fraction (1/n) of the space after the table.
const SHARE: u64 = 8;

/// What kind of structure a catalog record describes. The numbers are the wire codes.
///
/// # Examples
///
/// ```
/// use zeroipc::segment::CatalogKind;
/// assert_eq!(CatalogKind::from_code(2), Some(CatalogKind::Queue));
/// assert_eq!(CatalogKind::Queue.code(), 2);
/// assert_eq!(CatalogKind::Queue.name(), "queue");
/// assert_eq!(CatalogKind::from_code(0), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the names are the structures'
pub enum CatalogKind {
    Array = 1,
    Queue = 2,
    Stack = 3,
    Ring = 4,
    Pool = 5,
    Map = 6,
    Set = 7,
    Semaphore = 8,
    Mutex = 9,
    RwLock = 10,
    Barrier = 11,
    Latch = 12,
    Once = 13,
    Event = 14,
    Monitor = 15,
    Signal = 16,
    Future = 17,
    Lazy = 18,
    Channel = 19,
    Stream = 20,
}

impl CatalogKind {
    /// Every kind, by code.
    pub const ALL: [CatalogKind; 20] = [
        Self::Array,
        Self::Queue,
        Self::Stack,
        Self::Ring,
        Self::Pool,
        Self::Map,
        Self::Set,
        Self::Semaphore,
        Self::Mutex,
        Self::RwLock,
        Self::Barrier,
        Self::Latch,
        Self::Once,
        Self::Event,
        Self::Monitor,
        Self::Signal,
        Self::Future,
        Self::Lazy,
        Self::Channel,
        Self::Stream,
    ];

    /// The wire code (1 to 20).
    #[must_use]
    pub fn code(self) -> u32 {
        self as u32
    }

    /// The kind with wire code `code`, if any.
    #[must_use]
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }

    /// `"array"`, `"queue"`, ..., `"stream"`: the names `zeroipc show --kind` uses.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Array => "array",
            Self::Queue => "queue",
            Self::Stack => "stack",
            Self::Ring => "ring",
            Self::Pool => "pool",
            Self::Map => "map",
            Self::Set => "set",
            Self::Semaphore => "semaphore",
            Self::Mutex => "mutex",
            Self::RwLock => "rwlock",
            Self::Barrier => "barrier",
            Self::Latch => "latch",
            Self::Once => "once",
            Self::Event => "event",
            Self::Monitor => "monitor",
            Self::Signal => "signal",
            Self::Future => "future",
            Self::Lazy => "lazy",
            Self::Channel => "channel",
            Self::Stream => "stream",
        }
    }
}

impl fmt::Display for CatalogKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One catalog record: what zeroipc knew about a structure when it created it.
///
/// Read with [`ReadOnlySegment::catalog`]; every field has been checked to be well-formed,
/// and the record to name an existing table entry, but its claims about the structure are
/// the creator's word: the inspector checks them against the structure's header.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Queue};
/// use zeroipc::segment::CatalogKind;
/// # let name = format!("/zeroipc-doc-catalog-record-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// Queue::<u64>::create(&seg, "jobs", 8)?;
/// let catalog = seg.catalog()?.expect("created with the segment");
/// let r = catalog.find("jobs").unwrap();
/// assert_eq!((r.kind, r.type_name.as_str(), r.elem_size, r.elem_align), (CatalogKind::Queue, "u64", 8, 8));
/// assert_eq!(r.layout, "u64");
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The structure's name (a composite's base name).
    pub name: String,
    /// Table index of its first entry (`name` followed by `parts[0]`).
    pub entry_index: u32,
    /// Its kind.
    pub kind: CatalogKind,
    /// `std::any::type_name` of the element (`K=V` for a Map; empty without elements);
    /// at most 95 bytes, cut at a character boundary.
    pub type_name: String,
    /// Element size in bytes (a Map's key size; 0 without elements).
    pub elem_size: u32,
    /// Element alignment (a Map's key alignment; 0 without elements).
    pub elem_align: u32,
    /// A Map's value size (0 otherwise).
    pub value_size: u32,
    /// A Map's value alignment (0 otherwise).
    pub value_align: u32,
    /// The element's field layout in `zeroipc show --as` syntax (`"u64"`, `"u32=f64"`,
    /// `"i32,f32,f64,u8"`), or empty when unknown (a user struct nobody described).
    pub layout: String,
    /// The entry-name suffixes of the structure's table entries in creation order (`""` is
    /// the name itself): `[""]` for a plain structure, `["_state", "_rmtx", "_wmtx", ""]`
    /// for an RwLock.
    pub parts: Vec<String>,
}

impl Record {
    /// A record for a structure of `kind` named `name` whose first entry is `first`.
    pub(crate) fn new(kind: CatalogKind, name: &str, first: &Entry) -> Self {
        Self {
            name: name.to_owned(),
            entry_index: first.index(),
            kind,
            type_name: String::new(),
            elem_size: 0,
            elem_align: 0,
            value_size: 0,
            value_align: 0,
            layout: String::new(),
            parts: vec![String::new()],
        }
    }

    /// Records the element type `T` (its name, size, alignment, and for the ten primitive
    /// types their layout).
    pub(crate) fn elem<T>(mut self) -> Self {
        self.type_name = std::any::type_name::<T>().to_owned();
        self.elem_size = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
        self.elem_align = u32::try_from(align_of::<T>()).unwrap_or(u32::MAX);
        self.layout = primitive::<T>().unwrap_or_default().to_owned();
        self
    }

    /// Records a Map's key `K` and value `V`.
    pub(crate) fn pair<K, V>(mut self) -> Self {
        self.type_name = format!(
            "{}={}",
            std::any::type_name::<K>(),
            std::any::type_name::<V>()
        );
        self.elem_size = u32::try_from(size_of::<K>()).unwrap_or(u32::MAX);
        self.elem_align = u32::try_from(align_of::<K>()).unwrap_or(u32::MAX);
        self.value_size = u32::try_from(size_of::<V>()).unwrap_or(u32::MAX);
        self.value_align = u32::try_from(align_of::<V>()).unwrap_or(u32::MAX);
        self.layout = match (primitive::<K>(), primitive::<V>()) {
            (Some(k), Some(v)) => format!("{k}={v}"),
            _ => String::new(),
        };
        self
    }

    /// Records the structure's entry-name suffixes (creation order; `""` is the name).
    pub(crate) fn parts(mut self, suffixes: &[&str]) -> Self {
        self.parts = suffixes.iter().map(|s| (*s).to_owned()).collect();
        self
    }

    /// The table entry names of the structure, in creation order.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, sync::RwLock};
    /// # let name = format!("/zeroipc-doc-catalog-parts-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
    /// RwLock::create(&seg, "rw")?;
    /// let c = seg.catalog()?.unwrap();
    /// assert_eq!(c.find("rw").unwrap().entry_names(), ["rw_state", "rw_rmtx", "rw_wmtx", "rw"]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry_names(&self) -> Vec<String> {
        self.parts
            .iter()
            .map(|p| format!("{}{p}", self.name))
            .collect()
    }

    fn first_entry_name(&self) -> String {
        format!(
            "{}{}",
            self.name,
            self.parts.first().map_or("", String::as_str)
        )
    }
}

/// The `--as` name of `T` if it is one of the ten primitive element types.
fn primitive<T>() -> Option<&'static str> {
    let name = std::any::type_name::<T>();
    [
        "i8", "u8", "i16", "u16", "i32", "u32", "i64", "u64", "f32", "f64",
    ]
    .into_iter()
    .find(|p| *p == name)
}

/// A segment's catalog as read by [`ReadOnlySegment::catalog`]: the valid records, and why
/// any others were skipped.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Array};
/// # let name = format!("/zeroipc-doc-catalog-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// Array::<f32>::create(&seg, "xs", 4)?;
/// let c = seg.catalog()?.unwrap();
/// assert_eq!((c.count, c.capacity), (1, 63));
/// assert!(c.problems.is_empty());
/// let e = seg.find("xs")?;
/// assert_eq!(c.describing(&e).unwrap().layout, "f32");
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Catalog {
    /// Records the catalog has room for.
    pub capacity: u32,
    /// Records published.
    pub count: u32,
    /// The valid records in the order their names were first recorded; for a name recorded
    /// more than once, only the last record.
    pub records: Vec<Record>,
    /// One line per record skipped (bad kind code, non-UTF-8 text, a name that contradicts
    /// the table, ...).
    pub problems: Vec<String>,
}

impl Catalog {
    /// The record for the structure named `name` (a composite's base name).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, sync::Event, sync::EventMode};
    /// use zeroipc::segment::CatalogKind;
    /// # let name = format!("/zeroipc-doc-catalog-find-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
    /// Event::create(&seg, "ready", EventMode::ManualReset)?;
    /// let c = seg.catalog()?.unwrap();
    /// assert_eq!(c.find("ready").unwrap().kind, CatalogKind::Event);
    /// assert_eq!(c.find("ready_sem").unwrap().kind, CatalogKind::Semaphore); // its part
    /// assert!(c.find("nope").is_none());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn find(&self, name: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.name == name)
    }

    /// The record whose **first** entry is `entry` (a structure created at that entry).
    #[must_use]
    pub fn describing(&self, entry: &Entry) -> Option<&Record> {
        self.records.iter().find(|r| {
            r.entry_index == entry.index() && entry.name() == r.first_entry_name().as_str()
        })
    }

    /// The record of the composite that has `entry` as one of its parts (including its first
    /// entry), if any.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-catalog-containing-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
    /// Stream::<u32>::create(&seg, "ticks", 8)?;
    /// let c = seg.catalog()?.unwrap();
    /// let header = seg.find("ticks_header")?;
    /// assert_eq!(c.containing(&header).unwrap().name, "ticks");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn containing(&self, entry: &Entry) -> Option<&Record> {
        self.records
            .iter()
            .filter(|r| r.parts.len() > 1)
            .find(|r| r.entry_names().iter().any(|n| entry.name() == n.as_str()))
    }
}

/// Why a segment's catalog could not be read at all. (Bad individual records are only
/// skipped: [`Catalog::problems`].)
///
/// # Examples
///
/// ```
/// use zeroipc::segment::CatalogError;
/// let e = CatalogError::Count { count: 9, capacity: 4 };
/// assert_eq!(e.to_string(), "catalog count 9 exceeds its capacity 4");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatalogError {
    /// The table could not be searched for the catalog entry.
    Table(Corruption),
    /// The entry is smaller than the catalog header.
    TooSmall {
        /// The entry's size.
        size: u64,
    },
    /// The magic is not `"ZCAT"`: an entry of that name that is not ours.
    BadMagic {
        /// The word found.
        found: u32,
    },
    /// A catalog layout version this library does not read.
    Version {
        /// The version found.
        found: u32,
    },
    /// The entry's size is not `16 + 256 × capacity`.
    Size {
        /// `capacity` from the header.
        capacity: u32,
        /// The entry's size.
        size: u64,
    },
    /// `count > capacity`.
    Count {
        /// `count` found.
        count: u32,
        /// `capacity` found.
        capacity: u32,
    },
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Table(c) => write!(f, "catalog: {c}"),
            Self::TooSmall { size } => write!(f, "catalog entry of {size} bytes is too small"),
            Self::BadMagic { found } => write!(f, "catalog has bad magic 0x{found:08x}"),
            Self::Version { found } => write!(f, "catalog version {found} is not supported"),
            Self::Size { capacity, size } => write!(
                f,
                "catalog of capacity {capacity} must be {} bytes, the entry is {size}",
                catalog_size(*capacity)
            ),
            Self::Count { count, capacity } => {
                write!(f, "catalog count {count} exceeds its capacity {capacity}")
            }
        }
    }
}

impl std::error::Error for CatalogError {}

/// Creates the empty catalog in a segment being created (before its magic is published, so
/// nobody else sees the table). Returns without creating anything when the catalog would take
/// the last table slot or more than an eighth of the space after the table.
pub(crate) fn create(region: &Region, layout: &TableLayout) -> Result<(), TableError> {
    if layout.max_entries < 2 {
        return Ok(());
    }
    let share = layout.bound.saturating_sub(layout.table_size) / SHARE;
    let fit = share.saturating_sub(CATALOG_HEADER_LEN) / RECORD_LEN;
    let capacity = u64::from(layout.max_entries - 1).min(fit);
    let Ok(capacity) = u32::try_from(capacity) else {
        return Ok(());
    };
    if capacity == 0 {
        return Ok(());
    }
    super::table::allocate(
        region,
        layout,
        CATALOG_ENTRY,
        catalog_size(capacity),
        |at| -> Result<(), TableError> {
            let h: &CatalogHeader = region.header(at)?;
            // ORDERING: Relaxed — the segment's magic is not published yet; the Release store
            // of `magic` in `create_new` publishes these.
            h.magic.store(CATALOG_MAGIC, Relaxed);
            h.version.store(CATALOG_VERSION, Relaxed);
            h.capacity.store(capacity, Relaxed);
            h.count.store(0, Relaxed);
            Ok(())
        },
    )?;
    Ok(())
}

/// Stores `text` NUL-terminated into `field`, cut at a character boundary to fit.
fn store_text(field: &[AtomicU8], text: &str) {
    let mut end = text.len().min(field.len() - 1);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let bytes = &text.as_bytes()[..end];
    for (i, dst) in field.iter().enumerate() {
        // ORDERING: Relaxed — published by the Release store of `count` in `append`.
        dst.store(bytes.get(i).copied().unwrap_or(0), Relaxed);
    }
}

/// The catalog header at `entry`, checked.
fn header<'r>(region: &'r Region, entry: &Entry) -> Result<(&'r CatalogHeader, u32), CatalogError> {
    if entry.size() < CATALOG_HEADER_LEN {
        return Err(CatalogError::TooSmall { size: entry.size() });
    }
    let h: &CatalogHeader = region.header(entry.offset()).map_err(CatalogError::Table)?;
    // ORDERING: Relaxed — magic, version and capacity are written before the segment's magic
    // is published (Release in `create_new`, Acquire on open) and never change.
    let magic = h.magic.load(Relaxed);
    if magic != CATALOG_MAGIC {
        return Err(CatalogError::BadMagic { found: magic });
    }
    let version = h.version.load(Relaxed);
    if version != CATALOG_VERSION {
        return Err(CatalogError::Version { found: version });
    }
    let capacity = h.capacity.load(Relaxed);
    if catalog_size(capacity) != entry.size() {
        return Err(CatalogError::Size {
            capacity,
            size: entry.size(),
        });
    }
    Ok((h, capacity))
}

impl Segment {
    /// Appends `record` to the catalog, if the segment has a usable one with room. Never
    /// fails: the catalog is optional, and a structure without a record is classified by its
    /// bytes.
    pub(crate) fn record(&self, record: &Record) {
        let _ = self.with_allocation_lock(|region, layout| -> Result<(), TableError> {
            let Some(entry) = super::table::find(region, layout, CATALOG_ENTRY)? else {
                return Ok(());
            };
            let Ok((h, capacity)) = header(region, &entry) else {
                return Ok(());
            };
            // ORDERING: Relaxed — appends are serialised by the allocation lock we hold; the
            // last appender's Release store is ordered before our lock acquisition.
            let count = h.count.load(Relaxed);
            if count >= capacity {
                return Ok(()); // full: the structure stays unrecorded
            }
            let at = entry.offset() + CATALOG_HEADER_LEN + RECORD_LEN * u64::from(count);
            let r: &CatalogRecord = region.header(at)?;
            store_text(&r.name, &record.name);
            // ORDERING (stores below): Relaxed — published by the Release store of `count`.
            r.entry_index.store(record.entry_index, Relaxed);
            r.kind.store(record.kind.code(), Relaxed);
            r.elem_size.store(record.elem_size, Relaxed);
            r.elem_align.store(record.elem_align, Relaxed);
            r.value_size.store(record.value_size, Relaxed);
            r.value_align.store(record.value_align, Relaxed);
            r.part_count
                .store(u32::try_from(record.parts.len()).unwrap_or(1), Relaxed);
            r.reserved.store(0, Relaxed);
            store_text(&r.type_name, &record.type_name);
            store_text(&r.layout, &record.layout);
            store_text(&r.parts, &record.parts.join(","));
            // ORDERING: Release — pairs with the Acquire load of `count` in
            // `ReadOnlySegment::catalog`: a reader that sees the new count sees the record.
            h.count.store(count + 1, Release);
            Ok(())
        });
    }
}

/// The text of a NUL-terminated field, if it has a NUL and is UTF-8.
fn text(bytes: &[u8]) -> Option<&str> {
    let end = bytes.iter().position(|&b| b == 0)?;
    std::str::from_utf8(&bytes[..end]).ok()
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4)
        .and_then(|s| s.try_into().ok())
        .map_or(0, u32::from_le_bytes)
}

/// Parses one record's bytes; `Err` says why it is skipped.
fn parse_record(b: &[u8], entries: &HashMap<&[u8], u32>) -> Result<Record, String> {
    let name = text(&b[..NAME_FIELD_LEN]).ok_or("name is not NUL-terminated UTF-8")?;
    let code = u32_at(b, 0x24);
    let kind = CatalogKind::from_code(code).ok_or_else(|| format!("unknown kind code {code}"))?;
    let type_name =
        text(&b[0x40..0x40 + TYPE_NAME_LEN]).ok_or("type name is not NUL-terminated UTF-8")?;
    let layout = text(&b[0xA0..0xA0 + LAYOUT_LEN]).ok_or("layout is not NUL-terminated UTF-8")?;
    let parts_text =
        text(&b[0xE0..0xE0 + PARTS_LEN]).ok_or("parts are not NUL-terminated UTF-8")?;
    let parts: Vec<String> = parts_text.split(',').map(str::to_owned).collect();
    let part_count = u32_at(b, 0x38);
    if part_count as usize != parts.len() {
        return Err(format!(
            "part count {part_count} but {} parts listed",
            parts.len()
        ));
    }
    let record = Record {
        name: name.to_owned(),
        entry_index: u32_at(b, 0x20),
        kind,
        type_name: type_name.to_owned(),
        elem_size: u32_at(b, 0x28),
        elem_align: u32_at(b, 0x2C),
        value_size: u32_at(b, 0x30),
        value_align: u32_at(b, 0x34),
        layout: layout.to_owned(),
        parts,
    };
    for align in [record.elem_align, record.value_align] {
        if align != 0 && !align.is_power_of_two() {
            return Err(format!("alignment {align} is not a power of two"));
        }
    }
    for (i, n) in record.entry_names().iter().enumerate() {
        if n.is_empty() || n.len() > MAX_ENTRY_NAME_LEN {
            return Err(format!("entry name '{n}' is not a valid entry name"));
        }
        match entries.get(n.as_bytes()) {
            None => return Err(format!("its entry '{n}' is not in the table")),
            Some(&index) if i == 0 && index != record.entry_index => {
                return Err(format!(
                    "says entry '{n}' is #{}, the table has it at #{index}",
                    record.entry_index,
                ));
            }
            Some(_) => {}
        }
    }
    Ok(record)
}

impl ReadOnlySegment {
    /// The segment's type catalog: `Ok(None)` if it has none (created by another
    /// implementation, or with the catalog turned off).
    ///
    /// Records that are not well-formed or contradict the table are skipped, with a line in
    /// [`Catalog::problems`]; nothing in the catalog can make this panic or hang.
    ///
    /// # Errors
    ///
    /// [`CatalogError`] if the catalog entry exists but its header is not valid.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions};
    /// # let name = format!("/zeroipc-doc-catalog-off-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).catalog(false).create_new(&name)?;
    /// assert_eq!(seg.catalog()?, None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn catalog(&self) -> Result<Option<Catalog>, CatalogError> {
        let entries = self.entries().map_err(CatalogError::Table)?;
        let Some(entry) = entries.iter().find(|e| e.name() == CATALOG_ENTRY) else {
            return Ok(None);
        };
        let region = self.region();
        let (h, capacity) = header(region, entry)?;
        // ORDERING: Acquire — pairs with the Release store of `count` in `Segment::record`:
        // every record below `count` is completely written.
        let count = h.count.load(Acquire);
        if count > capacity {
            return Err(CatalogError::Count { count, capacity });
        }
        let mut catalog = Catalog {
            capacity,
            count,
            ..Catalog::default()
        };
        let bytes = self
            .read_bytes(
                entry.offset() + CATALOG_HEADER_LEN,
                RECORD_LEN * u64::from(count),
            )
            .map_err(CatalogError::Table)?;
        let len = usize::try_from(RECORD_LEN).unwrap_or(256);
        // The first entry of a name wins, as in look-ups.
        let mut by_name: HashMap<&[u8], u32> = HashMap::with_capacity(entries.len());
        for e in &entries {
            by_name.entry(e.name().as_bytes()).or_insert(e.index());
        }
        let mut latest: HashMap<String, usize> = HashMap::new();
        for (i, b) in bytes.chunks_exact(len).enumerate() {
            match parse_record(b, &by_name) {
                Ok(r) => match latest.get(&r.name) {
                    // A later record for the same name supersedes the earlier one.
                    Some(&at) => catalog.records[at] = r,
                    None => {
                        latest.insert(r.name.clone(), catalog.records.len());
                        catalog.records.push(r);
                    }
                },
                Err(why) => catalog
                    .problems
                    .push(format!("catalog record {i} skipped: {why}")),
            }
        }
        Ok(Some(catalog))
    }
}

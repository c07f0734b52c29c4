//! Listing `/dev/shm`: which objects are zeroipc segments ([`list_segments`], [`Listing`],
//! [`Status`], [`Summary`]), probed read-only.

#[allow(clippy::wildcard_imports)] // the inspect module's shared vocabulary
use super::*;

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
pub(super) fn probe(name: &str, size: u64) -> Option<Status> {
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

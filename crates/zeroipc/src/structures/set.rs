//! Set: a fixed-capacity hash set every process can insert into, query and erase from.
//!
//! # Layout (FORMAT.md §5.5, the C++ layout)
//!
//! | off | size              | field                         |
//! |-----|-------------------|-------------------------------|
//! | 0   | 4                 | `size` u32 (OCCUPIED slots)   |
//! | 4   | 4                 | `capacity` u32                |
//! | 8   | 4                 | `elem_size` u32               |
//! | 12  | 4                 | `reserved` u32, 0             |
//! | 16  | capacity × stride | slots `{u32 state; T value}`  |
//!
//! Natural C layout: `i32` slots are 8 bytes, `u64`/`f64` slots 16 with the value at 8.
//! Probing, hashing ([`MapKey`]), states and every protocol are the [`Map`](super::Map)'s; an
//! insert of a present element changes nothing and returns `false` (as C++).
//!
//! A Python Set is a Python `Map<T, u8>` (FORMAT.md IH-12): its header word 3 is
//! `value_size` = 1 and its stride `align8(4 + elem_size + 1)`. [`Set::open`] refuses any
//! set whose word 3 is not 0 with [`StructureError::Foreign`]; this also catches Python sets
//! whose stride equals the C++ one (`u64`, `f64`: 16).
//!
//! # Synchronization
//!
//! As [`Map`](super::Map): the Release store of OCCUPIED publishes the element to the
//! Acquire state loads and claim CASes of every later visitor; element comparisons that
//! decide an answer are confirmed while owning the slot.
//!
//! # Process death
//!
//! As [`Map`](super::Map): a slot left INSERTING fails the operations whose answer depends
//! on it with [`MapError::Stalled`] after [`Set::stall_timeout`].
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Set};
//! # let name = format!("/zeroipc-doc-set-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let seen: Set<u64> = Set::create(&seg, "seen", 32)?;
//! assert!(seen.insert(5)?);
//! assert!(!seen.insert(5)?); // already present
//!
//! let peer = Segment::open(&name)?;
//! let seen: Set<u64> = Set::open(&peer, "seen")?;
//! assert!(seen.contains(&5)?);
//! assert!(seen.remove(&5)?);
//! assert_eq!(seen.len(), 0);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::time::Duration;

use super::map::{Geometry, MapError, MapKey, View, map_error};
use crate::DEFAULT_STALL_TIMEOUT;
use crate::error::{Corruption, StructureError};
use crate::layout::map::{SlotLayout, python_stride, table_bytes};
use crate::layout::set::{SET_HEADER_LEN, SetHeader, set_slot_layout};
use crate::loom::Ordering::Relaxed;
use crate::raw::open_addressing::{self as oa, OnPresent, ProbeError, Slots};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::wait::ProbePatience;

/// A hash set of `T` in a segment. See the [module docs](self).
pub struct Set<T: MapKey> {
    seg: Segment,
    entry: Entry,
    geo: Geometry,
    stall: Duration,
    _t: PhantomData<fn() -> T>,
}

impl<T: MapKey> Clone for Set<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            geo: self.geo,
            stall: self.stall,
            _t: PhantomData,
        }
    }
}

impl<T: MapKey> fmt::Debug for Set<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Set")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.geo.capacity)
            .finish_non_exhaustive()
    }
}

impl<T: MapKey> Set<T> {
    const CHECK: () = {
        assert!(
            align_of::<T>() <= 8,
            "zeroipc elements must have an alignment of at most 8"
        );
        assert!(
            size_of::<T>() > 0,
            "zeroipc elements must not be zero-sized"
        );
        assert!(size_of::<T>() <= u32::MAX as usize);
    };

    fn layout() -> SlotLayout {
        set_slot_layout(size_of::<T>() as u64, align_of::<T>() as u64)
            .expect("a type's size is far below u64::MAX")
    }

    /// Creates an empty set of `capacity` slots named `name` (byte-identical to C++
    /// `Set<T>(mem, name, capacity)`).
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0 or a size that overflows;
    /// [`StructureError::Table`] if the name is taken, the table is full or the segment is
    /// out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-create-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<i32> = Set::create(&seg, "s", 16)?;
    /// assert_eq!(s.entry().size(), 16 + 16 * 8);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let requested = u64::try_from(capacity).unwrap_or(u64::MAX);
        let capacity = match u32::try_from(capacity) {
            Ok(c) if c != 0 => c,
            _ => {
                return Err(StructureError::InvalidCapacity {
                    requested,
                    reason: "a set needs between 1 and 2^32 - 1 slots (the capacity is a u32)",
                });
            }
        };
        let layout = Self::layout();
        let size = table_bytes(u64::from(capacity), layout.stride).ok_or(
            StructureError::InvalidCapacity {
                requested,
                reason: "the set's size overflows",
            },
        )?;
        #[allow(clippy::cast_possible_truncation)] // CHECK: the size fits in u32
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &SetHeader = region.header(at)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`); the
            // slots were zeroed (EMPTY) and `reserved` is 0.
            h.capacity.store(capacity, Relaxed);
            h.elem_size.store(size_of::<T>() as u32, Relaxed);
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Set, name, &entry).elem::<T>());
        let geo = Geometry::new(seg.region(), entry.offset(), capacity, layout)?;
        Ok(Self::from_parts(seg, entry, geo))
    }

    /// Opens the set named `name`, validating its header against `T` and the entry.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`) if there is no such entry;
    /// [`StructureError::Foreign`] for a set written by Python (word 3 ≠ 0);
    /// [`StructureError::ElementSize`] if `elem_size` differs from `T`'s size;
    /// [`StructureError::Corrupt`] for a capacity of 0 or one that does not match the entry
    /// size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Set::<u32>::create(&seg, "s", 8)?.insert(3)?;
    /// let s: Set<u32> = Set::open(&seg, "s")?;
    /// assert!(s.contains(&3)?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let geo = Self::validate(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Set, name, &entry).elem::<T>())?;
        Ok(Self::from_parts(seg, entry, geo))
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<Geometry, StructureError> {
        let entry_name = || entry.name().to_string();
        if entry.size() < SET_HEADER_LEN {
            return Err(Corruption::field(
                entry_name(),
                "entry size",
                entry.size(),
                format!("at least {SET_HEADER_LEN} (the set header)"),
            )
            .into());
        }
        let h: &SetHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — published by the Acquire load of `entry_count`; validated.
        let (capacity, es, reserved) = (
            h.capacity.load(Relaxed),
            h.elem_size.load(Relaxed),
            h.reserved.load(Relaxed),
        );
        if reserved != 0 {
            let py = python_stride(u64::from(es), u64::from(reserved))
                .and_then(|s| table_bytes(u64::from(capacity), s))
                .is_some_and(|s| s == entry.size());
            return Err(StructureError::Foreign {
                entry: entry_name(),
                format: "Python implementation's Set",
                detail: format!(
                    "header word 3 is {reserved} (C++ writes reserved = 0; a Python Set is a \
                     Map<T, u8> storing value_size = 1 there){}",
                    if py {
                        ", and the entry size matches Python's packed stride"
                    } else {
                        ""
                    }
                ),
            });
        }
        let expected = size_of::<T>() as u64;
        if u64::from(es) != expected {
            return Err(StructureError::ElementSize {
                entry: entry_name(),
                stored: u64::from(es),
                expected,
            });
        }
        if capacity == 0 {
            return Err(Corruption::field(entry_name(), "capacity", 0, "at least 1").into());
        }
        let layout = Self::layout();
        if table_bytes(u64::from(capacity), layout.stride) != Some(entry.size()) {
            return Err(Corruption::field(
                entry_name(),
                "capacity",
                u64::from(capacity),
                format!("(entry size {} - 16) / {}", entry.size(), layout.stride),
            )
            .into());
        }
        Ok(Geometry::new(
            seg.region(),
            entry.offset(),
            capacity,
            layout,
        )?)
    }

    fn from_parts(seg: &Segment, entry: Entry, geo: Geometry) -> Self {
        Self {
            seg: seg.clone(),
            entry,
            geo,
            stall: DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        }
    }

    fn view(&self) -> View<'_, T, ()> {
        View {
            region: self.seg.region(),
            geo: self.geo,
            _t: PhantomData,
        }
    }

    fn err(&self, e: ProbeError) -> MapError {
        map_error(e, &self.entry, self.geo.capacity, self.stall)
    }

    /// Adds `value`; `true` if it was new, `false` if it was present already.
    ///
    /// # Errors
    ///
    /// [`MapError::Full`] if it is new and no slot is free; [`MapError::Stalled`],
    /// [`MapError::Corrupt`] as for [`Map::insert`](super::Map::insert).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-insert-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<f64> = Set::create(&seg, "s", 4)?;
    /// assert!(s.insert(0.5)?);
    /// assert!(!s.insert(0.5)?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&self, value: T) -> Result<bool, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::insert(&self.view(), &value, &(), OnPresent::Keep, &mut p)
            .map(|old| old.is_none())
            .map_err(|e| self.err(e))
    }

    /// Whether `value` is present.
    ///
    /// # Errors
    ///
    /// As [`Set::insert`], except `Full`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-contains-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<i16> = Set::create(&seg, "s", 4)?;
    /// s.insert(-1)?;
    /// assert!(s.contains(&-1)? && !s.contains(&1)?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains(&self, value: &T) -> Result<bool, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::get(&self.view(), value, &mut p)
            .map(|v| v.is_some())
            .map_err(|e| self.err(e))
    }

    /// Removes `value`; `true` if it was present.
    ///
    /// # Errors
    ///
    /// As [`Set::contains`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-remove-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "s", 4)?;
    /// s.insert(9)?;
    /// assert!(s.remove(&9)?);
    /// assert!(!s.remove(&9)?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, value: &T) -> Result<bool, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::remove(&self.view(), value, &mut p)
            .map(|v| v.is_some())
            .map_err(|e| self.err(e))
    }

    /// Every element, in slot order (each copied untorn; not one atomic snapshot).
    ///
    /// # Errors
    ///
    /// [`MapError::Stalled`] if a slot stays INSERTING; [`MapError::Corrupt`] for an invalid
    /// slot state.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-members-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u8> = Set::create(&seg, "s", 4)?;
    /// s.insert(3)?;
    /// assert_eq!(s.members()?, vec![3]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn members(&self) -> Result<Vec<T>, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::snapshot(&self.view(), &mut p)
            .map(|v| v.into_iter().map(|(k, ())| k).collect())
            .map_err(|e| self.err(e))
    }

    /// The `size` counter (Relaxed). The counter is written by peers: a value above the
    /// capacity is clamped to the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "s", 4)?;
    /// s.insert(7)?;
    /// assert_eq!((s.len(), s.is_empty()), (1, false));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        // ORDERING: Relaxed — a statistic, as C++ `size()`.
        let n = self.view().size().load(Relaxed);
        // Written by peers: never more than the slots there are.
        n.min(self.geo.capacity) as usize
    }

    /// Whether [`Set::len`] is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-is-empty-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "s", 8)?;
    /// assert!(s.is_empty());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of slots.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-capacity-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let t: Set<u32> = Set::create(&seg, "t", 8)?;
    /// assert_eq!(t.capacity(), 8);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.geo.capacity as usize
    }

    /// Sets how long an operation waits for a slot another process holds in INSERTING
    /// before failing with [`MapError::Stalled`] (default [`crate::DEFAULT_STALL_TIMEOUT`],
    /// 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # use std::time::Duration;
    /// # let name = format!("/zeroipc-doc-set-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s = Set::<u32>::create(&seg, "s", 4)?.with_stall_timeout(Duration::from_millis(100));
    /// assert_eq!(s.stall_timeout(), Duration::from_millis(100));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        self
    }

    /// The stall timeout (see [`Set::with_stall_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-stall-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "s", 4)?;
    /// assert_eq!(s.stall_timeout(), zeroipc::DEFAULT_STALL_TIMEOUT);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// The table entry this set lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "seen", 4)?;
    /// assert_eq!(s.entry().name(), "seen");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this set lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Set};
    /// # let name = format!("/zeroipc-doc-set-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Set<u32> = Set::create(&seg, "seen", 4)?;
    /// assert!(s.segment().find("seen").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

//! Map: a fixed-capacity hash map every process can insert into, look up and erase from.
//!
//! # Layout (FORMAT.md §5.4, the C++ layout)
//!
//! | off | size              | field                                  |
//! |-----|-------------------|----------------------------------------|
//! | 0   | 4                 | `size` u32 (OCCUPIED slots)            |
//! | 4   | 4                 | `capacity` u32                         |
//! | 8   | 4                 | `key_size` u32                         |
//! | 12  | 4                 | `value_size` u32                       |
//! | 16  | capacity × stride | slots `{u32 state; K key; V value}`    |
//!
//! Slots have the natural C layout: key at `align_up(4, align K)`, value at
//! `align_up(key_end, align V)`, stride rounded to `max(4, align K, align V)` (`i32 → i32`:
//! 12 bytes; `u64 → f64`: 24). Slot *i* of key `k` is probed from `hash(k) % capacity`
//! ([`MapKey`]), linearly, with tombstones (DELETED) and an INSERTING state while one
//! process owns the slot. The entry size is exactly `16 + capacity * stride`.
//!
//! Python writes another layout (key at +4, packed, stride `align8(4 + ks + vs)`, and another
//! hash; FORMAT.md IH-8, IH-9): [`Map::open`] refuses it with [`StructureError::Foreign`].
//! When the two strides coincide (`K` of 4 bytes and `V` of 8, or 8 and 8), the sizes cannot
//! tell them apart; `open` then checks that every OCCUPIED key is reachable from its C++ home
//! slot (no EMPTY slot in between), which the C++ algorithm guarantees and a Python-written
//! map breaks as soon as two keys are stored. An empty (or one-key, lucky) Python map with a
//! coinciding stride is indistinguishable and opens; its keys are then not found.
//!
//! # Synchronization
//!
//! | store (Release)                         | load / CAS (Acquire)                | publishes              |
//! |-----------------------------------------|-------------------------------------|------------------------|
//! | `state = OCCUPIED` after insert/update/read | `state` load, claim CAS (any op)  | the slot's key, value  |
//! | `state = DELETED` in `remove`           | `state` load, reuse CAS in `insert` | end of the remover's reads |
//!
//! Reads never return a torn value (FORMAT.md D-9): [`Map::get`] owns the slot while it
//! copies (CAS `OCCUPIED → INSERTING`, copy, store `OCCUPIED`), as an update does; a
//! re-check of the state around an unowned copy could not see an update (OCCUPIED →
//! INSERTING → OCCUPIED). Upstream writers meeting such a slot wait for it like for an
//! update. `size` is a Relaxed counter, updated after the state change, as in C++.
//!
//! # Process death
//!
//! A process killed while owning a slot (inserting, updating or reading) leaves it
//! INSERTING forever. Operations wait for such a slot up to [`Map::stall_timeout`]
//! ([`crate::DEFAULT_STALL_TIMEOUT`] by default) and then move on: if
//! the key is found further along the probe sequence the operation completes (keys are
//! unique); if the probe ends without it, the stuck slot might hold it and the operation
//! fails with [`MapError::Stalled`] — never a hang, never a silent duplicate.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Map};
//! # let name = format!("/zeroipc-doc-map-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let ages: Map<u32, f64> = Map::create(&seg, "ages", 16)?;
//! assert_eq!(ages.insert(7, 41.5)?, None);
//! assert_eq!(ages.insert(7, 42.0)?, Some(41.5));
//!
//! // Another process:
//! let peer = Segment::open(&name)?;
//! let ages: Map<u32, f64> = Map::open(&peer, "ages")?;
//! assert_eq!(ages.get(&7)?, Some(42.0));
//! assert_eq!(ages.remove(&7)?, Some(42.0));
//! assert!(ages.is_empty());
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::error::Error;
use std::time::Duration;

use super::pod;
use crate::DEFAULT_STALL_TIMEOUT;
use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::map::{
    EMPTY, MAP_HEADER_LEN, MapHeader, OCCUPIED, SlotLayout, python_stride, slot_layout, table_bytes,
};
use crate::loom::AtomicU32;
use crate::loom::Ordering::{Acquire, Relaxed};
use crate::raw::hash;
use crate::raw::open_addressing::{self as oa, OnPresent, ProbeError, Slots};
use crate::segment::region::Region;
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::wait::ProbePatience;

/// A key type of [`Map`] and [`Set`](super::Set): how C++ `detail::trivial_hash` hashes it
/// and how C++ `trivial_equal` compares it (FORMAT.md §9.1).
///
/// * Integers (`u8` … `i64`, `u64`) are implemented here: hash = the value sign- or
///   zero-extended to 64 bits times `2654435761` (mod 2^64); equality `==`.
/// * `f32` and `f64` are implemented here: hash = libstdc++ `_Hash_bytes` of the value's
///   bytes; equality `==`. As in C++, `-0.0 == 0.0` but their bytes (and so their home slots)
///   differ, so both can end up stored as two keys, and a NaN key is never found
///   (FORMAT.md D-10).
/// * Any other [`Element`] (a `#[repr(C)]` struct, an array) opts in with an empty impl and
///   gets the defaults: the byte hash, and equality of all bytes (including padding, as C++
///   `memcmp`).
///
/// # Examples
///
/// ```
/// use zeroipc::structures::MapKey;
/// #[derive(Clone, Copy, zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
/// #[repr(C)]
/// struct Key16 { tag: [u8; 12], id: u32 }
/// impl MapKey for Key16 {}
///
/// let k = Key16 { tag: *b"alpha\0\0\0\0\0\0\0", id: 1 };
/// assert_eq!(k.cpp_hash(), 11548579185678239487); // as C++ (libstdc++) computes it
/// assert_eq!(42i32.cpp_hash(), 0x19_F519_F70A);
/// ```
pub trait MapKey: Element {
    /// C++ `detail::trivial_hash` of the key. The default is the byte hash.
    fn cpp_hash(&self) -> u64 {
        hash_bytes(self.as_bytes())
    }

    /// C++ `trivial_equal`. The default compares all bytes.
    fn cpp_eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// libstdc++'s `std::_Hash_bytes(bytes, len, 0xc70f6907)`: what C++ `std::hash` of a byte
/// string is with GNU libstdc++ on 64-bit Linux, and the hash of non-integral Map keys.
///
/// # Examples
///
/// ```
/// assert_eq!(zeroipc::structures::hash_bytes(b""), 6142509188972423790);
/// ```
#[must_use]
pub fn hash_bytes(bytes: &[u8]) -> u64 {
    hash::hash_bytes(bytes)
}

macro_rules! integral_keys {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            #[inline]
            #[allow(clippy::cast_sign_loss, clippy::cast_lossless)] // C++'s conversion to size_t
            fn cpp_hash(&self) -> u64 {
                hash::int_hash(*self as i64 as u64)
            }
            #[inline]
            fn cpp_eq(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}
integral_keys!(i8, i16, i32, i64);

macro_rules! unsigned_keys {
    ($($t:ty),*) => {$(
        impl MapKey for $t {
            #[inline]
            #[allow(clippy::cast_lossless)]
            fn cpp_hash(&self) -> u64 {
                hash::int_hash(*self as u64)
            }
            #[inline]
            fn cpp_eq(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}
unsigned_keys!(u8, u16, u32, u64);

impl MapKey for f32 {
    #[allow(clippy::float_cmp)] // C++ `==`, on purpose
    fn cpp_eq(&self, other: &Self) -> bool {
        self == other
    }
}

impl MapKey for f64 {
    #[allow(clippy::float_cmp)] // C++ `==`, on purpose
    fn cpp_eq(&self, other: &Self) -> bool {
        self == other
    }
}

impl<T: Element, const N: usize> MapKey for [T; N] {}

/// Why a Map or Set operation failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MapError {
    /// A new key found no EMPTY or DELETED slot (tombstones are reused; nothing else is
    /// freed). Keys and values are `Copy`, so nothing is handed back.
    Full {
        /// The capacity.
        capacity: usize,
    },
    /// A slot stayed INSERTING longer than the stall timeout (its owner died, or is
    /// descheduled for that long), and the answer depends on what it holds; or slots kept
    /// changing under the operation for `raw::open_addressing::MAX_RETRIES` (4096) attempts
    /// in a row (a peer that flips slot states without finishing operations: hostile or
    /// corrupt), so that the call returns instead of spinning for as long as the peer writes.
    Stalled {
        /// The entry.
        entry: String,
        /// The slot.
        slot: usize,
        /// How long the operation waited for it.
        waited: Duration,
    },
    /// The structure's bytes break the format (an unknown slot state, ...).
    Corrupt(Corruption),
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full { capacity } => write!(
                f,
                "the table is full: all {capacity} slots are taken; expected a free slot"
            ),
            Self::Stalled {
                entry,
                slot,
                waited,
            } => write!(
                f,
                "entry '{entry}': slot {slot} stayed INSERTING for {waited:?} (its writer died?); \
                 expected it to be released within the stall timeout"
            ),
            Self::Corrupt(c) => write!(f, "corrupt structure: {c}"),
        }
    }
}

impl Error for MapError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl From<Corruption> for MapError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Validated geometry shared by Map and Set.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Geometry {
    /// Slot count, > 0.
    pub(crate) capacity: u32,
    /// Segment offset of the header.
    pub(crate) header: u64,
    /// Segment offset of slot 0.
    pub(crate) slots: u64,
    pub(crate) layout: SlotLayout,
}

impl Geometry {
    /// Proves the slots lie inside the mapping.
    pub(crate) fn new(
        region: &Region,
        header: u64,
        capacity: u32,
        layout: SlotLayout,
    ) -> Result<Self, Corruption> {
        let slots = header + MAP_HEADER_LEN;
        let bytes = u64::from(capacity).saturating_mul(layout.stride);
        region.check(slots, bytes, 4)?;
        Ok(Self {
            capacity,
            header,
            slots,
            layout,
        })
    }
}

/// A [`Slots`] view over a validated table in the segment.
pub(crate) struct View<'a, K, V> {
    pub(crate) region: &'a Region,
    pub(crate) geo: Geometry,
    pub(crate) _t: PhantomData<fn() -> (K, V)>,
}

impl<K, V> View<'_, K, V> {
    fn at(&self, i: u32) -> u64 {
        // Cannot overflow: `Geometry::new` checked capacity * stride inside the mapping.
        self.geo.slots + u64::from(i) * self.geo.layout.stride
    }
}

/// Marker for a Set slot's absent value.
pub(crate) trait SlotValue: Copy {
    fn load(region: &Region, at: u64) -> Self;
    fn store(&self, region: &Region, at: u64);
}

impl SlotValue for () {
    fn load(_: &Region, _: u64) {}
    fn store(&self, _: &Region, _: u64) {}
}

/// A Map value: an [`Element`].
#[derive(Clone, Copy)]
pub(crate) struct Val<V>(pub(crate) V);

impl<V: Element> SlotValue for Val<V> {
    fn load(region: &Region, at: u64) -> Self {
        Self(pod::load(region, at).expect("slot range validated at open"))
    }
    fn store(&self, region: &Region, at: u64) {
        pod::store(region, at, &self.0).expect("slot range validated at open");
    }
}

impl<K: MapKey, V: SlotValue> Slots for View<'_, K, V> {
    type Key = K;
    type Value = V;

    fn capacity(&self) -> u32 {
        self.geo.capacity
    }

    fn size(&self) -> &AtomicU32 {
        // The header was validated at open (`header..header+16` is inside the mapping).
        &self
            .region
            .header::<MapHeader>(self.geo.header)
            .expect("header validated at open")
            .size
    }

    fn state(&self, i: u32) -> &AtomicU32 {
        self.region
            .header::<AtomicU32>(self.at(i))
            .expect("slot range validated at open")
    }

    fn key(&self, i: u32) -> K {
        pod::load(self.region, self.at(i) + self.geo.layout.key_off)
            .expect("slot range validated at open")
    }

    fn set_key(&self, i: u32, key: &K) {
        pod::store(self.region, self.at(i) + self.geo.layout.key_off, key)
            .expect("slot range validated at open");
    }

    fn value(&self, i: u32) -> V {
        V::load(self.region, self.at(i) + self.geo.layout.val_off)
    }

    fn set_value(&self, i: u32, value: &V) {
        value.store(self.region, self.at(i) + self.geo.layout.val_off);
    }

    fn hash(&self, key: &K) -> u64 {
        key.cpp_hash()
    }

    fn eq(&self, a: &K, b: &K) -> bool {
        a.cpp_eq(b)
    }
}

/// Turns a raw probe error into the public one.
pub(crate) fn map_error(
    e: ProbeError,
    entry: &Entry,
    capacity: u32,
    timeout: Duration,
) -> MapError {
    match e {
        ProbeError::Full => MapError::Full {
            capacity: capacity as usize,
        },
        ProbeError::Stuck { slot } => MapError::Stalled {
            entry: entry.name().to_string(),
            slot: slot as usize,
            waited: timeout,
        },
        ProbeError::State { slot, raw } => MapError::Corrupt(Corruption::field(
            entry.name(),
            "slot state",
            u64::from(raw),
            format!("0 (EMPTY), 1 (OCCUPIED), 2 (DELETED) or 3 (INSERTING), in slot {slot}"),
        )),
    }
}

/// Whether every OCCUPIED key sits where the C++ probe from its home slot reaches it (no
/// EMPTY slot between home and slot). O(capacity). Retried, since concurrent inserts can
/// make one pass look inconsistent.
pub(crate) fn probe_consistent<S: Slots>(s: &S) -> bool {
    (0..3).any(|_| probe_consistent_once(s))
}

fn probe_consistent_once<S: Slots>(s: &S) -> bool {
    let cap = s.capacity();
    // ORDERING: Acquire — pairs with the Release store of OCCUPIED: the keys are complete.
    let states: Vec<u32> = (0..cap).map(|i| s.state(i).load(Acquire)).collect();
    let Some(first_empty) = states.iter().position(|&st| st == EMPTY) else {
        return true;
    };
    let cap_us = cap as usize;
    // before[i]: non-EMPTY slots directly before slot i, back to the nearest EMPTY one.
    let mut before = vec![0u64; cap_us];
    let mut run = 0u64;
    for j in 1..=cap_us {
        let i = (first_empty + j) % cap_us;
        if states[i] == EMPTY {
            run = 0;
        } else {
            before[i] = run;
            run += 1;
        }
    }
    for (i, &st) in states.iter().enumerate() {
        if st != OCCUPIED {
            continue;
        }
        #[allow(clippy::cast_possible_truncation)] // i < capacity: u32
        let slot = i as u32;
        let k = s.key(slot);
        // ORDERING: Acquire — as above; a slot that changed meanwhile is skipped.
        if s.state(slot).load(Acquire) != OCCUPIED {
            continue;
        }
        let h = s.hash(&k);
        if h > u64::MAX - u64::from(cap) {
            continue; // the probe sequence wraps at 2^64 — not worth modelling here
        }
        let home = h % u64::from(cap);
        let dist = (i as u64 + u64::from(cap) - home) % u64::from(cap);
        if dist > before[i] {
            return false;
        }
    }
    true
}

/// A hash map from `K` to `V` in a segment. See the [module docs](self).
pub struct Map<K: MapKey, V: Element> {
    seg: Segment,
    entry: Entry,
    geo: Geometry,
    stall: Duration,
    _t: PhantomData<fn() -> (K, V)>,
}

impl<K: MapKey, V: Element> Clone for Map<K, V> {
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

impl<K: MapKey, V: Element> fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.geo.capacity)
            .field("stride", &self.geo.layout.stride)
            .finish_non_exhaustive()
    }
}

impl<K: MapKey, V: Element> Map<K, V> {
    const CHECK: () = {
        assert!(
            align_of::<K>() <= 8 && align_of::<V>() <= 8,
            "zeroipc elements must have an alignment of at most 8"
        );
        assert!(
            size_of::<K>() > 0 && size_of::<V>() > 0,
            "zeroipc elements must not be zero-sized"
        );
        assert!(size_of::<K>() <= u32::MAX as usize && size_of::<V>() <= u32::MAX as usize);
    };

    fn layout() -> SlotLayout {
        slot_layout(
            size_of::<K>() as u64,
            align_of::<K>() as u64,
            size_of::<V>() as u64,
            align_of::<V>() as u64,
        )
        .expect("a type's size is far below u64::MAX")
    }

    /// Creates an empty map of `capacity` slots named `name` (byte-identical to C++
    /// `Map<K, V>(mem, name, capacity)`).
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
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-create-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<i32, i32> = Map::create(&seg, "m", 16)?;
    /// assert_eq!(m.entry().size(), 16 + 16 * 12);
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
                    reason: "a map needs between 1 and 2^32 - 1 slots (the capacity is a u32)",
                });
            }
        };
        let layout = Self::layout();
        let size = table_bytes(u64::from(capacity), layout.stride).ok_or(
            StructureError::InvalidCapacity {
                requested,
                reason: "the map's size overflows",
            },
        )?;
        #[allow(clippy::cast_possible_truncation)] // CHECK: sizes fit in u32
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &MapHeader = region.header(at)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`); the
            // slots were zeroed (EMPTY) by `allocate`.
            h.capacity.store(capacity, Relaxed);
            h.key_size.store(size_of::<K>() as u32, Relaxed);
            h.value_size.store(size_of::<V>() as u32, Relaxed);
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Map, name, &entry).pair::<K, V>());
        let geo = Geometry::new(seg.region(), entry.offset(), capacity, layout)?;
        Ok(Self::from_parts(seg, entry, geo))
    }

    /// Opens the map named `name`, validating its header against `K`, `V` and the entry.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`) if there is no such entry;
    /// [`StructureError::ElementSize`] if `key_size` or `value_size` differs from `K`'s or
    /// `V`'s size; [`StructureError::Foreign`] for a map written by Python;
    /// [`StructureError::Corrupt`] for a capacity of 0 or one that does not match the entry
    /// size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Map::<u32, u32>::create(&seg, "m", 8)?.insert(1, 10)?;
    /// let m: Map<u32, u32> = Map::open(&seg, "m")?;
    /// assert_eq!(m.get(&1)?, Some(10));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let geo = Self::validate(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Map, name, &entry).pair::<K, V>())?;
        let map = Self::from_parts(seg, entry, geo);
        if python_stride(size_of::<K>() as u64, size_of::<V>() as u64) == Some(geo.layout.stride)
            && !probe_consistent(&map.view())
        {
            return Err(StructureError::Foreign {
                entry: map.entry.name().to_string(),
                format: "Python implementation's Map",
                detail: "keys are not where the C++ hash and probe sequence put them (Python \
                         hashes keys differently and packs the key at +4; both layouts have \
                         this stride)"
                    .into(),
            });
        }
        Ok(map)
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<Geometry, StructureError> {
        let entry_name = || entry.name().to_string();
        if entry.size() < MAP_HEADER_LEN {
            return Err(Corruption::field(
                entry_name(),
                "entry size",
                entry.size(),
                format!("at least {MAP_HEADER_LEN} (the map header)"),
            )
            .into());
        }
        let h: &MapHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`;
        // these fields never change after creation, and are validated, not trusted.
        let (capacity, ks, vs) = (
            h.capacity.load(Relaxed),
            h.key_size.load(Relaxed),
            h.value_size.load(Relaxed),
        );
        let (es_k, es_v) = (size_of::<K>() as u64, size_of::<V>() as u64);
        if u64::from(ks) != es_k {
            return Err(StructureError::ElementSize {
                entry: entry_name(),
                stored: u64::from(ks),
                expected: es_k,
            });
        }
        if u64::from(vs) != es_v {
            return Err(StructureError::ElementSize {
                entry: entry_name(),
                stored: u64::from(vs),
                expected: es_v,
            });
        }
        let layout = Self::layout();
        if capacity == 0 {
            return Err(Corruption::field(entry_name(), "capacity", 0, "at least 1").into());
        }
        let cpp = table_bytes(u64::from(capacity), layout.stride);
        if cpp == Some(entry.size()) {
            return Ok(Geometry::new(
                seg.region(),
                entry.offset(),
                capacity,
                layout,
            )?);
        }
        let py_stride = python_stride(es_k, es_v).unwrap_or(u64::MAX);
        if table_bytes(u64::from(capacity), py_stride) == Some(entry.size()) {
            return Err(StructureError::Foreign {
                entry: entry_name(),
                format: "Python implementation's Map",
                detail: format!(
                    "entry size {} = 16 + {capacity} × {py_stride} (Python's packed stride \
                     align8(4 + {ks} + {vs})); the C++ layout has stride {}",
                    entry.size(),
                    layout.stride
                ),
            });
        }
        Err(Corruption::field(
            entry_name(),
            "capacity",
            u64::from(capacity),
            format!("(entry size {} - 16) / {}", entry.size(), layout.stride),
        )
        .into())
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

    fn view(&self) -> View<'_, K, Val<V>> {
        View {
            region: self.seg.region(),
            geo: self.geo,
            _t: PhantomData,
        }
    }

    fn err(&self, e: ProbeError) -> MapError {
        map_error(e, &self.entry, self.geo.capacity, self.stall)
    }

    /// Inserts `key → value`. Returns the previous value if the key was present (it is
    /// replaced), `None` if the key is new.
    ///
    /// # Errors
    ///
    /// [`MapError::Full`] if the key is new and no slot is free; [`MapError::Stalled`] if a
    /// slot on the probe sequence stays INSERTING (see the module docs);
    /// [`MapError::Corrupt`] for an invalid slot state.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Map, map::MapError}};
    /// # let name = format!("/zeroipc-doc-map-insert-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u64, u64> = Map::create(&seg, "m", 1)?;
    /// assert_eq!(m.insert(1, 10)?, None);
    /// assert_eq!(m.insert(1, 11)?, Some(10));
    /// assert_eq!(m.insert(2, 20), Err(MapError::Full { capacity: 1 }));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn insert(&self, key: K, value: V) -> Result<Option<V>, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::insert(&self.view(), &key, &Val(value), OnPresent::Update, &mut p)
            .map(|old| old.map(|v| v.0))
            .map_err(|e| self.err(e))
    }

    /// The value stored under `key`, copied without tearing.
    ///
    /// # Errors
    ///
    /// As [`Map::insert`], except `Full`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<i32, f32> = Map::create(&seg, "m", 8)?;
    /// m.insert(-3, 0.5)?;
    /// assert_eq!(m.get(&-3)?, Some(0.5));
    /// assert_eq!(m.get(&4)?, None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self, key: &K) -> Result<Option<V>, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::get(&self.view(), key, &mut p)
            .map(|v| v.map(|v| v.0))
            .map_err(|e| self.err(e))
    }

    /// Whether `key` is present.
    ///
    /// # Errors
    ///
    /// As [`Map::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-contains-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u8, u8> = Map::create(&seg, "m", 4)?;
    /// m.insert(1, 1)?;
    /// assert!(m.contains_key(&1)?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn contains_key(&self, key: &K) -> Result<bool, MapError> {
        self.get(key).map(|v| v.is_some())
    }

    /// Removes `key` (its slot becomes a tombstone); returns its value.
    ///
    /// # Errors
    ///
    /// As [`Map::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-remove-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "m", 4)?;
    /// m.insert(1, 2)?;
    /// assert_eq!(m.remove(&1)?, Some(2));
    /// assert_eq!(m.remove(&1)?, None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn remove(&self, key: &K) -> Result<Option<V>, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::remove(&self.view(), key, &mut p)
            .map(|v| v.map(|v| v.0))
            .map_err(|e| self.err(e))
    }

    /// Every `(key, value)` pair, in slot order. Each pair is copied untorn; the whole is not
    /// one atomic snapshot when other processes write meanwhile.
    ///
    /// # Errors
    ///
    /// [`MapError::Stalled`] if a slot stays INSERTING; [`MapError::Corrupt`] for an invalid
    /// slot state.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-pairs-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "m", 4)?;
    /// m.insert(1, 2)?;
    /// assert_eq!(m.pairs()?, vec![(1, 2)]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pairs(&self) -> Result<Vec<(K, V)>, MapError> {
        let mut p = ProbePatience::new(self.stall);
        oa::snapshot(&self.view(), &mut p)
            .map(|v| v.into_iter().map(|(k, v)| (k, v.0)).collect())
            .map_err(|e| self.err(e))
    }

    /// The `size` counter: OCCUPIED slots (Relaxed; C++ updates it after the slot). The
    /// counter is written by peers: a value above the capacity is clamped to the capacity.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "m", 4)?;
    /// m.insert(1, 10)?;
    /// assert_eq!((m.len(), m.is_empty()), (1, false));
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

    /// Whether [`Map::len`] is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-is-empty-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "m", 8)?;
    /// assert!(m.is_empty());
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
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-capacity-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let t: Map<u32, u32> = Map::create(&seg, "t", 8)?;
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
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # use std::time::Duration;
    /// # let name = format!("/zeroipc-doc-map-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m = Map::<u32, u32>::create(&seg, "m", 4)?.with_stall_timeout(Duration::from_millis(100));
    /// assert_eq!(m.stall_timeout(), Duration::from_millis(100));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        self
    }

    /// The stall timeout (see [`Map::with_stall_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-stall-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "m", 4)?;
    /// assert_eq!(m.stall_timeout(), zeroipc::DEFAULT_STALL_TIMEOUT);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// The table entry this map lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "ages", 4)?;
    /// assert_eq!(m.entry().name(), "ages");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this map lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Map};
    /// # let name = format!("/zeroipc-doc-map-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m: Map<u32, u32> = Map::create(&seg, "ages", 4)?;
    /// assert!(m.segment().find("ages").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

//! Classification: the [`Kind`] an entry's bytes prove ([`classify`], [`classify_all`]),
//! with the type catalog as a tie-breaker (`catalog`).

#[allow(clippy::wildcard_imports)] // the inspect module's shared vocabulary
use super::*;
use crate::layout::array::{ARRAY_HEADER_LEN, ArrayHeader, C_ARRAY_HEADER_LEN};
use crate::layout::channel::ChannelHeader;
use crate::layout::event::EventHeader;
use crate::layout::future::{ERROR_MSG_LEN, FutureHeader, VALUE_OFFSET};
use crate::layout::lazy::LazyBoolHeader;
use crate::layout::map::MapHeader;
use crate::layout::pool::{POOL_HEADER_LEN, PoolHeader};
use crate::layout::queue::{QUEUE_HEADER_LEN, QueueHeader};
use crate::layout::ring::{RING_HEADER_LEN, RingHeader};
use crate::layout::rwlock::RwLockState;
use crate::layout::semaphore::SemaphoreHeader;
use crate::layout::stack::{STACK_HEADER_LEN, StackHeader};
use crate::layout::stream::StreamHeader;

/// Where `field` of the layout struct `T` starts: every header field the classifier reads
/// is found through the library's own layout types (`crate::layout`), not a literal.
macro_rules! at {
    ($t:ty, $field:ident) => {
        core::mem::offset_of!($t, $field)
    };
}

/// Bytes of a Stream's `transform_name` (up to the next field, the emit lock).
const TRANSFORM_NAME_LEN: usize =
    core::mem::offset_of!(StreamHeader, lock) - core::mem::offset_of!(StreamHeader, transform_name);
const _: () = assert!(
    core::mem::offset_of!(StreamHeader, closed) == core::mem::offset_of!(ChannelHeader, closed)
);

/// At most this many slots of a per-slot array (queue `seq`, stack states, map slots, pool
/// free list) are checked, so classifying a huge structure stays cheap.
pub(super) const SCAN_LIMIT: u64 = 1 << 16;

/// At most this many bytes of map or set slots are read.
pub(super) const SCAN_BYTES: u64 = 1 << 20;

/// How many of `capacity` slots of `stride` bytes to scan.
pub(super) fn scan_count(capacity: u32, stride: u64) -> u64 {
    u64::from(capacity)
        .min(SCAN_LIMIT)
        .min((SCAN_BYTES / stride.max(1)).max(1))
}

// ---------------------------------------------------------------------------------------
// Classification
// ---------------------------------------------------------------------------------------

/// The kind of structure `entry` holds, where its bytes prove it (see the
/// [module documentation](crate::inspect) for the rules); otherwise [`Kind::Ambiguous`] or
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
    let catalog = seg.catalog().ok().flatten();
    Classifier::new(seg, &siblings, catalog.as_ref()).classify(entry)
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
    let catalog = seg.catalog().ok().flatten();
    let c = Classifier::new(seg, &entries, catalog.as_ref());
    Ok(entries.iter().map(|e| (e.clone(), c.classify(e))).collect())
}

/// Little-endian readers over a byte prefix; `None` past its end.
pub(super) fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(super) fn i32_at(b: &[u8], at: usize) -> Option<i32> {
    Some(i32::from_le_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}
pub(super) fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}
pub(super) fn u8_at(b: &[u8], at: usize) -> Option<u8> {
    b.get(at).copied()
}
pub(super) fn align_up(n: u64, a: u64) -> Option<u64> {
    Some(n.checked_add(a - 1)? / a * a)
}
/// Alignments a `size`-byte element can have (a power of two dividing it, at most 8).
pub(super) fn alignments(size: u64) -> impl Iterator<Item = u64> {
    [1u64, 2, 4, 8].into_iter().filter(move |a| size % a == 0)
}
pub(super) fn all_zero(b: &[u8]) -> bool {
    b.iter().all(|&x| x == 0)
}

/// How many leading bytes of an entry are read to decode its header (every header fits).
pub(super) const HEAD_LEN: u64 = 64;

pub(super) struct Classifier<'a> {
    seg: &'a ReadOnlySegment,
    by_name: HashMap<&'a [u8], &'a Entry>,
    /// The segment's catalog, if it has a valid one (never trusted: see `catalog_kind`).
    catalog: Option<&'a Catalog>,
    /// Its records by entry name.
    index: CatalogIndex,
}

impl<'a> Classifier<'a> {
    pub(super) fn new(
        seg: &'a ReadOnlySegment,
        entries: &'a [Entry],
        catalog: Option<&'a Catalog>,
    ) -> Self {
        let mut by_name = HashMap::new();
        for e in entries {
            // The first entry of a name wins, as in upstream look-ups.
            by_name.entry(e.name().as_bytes()).or_insert(e);
        }
        let index = CatalogIndex::new(catalog);
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

    pub(super) fn classify(&self, entry: &Entry) -> Kind {
        if let Some(k) = self.waiter_registry(entry) {
            return k;
        }
        if let Some(k) = self.permit_registry(entry) {
            return k;
        }
        if entry.name() == CATALOG_ENTRY_NAME {
            if let Some(c) = self.catalog {
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
                    readers: i32_at(b, at!(RwLockState, readers))?,
                    writer_active: i32_at(b, at!(RwLockState, writer_active))?,
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
            let (signaled, mode, waiting) = (
                u32_at(b, at!(EventHeader, signaled))?,
                u32_at(b, at!(EventHeader, mode))?,
                u32_at(b, at!(EventHeader, waiting))?,
            );
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
                && u32_at(&hb, at!(ChannelHeader, capacity))? == 0
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
        // `closed` is at the same offset in both headers (asserted below).
        let closed = u8_at(b, at!(StreamHeader, closed))?;
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
            let buffer_capacity = u32_at(b, at!(StreamHeader, buffer_capacity))?;
            let name_at = at!(StreamHeader, transform_name);
            let name = b.get(name_at..name_at + TRANSFORM_NAME_LEN)?;
            let proven = u64::from(buffer_capacity) * u64::from(elem_size) == u64::from(capacity)
                && name.contains(&0);
            return proven.then_some(Kind::StreamHeader {
                sequence: u64_at(b, at!(StreamHeader, sequence))?,
                subscribers: u32_at(b, at!(StreamHeader, subscribers))?,
                closed,
                buffer_capacity,
            });
        }
        if size == 32 {
            let capacity = u32_at(b, at!(ChannelHeader, capacity))?;
            let proven = if capacity == 0 {
                self.sibling(base, b"_slot").is_some()
            } else {
                let q = self.sibling(base, b"_buffer")?;
                let qb = self.bytes(q, 0, HEAD_LEN)?;
                matches!(self.queue(q, &qb), Some(Kind::Queue { capacity: c, .. }) if c == capacity)
            };
            return proven.then_some(Kind::ChannelHeader {
                capacity,
                senders: u32_at(b, at!(ChannelHeader, senders))?,
                receivers: u32_at(b, at!(ChannelHeader, receivers))?,
                closed,
            });
        }
        None
    }

    // --- self-describing headers -------------------------------------------------------

    /// Queue: `16 + align8(cap*es) + 4*cap == size`, cap a power of two, and every `seq`
    /// word consistent with head/tail (allowing one in-flight operation per slot).
    fn queue(&self, entry: &Entry, b: &[u8]) -> Option<Kind> {
        let (head, tail, capacity, elem_size) = (
            u32_at(b, at!(QueueHeader, head))?,
            u32_at(b, at!(QueueHeader, tail))?,
            u32_at(b, at!(QueueHeader, capacity))?,
            u32_at(b, at!(QueueHeader, elem_size))?,
        );
        if !capacity.is_power_of_two() || elem_size == 0 || tail.wrapping_sub(head) > capacity {
            return None;
        }
        let data = u64::from(capacity).checked_mul(elem_size.into())?;
        let seq_at = QUEUE_HEADER_LEN.checked_add(align_up(data, 8)?)?;
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
        let (top, capacity, elem_size, reserved) = (
            i32_at(b, at!(StackHeader, top))?,
            u32_at(b, at!(StackHeader, capacity))?,
            u32_at(b, at!(StackHeader, elem_size))?,
            u32_at(b, at!(StackHeader, reserved))?,
        );
        if reserved != 0
            || capacity == 0
            || elem_size == 0
            || top < -1
            || i64::from(top) >= i64::from(capacity)
        {
            return None;
        }
        let data = u64::from(capacity).checked_mul(elem_size.into())?;
        let states_at = STACK_HEADER_LEN.checked_add(align_up(data, 8)?)?;
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
        let free_head = u64_at(b, at!(PoolHeader, free_head))?;
        let (allocated, padding, capacity, elem_size) = (
            u32_at(b, at!(PoolHeader, allocated))?,
            u32_at(b, at!(PoolHeader, padding))?,
            u32_at(b, at!(PoolHeader, capacity))?,
            u32_at(b, at!(PoolHeader, elem_size))?,
        );
        if padding != 0 || capacity == 0 || elem_size == 0 || allocated > capacity {
            return None;
        }
        let es = u64::from(elem_size);
        let next_off = align_up(es, 4)?;
        let node_size = alignments(es).find_map(|a| {
            let node = align_up(next_off + 4, a.max(4))?;
            (POOL_HEADER_LEN.checked_add(u64::from(capacity).checked_mul(node)?)? == entry.size())
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
            let at = POOL_HEADER_LEN + idx * node_size + next_off;
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
        // A Map's key and value sizes; a Set's element size and reserved word.
        let (Some(len), Some(capacity), Some(w2), Some(w3)) = (
            u32_at(b, at!(MapHeader, size)),
            u32_at(b, at!(MapHeader, capacity)),
            u32_at(b, at!(MapHeader, key_size)),
            u32_at(b, at!(MapHeader, value_size)),
        ) else {
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
        let (state, waiters, completion_time) = (
            u32_at(b, at!(FutureHeader, state))?,
            u32_at(b, at!(FutureHeader, waiters))?,
            u64_at(b, at!(FutureHeader, completion_time))?,
        );
        // PENDING: nothing was set yet (the value is zeroed at creation, the time is stored
        // by the setter); READY: the setter stored a completion time.
        let pending_ok = state != 0
            || (completion_time == 0
                && self
                    .bytes(entry, VALUE_OFFSET, min.min(4096))
                    .is_some_and(|v| all_zero(&v)));
        if state > 3 || !pending_ok || (state == 2 && completion_time == 0) {
            return None;
        }
        // The part of error_msg common to every possible value size.
        let msg = self.bytes(entry, VALUE_OFFSET + max, ERROR_MSG_LEN + min - max)?;
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
pub(super) fn pick(mut kinds: Vec<Kind>) -> Option<Kind> {
    kinds.dedup();
    match kinds.len() {
        0 => None,
        1 => kinds.pop(),
        _ => Some(Kind::Ambiguous(kinds)),
    }
}

/// Ring: `24 + capacity == size`, capacity a multiple of elem_size, positions multiples of
/// it with `read_pos <= write_pos <= read_pos + capacity`.
pub(super) fn ring(size: u64, b: &[u8]) -> Option<Kind> {
    let (write_pos, read_pos, capacity, elem_size) = (
        u64_at(b, at!(RingHeader, write_pos))?,
        u64_at(b, at!(RingHeader, read_pos))?,
        u32_at(b, at!(RingHeader, capacity))?,
        u32_at(b, at!(RingHeader, elem_size))?,
    );
    let (cap, es) = (u64::from(capacity), u64::from(elem_size));
    let ok = es > 0
        && cap > 0
        && cap % es == 0
        && RING_HEADER_LEN + cap == size
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
pub(super) fn once(size: u64, b: &[u8]) -> Option<Kind> {
    let state = u32_at(b, 0)?;
    (size == 4 && state <= 2).then_some(Kind::Once { state })
}

/// Array: `8 + capacity * elem_size == size`.
pub(super) fn array(size: u64, b: &[u8]) -> Option<Kind> {
    let capacity = u64_at(b, at!(ArrayHeader, capacity))?;
    if capacity == 0 {
        return (size == ARRAY_HEADER_LEN).then_some(Kind::Array {
            capacity,
            elem_size: 0,
        });
    }
    let data = size - ARRAY_HEADER_LEN;
    (data % capacity == 0 && data > 0).then_some(Kind::Array {
        capacity,
        elem_size: data / capacity,
    })
}

/// The C Array: `16 + capacity * elem_size == size`, both non-zero.
pub(super) fn c_array(size: u64, b: &[u8]) -> Option<Kind> {
    let (capacity, elem_size) = (u64_at(b, 0)?, u64_at(b, 8)?);
    let ok = capacity > 0
        && elem_size > 0
        && capacity
            .checked_mul(elem_size)
            .and_then(|d| d.checked_add(C_ARRAY_HEADER_LEN))
            == Some(size);
    ok.then_some(Kind::CArray {
        capacity,
        elem_size,
    })
}

pub(super) fn lazy_bool(size: u64, b: &[u8]) -> Option<Kind> {
    let data = at!(LazyBoolHeader, data);
    let (state, op, a, bb, cached) = (
        u32_at(b, at!(LazyBoolHeader, state))?,
        u32_at(b, at!(LazyBoolHeader, op))?,
        u8_at(b, data)?,
        u8_at(b, data + 1)?,
        u8_at(b, at!(LazyBoolHeader, cached))?,
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

pub(super) fn stream_void(size: u64, b: &[u8]) -> Option<Kind> {
    let closed = u8_at(b, 8)?;
    (size == 16 && closed <= 1 && all_zero(b.get(9..16)?)).then_some(Kind::StreamVoid {
        event_count: u64_at(b, 0)?,
        closed,
    })
}

/// A Semaphore that is a Mutex when `max_count == 1`.
pub(super) fn mutex_or_semaphore(size: u64, b: &[u8]) -> Option<Kind> {
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
pub(super) fn semaphore(size: u64, b: &[u8]) -> Option<Kind> {
    let (count, waiting, max_count, pad) = (
        i32_at(b, at!(SemaphoreHeader, count))?,
        i32_at(b, at!(SemaphoreHeader, waiting))?,
        i32_at(b, at!(SemaphoreHeader, max_count))?,
        i32_at(b, at!(SemaphoreHeader, owner))?,
    );
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
pub(super) fn sync16(size: u64, b: &[u8]) -> Vec<Kind> {
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

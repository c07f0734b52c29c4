//! Ring: a single-producer single-consumer ring buffer of `T`, byte-compatible with the C++
//! and Python rings (and with the buffer of a C++ `Stream`).
//!
//! # Layout (FORMAT.md §5.7)
//!
//! | off | size     | field                                                    |
//! |-----|----------|----------------------------------------------------------|
//! | 0   | 8        | `write_pos` u64: bytes ever written                      |
//! | 8   | 8        | `read_pos` u64: bytes ever read                          |
//! | 16  | 4        | `capacity` u32, in **bytes**, a multiple of `elem_size`  |
//! | 20  | 4        | `elem_size` u32                                          |
//! | 24  | capacity | data; element at position `p` lives at `24 + p % capacity` |
//!
//! Entry size: exactly `24 + capacity`.
//!
//! **Units.** This API counts elements: [`Ring::create`] takes the capacity in elements
//! (like Python's `Ring`), whereas the C++ constructor `Ring<T>(mem, name, capacity)` takes
//! **bytes** and rounds them down to whole elements (FORMAT.md IH-14). The header always
//! stores bytes.
//!
//! # Synchronization
//!
//! One producer and one consumer at a time. The producer side is a [`RingProducer`] and the
//! consumer side a [`RingConsumer`]; each keeps its own position and a cached copy of the
//! other side's in process-local memory, so the shared header is read only when the cache
//! says "full" (producer) or "empty" (consumer).
//!
//! **In this process the rule is enforced.** [`Ring::producer`] claims the ring's producer
//! side for this process until the returned [`RingProducer`] is dropped; a second call, on
//! any handle of the same ring (clones, or handles from separately opened [`Segment`]s of
//! the same shared-memory object, identified by its device and inode), returns
//! [`ClaimError::Taken`]. The same holds for [`Ring::consumer`]. (A
//! [`Stream`](crate::codata::stream::Stream) drives its `<name>_buffer` ring itself, under
//! its own cross-process lock and without these claims: a `Ring` handle on a stream's buffer
//! is outside both rules and gets the cross-process outcome below.)
//!
//! **Across processes the rule is the user's.** The ring's 24-byte header (FORMAT.md §5.7)
//! has no byte that upstream leaves unwritten, so there is nowhere to record a
//! cross-process owner without breaking byte compatibility. Run one producer process and one
//! consumer process per ring. If two processes produce at once anyway, both write the same
//! slots and race on `write_pos`: consumers may read values mixed from both writers,
//! elements may be lost or duplicated, and the positions may become inconsistent, which
//! every operation then reports as [`Corruption`]. It is never undefined behaviour in a
//! zeroipc process: element bytes are copied with atomic word accesses and every position
//! read from the segment is validated before it is used.
//!
//! | store (Release)           | load (Acquire)            | publishes               |
//! |---------------------------|---------------------------|-------------------------|
//! | `write_pos` after writing | `write_pos` before reading | the elements           |
//! | `read_pos` after reading  | `read_pos` before writing | the slots are free      |
//!
//! Every position read from the segment is validated (`write_pos - read_pos <= capacity`,
//! both multiples of `elem_size`); a violation is a [`Corruption`], never an out-of-bounds
//! copy.
//!
//! # Process death
//!
//! Nothing is claimed in shared memory before it is published: a producer killed mid-write
//! leaves the elements it had not yet published invisible, a consumer killed mid-read leaves
//! them unread. A new producer (or consumer), in any process, continues from the positions
//! in the header. The in-process claim dies with the process.
//!
//! # Blocking
//!
//! [`RingProducer::push`] waits while the ring is full and [`RingConsumer::pop`] while it is
//! empty (with `try_`, `_timeout` and `_deadline` forms). Upstream peers never wake anyone
//! and the header has no 32-bit word to sleep on, so a waiter polls the positions: it spins
//! briefly, yields for about a millisecond, then naps in 50 µs steps. Nothing is held while
//! waiting, so there is no stalled-peer error: a consumer that never reads keeps a blocking
//! `push` waiting (use the timed forms to bound it). The bulk [`RingProducer::write`] and
//! [`RingConsumer::read`] never block: they copy as many elements as fit (or are there)
//! and return the count.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Ring};
//! # let name = format!("/zeroipc-doc-ring-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let ring: Ring<f32> = Ring::create(&seg, "samples", 256)?; // 256 elements = 1024 bytes
//! let mut tx = ring.producer()?;
//! assert_eq!(tx.write(&[1.0, 2.0, 3.0])?, 3);
//! assert!(ring.producer().is_err()); // one producer per ring per process
//!
//! // The consumer, typically in another process:
//! let peer = Segment::open(&name)?;
//! let mut rx = Ring::<f32>::open(&peer, "samples")?.consumer()?;
//! let mut buf = [0.0; 8];
//! assert_eq!(rx.read(&mut buf)?, 3);
//! assert_eq!(&buf[..3], &[1.0, 2.0, 3.0]);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::ring::{RING_HEADER_LEN, RingHeader, ring_size};
use crate::loom::Ordering::Relaxed;
use crate::raw::cell::Slot;
use crate::raw::ring::{Corrupt, ReadCursor, RingView, WriteCursor};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::wait::Patience;

/// Geometry of a ring, read once from the segment and checked.
#[derive(Clone, Copy, Debug)]
struct RingLayout {
    header: u64,
    data: u64,
    /// Capacity in elements.
    slots: u32,
}

/// A single-producer single-consumer ring of `T` in a segment. See the [module docs](self).
pub struct Ring<T: Element> {
    seg: Segment,
    entry: Entry,
    layout: RingLayout,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Ring<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            layout: self.layout,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Ring<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.layout.slots)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

impl<T: Element> Ring<T> {
    const CHECK: () = {
        assert!(
            align_of::<T>() <= 8,
            "zeroipc elements must have an alignment of at most 8"
        );
        assert!(
            size_of::<T>() > 0,
            "zeroipc elements must not be zero-sized"
        );
        assert!(size_of::<T>() <= u32::MAX as usize, "elem_size is a u32");
    };

    /// Creates an empty ring named `name` holding `capacity_in_elements` elements (the
    /// header stores `capacity_in_elements * size_of::<T>()` bytes; the C++ constructor takes
    /// bytes instead).
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0 elements or a byte size above `u32::MAX`;
    /// [`StructureError::Table`] if the name is taken, the table is full or the segment is
    /// out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let r: Ring<u64> = Ring::create(&seg, "r", 6)?;
    /// assert_eq!((r.capacity(), r.capacity_bytes()), (6, 48));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(
        seg: &Segment,
        name: &str,
        capacity_in_elements: usize,
    ) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let es = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
        let bytes = u32::try_from(capacity_in_elements)
            .ok()
            .and_then(|n| n.checked_mul(es))
            .filter(|_| capacity_in_elements > 0)
            .ok_or(StructureError::InvalidCapacity {
                requested: u64::try_from(capacity_in_elements).unwrap_or(u64::MAX),
                reason: "a ring needs at least one element and at most u32::MAX bytes",
            })?;
        let entry = seg.allocate(
            name,
            ring_size(bytes),
            |region, at| -> Result<(), StructureError> {
                let h: &RingHeader = region.header(at)?;
                // ORDERING: Relaxed — published by the Release store of `entry_count`.
                h.write_pos.store(0, Relaxed);
                h.read_pos.store(0, Relaxed);
                h.capacity.store(bytes, Relaxed);
                h.elem_size.store(es, Relaxed);
                Ok(())
            },
        )?;
        seg.record(&Record::new(CatalogKind::Ring, name, &entry).elem::<T>());
        let layout = Self::validate(seg, &entry)?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            layout,
            _t: PhantomData,
        })
    }

    /// Opens the ring named `name`, validating its header against `T`, the entry and the
    /// mapping.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`, ...); [`StructureError::ElementSize`] if it
    /// holds elements of another size; [`StructureError::Corrupt`] for a byte capacity of 0
    /// or not a multiple of the element size, a size that disagrees with the entry, or
    /// positions that break the ring's invariants.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Ring::<i32>::create(&seg, "r", 16)?;
    /// let r: Ring<i32> = Ring::open(&seg, "r")?;
    /// assert_eq!(r.capacity_bytes(), 64);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let layout = Self::validate(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Ring, name, &entry).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            layout,
            _t: PhantomData,
        })
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<RingLayout, StructureError> {
        let es = size_of::<T>() as u64;
        let name = || entry.name().to_string();
        if entry.size() < RING_HEADER_LEN {
            return Err(Corruption::field(
                name(),
                "entry size",
                entry.size(),
                format!("at least {RING_HEADER_LEN} (the ring header)"),
            )
            .into());
        }
        let at = entry.offset();
        let h: &RingHeader = seg.region().header(at)?;
        // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`.
        let cap = h.capacity.load(Relaxed);
        let stored_es = h.elem_size.load(Relaxed);
        if u64::from(stored_es) != es {
            return Err(StructureError::ElementSize {
                entry: name(),
                stored: u64::from(stored_es),
                expected: es,
            });
        }
        if cap == 0 || u64::from(cap) % es != 0 {
            return Err(Corruption::field(
                name(),
                "capacity",
                u64::from(cap),
                format!("a non-zero multiple of elem_size {es} (bytes)"),
            )
            .into());
        }
        if ring_size(cap) != entry.size() {
            return Err(Corruption::field(
                name(),
                "capacity",
                u64::from(cap),
                format!("24 + capacity == entry size {}", entry.size()),
            )
            .into());
        }
        let slots = u32::try_from(u64::from(cap) / es).unwrap_or(0);
        let layout = RingLayout {
            header: at,
            data: at + RING_HEADER_LEN,
            slots,
        };
        seg.region()
            .slice::<Slot<T>>(layout.data, u64::from(slots))?;
        let ring = Self {
            seg: seg.clone(),
            entry: entry.clone(),
            layout,
            _t: PhantomData,
        };
        ring.view().read_cursor().map_err(|c| ring.corruption(c))?;
        Ok(layout)
    }

    /// The ring's view (`raw::ring`), for a Stream that drives its buffer itself.
    #[inline]
    pub(crate) fn view(&self) -> RingView<'_, T> {
        let r = self.seg.region();
        // SAFETY: `validate` checked this header with `header` on this same segment's region
        // when the handle was created or opened.
        let hdr = unsafe { r.header_prechecked::<RingHeader>(self.layout.header) };
        // SAFETY: as above, with `slice` for the slots.
        let slots = unsafe {
            r.slice_prechecked::<Slot<T>>(self.layout.data, u64::from(self.layout.slots))
        };
        // The geometry was validated at open: cannot fail.
        RingView::new(hdr, slots).expect("validated at open")
    }

    /// The [`Corruption`] for positions the view found inconsistent.
    pub(crate) fn corruption(&self, c: Corrupt) -> Corruption {
        Corruption::field(
            self.entry.name(),
            "write_pos",
            c.write_pos,
            format!(
                "read_pos {} <= write_pos <= read_pos + {}, both multiples of {}",
                c.read_pos,
                self.capacity_bytes(),
                size_of::<T>()
            ),
        )
    }

    /// Capacity in elements.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.layout.slots as usize
    }

    /// Capacity in bytes, as stored in the header.
    #[must_use]
    pub fn capacity_bytes(&self) -> usize {
        self.capacity() * size_of::<T>()
    }

    /// Elements in the ring right now (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let r: Ring<u8> = Ring::create(&seg, "r", 4)?;
    /// r.producer()?.try_push(1)?;
    /// assert_eq!(r.len()?, 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn len(&self) -> Result<usize, Corruption> {
        self.view().len().map_err(|c| self.corruption(c))
    }

    /// Whether the ring holds no elements (a snapshot).
    ///
    /// # Errors
    ///
    /// As [`Ring::len`].
    pub fn is_empty(&self) -> Result<bool, Corruption> {
        Ok(self.len()? == 0)
    }

    /// The table entry this ring lives in.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this ring lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The producer side, starting at the header's `write_pos`. Claims the producer side of
    /// this ring for this process until the [`RingProducer`] is dropped (see the
    /// [module docs](self#synchronization) for the rule across processes).
    ///
    /// # Errors
    ///
    /// [`ClaimError::Taken`] while another [`RingProducer`] of this ring is alive in this
    /// process (from any handle); [`ClaimError::Corrupt`] if the positions break the ring's
    /// invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # use zeroipc::structures::ring::ClaimError;
    /// # let name = format!("/zeroipc-doc-ring-producer-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring: Ring<u64> = Ring::create(&seg, "r", 8)?;
    /// let mut tx = ring.producer()?;
    /// tx.push(1)?;
    /// assert!(matches!(ring.producer(), Err(ClaimError::Taken { .. })));
    /// drop(tx);
    /// // A later producer (this or another process) continues where the last one stopped.
    /// ring.producer()?.push(2)?;
    /// assert_eq!(ring.len()?, 2);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer(&self) -> Result<RingProducer<T>, ClaimError> {
        let claim = Claim::take(self, Side::Producer)?;
        let mut tx = self.producer_unclaimed().map_err(ClaimError::Corrupt)?;
        tx.claim = Some(claim);
        Ok(tx)
    }

    /// The consumer side, starting at the header's `read_pos`. Claims the consumer side of
    /// this ring for this process until the [`RingConsumer`] is dropped.
    ///
    /// # Errors
    ///
    /// [`ClaimError::Taken`] while another [`RingConsumer`] of this ring is alive in this
    /// process; [`ClaimError::Corrupt`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-consumer-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring: Ring<u64> = Ring::create(&seg, "r", 8)?;
    /// ring.producer()?.write(&[1, 2])?;
    /// assert_eq!(ring.consumer()?.pop()?, 1);
    /// assert_eq!(ring.consumer()?.pop()?, 2); // continues from `read_pos`
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer(&self) -> Result<RingConsumer<T>, ClaimError> {
        let claim = Claim::take(self, Side::Consumer)?;
        let mut rx = self.consumer_unclaimed().map_err(ClaimError::Corrupt)?;
        rx.claim = Some(claim);
        Ok(rx)
    }

    /// A producer without its claim yet (`producer` adds it).
    fn producer_unclaimed(&self) -> Result<RingProducer<T>, Corruption> {
        let cursor = self.view().write_cursor().map_err(|c| self.corruption(c))?;
        Ok(RingProducer {
            ring: self.clone(),
            cursor,
            claim: None,
        })
    }

    /// A consumer without its claim yet (`consumer` adds it).
    fn consumer_unclaimed(&self) -> Result<RingConsumer<T>, Corruption> {
        let cursor = self.view().read_cursor().map_err(|c| self.corruption(c))?;
        Ok(RingConsumer {
            ring: self.clone(),
            cursor,
            claim: None,
        })
    }
}

/// Which side of a ring a [`ClaimError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Side {
    /// The [`RingProducer`].
    Producer,
    /// The [`RingConsumer`].
    Consumer,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        })
    }
}

/// One side of one ring: `(device, inode, ring header offset, side)`.
type ClaimKey = (u64, u64, u64, Side);

/// The ring sides claimed in this process (a `HashSet` cannot be built in a `const`).
static CLAIMS: Mutex<Option<HashSet<ClaimKey>>> = Mutex::new(None);

/// One side of one ring, claimed in this process until dropped.
#[derive(Debug)]
struct Claim {
    key: ClaimKey,
}

impl Claim {
    fn take<T: Element>(ring: &Ring<T>, side: Side) -> Result<Self, ClaimError> {
        let (dev, ino) = ring.seg.identity();
        let key = (dev, ino, ring.layout.header, side);
        // A panic while holding the lock cannot leave the set inconsistent (one insert or
        // remove), so a poisoned lock is used as is.
        let mut claims = CLAIMS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if claims.get_or_insert_with(HashSet::new).insert(key) {
            Ok(Self { key })
        } else {
            Err(ClaimError::Taken {
                entry: ring.entry.name().to_string(),
                side,
            })
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut claims = CLAIMS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(set) = claims.as_mut() {
            set.remove(&self.key);
        }
    }
}

/// Why [`Ring::producer`] or [`Ring::consumer`] returned no handle.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClaimError {
    /// A [`RingProducer`] (or [`RingConsumer`]) of this ring is already alive in this
    /// process; drop it first.
    Taken {
        /// The ring's table entry.
        entry: String,
        /// The side asked for.
        side: Side,
    },
    /// The positions break the ring's invariants.
    Corrupt(Corruption),
}

impl fmt::Display for ClaimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Taken { entry, side } => write!(
                f,
                "ring '{entry}' already has a live {side} in this process (found a claim, \
                 expected none: one {side} per ring per process)"
            ),
            Self::Corrupt(c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

impl std::error::Error for ClaimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Taken { .. } => None,
        }
    }
}

impl From<Corruption> for ClaimError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// Implements `Debug` (without `T: Debug`), `into_inner` and `Error` for a value-carrying
/// error enum whose every variant holds the value first.
macro_rules! value_error {
    ($name:ident { $($variant:ident $(($c:ident))?),* }) => {
        impl<T> $name<T> {
            /// The value that was not delivered.
            pub fn into_inner(self) -> T {
                match self {
                    $(Self::$variant(v $(, value_error!(@ignore $c))?) => v,)*
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$variant(_ $(, $c)?) => {
                        #[allow(unused_mut)]
                        let mut t = f.debug_tuple(stringify!($variant));
                        t.field(&format_args!(".."));
                        $(t.field($c);)?
                        t.finish()
                    })*
                }
            }
        }

        impl<T> std::error::Error for $name<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $(Self::$variant(_ $(, value_error!(@source $c))?) => {
                        value_error!(@ret $($c)?)
                    })*
                }
            }
        }
    };
    (@ignore $c:ident) => { _ };
    (@source $c:ident) => { $c };
    (@ret $c:ident) => { Some($c) };
    (@ret) => { None };
}

/// Why [`RingProducer::push`] did not append; the value is handed back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError<T> {
    /// The positions break the ring's invariants.
    Corrupt(T, Corruption),
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(_, c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

value_error!(PushError { Corrupt(c) });

/// Why [`RingProducer::try_push`] did not append; the value is handed back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPushError<T> {
    /// No room for one more element.
    Full(T),
    /// The positions break the ring's invariants.
    Corrupt(T, Corruption),
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the ring is full (expected room for one element)"),
            Self::Corrupt(_, c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

value_error!(TryPushError { Full, Corrupt(c) });

/// Why [`RingProducer::push_timeout`] / [`RingProducer::push_deadline`] did not append; the
/// value is handed back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushTimeoutError<T> {
    /// The ring stayed full until the deadline.
    Timeout(T),
    /// The positions break the ring's invariants.
    Corrupt(T, Corruption),
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("the ring stayed full until the deadline"),
            Self::Corrupt(_, c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

value_error!(PushTimeoutError { Timeout, Corrupt(c) });

/// Why [`RingConsumer::pop`] returned no element.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PopError {
    /// The positions break the ring's invariants.
    Corrupt(Corruption),
}

/// Why [`RingConsumer::try_pop`] returned no element.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPopError {
    /// The ring holds no element.
    Empty,
    /// The positions break the ring's invariants.
    Corrupt(Corruption),
}

/// Why [`RingConsumer::pop_timeout`] / [`RingConsumer::pop_deadline`] returned no element.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PopTimeoutError {
    /// The ring stayed empty until the deadline.
    Timeout,
    /// The positions break the ring's invariants.
    Corrupt(Corruption),
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the ring is empty (expected at least one element)"),
            Self::Corrupt(c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("the ring stayed empty until the deadline"),
            Self::Corrupt(c) => write!(f, "corrupt ring: {c}"),
        }
    }
}

impl std::error::Error for PopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
        }
    }
}

impl std::error::Error for TryPopError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Empty => None,
        }
    }
}

impl std::error::Error for PopTimeoutError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Timeout => None,
        }
    }
}

/// Waits for the ring to change until `deadline` (`None`: forever); `false` once it passed.
/// Nothing is held, so there is no stall bound: only the caller's deadline ends the wait.
fn patience(deadline: Option<Instant>) -> Patience {
    Patience::new(deadline.map_or(Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    }))
}

/// The producer side of a [`Ring`]: the only writer in this process (see [`Ring::producer`]).
/// `Send`, not shared (`&mut self`).
pub struct RingProducer<T: Element> {
    ring: Ring<T>,
    cursor: WriteCursor,
    /// `None` only for the crate's own serialised users (Stream).
    claim: Option<Claim>,
}

impl<T: Element> fmt::Debug for RingProducer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingProducer")
            .field("ring", &self.ring)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl<T: Element> RingProducer<T> {
    /// Appends one element, waiting while the ring is full (see the
    /// [module docs](self#blocking) for how it waits).
    ///
    /// # Errors
    ///
    /// [`PushError::Corrupt`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<u16>::create(&seg, "r", 1)?;
    /// let mut tx = ring.producer()?;
    /// tx.push(1)?;
    /// let consumer = std::thread::spawn(move || ring.consumer().unwrap().pop().unwrap());
    /// tx.push(2)?; // waits until the other thread took 1
    /// assert_eq!(consumer.join().unwrap(), 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<(), PushError<T>> {
        self.push_until(value, None).map_err(|e| match e {
            PushTimeoutError::Corrupt(v, c) => PushError::Corrupt(v, c),
            // No deadline: `Patience` with an unbounded bound never gives up.
            PushTimeoutError::Timeout(_) => unreachable!("an untimed push never times out"),
        })
    }

    /// Appends one element unless the ring is full; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`] or [`TryPushError::Corrupt`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # use zeroipc::structures::ring::TryPushError;
    /// # let name = format!("/zeroipc-doc-ring-try-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut tx = Ring::<u16>::create(&seg, "r", 1)?.producer()?;
    /// tx.try_push(1)?;
    /// assert_eq!(tx.try_push(2), Err(TryPushError::Full(2)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_push(&mut self, value: T) -> Result<(), TryPushError<T>> {
        match self
            .ring
            .view()
            .write(&mut self.cursor, core::slice::from_ref(&value))
        {
            Ok(1) => Ok(()),
            Ok(_) => Err(TryPushError::Full(value)),
            Err(c) => Err(TryPushError::Corrupt(value, self.ring.corruption(c))),
        }
    }

    /// Appends one element, waiting at most `timeout` while the ring is full.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] or [`PushTimeoutError::Corrupt`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # use zeroipc::structures::ring::PushTimeoutError;
    /// # let name = format!("/zeroipc-doc-ring-push-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut tx = Ring::<u16>::create(&seg, "r", 1)?.producer()?;
    /// tx.push_timeout(1, Duration::from_millis(10))?;
    /// let full = tx.push_timeout(2, Duration::from_millis(10));
    /// assert_eq!(full, Err(PushTimeoutError::Timeout(2)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_timeout(&mut self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, Instant::now().checked_add(timeout))
    }

    /// Appends one element, waiting until `deadline` at most while the ring is full.
    ///
    /// # Errors
    ///
    /// As [`RingProducer::push_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-push-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut tx = Ring::<u16>::create(&seg, "r", 1)?.producer()?;
    /// tx.push_deadline(1, Instant::now() + Duration::from_millis(10))?;
    /// assert!(tx.push_deadline(2, Instant::now()).is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_deadline(
        &mut self,
        value: T,
        deadline: Instant,
    ) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, Some(deadline))
    }

    fn push_until(
        &mut self,
        mut value: T,
        deadline: Option<Instant>,
    ) -> Result<(), PushTimeoutError<T>> {
        let mut wait = patience(deadline);
        loop {
            match self.try_push(value) {
                Ok(()) => return Ok(()),
                Err(TryPushError::Corrupt(v, c)) => return Err(PushTimeoutError::Corrupt(v, c)),
                Err(TryPushError::Full(v)) => value = v,
            }
            if !wait.keep_waiting() {
                // One last look: the consumer may have freed a slot during the final nap.
                return match self.try_push(value) {
                    Ok(()) => Ok(()),
                    Err(TryPushError::Full(v)) => Err(PushTimeoutError::Timeout(v)),
                    Err(TryPushError::Corrupt(v, c)) => Err(PushTimeoutError::Corrupt(v, c)),
                };
            }
        }
    }

    /// Appends as many elements of `src` as fit, in order, with one publication; returns how
    /// many (as C++ `write(span)`; Python's bulk write is all-or-nothing). Never blocks: 0
    /// when the ring is full.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants (nothing is written).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-write-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut tx = Ring::<u32>::create(&seg, "r", 3)?.producer()?;
    /// assert_eq!(tx.write(&[1, 2, 3, 4])?, 3);
    /// assert_eq!(tx.write(&[5])?, 0);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write(&mut self, src: &[T]) -> Result<usize, Corruption> {
        self.ring
            .view()
            .write(&mut self.cursor, src)
            .map_err(|c| self.ring.corruption(c))
    }

    /// The ring.
    #[must_use]
    pub fn ring(&self) -> &Ring<T> {
        &self.ring
    }

    /// The segment the ring lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.ring.seg
    }
}

/// The consumer side of a [`Ring`]: the only reader in this process (see
/// [`Ring::consumer`]). `Send`, not shared (`&mut self`).
pub struct RingConsumer<T: Element> {
    ring: Ring<T>,
    cursor: ReadCursor,
    /// `None` only for the crate's own serialised users (Stream).
    claim: Option<Claim>,
}

impl<T: Element> fmt::Debug for RingConsumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingConsumer")
            .field("ring", &self.ring)
            .field("cursor", &self.cursor)
            .finish_non_exhaustive()
    }
}

impl<T: Element> RingConsumer<T> {
    /// Removes the oldest element, waiting while the ring is empty (see the
    /// [module docs](self#blocking)).
    ///
    /// # Errors
    ///
    /// [`PopError::Corrupt`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<i8>::create(&seg, "r", 2)?;
    /// let mut rx = ring.consumer()?;
    /// let producer = std::thread::spawn(move || ring.producer().unwrap().push(-3).unwrap());
    /// assert_eq!(rx.pop()?, -3); // waits for the other thread's push
    /// producer.join().unwrap();
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&mut self) -> Result<T, PopError> {
        self.pop_until(None).map_err(|e| match e {
            PopTimeoutError::Corrupt(c) => PopError::Corrupt(c),
            // As in `push`.
            PopTimeoutError::Timeout => unreachable!("an untimed pop never times out"),
        })
    }

    /// Removes the oldest element if there is one; never blocks.
    ///
    /// # Errors
    ///
    /// [`TryPopError::Empty`]; [`TryPopError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # use zeroipc::structures::ring::TryPopError;
    /// # let name = format!("/zeroipc-doc-ring-try-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<i8>::create(&seg, "r", 2)?;
    /// ring.producer()?.try_push(-3)?;
    /// let mut rx = ring.consumer()?;
    /// assert_eq!(rx.try_pop(), Ok(-3));
    /// assert_eq!(rx.try_pop(), Err(TryPopError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_pop(&mut self) -> Result<T, TryPopError> {
        match self.one(false) {
            Ok(Some(v)) => Ok(v),
            Ok(None) => Err(TryPopError::Empty),
            Err(c) => Err(TryPopError::Corrupt(c)),
        }
    }

    /// Removes the oldest element, waiting at most `timeout` while the ring is empty.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`]; [`PopTimeoutError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # use zeroipc::structures::ring::PopTimeoutError;
    /// # let name = format!("/zeroipc-doc-ring-pop-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut rx = Ring::<u8>::create(&seg, "r", 2)?.consumer()?;
    /// assert_eq!(rx.pop_timeout(Duration::from_millis(10)), Err(PopTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_timeout(&mut self, timeout: Duration) -> Result<T, PopTimeoutError> {
        self.pop_until(Instant::now().checked_add(timeout))
    }

    /// Removes the oldest element, waiting until `deadline` at most while the ring is empty.
    ///
    /// # Errors
    ///
    /// As [`RingConsumer::pop_timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-pop-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<u8>::create(&seg, "r", 2)?;
    /// ring.producer()?.try_push(4)?;
    /// assert_eq!(ring.consumer()?.pop_deadline(Instant::now()), Ok(4));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_deadline(&mut self, deadline: Instant) -> Result<T, PopTimeoutError> {
        self.pop_until(Some(deadline))
    }

    fn pop_until(&mut self, deadline: Option<Instant>) -> Result<T, PopTimeoutError> {
        let mut wait = patience(deadline);
        loop {
            match self.one(false) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(c) => return Err(PopTimeoutError::Corrupt(c)),
            }
            if !wait.keep_waiting() {
                // One last look: the producer may have published during the final nap.
                return match self.one(false) {
                    Ok(Some(v)) => Ok(v),
                    Ok(None) => Err(PopTimeoutError::Timeout),
                    Err(c) => Err(PopTimeoutError::Corrupt(c)),
                };
            }
        }
    }

    /// Copies the oldest element without removing it; `Ok(None)` if the ring is empty.
    /// Never blocks.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-peek-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<u8>::create(&seg, "r", 2)?;
    /// ring.producer()?.push(8)?;
    /// let mut rx = ring.consumer()?;
    /// assert_eq!(rx.peek()?, Some(8));
    /// assert_eq!(rx.pop()?, 8);
    /// assert_eq!(rx.peek()?, None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peek(&mut self) -> Result<Option<T>, Corruption> {
        self.one(true)
    }

    fn one(&mut self, peek: bool) -> Result<Option<T>, Corruption> {
        let mut out = [T::new_zeroed()];
        let n = self
            .ring
            .view()
            .read(&mut self.cursor, &mut out, peek)
            .map_err(|c| self.ring.corruption(c))?;
        Ok((n == 1).then_some(out[0]))
    }

    /// Moves up to `dst.len()` elements out, oldest first; returns how many. Never blocks: 0
    /// when the ring is empty.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants (nothing is read).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-read-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<u32>::create(&seg, "r", 4)?;
    /// ring.producer()?.write(&[5, 6])?;
    /// let mut buf = [0; 4];
    /// assert_eq!(ring.consumer()?.read(&mut buf)?, 2);
    /// assert_eq!(buf, [5, 6, 0, 0]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read(&mut self, dst: &mut [T]) -> Result<usize, Corruption> {
        self.ring
            .view()
            .read(&mut self.cursor, dst, false)
            .map_err(|c| self.ring.corruption(c))
    }

    /// The ring.
    #[must_use]
    pub fn ring(&self) -> &Ring<T> {
        &self.ring
    }

    /// The segment the ring lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.ring.seg
    }
}

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
//! Exactly one producer and one consumer at a time, across all processes (upstream has no
//! way to enforce it and neither has the format). The producer side is a
//! [`RingProducer`] and the consumer side a [`RingConsumer`]; each keeps its own position
//! and a cached copy of the other side's in process-local memory, so the shared header is
//! read only when the cache says "full" (producer) or "empty" (consumer).
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
//! Nothing is claimed before it is published: a producer killed mid-write leaves the
//! elements it had not yet published invisible, a consumer killed mid-read leaves them
//! unread. A new producer (or consumer) created with [`Ring::producer`] / [`Ring::consumer`]
//! continues from the positions in the header.
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

use crate::Element;
use crate::error::{Corruption, Full, StructureError};
use crate::layout::ring::{RING_HEADER_LEN, RingHeader, ring_size};
use crate::loom::Ordering::Relaxed;
use crate::raw::cell::Slot;
use crate::raw::ring::{Corrupt, ReadCursor, RingView, WriteCursor};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};

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
        capacity_in_elements: u32,
    ) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let es = u32::try_from(size_of::<T>()).unwrap_or(u32::MAX);
        let bytes = capacity_in_elements
            .checked_mul(es)
            .filter(|_| capacity_in_elements > 0)
            .ok_or(StructureError::InvalidCapacity {
                requested: u64::from(capacity_in_elements),
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
            return Err(Corruption::Field {
                entry: name(),
                field: "entry size",
                found: entry.size(),
                expected: format!("at least {RING_HEADER_LEN} (the ring header)"),
            }
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
            return Err(Corruption::Field {
                entry: name(),
                field: "capacity",
                found: u64::from(cap),
                expected: format!("a non-zero multiple of elem_size {es} (bytes)"),
            }
            .into());
        }
        if ring_size(cap) != entry.size() {
            return Err(Corruption::Field {
                entry: name(),
                field: "capacity",
                found: u64::from(cap),
                expected: format!("24 + capacity == entry size {}", entry.size()),
            }
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

    #[inline]
    fn view(&self) -> RingView<'_, T> {
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

    /// `(write_pos, read_pos, element at byte position pos if in between)`, moving nothing;
    /// the caller serialises with every producer (Stream broadcast subscribers).
    pub(crate) fn read_at(&self, pos: u64) -> Result<(u64, u64, Option<T>), Corruption> {
        self.view().read_at(pos).map_err(|c| self.corruption(c))
    }

    fn corruption(&self, c: Corrupt) -> Corruption {
        Corruption::Field {
            entry: self.entry.name().to_string(),
            field: "write_pos",
            found: c.write_pos,
            expected: format!(
                "read_pos {} <= write_pos <= read_pos + {}, both multiples of {}",
                c.read_pos,
                self.capacity_bytes(),
                size_of::<T>()
            ),
        }
    }

    /// Capacity in elements.
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.layout.slots
    }

    /// Capacity in bytes, as stored in the header.
    #[must_use]
    pub fn capacity_bytes(&self) -> u64 {
        u64::from(self.layout.slots) * size_of::<T>() as u64
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
    /// r.producer()?.push(1)?;
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

    /// The producer side, starting at the header's `write_pos`. Only one producer may exist
    /// at a time across all processes.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-producer-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring: Ring<u64> = Ring::create(&seg, "r", 8)?;
    /// let mut tx = ring.producer()?;
    /// tx.push(1)?;
    /// drop(tx);
    /// // A later producer (this or another process) continues where the last one stopped.
    /// ring.producer()?.push(2)?;
    /// assert_eq!(ring.len()?, 2);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer(&self) -> Result<RingProducer<T>, Corruption> {
        let cursor = self.view().write_cursor().map_err(|c| self.corruption(c))?;
        Ok(RingProducer {
            ring: self.clone(),
            cursor,
        })
    }

    /// The consumer side, starting at the header's `read_pos`. Only one consumer may exist
    /// at a time across all processes.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-consumer-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring: Ring<u64> = Ring::create(&seg, "r", 8)?;
    /// ring.producer()?.write(&[1, 2])?;
    /// assert_eq!(ring.consumer()?.pop()?, Some(1));
    /// assert_eq!(ring.consumer()?.pop()?, Some(2)); // continues from `read_pos`
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer(&self) -> Result<RingConsumer<T>, Corruption> {
        let cursor = self.view().read_cursor().map_err(|c| self.corruption(c))?;
        Ok(RingConsumer {
            ring: self.clone(),
            cursor,
        })
    }
}

/// Why [`RingProducer::push`] did not append; the value is handed back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RingPushError<T> {
    /// No room for one more element.
    Full(T),
    /// The positions break the ring's invariants.
    Corrupt {
        /// The value.
        value: T,
        /// What is wrong.
        corruption: Corruption,
    },
}

impl<T> fmt::Debug for RingPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Corrupt { corruption, .. } => write!(f, "Corrupt({corruption:?})"),
        }
    }
}

impl<T> fmt::Display for RingPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the ring is full"),
            Self::Corrupt { corruption, .. } => write!(f, "corrupt ring: {corruption}"),
        }
    }
}

impl<T> std::error::Error for RingPushError<T> {}

impl<T> From<Full<T>> for RingPushError<T> {
    fn from(f: Full<T>) -> Self {
        Self::Full(f.0)
    }
}

/// The producer side of a [`Ring`]: the only writer. `Send`, not shared (`&mut self`).
pub struct RingProducer<T: Element> {
    ring: Ring<T>,
    cursor: WriteCursor,
}

impl<T: Element> fmt::Debug for RingProducer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingProducer")
            .field("ring", &self.ring)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: Element> RingProducer<T> {
    /// Appends one element unless the ring is full.
    ///
    /// # Errors
    ///
    /// [`RingPushError::Full`] or [`RingPushError::Corrupt`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Ring, RingPushError}};
    /// # let name = format!("/zeroipc-doc-ring-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let mut tx = Ring::<u16>::create(&seg, "r", 1)?.producer()?;
    /// tx.push(1)?;
    /// assert_eq!(tx.push(2), Err(RingPushError::Full(2)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&mut self, value: T) -> Result<(), RingPushError<T>> {
        match self
            .ring
            .view()
            .write(&mut self.cursor, core::slice::from_ref(&value))
        {
            Ok(1) => Ok(()),
            Ok(_) => Err(RingPushError::Full(value)),
            Err(c) => Err(RingPushError::Corrupt {
                value,
                corruption: self.ring.corruption(c),
            }),
        }
    }

    /// Appends as many elements of `src` as fit, in order, with one publication; returns how
    /// many (as C++ `write(span)`; Python's bulk write is all-or-nothing).
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
}

/// The consumer side of a [`Ring`]: the only reader. `Send`, not shared (`&mut self`).
pub struct RingConsumer<T: Element> {
    ring: Ring<T>,
    cursor: ReadCursor,
}

impl<T: Element> fmt::Debug for RingConsumer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RingConsumer")
            .field("ring", &self.ring)
            .field("cursor", &self.cursor)
            .finish()
    }
}

impl<T: Element> RingConsumer<T> {
    /// Removes the oldest element; `Ok(None)` if the ring is empty.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the positions break the ring's invariants.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Ring};
    /// # let name = format!("/zeroipc-doc-ring-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let ring = Ring::<i8>::create(&seg, "r", 2)?;
    /// ring.producer()?.push(-3)?;
    /// let mut rx = ring.consumer()?;
    /// assert_eq!(rx.pop()?, Some(-3));
    /// assert_eq!(rx.pop()?, None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&mut self) -> Result<Option<T>, Corruption> {
        self.one(false)
    }

    /// Copies the oldest element without removing it; `Ok(None)` if the ring is empty.
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
    /// assert_eq!(rx.pop()?, Some(8));
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

    /// Moves up to `dst.len()` elements out, oldest first; returns how many.
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
}

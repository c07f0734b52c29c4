//! Array: a fixed number of elements every process can read and write in place.
//!
//! # Layout (FORMAT.md §5.1)
//!
//! | off | size          | field                |
//! |-----|---------------|----------------------|
//! | 0   | 8             | `capacity` u64       |
//! | 8   | capacity × es | elements, densely    |
//!
//! The entry size is exactly `8 + capacity * size_of::<T>()`, as C++, Go and Python write
//! it. The C implementation's 16-byte header (`capacity`, `elem_size`, data at +16; FORMAT.md
//! IH-1) is recognised and refused with [`StructureError::Foreign`].
//!
//! # Synchronization
//!
//! None is implied: Array is plain memory, as upstream. [`Array::get`] and [`Array::set`]
//! copy with Relaxed atomic word loads and stores (the word is `min(align_of::<T>(), 8)`
//! bytes), so a value read while another process writes it may mix old and new words, but
//! there is never a data race. Use the atomic accessors ([`Array::<u64>::atomic`] and
//! friends) for counters and flags, or a lock around multi-word values.
//!
//! # Process death
//!
//! Nothing to recover: a process killed in the middle of [`Array::set`] leaves that element
//! partly written (at word granularity) and everything else intact.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Array};
//! # let name = format!("/zeroipc-doc-array-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let temps: Array<f32> = Array::create(&seg, "temps", 10)?;
//! temps.set(3, 21.5)?;
//!
//! // Another process:
//! let peer = Segment::open(&name)?;
//! let temps: Array<f32> = Array::open(&peer, "temps")?;
//! assert_eq!(temps.get(3), Some(21.5));
//! assert_eq!(temps.len(), 10);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};

use crate::Element;
use crate::error::{Corruption, OutOfBounds, StructureError};
use crate::layout::array::{ARRAY_HEADER_LEN, ArrayHeader, C_ARRAY_HEADER_LEN, array_size};
use crate::loom::Ordering::Relaxed;
use crate::loom::{
    AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16, AtomicU32, AtomicU64,
};
use crate::raw::words;
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};

/// A fixed-size array of `T` in a segment (layout: FORMAT.md §5.1; see [`crate::structures`]).
pub struct Array<T: Element> {
    seg: Segment,
    entry: Entry,
    len: usize,
    /// Segment offset of element 0.
    data: u64,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Array<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            len: self.len,
            data: self.data,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Array")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("len", &self.len)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

use crate::raw::words::with_word;

impl<T: Element> Array<T> {
    const CHECK: () = {
        assert!(
            align_of::<T>() <= 8,
            "zeroipc elements must have an alignment of at most 8"
        );
        assert!(
            size_of::<T>() > 0,
            "zeroipc elements must not be zero-sized"
        );
    };

    /// Creates an array of `capacity` zeroed elements named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for a capacity of 0 (no upstream peer can create or
    /// open one) or one whose size overflows; [`StructureError::Table`] if the name is taken,
    /// the table is full or the segment is out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u32> = Array::create(&seg, "a", 4)?;
    /// assert_eq!(a.to_vec(), [0, 0, 0, 0]); // zeroed
    /// assert!(Array::<u32>::create(&seg, "b", 0).is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        if capacity == 0 {
            return Err(StructureError::InvalidCapacity {
                requested: 0,
                reason: "an array needs at least one element",
            });
        }
        let requested = u64::try_from(capacity).unwrap_or(u64::MAX);
        let size = u64::try_from(capacity)
            .ok()
            .and_then(|c| array_size(c, size_of::<T>() as u64))
            .ok_or(StructureError::InvalidCapacity {
                requested,
                reason: "the array's size overflows",
            })?;
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &ArrayHeader = region.header(at)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
            h.capacity.store(requested, Relaxed);
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Array, name, &entry).elem::<T>());
        Ok(Self::from_parts(seg, entry, capacity))
    }

    /// Opens the array named `name`, checking its capacity against the entry size.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] with `NotFound` if there is no such entry;
    /// [`StructureError::ElementSize`] if it holds elements of another size;
    /// [`StructureError::Foreign`] for an array written by the C implementation (16-byte
    /// header); [`StructureError::Corrupt`] if the capacity does not match the entry size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Array::<u16>::create(&seg, "a", 3)?.set(2, 9)?;
    /// let a: Array<u16> = Array::open(&seg, "a")?;
    /// assert_eq!((a.len(), a.get(2)), (3, Some(9)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let capacity = Self::validate(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Array, name, &entry).elem::<T>())?;
        Ok(Self::from_parts(seg, entry, capacity))
    }

    fn from_parts(seg: &Segment, entry: Entry, len: usize) -> Self {
        let data = entry.offset() + ARRAY_HEADER_LEN;
        Self {
            seg: seg.clone(),
            entry,
            len,
            data,
            _t: PhantomData,
        }
    }

    /// Reads the header and proves `8 + capacity * size_of::<T>() == entry.size()`.
    fn validate(seg: &Segment, entry: &Entry) -> Result<usize, StructureError> {
        let es = size_of::<T>() as u64;
        let entry_name = || entry.name().to_string();
        if entry.size() < ARRAY_HEADER_LEN {
            return Err(Corruption::field(
                entry_name(),
                "entry size",
                entry.size(),
                format!("at least {ARRAY_HEADER_LEN} (the array header)"),
            )
            .into());
        }
        let h: &ArrayHeader = seg.region().header(entry.offset())?;
        // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`.
        let capacity = h.capacity.load(Relaxed);
        if array_size(capacity, es) == Some(entry.size()) {
            // The elements lie inside the mapping, so their number fits a usize.
            return usize::try_from(capacity).map_err(|_| {
                Corruption::field(
                    entry_name(),
                    "capacity",
                    capacity,
                    "a count that fits this platform's usize",
                )
                .into()
            });
        }
        // The C implementation: {u64 capacity, u64 elem_size}, data at +16 (FORMAT.md IH-1).
        if entry.size() >= C_ARRAY_HEADER_LEN && capacity > 0 {
            let c_es: &AtomicU64 = seg.region().header(entry.offset() + 8)?;
            let c_es = c_es.load(Relaxed);
            let c_size = capacity
                .checked_mul(c_es)
                .and_then(|d| d.checked_add(C_ARRAY_HEADER_LEN));
            if c_es > 0 && c_size == Some(entry.size()) {
                return Err(StructureError::Foreign {
                    entry: entry_name(),
                    format: "C implementation's Array",
                    detail: format!(
                        "16-byte header (capacity {capacity}, elem_size {c_es}, data at +16); \
                         C++, Go, Python and zeroipc use an 8-byte header"
                    ),
                });
            }
        }
        let data = entry.size() - ARRAY_HEADER_LEN;
        if capacity > 0 && data % capacity == 0 {
            return Err(StructureError::ElementSize {
                entry: entry_name(),
                stored: data / capacity,
                expected: es,
            });
        }
        Err(Corruption::field(
            entry_name(),
            "capacity",
            capacity,
            format!("(entry size {} - 8) / {es}", entry.size()),
        )
        .into())
    }

    /// Number of elements.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "a", 10)?;
    /// assert_eq!(a.len(), 10);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the array has no elements (only possible for arrays made by Python peers).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-is-empty-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "a", 1)?;
    /// assert!(!a.is_empty());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The table entry this array lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "temps", 1)?;
    /// assert_eq!(a.entry().name(), "temps");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this array lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "temps", 1)?;
    /// assert!(a.segment().find("temps").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The segment offset of element `start`, if `[start, start + n)` lies inside.
    fn check_range(&self, start: usize, n: usize) -> Result<u64, OutOfBounds> {
        let end = start.checked_add(n).filter(|&e| e <= self.len);
        match end {
            // `start < len`, and `len * size_of::<T>()` bytes lie inside the mapping.
            Some(_) => Ok(self.data + (start * size_of::<T>()) as u64),
            // One element: name its index (`set(10)` on 10 elements is "index 10", not 11);
            // a range: name its end.
            None => Err(OutOfBounds {
                index: if n == 1 {
                    start
                } else {
                    start.saturating_add(n)
                },
                len: self.len,
            }),
        }
    }

    /// The element at `index`, or `None` past the end.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<i64> = Array::create(&seg, "a", 2)?;
    /// a.set(1, -3)?;
    /// assert_eq!((a.get(1), a.get(2)), (Some(-3), None));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn get(&self, index: usize) -> Option<T> {
        let at = self.check_range(index, 1).ok()?;
        with_word!(T, |W| {
            let n = (size_of::<T>() / size_of::<W>()) as u64;
            // Validated at open: the whole data range lies inside the mapping.
            let w = self.seg.region().slice::<W>(at, n).ok()?;
            Some(words::load::<T, W>(w))
        })
    }

    /// Stores `value` at `index`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] if `index >= len()`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-set-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// # use zeroipc::OutOfBounds;
    /// let a: Array<f32> = Array::create(&seg, "a", 2)?;
    /// a.set(0, 1.5)?;
    /// assert_eq!(a.set(2, 0.0), Err(OutOfBounds { index: 2, len: 2 }));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set(&self, index: usize, value: T) -> Result<(), OutOfBounds> {
        self.write_from(index, core::slice::from_ref(&value))
    }

    /// Copies `out.len()` elements starting at `start` into `out`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] if the range passes the end; `out` is then untouched.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-read-into-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "a", 4)?;
    /// a.write_from(0, &[1, 2, 3, 4])?;
    /// let mut out = [0u8; 2];
    /// a.read_into(1, &mut out)?;
    /// assert_eq!(out, [2, 3]);
    /// assert!(a.read_into(3, &mut out).is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn read_into(&self, start: usize, out: &mut [T]) -> Result<(), OutOfBounds> {
        let at = self.check_range(start, out.len())?;
        let oob = OutOfBounds {
            index: start,
            len: self.len,
        };
        with_word!(T, |W| {
            let per = size_of::<T>() / size_of::<W>();
            let w = self
                .seg
                .region()
                .slice::<W>(at, (per * out.len()) as u64)
                .map_err(|_| oob)?;
            for (o, chunk) in out.iter_mut().zip(w.chunks_exact(per.max(1))) {
                *o = words::load::<T, W>(chunk);
            }
        });
        Ok(())
    }

    /// Copies `src` into the array starting at `start`.
    ///
    /// # Errors
    ///
    /// [`OutOfBounds`] if the range passes the end; nothing is written then.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-write-from-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u16> = Array::create(&seg, "a", 3)?;
    /// a.write_from(1, &[7, 8])?;
    /// assert_eq!(a.to_vec(), [0, 7, 8]);
    /// assert!(a.write_from(2, &[1, 2]).is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_from(&self, start: usize, src: &[T]) -> Result<(), OutOfBounds> {
        let at = self.check_range(start, src.len())?;
        let oob = OutOfBounds {
            index: start,
            len: self.len,
        };
        with_word!(T, |W| {
            let per = size_of::<T>() / size_of::<W>();
            let w = self
                .seg
                .region()
                .slice::<W>(at, (per * src.len()) as u64)
                .map_err(|_| oob)?;
            for (v, chunk) in src.iter().zip(w.chunks_exact(per.max(1))) {
                words::store::<T, W>(chunk, v);
            }
        });
        Ok(())
    }

    /// All elements, copied out.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-to-vec-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u8> = Array::create(&seg, "a", 2)?;
    /// a.set(1, 5)?;
    /// assert_eq!(a.to_vec(), [0, 5]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn to_vec(&self) -> Vec<T> {
        let mut v = vec![T::new_zeroed(); self.len];
        // Cannot fail: the range is exactly [0, len).
        let _ = self.read_into(0, &mut v);
        v
    }

    /// Stores `value` in every element.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-fill-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u32> = Array::create(&seg, "a", 3)?;
    /// a.fill(9);
    /// assert_eq!(a.to_vec(), [9, 9, 9]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fill(&self, value: T) {
        for i in 0..self.len {
            let _ = self.set(i, value);
        }
    }

    /// Zero-copy read access to all elements.
    ///
    /// # Safety
    ///
    /// While the returned slice lives, no process or thread may write the array (through
    /// [`Array::set`], an atomic accessor, [`Array::as_mut_slice`], or a peer in any
    /// language). Typical use: a producer fills the array, then publishes it through a
    /// synchronising structure (a Queue message, a Latch, a Future), after which readers take
    /// the slice and nobody writes again.
    ///
    /// # Panics
    ///
    /// Never for a validated array (the range was checked at open).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-as-slice-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u32> = Array::create(&seg, "a", 3)?;
    /// a.fill(4);
    /// // SAFETY: nobody writes the array while `view` lives (this example is alone with it).
    /// let view = unsafe { a.as_slice() };
    /// assert_eq!(view, [4, 4, 4]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub unsafe fn as_slice(&self) -> &[T] {
        let len = self.len;
        // SAFETY: the caller guarantees no writes while the slice lives; the range was
        // validated against the mapping when the array was created or opened.
        unsafe { self.seg.region().plain_slice::<T>(self.data, len) }.expect("validated at open")
    }

    /// Zero-copy write access to all elements.
    ///
    /// This hands out `&mut` into shared memory, which the rest of the crate never does: a
    /// caller that owns the array by its own protocol (one writer, readers waiting on a
    /// Latch) gets in-place writes without a copy, which is the point of zero-copy IPC.
    ///
    /// # Safety
    ///
    /// While the returned slice lives, no other process or thread reads or writes the array,
    /// and no other `&`/`&mut` slice of it exists in this process.
    ///
    /// # Panics
    ///
    /// Never for a validated array (the range was checked at open).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// # let name = format!("/zeroipc-doc-array-as-mut-slice-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Array<u32> = Array::create(&seg, "a", 3)?;
    /// // SAFETY: nobody else reads or writes the array while `out` lives.
    /// let out = unsafe { a.as_mut_slice() };
    /// out.copy_from_slice(&[1, 2, 3]);
    /// assert_eq!(a.to_vec(), [1, 2, 3]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[allow(clippy::mut_from_ref)] // exclusivity is the caller's documented promise
    pub unsafe fn as_mut_slice(&self) -> &mut [T] {
        let len = self.len;
        // SAFETY: the caller guarantees exclusive access while the slice lives; the range was
        // validated against the (writable) mapping when the array was created or opened.
        unsafe { self.seg.region().plain_slice_mut::<T>(self.data, len) }
            .expect("validated at open")
    }
}

macro_rules! atomic_accessors {
    ($($t:ty => $atomic:ty),* $(,)?) => {$(
        impl Array<$t> {
            /// Element `index` as an atomic, for lock-free updates shared with other
            /// processes (`fetch_add`, `compare_exchange`, ...). `None` past the end.
            ///
            /// The element's bytes are the same as the plain integer's, so C++ peers may use
            /// `std::atomic` on them.
            ///
            /// # Examples
            ///
            /// ```
            /// # use zeroipc::{Segment, SegmentOptions, structures::Array};
            /// use std::sync::atomic::Ordering;
            /// # let name = format!("/zeroipc-doc-atomic-{}-{}", stringify!($t), std::process::id());
            /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
            #[doc = concat!("let counters: Array<", stringify!($t), "> = Array::create(&seg, \"counters\", 4)?;")]
            /// counters.atomic(0).unwrap().fetch_add(5, Ordering::Relaxed);
            /// assert_eq!(counters.get(0), Some(5));
            /// # Segment::unlink(&name)?;
            /// # Ok::<(), Box<dyn std::error::Error>>(())
            /// ```
            #[must_use]
            pub fn atomic(&self, index: usize) -> Option<&$atomic> {
                let at = self.check_range(index, 1).ok()?;
                self.seg.region().header::<$atomic>(at).ok()
            }
        }
    )*};
}

atomic_accessors!(
    u8 => AtomicU8, i8 => AtomicI8, u16 => AtomicU16, i16 => AtomicI16,
    u32 => AtomicU32, i32 => AtomicI32, u64 => AtomicU64, i64 => AtomicI64,
);

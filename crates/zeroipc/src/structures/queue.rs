//! Queue: a bounded multi-producer multi-consumer FIFO (Vyukov's algorithm), shared by any
//! number of processes, byte-compatible with the C++, C, Go and Python queues.
//!
//! # Layout (FORMAT.md §5.2)
//!
//! | off                    | size          | field                                 |
//! |------------------------|---------------|---------------------------------------|
//! | 0                      | 4             | `head` u32, free-running pop counter  |
//! | 4                      | 4             | `tail` u32, free-running push counter |
//! | 8                      | 4             | `capacity` u32, a power of two ≥ 2    |
//! | 12                     | 4             | `elem_size` u32                       |
//! | 16                     | cap × es      | slots                                 |
//! | `16 + align8(cap*es)`  | 4 × cap       | `seq[k]` u32, initially `k`           |
//!
//! Entry size: exactly `16 + align8(cap*es) + 4*cap`. `head` and `tail` wrap at 2^32.
//!
//! Creating rounds the capacity up to a power of two, and to at least 2: a 1-slot Vyukov
//! queue overwrites unread elements (FORMAT.md D-5). Opening refuses a stored capacity of 0,
//! a non-power of two or a size that disagrees with the entry (corruption), an `elem_size`
//! other than `size_of::<T>()`, and **a capacity of 1**, which C++ `Channel<T>(mem, name, 1)`
//! creates: such a queue cannot be used safely by anyone (a second push overwrites the first
//! element and the next pop spins forever in every upstream implementation), so
//! [`Queue::open`] says so with [`StructureError::InvalidCapacity`] instead of joining in.
//!
//! # Synchronization
//!
//! | store (Release)             | load (Acquire)          | publishes                         |
//! |-----------------------------|-------------------------|-----------------------------------|
//! | `seq[i] = pos+1` in push    | `seq[i]` in pop         | the element                       |
//! | `seq[i] = pos+cap` in pop   | `seq[i]` in push        | the slot is free for the next lap |
//!
//! `head`/`tail` are Relaxed, as in C++: they only hand out positions.
//!
//! # Blocking, and what it costs
//!
//! [`Queue::pop_timeout`] and [`Queue::push_timeout`] sleep in the kernel on a **shared**
//! futex: a consumer that finds the queue empty sleeps on the `seq` word of the slot at
//! `head` (it changes when that element is published), a producer that finds it full sleeps
//! on the `seq` word of the slot at `tail` (it changes when that slot is freed).
//!
//! The header has no waiter count (the format is fixed), so sleepers register in the
//! segment's waiter registry (`__zeroipc_waiters`, an extra table entry created with the
//! segment's first zeroipc-created queue, never at run time; docs/EXTENSIONS.md): a
//! push or pop issues `FUTEX_WAKE` (a ~300 ns system call) **only when a sleeper is
//! registered** for that side of that queue. Otherwise its only extra cost is one load of
//! the counter, plus the `seq` store being SeqCst (`xchg` on x86-64) so that the sleeper's
//! increment-then-re-check and the waker's store-then-load cannot both miss each other:
//! no wake-up is lost between zeroipc processes.
//!
//! Upstream peers never call `FUTEX_WAKE` (they poll), so sleepers never sleep for more than
//! **1 ms** before re-checking: a C++ producer's element is noticed within a millisecond.
//! In a segment without the registry (every queue in it created by another implementation)
//! a zeroipc sleeper is never woken and relies on that re-check alone.
//!
//! # Process death
//!
//! A producer killed between claiming `tail` and publishing `seq` leaves its slot claimed
//! forever (FORMAT.md D-7): consumers reach it and wait for it. Upstream then reports
//! "empty" forever (or spins forever on corrupt words). Here every wait for a slot held by
//! another process is bounded in time (the *stall timeout*, [`Queue::with_stall_timeout`],
//! default 1 s) and then reported as [`QueuePopError::Stalled`] /
//! [`QueuePushError::Stalled`] naming the position. A consumer killed mid-pop is the mirror
//! case for producers. The queue cannot be repaired in place; drain what you can and
//! recreate it.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Queue};
//! # let name = format!("/zeroipc-doc-queue-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let jobs: Queue<u64> = Queue::create(&seg, "jobs", 100)?; // rounded up to 128
//! assert_eq!(jobs.capacity(), 128);
//! jobs.push(7)?;
//!
//! // Another process:
//! let peer = Segment::open(&name)?;
//! let jobs: Queue<u64> = Queue::open(&peer, "jobs")?;
//! assert_eq!(jobs.pop(), Some(7));
//! assert_eq!(jobs.pop(), None);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, Full, StructureError};
use crate::layout::queue::{
    QUEUE_HEADER_LEN, QUEUE_MAX_CAPACITY, QueueHeader, queue_seq_offset, queue_size,
};
use crate::loom::AtomicU32;
use crate::loom::Ordering::{Relaxed, SeqCst};
use crate::raw::cell::Slot;
use crate::raw::vyukov::{PopFail, PushFail, Vyukov};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::structures::wait::{DEFAULT_STALL_TIMEOUT, Patience};
use crate::sys::{futex, membarrier};

/// Longest single futex sleep: upstream peers never wake us, so re-check this often.
const SLICE: Duration = Duration::from_millis(1);
/// Attempts before a blocking call goes to sleep.
const SPINS_BEFORE_SLEEP: u32 = 16;

/// Why [`Queue::try_push`], [`Queue::push_timeout`] or [`Queue::push_deadline`] did not
/// append; the value is handed back.
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueuePushError<T> {
    /// Every slot holds an unread element (non-blocking calls only).
    Full(T),
    /// The deadline passed while the queue stayed full.
    Timeout(T),
    /// The slot at `position` stayed held by another process (a consumer that claimed it
    /// and did not finish: it may have died, FORMAT.md D-7) for longer than the stall
    /// timeout, or the queue's words are inconsistent.
    Stalled {
        /// The value.
        value: T,
        /// The `tail` position that is held up.
        position: u32,
    },
}

impl<T> QueuePushError<T> {
    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(v) | Self::Timeout(v) | Self::Stalled { value: v, .. } => v,
        }
    }
}

impl<T> fmt::Debug for QueuePushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Timeout(_) => f.write_str("Timeout(..)"),
            Self::Stalled { position, .. } => write!(f, "Stalled {{ position: {position}, .. }}"),
        }
    }
}

impl<T> fmt::Display for QueuePushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the queue is full"),
            Self::Timeout(_) => f.write_str("timed out waiting for room in the queue"),
            Self::Stalled { position, .. } => write!(
                f,
                "queue slot at position {position} is held by another process that does not \
                 finish (dead peer or corrupt queue)"
            ),
        }
    }
}

impl<T> std::error::Error for QueuePushError<T> {}

impl<T> From<QueuePushError<T>> for Full<T> {
    fn from(e: QueuePushError<T>) -> Self {
        Full(e.into_inner())
    }
}

/// Why [`Queue::try_pop`], [`Queue::pop_timeout`] or [`Queue::pop_deadline`] returned no
/// element.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueuePopError {
    /// Nothing has been pushed (non-blocking calls only).
    Empty,
    /// The deadline passed while the queue stayed empty.
    Timeout,
    /// The slot at `position` stayed claimed by a producer that did not publish it (it may
    /// have died between its CAS and its `seq` store, FORMAT.md D-7) for longer than the
    /// stall timeout, or the queue's words are inconsistent.
    Stalled {
        /// The `head` position that is held up.
        position: u32,
    },
}

impl fmt::Display for QueuePopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the queue is empty"),
            Self::Timeout => f.write_str("timed out waiting for an element"),
            Self::Stalled { position } => write!(
                f,
                "queue slot at position {position} was claimed by a producer that never \
                 published it (dead peer or corrupt queue)"
            ),
        }
    }
}

impl std::error::Error for QueuePopError {}

/// Geometry of a queue, read once from the segment and checked.
#[derive(Clone, Copy, Debug)]
struct QueueLayout {
    /// Segment offset of the header.
    header: u64,
    /// Segment offset of slot 0.
    data: u64,
    /// Segment offset of `seq[0]`.
    seq: u64,
    /// Number of slots.
    cap: u32,
}

/// A bounded MPMC queue of `T` in a segment. See the [module docs](self).
pub struct Queue<T: Element> {
    seg: Segment,
    entry: Entry,
    layout: QueueLayout,
    stall: Duration,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            layout: self.layout,
            stall: self.stall,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.layout.cap)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

impl<T: Element> Queue<T> {
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

    /// Creates an empty queue named `name` with room for `capacity` elements, rounded up to
    /// a power of two and to at least 2.
    ///
    /// If the segment has no waiter registry yet (`__zeroipc_waiters`, see the
    /// [module docs](crate::structures::queue), "Blocking"), this adds it too, right after
    /// the queue's entry: the registry is only ever created here, never by a blocking pop or
    /// push. If the table or segment has no room left for it, the queue is still created and
    /// its sleepers poll.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0 or more than 2^30 slots;
    /// [`StructureError::Table`] if the name is taken, the table is full or the segment is
    /// out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u32> = Queue::create(&seg, "one", 1)?;
    /// assert_eq!(q.capacity(), 2); // never a broken 1-slot queue
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: u32) -> Result<Self, StructureError> {
        Self::create_at(seg, name, capacity, 0)
    }

    /// Test hook: creates the queue with `head = tail = start` (and `seq` seeded to match),
    /// as the golden images' `q_wrap` does to exercise the 2^32 wraparound.
    #[doc(hidden)]
    pub fn create_at_position(
        seg: &Segment,
        name: &str,
        capacity: u32,
        start: u32,
    ) -> Result<Self, StructureError> {
        Self::create_at(seg, name, capacity, start)
    }

    fn create_at(
        seg: &Segment,
        name: &str,
        capacity: u32,
        start: u32,
    ) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        if capacity == 0 || capacity > QUEUE_MAX_CAPACITY {
            return Err(StructureError::InvalidCapacity {
                requested: u64::from(capacity),
                reason: "a queue needs between 1 and 2^30 slots",
            });
        }
        let cap = capacity.next_power_of_two().max(2);
        let es = size_of::<T>() as u64;
        let size = queue_size(u64::from(cap), es).ok_or(StructureError::InvalidCapacity {
            requested: u64::from(capacity),
            reason: "the queue's size overflows",
        })?;
        let seq_off = queue_seq_offset(u64::from(cap), es).unwrap_or(size);
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &QueueHeader = region.header(at)?;
            let seq: &[AtomicU32] = region.slice(at + seq_off, u64::from(cap))?;
            // ORDERING: Relaxed — nobody can see the entry yet; it is published by the
            // Release store of `entry_count` in the table's `allocate`.
            h.head.store(start, Relaxed);
            h.tail.store(start, Relaxed);
            h.capacity.store(cap, Relaxed);
            h.elem_size
                .store(u32::try_from(es).unwrap_or(u32::MAX), Relaxed);
            for k in 0..cap {
                let pos = start.wrapping_add(k);
                // `pos & (cap - 1) < cap`: in bounds.
                seq[(pos & (cap - 1)) as usize].store(pos, Relaxed);
            }
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Queue, name, &entry).elem::<T>());
        seg.ensure_waiter_registry();
        let layout = Self::validate(seg, &entry)?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            layout,
            stall: DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        })
    }

    /// Opens the queue named `name`, validating its header against `T`, the entry and the
    /// mapping.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`, ...); [`StructureError::ElementSize`] if it
    /// holds elements of another size; [`StructureError::InvalidCapacity`] for a 1-slot
    /// queue (see the module docs); [`StructureError::Corrupt`] for a capacity of 0, a
    /// non-power of two, or a size that disagrees with the entry.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, StructureError, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Queue::<u32>::create(&seg, "q", 8)?;
    /// let err = Queue::<u64>::open(&seg, "q").unwrap_err();
    /// assert!(matches!(err, StructureError::ElementSize { stored: 4, expected: 8, .. }));
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
            stall: DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        })
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<QueueLayout, StructureError> {
        let es = size_of::<T>() as u64;
        let name = || entry.name().to_string();
        if entry.size() < QUEUE_HEADER_LEN {
            return Err(Corruption::Field {
                entry: name(),
                field: "entry size",
                found: entry.size(),
                expected: format!("at least {QUEUE_HEADER_LEN} (the queue header)"),
            }
            .into());
        }
        let at = entry.offset();
        let h: &QueueHeader = seg.region().header(at)?;
        // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`;
        // these words never change after creation (and are re-validated if they did).
        let cap = h.capacity.load(Relaxed);
        let stored_es = h.elem_size.load(Relaxed);
        if u64::from(stored_es) != es {
            return Err(StructureError::ElementSize {
                entry: name(),
                stored: u64::from(stored_es),
                expected: es,
            });
        }
        if cap == 1 {
            return Err(StructureError::InvalidCapacity {
                requested: 1,
                reason: "a 1-slot queue (what C++ Channel<T>(mem, name, 1) creates) overwrites \
                         unread elements and wedges its readers (FORMAT.md D-5); zeroipc does \
                         not open it",
            });
        }
        if !cap.is_power_of_two() || cap > QUEUE_MAX_CAPACITY {
            return Err(Corruption::Field {
                entry: name(),
                field: "capacity",
                found: u64::from(cap),
                expected: "a power of two between 2 and 2^30".into(),
            }
            .into());
        }
        let size = queue_size(u64::from(cap), es);
        if size != Some(entry.size()) {
            return Err(Corruption::Field {
                entry: name(),
                field: "capacity",
                found: u64::from(cap),
                expected: format!(
                    "16 + align8(capacity * {es}) + 4 * capacity == entry size {}",
                    entry.size()
                ),
            }
            .into());
        }
        // Both computations succeeded above (size did not overflow).
        let seq_rel = queue_seq_offset(u64::from(cap), es).unwrap_or(entry.size());
        let layout = QueueLayout {
            header: at,
            data: at + QUEUE_HEADER_LEN,
            seq: at + seq_rel,
            cap,
        };
        // The ranges lie inside the entry, which the table proved lies inside the mapping;
        // check the slices (bounds and alignment) once so `view` cannot fail.
        seg.region().slice::<Slot<T>>(layout.data, u64::from(cap))?;
        seg.region()
            .slice::<AtomicU32>(layout.seq, u64::from(cap))?;
        Ok(layout)
    }

    #[inline(always)]
    fn view(&self) -> Vyukov<'_, T> {
        let r = self.seg.region();
        let n = u64::from(self.layout.cap);
        // SAFETY: `validate` checked this range with `header` on this same segment's region
        // when the handle was created or opened (likewise the two slices below).
        let hdr = unsafe { r.header_prechecked::<QueueHeader>(self.layout.header) };
        // SAFETY: as above.
        let slots = unsafe { r.slice_prechecked::<Slot<T>>(self.layout.data, n) };
        // SAFETY: as above.
        let seq = unsafe { r.slice_prechecked::<AtomicU32>(self.layout.seq, n) };
        // The lengths are the capacity validated at open.
        Vyukov::new_prevalidated(hdr, slots, seq)
    }

    #[inline(always)]
    fn header(&self) -> &QueueHeader {
        // SAFETY: `validate` checked this header with `header` on this same region.
        unsafe {
            self.seg
                .region()
                .header_prechecked::<QueueHeader>(self.layout.header)
        }
    }

    /// Sets how long an operation waits for a slot held by another process before it
    /// reports [`QueuePushError::Stalled`] / [`QueuePopError::Stalled`] (default 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q = Queue::<u32>::create(&seg, "q", 8)?.with_stall_timeout(Duration::from_millis(50));
    /// assert_eq!(q.stall_timeout(), Duration::from_millis(50));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        self
    }

    /// The stall timeout (see [`Queue::with_stall_timeout`]).
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// Number of slots (a power of two ≥ 2).
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.layout.cap
    }

    /// Elements in the queue: `tail - head`, a snapshot that may be stale by the time it is
    /// used (it also counts elements that are being pushed or popped right now).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "q", 2)?;
    /// q.push(1)?;
    /// assert_eq!((q.len(), q.is_empty(), q.is_full()), (1, false, false));
    /// q.push(2)?;
    /// assert!(q.is_full());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> u32 {
        self.view().len()
    }

    /// Whether [`Queue::len`] is 0 (a snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`Queue::len`] is the capacity (a snapshot).
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() >= self.layout.cap
    }

    /// The table entry this queue lives in.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this queue lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// `(head, tail)` now (Relaxed snapshots): a cheap change detector for structures built
    /// on a queue (a Channel's async wake-ups).
    pub(crate) fn positions(&self) -> (u32, u32) {
        let h = self.header();
        // ORDERING: Relaxed — only compared with an earlier snapshot.
        (h.head.load(Relaxed), h.tail.load(Relaxed))
    }

    /// A registration as a sleeper waiting for an element, for structures built on a queue
    /// (Channel) that need their own wait loop (to also watch a `closed` flag).
    pub(crate) fn data_sleeper(&self) -> Sleeper<'_, T> {
        Sleeper::new(self, Side::Data)
    }

    /// A registration as a sleeper waiting for a free slot (see [`Queue::data_sleeper`]).
    pub(crate) fn room_sleeper(&self) -> Sleeper<'_, T> {
        Sleeper::new(self, Side::Room)
    }

    /// Sleeps (at most 1 ms, never past `deadline`) until the element at `head` may have been
    /// published; the caller retries its pop afterwards.
    pub(crate) fn wait_for_data(&self, sleeper: &mut Sleeper<'_, T>, deadline: Option<Instant>) {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the futex compares its `seq`.
        let h = self.header().head.load(Relaxed);
        sleeper.sleep(
            q.seq_word(h),
            h.wrapping_add(1),
            deadline.unwrap_or_else(far_future),
        );
    }

    /// Sleeps (at most 1 ms, never past `deadline`) until the slot at `tail` may have been
    /// freed; the caller retries its push afterwards.
    pub(crate) fn wait_for_room(&self, sleeper: &mut Sleeper<'_, T>, deadline: Option<Instant>) {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the futex compares its `seq`.
        let t = self.header().tail.load(Relaxed);
        sleeper.sleep(q.seq_word(t), t, deadline.unwrap_or_else(far_future));
    }

    /// Wakes every zeroipc sleeper of this queue (the words they sleep on: `seq` at `head`
    /// and at `tail`), e.g. when a Channel closes. A sleeper on an older word re-checks
    /// within its 1 ms slice.
    pub(crate) fn wake_sleepers(&self) {
        let q = self.view();
        let h = self.header();
        // ORDERING: Relaxed — which words to wake.
        futex::wake_all(q.seq_word(h.head.load(Relaxed)));
        futex::wake_all(q.seq_word(h.tail.load(Relaxed)));
    }

    /// After a push at `pos`: wake the consumers sleeping on that slot, if any sleep.
    #[inline(always)]
    fn after_push(&self, seq: &AtomicU32) {
        if let Some(sleepers) = self.seg.sleepers(&self.entry) {
            // ORDERING: the waker half of the Dekker pair (segment::waiters): `light` orders
            // our Release `seq` store in `push` before this load against a sleeper's
            // `heavy` barrier, so either we see its increment or its re-check sees our
            // store. Relaxed: the barrier does the ordering.
            membarrier::light();
            if sleepers.data.load(Relaxed) != 0 {
                futex::wake_all(seq);
            }
        }
    }

    /// After a pop at `pos`: wake the producers sleeping on that slot, if any sleep.
    #[inline(always)]
    fn after_pop(&self, seq: &AtomicU32) {
        if let Some(sleepers) = self.seg.sleepers(&self.entry) {
            // ORDERING: as in `after_push`, with the `seq` store in `pop`.
            membarrier::light();
            if sleepers.room.load(Relaxed) != 0 {
                futex::wake_all(seq);
            }
        }
    }

    /// Appends `value` unless the queue is full. Never waits for room; like
    /// [`Queue::try_push`] it only waits (bounded by the stall timeout) while a consumer in
    /// another process is still copying out the element one lap back.
    ///
    /// # Errors
    ///
    /// [`Full`] with the value if every slot holds an unread element (or the slot stayed
    /// held by a stuck peer for the stall timeout: use [`Queue::try_push`] to tell apart).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, Full, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u64> = Queue::create(&seg, "jobs", 2)?;
    /// q.push(1)?;
    /// q.push(2)?;
    /// assert_eq!(q.push(3), Err(Full(3)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn push(&self, value: T) -> Result<(), Full<T>> {
        self.try_push(value).map_err(Full::from)
    }

    /// Removes the oldest element, or `None` if the queue is empty (or its head slot stayed
    /// held by a stuck peer for the stall timeout: use [`Queue::try_pop`] to tell apart).
    ///
    /// Never waits for an element; like [`Queue::try_pop`] it only waits (bounded by the
    /// stall timeout) while a producer in another process is still copying in the element
    /// at `head`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<i32> = Queue::create(&seg, "q", 4)?;
    /// q.push(-1)?;
    /// assert_eq!(q.pop(), Some(-1));
    /// assert_eq!(q.pop(), None);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a popped element is removed from the queue"]
    #[inline(always)]
    pub fn pop(&self) -> Option<T> {
        self.try_pop().ok()
    }

    /// Appends `value`. Does not sleep on a full queue; waits (up to the stall timeout) only
    /// while the slot at `tail` is still being emptied by a consumer.
    ///
    /// # Errors
    ///
    /// [`QueuePushError::Full`] or [`QueuePushError::Stalled`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, QueuePushError}};
    /// # let name = format!("/zeroipc-doc-queue-try-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// q.try_push(1)?;
    /// q.try_push(2)?;
    /// assert_eq!(q.try_push(3), Err(QueuePushError::Full(3)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_push(&self, value: T) -> Result<(), QueuePushError<T>> {
        let q = self.view();
        match q.push(value) {
            Ok(pos) => {
                self.after_push(q.seq_word(pos));
                Ok(())
            }
            Err(PushFail::Full(v)) => Err(QueuePushError::Full(v)),
            Err(PushFail::Busy { value, pos }) => self.try_push_busy(value, pos),
        }
    }

    /// [`Queue::try_push`] found the slot at `tail` still held by a peer: wait for it,
    /// bounded by the stall timeout.
    ///
    /// Builds its own view: taking the caller's by reference made the hot path spill the
    /// view to the stack on every push.
    #[cold]
    #[inline(never)]
    fn try_push_busy(&self, value: T, pos: u32) -> Result<(), QueuePushError<T>> {
        let q = &self.view();
        let mut value = value;
        let mut patience = Patience::new(self.stall);
        let mut held = Some(pos);
        if !patience.keep_waiting() {
            return Err(QueuePushError::Stalled {
                value,
                position: pos,
            });
        }
        loop {
            match q.push(value) {
                Ok(pos) => {
                    self.after_push(q.seq_word(pos));
                    return Ok(());
                }
                Err(PushFail::Full(v)) => return Err(QueuePushError::Full(v)),
                Err(PushFail::Busy { value: v, pos }) => {
                    value = v;
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(QueuePushError::Stalled {
                            value,
                            position: pos,
                        });
                    }
                }
            }
        }
    }

    /// Removes the oldest element. Does not sleep on an empty queue; waits (up to the stall
    /// timeout) only while the element at `head` is still being pushed by a producer.
    ///
    /// # Errors
    ///
    /// [`QueuePopError::Empty`] or [`QueuePopError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, QueuePopError}};
    /// # let name = format!("/zeroipc-doc-queue-try-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// assert_eq!(q.try_pop(), Err(QueuePopError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_pop(&self) -> Result<T, QueuePopError> {
        let q = self.view();
        match q.pop_at() {
            Ok((v, pos)) => {
                self.after_pop(q.seq_word(pos));
                Ok(v)
            }
            Err(PopFail::Empty) => Err(QueuePopError::Empty),
            Err(PopFail::Busy { pos }) => self.try_pop_busy(pos),
        }
    }

    /// [`Queue::try_pop`] found the element at `head` not yet published by its producer:
    /// wait for it, bounded by the stall timeout.
    #[cold]
    #[inline(never)]
    fn try_pop_busy(&self, pos: u32) -> Result<T, QueuePopError> {
        let q = &self.view();
        let mut patience = Patience::new(self.stall);
        let mut held = Some(pos);
        if !patience.keep_waiting() {
            return Err(QueuePopError::Stalled { position: pos });
        }
        loop {
            match q.pop_at() {
                Ok((v, pos)) => {
                    self.after_pop(q.seq_word(pos));
                    return Ok(v);
                }
                Err(PopFail::Empty) => return Err(QueuePopError::Empty),
                Err(PopFail::Busy { pos }) => {
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(QueuePopError::Stalled { position: pos });
                    }
                }
            }
        }
    }

    /// [`Queue::push_deadline`] with a deadline `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`Queue::push_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, QueuePushError}};
    /// # let name = format!("/zeroipc-doc-queue-push-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// q.push_timeout(1, Duration::from_millis(10))?;
    /// q.push_timeout(2, Duration::from_millis(10))?;
    /// let err = q.push_timeout(3, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err, QueuePushError::Timeout(3));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), QueuePushError<T>> {
        self.push_deadline(value, Instant::now() + timeout)
    }

    /// Appends `value`, sleeping while the queue is full, until `deadline`.
    ///
    /// Sleeps on the `head` word with a shared futex, at most 1 ms at a time (see the module
    /// docs); woken early by a zeroipc consumer that makes room.
    ///
    /// # Errors
    ///
    /// [`QueuePushError::Timeout`] once `deadline` passes; [`QueuePushError::Stalled`] if the
    /// slot at `tail` stays held by another process for the stall timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-push-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// q.push_deadline(9, Instant::now() + Duration::from_secs(1))?;
    /// assert_eq!(q.pop(), Some(9));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_deadline(&self, value: T, deadline: Instant) -> Result<(), QueuePushError<T>> {
        // `Sleeper` deregisters on drop, whichever way this returns.
        self.push_deadline_inner(value, deadline, &mut Sleeper::new(self, Side::Room))
    }

    fn push_deadline_inner<'s>(
        &'s self,
        value: T,
        deadline: Instant,
        sleeper: &mut Sleeper<'s, T>,
    ) -> Result<(), QueuePushError<T>> {
        let q = self.view();
        let hdr = self.header();
        let mut value = value;
        let mut patience = Patience::new(self.stall);
        let mut held = None;
        let mut attempts = 0u32;
        loop {
            match q.push(value) {
                Ok(pos) => {
                    self.after_push(q.seq_word(pos));
                    return Ok(());
                }
                Err(PushFail::Full(v)) => {
                    value = v;
                    held = None;
                    if Instant::now() >= deadline {
                        return Err(QueuePushError::Timeout(value));
                    }
                    attempts += 1;
                    if attempts < SPINS_BEFORE_SLEEP {
                        core::hint::spin_loop();
                    } else {
                        // The slot `tail` needs is free once `seq == tail`.
                        // ORDERING: Relaxed — which slot to watch; the futex compares `seq`.
                        let t = hdr.tail.load(Relaxed);
                        sleeper.sleep(q.seq_word(t), t, deadline);
                    }
                }
                Err(PushFail::Busy { value: v, pos }) => {
                    value = v;
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(QueuePushError::Stalled {
                            value,
                            position: pos,
                        });
                    }
                    if Instant::now() >= deadline {
                        return Err(QueuePushError::Timeout(value));
                    }
                }
            }
        }
    }

    /// [`Queue::pop_deadline`] with a deadline `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`Queue::pop_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, QueuePopError}};
    /// # let name = format!("/zeroipc-doc-queue-pop-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// assert_eq!(q.pop_timeout(Duration::from_millis(5)), Err(QueuePopError::Timeout));
    /// q.push(4)?;
    /// assert_eq!(q.pop_timeout(Duration::from_millis(5)), Ok(4));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, QueuePopError> {
        self.pop_deadline(Instant::now() + timeout)
    }

    /// Removes the oldest element, sleeping while the queue is empty, until `deadline`.
    ///
    /// Sleeps on the `tail` word with a shared futex, at most 1 ms at a time, so producers in
    /// other languages (which never wake anyone) are noticed within a millisecond.
    ///
    /// # Errors
    ///
    /// [`QueuePopError::Timeout`] once `deadline` passes; [`QueuePopError::Stalled`] if the
    /// element at `head` stays unpublished by its producer for the stall timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-pop-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// let producer = q.clone();
    /// let t = std::thread::spawn(move || producer.push(5));
    /// assert_eq!(q.pop_deadline(Instant::now() + Duration::from_secs(10)), Ok(5));
    /// t.join().unwrap()?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_deadline(&self, deadline: Instant) -> Result<T, QueuePopError> {
        // `Sleeper` deregisters on drop, whichever way this returns.
        self.pop_deadline_inner(deadline, &mut Sleeper::new(self, Side::Data))
    }

    fn pop_deadline_inner<'s>(
        &'s self,
        deadline: Instant,
        sleeper: &mut Sleeper<'s, T>,
    ) -> Result<T, QueuePopError> {
        let q = self.view();
        let hdr = self.header();
        let mut patience = Patience::new(self.stall);
        let mut held = None;
        let mut attempts = 0u32;
        loop {
            match q.pop_at() {
                Ok((v, pos)) => {
                    self.after_pop(q.seq_word(pos));
                    return Ok(v);
                }
                Err(PopFail::Empty) => {
                    held = None;
                    if Instant::now() >= deadline {
                        return Err(QueuePopError::Timeout);
                    }
                    attempts += 1;
                    if attempts < SPINS_BEFORE_SLEEP {
                        core::hint::spin_loop();
                    } else {
                        // The element at `head` is published once `seq == head + 1`.
                        // ORDERING: Relaxed — which slot to watch; the futex compares `seq`.
                        let h = hdr.head.load(Relaxed);
                        sleeper.sleep(q.seq_word(h), h.wrapping_add(1), deadline);
                    }
                }
                Err(PopFail::Busy { pos }) => {
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(QueuePopError::Stalled { position: pos });
                    }
                    if Instant::now() >= deadline {
                        return Err(QueuePopError::Timeout);
                    }
                }
            }
        }
    }
}

/// Which counter of the waiter registry a blocked caller registers in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// A consumer waiting for an element.
    Data,
    /// A producer waiting for a free slot.
    Room,
}

/// A caller about to sleep: registered in the waiter registry (segment::waiters) from its
/// first sleep until it leaves, so wakers know to issue `FUTEX_WAKE`.
pub(crate) struct Sleeper<'s, T: Element> {
    queue: &'s Queue<T>,
    side: Side,
    /// The counter we incremented, once registered.
    counter: Option<&'s AtomicU32>,
    /// Registration was tried and the registry could not be had.
    unregistered: bool,
}

impl<'s, T: Element> Sleeper<'s, T> {
    fn new(queue: &'s Queue<T>, side: Side) -> Self {
        Self {
            queue,
            side,
            counter: None,
            unregistered: false,
        }
    }

    /// Sleeps while `word` does not hold `ready` (at most one slice, and not past
    /// `deadline`). The caller retries its operation afterwards whatever happened.
    fn sleep(&mut self, word: &AtomicU32, ready: u32, deadline: Instant) {
        if self.counter.is_none() && !self.unregistered {
            match self.queue.seg.sleepers(&self.queue.entry) {
                Some(s) => {
                    let c = match self.side {
                        Side::Data => s.data,
                        Side::Room => s.room,
                    };
                    // ORDERING: SeqCst — the sleeper half of the Dekker pair
                    // (segment::waiters): this increment precedes the re-check below in the
                    // total order.
                    c.fetch_add(1, SeqCst);
                    self.counter = Some(c);
                }
                None => self.unregistered = true,
            }
        }
        // ORDERING: the sleeper half of the Dekker pair: `heavy` is a full barrier here and
        // on every running registered waker, between our increment (above, once) and this
        // re-check: if a waker's `seq` store is not visible here, its load after `light`
        // sees our increment. SeqCst on the load itself costs nothing on this slow path.
        membarrier::heavy();
        let seen = word.load(SeqCst);
        if seen == ready {
            return;
        }
        // Also re-check at least every millisecond: peers in other languages never wake us.
        futex::wait(word, seen, Some((Instant::now() + SLICE).min(deadline)));
    }
}

impl<T: Element> Drop for Sleeper<'_, T> {
    /// Deregisters, on every exit path of a blocking operation.
    fn drop(&mut self) {
        if let Some(c) = self.counter.take() {
            // ORDERING: Relaxed — leaving only makes wakers skip a wake nobody needs.
            c.fetch_sub(1, Relaxed);
        }
    }
}

/// A deadline far enough away to mean "none" (the sleeps are sliced anyway).
fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

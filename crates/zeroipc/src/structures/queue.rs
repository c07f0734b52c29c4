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
//! Every operation has four forms (docs/API_CONVENTIONS.md): [`Queue::push`] blocks until
//! there is room, [`Queue::try_push`] never blocks, [`Queue::push_timeout`] and
//! [`Queue::push_deadline`] block at most that long; likewise [`Queue::pop`],
//! [`Queue::try_pop`], [`Queue::pop_timeout`], [`Queue::pop_deadline`]. Each form has its own
//! error type in this module ([`PushError`], [`TryPushError`], [`PushTimeoutError`],
//! [`PopError`], [`TryPopError`], [`PopTimeoutError`]) with only the variants it can return.
//!
//! The blocking forms sleep in the kernel on a **shared** futex: a consumer that finds the
//! queue empty sleeps on the `seq` word of the slot at `head` (it changes when that element
//! is published), a producer that finds it full sleeps on the `seq` word of the slot at
//! `tail` (it changes when that slot is freed).
//!
//! The header has no waiter count (the format is fixed), so sleepers register in the
//! segment's waiter registry (`__zeroipc_waiters`, a zeroipc-only table entry created
//! with the segment's first zeroipc-created queue, never at run time; see `segment::waiters`): a push or pop issues `FUTEX_WAKE` (a ~300 ns
//! system call) **only when a sleeper is registered** for that side of that queue (without
//! a registry, sleepers just re-check every millisecond). Otherwise its only extra cost is
//! one load of the counter after a compiler fence: the sleeper issues an asymmetric
//! `membarrier` between its increment and its re-check, so the sleeper's
//! increment-then-re-check and the waker's store-then-load cannot both miss each other: no
//! wake-up is lost between zeroipc processes (see `structures::wait`).
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
//! default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s) and then reported as
//! [`PopError::Stalled`] / [`PushError::Stalled`] (and their `try_` / `_timeout` twins)
//! naming the position: never as "empty". A consumer killed mid-pop is the mirror
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
//! assert_eq!(jobs.pop()?, 7);
//! assert_eq!(jobs.try_pop(), Err(zeroipc::structures::queue::TryPopError::Empty));
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::time::{Duration, Instant};

use crate::DEFAULT_STALL_TIMEOUT;
use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::queue::{
    QUEUE_HEADER_LEN, QUEUE_MAX_CAPACITY, QueueHeader, queue_seq_offset, queue_size,
};
use crate::loom::AtomicU32;
use crate::loom::Ordering::Relaxed;
use crate::raw::cell::Slot;
use crate::raw::vyukov::{PopFail, PushFail, Vyukov};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::wait::{self, Backoff, Patience, Side, Sleeper, WakeCache, deadline_after};

/// The message of a push stall.
fn push_stalled(f: &mut fmt::Formatter<'_>, position: u32) -> fmt::Result {
    write!(
        f,
        "queue slot at position {position} stayed held by a consumer that did not finish \
         (dead peer or corrupt queue); expected it to be freed within the stall timeout"
    )
}

/// The message of a pop stall.
fn pop_stalled(f: &mut fmt::Formatter<'_>, position: u32) -> fmt::Result {
    write!(
        f,
        "queue slot at position {position} was claimed by a producer that never published \
         it (dead peer or corrupt queue); expected it within the stall timeout"
    )
}

/// Why [`Queue::push`] did not append; the value is handed back.
///
/// ```
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::PushError}};
/// # let name = format!("/zeroipc-doc-queue-push-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// match q.push(1) {
///     Ok(()) => {}
///     Err(PushError::Stalled { value, position }) => eprintln!("{value} not sent: slot {position} is stuck"),
///     Err(e) => return Err(e.into()),
/// }
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError<T> {
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

impl<T> PushError<T> {
    /// The value that was not pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::structures::queue::PushError;
    /// let e = PushError::Stalled { value: 7, position: 0 };
    /// assert_eq!(e.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Stalled { value, .. } => value,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled { position, .. } => write!(f, "Stalled {{ position: {position}, .. }}"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled { position, .. } => push_stalled(f, *position),
        }
    }
}

impl<T> std::error::Error for PushError<T> {}

/// Why [`Queue::try_push`] did not append; the value is handed back.
///
/// ```
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::TryPushError}};
/// # let name = format!("/zeroipc-doc-queue-try-push-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// q.try_push(1)?;
/// q.try_push(2)?;
/// let err = q.try_push(3).unwrap_err();
/// assert_eq!(err, TryPushError::Full(3));
/// assert_eq!(err.into_inner(), 3);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TryPushError<T> {
    /// Every slot holds an unread element.
    Full(T),
    /// As [`PushError::Stalled`].
    Stalled {
        /// The value.
        value: T,
        /// The `tail` position that is held up.
        position: u32,
    },
}

impl<T> TryPushError<T> {
    /// The value that was not pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::structures::queue::TryPushError;
    /// let e = TryPushError::Full(7);
    /// assert_eq!(e.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(value) | Self::Stalled { value, .. } => value,
        }
    }
}

impl<T> From<PushError<T>> for TryPushError<T> {
    fn from(e: PushError<T>) -> Self {
        match e {
            PushError::Stalled { value, position } => Self::Stalled { value, position },
        }
    }
}

impl<T> fmt::Debug for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Stalled { position, .. } => write!(f, "Stalled {{ position: {position}, .. }}"),
        }
    }
}

impl<T> fmt::Display for TryPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the queue is full; expected a free slot"),
            Self::Stalled { position, .. } => push_stalled(f, *position),
        }
    }
}

impl<T> std::error::Error for TryPushError<T> {}

/// Why [`Queue::push_timeout`] or [`Queue::push_deadline`] did not append; the value is
/// handed back.
///
/// ```
/// # use std::time::Duration;
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::PushTimeoutError}};
/// # let name = format!("/zeroipc-doc-queue-push-timeout-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// q.push(1)?;
/// q.push(2)?;
/// let err = q.push_timeout(3, Duration::from_millis(1)).unwrap_err();
/// assert_eq!(err, PushTimeoutError::Timeout(3));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushTimeoutError<T> {
    /// The deadline passed while the queue stayed full.
    Timeout(T),
    /// As [`PushError::Stalled`].
    Stalled {
        /// The value.
        value: T,
        /// The `tail` position that is held up.
        position: u32,
    },
}

impl<T> PushTimeoutError<T> {
    /// The value that was not pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::structures::queue::PushTimeoutError;
    /// let e = PushTimeoutError::Timeout(7);
    /// assert_eq!(e.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Timeout(value) | Self::Stalled { value, .. } => value,
        }
    }
}

impl<T> From<PushError<T>> for PushTimeoutError<T> {
    fn from(e: PushError<T>) -> Self {
        match e {
            PushError::Stalled { value, position } => Self::Stalled { value, position },
        }
    }
}

impl<T> fmt::Debug for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => f.write_str("Timeout(..)"),
            Self::Stalled { position, .. } => write!(f, "Stalled {{ position: {position}, .. }}"),
        }
    }
}

impl<T> fmt::Display for PushTimeoutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout(_) => {
                f.write_str("timed out: the queue stayed full; expected a free slot in time")
            }
            Self::Stalled { position, .. } => push_stalled(f, *position),
        }
    }
}

impl<T> std::error::Error for PushTimeoutError<T> {}

/// Why [`Queue::pop`] returned no element.
///
/// ```
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::PopError}};
/// # let name = format!("/zeroipc-doc-queue-pop-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// q.push(7)?;
/// match q.pop() {
///     Ok(v) => assert_eq!(v, 7),
///     Err(PopError::Stalled { position }) => eprintln!("slot {position} is stuck"),
///     Err(e) => return Err(e.into()),
/// }
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PopError {
    /// The slot at `position` stayed claimed by a producer that did not publish it (it may
    /// have died between its CAS and its `seq` store, FORMAT.md D-7) for longer than the
    /// stall timeout, or the queue's words are inconsistent.
    Stalled {
        /// The `head` position that is held up.
        position: u32,
    },
}

impl fmt::Display for PopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled { position } => pop_stalled(f, *position),
        }
    }
}

impl std::error::Error for PopError {}

/// Why [`Queue::try_pop`] returned no element.
///
/// ```
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::TryPopError}};
/// # let name = format!("/zeroipc-doc-queue-try-pop-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// assert_eq!(q.try_pop(), Err(TryPopError::Empty));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
// A word-sized tag: `Result<u64, TryPopError>` is then two 8-byte words (the `Ok` tag is a
// niche of this one), which callers store and reload as such. With the default 4-byte tag
// it was 4 + 4 + 8 bytes, and a caller that kept the result in memory (a `black_box`, a
// spill) reloaded it with an 8-byte load straddling two stores: a store-forwarding stall
// that cost more than the whole pop (measured: ~5 ns of the ~10 ns push + pop).
#[repr(u64)]
pub enum TryPopError {
    /// Nothing has been pushed.
    Empty,
    /// As [`PopError::Stalled`].
    Stalled {
        /// The `head` position that is held up.
        position: u32,
    },
}

impl From<PopError> for TryPopError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Stalled { position } => Self::Stalled { position },
        }
    }
}

impl fmt::Display for TryPopError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("the queue is empty; expected an element"),
            Self::Stalled { position } => pop_stalled(f, *position),
        }
    }
}

impl std::error::Error for TryPopError {}

/// Why [`Queue::pop_timeout`] or [`Queue::pop_deadline`] returned no element.
///
/// ```
/// # use std::time::Duration;
/// # use zeroipc::{SegmentOptions, Segment, structures::{Queue, queue::PopTimeoutError}};
/// # let name = format!("/zeroipc-doc-queue-pop-timeout-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
/// assert_eq!(q.pop_timeout(Duration::from_millis(1)), Err(PopTimeoutError::Timeout));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PopTimeoutError {
    /// The deadline passed while the queue stayed empty.
    Timeout,
    /// As [`PopError::Stalled`].
    Stalled {
        /// The `head` position that is held up.
        position: u32,
    },
}

impl From<PopError> for PopTimeoutError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Stalled { position } => Self::Stalled { position },
        }
    }
}

impl fmt::Display for PopTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => {
                f.write_str("timed out: the queue stayed empty; expected an element in time")
            }
            Self::Stalled { position } => pop_stalled(f, *position),
        }
    }
}

impl std::error::Error for PopTimeoutError {}

/// How a push with an optional deadline ended without appending.
enum PushEnd<T> {
    Timeout(T),
    Stalled { value: T, position: u32 },
}

/// How a pop with an optional deadline ended without an element.
enum PopEnd {
    Timeout,
    Stalled { position: u32 },
}

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
    /// This handle's waiter-registry counters, resolved once (see [`WakeCache`]).
    wake: WakeCache,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            layout: self.layout,
            stall: self.stall,
            wake: self.wake.copy(),
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
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        Self::create_at(seg, name, capacity, 0)
    }

    /// Creates the queue with `head = tail = start` (and `seq` seeded to match), as the
    /// golden images' `q_wrap` does to exercise the 2^32 wraparound. Only with the
    /// `fault-injection` feature, which only this crate's own tests turn on.
    ///
    /// # Errors
    ///
    /// As [`Queue::create`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-create-at-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u32> = Queue::create_at_position(&seg, "wrap", 4, u32::MAX)?;
    /// q.push(1)?; // at position 2^32 - 1
    /// q.push(2)?; // at position 0
    /// assert_eq!((q.pop()?, q.pop()?), (1, 2));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "fault-injection")]
    pub fn create_at_position(
        seg: &Segment,
        name: &str,
        capacity: usize,
        start: u32,
    ) -> Result<Self, StructureError> {
        Self::create_at(seg, name, capacity, start)
    }

    fn create_at(
        seg: &Segment,
        name: &str,
        capacity: usize,
        start: u32,
    ) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let requested = u64::try_from(capacity).unwrap_or(u64::MAX);
        let capacity = match u32::try_from(capacity) {
            Ok(c) if c != 0 && c <= QUEUE_MAX_CAPACITY => c,
            _ => {
                return Err(StructureError::InvalidCapacity {
                    requested,
                    reason: "a queue needs between 1 and 2^30 slots",
                });
            }
        };
        let cap = capacity.next_power_of_two().max(2);
        let es = size_of::<T>() as u64;
        let size = queue_size(u64::from(cap), es).ok_or(StructureError::InvalidCapacity {
            requested,
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
            wake: WakeCache::default(),
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
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
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
        seg.check_catalog(&Record::new(CatalogKind::Queue, name, &entry).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            layout,
            stall: DEFAULT_STALL_TIMEOUT,
            wake: WakeCache::default(),
            _t: PhantomData,
        })
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<QueueLayout, StructureError> {
        let es = size_of::<T>() as u64;
        let name = || entry.name().to_string();
        if entry.size() < QUEUE_HEADER_LEN {
            return Err(Corruption::field(
                name(),
                "entry size",
                entry.size(),
                format!("at least {QUEUE_HEADER_LEN} (the queue header)"),
            )
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
            return Err(Corruption::field(
                name(),
                "capacity",
                u64::from(cap),
                "a power of two between 2 and 2^30",
            )
            .into());
        }
        let size = queue_size(u64::from(cap), es);
        if size != Some(entry.size()) {
            return Err(Corruption::field(
                name(),
                "capacity",
                u64::from(cap),
                format!(
                    "16 + align8(capacity * {es}) + 4 * capacity == entry size {}",
                    entry.size()
                ),
            )
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
        // SAFETY: both lengths are `cap`, the power of two in 2..=2^30 `validate` checked.
        unsafe { Vyukov::new_prevalidated(hdr, slots, seq) }
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
    /// reports `Stalled` ([`PushError::Stalled`], [`PopError::Stalled`], ...; default
    /// [`crate::DEFAULT_STALL_TIMEOUT`], 1 s).
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
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-stall-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u32> = Queue::create(&seg, "q", 8)?;
    /// assert_eq!(q.stall_timeout(), zeroipc::DEFAULT_STALL_TIMEOUT);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// Number of slots (a power of two ≥ 2).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-capacity-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "q", 5)?;
    /// assert_eq!(q.capacity(), 8);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.layout.cap as usize
    }

    /// Elements in the queue: `tail - head`, a snapshot that may be stale by the time it is
    /// used (it also counts elements that are being pushed or popped right now). The words
    /// are written by peers: a difference above the capacity is clamped to the capacity (and
    /// an impossible one, above 2^30, reads as 0).
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
    pub fn len(&self) -> usize {
        self.view().len() as usize
    }

    /// Whether [`Queue::len`] is 0 (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-is-empty-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "q", 2)?;
    /// assert!(q.is_empty());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`Queue::len`] is the capacity (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-is-full-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "q", 2)?;
    /// q.push(1)?;
    /// q.push(2)?;
    /// assert!(q.is_full());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_full(&self) -> bool {
        self.len() >= self.capacity()
    }

    /// The table entry this queue lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "jobs", 2)?;
    /// assert_eq!(q.entry().name(), "jobs");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this queue lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u16> = Queue::create(&seg, "jobs", 2)?;
    /// assert!(q.segment().find("jobs").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    pub(crate) fn data_sleeper(&self) -> Sleeper<'_> {
        Sleeper::new(&self.seg, &self.entry, Side::Data)
    }

    /// A registration as a sleeper waiting for a free slot (see [`Queue::data_sleeper`]).
    pub(crate) fn room_sleeper(&self) -> Sleeper<'_> {
        Sleeper::new(&self.seg, &self.entry, Side::Room)
    }

    /// Sleeps (at most 1 ms, never past `deadline`) until the element at `head` may have been
    /// published; the caller retries its pop afterwards.
    pub(crate) fn wait_for_data(&self, sleeper: &mut Sleeper<'_>, deadline: Option<Instant>) {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the futex compares its `seq`.
        let h = self.header().head.load(Relaxed);
        // The element at `head` is published once `seq == head + 1`.
        let ready = h.wrapping_add(1);
        sleeper.sleep(q.seq_word(h), |seq| seq != ready, deadline);
    }

    /// Sleeps (at most 1 ms, never past `deadline`) until the slot at `tail` may have been
    /// freed; the caller retries its push afterwards.
    pub(crate) fn wait_for_room(&self, sleeper: &mut Sleeper<'_>, deadline: Option<Instant>) {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the futex compares its `seq`.
        let t = self.header().tail.load(Relaxed);
        // The slot `tail` needs is free once `seq == tail`.
        sleeper.sleep(q.seq_word(t), |seq| seq != t, deadline);
    }

    /// For an awaitable waiting for an element: registers `sleeper` and returns the word to
    /// arm the reactor with and the value read after registering, or `None` if the element
    /// at `head` is published already (try again now).
    pub(crate) fn data_wait<'a>(
        &'a self,
        sleeper: &mut Sleeper<'_>,
    ) -> Option<(&'a AtomicU32, u32)> {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the reactor compares its `seq`.
        let h = self.header().head.load(Relaxed);
        let word = q.seq_word(h);
        let seen = sleeper.register(word);
        (seen != h.wrapping_add(1)).then_some((word, seen))
    }

    /// For an awaitable waiting for room: as [`Queue::data_wait`], for the slot at `tail`.
    pub(crate) fn room_wait<'a>(
        &'a self,
        sleeper: &mut Sleeper<'_>,
    ) -> Option<(&'a AtomicU32, u32)> {
        let q = self.view();
        // ORDERING: Relaxed — which slot to watch; the reactor compares its `seq`.
        let t = self.header().tail.load(Relaxed);
        let word = q.seq_word(t);
        let seen = sleeper.register(word);
        (seen != t).then_some((word, seen))
    }

    /// Wakes every zeroipc sleeper of this queue (the words they sleep on: `seq` at `head`
    /// and at `tail`), e.g. when a Channel closes. A sleeper on an older word re-checks
    /// within its 1 ms slice.
    pub(crate) fn wake_sleepers(&self) {
        let q = self.view();
        let h = self.header();
        // ORDERING: Relaxed — which words to wake.
        wait::wake_all(q.seq_word(h.head.load(Relaxed)));
        wait::wake_all(q.seq_word(h.tail.load(Relaxed)));
    }

    /// After a push at `pos`: wake the consumers sleeping on that slot, if any sleep.
    #[inline(always)]
    fn after_push(&self, seq: &AtomicU32) {
        // The `seq` store in `push` is the change the sleepers re-check.
        self.wake(Side::Data, seq);
    }

    /// After a pop at `pos`: wake the producers sleeping on that slot, if any sleep.
    #[inline(always)]
    fn after_pop(&self, seq: &AtomicU32) {
        // The `seq` store in `pop` is the change the sleepers re-check.
        self.wake(Side::Room, seq);
    }

    /// The waker's half of the registry protocol, through this handle's [`WakeCache`].
    #[inline(always)]
    fn wake(&self, side: Side, seq: &AtomicU32) {
        self.wake.wake(&self.seg, &self.entry, side, seq);
    }

    /// Appends `value`, sleeping while the queue is full (on a shared futex, at most 1 ms at
    /// a time so upstream consumers, which never wake anyone, are noticed; woken at once by a
    /// zeroipc consumer that makes room).
    ///
    /// # Errors
    ///
    /// [`PushError::Stalled`], with the value, if the slot at `tail` stays held by another
    /// process (a consumer that died mid-pop) for the stall timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u64> = Queue::create(&seg, "jobs", 2)?;
    /// q.push(1)?;
    /// q.push(2)?;
    /// // The queue is full: a third push waits until a consumer makes room.
    /// let consumer = q.clone();
    /// let t = std::thread::spawn(move || consumer.pop());
    /// q.push(3)?;
    /// assert_eq!(t.join().unwrap()?, 1);
    /// assert_eq!((q.pop()?, q.pop()?), (2, 3));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        let mut value = value;
        loop {
            match self.push_until(value, None) {
                Ok(()) => return Ok(()),
                Err(PushEnd::Stalled { value, position }) => {
                    return Err(PushError::Stalled { value, position });
                }
                // No deadline: not reachable, but waiting on is what `push` means.
                Err(PushEnd::Timeout(v)) => value = v,
            }
        }
    }

    /// Appends `value` unless the queue is full; never sleeps. Waits (at most the stall
    /// timeout) only while the slot at `tail` is still being emptied by a consumer in
    /// another process.
    /// That bound holds whatever peers write meanwhile: a `tail` that keeps moving does not
    /// restart it.
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`] or [`TryPushError::Stalled`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, queue::TryPushError}};
    /// # let name = format!("/zeroipc-doc-queue-try-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// q.try_push(1)?;
    /// q.try_push(2)?;
    /// assert_eq!(q.try_push(3), Err(TryPushError::Full(3)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        let q = self.view();
        match q.push(value) {
            Ok(pos) => {
                self.after_push(q.seq_word(pos));
                Ok(())
            }
            Err(PushFail::Full(v)) => Err(TryPushError::Full(v)),
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
    fn try_push_busy(&self, value: T, pos: u32) -> Result<(), TryPushError<T>> {
        let q = &self.view();
        let mut value = value;
        // Non-blocking means bounded: the stall timer is never restarted, even when the
        // position moves (a peer that keeps moving `tail` would otherwise keep this call
        // spinning for as long as it writes). The blocking forms restart it on progress;
        // their deadline bounds them.
        let mut patience = Patience::new(self.stall);
        if !patience.keep_waiting() {
            return Err(TryPushError::Stalled {
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
                Err(PushFail::Full(v)) => return Err(TryPushError::Full(v)),
                Err(PushFail::Busy { value: v, pos }) => {
                    value = v;
                    if !patience.keep_waiting() {
                        return Err(TryPushError::Stalled {
                            value,
                            position: pos,
                        });
                    }
                }
            }
        }
    }

    /// [`Queue::push`] for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Queue::push_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, queue::PushTimeoutError}};
    /// # let name = format!("/zeroipc-doc-queue-push-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// q.push_timeout(1, Duration::from_millis(10))?;
    /// q.push_timeout(2, Duration::from_millis(10))?;
    /// let err = q.push_timeout(3, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err, PushTimeoutError::Timeout(3));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_timeout(&self, value: T, timeout: Duration) -> Result<(), PushTimeoutError<T>> {
        match deadline_after(timeout) {
            Some(deadline) => self.push_deadline(value, deadline),
            // Too far away to represent: no deadline.
            None => self.push(value).map_err(PushTimeoutError::from),
        }
    }

    /// [`Queue::push`] until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] once `deadline` passes with the queue still full;
    /// [`PushTimeoutError::Stalled`] if the slot at `tail` stays held by another process for
    /// the stall timeout. The value is handed back in both.
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
    /// assert_eq!(q.pop()?, 9);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_deadline(&self, value: T, deadline: Instant) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, Some(deadline)).map_err(|e| match e {
            PushEnd::Timeout(v) => PushTimeoutError::Timeout(v),
            PushEnd::Stalled { value, position } => PushTimeoutError::Stalled { value, position },
        })
    }

    /// The blocking push: spins briefly, then sleeps in the waiter registry (the `Sleeper`
    /// deregisters on drop, whichever way this returns).
    fn push_until(&self, value: T, deadline: Option<Instant>) -> Result<(), PushEnd<T>> {
        let mut sleeper = self.room_sleeper();
        let q = self.view();
        let mut value = value;
        let mut patience = Patience::new(self.stall);
        let mut held = None;
        let mut backoff = Backoff::new();
        loop {
            match q.push(value) {
                Ok(pos) => {
                    self.after_push(q.seq_word(pos));
                    return Ok(());
                }
                Err(PushFail::Full(v)) => {
                    value = v;
                    held = None;
                    if passed(deadline) {
                        return Err(PushEnd::Timeout(value));
                    }
                    if backoff.is_completed() {
                        self.wait_for_room(&mut sleeper, deadline);
                    } else {
                        backoff.spin();
                    }
                }
                Err(PushFail::Busy { value: v, pos }) => {
                    value = v;
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(PushEnd::Stalled {
                            value,
                            position: pos,
                        });
                    }
                    if passed(deadline) {
                        return Err(PushEnd::Timeout(value));
                    }
                }
            }
        }
    }

    /// Removes the oldest element, sleeping while the queue is empty (on a shared futex, at
    /// most 1 ms at a time so upstream producers, which never wake anyone, are noticed
    /// within a millisecond; woken at once by a zeroipc producer).
    ///
    /// # Errors
    ///
    /// [`PopError::Stalled`] if the element at `head` stays unpublished by its producer (one
    /// that died mid-push) for the stall timeout: never a silent "nothing".
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Queue};
    /// # let name = format!("/zeroipc-doc-queue-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<i32> = Queue::create(&seg, "q", 4)?;
    /// let producer = q.clone();
    /// let t = std::thread::spawn(move || producer.push(-1));
    /// assert_eq!(q.pop()?, -1); // waits for the producer
    /// t.join().unwrap()?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a popped element is removed from the queue"]
    pub fn pop(&self) -> Result<T, PopError> {
        loop {
            match self.pop_until(None) {
                Ok(v) => return Ok(v),
                Err(PopEnd::Stalled { position }) => return Err(PopError::Stalled { position }),
                // No deadline: not reachable, but waiting on is what `pop` means.
                Err(PopEnd::Timeout) => {}
            }
        }
    }

    /// Removes the oldest element if there is one; never sleeps. Waits (at most the stall
    /// timeout) only while the element at `head` is still being copied in by a producer in
    /// another process.
    /// That bound holds whatever peers write meanwhile: a `head` that keeps moving does not
    /// restart it.
    ///
    /// # Errors
    ///
    /// [`TryPopError::Empty`] or [`TryPopError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, queue::TryPopError}};
    /// # let name = format!("/zeroipc-doc-queue-try-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// assert_eq!(q.try_pop(), Err(TryPopError::Empty));
    /// q.push(1)?;
    /// assert_eq!(q.try_pop(), Ok(1));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline(always)]
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        let q = self.view();
        match q.pop_at() {
            Ok((v, pos)) => {
                self.after_pop(q.seq_word(pos));
                Ok(v)
            }
            Err(PopFail::Empty) => Err(TryPopError::Empty),
            Err(PopFail::Busy { pos }) => self.try_pop_busy(pos),
        }
    }

    /// [`Queue::try_pop`] found the element at `head` not yet published by its producer:
    /// wait for it, bounded by the stall timeout.
    #[cold]
    #[inline(never)]
    fn try_pop_busy(&self, pos: u32) -> Result<T, TryPopError> {
        let q = &self.view();
        // Never restarted on progress: see `try_push_busy`.
        let mut patience = Patience::new(self.stall);
        if !patience.keep_waiting() {
            return Err(TryPopError::Stalled { position: pos });
        }
        loop {
            match q.pop_at() {
                Ok((v, pos)) => {
                    self.after_pop(q.seq_word(pos));
                    return Ok(v);
                }
                Err(PopFail::Empty) => return Err(TryPopError::Empty),
                Err(PopFail::Busy { pos }) => {
                    if !patience.keep_waiting() {
                        return Err(TryPopError::Stalled { position: pos });
                    }
                }
            }
        }
    }

    /// [`Queue::pop`] for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Queue::pop_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Queue, queue::PopTimeoutError}};
    /// # let name = format!("/zeroipc-doc-queue-pop-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let q: Queue<u8> = Queue::create(&seg, "q", 2)?;
    /// assert_eq!(q.pop_timeout(Duration::from_millis(5)), Err(PopTimeoutError::Timeout));
    /// q.push(4)?;
    /// assert_eq!(q.pop_timeout(Duration::from_millis(5)), Ok(4));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_timeout(&self, timeout: Duration) -> Result<T, PopTimeoutError> {
        match deadline_after(timeout) {
            Some(deadline) => self.pop_deadline(deadline),
            // Too far away to represent: no deadline.
            None => self.pop().map_err(PopTimeoutError::from),
        }
    }

    /// [`Queue::pop`] until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] once `deadline` passes with the queue still empty;
    /// [`PopTimeoutError::Stalled`] if the element at `head` stays unpublished by its
    /// producer for the stall timeout.
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
    pub fn pop_deadline(&self, deadline: Instant) -> Result<T, PopTimeoutError> {
        self.pop_until(Some(deadline)).map_err(|e| match e {
            PopEnd::Timeout => PopTimeoutError::Timeout,
            PopEnd::Stalled { position } => PopTimeoutError::Stalled { position },
        })
    }

    /// The blocking pop: spins briefly, then sleeps in the waiter registry (the `Sleeper`
    /// deregisters on drop, whichever way this returns).
    fn pop_until(&self, deadline: Option<Instant>) -> Result<T, PopEnd> {
        let mut sleeper = self.data_sleeper();
        let q = self.view();
        let mut patience = Patience::new(self.stall);
        let mut held = None;
        let mut backoff = Backoff::new();
        loop {
            match q.pop_at() {
                Ok((v, pos)) => {
                    self.after_pop(q.seq_word(pos));
                    return Ok(v);
                }
                Err(PopFail::Empty) => {
                    held = None;
                    if passed(deadline) {
                        return Err(PopEnd::Timeout);
                    }
                    if backoff.is_completed() {
                        self.wait_for_data(&mut sleeper, deadline);
                    } else {
                        backoff.spin();
                    }
                }
                Err(PopFail::Busy { pos }) => {
                    if held != Some(pos) {
                        held = Some(pos);
                        patience.reset();
                    }
                    if !patience.keep_waiting() {
                        return Err(PopEnd::Stalled { position: pos });
                    }
                    if passed(deadline) {
                        return Err(PopEnd::Timeout);
                    }
                }
            }
        }
    }
}

/// Whether `deadline` (if any) has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

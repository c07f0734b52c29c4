//! Stream: a closable sequence of values that one or more emitters push and subscribers
//! consume, with operators (`map`, `filter`, `take`, `skip`, `fold`, `window`) that each
//! produce a derived stream in the segment and run as a pipeline [`Stage`] the caller owns.
//! The bytes are the C++ `Stream<T>` (FORMAT.md §6.3); a Python stream (a bare Ring under
//! the name) is refused ([`StructureError::Foreign`]).
//!
//! # Layout (FORMAT.md §6.3)
//!
//! `<name>_header`, 56 bytes:
//!
//! | off | size | field                                                         |
//! |-----|------|---------------------------------------------------------------|
//! | 0   | 8    | `sequence` u64: values ever emitted                           |
//! | 8   | 4    | `subscribers` u32: subscribers currently reading (advisory)   |
//! | 12  | 1    | `closed` u8 (0 / non-zero)                                    |
//! | 16  | 4    | `buffer_capacity` u32, in elements                            |
//! | 20  | 32   | `transform_name`: "map", "filter", ... (NUL-padded) or zeros  |
//! | 52  | 4    | tail padding in C++; zeroipc's emit lock (0 free, else a pid) |
//!
//! `<name>_buffer`: a [`Ring`] of `buffer_capacity * size_of T` bytes. Base name ≤ 24 bytes.
//!
//! # Semantics
//!
//! - [`Stream::emit`] appends, waiting for room while the buffer is full
//!   ([`Stream::try_emit`] never waits, [`Stream::emit_timeout`] / [`Stream::emit_deadline`]
//!   wait at most that long); `sequence` counts emitted values.
//! - Every operation that can wait has four forms, each with its own error type (as
//!   [`Channel`](crate::codata::Channel)): `emit` → [`EmitError`], `try_emit` →
//!   [`TryEmitError`] (+ `Full`), `emit_timeout` / `emit_deadline` → [`EmitTimeoutError`]
//!   (+ `Timeout`); `next` → [`NextError`], `try_next` → [`TryNextError`] (+ `Empty`),
//!   `next_timeout` / `next_deadline` → [`NextTimeoutError`] (+ `Timeout`); a broadcast
//!   subscriber's `recv` → [`RecvError`] (with `Lagged`), `try_recv` → [`TryRecvError`],
//!   `recv_timeout` / `recv_deadline` → [`RecvTimeoutError`].
//! - Each value goes to **one** reader ([`Stream::next`] and its forms,
//!   [`Stream::subscribe`], stages): the ring has one read position. Values still buffered
//!   at [`Stream::close`] are delivered; then readers see [`NextError::Disconnected`] (C++ drops
//!   them, D-15).
//! - **Broadcast** ([`Stream::create_broadcast`], zeroipc only): emitters never fail on a
//!   full buffer — they drop the oldest value (advancing the ring's `read_pos`) — and each
//!   [`Stream::broadcast_subscriber`] keeps its own cursor in process memory, starting at
//!   the values emitted after it subscribed, so every subscriber sees every value. One that
//!   falls more than `buffer_capacity` behind gets [`RecvError::Lagged`] with the number
//!   of values it missed, then continues from the oldest value still buffered (tokio's
//!   `broadcast` semantics). Reads take no lock: a copy is validated after it is made (an
//!   overwrite moves `read_pos` first), so subscribers never wait for each other.
//!   The mode is bit 0 of header byte 13 (C++ padding, ignored by C++). Do not mix
//!   `try_next`-style consumers into a broadcast stream: what they take is gone for
//!   everyone (broadcast subscribers see it as lag).
//! - **Batches**: [`Stream::try_emit_many`], [`Stream::try_next_many`] and
//!   [`BroadcastSubscriber::try_recv_many`] move a slice with one lock, one CAS or one
//!   validation, as [`Ring`]'s `write` / `read` do.
//! - Operators never block the caller (D-15): each creates its output stream (writing its
//!   name into `transform_name` as C++ does), then runs in a thread returned as a [`Stage`]
//!   with [`Stage::stop`] / [`Stage::join`]. A stage closes its output when its input is
//!   closed and drained, when it is done (`take`), or when stopped.
//!
//! # Synchronization
//!
//! The Ring is single-producer single-consumer (D-12); a stream lets any number of emitters
//! and readers share it:
//!
//! - **Emitters** hold the **emit lock** (`sync::pid_lock`), a `u32` in the header's tail
//!   padding (52..56), which C++ never writes: `0` free, otherwise the holder's pid (bit 31:
//!   a locker sleeps on it). Under the lock an emit copies into the ring, stores `sequence`
//!   (its old value plus what it copied), then publishes `write_pos`: among zeroipc emitters
//!   `sequence` equals the values written when the lock is free, and an emitter killed in
//!   between leaves it ahead, never behind. A handle remembers where its last emit left the
//!   ring and, while `sequence` says nobody else emitted since, does not read the ring's
//!   positions at all (as a [`Ring`] producer keeps its cursor).
//! - **Readers** take no lock: they copy values at `read_pos` and claim them with a CAS of
//!   `read_pos` (`raw::ring::shared`): a failed CAS means another reader got there first.
//!   Broadcast subscribers write nothing: they validate each copy after making it.
//!
//! | store (Release)                 | load (Acquire)                 | publishes            |
//! |---------------------------------|--------------------------------|----------------------|
//! | ring `write_pos` (emit)         | `write_pos` (readers)          | the values           |
//! | ring `read_pos` CAS (reader)    | `read_pos` (emitters)          | free room            |
//! | emit lock = 0 (unlock)          | lock CAS (next emitter)        | the ring's positions and `sequence` |
//! | `closed = 1` in `close`         | `closed` in emit / readers     | values emitted before the close (a reader that sees `closed` reads once more before reporting `Closed`) |
//!
//! Readers (and broadcast subscribers, and `next_async`) sleep on the `subscribers` word,
//! emitters waiting for room on it too, registered in the segment's waiter registry
//! (`wait::sleeper`, the `_header` entry's `data` and `room` counters): an emit issues
//! `FUTEX_WAKE` only if a reader sleeps, a read only if an emitter does, and `close` always.
//! Each sleep lasts at most 1 ms (upstream peers wake no one).
//!
//! **Cost.** An uncontended emit is two CAS on the header's line (lock, unlock) and plain
//! stores; a read is one CAS of `read_pos`. The emit's locked instructions are what a single
//! value costs over the bare ring, whose producer never executes one (each drains the store
//! buffer, so it waits for the ring's line to come back from the reader): about 6x the
//! ring's time per value (BENCHMARKS.md, issue #15). A stream with one emitting process
//! claims the emit side instead ([`Stream::emitter`]): the lock is taken once, and an
//! [`Emitter`]'s emits are plain stores, at about half the ring's rate or better. The
//! batched forms pay the locked instructions once per slice.
//!
//! **C++ emitters** take no lock: a C++ emitter alongside zeroipc emitters can corrupt the
//! ring exactly as two C++ emitters can (D-12). One C++ emitter with zeroipc readers (or the
//! reverse) is fine: the ring's own SPSC protocol covers it.
//!
//! # Process death
//!
//! An emitter killed mid-operation leaves its pid in the emit lock: the next emitter sees
//! that the process is gone (`kill(pid, 0)`) and takes the lock over with a CAS. A holder
//! that looks alive but keeps the lock for the stall timeout ([`Stream::with_stall_timeout`],
//! default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s) (stopped, or killed and not yet reaped by its
//! parent: a zombie) makes emits fail with `Stalled` instead of hanging; reads never wait
//! for it. The ring publishes nothing half-written: a killed emitter's values are invisible
//! until its `write_pos` store, a killed reader's copy is unclaimed until its CAS (the next
//! reader takes the same values). A sleeper killed while registered leaves its registry
//! counter raised: wakers then issue a `FUTEX_WAKE` nobody needs. `subscribers` stays inflated by dead
//! subscribers (advisory, as upstream). A stage's thread dies with its process; its output
//! stream then never closes — readers use timeouts.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use zeroipc::{SegmentOptions, Segment, codata::Stream};
//! # let name = format!("/zeroipc-doc-stream-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let temps: Stream<f64> = Stream::create(&seg, "temps", 64)?;
//! let hot = temps.filter(&seg, "hot", |t| *t > 30.0)?; // runs in its own thread
//! for t in [20.0, 35.5, 31.0, 12.0] {
//!     temps.emit(t)?;
//! }
//! temps.close();
//! let got: Vec<f64> = hot.output().subscribe(Duration::from_secs(10)).collect();
//! assert_eq!(got, [35.5, 31.0]);
//! hot.join()?;
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::stream::{FLAG_BROADCAST, STREAM_HEADER_LEN, StreamHeader};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::ProcessAtomicU64;
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::structures::Ring;
use crate::sync::composite;
use crate::sync::pid_lock::{LockFail, PidGuard, PidLock};
use crate::wait::{Backoff, Side, Sleeper, WakeCache, current_pid, pid_alive, wake_all};

mod asynchronous;
mod batch;
mod broadcast;
mod emitter;
mod errors;
mod stage;

pub use asynchronous::{NextWait, NextWaitTimeout};
pub use batch::TryEmitManyError;
pub use broadcast::BroadcastSubscriber;
pub use emitter::Emitter;
pub use errors::{
    EmitError, EmitTimeoutError, EmitterError, NextError, NextTimeoutError, RecvError,
    RecvTimeoutError, StageError, SubscribeError, TryEmitError, TryNextError, TryRecvError,
};
use errors::{EmitFail, next_timed, next_untimed};
pub use stage::{Stage, Subscription};

const SUFFIXES: [&str; 2] = ["_header", "_buffer"];

/// A stream of `T` in a segment. See the [module docs](self).
pub struct Stream<T: Element> {
    seg: Segment,
    header: Entry,
    ring: Ring<T>,
    stall: Duration,
    /// Where this handle's wakes look in the waiter registry (readers sleep on the
    /// header's `Data` counter, emitters waiting for room on its `Room` counter).
    wake: WakeCache,
    /// Where this handle's last emit and read left the ring (process memory).
    hints: Hints,
    _t: PhantomData<fn() -> T>,
}

/// A handle's position hints, so that the hot paths read the ring's shared line only when
/// they must (as a [`Ring`]'s own producer and consumer keep cached positions).
#[derive(Debug)]
struct Hints {
    /// `sequence` after this handle's last append: while `sequence` still says so, no other
    /// emitter has appended and `write_pos` / `read_pos` below are this ring's.
    seq: ProcessAtomicU64,
    /// `write_pos` after that append.
    w: ProcessAtomicU64,
    /// `read_pos` as that append last saw it (a lower bound).
    r: ProcessAtomicU64,
    /// The latest `write_pos` a read of this handle loaded (a lower bound).
    read_w: ProcessAtomicU64,
}

impl Default for Hints {
    fn default() -> Self {
        Self {
            // No `sequence` matches until this handle appends (a corrupt segment's
            // `u64::MAX` would only make the first append trust a `write_pos` of 0, which
            // `append` validates).
            seq: ProcessAtomicU64::new(u64::MAX),
            w: ProcessAtomicU64::new(0),
            r: ProcessAtomicU64::new(0),
            read_w: ProcessAtomicU64::new(0),
        }
    }
}

impl<T: Element> Clone for Stream<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            header: self.header.clone(),
            ring: self.ring.clone(),
            stall: self.stall,
            wake: self.wake.copy(),
            hints: Hints::default(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Stream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("header", self.header.name())
            .field("capacity", &self.capacity())
            .field("sequence", &self.sequence())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// Why [`Stream::append`] appended nothing: the emit lock or the ring.
enum AppendFail {
    Lock(LockFail),
    Corrupt(Corruption),
}

/// How an append holds the emit lock.
#[derive(Clone, Copy, Debug)]
enum Lock {
    /// Take it for this append (waiting until the deadline at most).
    Take(Option<Instant>),
    /// Already held by this process: an [`Emitter`]'s claim.
    Held,
}

impl<T: Element> Stream<T> {
    /// Creates a stream with room for `buffer_capacity` buffered values.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (name taken or over 24 bytes, table full, out of space);
    /// [`StructureError::InvalidCapacity`] for 0.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "ticks", 16)?;
    /// assert_eq!(s.capacity(), 16);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(
        seg: &Segment,
        name: &str,
        buffer_capacity: usize,
    ) -> Result<Self, StructureError> {
        Self::create_with_transform(seg, name, buffer_capacity, "")
    }

    /// Creates a broadcast stream (see the module docs, *Semantics*): every
    /// [`Stream::broadcast_subscriber`] sees every value; emitters overwrite the oldest
    /// value when the buffer is full.
    ///
    /// # Errors
    ///
    /// As [`Stream::create`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryRecvError}};
    /// # let name = format!("/zeroipc-doc-stream-bcast-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 2)?;
    /// let mut a = s.broadcast_subscriber()?;
    /// let mut b = s.broadcast_subscriber()?;
    /// s.emit(1)?;
    /// assert_eq!((a.try_recv(), b.try_recv()), (Ok(1), Ok(1)));
    /// (2..=5).try_for_each(|v| s.try_emit(v))?; // never full: overwrites
    /// assert_eq!(a.try_recv(), Err(TryRecvError::Lagged { missed: 2 }));
    /// assert_eq!(a.try_recv(), Ok(4));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create_broadcast(
        seg: &Segment,
        name: &str,
        buffer_capacity: usize,
    ) -> Result<Self, StructureError> {
        let s = Self::create_with_transform(seg, name, buffer_capacity, "")?;
        // ORDERING: Release pairs with the Acquire in `is_broadcast`; handles opened before
        // this store (there are none yet unless another process raced the creation) would
        // see a plain stream.
        s.hdr().flags.store(FLAG_BROADCAST, Release);
        Ok(s)
    }

    /// Whether this is a broadcast stream.
    #[must_use]
    pub fn is_broadcast(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `create_broadcast`.
        self.hdr().flags.load(Acquire) & FLAG_BROADCAST != 0
    }

    /// A broadcast subscriber starting after the last value emitted so far.
    ///
    /// # Errors
    ///
    /// [`SubscribeError::Corrupt`] if the ring's positions are inconsistent (no lock is
    /// taken: `Stalled` is not returned).
    pub fn broadcast_subscriber(&self) -> Result<BroadcastSubscriber<T>, SubscribeError> {
        let pos = self
            .ring
            .view()
            .end()
            .map_err(|c| SubscribeError::Corrupt(self.ring.corruption(c)))?;
        Ok(BroadcastSubscriber::new(self.clone(), pos))
    }

    fn create_with_transform(
        seg: &Segment,
        name: &str,
        buffer_capacity: usize,
        transform: &str,
    ) -> Result<Self, StructureError> {
        let names = composite::names(name, &SUFFIXES)?;
        composite::check_absent(seg, name, &names)?;
        if buffer_capacity == 0 {
            return Err(StructureError::InvalidCapacity {
                requested: 0,
                reason: "a stream buffers at least one value",
            });
        }
        let buffer_capacity =
            u32::try_from(buffer_capacity).map_err(|_| StructureError::InvalidCapacity {
                requested: u64::try_from(buffer_capacity).unwrap_or(u64::MAX),
                reason: "a stream's buffer_capacity is a u32",
            })?;
        let header = seg.allocate(
            &names[0],
            STREAM_HEADER_LEN,
            |region, at| -> Result<(), StructureError> {
                let h: &StreamHeader = region.header(at)?;
                // ORDERING: Relaxed — unpublished until the table's Release of `entry_count`.
                h.buffer_capacity.store(buffer_capacity, Relaxed);
                for (b, c) in h.transform_name.iter().zip(transform.bytes().take(31)) {
                    b.store(c, Relaxed);
                }
                Ok(())
            },
        )?;
        Ring::<T>::create(seg, &names[1], buffer_capacity as usize)?;
        // Readers and emitters that wait sleep in the waiter registry (created once per
        // segment, with the first structure that needs it).
        seg.ensure_waiter_registry();
        seg.record(
            &Record::new(CatalogKind::Stream, name, &header)
                .elem::<T>()
                .parts(&SUFFIXES),
        );
        Self::open(seg, name)
    }

    /// Opens the stream `name` (created by zeroipc or C++).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] `NotFound`; [`StructureError::Foreign`] for a Python stream
    /// (a bare Ring under `name`); [`StructureError::ElementSize`]; [`StructureError::Corrupt`]
    /// for a header of the wrong size or a `buffer_capacity` that disagrees with the ring.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Stream::<u32>::create(&seg, "s", 4)?;
    /// assert!(Stream::<u32>::open(&seg, "s").is_ok());
    /// assert!(Stream::<u64>::open(&seg, "s").is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let names = composite::names(name, &SUFFIXES)?;
        if seg.find(&names[0]).is_err() && seg.find(&names[1]).is_err() && seg.find(name).is_ok() {
            return Err(StructureError::Foreign {
                entry: name.to_owned(),
                format: "Python Stream",
                detail: format!(
                    "a bare Ring under '{name}', no '{}' (FORMAT.md IH-17)",
                    names[0]
                ),
            });
        }
        let entries = composite::find_all(seg, name, &names)?;
        let header = entries[0].clone();
        if header.size() != STREAM_HEADER_LEN {
            return Err(Corruption::field(
                &names[0],
                "entry size",
                header.size(),
                format!("{STREAM_HEADER_LEN} (the stream header)"),
            )
            .into());
        }
        // The ring's own record is not the stream's: the stream's is checked below, so a
        // mismatch names the stream, not its part.
        let ring = Ring::<T>::open(&seg.unchecked(), &names[1])?;
        let h: &StreamHeader = seg.region().header(header.offset())?;
        // ORDERING: Relaxed — written once at creation.
        let cap = h.buffer_capacity.load(Relaxed);
        if cap as usize != ring.capacity() {
            return Err(Corruption::field(
                &names[0],
                "buffer_capacity",
                u64::from(cap),
                format!("the capacity of '{}', {}", names[1], ring.capacity()),
            )
            .into());
        }
        seg.check_catalog(&Record::new(CatalogKind::Stream, name, &header).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            header,
            ring,
            stall: crate::DEFAULT_STALL_TIMEOUT,
            wake: WakeCache::default(),
            hints: Hints::default(),
            _t: PhantomData,
        })
    }

    fn hdr(&self) -> &StreamHeader {
        self.seg
            .region()
            .header(self.header.offset())
            .expect("validated at open")
    }

    /// Takes the emit lock (`sync::pid_lock`): a dead holder's lock is taken over; a live
    /// holder that keeps it for the stall timeout ([`crate::DEFAULT_STALL_TIMEOUT`] unless
    /// [`Stream::with_stall_timeout`] changed it: a stopped process, or a zombie its parent
    /// never reaped) is [`LockFail::Stalled`].
    #[inline]
    fn lock(&self, deadline: Option<Instant>) -> Result<PidGuard<'_>, LockFail> {
        PidLock::new(&self.hdr().lock).lock(current_pid(), deadline, self.stall, pid_alive)
    }

    /// Appends what fits of `src` (everything, in a broadcast stream, up to one buffer's
    /// worth) under the emit lock, counts it in `sequence`, and wakes readers if any sleep.
    fn append(&self, src: &[T], lock: Lock) -> Result<usize, AppendFail> {
        let broadcast = self.is_broadcast();
        let h = self.hdr();
        let guard = match lock {
            Lock::Take(deadline) => Some(self.lock(deadline).map_err(AppendFail::Lock)?),
            Lock::Held => {
                let me = current_pid();
                let word = PidLock::new(&h.lock);
                if !word.held_by(me) {
                    return Err(AppendFail::Corrupt(Corruption::field(
                        self.header.name(),
                        "emit lock",
                        u64::from(word.word()),
                        format!("{me}, this process's Emitter claim"),
                    )));
                }
                None
            }
        };
        // ORDERING: Relaxed for `sequence` and the hints — every zeroipc emitter changes
        // them only under the emit lock, whose Acquire/Release orders them.
        let seq = h.sequence.load(Relaxed);
        let hint = (self.hints.seq.load(Relaxed) == seq)
            .then(|| (self.hints.w.load(Relaxed), self.hints.r.load(Relaxed)));
        // Counted before the ring publishes them (see `RingView::append`).
        let count = |n: u64| {
            // ORDERING: Release, for readers of `sequence`. A store, not C++'s fetch_add:
            // every zeroipc emitter holds the lock here; a C++ emitter beside zeroipc
            // emitters is outside the contract anyway (it takes no lock, D-12).
            h.sequence.store(seq.wrapping_add(n), Release);
        };
        let a = self
            .ring
            .view()
            .append(src, broadcast, hint, count)
            .map_err(|c| AppendFail::Corrupt(self.ring.corruption(c)))?;
        let seq = seq.wrapping_add(a.n as u64);
        // ORDERING: Relaxed — see above.
        self.hints.seq.store(seq, Relaxed);
        self.hints.w.store(a.w, Relaxed);
        self.hints.r.store(a.r, Relaxed);
        drop(guard);
        if a.n > 0 {
            // The Release store of `write_pos` (in `append`) is the change sleeping
            // readers re-check.
            self.wake
                .wake(&self.seg, &self.header, Side::Data, &h.subscribers);
        }
        Ok(a.n)
    }

    /// Takes up to `dst.len()` buffered values (a CAS of the ring's `read_pos`, no lock),
    /// and wakes emitters waiting for room if any sleep.
    fn take_values(&self, dst: &mut [T]) -> Result<usize, Corruption> {
        // ORDERING: Acquire / Release on the hint — a `write_pos` another thread of this
        // process loaded with Acquire is handed on with its happens-before (the slots it
        // covers are published for us too).
        let hint = self.hints.read_w.load(Acquire);
        let (n, w) = self
            .ring
            .view()
            .take(dst, hint)
            .map_err(|c| self.ring.corruption(c))?;
        if w != hint {
            // ORDERING: Release — pairs with the Acquire load of the hint above, in whichever
            // thread of this process reads next.
            self.hints.read_w.store(w, Release);
        }
        if n > 0 {
            // The CAS of `read_pos` is the change sleeping emitters re-check.
            self.wake
                .wake(&self.seg, &self.header, Side::Room, &self.hdr().subscribers);
        }
        Ok(n)
    }

    /// Sets how long an emit waits for a live peer that holds the emit lock before it
    /// reports `Stalled` (default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s). Even `try_emit`
    /// takes the lock, so this bounds how long any emit can take when a peer is stopped
    /// holding it (or the lock word is corrupt and names a live process). Reads take no lock.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s = Stream::<u32>::create(&seg, "s", 8)?.with_stall_timeout(Duration::from_millis(50));
    /// assert_eq!(s.stall_timeout(), Duration::from_millis(50));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        self
    }

    /// The stall timeout (see [`Stream::with_stall_timeout`]).
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// Buffer capacity in values.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.ring.capacity()
    }

    /// Values ever emitted (`sequence`).
    #[must_use]
    pub fn sequence(&self) -> u64 {
        // ORDERING: Acquire pairs with the AcqRel increment in `emit`.
        self.hdr().sequence.load(Acquire)
    }

    /// Subscribers currently reading (advisory).
    #[must_use]
    pub fn subscribers(&self) -> usize {
        // ORDERING: Relaxed — a snapshot.
        self.hdr().subscribers.load(Relaxed) as usize
    }

    /// The operator that produced this stream ("map", "filter", ...), or "".
    #[must_use]
    pub fn transform_name(&self) -> String {
        let bytes: Vec<u8> = self
            .hdr()
            .transform_name
            .iter()
            // ORDERING: Relaxed — written once at creation.
            .map(|b| b.load(Relaxed))
            .take_while(|&b| b != 0)
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// Values buffered now (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the ring's positions are inconsistent.
    pub fn len(&self) -> Result<usize, Corruption> {
        self.ring
            .view()
            .shared_len()
            .map_err(|c| self.ring.corruption(c))
    }

    /// Whether nothing is buffered (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the ring's positions are inconsistent.
    pub fn is_empty(&self) -> Result<bool, Corruption> {
        self.len().map(|n| n == 0)
    }

    /// The `<name>_header` entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.header
    }

    /// The segment this stream lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Closes the stream: emits fail from now on, readers drain what is buffered and then
    /// see `Disconnected`; blocked readers and emitters wake. `true` if this call closed it.
    pub fn close(&self) -> bool {
        let h = self.hdr();
        // ORDERING: AcqRel — Release pairs with the Acquire loads of `closed`.
        let was = h.closed.swap(1, AcqRel);
        // Every sleeper (readers and emitters waiting for room) sleeps on this word.
        wake_all(&h.subscribers);
        was == 0
    }

    /// Whether the stream is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `close`.
        self.hdr().closed.load(Acquire) != 0
    }

    /// Appends `value`, waiting as long as it takes for room (a broadcast stream never
    /// waits: it overwrites the oldest value).
    ///
    /// # Errors
    ///
    /// [`EmitError::Disconnected`] (closed, also while waiting), [`EmitError::Corrupt`],
    /// [`EmitError::Stalled`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::Stream};
    /// # let name = format!("/zeroipc-doc-stream-emit-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 1)?;
    /// s.emit(1)?;
    /// let reader = s.clone();
    /// let t = std::thread::spawn(move || reader.next());
    /// s.emit(2)?; // waits until the reader took 1
    /// assert_eq!(t.join().unwrap(), Ok(1));
    /// assert_eq!(s.sequence(), 2);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn emit(&self, value: T) -> Result<(), EmitError<T>> {
        self.emit_until(value, None, true)
            .map_err(EmitFail::blocking)
    }

    /// Appends `value` without waiting for room.
    ///
    /// # Errors
    ///
    /// [`TryEmitError::Full`], [`TryEmitError::Disconnected`], [`TryEmitError::Corrupt`],
    /// [`TryEmitError::Stalled`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryEmitError}};
    /// # let name = format!("/zeroipc-doc-stream-try-emit-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 1)?;
    /// s.try_emit(1)?;
    /// assert_eq!(s.try_emit(2), Err(TryEmitError::Full(2)));
    /// assert_eq!(s.sequence(), 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_emit(&self, value: T) -> Result<(), TryEmitError<T>> {
        self.emit_until(value, None, false).map_err(EmitFail::tried)
    }

    /// Appends `value`, waiting up to `timeout` for room.
    ///
    /// # Errors
    ///
    /// As [`Stream::emit_deadline`].
    pub fn emit_timeout(&self, value: T, timeout: Duration) -> Result<(), EmitTimeoutError<T>> {
        self.emit_until(value, Instant::now().checked_add(timeout), true)
            .map_err(EmitFail::timed)
    }

    /// Appends `value`, waiting until `deadline` at most for room.
    ///
    /// # Errors
    ///
    /// [`EmitTimeoutError::Timeout`], [`EmitTimeoutError::Disconnected`],
    /// [`EmitTimeoutError::Corrupt`], [`EmitTimeoutError::Stalled`], with the value.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, EmitTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-emit-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 1)?;
    /// s.emit_deadline(1, Instant::now())?; // room: no wait
    /// assert_eq!(s.emit_deadline(2, Instant::now()), Err(EmitTimeoutError::Timeout(2)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn emit_deadline(&self, value: T, deadline: Instant) -> Result<(), EmitTimeoutError<T>> {
        self.emit_until(value, Some(deadline), true)
            .map_err(EmitFail::timed)
    }

    fn emit_until(
        &self,
        value: T,
        deadline: Option<Instant>,
        wait: bool,
    ) -> Result<(), EmitFail<T>> {
        self.emit_with(value, deadline, wait, Lock::Take(deadline))
    }

    /// [`Stream::emit_until`] with the emit lock taken per attempt or already held.
    fn emit_with(
        &self,
        value: T,
        deadline: Option<Instant>,
        wait: bool,
        lock: Lock,
    ) -> Result<(), EmitFail<T>> {
        let attempt = || {
            if self.is_closed() {
                return Some(Err(EmitFail::Disconnected(value)));
            }
            match self.append(core::slice::from_ref(&value), lock) {
                Ok(1) => Some(Ok(())),
                // Full (never in a broadcast stream: it overwrites).
                Ok(_) if wait => None,
                Ok(_) => Some(Err(EmitFail::Full(value))),
                Err(AppendFail::Lock(LockFail::Timeout)) => Some(Err(EmitFail::Timeout(value))),
                Err(AppendFail::Lock(LockFail::Stalled)) => Some(Err(EmitFail::Stalled(value))),
                Err(AppendFail::Corrupt(c)) => Some(Err(EmitFail::Corrupt(value, c))),
            }
        };
        self.wait_until(Side::Room, deadline, attempt, || self.still_full())
            .unwrap_or(Err(EmitFail::Timeout(value)))
    }

    /// The loop of every waiting operation: `attempt` until it answers (`Some`); between
    /// attempts, spin briefly ([`Backoff`]), then sleep on the `subscribers` word, registered
    /// on `side` of the waiter registry, while `still_waiting` (checked after registering).
    /// `None`: `deadline` passed first.
    fn wait_until<R>(
        &self,
        side: Side,
        deadline: Option<Instant>,
        mut attempt: impl FnMut() -> Option<R>,
        still_waiting: impl Fn() -> bool,
    ) -> Option<R> {
        let mut backoff = Backoff::new();
        let mut sleeper = None;
        loop {
            if let Some(r) = attempt() {
                return Some(r);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            sleeper
                .get_or_insert_with(|| Sleeper::new(&self.seg, &self.header, side))
                .sleep(&self.hdr().subscribers, |_| still_waiting(), deadline);
        }
    }

    /// After registering as a sleeper: whether an emitter should still wait for room.
    fn still_full(&self) -> bool {
        !self.is_closed() && self.len().is_ok_and(|n| n >= self.capacity())
    }

    /// After registering as a sleeper: whether a reader should still wait for a value.
    fn still_empty(&self) -> bool {
        !self.is_closed() && self.len().is_ok_and(|n| n == 0)
    }

    /// Takes the oldest value, waiting as long as it takes for one.
    ///
    /// # Errors
    ///
    /// [`NextError::Disconnected`] once closed and drained; [`NextError::Corrupt`];
    /// [`NextError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::{Stream, stream::NextError}};
    /// # let name = format!("/zeroipc-doc-stream-next-block-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 4)?;
    /// let tx = s.clone();
    /// std::thread::spawn(move || {
    ///     tx.emit(9).unwrap();
    ///     tx.close();
    /// });
    /// assert_eq!(s.next(), Ok(9)); // waits for the emitter
    /// assert_eq!(s.next(), Err(NextError::Disconnected));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    // Not `Iterator::next`: a stream read returns a `Result` and takes `&self`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&self) -> Result<T, NextError> {
        self.next_until(None).map_err(next_untimed)
    }

    /// Takes the oldest buffered value, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryNextError::Empty`], or [`TryNextError::Disconnected`] if also closed;
    /// [`TryNextError::Corrupt`]; [`TryNextError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, TryNextError}};
    /// # let name = format!("/zeroipc-doc-stream-next-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 4)?;
    /// assert_eq!(s.try_next(), Err(TryNextError::Empty));
    /// s.emit(5)?;
    /// s.close();
    /// assert_eq!(s.try_next(), Ok(5)); // buffered before the close: delivered
    /// assert_eq!(s.try_next(), Err(TryNextError::Disconnected));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_next(&self) -> Result<T, TryNextError> {
        let mut v = [T::new_zeroed()];
        match self.try_next_many(&mut v) {
            Ok(_) => Ok(v[0]),
            Err(e) => Err(e),
        }
    }

    /// Takes the oldest value, waiting up to `timeout` for one.
    ///
    /// # Errors
    ///
    /// As [`Stream::next_deadline`].
    pub fn next_timeout(&self, timeout: Duration) -> Result<T, NextTimeoutError> {
        self.next_until(Instant::now().checked_add(timeout))
    }

    /// Takes the oldest value, waiting until `deadline` for one.
    ///
    /// # Errors
    ///
    /// [`NextTimeoutError::Timeout`]; [`NextTimeoutError::Disconnected`] once closed and
    /// drained; [`NextTimeoutError::Corrupt`]; [`NextTimeoutError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, NextTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-next-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u8> = Stream::create(&seg, "s", 4)?;
    /// let soon = Instant::now() + Duration::from_millis(5);
    /// assert_eq!(s.next_deadline(soon), Err(NextTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_deadline(&self, deadline: Instant) -> Result<T, NextTimeoutError> {
        self.next_until(Some(deadline))
    }

    fn next_until(&self, deadline: Option<Instant>) -> Result<T, NextTimeoutError> {
        let attempt = || match self.try_next() {
            Err(TryNextError::Empty) => None,
            other => Some(other.map_err(next_timed)),
        };
        self.wait_until(Side::Data, deadline, attempt, || self.still_empty())
            .unwrap_or(Err(NextTimeoutError::Timeout))
    }
}

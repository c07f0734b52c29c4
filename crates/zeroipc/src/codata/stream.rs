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
//! | 52  | 4    | tail padding in C++; zeroipc's ring lock (0 = free, else a pid) |
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
//!   `broadcast` semantics). Reads hold the ring lock, so no read is torn by an overwrite.
//!   The mode is bit 0 of header byte 13 (C++ padding, ignored by C++). Do not mix
//!   `try_next`-style consumers into a broadcast stream: what they take is gone for
//!   everyone (broadcast subscribers see it as lag).
//! - Operators never block the caller (D-15): each creates its output stream (writing its
//!   name into `transform_name` as C++ does), then runs in a thread returned as a [`Stage`]
//!   with [`Stage::stop`] / [`Stage::join`]. A stage closes its output when its input is
//!   closed and drained, when it is done (`take`), or when stopped.
//!
//! # Synchronization
//!
//! The Ring is single-producer single-consumer (D-12), so every zeroipc ring access — emit
//! and read — holds the **ring lock**, a `u32` in the header's tail padding (52..56), which
//! C++ never writes: `0` free, otherwise the holder's pid (CAS 0 → pid, Acquire; store 0,
//! Release). Under the lock an emit writes the ring, then bumps `sequence`: among zeroipc
//! emitters `sequence` always equals the values written when the lock is free.
//!
//! | store (Release)                 | load (Acquire)                 | publishes            |
//! |---------------------------------|--------------------------------|----------------------|
//! | ring `write_pos` / `read_pos`   | see [`Ring`]                   | elements / free room |
//! | ring lock = 0 (unlock)          | lock CAS (next holder)         | the whole ring state |
//! | `closed = 1` in `close`         | `closed` in emit / readers     | values emitted before the close (a reader that sees `closed` reads once more before reporting `Closed`) |
//!
//! Readers sleep on the `subscribers` word (emitters and `close` wake it), emitters waiting
//! for room on the lock word (readers wake it), each at most 1 ms at a time.
//!
//! **C++ emitters** take no lock: a C++ emitter alongside zeroipc emitters can corrupt the
//! ring exactly as two C++ emitters can (D-12). One C++ emitter with zeroipc readers (or the
//! reverse) is fine: the ring's own SPSC protocol covers it.
//!
//! # Process death
//!
//! A lock holder killed mid-operation leaves its pid in the lock: the next zeroipc user sees
//! that the process is gone (`kill(pid, 0)`) and takes the lock over with a CAS. A holder
//! that looks alive but keeps the lock for the stall timeout ([`Stream::with_stall_timeout`],
//! default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s) (stopped, or killed and not yet reaped by its
//! parent: a zombie) makes operations fail with `Stalled` instead of hanging. The ring
//! publishes nothing half-written (see [`Ring`]). `subscribers` stays inflated by dead
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
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::stream::{FLAG_BROADCAST, STREAM_HEADER_LEN, StreamHeader};
use crate::loom::AtomicU8;
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::structures::Ring;
use crate::sync::composite;
use crate::wait::{Backoff, Parked, Patience, current_pid, park, pid_alive, wake_all};

mod asynchronous;
pub use asynchronous::{NextWait, NextWaitTimeout};
// As in `channel`: pid liveness for the dead-holder takeover of the ring lock.

const SUFFIXES: [&str; 2] = ["_header", "_buffer"];

/// Why the ring lock was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LockFail {
    Timeout,
    Stalled,
}

/// How often a stage re-checks its stop flag while its input is idle.
const STAGE_POLL: Duration = Duration::from_millis(10);

/// Declares a value-carrying emit error: the enum (plain variants carry the value,
/// `Corrupt` carries it with the [`Corruption`]), `into_inner`, a `Debug` that does not
/// need `T: Debug`, `Display` and `Error`.
macro_rules! emit_error {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $msg:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name<T> {
            $($(#[$vm])* $v(T),)*
            /// The ring's positions are inconsistent (never trusted, never an out-of-bounds
            /// copy).
            Corrupt(T, Corruption),
        }

        impl<T> $name<T> {
            /// The value that was not emitted.
            pub fn into_inner(self) -> T {
                match self {
                    $(Self::$v(v) => v,)*
                    Self::Corrupt(v, _) => v,
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v(_) => f.write_str(concat!(stringify!($v), "(..)")),)*
                    Self::Corrupt(_, c) => write!(f, "Corrupt(.., {c:?})"),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v(_) => f.write_str($msg),)*
                    Self::Corrupt(_, c) => write!(f, "corrupt stream: {c}"),
                }
            }
        }

        impl<T> std::error::Error for $name<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    Self::Corrupt(_, c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

/// Declares a read error: the enum (with `Corrupt(Corruption)` and whatever variants are
/// given), `Display` and `Error`.
macro_rules! read_error {
    ($(#[$m:meta])* $name:ident {
        $($(#[$vm:meta])* $v:ident $({ $(#[$fm:meta])* $field:ident: $ft:ty })? => $fmt:literal,)*
    }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v $({ $(#[$fm])* $field: $ft })?,)*
            /// The ring's positions are inconsistent.
            Corrupt(Corruption),
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$v $({ $field })? => write!(f, $fmt),)*
                    Self::Corrupt(c) => write!(f, "corrupt stream: {c}"),
                }
            }
        }

        impl std::error::Error for $name {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    Self::Corrupt(c) => Some(c),
                    _ => None,
                }
            }
        }
    };
}

emit_error! {
    /// Why [`Stream::emit`] did not append; the value is handed back.
    EmitError {
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The ring lock stayed with one live process for the stall timeout (stopped, or a
        /// zombie).
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

emit_error! {
    /// Why [`Stream::try_emit`] did not append; the value is handed back.
    TryEmitError {
        /// The buffer is full (not a broadcast stream).
        Full => "the stream's buffer is full, expected room for one value",
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

emit_error! {
    /// Why [`Stream::emit_timeout`] / [`Stream::emit_deadline`] did not append; the value
    /// is handed back.
    EmitTimeoutError {
        /// The deadline passed while the buffer stayed full (or the lock stayed taken).
        Timeout => "timed out waiting for room in the stream",
        /// The stream is closed.
        Disconnected => "the stream is closed, expected it open",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::next`] returned no value.
    NextError {
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::try_next`] returned no value.
    TryNextError {
        /// Nothing buffered right now.
        Empty => "the stream is empty, expected a value",
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::next_timeout`] / [`Stream::next_deadline`] (or a [`Subscription`])
    /// returned no value.
    NextTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out waiting for a value",
        /// The stream is closed and everything emitted before the close has been read.
        Disconnected => "the stream is closed and drained, expected a value",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::recv`] returned no value.
    RecvError {
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind: `missed` values were overwritten before it read
        /// them; its next read returns the oldest value still buffered.
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::try_recv`] returned no value.
    TryRecvError {
        /// Nothing new right now.
        Empty => "no new value in the stream, expected one",
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind (see [`RecvError::Lagged`]).
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`BroadcastSubscriber::recv_timeout`] / [`BroadcastSubscriber::recv_deadline`]
    /// returned no value.
    RecvTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out waiting for a value",
        /// The stream is closed and this subscriber has read everything.
        Disconnected => "the stream is closed and drained, expected a value",
        /// This subscriber fell behind (see [`RecvError::Lagged`]).
        Lagged {
            /// Values this subscriber will never see.
            missed: u64
        } => "fell behind: {missed} values were overwritten before this subscriber read them",
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why [`Stream::broadcast_subscriber`] gave no subscriber.
    SubscribeError {
        /// The ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
    }
}

read_error! {
    /// Why a [`Stage`] ended in error ([`Stage::join`]).
    StageError {
        /// A stream's ring lock stayed with one live process for the stall timeout.
        Stalled => "the stream's ring lock is held by a process that does not release it within the stall timeout",
        /// The stage's thread panicked (in the caller's closure).
        Panicked => "a stream stage panicked",
    }
}

/// Every way an emit can end, before it is narrowed to the form's error type.
enum EmitFail<T> {
    Full(T),
    Timeout(T),
    Disconnected(T),
    Corrupt(T, Corruption),
    Stalled(T),
}

impl<T> EmitFail<T> {
    /// For `emit` (no deadline, waits for room): `Full` and `Timeout` cannot happen.
    fn blocking(self) -> EmitError<T> {
        match self {
            Self::Disconnected(v) => EmitError::Disconnected(v),
            Self::Corrupt(v, c) => EmitError::Corrupt(v, c),
            Self::Stalled(v) => EmitError::Stalled(v),
            Self::Full(_) | Self::Timeout(_) => unreachable!("an untimed, waiting emit gave up"),
        }
    }

    /// For `try_emit` (no deadline): `Timeout` cannot happen.
    fn tried(self) -> TryEmitError<T> {
        match self {
            Self::Full(v) => TryEmitError::Full(v),
            Self::Disconnected(v) => TryEmitError::Disconnected(v),
            Self::Corrupt(v, c) => TryEmitError::Corrupt(v, c),
            Self::Stalled(v) => TryEmitError::Stalled(v),
            Self::Timeout(_) => unreachable!("an emit without a deadline timed out"),
        }
    }

    /// For the timed forms (they wait for room): `Full` cannot happen.
    fn timed(self) -> EmitTimeoutError<T> {
        match self {
            Self::Timeout(v) => EmitTimeoutError::Timeout(v),
            Self::Disconnected(v) => EmitTimeoutError::Disconnected(v),
            Self::Corrupt(v, c) => EmitTimeoutError::Corrupt(v, c),
            Self::Stalled(v) => EmitTimeoutError::Stalled(v),
            Self::Full(_) => unreachable!("a waiting emit reported Full"),
        }
    }
}

/// A `try_next` outcome in a timed read (`Empty` is handled by the caller).
fn next_timed(e: TryNextError) -> NextTimeoutError {
    match e {
        TryNextError::Empty => NextTimeoutError::Timeout,
        TryNextError::Disconnected => NextTimeoutError::Disconnected,
        TryNextError::Corrupt(c) => NextTimeoutError::Corrupt(c),
        TryNextError::Stalled => NextTimeoutError::Stalled,
    }
}

/// A read with no deadline never times out.
fn next_untimed(e: NextTimeoutError) -> NextError {
    match e {
        NextTimeoutError::Disconnected => NextError::Disconnected,
        NextTimeoutError::Corrupt(c) => NextError::Corrupt(c),
        NextTimeoutError::Stalled => NextError::Stalled,
        NextTimeoutError::Timeout => unreachable!("a read without a deadline timed out"),
    }
}

/// A `try_recv` outcome in a timed broadcast read (`Empty` is handled by the caller).
fn recv_timed(e: TryRecvError) -> RecvTimeoutError {
    match e {
        TryRecvError::Empty => RecvTimeoutError::Timeout,
        TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        TryRecvError::Lagged { missed } => RecvTimeoutError::Lagged { missed },
        TryRecvError::Corrupt(c) => RecvTimeoutError::Corrupt(c),
        TryRecvError::Stalled => RecvTimeoutError::Stalled,
    }
}

/// A broadcast read with no deadline never times out.
fn recv_untimed(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        RecvTimeoutError::Lagged { missed } => RecvError::Lagged { missed },
        RecvTimeoutError::Corrupt(c) => RecvError::Corrupt(c),
        RecvTimeoutError::Stalled => RecvError::Stalled,
        RecvTimeoutError::Timeout => unreachable!("a read without a deadline timed out"),
    }
}

/// A stream of `T` in a segment. See the [module docs](self).
pub struct Stream<T: Element> {
    seg: Segment,
    header: Entry,
    ring: Ring<T>,
    stall: Duration,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Stream<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            header: self.header.clone(),
            ring: self.ring.clone(),
            stall: self.stall,
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

/// Holds the ring lock; unlocks on drop.
struct RingLock<'a> {
    hdr: &'a StreamHeader,
    me: u32,
}

impl Drop for RingLock<'_> {
    fn drop(&mut self) {
        // ORDERING: Release pairs with the Acquire CAS of the next holder.
        let _ = self.hdr.lock.compare_exchange(self.me, 0, Release, Relaxed);
        wake_all(&self.hdr.lock);
    }
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
    /// [`SubscribeError::Corrupt`] if the ring's positions are inconsistent;
    /// [`SubscribeError::Stalled`] if the ring lock stays with a stuck process.
    pub fn broadcast_subscriber(&self) -> Result<BroadcastSubscriber<T>, SubscribeError> {
        let _guard = self.lock(None).map_err(|_| SubscribeError::Stalled)?;
        let (w, _, _) = self
            .ring
            .read_at(u64::MAX)
            .map_err(SubscribeError::Corrupt)?;
        Ok(BroadcastSubscriber {
            stream: self.clone(),
            pos: w,
        })
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
            return Err(Corruption::Field {
                entry: names[0].clone(),
                field: "entry size",
                found: header.size(),
                expected: format!("{STREAM_HEADER_LEN} (the stream header)"),
            }
            .into());
        }
        // The ring's own record is not the stream's: the stream's is checked below, so a
        // mismatch names the stream, not its part.
        let ring = Ring::<T>::open(&seg.unchecked(), &names[1])?;
        let h: &StreamHeader = seg.region().header(header.offset())?;
        // ORDERING: Relaxed — written once at creation.
        let cap = h.buffer_capacity.load(Relaxed);
        if cap as usize != ring.capacity() {
            return Err(Corruption::Field {
                entry: names[0].clone(),
                field: "buffer_capacity",
                found: u64::from(cap),
                expected: format!("the capacity of '{}', {}", names[1], ring.capacity()),
            }
            .into());
        }
        seg.check_catalog(&Record::new(CatalogKind::Stream, name, &header).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            header,
            ring,
            stall: crate::DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        })
    }

    fn hdr(&self) -> &StreamHeader {
        self.seg
            .region()
            .header(self.header.offset())
            .expect("validated at open")
    }

    /// Takes the ring lock: a dead holder's lock is taken over; a live holder that keeps it
    /// for the stall timeout ([`crate::DEFAULT_STALL_TIMEOUT`] unless
    /// [`Stream::with_stall_timeout`] changed it: a
    /// stopped process, or a zombie its parent never reaped) is [`LockFail::Stalled`].
    fn lock(&self, deadline: Option<Instant>) -> Result<RingLock<'_>, LockFail> {
        let hdr = self.hdr();
        let me = current_pid();
        let mut backoff = Backoff::new();
        // The stall clock runs per holder: a new holder is progress, so it starts over.
        let mut patience = Patience::new(self.stall);
        let mut holder = None;
        loop {
            // ORDERING: Acquire pairs with the holder's Release in `RingLock::drop`.
            match hdr.lock.compare_exchange(0, me, Acquire, Relaxed) {
                Ok(_) => return Ok(RingLock { hdr, me }),
                Err(owner) if backoff.is_completed() && owner != me && !pid_alive(owner) => {
                    // ORDERING: Acquire — take over from a dead holder (nothing it did is
                    // half-published: the ring publishes with its own Release stores).
                    if hdr
                        .lock
                        .compare_exchange(owner, me, Acquire, Relaxed)
                        .is_ok()
                    {
                        return Ok(RingLock { hdr, me });
                    }
                }
                Err(owner) => {
                    if !backoff.is_completed() {
                        backoff.snooze();
                        continue;
                    }
                    if holder != Some(owner) {
                        holder = Some(owner);
                        patience.reset();
                    }
                    if patience.expired() {
                        return Err(LockFail::Stalled);
                    }
                    if park(&hdr.lock, owner, deadline) == Parked::TimedOut {
                        return Err(LockFail::Timeout);
                    }
                }
            }
        }
    }

    /// Sets how long an operation waits for a live peer that holds the ring lock before it
    /// reports `Stalled` (default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s). Even a `try_`
    /// operation takes the lock, so this bounds how long any of them can take when a peer is stopped holding
    /// it (or the lock word is corrupt and names a live process).
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
        self.ring.len()
    }

    /// Whether nothing is buffered (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the ring's positions are inconsistent.
    pub fn is_empty(&self) -> Result<bool, Corruption> {
        self.ring.is_empty()
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
        wake_all(&h.subscribers);
        wake_all(&h.lock);
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
        mut value: T,
        deadline: Option<Instant>,
        wait: bool,
    ) -> Result<(), EmitFail<T>> {
        let h = self.hdr();
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.lock.load(Relaxed);
            if self.is_closed() {
                return Err(EmitFail::Disconnected(value));
            }
            let guard = match self.lock(deadline) {
                Ok(g) => g,
                Err(LockFail::Timeout) => return Err(EmitFail::Timeout(value)),
                Err(LockFail::Stalled) => return Err(EmitFail::Stalled(value)),
            };
            // Unclaimed: the stream lock serialises every emitter and reader of the ring.
            let mut tx = match self.ring.producer_unclaimed() {
                Ok(tx) => tx,
                Err(c) => return Err(EmitFail::Corrupt(value, c)),
            };
            match tx.try_push(value) {
                Ok(()) => {
                    // ORDERING: AcqRel, as C++; under the lock, so it matches the ring.
                    h.sequence.fetch_add(1, AcqRel);
                    drop(guard);
                    wake_all(&h.subscribers);
                    return Ok(());
                }
                Err(crate::structures::ring::TryPushError::Full(v)) if self.is_broadcast() => {
                    // Drop the oldest value (still under the lock), then retry.
                    if let Err(c) = self
                        .ring
                        .consumer_unclaimed()
                        .and_then(|mut rx| rx.pop_now())
                    {
                        return Err(EmitFail::Corrupt(v, c));
                    }
                    drop(guard);
                    value = v;
                }
                Err(crate::structures::ring::TryPushError::Full(v)) => {
                    drop(guard);
                    if !wait {
                        return Err(EmitFail::Full(v));
                    }
                    if park(&h.lock, seen, deadline) == Parked::TimedOut {
                        return Err(EmitFail::Timeout(v));
                    }
                }
                Err(crate::structures::ring::TryPushError::Corrupt(value, corruption)) => {
                    return Err(EmitFail::Corrupt(value, corruption));
                }
            }
        }
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
        match self.read_one() {
            Err(TryNextError::Empty) if self.is_closed() => match self.read_one() {
                Err(TryNextError::Empty) => Err(TryNextError::Disconnected),
                other => other,
            },
            other => other,
        }
    }

    fn read_one(&self) -> Result<T, TryNextError> {
        let guard = self.lock(None).map_err(|_| TryNextError::Stalled)?;
        let mut rx = self
            .ring
            .consumer_unclaimed()
            .map_err(TryNextError::Corrupt)?;
        let v = rx.pop_now().map_err(TryNextError::Corrupt)?;
        drop(guard);
        v.ok_or(TryNextError::Empty)
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
        let h = self.hdr();
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.subscribers.load(Relaxed);
            match self.try_next() {
                Err(TryNextError::Empty) => {}
                other => return other.map_err(next_timed),
            }
            if park(&h.subscribers, seen, deadline) == Parked::TimedOut {
                return match self.try_next() {
                    Err(TryNextError::Empty) => Err(NextTimeoutError::Timeout),
                    other => other.map_err(next_timed),
                };
            }
        }
    }

    /// A subscriber: an iterator of values until the stream is closed and drained, or no
    /// value arrives for `idle` (counted in `subscribers` while it lives).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-sub-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// (1..=3).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// assert_eq!(s.subscribe(Duration::from_secs(1)).sum::<u32>(), 6);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn subscribe(&self, idle: Duration) -> Subscription<'_, T> {
        // ORDERING: AcqRel, as C++ (an advisory count).
        self.hdr().subscribers.fetch_add(1, AcqRel);
        Subscription {
            stream: self,
            idle,
            error: None,
        }
    }

    /// Calls `f` with every value until the stream is closed and drained (or `idle` passes
    /// without a value): the callback form of [`Stream::subscribe`]. Returns how the
    /// subscription ended.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::{Stream, NextTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-each-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// s.emit(4)?;
    /// s.close();
    /// let mut seen = Vec::new();
    /// let end = s.for_each(Duration::from_secs(1), |v| seen.push(v));
    /// assert_eq!(end, NextTimeoutError::Disconnected);
    /// assert_eq!(seen, [4]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_each(&self, idle: Duration, mut f: impl FnMut(T)) -> NextTimeoutError {
        let mut sub = self.subscribe(idle);
        for v in sub.by_ref() {
            f(v);
        }
        sub.error.take().unwrap_or(NextTimeoutError::Disconnected)
    }

    /// Runs `step` over the input in a thread, emitting into a new stream `out`.
    fn stage<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        transform: &str,
        capacity: usize,
        step: impl FnMut(T) -> (Option<U>, bool) + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage_from(seg, out, transform, capacity, false, step)
    }

    fn stage_from<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        transform: &str,
        capacity: usize,
        stopped: bool,
        mut step: impl FnMut(T) -> (Option<U>, bool) + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        let output = Stream::<U>::create_with_transform(seg, out, capacity, transform)?;
        let stop = Arc::new(AtomicU8::new(u8::from(stopped)));
        let (input, tx, flag) = (self.clone(), output.clone(), stop.clone());
        // ORDERING: Relaxed — a process-local flag; the stage only needs to see it eventually.
        let stopped = move || flag.load(Relaxed) != 0;
        let handle = std::thread::spawn(move || {
            let r = (|| loop {
                if stopped() {
                    return Ok(());
                }
                let v = match input.next_timeout(STAGE_POLL) {
                    Ok(v) => v,
                    Err(NextTimeoutError::Timeout) => continue,
                    Err(NextTimeoutError::Disconnected) => return Ok(()),
                    Err(NextTimeoutError::Corrupt(c)) => return Err(StageError::Corrupt(c)),
                    Err(NextTimeoutError::Stalled) => return Err(StageError::Stalled),
                };
                let (out, done) = step(v);
                if let Some(u) = out {
                    if !emit_from_stage(&tx, u, &stopped)? {
                        return Ok(());
                    }
                }
                if done {
                    return Ok(());
                }
            })();
            tx.close();
            r
        });
        Ok(Stage {
            output,
            stop,
            handle: Some(handle),
        })
    }

    /// A stage emitting `f(v)` for every value into a new stream `out` (same capacity).
    ///
    /// # Errors
    ///
    /// Creating `out` failed (see [`Stream::create`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-map-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Stream<f64> = Stream::create(&seg, "celsius", 8)?;
    /// let f = c.map(&seg, "fahrenheit", |t| t * 1.8 + 32.0)?;
    /// c.emit(100.0)?;
    /// c.close();
    /// assert_eq!(f.output().next_timeout(Duration::from_secs(10)), Ok(212.0));
    /// assert_eq!(f.output().transform_name(), "map");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<U: Element>(
        &self,
        seg: &Segment,
        out: &str,
        f: impl Fn(T) -> U + Send + 'static,
    ) -> Result<Stage<U>, StructureError> {
        self.stage(seg, out, "map", self.capacity(), move |v| {
            (Some(f(v)), false)
        })
    }

    /// A stage passing on the values for which `keep` is true.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    pub fn filter(
        &self,
        seg: &Segment,
        out: &str,
        keep: impl Fn(&T) -> bool + Send + 'static,
    ) -> Result<Stage<T>, StructureError> {
        self.stage(seg, out, "filter", self.capacity(), move |v| {
            (keep(&v).then_some(v), false)
        })
    }

    /// A stage passing on the first `n` values, then closing its output.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-take-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let rest = s.skip(&seg, "rest", 1)?; // keep it: dropping a Stage stops it
    /// let first = rest.output().take(&seg, "two", 2)?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// let got: Vec<u32> = first.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [2, 3]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn take(&self, seg: &Segment, out: &str, n: usize) -> Result<Stage<T>, StructureError> {
        let cap = n.clamp(1, self.capacity());
        let mut left = n;
        // `take(0)` must not consume an input value: its stage starts stopped.
        self.stage_from(seg, out, "take", cap, n == 0, move |v| {
            left = left.saturating_sub(1);
            (Some(v), left == 0)
        })
    }

    /// A stage dropping the first `n` values and passing on the rest.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    pub fn skip(&self, seg: &Segment, out: &str, n: usize) -> Result<Stage<T>, StructureError> {
        let mut left = n;
        self.stage(seg, out, "skip", self.capacity(), move |v| {
            if left > 0 {
                left -= 1;
                (None, false)
            } else {
                (Some(v), false)
            }
        })
    }

    /// A stage emitting the running fold `acc = f(acc, v)` after every value (the last value
    /// of the output is the fold of the whole input).
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-fold-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create(&seg, "s", 8)?;
    /// let sums = s.fold(&seg, "sums", 0u64, |acc, v| acc + u64::from(v))?;
    /// (1..=4).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// let got: Vec<u64> = sums.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [1, 3, 6, 10]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fold<A: Element>(
        &self,
        seg: &Segment,
        out: &str,
        init: A,
        f: impl Fn(A, T) -> A + Send + 'static,
    ) -> Result<Stage<A>, StructureError> {
        let mut acc = init;
        self.stage(seg, out, "fold", self.capacity(), move |v| {
            acc = f(acc, v);
            (Some(acc), false)
        })
    }

    /// A stage emitting non-overlapping windows of `N` consecutive values as `[T; N]`
    /// (a partial window at close is dropped).
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-window-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 8)?;
    /// let pairs = s.window::<2>(&seg, "pairs")?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// s.close();
    /// let got: Vec<[u16; 2]> = pairs.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [[1, 2], [3, 4]]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window<const N: usize>(
        &self,
        seg: &Segment,
        out: &str,
    ) -> Result<Stage<[T; N]>, StructureError>
    where
        [T; N]: Element,
    {
        let mut buf: Vec<T> = Vec::with_capacity(N);
        self.stage(seg, out, "window", self.capacity(), move |v| {
            buf.push(v);
            if buf.len() < N {
                return (None, false);
            }
            let w: Option<[T; N]> = buf.as_slice().try_into().ok();
            buf.clear();
            (w, false)
        })
    }

    /// A stage folding the values that arrive in one time window into one output value.
    ///
    /// **Windows.** A window opens when a value arrives while none is open, and closes
    /// `period` later. Every value read while it is open is folded into an accumulator that
    /// starts at `init` (`acc = f(acc, v)`); when the window closes the accumulator is emitted
    /// (at most ~10 ms late, the stage's poll interval) and the next value opens a new window.
    /// Time is the stage's: a value belongs to the window open when the stage reads it. So
    /// values the stage reads more than `period` apart never share a window, and **an empty
    /// window emits nothing**: a quiet input produces no output at all.
    ///
    /// **Output shape.** The output is the accumulator type `A`, any [`Element`], so it stays
    /// plain-old-data: a count (`0u64, |n, _| n + 1`), a sum, a maximum, or a
    /// `#[repr(C)]` struct of several such aggregates.
    ///
    /// **End.** When the input is closed and drained, the open window (a partial one) is
    /// emitted, then the output is closed. After [`Stage::stop`] the open window is dropped
    /// and the output is closed. Like every stage it runs in its own thread; the caller is
    /// never blocked.
    ///
    /// # Errors
    ///
    /// Creating `out` failed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::stream::Stream};
    /// # let name = format!("/zeroipc-doc-stream-window-time-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u16> = Stream::create(&seg, "s", 8)?;
    /// let counts = s.window_by_time(&seg, "counts", Duration::from_secs(30), 0u64, |n, _| n + 1)?;
    /// (1..=5).try_for_each(|v| s.emit(v))?;
    /// s.close(); // flushes the open (partial) window
    /// let got: Vec<u64> = counts.output().subscribe(Duration::from_secs(10)).collect();
    /// assert_eq!(got, [5]);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn window_by_time<A: Element>(
        &self,
        seg: &Segment,
        out: &str,
        period: Duration,
        init: A,
        mut f: impl FnMut(A, T) -> A + Send + 'static,
    ) -> Result<Stage<A>, StructureError> {
        let output = Stream::<A>::create_with_transform(seg, out, self.capacity(), "window")?;
        let stop = Arc::new(AtomicU8::new(0));
        let (input, tx, flag) = (self.clone(), output.clone(), stop.clone());
        // ORDERING: Relaxed — a process-local flag; the stage only needs to see it eventually.
        let stopped = move || flag.load(Relaxed) != 0;
        let handle = std::thread::spawn(move || {
            // The open window: its accumulator and when it closes.
            let mut open: Option<(A, Instant)> = None;
            let r = (|| loop {
                if stopped() {
                    return Ok(());
                }
                let wait = open.as_ref().map_or(STAGE_POLL, |&(_, end)| {
                    end.saturating_duration_since(Instant::now())
                        .min(STAGE_POLL)
                });
                let (value, closed) = match input.next_timeout(wait) {
                    Ok(v) => (Some(v), false),
                    Err(NextTimeoutError::Timeout) => (None, false),
                    Err(NextTimeoutError::Disconnected) => (None, true),
                    Err(NextTimeoutError::Corrupt(c)) => return Err(StageError::Corrupt(c)),
                    Err(NextTimeoutError::Stalled) => return Err(StageError::Stalled),
                };
                // The window is closed (and emitted) before the value just read is folded:
                // a value read after the window's end opens the next window, even when this
                // thread was held up past the end.
                let due = open.as_ref().is_some_and(|&(_, end)| Instant::now() >= end);
                if due || closed {
                    if let Some((acc, _)) = open.take() {
                        if !emit_from_stage(&tx, acc, &stopped)? {
                            return Ok(());
                        }
                    }
                }
                if let Some(v) = value {
                    let (acc, end) = open.unwrap_or_else(|| (init, Instant::now() + period));
                    open = Some((f(acc, v), end));
                }
                if closed {
                    return Ok(());
                }
            })();
            tx.close();
            r
        });
        Ok(Stage {
            output,
            stop,
            handle: Some(handle),
        })
    }
}

/// Emits `u` from a stage thread, retrying while the output is full. `Ok(false)`: stop
/// (the stage was stopped, or the output closed or refused the value).
fn emit_from_stage<U: Element>(
    tx: &Stream<U>,
    mut u: U,
    stopped: &impl Fn() -> bool,
) -> Result<bool, StageError> {
    loop {
        match tx.emit_timeout(u, STAGE_POLL) {
            Ok(()) => return Ok(true),
            Err(EmitTimeoutError::Timeout(back)) if !stopped() => u = back,
            Err(EmitTimeoutError::Timeout(_) | EmitTimeoutError::Disconnected(_)) => {
                return Ok(false);
            }
            Err(EmitTimeoutError::Corrupt(_, c)) => return Err(StageError::Corrupt(c)),
            Err(EmitTimeoutError::Stalled(_)) => return Err(StageError::Stalled),
        }
    }
}

/// A subscriber; see [`Stream::subscribe`].
#[derive(Debug)]
pub struct Subscription<'a, T: Element> {
    stream: &'a Stream<T>,
    idle: Duration,
    error: Option<NextTimeoutError>,
}

impl<T: Element> Subscription<'_, T> {
    /// Why iteration ended (`None` while it has not): `Disconnected` (closed and
    /// drained), `Timeout` (idle), or an error.
    #[must_use]
    pub fn error(&self) -> Option<&NextTimeoutError> {
        self.error.as_ref()
    }
}

impl<T: Element> Iterator for Subscription<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        if self.error.is_some() {
            return None;
        }
        match self.stream.next_timeout(self.idle) {
            Ok(v) => Some(v),
            Err(e) => {
                self.error = Some(e);
                None
            }
        }
    }
}

impl<T: Element> Drop for Subscription<'_, T> {
    fn drop(&mut self) {
        // ORDERING: AcqRel, as C++.
        self.stream.hdr().subscribers.fetch_sub(1, AcqRel);
    }
}

/// A running operator: its output stream and the thread feeding it. Dropping it stops and
/// joins the thread.
#[derive(Debug)]
pub struct Stage<U: Element> {
    output: Stream<U>,
    stop: Arc<AtomicU8>,
    handle: Option<JoinHandle<Result<(), StageError>>>,
}

impl<U: Element> Stage<U> {
    /// The derived stream.
    #[must_use]
    pub fn output(&self) -> &Stream<U> {
        &self.output
    }

    /// Asks the stage to stop (within ~10 ms); it then closes its output.
    pub fn stop(&self) {
        // ORDERING: Relaxed — a process-local flag polled by the stage.
        self.stop.store(1, Relaxed);
    }

    /// Waits for the stage to finish (its input closed and drained, `take` done, or
    /// [`Stage::stop`]).
    ///
    /// # Errors
    ///
    /// [`StageError::Corrupt`] if a stream broke; [`StageError::Stalled`] if a stream's
    /// lock stayed with a stuck process; [`StageError::Panicked`] if the closure panicked.
    pub fn join(mut self) -> Result<(), StageError> {
        self.handle
            .take()
            .map_or(Ok(()), |h| h.join().unwrap_or(Err(StageError::Panicked)))
    }
}

impl<U: Element> Drop for Stage<U> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            self.stop();
            let _ = h.join();
        }
    }
}

/// A broadcast subscriber with its own cursor; see [`Stream::create_broadcast`].
#[derive(Debug, Clone)]
pub struct BroadcastSubscriber<T: Element> {
    stream: Stream<T>,
    /// Byte position of the next value to read.
    pos: u64,
}

impl<T: Element> BroadcastSubscriber<T> {
    /// The stream this subscriber reads.
    #[must_use]
    pub fn stream(&self) -> &Stream<T> {
        &self.stream
    }

    /// The next value, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once closed and this subscriber has read everything;
    /// [`RecvError::Lagged`]; [`RecvError::Corrupt`]; [`RecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::Stream};
    /// # let name = format!("/zeroipc-doc-stream-bcast-recv-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 4)?;
    /// let mut sub = s.broadcast_subscriber()?;
    /// let tx = s.clone();
    /// std::thread::spawn(move || tx.emit(7));
    /// assert_eq!(sub.recv(), Ok(7));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&mut self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(recv_untimed)
    }

    /// The next value, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`]; [`TryRecvError::Disconnected`] once closed and this
    /// subscriber has read everything; [`TryRecvError::Lagged`]; [`TryRecvError::Corrupt`];
    /// [`TryRecvError::Stalled`].
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        // Read `closed` first: everything emitted before the close is then in the ring.
        let closed = self.stream.is_closed();
        let (w, r, v) = {
            let _guard = self.stream.lock(None).map_err(|_| TryRecvError::Stalled)?;
            self.stream
                .ring
                .read_at(self.pos)
                .map_err(TryRecvError::Corrupt)?
        };
        let es = core::mem::size_of::<T>() as u64;
        if let Some(v) = v {
            self.pos = self.pos.wrapping_add(es);
            return Ok(v);
        }
        if self.pos < r {
            let missed = (r - self.pos) / es;
            self.pos = r;
            return Err(TryRecvError::Lagged { missed });
        }
        if self.pos > w {
            // Only if the positions went backwards (a reset by a peer): start over.
            self.pos = w;
        }
        Err(if closed {
            TryRecvError::Disconnected
        } else {
            TryRecvError::Empty
        })
    }

    /// The next value, waiting up to `timeout`.
    ///
    /// # Errors
    ///
    /// As [`BroadcastSubscriber::recv_deadline`].
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// The next value, waiting until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], and as [`BroadcastSubscriber::recv`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{SegmentOptions, Segment, codata::{Stream, stream::RecvTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stream-bcast-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stream<u32> = Stream::create_broadcast(&seg, "news", 4)?;
    /// let mut sub = s.broadcast_subscriber()?;
    /// assert_eq!(sub.recv_deadline(Instant::now()), Err(RecvTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_deadline(&mut self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    fn recv_until(&mut self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let stream = self.stream.clone();
        let h = stream.hdr();
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.subscribers.load(Relaxed);
            match self.try_recv() {
                Err(TryRecvError::Empty) => {}
                other => return other.map_err(recv_timed),
            }
            if park(&h.subscribers, seen, deadline) == Parked::TimedOut {
                return match self.try_recv() {
                    Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                    other => other.map_err(recv_timed),
                };
            }
        }
    }
}

//! Channel: a closable, typed pipe between threads and processes — buffered (a bounded
//! MPMC queue) or unbuffered (a rendezvous: `send` returns once a receiver took the value).
//! The bytes are the C++ `Channel<T>` (FORMAT.md §6.4); Python's channel is another format
//! and is refused ([`StructureError::Foreign`]).
//!
//! # Layout (FORMAT.md §6.4)
//!
//! `<name>_header`, 32 bytes:
//!
//! | off | size | field                                                          |
//! |-----|------|----------------------------------------------------------------|
//! | 0   | 4    | `capacity` u32: 0 = unbuffered, otherwise a power of two ≥ 2    |
//! | 4   | 4    | `senders` u32: senders currently blocked                        |
//! | 8   | 4    | `receivers` u32: receivers currently blocked                    |
//! | 12  | 1    | `closed` u8 (0 / non-zero)                                      |
//! | 16  | 8    | `send_seq` u64: unused by C++; zeroipc's rendezvous sender lock |
//! | 24  | 8    | `recv_seq` u64: unused                                          |
//!
//! Then `<name>_buffer`, a [`Queue`] of `capacity` slots (buffered), or `<name>_slot`
//! `{ready u8 @0, consumed u8 @1, data @align_up(2, align_of T)}` (unbuffered). The base name
//! is at most 24 bytes (the suffixes are 7).
//!
//! Creating rounds a buffered capacity up to a power of two **and to at least 2** (C++
//! creates a broken 1-slot queue for 1, FORMAT.md D-5; opening such a channel is refused).
//!
//! # Semantics
//!
//! - `send` fails with [`SendError::Disconnected`] (value handed back) once the channel is
//!   closed; `recv` keeps returning what was sent before the close, then
//!   [`RecvError::Disconnected`].
//! - Every operation that can wait has four forms, each with its own error type (the
//!   crossbeam family): `send` → [`SendError`], `try_send` → [`TrySendError`] (+ `Full`),
//!   `send_timeout` / `send_deadline` → [`SendTimeoutError`] (+ `Timeout`); `recv` →
//!   [`RecvError`], `try_recv` → [`TryRecvError`] (+ `Empty`), `recv_timeout` /
//!   `recv_deadline` → [`RecvTimeoutError`] (+ `Timeout`). The async forms resolve to the
//!   blocking forms' errors.
//! - Buffered: `send` waits while the queue is full, `recv` while it is empty (C++'s
//!   buffered `recv` never waits; both agree on the bytes).
//! - Unbuffered: `send` returns `Ok` once a receiver has taken the value. Any number of
//!   senders and receivers in any number of processes: every value is received exactly once
//!   (the protocol is in `raw::rendezvous`: senders serialise on a lock in `send_seq`,
//!   receivers claim the value with a CAS on `ready`). C++'s rendezvous is correct for one
//!   sender and one receiver only (D-16).
//! - `try_send` on an unbuffered channel succeeds only if a receiver is blocked right now
//!   (it waits at most a few milliseconds for that receiver to take the value, then takes the
//!   value back): it never blocks past that, unlike C++ (D-16).
//! - [`Select`] / [`select_recv`] wait on several channels at once.
//! - [`Channel::send_async`] / [`Channel::recv_async`] are futures for any executor (no
//!   runtime dependency: a pending future is woken by the process's one reactor thread,
//!   shared with Future and Lazy, when the word it waits on or the channel's fingerprint
//!   changes; dropping a pending unbuffered send retracts its value).
//!
//! # Synchronization
//!
//! | store (Release)                        | load (Acquire)                     | publishes |
//! |----------------------------------------|------------------------------------|-----------|
//! | `closed = 1` in [`Channel::close`]     | `closed` in every send/recv        | values sent before the close (a receiver that sees `closed` pops once more before reporting `Disconnected`) |
//! | queue `seq` (see [`Queue`])            | queue `seq`                        | buffered elements |
//! | `ready = 1` / `consumed = 1` / lock    | see `raw::rendezvous`              | rendezvous values |
//!
//! Blocked calls sleep on shared futexes — buffered: the queue's `tail` (receivers) and
//! `head` (senders); unbuffered: the header's `receivers` and `senders` words — at most 1 ms
//! at a time, because C++ peers never wake anyone; [`Channel::close`] wakes all of them.
//! A wake that slips in between a waiter's check and its sleep costs that waiter at most
//! 1 ms, never a hang.
//!
//! # Process death
//!
//! - A **sender killed during a rendezvous** leaves the lock naming a dead pid: the next
//!   sender steals it (after waiting, bounded by the stall timeout, for a receiver that may
//!   still be copying the dead sender's value). A value the dead sender had published is
//!   delivered to the next receiver. Receivers never wait for a particular sender: they time
//!   out (`recv_timeout`) or are woken by `close`. Nobody hangs.
//! - A **receiver killed** between claiming a value and `consumed = 1` makes its sender wait
//!   for the stall timeout ([`Channel::with_stall_timeout`], default
//!   [`crate::DEFAULT_STALL_TIMEOUT`]), after which the
//!   send counts as done (the value died with the receiver).
//! - Buffered: as [`Queue`] (a peer killed mid-push/pop stalls that slot; reported as
//!   [`SendError::Stalled`] / [`RecvError::Stalled`] after the stall timeout).
//! - `senders` / `receivers` are advisory counts, inflated by dead peers (as upstream).
//! - Dead means gone: a sender killed but not yet reaped by its parent (a zombie), stopped
//!   (`SIGSTOP`), or in another pid namespace looks alive, so its lock is not taken over;
//!   other senders then wait until their deadline (`send_timeout` / `send_deadline`).
//!
//! # C++ peers
//!
//! C++ takes neither the sender lock nor the claim CAS. One C++ sender or one C++ receiver
//! alongside zeroipc peers interoperates (the byte transitions are C++'s). Two C++ senders,
//! or a C++ receiver racing zeroipc receivers, can lose or duplicate values, as among C++
//! peers alone (D-16). C++ senders do not look at `senders`, `receivers` or the lock.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{SegmentOptions, Segment, codata::{Channel, channel::RecvError}};
//! # let name = format!("/zeroipc-doc-chan-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let jobs: Channel<u32> = Channel::create(&seg, "jobs", 4)?;
//! let worker = {
//!     let jobs = Channel::<u32>::open(&Segment::open(&name)?, "jobs")?; // another process
//!     std::thread::spawn(move || jobs.iter().sum::<u32>())
//! };
//! for j in 1..=10 {
//!     jobs.send(j)?;
//! }
//! jobs.close();
//! assert_eq!(worker.join().unwrap(), 55);
//! assert_eq!(jobs.recv(), Err(RecvError::Disconnected));
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::channel::{CHANNEL_HEADER_LEN, ChannelHeader, slot_data_offset, slot_size};
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed};
use crate::loom::{AtomicU8, AtomicU32};
use crate::raw::cell::Slot;
use crate::raw::rendezvous::{Rendezvous, Retract};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::structures::Queue;
use crate::structures::queue::{TryPopError, TryPushError};
use crate::sync::composite;
use crate::wait::{Backoff, Parked, Patience, current_pid, park, pid_alive, wake_all};

/// How long an unbuffered `try_send` waits for a blocked receiver to take the value.
const TRY_SEND_PATIENCE: Duration = Duration::from_millis(5);
const SUFFIXES: [&str; 3] = ["_header", "_buffer", "_slot"];

mod asynchronous;
pub use asynchronous::{RecvFuture, SendFuture};

/// Declares a value-carrying send error: the enum, `into_inner`, a `Debug` that does not
/// need `T: Debug`, `Display` and `Error`.
macro_rules! send_error {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $msg:literal,)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name<T> {
            $($(#[$vm])* $v(T),)*
        }

        impl<T> $name<T> {
            /// The value that was not sent.
            pub fn into_inner(self) -> T {
                match self {
                    $(Self::$v(v) => v,)*
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Self::$v(_) => concat!(stringify!($v), "(..)"),)*
                })
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Self::$v(_) => $msg,)*
                })
            }
        }

        impl<T> std::error::Error for $name<T> {}
    };
}

/// Declares a receive error: the enum, `Display` and `Error`.
macro_rules! recv_error {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $msg:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Self::$v => $msg,)*
                })
            }
        }

        impl std::error::Error for $name {}
    };
}

send_error! {
    /// Why [`Channel::send`] (or [`Channel::send_async`]) did not deliver; the value is
    /// handed back.
    SendError {
        /// The channel is closed (found closed: expected open).
        Disconnected => "the channel is closed, expected it open",
        /// A peer process holds a queue slot and does not finish within the stall timeout
        /// (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

send_error! {
    /// Why [`Channel::try_send`] did not deliver; the value is handed back.
    TrySendError {
        /// No room (buffered), or no receiver took the value (unbuffered).
        Full => "the channel is full (or no receiver is waiting), expected room",
        /// The channel is closed.
        Disconnected => "the channel is closed, expected it open",
        /// A peer process holds a queue slot and does not finish (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

send_error! {
    /// Why [`Channel::send_timeout`] / [`Channel::send_deadline`] did not deliver; the value
    /// is handed back.
    SendTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out sending on the channel (no room or no receiver before the deadline)",
        /// The channel is closed.
        Disconnected => "the channel is closed, expected it open",
        /// A peer process holds a queue slot and does not finish (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

recv_error! {
    /// Why [`Channel::recv`] (or [`Channel::recv_async`], [`Select::wait`]) returned no
    /// value.
    RecvError {
        /// The channel is closed and everything sent before the close has been received.
        Disconnected => "the channel is closed and drained, expected a value",
        /// A peer process holds a queue slot and does not finish (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

recv_error! {
    /// Why [`Channel::try_recv`] (or [`Select::try_wait`]) returned no value.
    TryRecvError {
        /// Nothing to receive right now.
        Empty => "the channel is empty, expected a value",
        /// The channel is closed and everything sent before the close has been received.
        Disconnected => "the channel is closed and drained, expected a value",
        /// A peer process holds a queue slot and does not finish (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

recv_error! {
    /// Why [`Channel::recv_timeout`] / [`Channel::recv_deadline`] (or
    /// [`Select::wait_timeout`] / [`Select::wait_deadline`]) returned no value.
    RecvTimeoutError {
        /// The deadline passed first.
        Timeout => "timed out receiving from the channel, expected a value before the deadline",
        /// The channel is closed and everything sent before the close has been received.
        Disconnected => "the channel is closed and drained, expected a value",
        /// A peer process holds a queue slot and does not finish (dead peer, FORMAT.md D-7).
        Stalled => "a channel slot is held by a peer that does not finish within the stall timeout",
    }
}

/// A send with no deadline never times out.
fn untimed_send<T>(e: SendTimeoutError<T>) -> SendError<T> {
    match e {
        SendTimeoutError::Disconnected(v) => SendError::Disconnected(v),
        SendTimeoutError::Stalled(v) => SendError::Stalled(v),
        SendTimeoutError::Timeout(_) => unreachable!("a send without a deadline timed out"),
    }
}

/// A receive with no deadline never times out.
fn untimed_recv(e: RecvTimeoutError) -> RecvError {
    match e {
        RecvTimeoutError::Disconnected => RecvError::Disconnected,
        RecvTimeoutError::Stalled => RecvError::Stalled,
        RecvTimeoutError::Timeout => unreachable!("a receive without a deadline timed out"),
    }
}

impl From<RecvError> for TryRecvError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => Self::Disconnected,
            RecvError::Stalled => Self::Stalled,
        }
    }
}

impl From<RecvError> for RecvTimeoutError {
    fn from(e: RecvError) -> Self {
        match e {
            RecvError::Disconnected => Self::Disconnected,
            RecvError::Stalled => Self::Stalled,
        }
    }
}

/// A `try_recv` outcome inside a timed receive (`Empty` is handled by the caller).
fn timed(e: TryRecvError) -> RecvTimeoutError {
    match e {
        TryRecvError::Empty => RecvTimeoutError::Timeout,
        TryRecvError::Disconnected => RecvTimeoutError::Disconnected,
        TryRecvError::Stalled => RecvTimeoutError::Stalled,
    }
}

impl<T> From<SendError<T>> for TrySendError<T> {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Disconnected(v) => Self::Disconnected(v),
            SendError::Stalled(v) => Self::Stalled(v),
        }
    }
}

impl<T> From<SendError<T>> for SendTimeoutError<T> {
    fn from(e: SendError<T>) -> Self {
        match e {
            SendError::Disconnected(v) => Self::Disconnected(v),
            SendError::Stalled(v) => Self::Stalled(v),
        }
    }
}

#[derive(Clone)]
enum Kind<T: Element> {
    Buffered(Queue<T>),
    /// Offsets of `ready`, `consumed` and `data`.
    Rendezvous {
        slot: u64,
        data: u64,
    },
}

/// A channel of `T` in a segment. See the [module docs](self).
pub struct Channel<T: Element> {
    seg: Segment,
    header: Entry,
    kind: Kind<T>,
    stall: Duration,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Channel<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            header: self.header.clone(),
            kind: self.kind.clone(),
            stall: self.stall,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Channel<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channel")
            .field("header", self.header.name())
            .field("capacity", &self.capacity())
            .field("closed", &self.is_closed())
            .finish()
    }
}

/// A unique, non-zero id for one sender attempt: `pid << 32 | n`.
fn owner_id() -> u64 {
    static N: AtomicU32 = AtomicU32::new(0);
    // ORDERING: Relaxed — only uniqueness within this process matters.
    let n = N.fetch_add(1, Relaxed).max(1);
    u64::from(current_pid()) << 32 | u64::from(n)
}

impl<T: Element> Channel<T> {
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

    /// Creates a channel: `capacity == 0` makes an unbuffered (rendezvous) channel,
    /// anything else a buffered one of `capacity` rounded up to a power of two, at least 2.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if a name is taken (or only some of the entries exist:
    /// `Corrupt`), too long (base name over 24 bytes), the table is full or the segment out
    /// of space; [`StructureError::InvalidCapacity`] above 2^30.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<f64> = Channel::create(&seg, "temps", 5)?;
    /// assert_eq!(c.capacity(), 8);
    /// let r: Channel<f64> = Channel::create(&seg, "handoff", 0)?;
    /// assert_eq!(r.capacity(), 0);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let names = composite::names(name, &SUFFIXES)?;
        let present = |n: &String| seg.find(n).is_ok();
        if present(&names[0]) && (present(&names[1]) || present(&names[2])) {
            return Err(crate::error::TableError::AlreadyExists {
                name: name.to_owned(),
            }
            .into());
        }
        // Only some entries: reported as half-created (FORMAT.md D-26).
        composite::check_absent(seg, name, &[names[0].clone(), names[1].clone()])?;
        composite::check_absent(seg, name, &[names[0].clone(), names[2].clone()])?;
        let too_big = || StructureError::InvalidCapacity {
            requested: u64::try_from(capacity).unwrap_or(u64::MAX),
            reason: "a buffered channel holds at most 2^30 values",
        };
        let capacity = u32::try_from(capacity).map_err(|_| too_big())?;
        if capacity > crate::layout::queue::QUEUE_MAX_CAPACITY {
            return Err(too_big());
        }
        let cap = if capacity == 0 {
            0
        } else {
            capacity.checked_next_power_of_two().unwrap_or(0).max(2)
        };
        let header = seg.allocate(
            &names[0],
            CHANNEL_HEADER_LEN,
            |region, at| -> Result<(), StructureError> {
                let h: &ChannelHeader = region.header(at)?;
                // ORDERING: Relaxed — unpublished until the table's Release of `entry_count`.
                h.capacity.store(cap, Relaxed);
                Ok(())
            },
        )?;
        if cap > 0 {
            Queue::<T>::create(seg, &names[1], cap as usize)?;
        } else {
            let size = slot_size(size_of::<T>() as u64, align_of::<T>() as u64);
            // The allocator zeroes the entry: ready = consumed = 0, as C++ initialises.
            seg.allocate(&names[2], size, |_, _| -> Result<(), StructureError> {
                Ok(())
            })?;
        }
        let parts = if cap > 0 {
            [SUFFIXES[0], SUFFIXES[1]]
        } else {
            [SUFFIXES[0], SUFFIXES[2]]
        };
        seg.record(
            &Record::new(CatalogKind::Channel, name, &header)
                .elem::<T>()
                .parts(&parts),
        );
        Self::open(seg, name)
    }

    /// Opens the channel `name` (created by zeroipc or C++), validating every entry.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] `NotFound`; [`StructureError::Foreign`] for a Python
    /// channel (a Queue under `name` and a `name_sync` entry); [`StructureError::ElementSize`]
    /// if the slot or queue holds another element size; [`StructureError::InvalidCapacity`]
    /// for a C++ 1-slot channel (FORMAT.md D-5); [`StructureError::Corrupt`] for a header of
    /// the wrong size, a capacity that is not a power of two or disagrees with the queue.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, StructureError, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Channel::<u32>::create(&seg, "c", 0)?;
    /// assert!(Channel::<u32>::open(&seg, "c").is_ok());
    /// assert!(matches!(
    ///     Channel::<u64>::open(&seg, "c"),
    ///     Err(StructureError::ElementSize { .. })
    /// ));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let names = composite::names(name, &SUFFIXES)?;
        let header = match seg.find(&names[0]) {
            Ok(e) => e,
            Err(e) => {
                let sync = format!("{name}_sync");
                if seg.find(name).is_ok() && seg.find(&sync).is_ok() {
                    return Err(StructureError::Foreign {
                        entry: name.to_owned(),
                        format: "Python Channel",
                        detail: format!(
                            "a Queue under '{name}' and a 16-byte '{sync}', no '{}' \
                             (FORMAT.md IH-18)",
                            names[0]
                        ),
                    });
                }
                return Err(e.into());
            }
        };
        if header.size() != CHANNEL_HEADER_LEN {
            return Err(Corruption::field(
                &names[0],
                "entry size",
                header.size(),
                format!("{CHANNEL_HEADER_LEN} (the channel header)"),
            )
            .into());
        }
        let h: &ChannelHeader = seg.region().header(header.offset())?;
        // ORDERING: Relaxed — written once at creation, published by the table entry.
        let cap = h.capacity.load(Relaxed);
        let kind = if cap == 0 {
            let slot = composite::find_all(seg, name, &[names[0].clone(), names[2].clone()])?
                .swap_remove(1);
            let es = size_of::<T>() as u64;
            let want = slot_size(es, align_of::<T>() as u64);
            if slot.size() != want {
                return Err(StructureError::ElementSize {
                    entry: names[2].clone(),
                    stored: slot.size(),
                    expected: want,
                });
            }
            let data = slot.offset() + slot_data_offset(align_of::<T>() as u64);
            // Check once so the accessors cannot fail.
            seg.region().slice::<AtomicU8>(slot.offset(), 2)?;
            seg.region().slice::<Slot<T>>(data, 1)?;
            Kind::Rendezvous {
                slot: slot.offset(),
                data,
            }
        } else {
            if !cap.is_power_of_two() {
                return Err(Corruption::field(
                    &names[0],
                    "capacity",
                    u64::from(cap),
                    "0 (unbuffered) or a power of two",
                )
                .into());
            }
            // The queue's own record is not the channel's: the channel's is checked below, so
            // a mismatch names the channel, not its part.
            let q = Queue::<T>::open(&seg.unchecked(), &names[1])?;
            if q.capacity() != cap as usize {
                return Err(Corruption::field(
                    &names[0],
                    "capacity",
                    u64::from(cap),
                    format!("the capacity of '{}', {}", names[1], q.capacity()),
                )
                .into());
            }
            Kind::Buffered(q)
        };
        seg.check_catalog(&Record::new(CatalogKind::Channel, name, &header).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            header,
            kind,
            stall: crate::DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        })
    }

    fn hdr(&self) -> &ChannelHeader {
        self.seg
            .region()
            .header(self.header.offset())
            .expect("validated at open")
    }

    /// A fingerprint of every shared word a blocked send or receive waits on (the header's
    /// counters, lock word and flag; the queue's positions or the slot's flags). Async
    /// futures are re-polled only once it changes (see `asynchronous`).
    pub(crate) fn probe(&self) -> u64 {
        let h = self.hdr();
        let mix = |acc: u64, v: u64| acc.rotate_left(13) ^ v.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        // ORDERING: Relaxed — only compared with an earlier fingerprint; the operation the
        // woken future retries does its own synchronisation.
        let mut x = mix(0, u64::from(h.closed.load(Relaxed)));
        x = mix(x, u64::from(h.senders.load(Relaxed)));
        x = mix(x, u64::from(h.receivers.load(Relaxed)));
        x = mix(x, h.send_seq.load(Relaxed));
        x = mix(x, h.recv_seq.load(Relaxed));
        match &self.kind {
            Kind::Buffered(q) => {
                let (head, tail) = q.positions();
                mix(mix(x, u64::from(head)), u64::from(tail))
            }
            Kind::Rendezvous { slot, data } => {
                let r = self.rendezvous(*slot, *data);
                mix(
                    mix(x, u64::from(r.ready.load(Relaxed))),
                    u64::from(r.consumed.load(Relaxed)),
                )
            }
        }
    }

    fn rendezvous(&self, slot: u64, data: u64) -> Rendezvous<'_, T> {
        let r = self.seg.region();
        let flags = r.slice::<AtomicU8>(slot, 2).expect("validated at open");
        Rendezvous {
            hdr: self.hdr(),
            ready: &flags[0],
            consumed: &flags[1],
            data: &r.slice::<Slot<T>>(data, 1).expect("validated at open")[0],
        }
    }

    /// Sets how long an operation waits for a peer that holds a slot mid-operation before
    /// giving up on it (default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s; see the module docs,
    /// *Process death*).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c = Channel::<u8>::create(&seg, "c", 0)?.with_stall_timeout(Duration::from_millis(100));
    /// assert_eq!(c.stall_timeout(), Duration::from_millis(100));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        if let Kind::Buffered(q) = self.kind {
            self.kind = Kind::Buffered(q.with_stall_timeout(bound));
        }
        self
    }

    /// The stall timeout.
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// 0 for an unbuffered channel, otherwise the number of slots.
    #[must_use]
    pub fn capacity(&self) -> usize {
        match &self.kind {
            Kind::Buffered(q) => q.capacity(),
            Kind::Rendezvous { .. } => 0,
        }
    }

    /// Whether the channel is buffered (`capacity() > 0`); an unbuffered channel is a
    /// rendezvous.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::Channel};
    /// # let name = format!("/zeroipc-doc-chan-buffered-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// assert!(Channel::<u8>::create(&seg, "b", 4)?.is_buffered());
    /// assert!(!Channel::<u8>::create(&seg, "r", 0)?.is_buffered());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_buffered(&self) -> bool {
        matches!(self.kind, Kind::Buffered(_))
    }

    /// Values waiting in a buffered channel (a snapshot); for an unbuffered one, 1 while a
    /// sender has published a value no receiver took yet.
    #[must_use]
    pub fn len(&self) -> usize {
        match &self.kind {
            Kind::Buffered(q) => q.len(),
            Kind::Rendezvous { slot, data } => {
                // ORDERING: Relaxed — a snapshot.
                usize::from(self.rendezvous(*slot, *data).ready.load(Relaxed) != 0)
            }
        }
    }

    /// Whether [`Channel::len`] is 0.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `<name>_header` entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.header
    }

    /// The segment this channel lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Closes the channel: every blocked `send` and `recv` (in any process) wakes; later
    /// sends fail with [`SendError::Disconnected`]; receivers still get what was sent
    /// before. Returns `true` if this call closed it.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, SendError}};
    /// # let name = format!("/zeroipc-doc-chan-close-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u8> = Channel::create(&seg, "c", 2)?;
    /// c.send(1)?;
    /// assert!(c.close());
    /// assert!(!c.close());
    /// assert_eq!(c.send(2), Err(SendError::Disconnected(2)));
    /// assert_eq!(c.recv(), Ok(1));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) -> bool {
        let h = self.hdr();
        // ORDERING: AcqRel — Release pairs with the Acquire loads of `closed` in send/recv
        // (values sent before are visible to a receiver that sees the flag).
        let was = h.closed.swap(1, AcqRel);
        wake_all(&h.senders);
        wake_all(&h.receivers);
        if let Kind::Buffered(q) = &self.kind {
            q.wake_sleepers();
        }
        was == 0
    }

    /// Whether the channel is closed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        // ORDERING: Acquire pairs with the Release in `close`.
        self.hdr().closed.load(Acquire) != 0
    }

    /// Sends, waiting as long as it takes (for room, or for a receiver).
    ///
    /// # Errors
    ///
    /// [`SendError::Disconnected`] once closed; [`SendError::Stalled`] (buffered) if a dead
    /// peer holds the slot.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-send-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u64> = Channel::create(&seg, "c", 0)?;
    /// let rx = c.clone();
    /// let t = std::thread::spawn(move || rx.recv());
    /// c.send(42)?; // returns once the receiver has it
    /// assert_eq!(t.join().unwrap(), Ok(42));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        self.send_until(value, None).map_err(untimed_send)
    }

    /// [`Channel::send_deadline`] `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`Channel::send_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, SendTimeoutError}};
    /// # let name = format!("/zeroipc-doc-chan-send-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u8> = Channel::create(&seg, "c", 0)?;
    /// // Nobody receives: the value comes back.
    /// assert_eq!(
    ///     c.send_timeout(7, Duration::from_millis(10)),
    ///     Err(SendTimeoutError::Timeout(7))
    /// );
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_timeout(&self, value: T, timeout: Duration) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Instant::now().checked_add(timeout))
    }

    /// Sends, waiting at most until `deadline`.
    ///
    /// # Errors
    ///
    /// [`SendTimeoutError::Timeout`] with the value (an unbuffered send that a receiver had
    /// already claimed at the deadline succeeds instead); [`SendTimeoutError::Disconnected`];
    /// [`SendTimeoutError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-send-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u8> = Channel::create(&seg, "c", 2)?;
    /// c.send_deadline(1, Instant::now() + Duration::from_secs(1))?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send_deadline(&self, value: T, deadline: Instant) -> Result<(), SendTimeoutError<T>> {
        self.send_until(value, Some(deadline))
    }

    /// Sends without waiting for room or for a receiver.
    ///
    /// # Errors
    ///
    /// [`TrySendError::Full`] if the buffer is full, or (unbuffered) no receiver is blocked
    /// or none took the value within a few milliseconds; [`TrySendError::Disconnected`];
    /// [`TrySendError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, TrySendError}};
    /// # let name = format!("/zeroipc-doc-chan-try-send-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u8> = Channel::create(&seg, "c", 2)?;
    /// c.try_send(1)?;
    /// c.try_send(2)?;
    /// assert_eq!(c.try_send(3), Err(TrySendError::Full(3)));
    /// let r: Channel<u8> = Channel::create(&seg, "r", 0)?;
    /// assert_eq!(r.try_send(4), Err(TrySendError::Full(4))); // no receiver waiting
    /// c.close();
    /// assert_eq!(c.try_send(5), Err(TrySendError::Disconnected(5)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        if self.is_closed() {
            return Err(TrySendError::Disconnected(value));
        }
        match &self.kind {
            Kind::Buffered(q) => q.try_push(value).map_err(|e| match e {
                TryPushError::Stalled { value, .. } => TrySendError::Stalled(value),
                other => TrySendError::Full(other.into_inner()),
            }),
            Kind::Rendezvous { .. } => {
                // ORDERING: Relaxed — a hint; the rendezvous itself synchronises.
                if self.hdr().receivers.load(Relaxed) == 0 {
                    return Err(TrySendError::Full(value));
                }
                self.send_until(value, Instant::now().checked_add(TRY_SEND_PATIENCE))
                    .map_err(|e| match e {
                        SendTimeoutError::Timeout(v) => TrySendError::Full(v),
                        SendTimeoutError::Disconnected(v) => TrySendError::Disconnected(v),
                        SendTimeoutError::Stalled(v) => TrySendError::Stalled(v),
                    })
            }
        }
    }

    fn send_until(&self, value: T, deadline: Option<Instant>) -> Result<(), SendTimeoutError<T>> {
        if self.is_closed() {
            return Err(SendTimeoutError::Disconnected(value));
        }
        let h = self.hdr();
        // ORDERING: AcqRel, as C++ (a count of blocked senders; no data hangs on it).
        h.senders.fetch_add(1, AcqRel);
        let r = match &self.kind {
            Kind::Buffered(q) => self.send_buffered(q, value, deadline),
            Kind::Rendezvous { slot, data } => {
                self.send_rendezvous(self.rendezvous(*slot, *data), value, deadline)
            }
        };
        // ORDERING: AcqRel, as C++.
        h.senders.fetch_sub(1, AcqRel);
        r
    }

    fn send_buffered(
        &self,
        q: &Queue<T>,
        mut value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        // Sleep the queue's way (see `recv_until`), so the queue's own pops wake us.
        let mut sleeper = q.room_sleeper();
        loop {
            if self.is_closed() {
                return Err(SendTimeoutError::Disconnected(value));
            }
            match q.try_push(value) {
                Ok(()) => return Ok(()),
                Err(TryPushError::Stalled { value, .. }) => {
                    return Err(SendTimeoutError::Stalled(value));
                }
                Err(e) => value = e.into_inner(),
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return match q.try_push(value) {
                    Ok(()) => Ok(()),
                    Err(e) => Err(SendTimeoutError::Timeout(e.into_inner())),
                };
            }
            q.wait_for_room(&mut sleeper, deadline);
        }
    }

    fn send_rendezvous(
        &self,
        r: Rendezvous<'_, T>,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let h = self.hdr();
        let me = owner_id();
        // 1. The sender lock.
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.senders.load(Relaxed);
            if self.is_closed() {
                return Err(SendTimeoutError::Disconnected(value));
            }
            match r.try_lock(me) {
                Ok(()) => break,
                Err(owner) => {
                    #[allow(clippy::cast_possible_truncation)] // the high half is the pid
                    let pid = (owner >> 32) as u32;
                    if !pid_alive(pid) && r.steal(owner) {
                        // The dead owner may have published a value a receiver is copying.
                        self.wait_idle(&r);
                        continue;
                    }
                }
            }
            if park(&h.senders, seen, deadline) == Parked::TimedOut {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
        let result = self.send_locked(&r, value, deadline);
        r.unlock(me);
        wake_all(&h.senders);
        result
    }

    /// After stealing a dead owner's lock: wait (bounded by the stall timeout) until the
    /// slot is idle or still holds a published value (then step 2 waits for a receiver).
    fn wait_idle(&self, r: &Rendezvous<'_, T>) {
        let mut patience = Patience::new(self.stall);
        // ORDERING: Relaxed — a hint; `slot_free`/`publish` re-check.
        while !(r.slot_idle() || r.ready.load(Relaxed) != 0) && patience.keep_waiting() {}
    }

    fn send_locked(
        &self,
        r: &Rendezvous<'_, T>,
        value: T,
        deadline: Option<Instant>,
    ) -> Result<(), SendTimeoutError<T>> {
        let h = self.hdr();
        // 2. Wait for the slot to be free (a C++ receiver clears `ready` last; a dead
        // sender's published value waits for its receiver).
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.senders.load(Relaxed);
            if r.closed() {
                return Err(SendTimeoutError::Disconnected(value));
            }
            if r.slot_free() {
                break;
            }
            if park(&h.senders, seen, deadline) == Parked::TimedOut {
                return Err(SendTimeoutError::Timeout(value));
            }
        }
        // 3. Publish and wait for a receiver.
        r.publish(value);
        wake_all(&h.receivers);
        loop {
            // ORDERING: Relaxed — the futex compares it.
            let seen = h.senders.load(Relaxed);
            if r.consumed() {
                return Ok(());
            }
            let give_up = r.closed() || park(&h.senders, seen, deadline) == Parked::TimedOut;
            if give_up {
                return match r.retract() {
                    Retract::Retracted(v) if r.closed() => Err(SendTimeoutError::Disconnected(v)),
                    Retract::Retracted(v) => Err(SendTimeoutError::Timeout(v)),
                    Retract::Claimed => {
                        // A receiver has it: wait (bounded) until it finished copying.
                        let mut patience = Patience::new(self.stall);
                        while !r.consumed() && patience.keep_waiting() {}
                        Ok(())
                    }
                };
            }
        }
    }

    /// Receives, waiting as long as it takes.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] once closed and drained; [`RecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-recv-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<i32> = Channel::create(&seg, "c", 4)?;
    /// c.send(-3)?;
    /// assert_eq!(c.recv(), Ok(-3));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv(&self) -> Result<T, RecvError> {
        self.recv_until(None).map_err(untimed_recv)
    }

    /// [`Channel::recv_deadline`] `timeout` from now.
    ///
    /// # Errors
    ///
    /// As [`Channel::recv_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, RecvTimeoutError}};
    /// # let name = format!("/zeroipc-doc-chan-recv-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<i32> = Channel::create(&seg, "c", 0)?;
    /// assert_eq!(c.recv_timeout(Duration::from_millis(5)), Err(RecvTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, RecvTimeoutError> {
        self.recv_until(Instant::now().checked_add(timeout))
    }

    /// Receives, waiting at most until `deadline`.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`]; [`RecvTimeoutError::Disconnected`] once closed and
    /// drained; [`RecvTimeoutError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, RecvTimeoutError}};
    /// # let name = format!("/zeroipc-doc-chan-recv-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<i32> = Channel::create(&seg, "c", 2)?;
    /// c.close();
    /// let r = c.recv_deadline(Instant::now() + Duration::from_secs(1));
    /// assert_eq!(r, Err(RecvTimeoutError::Disconnected));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recv_deadline(&self, deadline: Instant) -> Result<T, RecvTimeoutError> {
        self.recv_until(Some(deadline))
    }

    /// Receives without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], or [`TryRecvError::Disconnected`] if also closed;
    /// [`TryRecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, TryRecvError}};
    /// # let name = format!("/zeroipc-doc-chan-try-recv-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<i32> = Channel::create(&seg, "c", 2)?;
    /// assert_eq!(c.try_recv(), Err(TryRecvError::Empty));
    /// c.close();
    /// assert_eq!(c.try_recv(), Err(TryRecvError::Disconnected));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_recv(&self) -> Result<T, TryRecvError> {
        match self.poll_recv() {
            Err(TryRecvError::Empty) if self.is_closed() => match self.poll_recv() {
                // A value sent before the close is visible now (Acquire of `closed`).
                Err(TryRecvError::Empty) => Err(TryRecvError::Disconnected),
                other => other,
            },
            other => other,
        }
    }

    fn poll_recv(&self) -> Result<T, TryRecvError> {
        match &self.kind {
            Kind::Buffered(q) => q.try_pop().map_err(|e| match e {
                TryPopError::Empty => TryRecvError::Empty,
                _ => TryRecvError::Stalled,
            }),
            Kind::Rendezvous { slot, data } => {
                let r = self.rendezvous(*slot, *data);
                match r.try_claim() {
                    Some(v) => {
                        wake_all(&self.hdr().senders);
                        Ok(v)
                    }
                    None => Err(TryRecvError::Empty),
                }
            }
        }
    }

    fn recv_until(&self, deadline: Option<Instant>) -> Result<T, RecvTimeoutError> {
        let h = self.hdr();
        // ORDERING: AcqRel, as C++ (C++ `try_send` reads it to see a waiting receiver).
        h.receivers.fetch_add(1, AcqRel);
        let r = match &self.kind {
            // Buffered: sleep the queue's way (registered in the waiter registry, on the
            // `seq` word of the slot at `head`), so the queue's own pushes wake us.
            Kind::Buffered(q) => {
                let mut sleeper = q.data_sleeper();
                loop {
                    match self.try_recv() {
                        Err(TryRecvError::Empty) => {}
                        other => break other.map_err(timed),
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break match self.try_recv() {
                            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                            other => other.map_err(timed),
                        };
                    }
                    q.wait_for_data(&mut sleeper, deadline);
                }
            }
            Kind::Rendezvous { .. } => {
                let word = &h.receivers;
                loop {
                    // ORDERING: Relaxed — the futex compares it.
                    let seen = word.load(Relaxed);
                    match self.try_recv() {
                        Err(TryRecvError::Empty) => {}
                        other => break other.map_err(timed),
                    }
                    if park(word, seen, deadline) == Parked::TimedOut {
                        break match self.try_recv() {
                            Err(TryRecvError::Empty) => Err(RecvTimeoutError::Timeout),
                            other => other.map_err(timed),
                        };
                    }
                }
            }
        };
        // ORDERING: AcqRel, as C++.
        h.receivers.fetch_sub(1, AcqRel);
        r
    }

    /// A blocking iterator: [`Channel::recv`] until the channel is closed and drained (or a
    /// peer stalls it).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::Channel};
    /// # let name = format!("/zeroipc-doc-chan-iter-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let c: Channel<u16> = Channel::create(&seg, "c", 4)?;
    /// c.send(1)?;
    /// c.send(2)?;
    /// c.close();
    /// let mut sum = 0;
    /// for v in &c {
    ///     sum += v;
    /// }
    /// assert_eq!(sum, 3);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { chan: self }
    }
}

/// Blocking iterator over a [`Channel`]; see [`Channel::iter`].
#[derive(Debug)]
pub struct Iter<'a, T: Element> {
    chan: &'a Channel<T>,
}

impl<T: Element> Iterator for Iter<'_, T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.chan.recv().ok()
    }
}

impl<'a, T: Element> IntoIterator for &'a Channel<T> {
    type Item = T;
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Iter<'a, T> {
        self.iter()
    }
}

type Arm<'a, R> = Box<dyn FnMut() -> Result<R, TryRecvError> + 'a>;

/// Waits on several channels (of any element types) at once, in the spirit of crossbeam's
/// `select!`: each [`Select::recv`] arm maps its channel's value to a common result type.
///
/// Arms are polled in order, so an earlier ready arm wins; between rounds the caller backs
/// off (spins, yields, then sleeps up to 1 ms: several futex words cannot be waited on at
/// once). The result is `Err(Disconnected)` once **every** channel is closed and drained.
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, Select}};
/// # let name = format!("/zeroipc-doc-chan-select-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// #[derive(Debug, PartialEq)]
/// enum Msg { Temp(f64), Alarm(u8) }
/// let temps: Channel<f64> = Channel::create(&seg, "temps", 4)?;
/// let alarms: Channel<u8> = Channel::create(&seg, "alarms", 4)?;
/// alarms.send(3)?;
/// let got = Select::new()
///     .recv(&temps, Msg::Temp)
///     .recv(&alarms, Msg::Alarm)
///     .wait_timeout(Duration::from_secs(1))?;
/// assert_eq!(got, (1, Msg::Alarm(3)));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Select<'a, R> {
    arms: Vec<Arm<'a, R>>,
}

impl<R> fmt::Debug for Select<'_, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Select")
            .field("arms", &self.arms.len())
            .finish()
    }
}

impl<R> Default for Select<'_, R> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a, R> Select<'a, R> {
    /// An empty selection.
    #[must_use]
    pub fn new() -> Self {
        Self { arms: Vec::new() }
    }

    /// Adds an arm: receive from `chan`, map the value with `f`.
    #[must_use]
    pub fn recv<T: Element>(mut self, chan: &'a Channel<T>, f: impl Fn(T) -> R + 'a) -> Self {
        self.arms.push(Box::new(move || chan.try_recv().map(&f)));
        self
    }

    /// One round over the arms: `(index, result)` of the first ready one.
    fn poll(&mut self) -> Result<(usize, R), TryRecvError> {
        let mut all_closed = true;
        for (i, arm) in self.arms.iter_mut().enumerate() {
            match arm() {
                Ok(r) => return Ok((i, r)),
                Err(TryRecvError::Disconnected) => {}
                Err(TryRecvError::Stalled) => return Err(TryRecvError::Stalled),
                Err(TryRecvError::Empty) => all_closed = false,
            }
        }
        Err(if all_closed {
            TryRecvError::Disconnected
        } else {
            TryRecvError::Empty
        })
    }

    /// Returns the first arm that has a value, without waiting.
    ///
    /// # Errors
    ///
    /// [`TryRecvError::Empty`], [`TryRecvError::Disconnected`] (all closed and drained),
    /// [`TryRecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, Select, TryRecvError}};
    /// # let name = format!("/zeroipc-doc-chan-select-try-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Channel<u8> = Channel::create(&seg, "a", 2)?;
    /// let r = Select::new().recv(&a, |v| v).try_wait();
    /// assert_eq!(r, Err(TryRecvError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_wait(mut self) -> Result<(usize, R), TryRecvError> {
        self.poll()
    }

    /// Waits up to `timeout` for one arm to have a value: `(arm index, mapped value)`.
    ///
    /// # Errors
    ///
    /// As [`Select::wait_deadline`].
    pub fn wait_timeout(self, timeout: Duration) -> Result<(usize, R), RecvTimeoutError> {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    /// Waits until `deadline` at most for one arm to have a value.
    ///
    /// # Errors
    ///
    /// [`RecvTimeoutError::Timeout`], [`RecvTimeoutError::Disconnected`] (all closed and
    /// drained), [`RecvTimeoutError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, Select, RecvTimeoutError}};
    /// # let name = format!("/zeroipc-doc-chan-select-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Channel<u8> = Channel::create(&seg, "a", 2)?;
    /// let r = Select::new().recv(&a, |v| v).wait_deadline(Instant::now());
    /// assert_eq!(r, Err(RecvTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_deadline(self, deadline: Instant) -> Result<(usize, R), RecvTimeoutError> {
        self.wait_until(Some(deadline))
    }

    /// Waits as long as it takes.
    ///
    /// # Errors
    ///
    /// [`RecvError::Disconnected`] (all closed and drained), [`RecvError::Stalled`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, Select, RecvError}};
    /// # let name = format!("/zeroipc-doc-chan-select-wait-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a: Channel<u8> = Channel::create(&seg, "a", 2)?;
    /// let b: Channel<u8> = Channel::create(&seg, "b", 2)?;
    /// a.close();
    /// b.close();
    /// assert_eq!(Select::new().recv(&a, |v| v).recv(&b, |v| v).wait(), Err(RecvError::Disconnected));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(self) -> Result<(usize, R), RecvError> {
        self.wait_until(None).map_err(untimed_recv)
    }

    fn wait_until(mut self, deadline: Option<Instant>) -> Result<(usize, R), RecvTimeoutError> {
        let mut backoff = Backoff::new();
        let mut nap = Duration::from_micros(10);
        loop {
            match self.poll() {
                Err(TryRecvError::Empty) => {}
                other => return other.map_err(timed),
            }
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Err(RecvTimeoutError::Timeout);
            }
            if !backoff.is_exhausted() {
                backoff.snooze();
            } else {
                let left = deadline.map_or(nap, |d| d - now);
                std::thread::sleep(nap.min(left));
                nap = (nap * 2).min(Duration::from_millis(1));
            }
        }
    }
}

/// [`Select`] over channels of one type: `(index in chans, value)`, waiting up to `timeout`.
///
/// # Errors
///
/// As [`Select::wait_timeout`].
///
/// # Examples
///
/// ```
/// # use std::time::Duration;
/// # use zeroipc::{SegmentOptions, Segment, codata::channel::{Channel, select_recv}};
/// # let name = format!("/zeroipc-doc-chan-select-recv-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let a: Channel<u32> = Channel::create(&seg, "a", 2)?;
/// let b: Channel<u32> = Channel::create(&seg, "b", 2)?;
/// b.send(9)?;
/// assert_eq!(select_recv(&[&a, &b], Duration::from_secs(1)), Ok((1, 9)));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn select_recv<T: Element>(
    chans: &[&Channel<T>],
    timeout: Duration,
) -> Result<(usize, T), RecvTimeoutError> {
    chans
        .iter()
        .fold(Select::new(), |s, c| s.recv(c, |v| v))
        .wait_timeout(timeout)
}

//! Stack: a bounded LIFO shared by any number of processes, byte-compatible with the C++,
//! C, Go and Python stacks.
//!
//! # Layout (FORMAT.md §5.3)
//!
//! | off                    | size          | field                                          |
//! |------------------------|---------------|------------------------------------------------|
//! | 0                      | 4             | `top` i32: index of the top element, −1 empty  |
//! | 4                      | 4             | `capacity` u32 (not rounded)                   |
//! | 8                      | 4             | `elem_size` u32                                |
//! | 12                     | 4             | `reserved` u32 (0)                             |
//! | 16                     | cap × es      | slots; element *i* lives in slot *i*           |
//! | `16 + align8(cap*es)`  | 4 × cap       | `state[k]`: EMPTY 0, WRITING 1, READY 2, READING 3 |
//!
//! Entry size: exactly `16 + align8(cap*es) + 4*cap`.
//!
//! # Synchronization
//!
//! `top` reserves an index (AcqRel CAS); the slot's state word hands its bytes over:
//!
//! | store (Release)          | load (Acquire)                    | publishes            |
//! |--------------------------|-----------------------------------|----------------------|
//! | `READY` after a push     | CAS `READY → READING` (pop, peek) | the element          |
//! | `EMPTY` after a pop      | CAS `EMPTY → WRITING` (push)      | the slot is free     |
//!
//! A pop that reserved index *i* may have to wait for the push that reserved *i* just
//! before it to finish copying in (and vice versa). Those waits are bounded in **time**
//! (the stall timeout, [`Stack::with_stall_timeout`], default 1 s), not in iterations as
//! upstream (FORMAT.md D-8). Giving up is `Stalled` ([`PopError::Stalled`],
//! [`PushError::Stalled`], ...), never "empty" or "full".
//!
//! # Blocking
//!
//! Every operation has four forms (docs/API_CONVENTIONS.md): [`Stack::push`] blocks while the
//! stack is full, [`Stack::try_push`] never blocks, [`Stack::push_timeout`] and
//! [`Stack::push_deadline`] block at most that long; likewise [`Stack::pop`] while it is
//! empty, [`Stack::try_pop`], [`Stack::pop_timeout`], [`Stack::pop_deadline`]. Each form has
//! its own error type in this module with only the variants it can return.
//! [`Stack::peek`] never blocks.
//!
//! The layout has no waiter word, so a blocked caller registers in the segment's waiter
//! registry (`segment::waiters`, as Queue's sleepers do) and sleeps on the `top` word with a
//! shared futex, at most 1 ms at a time (upstream peers never wake anyone). A zeroipc push or
//! pop that changed `top` issues `FUTEX_WAKE` only when a sleeper is registered for that
//! side; otherwise its extra cost is one load of the registry counter.
//!
//! # Process death
//!
//! A process killed while it owns a slot (WRITING or READING) leaves that slot stuck: every
//! later operation reaching it reports a stall after the stall timeout. When giving up,
//! the operation moves `top` back; if another process moved `top` meanwhile that is
//! impossible and the stall reports `orphaned: true`: the slot stays reserved below `top`
//! (as upstream). The stack cannot be repaired in place.
//!
//! A corrupt `top` (outside `[-1, capacity - 1]`) is reported as
//! [`Corruption::Field`] by every operation; it never indexes memory.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, structures::Stack};
//! # let name = format!("/zeroipc-doc-stack-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let undo: Stack<u32> = Stack::create(&seg, "undo", 16)?;
//! undo.push(1)?;
//! undo.push(2)?;
//!
//! // Another process:
//! let peer = Segment::open(&name)?;
//! let undo: Stack<u32> = Stack::open(&peer, "undo")?;
//! assert_eq!(undo.pop()?, 2);
//! assert_eq!(undo.len(), 1);
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
use crate::layout::stack::{
    STACK_HEADER_LEN, STACK_MAX_CAPACITY, StackHeader, stack_size, stack_state_offset,
};
use crate::loom::AtomicU32;
use crate::loom::Ordering::Relaxed;
use crate::raw::cell::Slot;
use crate::raw::stack::{PopFail, PushFail, StackView};
use crate::segment::{CatalogKind, Record};
use crate::segment::{Entry, Segment};
use crate::wait::{Backoff, Patience, Side, Sleeper, deadline_after, wake_sleepers};

/// The message of a stall at slot `index`.
fn stalled(f: &mut fmt::Formatter<'_>, index: usize, orphaned: bool) -> fmt::Result {
    write!(
        f,
        "stack slot {index} stayed owned by another process (dead or stuck peer); expected it \
         to be released within the stall timeout{}",
        if orphaned {
            "; the slot stays reserved"
        } else {
            ""
        }
    )
}

/// Generates one value-carrying push error type of the stack.
macro_rules! push_error {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $var:ident: $msg:literal),* }
    ) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name<T> {
            $($(#[$vdoc])* $var(T),)*
            /// The reserved slot at `index` stayed owned by another process (a peer that died
            /// mid-operation) for the stall timeout.
            Stalled {
                /// The value.
                value: T,
                /// The slot index.
                index: usize,
                /// `true` if `top` could not be moved back (FORMAT.md D-8): the slot stays
                /// reserved.
                orphaned: bool,
            },
            /// The stack's bytes are corrupt (`top` out of range).
            Corrupt {
                /// The value.
                value: T,
                /// What is wrong.
                corruption: Corruption,
            },
        }

        impl<T> $name<T> {
            /// The value that was not pushed.
            ///
            /// # Examples
            ///
            /// ```
            #[doc = concat!("# use zeroipc::structures::stack::", stringify!($name), ";")]
            #[doc = concat!("let e = ", stringify!($name), "::Stalled { value: 7, index: 1, orphaned: false };")]
            /// assert_eq!(e.into_inner(), 7);
            /// ```
            pub fn into_inner(self) -> T {
                match self {
                    $(Self::$var(value) |)* Self::Stalled { value, .. }
                    | Self::Corrupt { value, .. } => value,
                }
            }
        }

        impl<T> fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$var(_) => f.write_str(concat!(stringify!($var), "(..)")),)*
                    Self::Stalled { index, orphaned, .. } => {
                        write!(f, "Stalled {{ index: {index}, orphaned: {orphaned}, .. }}")
                    }
                    Self::Corrupt { corruption, .. } => write!(f, "Corrupt({corruption:?})"),
                }
            }
        }

        impl<T> fmt::Display for $name<T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$var(_) => f.write_str($msg),)*
                    Self::Stalled { index, orphaned, .. } => stalled(f, *index, *orphaned),
                    Self::Corrupt { corruption, .. } => write!(f, "corrupt stack: {corruption}"),
                }
            }
        }

        impl<T> std::error::Error for $name<T> {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    Self::Corrupt { corruption, .. } => Some(corruption),
                    _ => None,
                }
            }
        }

        impl<T> From<PushError<T>> for $name<T> {
            fn from(e: PushError<T>) -> Self {
                match e {
                    PushError::Stalled { value, index, orphaned } => {
                        Self::Stalled { value, index, orphaned }
                    }
                    PushError::Corrupt { value, corruption } => Self::Corrupt { value, corruption },
                }
            }
        }
    };
}

/// Generates one pop error type of the stack.
macro_rules! pop_error {
    (
        $(#[$doc:meta])*
        $name:ident { $($(#[$vdoc:meta])* $var:ident: $msg:literal),* }
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* $var,)*
            /// The slot at `index` stayed owned by another process (a peer that died
            /// mid-operation) for the stall timeout.
            Stalled {
                /// The slot index.
                index: usize,
                /// `true` if `top` could not be moved back (FORMAT.md D-8).
                orphaned: bool,
            },
            /// The stack's bytes are corrupt (`top` out of range).
            Corrupt(Corruption),
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $(Self::$var => f.write_str($msg),)*
                    Self::Stalled { index, orphaned } => stalled(f, *index, *orphaned),
                    Self::Corrupt(c) => write!(f, "corrupt stack: {c}"),
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

/// Why [`Stack::push`] did not push; the value is handed back.
///
/// ```
/// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PushError}};
/// # let name = format!("/zeroipc-doc-stack-push-error-{}", std::process::id());
/// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let s: Stack<u8> = Stack::create(&seg, "s", 2)?;
/// if let Err(PushError::Stalled { value, index, .. }) = s.push(1) {
///     eprintln!("{value} not pushed: slot {index} is stuck");
/// }
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PushError<T> {
    /// The reserved slot at `index` stayed owned by another process (a peer that died
    /// mid-operation) for the stall timeout.
    Stalled {
        /// The value.
        value: T,
        /// The slot index.
        index: usize,
        /// `true` if `top` could not be moved back (FORMAT.md D-8): the slot stays reserved.
        orphaned: bool,
    },
    /// The stack's bytes are corrupt (`top` out of range).
    Corrupt {
        /// The value.
        value: T,
        /// What is wrong.
        corruption: Corruption,
    },
}

impl<T> PushError<T> {
    /// The value that was not pushed.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::structures::stack::PushError;
    /// let e = PushError::Stalled { value: 7, index: 1, orphaned: false };
    /// assert_eq!(e.into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            Self::Stalled { value, .. } | Self::Corrupt { value, .. } => value,
        }
    }
}

impl<T> fmt::Debug for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled {
                index, orphaned, ..
            } => write!(f, "Stalled {{ index: {index}, orphaned: {orphaned}, .. }}"),
            Self::Corrupt { corruption, .. } => write!(f, "Corrupt({corruption:?})"),
        }
    }
}

impl<T> fmt::Display for PushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled {
                index, orphaned, ..
            } => stalled(f, *index, *orphaned),
            Self::Corrupt { corruption, .. } => write!(f, "corrupt stack: {corruption}"),
        }
    }
}

impl<T> std::error::Error for PushError<T> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt { corruption, .. } => Some(corruption),
            Self::Stalled { .. } => None,
        }
    }
}

push_error! {
    /// Why [`Stack::try_push`] did not push; the value is handed back.
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::TryPushError}};
    /// # let name = format!("/zeroipc-doc-stack-try-push-error-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 1)?;
    /// s.try_push(1)?;
    /// assert_eq!(s.try_push(2), Err(TryPushError::Full(2)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    TryPushError {
        /// `top == capacity - 1`: every slot is taken.
        Full: "the stack is full; expected a free slot"
    }
}

push_error! {
    /// Why [`Stack::push_timeout`] or [`Stack::push_deadline`] did not push; the value is
    /// handed back.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PushTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stack-push-timeout-error-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 1)?;
    /// s.push(1)?;
    /// let err = s.push_timeout(2, Duration::from_millis(1)).unwrap_err();
    /// assert_eq!(err, PushTimeoutError::Timeout(2));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    PushTimeoutError {
        /// The deadline passed while the stack stayed full.
        Timeout: "timed out: the stack stayed full; expected a free slot in time"
    }
}

pop_error! {
    /// Why [`Stack::pop`] or [`Stack::peek`] failed.
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PopError}};
    /// # let name = format!("/zeroipc-doc-stack-pop-error-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 2)?;
    /// s.push(3)?;
    /// match s.pop() {
    ///     Ok(v) => assert_eq!(v, 3),
    ///     Err(PopError::Stalled { index, .. }) => eprintln!("slot {index} is stuck"),
    ///     Err(e) => return Err(e.into()),
    /// }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    PopError {}
}

pop_error! {
    /// Why [`Stack::try_pop`] failed.
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::TryPopError}};
    /// # let name = format!("/zeroipc-doc-stack-try-pop-error-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 2)?;
    /// assert_eq!(s.try_pop(), Err(TryPopError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    TryPopError {
        /// `top == -1`: nothing to pop.
        Empty: "the stack is empty; expected an element"
    }
}

pop_error! {
    /// Why [`Stack::pop_timeout`] or [`Stack::pop_deadline`] failed.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PopTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stack-pop-timeout-error-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 2)?;
    /// assert_eq!(s.pop_timeout(Duration::from_millis(1)), Err(PopTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    PopTimeoutError {
        /// The deadline passed while the stack stayed empty.
        Timeout: "timed out: the stack stayed empty; expected an element in time"
    }
}

impl From<PopError> for TryPopError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Stalled { index, orphaned } => Self::Stalled { index, orphaned },
            PopError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

impl From<PopError> for PopTimeoutError {
    fn from(e: PopError) -> Self {
        match e {
            PopError::Stalled { index, orphaned } => Self::Stalled { index, orphaned },
            PopError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

/// How a push with an optional deadline ended without pushing.
enum PushEnd<T> {
    Full(T),
    Failed(PushError<T>),
}

/// How a pop with an optional deadline ended without an element.
enum PopEnd {
    Empty,
    Failed(PopError),
}

/// Geometry of a stack, read once from the segment and checked.
#[derive(Clone, Copy, Debug)]
struct StackLayout {
    header: u64,
    data: u64,
    state: u64,
    cap: u32,
}

/// A bounded LIFO of `T` in a segment. See the [module docs](self).
pub struct Stack<T: Element> {
    seg: Segment,
    entry: Entry,
    layout: StackLayout,
    stall: Duration,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Stack<T> {
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

impl<T: Element> fmt::Debug for Stack<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stack")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .field("capacity", &self.layout.cap)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

impl<T: Element> Stack<T> {
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

    /// Creates an empty stack named `name` with room for exactly `capacity` elements.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for 0 or more than `i32::MAX` (`top` is an i32);
    /// [`StructureError::Table`] if the name is taken, the table is full or the segment is
    /// out of space.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-create-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<f64> = Stack::create(&seg, "s", 5)?;
    /// assert_eq!(s.capacity(), 5);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str, capacity: usize) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let requested = u64::try_from(capacity).unwrap_or(u64::MAX);
        let capacity = match u32::try_from(capacity) {
            Ok(c) if c != 0 && c <= STACK_MAX_CAPACITY => c,
            _ => {
                return Err(StructureError::InvalidCapacity {
                    requested,
                    reason: "a stack needs between 1 and i32::MAX slots",
                });
            }
        };
        let es = size_of::<T>() as u64;
        let size = stack_size(u64::from(capacity), es).ok_or(StructureError::InvalidCapacity {
            requested,
            reason: "the stack's size overflows",
        })?;
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let h: &StackHeader = region.header(at)?;
            // ORDERING: Relaxed — published by the Release store of `entry_count`. The state
            // words are already EMPTY (0): `allocate` zeroed the range.
            h.top.store(-1, Relaxed);
            h.capacity.store(capacity, Relaxed);
            h.elem_size
                .store(u32::try_from(es).unwrap_or(u32::MAX), Relaxed);
            h.reserved.store(0, Relaxed);
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Stack, name, &entry).elem::<T>());
        // Blocked pushers and poppers register in the waiter registry, as a Queue's do: it
        // comes with the structure, never with an operation (the segment may be foreign).
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

    /// Opens the stack named `name`, validating its header against `T`, the entry and the
    /// mapping.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`, ...); [`StructureError::ElementSize`] if it
    /// holds elements of another size; [`StructureError::Corrupt`] for a capacity of 0 or
    /// above `i32::MAX`, a size that disagrees with the entry, or `top` out of range.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-open-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Stack::<u16>::create(&seg, "s", 3)?.push(7)?;
    /// let s: Stack<u16> = Stack::open(&seg, "s")?;
    /// assert_eq!(s.peek()?, Some(7));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let layout = Self::validate(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Stack, name, &entry).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            layout,
            stall: DEFAULT_STALL_TIMEOUT,
            _t: PhantomData,
        })
    }

    fn validate(seg: &Segment, entry: &Entry) -> Result<StackLayout, StructureError> {
        let es = size_of::<T>() as u64;
        let name = || entry.name().to_string();
        if entry.size() < STACK_HEADER_LEN {
            return Err(Corruption::field(
                name(),
                "entry size",
                entry.size(),
                format!("at least {STACK_HEADER_LEN} (the stack header)"),
            )
            .into());
        }
        let at = entry.offset();
        let h: &StackHeader = seg.region().header(at)?;
        // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`.
        let cap = h.capacity.load(Relaxed);
        let stored_es = h.elem_size.load(Relaxed);
        let top = h.top.load(Relaxed);
        if u64::from(stored_es) != es {
            return Err(StructureError::ElementSize {
                entry: name(),
                stored: u64::from(stored_es),
                expected: es,
            });
        }
        if cap == 0 || cap > STACK_MAX_CAPACITY {
            return Err(Corruption::field(
                name(),
                "capacity",
                u64::from(cap),
                "between 1 and i32::MAX",
            )
            .into());
        }
        if stack_size(u64::from(cap), es) != Some(entry.size()) {
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
        if top < -1 || i64::from(top) >= i64::from(cap) {
            return Err(top_corruption(&name(), top, cap).into());
        }
        let state_rel = stack_state_offset(u64::from(cap), es).unwrap_or(entry.size());
        let layout = StackLayout {
            header: at,
            data: at + STACK_HEADER_LEN,
            state: at + state_rel,
            cap,
        };
        seg.region().slice::<Slot<T>>(layout.data, u64::from(cap))?;
        seg.region()
            .slice::<AtomicU32>(layout.state, u64::from(cap))?;
        // The `top` word as a futex word (`top_word`).
        seg.region().slice::<AtomicU32>(layout.header, 1)?;
        Ok(layout)
    }

    fn view(&self) -> StackView<'_, T> {
        let r = self.seg.region();
        let n = u64::from(self.layout.cap);
        // Checked in `validate` against the same, immutable mapping: cannot fail.
        let hdr = r
            .header::<StackHeader>(self.layout.header)
            .expect("validated at open");
        let slots = r
            .slice::<Slot<T>>(self.layout.data, n)
            .expect("validated at open");
        let state = r
            .slice::<AtomicU32>(self.layout.state, n)
            .expect("validated at open");
        StackView::new(hdr, slots, state).expect("validated at open")
    }

    fn corrupt_top(&self, top: i32) -> Corruption {
        top_corruption(&self.entry.name().to_string(), top, self.layout.cap)
    }

    /// Sets how long an operation waits for a slot owned by another process before it
    /// reports `Stalled` (default [`crate::DEFAULT_STALL_TIMEOUT`], 1 s).
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-stall-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s = Stack::<u8>::create(&seg, "s", 4)?.with_stall_timeout(Duration::from_millis(20));
    /// assert_eq!(s.stall_timeout(), Duration::from_millis(20));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn with_stall_timeout(mut self, bound: Duration) -> Self {
        self.stall = bound;
        self
    }

    /// The stall timeout (see [`Stack::with_stall_timeout`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-stall-get-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s = Stack::<u8>::create(&seg, "s", 4)?;
    /// assert_eq!(s.stall_timeout(), zeroipc::DEFAULT_STALL_TIMEOUT);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// Number of slots.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-capacity-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 5)?;
    /// assert_eq!(s.capacity(), 5);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.layout.cap as usize
    }

    /// Elements on the stack: `top + 1`, a snapshot. `top` is written by peers: a value
    /// out of range is clamped to `[0, capacity]` here (operations report it as
    /// [`Corruption`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-len-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 5)?;
    /// s.push(1)?;
    /// assert_eq!(s.len(), 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn len(&self) -> usize {
        self.view().len() as usize
    }

    /// Whether [`Stack::len`] is 0 (a snapshot).
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-is-empty-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 5)?;
    /// assert!(s.is_empty());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table entry this stack lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-entry-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "undo", 5)?;
    /// assert_eq!(s.entry().name(), "undo");
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this stack lives in.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-segment-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "undo", 5)?;
    /// assert!(s.segment().find("undo").is_ok());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The `top` word seen as a futex word (the sleepers' word; see [`Stack::pop`]).
    fn top_word(&self) -> &AtomicU32 {
        // `validate` checked this 4-byte word (the i32 `top` at offset 0 of the header),
        // against the same immutable mapping: cannot fail. Both views are atomics of the
        // same size on the same address.
        &self
            .seg
            .region()
            .slice::<AtomicU32>(self.layout.header, 1)
            .expect("validated at open")[0]
    }

    /// One push attempt (waiting only for a peer mid-operation, bounded by the stall
    /// timeout); wakes sleeping poppers on success.
    fn push_once(&self, value: T) -> Result<(), PushEnd<T>> {
        let mut patience = Patience::new(self.stall);
        match self.view().push(value, &mut || patience.keep_waiting()) {
            Ok(()) => {
                // The `top` CAS in `push` is the change the sleepers re-check.
                wake_sleepers(&self.seg, &self.entry, Side::Data, self.top_word());
                Ok(())
            }
            Err(PushFail::Full(v)) => Err(PushEnd::Full(v)),
            Err(PushFail::Stalled {
                value,
                index,
                orphaned,
            }) => Err(PushEnd::Failed(PushError::Stalled {
                value,
                index: index as usize,
                orphaned,
            })),
            Err(PushFail::CorruptTop { value, top }) => Err(PushEnd::Failed(PushError::Corrupt {
                value,
                corruption: self.corrupt_top(top),
            })),
        }
    }

    /// Pushes, sleeping while the stack is full, until `deadline` (if any); `PushEnd::Full`
    /// means the deadline passed.
    fn push_until(&self, value: T, deadline: Option<Instant>) -> Result<(), PushEnd<T>> {
        let mut sleeper = Sleeper::new(&self.seg, &self.entry, Side::Room);
        // `top` of a full stack, as the futex word holds it.
        let full = self.layout.cap - 1;
        let mut value = value;
        let mut backoff = Backoff::new();
        loop {
            match self.push_once(value) {
                Err(PushEnd::Full(v)) => {
                    value = v;
                    if passed(deadline) {
                        return Err(PushEnd::Full(value));
                    }
                    if backoff.is_completed() {
                        sleeper.sleep(self.top_word(), |top| top == full, deadline);
                    } else {
                        backoff.spin();
                    }
                }
                other => return other,
            }
        }
    }

    /// Pushes `value` on top, sleeping while the stack is full.
    ///
    /// The stack's layout has no waiter word, so a blocked caller registers in the
    /// segment's waiter registry and sleeps on the `top` word (a shared futex), at most
    /// 1 ms at a time (upstream peers never wake anyone); a zeroipc pop wakes it at once.
    ///
    /// # Errors
    ///
    /// [`PushError::Stalled`] if the reserved slot stays owned by another process for the
    /// stall timeout; [`PushError::Corrupt`] for a corrupt `top`. The value is handed back.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<i64> = Stack::create(&seg, "s", 1)?;
    /// s.push(-5)?;
    /// // Full: the next push waits for a pop.
    /// let popper = s.clone();
    /// let t = std::thread::spawn(move || popper.pop());
    /// s.push(6)?;
    /// assert_eq!(t.join().unwrap()?, -5);
    /// assert_eq!(s.pop()?, 6);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, value: T) -> Result<(), PushError<T>> {
        let mut value = value;
        loop {
            match self.push_until(value, None) {
                Ok(()) => return Ok(()),
                Err(PushEnd::Failed(e)) => return Err(e),
                // No deadline: not reachable, but waiting on is what `push` means.
                Err(PushEnd::Full(v)) => value = v,
            }
        }
    }

    /// Pushes `value` on top unless the stack is full; never sleeps (waits, at most the
    /// stall timeout, only for a peer that is mid-operation on the reserved slot).
    ///
    /// # Errors
    ///
    /// [`TryPushError::Full`]; [`TryPushError::Stalled`]; [`TryPushError::Corrupt`]. The
    /// value is handed back in each case.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::TryPushError}};
    /// # let name = format!("/zeroipc-doc-stack-try-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<i64> = Stack::create(&seg, "s", 1)?;
    /// s.try_push(-5)?;
    /// assert_eq!(s.try_push(6), Err(TryPushError::Full(6)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_push(&self, value: T) -> Result<(), TryPushError<T>> {
        self.push_once(value).map_err(|e| match e {
            PushEnd::Full(v) => TryPushError::Full(v),
            PushEnd::Failed(e) => e.into(),
        })
    }

    /// [`Stack::push`] for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Stack::push_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PushTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stack-push-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 1)?;
    /// s.push_timeout(1, Duration::from_millis(10))?;
    /// let err = s.push_timeout(2, Duration::from_millis(10)).unwrap_err();
    /// assert_eq!(err, PushTimeoutError::Timeout(2));
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

    /// [`Stack::push`] until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`PushTimeoutError::Timeout`] once `deadline` passes with the stack still full;
    /// [`PushTimeoutError::Stalled`]; [`PushTimeoutError::Corrupt`]. The value is handed
    /// back in each case.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-push-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 1)?;
    /// s.push_deadline(1, Instant::now() + Duration::from_secs(1))?;
    /// assert_eq!(s.pop()?, 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push_deadline(&self, value: T, deadline: Instant) -> Result<(), PushTimeoutError<T>> {
        self.push_until(value, Some(deadline)).map_err(|e| match e {
            PushEnd::Full(v) => PushTimeoutError::Timeout(v),
            PushEnd::Failed(e) => e.into(),
        })
    }

    /// One pop attempt (waiting only for a peer mid-operation, bounded by the stall
    /// timeout); wakes sleeping pushers on success.
    fn pop_once(&self) -> Result<T, PopEnd> {
        let mut patience = Patience::new(self.stall);
        match self.view().pop(&mut || patience.keep_waiting()) {
            Ok(v) => {
                // The `top` CAS in `pop` is the change the sleepers re-check.
                wake_sleepers(&self.seg, &self.entry, Side::Room, self.top_word());
                Ok(v)
            }
            Err(PopFail::Empty) => Err(PopEnd::Empty),
            Err(PopFail::Stalled { index, orphaned }) => Err(PopEnd::Failed(PopError::Stalled {
                index: index as usize,
                orphaned,
            })),
            Err(PopFail::CorruptTop { top }) => {
                Err(PopEnd::Failed(PopError::Corrupt(self.corrupt_top(top))))
            }
        }
    }

    /// Pops, sleeping while the stack is empty, until `deadline` (if any);
    /// `PopEnd::Empty` means the deadline passed.
    fn pop_until(&self, deadline: Option<Instant>) -> Result<T, PopEnd> {
        let mut sleeper = Sleeper::new(&self.seg, &self.entry, Side::Data);
        // `top == -1` (empty), as the futex word holds it.
        let empty = u32::MAX;
        let mut backoff = Backoff::new();
        loop {
            match self.pop_once() {
                Err(PopEnd::Empty) => {
                    if passed(deadline) {
                        return Err(PopEnd::Empty);
                    }
                    if backoff.is_completed() {
                        sleeper.sleep(self.top_word(), |top| top == empty, deadline);
                    } else {
                        backoff.spin();
                    }
                }
                other => return other,
            }
        }
    }

    /// Pops the top element, sleeping while the stack is empty.
    ///
    /// Sleeps as [`Stack::push`] does: registered in the waiter registry, on the `top` word,
    /// at most 1 ms at a time; a zeroipc push wakes it at once.
    ///
    /// # Errors
    ///
    /// [`PopError::Stalled`] if the top slot stays owned by another process for the stall
    /// timeout (never a silent "nothing"); [`PopError::Corrupt`] for a corrupt `top`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 4)?;
    /// s.push(1)?;
    /// s.push(2)?;
    /// assert_eq!((s.pop()?, s.pop()?), (2, 1));
    /// // Empty: the next pop waits for a push.
    /// let pusher = s.clone();
    /// let t = std::thread::spawn(move || pusher.push(3));
    /// assert_eq!(s.pop()?, 3);
    /// t.join().unwrap()?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use = "a popped element is removed from the stack"]
    pub fn pop(&self) -> Result<T, PopError> {
        loop {
            match self.pop_until(None) {
                Ok(v) => return Ok(v),
                Err(PopEnd::Failed(e)) => return Err(e),
                // No deadline: not reachable, but waiting on is what `pop` means.
                Err(PopEnd::Empty) => {}
            }
        }
    }

    /// Pops the top element if there is one; never sleeps (waits, at most the stall
    /// timeout, only for a peer that is mid-operation on the top slot).
    ///
    /// # Errors
    ///
    /// [`TryPopError::Empty`]; [`TryPopError::Stalled`]; [`TryPopError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::TryPopError}};
    /// # let name = format!("/zeroipc-doc-stack-try-pop-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 4)?;
    /// s.push(1)?;
    /// assert_eq!(s.try_pop(), Ok(1));
    /// assert_eq!(s.try_pop(), Err(TryPopError::Empty));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_pop(&self) -> Result<T, TryPopError> {
        self.pop_once().map_err(|e| match e {
            PopEnd::Empty => TryPopError::Empty,
            PopEnd::Failed(e) => e.into(),
        })
    }

    /// [`Stack::pop`] for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Stack::pop_deadline`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, stack::PopTimeoutError}};
    /// # let name = format!("/zeroipc-doc-stack-pop-timeout-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 4)?;
    /// assert_eq!(s.pop_timeout(Duration::from_millis(5)), Err(PopTimeoutError::Timeout));
    /// s.push(4)?;
    /// assert_eq!(s.pop_timeout(Duration::from_millis(5)), Ok(4));
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

    /// [`Stack::pop`] until `deadline` at most.
    ///
    /// # Errors
    ///
    /// [`PopTimeoutError::Timeout`] once `deadline` passes with the stack still empty;
    /// [`PopTimeoutError::Stalled`]; [`PopTimeoutError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-pop-deadline-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 4)?;
    /// let pusher = s.clone();
    /// let t = std::thread::spawn(move || pusher.push(5));
    /// assert_eq!(s.pop_deadline(Instant::now() + Duration::from_secs(10)), Ok(5));
    /// t.join().unwrap()?;
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop_deadline(&self, deadline: Instant) -> Result<T, PopTimeoutError> {
        self.pop_until(Some(deadline)).map_err(|e| match e {
            PopEnd::Empty => PopTimeoutError::Timeout,
            PopEnd::Failed(e) => e.into(),
        })
    }

    /// Copies the top element without removing it; `Ok(None)` if the stack is empty.
    /// Never blocks: an empty stack is `None` at once (a peek has nothing to wait for that
    /// a pop would not take away).
    ///
    /// Briefly claims the slot as upstream does (`READY → READING → READY`), so a concurrent
    /// pop of the same slot waits for the copy.
    ///
    /// # Errors
    ///
    /// [`PopError::Stalled`] if the top slot stays owned by another process for the stall
    /// timeout; [`PopError::Corrupt`] for a corrupt `top`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::Stack};
    /// # let name = format!("/zeroipc-doc-stack-peek-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<u8> = Stack::create(&seg, "s", 4)?;
    /// assert_eq!(s.peek()?, None);
    /// s.push(3)?;
    /// assert_eq!(s.peek()?, Some(3));
    /// assert_eq!(s.len(), 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peek(&self) -> Result<Option<T>, PopError> {
        let mut patience = Patience::new(self.stall);
        match self.view().peek(&mut || patience.keep_waiting()) {
            Ok(v) => Ok(Some(v)),
            Err(PopFail::Empty) => Ok(None),
            Err(PopFail::Stalled { index, orphaned }) => Err(PopError::Stalled {
                index: index as usize,
                orphaned,
            }),
            Err(PopFail::CorruptTop { top }) => Err(PopError::Corrupt(self.corrupt_top(top))),
        }
    }
}

/// Whether `deadline` (if any) has passed.
fn passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

fn top_corruption(entry: &str, top: i32, cap: u32) -> Corruption {
    // Reported as the u32 bit pattern of the i32 (e.g. 4294967294 for -2).
    Corruption::field(
        entry,
        "top",
        u64::from(u32::from_ne_bytes(top.to_ne_bytes())),
        format!("between -1 and {} (capacity - 1)", i64::from(cap) - 1),
    )
}

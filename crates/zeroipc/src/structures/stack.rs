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
//! upstream (FORMAT.md D-8). Giving up is [`StackError::Stalled`] (or
//! [`StackPushError::Stalled`]), never "empty" or "full".
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
//! assert_eq!(undo.pop()?, Some(2));
//! assert_eq!(undo.len(), 1);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::time::Duration;

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
use crate::structures::wait::{DEFAULT_STALL_TIMEOUT, Patience};

/// Why [`Stack::push`] did not push; the value is handed back.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackPushError<T> {
    /// `top == capacity - 1`.
    Full(T),
    /// The slot at `index` stayed owned by another process for the stall timeout.
    Stalled {
        /// The value.
        value: T,
        /// The slot index.
        index: u32,
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

impl<T> StackPushError<T> {
    /// The value that was not pushed.
    pub fn into_inner(self) -> T {
        match self {
            Self::Full(v) | Self::Stalled { value: v, .. } | Self::Corrupt { value: v, .. } => v,
        }
    }
}

impl<T> fmt::Debug for StackPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("Full(..)"),
            Self::Stalled {
                index, orphaned, ..
            } => {
                write!(f, "Stalled {{ index: {index}, orphaned: {orphaned}, .. }}")
            }
            Self::Corrupt { corruption, .. } => write!(f, "Corrupt({corruption:?})"),
        }
    }
}

impl<T> fmt::Display for StackPushError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full(_) => f.write_str("the stack is full"),
            Self::Stalled {
                index, orphaned, ..
            } => write!(
                f,
                "stack slot {index} stayed owned by another process (dead or stuck peer){}",
                if *orphaned {
                    "; the slot stays reserved"
                } else {
                    ""
                }
            ),
            Self::Corrupt { corruption, .. } => write!(f, "corrupt stack: {corruption}"),
        }
    }
}

impl<T> std::error::Error for StackPushError<T> {}

/// Why [`Stack::pop`] or [`Stack::peek`] failed (an empty stack is `Ok(None)`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StackError {
    /// The slot at `index` stayed owned by another process for the stall timeout.
    Stalled {
        /// The slot index.
        index: u32,
        /// `true` if `top` could not be moved back (FORMAT.md D-8).
        orphaned: bool,
    },
    /// The stack's bytes are corrupt (`top` out of range).
    Corrupt(Corruption),
}

impl fmt::Display for StackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Stalled { index, orphaned } => write!(
                f,
                "stack slot {index} stayed owned by another process (dead or stuck peer){}",
                if *orphaned {
                    "; the slot stays reserved"
                } else {
                    ""
                }
            ),
            Self::Corrupt(c) => write!(f, "corrupt stack: {c}"),
        }
    }
}

impl std::error::Error for StackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::Stalled { .. } => None,
        }
    }
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
    pub fn create(seg: &Segment, name: &str, capacity: u32) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        if capacity == 0 || capacity > STACK_MAX_CAPACITY {
            return Err(StructureError::InvalidCapacity {
                requested: u64::from(capacity),
                reason: "a stack needs between 1 and i32::MAX slots",
            });
        }
        let es = size_of::<T>() as u64;
        let size = stack_size(u64::from(capacity), es).ok_or(StructureError::InvalidCapacity {
            requested: u64::from(capacity),
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
            return Err(Corruption::Field {
                entry: name(),
                field: "entry size",
                found: entry.size(),
                expected: format!("at least {STACK_HEADER_LEN} (the stack header)"),
            }
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
            return Err(Corruption::Field {
                entry: name(),
                field: "capacity",
                found: u64::from(cap),
                expected: "between 1 and i32::MAX".into(),
            }
            .into());
        }
        if stack_size(u64::from(cap), es) != Some(entry.size()) {
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
    /// reports a stall (default 1 s).
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

    /// The stall timeout.
    #[must_use]
    pub fn stall_timeout(&self) -> Duration {
        self.stall
    }

    /// Number of slots.
    #[must_use]
    pub fn capacity(&self) -> u32 {
        self.layout.cap
    }

    /// Elements on the stack: `top + 1` clamped to `[0, capacity]`, a snapshot.
    #[must_use]
    pub fn len(&self) -> u32 {
        self.view().len()
    }

    /// Whether [`Stack::len`] is 0 (a snapshot).
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The table entry this stack lives in.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this stack lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// Pushes `value` on top.
    ///
    /// # Errors
    ///
    /// [`StackPushError::Full`]; [`StackPushError::Stalled`] if the reserved slot stays
    /// owned by another process for the stall timeout; [`StackPushError::Corrupt`] for a
    /// corrupt `top`. The value is handed back in each case.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, structures::{Stack, StackPushError}};
    /// # let name = format!("/zeroipc-doc-stack-push-{}", std::process::id());
    /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s: Stack<i64> = Stack::create(&seg, "s", 1)?;
    /// s.push(-5)?;
    /// assert_eq!(s.push(6), Err(StackPushError::Full(6)));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn push(&self, value: T) -> Result<(), StackPushError<T>> {
        let mut patience = Patience::new(self.stall);
        match self.view().push(value, &mut || patience.keep_waiting()) {
            Ok(()) => Ok(()),
            Err(PushFail::Full(v)) => Err(StackPushError::Full(v)),
            Err(PushFail::Stalled {
                value,
                index,
                orphaned,
            }) => Err(StackPushError::Stalled {
                value,
                index,
                orphaned,
            }),
            Err(PushFail::CorruptTop { value, top }) => Err(StackPushError::Corrupt {
                value,
                corruption: self.corrupt_top(top),
            }),
        }
    }

    /// Pops the top element; `Ok(None)` if the stack is empty.
    ///
    /// # Errors
    ///
    /// [`StackError::Stalled`] if the top slot stays owned by another process for the stall
    /// timeout; [`StackError::Corrupt`] for a corrupt `top`.
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
    /// assert_eq!((s.pop()?, s.pop()?, s.pop()?), (Some(2), Some(1), None));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pop(&self) -> Result<Option<T>, StackError> {
        let mut patience = Patience::new(self.stall);
        let r = self.view().pop(&mut || patience.keep_waiting());
        self.map_pop(r)
    }

    /// Copies the top element without removing it; `Ok(None)` if the stack is empty.
    ///
    /// Briefly claims the slot as upstream does (`READY → READING → READY`), so a concurrent
    /// pop of the same slot waits for the copy.
    ///
    /// # Errors
    ///
    /// As [`Stack::pop`].
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
    pub fn peek(&self) -> Result<Option<T>, StackError> {
        let mut patience = Patience::new(self.stall);
        let r = self.view().peek(&mut || patience.keep_waiting());
        self.map_pop(r)
    }

    fn map_pop(&self, r: Result<T, PopFail>) -> Result<Option<T>, StackError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(PopFail::Empty) => Ok(None),
            Err(PopFail::Stalled { index, orphaned }) => {
                Err(StackError::Stalled { index, orphaned })
            }
            Err(PopFail::CorruptTop { top }) => Err(StackError::Corrupt(self.corrupt_top(top))),
        }
    }

    /// The raw `top` word, for inspection.
    #[doc(hidden)]
    #[must_use]
    pub fn raw_top(&self) -> i32 {
        self.view().top()
    }
}

fn top_corruption(entry: &str, top: i32, cap: u32) -> Corruption {
    Corruption::Field {
        entry: entry.to_owned(),
        field: "top",
        // Reported as the u32 bit pattern of the i32 (e.g. 4294967294 for -2).
        found: u64::from(u32::from_ne_bytes(top.to_ne_bytes())),
        expected: format!("between -1 and {} (capacity - 1)", i64::from(cap) - 1),
    }
}

//! The `Future<T>` and `Promise<T>` handles: create/open/validate and the public operations over
//! the raw state machine in `future.rs`. Compiled out under loom, which models the raw layer only.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::error::Error;
use std::time::{Duration, Instant};

use super::{RawClaim, RawFuture, RawGet};
use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::future::{
    COMPUTING, ERROR, ERROR_MSG_LEN, FutureHeader, PENDING, READY, VALUE_OFFSET, error_offset,
    finish_owner_offset, future_size, python_future_size,
};
use crate::loom::{AtomicU8, Ordering::Relaxed};
use crate::segment::region::Region;
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::{BadWord, current_pid, monotonic_ns, pid_alive};
use crate::wait::deadline_after;
use crate::wait::reactor::{self, Interest};

/// Copies the `T` at `at` (Relaxed words; the state word orders it).
pub(crate) fn load_value<T: Element>(region: &Region, at: u64) -> Result<T, Corruption> {
    region.load_value(at)
}

/// Stores `value` at `at` (Relaxed words; published by a later Release of the state).
pub(crate) fn store_value<T: Element>(
    region: &Region,
    at: u64,
    value: &T,
) -> Result<(), Corruption> {
    region.store_value(at, value)
}

/// Reads a NUL-terminated message from the 256 bytes at `at`; `None` if there is no NUL.
pub(crate) fn read_message(region: &Region, at: u64) -> Result<Option<String>, Corruption> {
    let mut buf = [0u8; 256];
    region.read_bytes(at, &mut buf)?;
    Ok(buf
        .iter()
        .position(|&b| b == 0)
        .map(|end| String::from_utf8_lossy(&buf[..end]).into_owned()))
}

/// The longest message zeroipc writes, in bytes before the NUL: shorter than the offset
/// of the owner word inside `error_msg` in every Future and Lazy layout (≥ 241).
pub(crate) const MESSAGE_MAX: usize = 240;

/// Zeroes the 256 bytes at `at` and writes `msg` (cut at its first NUL and to at most
/// [`MESSAGE_MAX`] bytes on a character boundary), always NUL-terminated, leaving the 8
/// bytes at `owner` (the owner word, after the message) untouched.
pub(crate) fn write_message(
    region: &Region,
    at: u64,
    msg: &str,
    owner: u64,
) -> Result<(), Corruption> {
    let msg = msg.split('\0').next().unwrap_or("");
    let mut end = msg.len().min(MESSAGE_MAX);
    while !msg.is_char_boundary(end) {
        end -= 1;
    }
    let bytes: &[AtomicU8] = region.slice(at, ERROR_MSG_LEN)?;
    let src = msg.as_bytes()[..end]
        .iter()
        .copied()
        .chain(core::iter::repeat(0));
    for ((dst, b), i) in bytes.iter().zip(src).zip(at..) {
        if (owner..owner + 8).contains(&i) {
            continue;
        }
        // ORDERING: Relaxed — published by the Release store of the state word.
        dst.store(b, Relaxed);
    }
    Ok(())
}

/// The state of a Future, as read from the segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FutureState {
    /// No value yet; no one is setting it.
    Pending,
    /// A setter claimed it and is computing the value.
    Computing,
    /// The value is set.
    Ready,
    /// An error message is set.
    Error,
}

impl FutureState {
    fn from_raw(s: u32) -> Self {
        match s {
            PENDING => Self::Pending,
            COMPUTING => Self::Computing,
            READY => Self::Ready,
            _ => Self::Error,
        }
    }

    /// Whether the future is set (READY or ERROR).
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Ready | Self::Error)
    }
}

/// Why [`Future::get`], [`Future::try_get`] or [`Future::get_async`] did not return a
/// value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetError {
    /// The future was set to an error; this is its message.
    Failed {
        /// The message the setter stored (lossy UTF-8).
        message: String,
    },
    /// The zeroipc process that claimed the future (pid) died before setting it.
    SetterDead {
        /// The dead setter's pid.
        pid: u32,
    },
    /// The future's bytes break the format (a state outside its four values, an error
    /// message without NUL).
    Corrupt(Corruption),
}

/// Why [`Future::get_timeout`], [`Future::get_deadline`] or
/// [`Future::get_async_timeout`] did not return a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GetTimeoutError {
    /// The future was set to an error; this is its message.
    Failed {
        /// The message the setter stored (lossy UTF-8).
        message: String,
    },
    /// The zeroipc process that claimed the future (pid) died before setting it.
    SetterDead {
        /// The dead setter's pid.
        pid: u32,
    },
    /// The deadline passed with the future still unset (also how a dead C++ or Python
    /// setter is seen).
    Timeout,
    /// The future's bytes break the format.
    Corrupt(Corruption),
}

impl fmt::Display for GetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Failed { message } => write!(f, "the future failed: {message}"),
            Self::SetterDead { pid } => {
                write!(f, "the setter (pid {pid}) died before setting the future")
            }
            Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
        }
    }
}

impl fmt::Display for GetTimeoutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out: the future is still unset at the deadline"),
            Self::Failed { message } => write!(f, "the future failed: {message}"),
            Self::SetterDead { pid } => {
                write!(f, "the setter (pid {pid}) died before setting the future")
            }
            Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
        }
    }
}

impl Error for GetError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl Error for GetTimeoutError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            _ => None,
        }
    }
}

impl From<Corruption> for GetError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

impl From<GetError> for GetTimeoutError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::Failed { message } => Self::Failed { message },
            GetError::SetterDead { pid } => Self::SetterDead { pid },
            GetError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

/// A wait with no deadline never times out.
fn untimed(e: GetTimeoutError) -> GetError {
    match e {
        GetTimeoutError::Failed { message } => GetError::Failed { message },
        GetTimeoutError::SetterDead { pid } => GetError::SetterDead { pid },
        GetTimeoutError::Corrupt(c) => GetError::Corrupt(c),
        GetTimeoutError::Timeout => unreachable!("a wait without a deadline timed out"),
    }
}

/// Why a future could not be claimed or set.
#[derive(Debug)]
#[non_exhaustive]
pub enum SetError {
    /// Someone set it already, or is setting it (the state found).
    AlreadySet {
        /// The state found: `Computing`, `Ready` or `Error`.
        state: FutureState,
    },
    /// The future's bytes break the format.
    Corrupt(Corruption),
}

impl fmt::Display for SetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AlreadySet { state } => {
                write!(f, "the future can only be set once (it is {state:?})")
            }
            Self::Corrupt(c) => write!(f, "corrupt future: {c}"),
        }
    }
}

impl Error for SetError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Corrupt(c) => Some(c),
            Self::AlreadySet { .. } => None,
        }
    }
}

impl From<Corruption> for SetError {
    fn from(c: Corruption) -> Self {
        Self::Corrupt(c)
    }
}

/// A value of type `T` set once by one process, awaited by others. See the
/// [module docs](super).
pub struct Future<T: Element> {
    seg: Segment,
    entry: Entry,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Future<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .finish_non_exhaustive()
    }
}

fn corrupt(entry: &Entry, b: BadWord) -> Corruption {
    Corruption::field(entry.name(), b.field, b.found, b.expected.to_owned())
}

impl<T: Element> Future<T> {
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

    /// Creates a pending future named `name` (C++ entry size).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if the name is taken or there is no room.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, FutureState}};
    /// # let name = format!("/zeroipc-doc-future-create-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<f64> = Future::create(&seg, "result")?;
    /// assert_eq!(f.state()?, FutureState::Pending);
    /// assert_eq!(f.entry().size(), 280);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let size = future_size(size_of::<T>() as u64, align_of::<T>() as u64).ok_or(
            StructureError::InvalidCapacity {
                requested: size_of::<T>() as u64,
                reason: "the future's size overflows",
            },
        )?;
        // The allocator zeroes the entry: state PENDING, waiters 0, time 0, value 0,
        // message empty — C++'s initial bytes.
        let entry = seg.allocate(name, size, |region, at| -> Result<(), StructureError> {
            let _: &FutureHeader = region.header(at)?;
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Future, name, &entry).elem::<T>());
        Ok(Self {
            seg: seg.clone(),
            entry,
            _t: PhantomData,
        })
    }

    /// Opens the future named `name`, written by zeroipc, C++ (entry size
    /// `align_up(272 + es, max(8, align))`) or Python (`272 + es`).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if there is no such entry;
    /// [`StructureError::ElementSize`] if its size fits another value size;
    /// [`StructureError::Corrupt`] if it is too small or its state is not 0..=3.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
    /// # let name = format!("/zeroipc-doc-future-open-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// Future::<i32>::create(&seg, "f")?;
    /// let f: Future<i32> = Future::open(&Segment::open(&name)?, "f")?;
    /// assert!(!f.is_ready()?);
    /// // The entry holds a 4-byte value (280 bytes); a 32-byte value needs 304.
    /// assert!(Future::<[u64; 4]>::open(&seg, "f").is_err());
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let entry = seg.find(name)?;
        let es = size_of::<T>() as u64;
        let cpp = future_size(es, align_of::<T>() as u64);
        let py = python_future_size(es);
        let size = entry.size();
        if Some(size) != cpp && Some(size) != py {
            if size > VALUE_OFFSET + ERROR_MSG_LEN {
                return Err(StructureError::ElementSize {
                    entry: entry.name().to_string(),
                    stored: size - VALUE_OFFSET - ERROR_MSG_LEN,
                    expected: es,
                });
            }
            return Err(Corruption::field(
                entry.name(),
                "entry size",
                size,
                format!("{} (C++) or {} (Python)", cpp.unwrap_or(0), py.unwrap_or(0)),
            )
            .into());
        }
        let f = Self {
            seg: seg.clone(),
            entry,
            _t: PhantomData,
        };
        // Proves the whole entry lies in the mapping and the state is valid.
        f.seg.region().check(f.entry.offset(), size, 8)?;
        f.state()?;
        seg.check_catalog(&Record::new(CatalogKind::Future, name, &f.entry).elem::<T>())?;
        Ok(f)
    }

    pub(super) fn raw(&self) -> Result<RawFuture<'_>, Corruption> {
        let at = self.entry.offset();
        let h: &FutureHeader = self.seg.region().header(at)?;
        Ok(RawFuture {
            state: &h.state,
            waiters: &h.waiters,
            owner: &h.completion_time,
            tail: self.seg.region().header(at + self.tail_offset())?,
        })
    }

    /// Offset of the finish owner word from the entry's start.
    fn tail_offset(&self) -> u64 {
        finish_owner_offset(size_of::<T>() as u64)
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this future lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The current state.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0..=3.
    pub fn state(&self) -> Result<FutureState, Corruption> {
        let s = self.raw()?.state().map_err(|b| corrupt(&self.entry, b))?;
        Ok(FutureState::from_raw(s))
    }

    /// Whether the future is set (to a value or an error), as C++ `is_ready`.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0..=3.
    pub fn is_ready(&self) -> Result<bool, Corruption> {
        Ok(self.state()?.is_final())
    }

    /// The number of processes currently blocked in `get` (informational; includes
    /// C++ and Python waiters, and waiters that died).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry lies outside the mapping (never for an opened one).
    pub fn waiters(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot of an informational counter.
        Ok(self.raw()?.waiters.load(Relaxed) as usize)
    }

    /// The `completion_time` word: monotonic nanoseconds (C++, zeroipc) or wall-clock
    /// microseconds (Python) once set; 0 before. `None` while a zeroipc setter is
    /// computing (the word holds its pid then).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry lies outside the mapping.
    pub fn completion_time(&self) -> Result<Option<u64>, Corruption> {
        // ORDERING: Relaxed — a snapshot.
        let w = self.raw()?.owner.load(Relaxed);
        Ok(crate::layout::future::owner_pid(w).is_none().then_some(w))
    }

    /// Reads the outcome of a final state.
    fn outcome(&self, state: u32) -> Result<T, GetError> {
        let region = self.seg.region();
        let at = self.entry.offset();
        if state == READY {
            return Ok(load_value::<T>(region, at + VALUE_OFFSET)?);
        }
        let msg_at = at + error_offset(size_of::<T>() as u64);
        match read_message(region, msg_at)? {
            Some(message) => Err(GetError::Failed { message }),
            None => Err(Corruption::field(
                self.entry.name(),
                "error_msg",
                ERROR_MSG_LEN,
                "a NUL terminator within its 256 bytes",
            )
            .into()),
        }
    }

    fn get_inner(&self, deadline: Option<Instant>) -> Result<T, GetTimeoutError> {
        let raw = self.raw().map_err(GetError::from)?;
        match raw.wait(current_pid(), deadline, pid_alive) {
            RawGet::Done(s) => Ok(self.outcome(s)?),
            RawGet::SetterDead(pid) => Err(GetTimeoutError::SetterDead { pid }),
            RawGet::Timeout => Err(GetTimeoutError::Timeout),
            RawGet::Bad(b) => Err(GetTimeoutError::Corrupt(corrupt(&self.entry, b))),
        }
    }

    /// Blocks until the future is set; returns its value.
    ///
    /// Detects a dead zeroipc setter; a dead C++ or Python setter makes this wait
    /// forever — prefer [`Future::get_timeout`] when such peers set it.
    ///
    /// # Errors
    ///
    /// [`GetError::Failed`] with the setter's message; [`GetError::SetterDead`];
    /// [`GetError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::Future};
    /// # let name = format!("/zeroipc-doc-future-get-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u32> = Future::create(&seg, "answer")?;
    /// let setter = f.clone();
    /// std::thread::spawn(move || setter.set_value(42));
    /// assert_eq!(f.get()?, 42); // waits for the setter
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&self) -> Result<T, GetError> {
        self.get_inner(None).map_err(untimed)
    }

    /// As [`Future::get`], for at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Future::get`] (in [`GetTimeoutError`]), plus [`GetTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
    /// # let name = format!("/zeroipc-doc-future-timeout-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u32> = Future::create(&seg, "never")?;
    /// assert_eq!(f.get_timeout(Duration::from_millis(5)), Err(GetTimeoutError::Timeout));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, GetTimeoutError> {
        self.get_inner(deadline_after(timeout))
    }

    /// As [`Future::get`], until `deadline`.
    ///
    /// # Errors
    ///
    /// As [`Future::get`] (in [`GetTimeoutError`]), plus [`GetTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
    /// # let name = format!("/zeroipc-doc-future-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u32> = Future::create(&seg, "f")?;
    /// assert_eq!(f.get_deadline(Instant::now()), Err(GetTimeoutError::Timeout));
    /// f.set_value(3)?;
    /// assert_eq!(f.get_deadline(Instant::now()), Ok(3));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, GetTimeoutError> {
        self.get_inner(Some(deadline))
    }

    /// The value if it is set, `None` if not yet (no setter, or a live setter still
    /// computing); never blocks. A dead zeroipc setter is an error, not `None`.
    ///
    /// # Errors
    ///
    /// [`GetError::Failed`] if it was set to an error; [`GetError::SetterDead`] if a
    /// zeroipc setter died while computing; [`GetError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
    /// # let name = format!("/zeroipc-doc-future-try-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<i64> = Future::create(&seg, "f")?;
    /// assert_eq!(f.try_get()?, None);
    /// f.set_value(-5)?;
    /// assert_eq!(f.try_get()?, Some(-5));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_get(&self) -> Result<Option<T>, GetError> {
        let raw = self.raw()?;
        match raw.state().map_err(|b| corrupt(&self.entry, b))? {
            s @ (READY | ERROR) => self.outcome(s).map(Some),
            COMPUTING => match raw.dead_setter(current_pid(), &pid_alive) {
                Some(pid) => Err(GetError::SetterDead { pid }),
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// Claims the future for this process (PENDING → COMPUTING, recording its pid), so
    /// it can compute the value at leisure; waiters see a death meanwhile as
    /// [`GetError::SetterDead`]. A COMPUTING future whose zeroipc setter is dead is taken
    /// over.
    ///
    /// # Errors
    ///
    /// [`SetError::AlreadySet`] if another setter claimed (and is alive) or set it;
    /// [`SetError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, FutureState}};
    /// # let name = format!("/zeroipc-doc-future-claim-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u64> = Future::create(&seg, "sum")?;
    /// let promise = f.claim()?;
    /// assert_eq!(f.state()?, FutureState::Computing);
    /// assert!(f.claim().is_err()); // one setter only
    /// promise.set_value((1..=10).sum())?;
    /// assert_eq!(f.try_get()?, Some(55));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn claim(&self) -> Result<Promise<T>, SetError> {
        let raw = self.raw()?;
        match raw.claim(current_pid(), pid_alive) {
            Ok(dead) => {
                if dead.is_some() {
                    // A dead setter may have left part of a message: C++'s zeros.
                    let at = self.entry.offset();
                    let msg = at + error_offset(size_of::<T>() as u64);
                    write_message(self.seg.region(), msg, "", at + self.tail_offset())?;
                }
                Ok(Promise {
                    future: Some(self.clone()),
                })
            }
            Err(RawClaim::Taken(s)) => Err(SetError::AlreadySet {
                state: FutureState::from_raw(s),
            }),
            Err(RawClaim::Bad(b)) => Err(corrupt(&self.entry, b).into()),
        }
    }

    /// Sets the value, exactly once among all processes, and wakes every waiter.
    ///
    /// # Errors
    ///
    /// [`SetError::AlreadySet`] if the future was claimed or set before;
    /// [`SetError::Corrupt`].
    pub fn set_value(&self, value: T) -> Result<(), SetError> {
        self.claim()?.set_value(value)
    }

    /// Sets the future to an error with `message` (cut to 240 bytes on a character
    /// boundary, and at a NUL), exactly once. The message is written before ERROR is
    /// published, so no reader sees it partial.
    ///
    /// # Errors
    ///
    /// [`SetError::AlreadySet`]; [`SetError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetError}};
    /// # let name = format!("/zeroipc-doc-future-error-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<i32> = Future::create(&seg, "f")?;
    /// f.set_error("boom: negative input")?;
    /// match f.get() {
    ///     Err(GetError::Failed { message }) => assert_eq!(message, "boom: negative input"),
    ///     other => panic!("{other:?}"),
    /// }
    /// assert!(f.set_value(1).is_err()); // already set
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_error(&self, message: &str) -> Result<(), SetError> {
        self.claim()?.set_error(message)
    }

    /// An awaitable for the value: `.await` it under any executor. See the module
    /// docs ("Waiting") for how it sleeps without polling the executor.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::future::Future};
    /// # let name = format!("/zeroipc-doc-future-async-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let setter = f.clone();
    /// std::thread::spawn(move || setter.set_value(7));
    /// // Any executor; a minimal one here.
    /// let v = futures_lite_block_on(f.get_async())?;
    /// assert_eq!(v, 7);
    /// # fn futures_lite_block_on<F: core::future::Future>(fut: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     use std::sync::Arc;
    /// #     struct T(std::thread::Thread);
    /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
    /// #     let mut cx = Context::from_waker(&waker);
    /// #     let mut fut = std::pin::pin!(fut);
    /// #     loop {
    /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn get_async(&self) -> FutureWait<T> {
        FutureWait {
            wait: Wait::new(self.clone(), None),
        }
    }

    /// As [`Future::get_async`], resolving to [`GetTimeoutError::Timeout`] after
    /// `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, codata::future::{Future, GetTimeoutError}};
    /// # let name = format!("/zeroipc-doc-future-async-timeout-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let f: Future<u8> = Future::create(&seg, "f")?;
    /// let r = block_on(f.get_async_timeout(Duration::from_millis(5)));
    /// assert_eq!(r, Err(GetTimeoutError::Timeout));
    /// # fn block_on<F: core::future::Future>(fut: F) -> F::Output {
    /// #     use std::task::{Context, Poll, Wake, Waker};
    /// #     use std::sync::Arc;
    /// #     struct T(std::thread::Thread);
    /// #     impl Wake for T { fn wake(self: Arc<Self>) { self.0.unpark() } }
    /// #     let waker = Waker::from(Arc::new(T(std::thread::current())));
    /// #     let mut cx = Context::from_waker(&waker);
    /// #     let mut fut = std::pin::pin!(fut);
    /// #     loop {
    /// #         if let Poll::Ready(v) = fut.as_mut().poll(&mut cx) { return v; }
    /// #         std::thread::park();
    /// #     }
    /// # }
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn get_async_timeout(&self, timeout: Duration) -> FutureWaitTimeout<T> {
        FutureWaitTimeout {
            wait: Wait::new(self.clone(), deadline_after(timeout)),
        }
    }

    /// As [`Future::get_async`], resolving to [`GetTimeoutError::Timeout`] at
    /// `deadline`.
    #[must_use]
    pub fn get_async_deadline(&self, deadline: Instant) -> FutureWaitTimeout<T> {
        FutureWaitTimeout {
            wait: Wait::new(self.clone(), Some(deadline)),
        }
    }

    /// One non-blocking look for the awaitable: `Some` when there is an answer.
    fn poll_once(&self, deadline: Option<Instant>) -> Option<Result<T, GetTimeoutError>> {
        match self.try_get() {
            Ok(Some(v)) => Some(Ok(v)),
            Err(e) => Some(Err(e.into())),
            Ok(None) if deadline.is_some_and(|d| Instant::now() >= d) => {
                Some(Err(GetTimeoutError::Timeout))
            }
            Ok(None) => None,
        }
    }
}

/// The right to set a claimed [`Future`], returned by [`Future::claim`].
///
/// Dropping it unset sets the future to the error "promise dropped without a value"
/// (also on a panic), so waiters never wait for a setter that gave up.
pub struct Promise<T: Element> {
    future: Option<Future<T>>,
}

impl<T: Element> fmt::Debug for Promise<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Promise")
            .field("future", &self.future)
            .finish()
    }
}

impl<T: Element> Promise<T> {
    fn finish(
        mut self,
        write: impl FnOnce(&Region, u64) -> Result<u32, Corruption>,
    ) -> Result<(), SetError> {
        let Some(f) = self.future.take() else {
            return Ok(());
        };
        let raw = f.raw()?;
        // Exclusive by protocol: this process won the claim CAS (or took over a dead
        // setter), so it is the only writer of the value and message until `finish`.
        let state = write(f.seg.region(), f.entry.offset())?;
        raw.finish(current_pid(), state, monotonic_ns());
        Ok(())
    }

    /// Stores `value`, publishes READY and wakes every waiter.
    ///
    /// # Errors
    ///
    /// [`SetError::Corrupt`] if the entry lies outside the mapping (never for an opened
    /// future).
    pub fn set_value(self, value: T) -> Result<(), SetError> {
        self.finish(|region, at| {
            store_value(region, at + VALUE_OFFSET, &value)?;
            Ok(READY)
        })
    }

    /// Stores `message` (see [`Future::set_error`]), publishes ERROR, wakes every waiter.
    ///
    /// # Errors
    ///
    /// [`SetError::Corrupt`] as for [`Promise::set_value`].
    pub fn set_error(self, message: &str) -> Result<(), SetError> {
        self.finish(|region, at| {
            let msg = at + error_offset(size_of::<T>() as u64);
            write_message(
                region,
                msg,
                message,
                at + finish_owner_offset(size_of::<T>() as u64),
            )?;
            Ok(ERROR)
        })
    }
}

impl<T: Element> Drop for Promise<T> {
    fn drop(&mut self) {
        if self.future.is_some() {
            let p = Promise {
                future: self.future.take(),
            };
            let _ = p.set_error("promise dropped without a value");
        }
    }
}

/// The waiting machinery shared by [`FutureWait`] and [`FutureWaitTimeout`]: one
/// registration with the process's reactor (`wait::reactor`), no thread of its own.
struct Wait<T: Element> {
    future: Future<T>,
    deadline: Option<Instant>,
    interest: Interest,
    /// Counted in the header's `waiters` while pending (as C++ `get` counts itself).
    counted: bool,
}

/// An awaitable for a [`Future`]'s value, from [`Future::get_async`] (or `.await` on a
/// `Future` or `&Future`).
///
/// Resolves to what [`Future::get`] returns. A pending poll registers the task with the
/// process's one reactor thread, which wakes it when the state word changes (at once for a
/// zeroipc setter, within a millisecond for others); the executor is never woken for
/// nothing. No thread per awaitable; dropping it withdraws the registration.
pub struct FutureWait<T: Element> {
    wait: Wait<T>,
}

/// An awaitable for a [`Future`]'s value with a deadline, from
/// [`Future::get_async_timeout`] / [`Future::get_async_deadline`]: resolves to what
/// [`Future::get_deadline`] returns. Wakes as [`FutureWait`] does.
pub struct FutureWaitTimeout<T: Element> {
    wait: Wait<T>,
}

impl<T: Element> Wait<T> {
    fn new(future: Future<T>, deadline: Option<Instant>) -> Self {
        Self {
            future,
            deadline,
            interest: Interest::new(),
            counted: false,
        }
    }

    fn debug(&self, name: &str, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct(name)
            .field("future", &self.future)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<T: Element> fmt::Debug for FutureWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.wait.debug("FutureWait", f)
    }
}

impl<T: Element> fmt::Debug for FutureWaitTimeout<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.wait.debug("FutureWaitTimeout", f)
    }
}

impl<T: Element> Unpin for Wait<T> {}

impl<T: Element> core::future::Future for FutureWait<T> {
    type Output = Result<T, GetError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().wait.poll(cx).map(|r| r.map_err(untimed))
    }
}

impl<T: Element> core::future::Future for FutureWaitTimeout<T> {
    type Output = Result<T, GetTimeoutError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.get_mut().wait.poll(cx)
    }
}

impl<T: Element> Wait<T> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, GetTimeoutError>> {
        // ORDERING (register, then re-check): read the state word before the attempt;
        // the reactor compares against this value, so a setter's publish after this read
        // wakes us (wait::reactor, "no lost wake-up").
        let seen = self.future.raw().ok().and_then(|raw| raw.state().ok());
        if let Some(out) = self.future.poll_once(self.deadline) {
            self.finish();
            return Poll::Ready(out);
        }
        let (Some(seen), Ok(raw)) = (seen, self.future.raw()) else {
            // Unreachable (poll_once reported the corruption); look again.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        };
        if !self.counted {
            self.counted = true;
            // ORDERING: Relaxed — informational counter (as `WaiterCount`).
            raw.waiters.fetch_add(1, Relaxed);
        }
        // A COMPUTING future's setter may die without a word changing: look again now
        // and then to ask whether it lives (as `get` does on each slice).
        let recheck = (seen == COMPUTING).then(|| Instant::now() + reactor::RECHECK);
        let wake_at = match (self.deadline, recheck) {
            (Some(d), Some(r)) => Some(d.min(r)),
            (d, r) => d.or(r),
        };
        self.interest.arm(
            reactor::Arm {
                seg: &self.future.seg,
                word: raw.state,
                expected: seen,
                wake_at,
                probe: None,
            },
            cx.waker(),
        );
        Poll::Pending
    }

    /// Leaves the reactor and the `waiters` count (on completion and on drop).
    fn finish(&mut self) {
        self.interest.disarm();
        if std::mem::take(&mut self.counted) {
            if let Ok(raw) = self.future.raw() {
                // ORDERING: Relaxed — as in `poll`.
                raw.waiters.fetch_sub(1, Relaxed);
            }
        }
    }
}

impl<T: Element> Drop for Wait<T> {
    fn drop(&mut self) {
        self.finish();
    }
}

impl<T: Element> core::future::IntoFuture for &Future<T> {
    type Output = Result<T, GetError>;
    type IntoFuture = FutureWait<T>;

    fn into_future(self) -> FutureWait<T> {
        self.get_async()
    }
}

impl<T: Element> core::future::IntoFuture for Future<T> {
    type Output = Result<T, GetError>;
    type IntoFuture = FutureWait<T>;

    fn into_future(self) -> FutureWait<T> {
        FutureWait {
            wait: Wait::new(self, None),
        }
    }
}

//! The `Lazy<T>` handle (and `LazyBool`): create/open/validate and the public operations over
//! the raw state machine in `lazy.rs`. Compiled out under loom, which models the raw layer only.

use core::fmt;
use core::marker::PhantomData;
use core::mem::{align_of, size_of};
use std::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::time::{Duration, Instant};

use super::{RawForce, RawLazy};
use crate::Element;
use crate::codata::future::{load_value, read_message, store_value, write_message};
use crate::error::{Corruption, StructureError};
use crate::layout::lazy::{
    BOOL_AND, BOOL_NOT, BOOL_OR, BOOL_XOR, COMPUTED, COMPUTING, LAZY_BOOL_LEN, LazyBoolHeader,
    LazyOffsets, NOT_COMPUTED, OP_ADD, OP_CHAIN, OP_CONSTANT, OP_EXTERNAL, OP_MULTIPLY, OP_NEGATE,
    lazy_offsets, python_lazy_size,
};
use crate::loom::{AtomicU32, AtomicU64, Ordering::Acquire, Ordering::Relaxed};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::{BadWord, current_pid, pid_alive};
use crate::wait::deadline_after;

/// Values the stored operations can compute on: the arithmetic types C++ allows.
/// Integers wrap on overflow (C++ leaves signed overflow undefined).
pub trait Arithmetic: Element {
    /// `a + b`.
    fn add(self, other: Self) -> Self;
    /// `a * b`.
    fn mul(self, other: Self) -> Self;
    /// `-a`.
    fn neg(self) -> Self;
}

macro_rules! int_arith {
    ($($t:ty),*) => {$(
        impl Arithmetic for $t {
            fn add(self, other: Self) -> Self { self.wrapping_add(other) }
            fn mul(self, other: Self) -> Self { self.wrapping_mul(other) }
            fn neg(self) -> Self { self.wrapping_neg() }
        }
    )*};
}
int_arith!(i8, i16, i32, i64, u8, u16, u32, u64);

macro_rules! float_arith {
    ($($t:ty),*) => {$(
        impl Arithmetic for $t {
            fn add(self, other: Self) -> Self { self + other }
            fn mul(self, other: Self) -> Self { self * other }
            fn neg(self) -> Self { -self }
        }
    )*};
}
float_arith!(f32, f64);

/// The operation stored in a Lazy (`op.type` and its operands).
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Operation<T> {
    /// CONSTANT 0: the value itself.
    Constant(T),
    /// ADD 1: `a + b`.
    Add(T, T),
    /// MULTIPLY 2: `a * b`.
    Multiply(T, T),
    /// NEGATE 3: `-x`.
    Negate(T),
    /// CHAIN 4: two lazies by index (C++ cannot evaluate it either).
    Chain(u32, u32),
    /// EXTERNAL 5: a function outside shared memory (`force_with`'s closure).
    External(u32),
}

/// The state of a Lazy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LazyState {
    /// Not computed yet.
    NotComputed,
    /// Someone is computing it.
    Computing,
    /// The value is cached.
    Computed,
    /// The computation failed (permanent).
    Error,
}

impl LazyState {
    fn from_raw(s: u32) -> Self {
        match s {
            NOT_COMPUTED => Self::NotComputed,
            COMPUTING => Self::Computing,
            COMPUTED => Self::Computed,
            _ => Self::Error,
        }
    }
}

/// Declares one of the force errors: the variants every force form shares, plus the
/// given ones; `Display`, `Error` and `From<Corruption>`.
macro_rules! force_error {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $msg:literal,)* }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        #[non_exhaustive]
        pub enum $name {
            /// The computation failed (here or in another process); its message.
            Failed {
                /// The stored message (lossy UTF-8).
                message: String,
            },
            /// The stored operation (CHAIN or EXTERNAL) cannot be evaluated from shared
            /// memory, and no one has computed it: use [`Lazy::force_with`].
            NoComputation {
                /// The `op.type` found.
                op: u32,
            },
            /// The zeroipc computer (pid) died, and this caller has nothing to compute
            /// with (`force` on CHAIN/EXTERNAL); `force_with` takes over instead.
            ComputerDead {
                /// The dead computer's pid.
                pid: u32,
            },
            /// The Lazy's bytes break the format.
            Corrupt(Corruption),
            $($(#[$vm])* $v,)*
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    Self::Failed { message } => write!(f, "the computation failed: {message}"),
                    Self::NoComputation { op } => write!(
                        f,
                        "operation {op} cannot be evaluated from shared memory (expected \
                         constant, add, multiply or negate); force it with a closure"
                    ),
                    Self::ComputerDead { pid } => {
                        write!(f, "the computing process (pid {pid}) died")
                    }
                    Self::Corrupt(c) => write!(f, "corrupt lazy: {c}"),
                    $(Self::$v => f.write_str($msg),)*
                }
            }
        }

        impl Error for $name {
            fn source(&self) -> Option<&(dyn Error + 'static)> {
                match self {
                    Self::Corrupt(c) => Some(c),
                    _ => None,
                }
            }
        }

        impl From<Corruption> for $name {
            fn from(c: Corruption) -> Self {
                Self::Corrupt(c)
            }
        }
    };
}

force_error! {
    /// Why [`Lazy::force`] / [`Lazy::force_with`] / [`Lazy::force_with_result`] gave no
    /// value.
    ForceError {}
}

force_error! {
    /// Why [`Lazy::try_force`] / [`Lazy::try_force_with`] gave no value.
    TryForceError {
        /// Another process is computing it right now.
        WouldBlock => "another process is computing the value, expected it computed or free",
    }
}

force_error! {
    /// Why a timed force ([`Lazy::force_timeout`], [`Lazy::force_deadline`],
    /// [`Lazy::force_with_timeout`], [`Lazy::force_with_deadline`], ...) gave no value.
    ForceTimeoutError {
        /// The deadline passed while another process computed (also how a dead C++
        /// computer is seen).
        Timeout => "timed out waiting for another process to compute the value",
    }
}

impl From<ForceError> for ForceTimeoutError {
    fn from(e: ForceError) -> Self {
        match e {
            ForceError::Failed { message } => Self::Failed { message },
            ForceError::NoComputation { op } => Self::NoComputation { op },
            ForceError::ComputerDead { pid } => Self::ComputerDead { pid },
            ForceError::Corrupt(c) => Self::Corrupt(c),
        }
    }
}

/// A force with no deadline never times out.
pub(super) fn untimed(e: ForceTimeoutError) -> ForceError {
    match e {
        ForceTimeoutError::Failed { message } => ForceError::Failed { message },
        ForceTimeoutError::NoComputation { op } => ForceError::NoComputation { op },
        ForceTimeoutError::ComputerDead { pid } => ForceError::ComputerDead { pid },
        ForceTimeoutError::Corrupt(c) => ForceError::Corrupt(c),
        ForceTimeoutError::Timeout => unreachable!("a force without a deadline timed out"),
    }
}

/// A force with a deadline of "now": a computer at work means "would block".
fn tried(e: ForceTimeoutError) -> TryForceError {
    match e {
        ForceTimeoutError::Failed { message } => TryForceError::Failed { message },
        ForceTimeoutError::NoComputation { op } => TryForceError::NoComputation { op },
        ForceTimeoutError::ComputerDead { pid } => TryForceError::ComputerDead { pid },
        ForceTimeoutError::Corrupt(c) => TryForceError::Corrupt(c),
        ForceTimeoutError::Timeout => TryForceError::WouldBlock,
    }
}

/// Why [`Lazy::add`] / [`Lazy::multiply`] made no Lazy.
#[derive(Debug)]
#[non_exhaustive]
pub enum CombineError {
    /// Forcing an input failed.
    Force(ForceError),
    /// Creating the result failed (name taken, table full, ...).
    Create(StructureError),
}

impl fmt::Display for CombineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Force(e) => write!(f, "cannot force an input: {e}"),
            Self::Create(e) => write!(f, "cannot create the lazy: {e}"),
        }
    }
}

impl Error for CombineError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Self::Force(e) => Some(e),
            Self::Create(e) => Some(e),
        }
    }
}

impl From<ForceError> for CombineError {
    fn from(e: ForceError) -> Self {
        Self::Force(e)
    }
}

fn corrupt(entry: &Entry, b: BadWord) -> Corruption {
    Corruption::field(entry.name(), b.field, b.found, b.expected.to_owned())
}

/// A value computed once across processes, in the C++ `Lazy<T>` layout. See the
/// [module docs](super).
pub struct Lazy<T: Element> {
    pub(super) seg: Segment,
    entry: Entry,
    off: LazyOffsets,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Lazy<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            entry: self.entry.clone(),
            off: self.off,
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Lazy<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lazy")
            .field("name", self.entry.name())
            .field("offset", &self.entry.offset())
            .finish_non_exhaustive()
    }
}

/// How a computation ended, as the closure reports it.
type Outcome<T> = Result<T, String>;

impl<T: Element> Lazy<T> {
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

    fn offsets() -> Result<LazyOffsets, StructureError> {
        let () = Self::CHECK;
        lazy_offsets(size_of::<T>() as u64, align_of::<T>() as u64).ok_or(
            StructureError::InvalidCapacity {
                requested: size_of::<T>() as u64,
                reason: "the lazy's size overflows",
            },
        )
    }

    /// Creates a Lazy in state `state` with operation `op` (all other bytes zero).
    fn create_raw(
        seg: &Segment,
        name: &str,
        state: u32,
        op: u32,
        init: impl FnOnce(&crate::segment::region::Region, u64) -> Result<(), Corruption>,
    ) -> Result<Self, StructureError> {
        let off = Self::offsets()?;
        let entry = seg.allocate(name, off.size, |region, at| -> Result<(), StructureError> {
            init(region, at)?;
            let op_word: &AtomicU32 = region.header(at + off.op)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
            op_word.store(op, Relaxed);
            let s: &AtomicU32 = region.header(at)?;
            s.store(state, Relaxed);
            Ok(())
        })?;
        seg.record(&Record::new(CatalogKind::Lazy, name, &entry).elem::<T>());
        Ok(Self {
            seg: seg.clone(),
            entry,
            off,
            _t: PhantomData,
        })
    }

    /// Creates a Lazy computed later by a closure ([`Lazy::force_with`]): NOT_COMPUTED,
    /// operation EXTERNAL with `external_id` 0. (A C++ process that forces it first
    /// cannot evaluate EXTERNAL and stores a permanent ERROR, as upstream does.)
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if the name is taken or there is no room.
    pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        Self::create_raw(seg, name, NOT_COMPUTED, OP_EXTERNAL, |_, _| Ok(()))
    }

    /// Creates a computed Lazy holding `value` (C++'s constant constructor: state
    /// COMPUTED, CONSTANT, `constant = cached = value`, count 0).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if the name is taken or there is no room.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::lazy::Lazy};
    /// # let name = format!("/zeroipc-doc-lazy-const-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let pi: Lazy<f64> = Lazy::constant(&seg, "pi", 3.14)?;
    /// assert_eq!(pi.peek()?, Some(3.14));
    /// assert_eq!(pi.entry().size(), 304);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn constant(seg: &Segment, name: &str, value: T) -> Result<Self, StructureError> {
        let off = Self::offsets()?;
        Self::create_raw(seg, name, COMPUTED, OP_CONSTANT, |region, at| {
            store_value(region, at + off.a, &value)?;
            store_value(region, at + off.cached, &value)
        })
    }

    /// Opens the C++-layout Lazy named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Foreign`] for a Python Lazy (entry size `260 + es`);
    /// [`StructureError::Corrupt`] for any other size or a state outside 0..=3;
    /// [`StructureError::Table`] if there is no such entry.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let off = Self::offsets()?;
        let entry = seg.find(name)?;
        let es = size_of::<T>() as u64;
        if entry.size() != off.size {
            if Some(entry.size()) == python_lazy_size(es) {
                return Err(StructureError::Foreign {
                    entry: entry.name().to_string(),
                    format: "Python implementation's Lazy",
                    detail: format!(
                        "{} bytes = 260 + {es}: state @0, value @4, error @{}; C++ and \
                         zeroipc store the operation and cache the value at {} ({} bytes)",
                        entry.size(),
                        4 + es,
                        off.cached,
                        off.size
                    ),
                });
            }
            return Err(Corruption::field(
                entry.name(),
                "entry size",
                entry.size(),
                format!("{} (C++ Lazy of a {es}-byte value)", off.size),
            )
            .into());
        }
        seg.region().check(entry.offset(), off.size, 8)?;
        let l = Self {
            seg: seg.clone(),
            entry,
            off,
            _t: PhantomData,
        };
        l.state()?;
        seg.check_catalog(&Record::new(CatalogKind::Lazy, name, &l.entry).elem::<T>())?;
        Ok(l)
    }

    fn word<W: crate::segment::region::InPlace>(&self, off: u64) -> Result<&W, Corruption> {
        self.seg.region().header(self.entry.offset() + off)
    }

    pub(super) fn raw(&self) -> Result<RawLazy<'_>, Corruption> {
        Ok(RawLazy {
            state: self.word::<AtomicU32>(0)?,
            owner: self.word::<AtomicU64>(self.off.owner)?,
            count: self.word::<AtomicU32>(self.off.count)?,
        })
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this Lazy lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }

    /// The current state.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0..=3.
    pub fn state(&self) -> Result<LazyState, Corruption> {
        let s = self.raw()?.state().map_err(|b| corrupt(&self.entry, b))?;
        Ok(LazyState::from_raw(s))
    }

    /// Whether the value is computed.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0..=3.
    pub fn is_computed(&self) -> Result<bool, Corruption> {
        Ok(self.state()? == LazyState::Computed)
    }

    /// The cached value if computed, without computing or waiting.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0..=3.
    pub fn peek(&self) -> Result<Option<T>, Corruption> {
        if self.is_computed()? {
            return Ok(Some(self.cached()?));
        }
        Ok(None)
    }

    fn cached(&self) -> Result<T, Corruption> {
        load_value(self.seg.region(), self.entry.offset() + self.off.cached)
    }

    /// `compute_count`: how many computations finished (C++ counts the same way).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry lies outside the mapping.
    pub fn compute_count(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a statistic.
        Ok(self.raw()?.count.load(Relaxed) as usize)
    }

    /// The stored operation.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `op.type` is not 0..=5.
    pub fn operation(&self) -> Result<Operation<T>, Corruption> {
        let region = self.seg.region();
        let at = self.entry.offset();
        // ORDERING: Relaxed — written before the entry was published, never changed.
        let op = self.word::<AtomicU32>(self.off.op)?.load(Relaxed);
        let a = || load_value::<T>(region, at + self.off.a);
        let b = || load_value::<T>(region, at + self.off.b);
        let u = |o: u64| -> Result<u32, Corruption> {
            // ORDERING: Relaxed — as above.
            Ok(self.word::<AtomicU32>(self.off.a + o)?.load(Relaxed))
        };
        Ok(match op {
            OP_CONSTANT => Operation::Constant(a()?),
            OP_ADD => Operation::Add(a()?, b()?),
            OP_MULTIPLY => Operation::Multiply(a()?, b()?),
            OP_NEGATE => Operation::Negate(a()?),
            OP_CHAIN => Operation::Chain(u(0)?, u(4)?),
            OP_EXTERNAL => Operation::External(u(0)?),
            other => {
                return Err(Corruption::field(
                    self.entry.name(),
                    "op.type",
                    u64::from(other),
                    "0 (constant) ..= 5 (external)",
                ));
            }
        })
    }

    /// COMPUTED → NOT_COMPUTED so the next force recomputes (as C++ `reset`: nothing
    /// happens in any other state). Returns whether it reset.
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry lies outside the mapping.
    pub fn reset(&self) -> Result<bool, Corruption> {
        Ok(self.raw()?.reset(pid_alive))
    }

    /// The value, computed by `compute` if this caller is first (or replaces a dead
    /// computer); otherwise waits (until `deadline`) for whoever computes it.
    fn force_inner(
        &self,
        deadline: Option<Instant>,
        compute: Option<&mut dyn FnMut() -> Outcome<T>>,
    ) -> Result<T, ForceTimeoutError> {
        let raw = self.raw()?;
        let may = compute.is_some();
        let me = current_pid();
        match raw.acquire(me, may, deadline, pid_alive) {
            RawForce::Compute(dead) => match compute {
                Some(compute) => {
                    if dead.is_some() {
                        // A dead computer may have left part of a message: C++'s zeros.
                        let at = self.entry.offset();
                        write_message(
                            self.seg.region(),
                            at + self.off.error,
                            "",
                            at + self.off.owner,
                        )?;
                    }
                    Ok(self.compute(raw, me, compute)?)
                }
                // `acquire` only claims when `may_compute`; never reached.
                None => Err(ForceTimeoutError::NoComputation { op: u32::MAX }),
            },
            RawForce::Computed => Ok(self.cached()?),
            RawForce::Failed => Err(self.failure().into()),
            RawForce::NotComputed => Err(ForceTimeoutError::NoComputation {
                op: self.operation().map_or(u32::MAX, op_code),
            }),
            RawForce::ComputerDead(pid) => Err(ForceTimeoutError::ComputerDead { pid }),
            RawForce::Timeout => Err(ForceTimeoutError::Timeout),
            RawForce::Bad(b) => Err(corrupt(&self.entry, b).into()),
        }
    }

    /// Runs `compute` while holding COMPUTING and publishes its outcome.
    fn compute(
        &self,
        raw: RawLazy<'_>,
        me: u32,
        compute: &mut dyn FnMut() -> Outcome<T>,
    ) -> Result<T, ForceError> {
        let region = self.seg.region();
        let at = self.entry.offset();
        let owner = at + self.off.owner;
        let outcome = catch_unwind(AssertUnwindSafe(compute));
        let result = match &outcome {
            Ok(Ok(v)) => {
                store_value(region, at + self.off.cached, v)?;
                raw.finish_ok(me);
                Ok(*v)
            }
            Ok(Err(msg)) => {
                write_message(region, at + self.off.error, msg, owner)?;
                raw.finish_err(me);
                Err(ForceError::Failed {
                    message: msg.clone(),
                })
            }
            Err(_) => {
                write_message(region, at + self.off.error, "computation panicked", owner)?;
                raw.finish_err(me);
                Err(ForceError::Failed {
                    message: "computation panicked".to_owned(),
                })
            }
        };
        if let Err(panic) = outcome {
            resume_unwind(panic);
        }
        result
    }

    fn failure(&self) -> ForceError {
        let at = self.entry.offset() + self.off.error;
        match read_message(self.seg.region(), at) {
            Ok(Some(message)) => ForceError::Failed { message },
            Ok(None) => Corruption::field(
                self.entry.name(),
                "error_msg",
                256,
                "a NUL terminator within its 256 bytes",
            )
            .into(),
            Err(c) => c.into(),
        }
    }

    /// The value, computing it with `f` if no one has (exactly one computation across
    /// all processes); otherwise waits for the computing process. If that process is a
    /// dead zeroipc process, this caller takes over and runs `f`.
    ///
    /// If `f` panics, the Lazy is set to ERROR ("computation panicked") and the panic
    /// continues.
    ///
    /// # Errors
    ///
    /// [`ForceError::Failed`] if the computation failed (here or elsewhere);
    /// [`ForceError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::Lazy};
    /// # let name = format!("/zeroipc-doc-lazy-force-with-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<u32> = Lazy::create(&seg, "l")?;
    /// assert_eq!(l.force_with(|| 7)?, 7);
    /// assert_eq!(l.force_with(|| 8)?, 7); // computed once
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_with(&self, f: impl FnOnce() -> T) -> Result<T, ForceError> {
        self.force_inner(None, Some(&mut once(|| Ok(f()))))
            .map_err(untimed)
    }

    /// As [`Lazy::force_with`], but never waits for another process: if one is
    /// computing right now, [`TryForceError::WouldBlock`] (and `f` does not run). If
    /// no one is, `f` runs here.
    ///
    /// # Errors
    ///
    /// [`TryForceError::WouldBlock`]; otherwise as [`Lazy::force_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::Lazy};
    /// # let name = format!("/zeroipc-doc-lazy-try-force-with-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<u32> = Lazy::create(&seg, "l")?;
    /// assert_eq!(l.try_force_with(|| 5)?, 5);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_force_with(&self, f: impl FnOnce() -> T) -> Result<T, TryForceError> {
        self.force_inner(Some(Instant::now()), Some(&mut once(|| Ok(f()))))
            .map_err(tried)
    }

    /// As [`Lazy::force_with`], waiting for another computer at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_with_deadline`].
    pub fn force_with_timeout(
        &self,
        timeout: Duration,
        f: impl FnOnce() -> T,
    ) -> Result<T, ForceTimeoutError> {
        self.force_inner(deadline_after(timeout), Some(&mut once(|| Ok(f()))))
    }

    /// As [`Lazy::force_with`], waiting for another computer until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_with`], plus [`ForceTimeoutError::Timeout`] (`f` did not run).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use zeroipc::{Segment, SegmentOptions, codata::Lazy};
    /// # let name = format!("/zeroipc-doc-lazy-force-with-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<u32> = Lazy::create(&seg, "l")?;
    /// // No one else computes: `f` runs here, whatever the deadline.
    /// assert_eq!(l.force_with_deadline(Instant::now(), || 11)?, 11);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_with_deadline(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> T,
    ) -> Result<T, ForceTimeoutError> {
        self.force_inner(Some(deadline), Some(&mut once(|| Ok(f()))))
    }

    /// As [`Lazy::force_with`] with a fallible computation: an `Err(e)` is stored as
    /// ERROR with `e`'s message (cut to 240 bytes; permanent, as in C++) and returned as
    /// [`ForceError::Failed`] here and to every other forcer.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::lazy::{Lazy, ForceError}};
    /// # let name = format!("/zeroipc-doc-lazy-err-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<i32> = Lazy::create(&seg, "l")?;
    /// let r = l.force_with_result(|| Err("no input"));
    /// assert!(matches!(r, Err(ForceError::Failed { message }) if message == "no input"));
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_with_result<E: fmt::Display>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ForceError> {
        let mut compute = once(|| f().map_err(|e| e.to_string()));
        self.force_inner(None, Some(&mut compute)).map_err(untimed)
    }

    /// As [`Lazy::force_with_result`], waiting for another computer at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_with_result_deadline`].
    pub fn force_with_result_timeout<E: fmt::Display>(
        &self,
        timeout: Duration,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ForceTimeoutError> {
        let mut compute = once(|| f().map_err(|e| e.to_string()));
        self.force_inner(deadline_after(timeout), Some(&mut compute))
    }

    /// As [`Lazy::force_with_result`], waiting for another computer until `deadline`.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_with_result`], plus [`ForceTimeoutError::Timeout`].
    pub fn force_with_result_deadline<E: fmt::Display>(
        &self,
        deadline: Instant,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, ForceTimeoutError> {
        let mut compute = once(|| f().map_err(|e| e.to_string()));
        self.force_inner(Some(deadline), Some(&mut compute))
    }
}

/// A `FnOnce` computation as the `FnMut` that `force_inner` takes (it calls it once).
fn once<T>(f: impl FnOnce() -> Outcome<T>) -> impl FnMut() -> Outcome<T> {
    let mut f = Some(f);
    move || match f.take() {
        Some(f) => f(),
        None => Err("the computation already ran".to_owned()),
    }
}

fn op_code<T>(op: Operation<T>) -> u32 {
    match op {
        Operation::Constant(_) => OP_CONSTANT,
        Operation::Add(..) => OP_ADD,
        Operation::Multiply(..) => OP_MULTIPLY,
        Operation::Negate(_) => OP_NEGATE,
        Operation::Chain(..) => OP_CHAIN,
        Operation::External(_) => OP_EXTERNAL,
    }
}

impl<T: Arithmetic> Lazy<T> {
    /// Creates a Lazy for `op` as C++ does: CONSTANT is created computed; ADD,
    /// MULTIPLY and NEGATE store their operands and start NOT_COMPUTED.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] for CHAIN or EXTERNAL (use
    /// [`Lazy::create`]); [`StructureError::Table`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::lazy::{Lazy, Operation}};
    /// # let name = format!("/zeroipc-doc-lazy-op-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<i32> = Lazy::with_operation(&seg, "neg", Operation::Negate(5))?;
    /// assert_eq!(l.peek()?, None);
    /// assert_eq!(l.force()?, -5);
    /// assert_eq!(l.compute_count()?, 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_operation(
        seg: &Segment,
        name: &str,
        op: Operation<T>,
    ) -> Result<Self, StructureError> {
        let off = Self::offsets()?;
        let (a, b) = match op {
            Operation::Constant(v) => return Self::constant(seg, name, v),
            Operation::Add(a, b) | Operation::Multiply(a, b) => (a, Some(b)),
            Operation::Negate(x) => (x, None),
            Operation::Chain(..) | Operation::External(_) => {
                return Err(StructureError::InvalidCapacity {
                    requested: u64::from(op_code(op)),
                    reason: "only constant, add, multiply and negate store their operands",
                });
            }
        };
        Self::create_raw(seg, name, NOT_COMPUTED, op_code(op), |region, at| {
            store_value(region, at + off.a, &a)?;
            match b {
                Some(b) => store_value(region, at + off.b, &b),
                None => Ok(()),
            }
        })
    }

    /// C++ `Lazy::add(a, b)`: forces `a` and `b` now and stores `a + b` unevaluated.
    ///
    /// # Errors
    ///
    /// [`CombineError::Force`] from forcing the inputs; [`CombineError::Create`] if the
    /// new entry cannot be created.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::Lazy};
    /// # let name = format!("/zeroipc-doc-lazy-add-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let a = Lazy::constant(&seg, "a", 2i64)?;
    /// let b = Lazy::constant(&seg, "b", 3i64)?;
    /// assert_eq!(Lazy::add(&seg, "sum", &a, &b)?.force()?, 5);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn add(seg: &Segment, name: &str, a: &Self, b: &Self) -> Result<Self, CombineError> {
        let op = Operation::Add(a.force()?, b.force()?);
        Self::with_operation(seg, name, op).map_err(CombineError::Create)
    }

    /// C++ `Lazy::multiply(a, b)`: forces `a` and `b` now and stores `a * b` unevaluated.
    ///
    /// # Errors
    ///
    /// As [`Lazy::add`].
    pub fn multiply(seg: &Segment, name: &str, a: &Self, b: &Self) -> Result<Self, CombineError> {
        let op = Operation::Multiply(a.force()?, b.force()?);
        Self::with_operation(seg, name, op).map_err(CombineError::Create)
    }

    fn evaluate(&self) -> Result<Outcome<T>, ForceError> {
        Ok(match self.operation()? {
            Operation::Constant(v) => Ok(v),
            Operation::Add(a, b) => Ok(a.add(b)),
            Operation::Multiply(a, b) => Ok(a.mul(b)),
            Operation::Negate(x) => Ok(x.neg()),
            op @ (Operation::Chain(..) | Operation::External(_)) => {
                return Err(ForceError::NoComputation { op: op_code(op) });
            }
        })
    }

    pub(super) fn force_op(&self, deadline: Option<Instant>) -> Result<T, ForceTimeoutError> {
        match self.evaluate() {
            Ok(outcome) => self.force_inner(deadline, Some(&mut once(|| outcome))),
            // Cannot evaluate here: only wait for (or read) someone else's result.
            Err(ForceError::NoComputation { .. }) => self.force_inner(deadline, None),
            Err(e) => Err(e.into()),
        }
    }

    /// The value: evaluates the stored operation if no one has (exactly once across
    /// processes), otherwise waits for whoever does, or takes over from a dead one.
    ///
    /// # Errors
    ///
    /// [`ForceError::NoComputation`] for CHAIN/EXTERNAL that no one computed;
    /// [`ForceError::Failed`]; [`ForceError::ComputerDead`] (CHAIN/EXTERNAL only);
    /// [`ForceError::Corrupt`].
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, codata::{Lazy, lazy::Operation}};
    /// # let name = format!("/zeroipc-doc-lazy-force-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<i32> = Lazy::with_operation(&seg, "p", Operation::Multiply(6, 7))?;
    /// assert_eq!(l.force()?, 42);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force(&self) -> Result<T, ForceError> {
        self.force_op(None).map_err(untimed)
    }

    /// As [`Lazy::force`], but never waits for another process: one computing right
    /// now gives [`TryForceError::WouldBlock`].
    ///
    /// # Errors
    ///
    /// [`TryForceError::WouldBlock`]; otherwise as [`Lazy::force`].
    pub fn try_force(&self) -> Result<T, TryForceError> {
        self.force_op(Some(Instant::now())).map_err(tried)
    }

    /// As [`Lazy::force`], waiting for another computer at most `timeout`.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force_deadline`].
    pub fn force_timeout(&self, timeout: Duration) -> Result<T, ForceTimeoutError> {
        self.force_op(deadline_after(timeout))
    }

    /// As [`Lazy::force`], waiting for another computer until `deadline` at most.
    ///
    /// # Errors
    ///
    /// As [`Lazy::force`], plus [`ForceTimeoutError::Timeout`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Instant;
    /// use zeroipc::{Segment, SegmentOptions, codata::{Lazy, lazy::Operation}};
    /// # let name = format!("/zeroipc-doc-lazy-force-deadline-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let l: Lazy<i32> = Lazy::with_operation(&seg, "n", Operation::Negate(4))?;
    /// assert_eq!(l.force_deadline(Instant::now())?, -4); // computed here: no wait
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn force_deadline(&self, deadline: Instant) -> Result<T, ForceTimeoutError> {
        self.force_op(Some(deadline))
    }
}

/// The operation of a C++ `Lazy<bool>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOperation {
    /// CONSTANT 0.
    Constant(bool),
    /// AND 1.
    And(bool, bool),
    /// OR 2.
    Or(bool, bool),
    /// XOR 3.
    Xor(bool, bool),
    /// NOT 4.
    Not(bool),
}

/// A C++ `Lazy<bool>` (its 16-byte specialisation), read-only: C++ itself cannot open
/// one, so this decodes what a C++ process wrote.
///
/// | off | field                                          |
/// |-----|------------------------------------------------|
/// | 0   | `state` u32 (0, 1, 2; no ERROR)                |
/// | 4   | `op.type` u32: CONSTANT 0, AND 1, OR 2, XOR 3, NOT 4 |
/// | 8   | `value`/`a` (1-byte bool), `b` at 9            |
/// | 12  | `cached_value` (1-byte bool)                   |
#[derive(Clone)]
pub struct LazyBool {
    seg: Segment,
    entry: Entry,
}

impl fmt::Debug for LazyBool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LazyBool")
            .field("name", self.entry.name())
            .finish_non_exhaustive()
    }
}

impl LazyBool {
    /// Opens the `Lazy<bool>` named `name` (entry size 16).
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`]; [`StructureError::Corrupt`] for another size.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.find(name)?;
        crate::sync::check_size(&entry, LAZY_BOOL_LEN)?;
        let _: &LazyBoolHeader = seg.region().header(entry.offset())?;
        // C++'s `Lazy<bool>` specialisation: a catalog, if any, records a Lazy of `bool`.
        seg.check_catalog(&Record::new(CatalogKind::Lazy, name, &entry).elem::<bool>())?;
        Ok(Self {
            seg: seg.clone(),
            entry,
        })
    }

    fn header(&self) -> Result<&LazyBoolHeader, Corruption> {
        self.seg.region().header(self.entry.offset())
    }

    fn field(&self, field: &'static str, found: u64, expected: &str) -> Corruption {
        Corruption::field(self.entry.name(), field, found, expected)
    }

    fn boolean(&self, field: &'static str, b: &crate::loom::AtomicU8) -> Result<bool, Corruption> {
        // ORDERING: Relaxed — ordered by the Acquire load of `state` before it.
        match b.load(Relaxed) {
            0 => Ok(false),
            1 => Ok(true),
            other => Err(self.field(field, u64::from(other), "0 or 1 (a C++ bool)")),
        }
    }

    /// The state (`Error` never occurs: `Lazy<bool>` has no error state).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if `state` is not 0, 1 or 2.
    pub fn state(&self) -> Result<LazyState, Corruption> {
        // ORDERING: Acquire pairs with the C++ computer's Release store of COMPUTED.
        match self.header()?.state.load(Acquire) {
            s @ (NOT_COMPUTED | COMPUTING | COMPUTED) => Ok(LazyState::from_raw(s)),
            other => Err(self.field("state", u64::from(other), "0, 1 or 2")),
        }
    }

    /// The cached value if computed.
    ///
    /// # Errors
    ///
    /// [`Corruption`] for a state outside 0..=2 or a cached byte other than 0/1.
    pub fn peek(&self) -> Result<Option<bool>, Corruption> {
        if self.state()? != LazyState::Computed {
            return Ok(None);
        }
        self.boolean("cached_value", &self.header()?.cached[0])
            .map(Some)
    }

    /// The stored operation.
    ///
    /// # Errors
    ///
    /// [`Corruption`] for an op code outside 0..=4 or an operand byte other than 0/1.
    pub fn operation(&self) -> Result<BoolOperation, Corruption> {
        let h = self.header()?;
        let a = || self.boolean("op.data.a", &h.data[0]);
        let b = || self.boolean("op.data.b", &h.data[1]);
        // ORDERING: Relaxed — written at creation, never changed.
        Ok(match h.op.load(Relaxed) {
            OP_CONSTANT => BoolOperation::Constant(a()?),
            BOOL_AND => BoolOperation::And(a()?, b()?),
            BOOL_OR => BoolOperation::Or(a()?, b()?),
            BOOL_XOR => BoolOperation::Xor(a()?, b()?),
            BOOL_NOT => BoolOperation::Not(a()?),
            other => {
                return Err(self.field("op.type", u64::from(other), "0 ..= 4"));
            }
        })
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment this `Lazy<bool>` lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

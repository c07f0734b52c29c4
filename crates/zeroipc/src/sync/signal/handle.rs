//! The `Signal` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::signal` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use core::marker::PhantomData;
use core::mem::size_of;
use std::time::{Duration, Instant};

use crate::Element;
use crate::error::{Corruption, StructureError};
use crate::layout::align8;
use crate::loom::{
    AtomicU8, AtomicU32, AtomicU64,
    Ordering::{Acquire, Release},
};
use crate::raw::words;
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::{LockError, LockTimeoutError, Mutex, WaitError, WaitTimeoutError, composite};
use crate::wait::{self, Parked, deadline_after};

const SUFFIXES: [&str; 3] = ["_state", "_mtx", ""];
const VALUE_OFFSET: u64 = 8;

/// A versioned value in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{LockError, Segment, SegmentOptions, WaitTimeoutError, sync::Signal};
/// # let name = format!("/zeroipc-doc-signal-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let temp: Signal<f64> = Signal::create(&seg, "temp", 20.0)?;
/// let v0 = temp.version()?;
/// temp.set(21.5).map_err(LockError::drop_guard)?;
/// assert_eq!(temp.wait_for_change(v0)?, v0 + 1); // changed already: returns at once
/// let t = temp.wait_for_change_timeout(v0 + 1, Duration::from_millis(5));
/// assert!(matches!(t, Err(WaitTimeoutError::Timeout)));
/// assert_eq!(temp.get().map_err(LockError::drop_guard)?, 21.5);
/// temp.update(|t| t + 1.0).map_err(LockError::drop_guard)?;
/// assert_eq!(temp.get().map_err(LockError::drop_guard)?, 22.5);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Signal<T: Element> {
    seg: Segment,
    state: Entry,
    mtx: Mutex,
    name: String,
    _t: PhantomData<fn() -> T>,
}

impl<T: Element> Clone for Signal<T> {
    fn clone(&self) -> Self {
        Self {
            seg: self.seg.clone(),
            state: self.state.clone(),
            mtx: self.mtx.clone(),
            name: self.name.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Element> fmt::Debug for Signal<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signal")
            .field("name", &self.name)
            .field("elem_size", &size_of::<T>())
            .finish()
    }
}

impl<T: Element> Signal<T> {
    const CHECK: () = assert!(
        core::mem::align_of::<T>() <= 8,
        "zeroipc elements must have an alignment of at most 8"
    );

    fn cpp_size() -> u64 {
        align8(VALUE_OFFSET + size_of::<T>() as u64).unwrap_or(u64::MAX)
    }

    /// Creates a signal holding `initial` at version 0: `name_state`, `name_mtx`, marker.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`]: `InvalidName` if `name` is longer than 25 bytes (checked
    /// first), `AlreadyExists`, or no room; [`StructureError::Corrupt`] if half-created.
    pub fn create(seg: &Segment, name: &str, initial: T) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let names = composite::names(name, &SUFFIXES)?;
        composite::check_absent(seg, name, &names)?;
        let state = seg.allocate(
            &names[0],
            Self::cpp_size(),
            |region, at| -> Result<(), StructureError> {
                let bytes: &[AtomicU8] = region.slice(at + VALUE_OFFSET, size_of::<T>() as u64)?;
                words::store::<T, AtomicU8>(bytes, &initial);
                Ok(())
            },
        )?;
        let mtx = Mutex::create(seg, &names[1])?;
        composite::create_marker(seg, &names[2])?;
        seg.record(
            &Record::new(CatalogKind::Signal, name, &state)
                .elem::<T>()
                .parts(&SUFFIXES),
        );
        Ok(Self {
            seg: seg.clone(),
            state,
            mtx,
            name: name.to_owned(),
            _t: PhantomData,
        })
    }

    /// Opens the signal named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] (`NotFound`); [`StructureError::Corrupt`] if half-created;
    /// [`StructureError::ElementSize`] if the state entry is neither the C++ nor the
    /// Python size for `T`.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let () = Self::CHECK;
        let names = composite::names(name, &SUFFIXES)?;
        let entries = composite::find_all(seg, name, &names)?;
        let state = entries[0].clone();
        let es = size_of::<T>() as u64;
        if state.size() != Self::cpp_size() && state.size() != VALUE_OFFSET + es {
            return Err(StructureError::ElementSize {
                entry: state.name().to_string(),
                stored: state.size().saturating_sub(VALUE_OFFSET),
                expected: es,
            });
        }
        let _: &AtomicU64 = seg.region().header(state.offset())?;
        let _: &[AtomicU8] = seg.region().slice(state.offset() + VALUE_OFFSET, es)?;
        let mtx = Mutex::open_entry(seg, entries[1].clone())?;
        seg.check_catalog(&Record::new(CatalogKind::Signal, name, &state).elem::<T>())?;
        Ok(Self {
            seg: seg.clone(),
            state,
            mtx,
            name: name.to_owned(),
            _t: PhantomData,
        })
    }

    fn version_word(&self) -> Result<&AtomicU64, Corruption> {
        self.seg.region().header(self.state.offset())
    }

    /// The low 32 bits of `version`, for the futex only (never loaded from Rust).
    fn futex_word(&self) -> Result<&AtomicU32, Corruption> {
        self.seg.region().header(self.state.offset())
    }

    fn value_bytes(&self) -> Result<&[AtomicU8], Corruption> {
        self.seg
            .region()
            .slice(self.state.offset() + VALUE_OFFSET, size_of::<T>() as u64)
    }

    /// Runs `f` under the mutex, waiting for it as long as it takes.
    fn locked<R>(&self, f: impl FnOnce() -> Result<R, Corruption>) -> Result<R, LockError> {
        let g = self.mtx.lock().map_err(LockError::drop_guard)?;
        let r = f();
        drop(g);
        Ok(r?)
    }

    /// Runs `f` under the mutex, waiting for it until `deadline` (`None`: no deadline,
    /// the `Instant` arithmetic overflowed).
    fn locked_until<R>(
        &self,
        deadline: Option<Instant>,
        f: impl FnOnce() -> Result<R, Corruption>,
    ) -> Result<R, LockTimeoutError> {
        let g = match deadline {
            None => self
                .mtx
                .lock()
                .map_err(|e| LockTimeoutError::from(e.drop_guard())),
            Some(d) => self
                .mtx
                .lock_deadline(d)
                .map_err(LockTimeoutError::drop_guard),
        }?;
        let r = f();
        drop(g);
        r.map_err(LockTimeoutError::from)
    }

    fn read_value(&self) -> Result<T, Corruption> {
        Ok(words::load::<T, AtomicU8>(self.value_bytes()?))
    }

    fn write_value(&self, value: &T) -> Result<u64, Corruption> {
        words::store::<T, AtomicU8>(self.value_bytes()?, value);
        self.publish()
    }

    fn update_value(&self, f: impl FnOnce(T) -> T) -> Result<u64, Corruption> {
        let bytes = self.value_bytes()?;
        let new = f(words::load::<T, AtomicU8>(bytes));
        words::store::<T, AtomicU8>(bytes, &new);
        self.publish()
    }

    /// The current version (incremented by every `set`/`update`).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the entry is out of the mapping (never once validated).
    pub fn version(&self) -> Result<u64, Corruption> {
        // ORDERING: Acquire pairs with the Release bump in `set`.
        Ok(self.version_word()?.load(Acquire))
    }

    /// The value, read under the mutex.
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDead`] (a writer died; the lock was taken over and released
    /// again, the value may be half-written); [`LockError::Corrupt`].
    pub fn get(&self) -> Result<T, LockError> {
        self.locked(|| self.read_value())
    }

    /// [`Signal::get`], waiting at most `timeout` for the mutex.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`] if the mutex stayed held (for example by a C++ or
    /// Python peer that died holding it: nothing can tell), else as [`Signal::get`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{LockError, LockTimeoutError, Segment, SegmentOptions, sync::Signal};
    /// # let name = format!("/zeroipc-doc-signal-timeout-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let s = Signal::<u32>::create(&seg, "temp", 20)?;
    /// assert_eq!(s.get_timeout(Duration::from_millis(10))?, 20);
    /// let held = s.mutex().lock().map_err(LockError::drop_guard)?;
    /// let t = s.get_timeout(Duration::from_millis(5));
    /// assert!(matches!(t, Err(LockTimeoutError::Timeout)));
    /// assert!(matches!(s.set_timeout(1, Duration::ZERO), Err(LockTimeoutError::Timeout)));
    /// drop(held);
    /// assert_eq!(s.update_timeout(|t| t + 1, Duration::from_millis(10))?, 1);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, LockTimeoutError> {
        self.locked_until(deadline_after(timeout), || self.read_value())
    }

    /// [`Signal::get`], waiting until `deadline` at the latest for the mutex.
    ///
    /// # Errors
    ///
    /// As [`Signal::get_timeout`].
    pub fn get_deadline(&self, deadline: Instant) -> Result<T, LockTimeoutError> {
        self.locked_until(Some(deadline), || self.read_value())
    }

    fn publish(&self) -> Result<u64, Corruption> {
        // ORDERING: Release pairs with the Acquire load in `version`/`wait_for_change`:
        // the value written before happens-before a reader that sees the new version.
        let v = self.version_word()?.fetch_add(1, Release).wrapping_add(1);
        wait::wake_all(self.futex_word()?);
        Ok(v)
    }

    /// Stores `value` and bumps the version; returns the new version.
    ///
    /// # Errors
    ///
    /// As [`Signal::get`].
    pub fn set(&self, value: T) -> Result<u64, LockError> {
        self.locked(|| self.write_value(&value))
    }

    /// [`Signal::set`], waiting at most `timeout` for the mutex.
    ///
    /// # Errors
    ///
    /// As [`Signal::get_timeout`].
    pub fn set_timeout(&self, value: T, timeout: Duration) -> Result<u64, LockTimeoutError> {
        self.locked_until(deadline_after(timeout), || self.write_value(&value))
    }

    /// [`Signal::set`], waiting until `deadline` at the latest for the mutex.
    ///
    /// # Errors
    ///
    /// As [`Signal::get_timeout`].
    pub fn set_deadline(&self, value: T, deadline: Instant) -> Result<u64, LockTimeoutError> {
        self.locked_until(Some(deadline), || self.write_value(&value))
    }

    /// Replaces the value with `f(value)` under the mutex; returns the new version.
    ///
    /// # Errors
    ///
    /// As [`Signal::get`].
    pub fn update(&self, f: impl FnOnce(T) -> T) -> Result<u64, LockError> {
        self.locked(|| self.update_value(f))
    }

    /// [`Signal::update`], waiting at most `timeout` for the mutex.
    ///
    /// # Errors
    ///
    /// As [`Signal::get_timeout`].
    pub fn update_timeout(
        &self,
        f: impl FnOnce(T) -> T,
        timeout: Duration,
    ) -> Result<u64, LockTimeoutError> {
        self.locked_until(deadline_after(timeout), || self.update_value(f))
    }

    /// [`Signal::update`], waiting until `deadline` at the latest for the mutex.
    ///
    /// # Errors
    ///
    /// As [`Signal::get_timeout`].
    pub fn update_deadline(
        &self,
        f: impl FnOnce(T) -> T,
        deadline: Instant,
    ) -> Result<u64, LockTimeoutError> {
        self.locked_until(Some(deadline), || self.update_value(f))
    }

    /// Whether the version differs from `seen`.
    ///
    /// # Errors
    ///
    /// As [`Signal::version`].
    pub fn has_changed(&self, seen: u64) -> Result<bool, Corruption> {
        Ok(self.version()? != seen)
    }

    /// Waits, as long as it takes, until the version differs from `seen`; returns it.
    ///
    /// # Errors
    ///
    /// [`WaitError::Corrupt`] if the state entry is out of the mapping (never once
    /// validated).
    pub fn wait_for_change(&self, seen: u64) -> Result<u64, WaitError> {
        loop {
            match self.wait_for_change_until(seen, None) {
                Ok(v) => return Ok(v),
                Err(WaitTimeoutError::Corrupt(c)) => return Err(WaitError::Corrupt(c)),
                // A wait without deadline does not time out; were it ever to, wait on.
                Err(WaitTimeoutError::Timeout) => {}
            }
        }
    }

    /// Waits until the version differs from `seen`, at most `timeout`; returns it.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_for_change_timeout(
        &self,
        seen: u64,
        timeout: Duration,
    ) -> Result<u64, WaitTimeoutError> {
        self.wait_for_change_until(seen, deadline_after(timeout))
    }

    /// Waits until the version differs from `seen`, until `deadline`; returns it.
    ///
    /// # Errors
    ///
    /// [`WaitTimeoutError::Timeout`]; [`WaitTimeoutError::Corrupt`].
    pub fn wait_for_change_deadline(
        &self,
        seen: u64,
        deadline: Instant,
    ) -> Result<u64, WaitTimeoutError> {
        self.wait_for_change_until(seen, Some(deadline))
    }

    #[allow(clippy::cast_possible_truncation)] // the futex compares the low 32 bits
    fn wait_for_change_until(
        &self,
        seen: u64,
        deadline: Option<Instant>,
    ) -> Result<u64, WaitTimeoutError> {
        let word = self.futex_word()?;
        loop {
            let v = self.version()?;
            if v != seen {
                return Ok(v);
            }
            if wait::park(word, seen as u32, deadline) == Parked::TimedOut {
                let v = self.version()?;
                return if v != seen {
                    Ok(v)
                } else {
                    Err(WaitTimeoutError::Timeout)
                };
            }
        }
    }

    /// The mutex (`name_mtx`).
    #[must_use]
    pub fn mutex(&self) -> &Mutex {
        &self.mtx
    }

    /// The table entry the catalog names for this signal: `name_state` (version and
    /// value; the marker `name` holds no data).
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.state
    }

    /// The segment the signal lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

//! Event: a flag processes wait on, auto-reset (one waiter per signal) or manual-reset
//! (everyone until `reset`).
//!
//! # Layout (FORMAT.md §7.6; entries created in this order)
//!
//! | entry      | size | contents                                                           |
//! |------------|------|--------------------------------------------------------------------|
//! | `name`     | 12   | `signaled` u32 @0, `mode` u32 @4 (AutoReset 0, ManualReset 1), `waiting` u32 @8 |
//! | `name_sem` | 16   | a [`Semaphore`](super::Semaphore), count 0, max 0 (unbounded)      |
//!
//! The longest composed name (`name_sem`) is checked before anything is created (base name
//! at most 27 bytes); an Event whose `_sem` is missing is reported as half-created.
//!
//! # Synchronization
//!
//! | store (Release)            | load (Acquire)                | publishes                    |
//! |----------------------------|-------------------------------|------------------------------|
//! | `signaled = 1` in `signal` | `signaled` in manual `wait`   | the signaller's writes       |
//! | `_sem` release (auto)      | `_sem` acquire in auto `wait` | the signaller's writes       |
//!
//! Manual-reset waiters count themselves in `waiting` (as C++) and sleep on the `signaled`
//! futex; `signal` wakes them all. Auto-reset waiters block on the semaphore, as upstream.
//! Upstream semantics are kept: an auto-reset signal with no waiter is remembered by the
//! semaphore (FORMAT.md D-22).
//!
//! `pulse`: signal, wait until the counted manual waiters have left (at most
//! [`PULSE_GRACE`], or what [`Event::with_pulse_grace`] sets: a dead waiter must not hang
//! the pulser, D-22), then reset. Python waiters are not counted (IH-20) and may miss a
//! pulse, as upstream.
//!
//! # Process death
//!
//! An Event has no holder. A waiter that dies leaves `waiting` one too high: `pulse` then
//! waits its grace period. Waiters use the `_timeout` variants to bound their own wait.

use std::time::{Duration, Instant};

use crate::loom::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::wait::{self, Parked};

#[cfg(not(loom))]
pub use handle::{Event, EventMode};

/// The manual-reset half of the Event state machine, over views of `signaled` and
/// `waiting` (the auto-reset half is the `_sem` semaphore's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawManualEvent<'a> {
    pub(crate) signaled: &'a AtomicU32,
    pub(crate) waiting: &'a AtomicU32,
}

impl RawManualEvent<'_> {
    /// Sets the flag and wakes every sleeper.
    pub(crate) fn signal(&self) {
        // ORDERING: Release pairs with the Acquire load in `is_set`.
        self.signaled.store(1, Release);
        wait::wake_all(self.signaled);
    }

    /// Whether the flag is set.
    pub(crate) fn is_set(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `signal`.
        self.signaled.load(Acquire) != 0
    }

    /// Waits (counted in `waiting`, as C++) until the flag is set; `false` on timeout.
    pub(crate) fn wait(&self, deadline: Option<Instant>) -> bool {
        // ORDERING: Relaxed — `waiting` only tells `pulse` how long to hold the signal.
        self.waiting.fetch_add(1, Relaxed);
        let set = loop {
            if self.is_set() {
                break true;
            }
            if wait::park(self.signaled, 0, deadline) == Parked::TimedOut {
                break self.is_set();
            }
        };
        // ORDERING: Release — as upstream; `pulse` reads it (Acquire) to know we have left.
        self.waiting.fetch_sub(1, Release);
        wait::wake_all(self.waiting);
        set
    }
}

/// The longest `pulse` waits for counted manual-reset waiters to leave.
pub const PULSE_GRACE: Duration = Duration::from_millis(50);

#[cfg(not(loom))]
mod handle {
    use core::fmt;
    use std::time::{Duration, Instant};

    use super::{PULSE_GRACE, RawManualEvent};
    use crate::error::{Corruption, StructureError};
    use crate::layout::event::{AUTO_RESET, EVENT_LEN, EventHeader, MANUAL_RESET, SEM_SUFFIX};
    use crate::loom::Ordering::{Acquire, Relaxed, Release};
    use crate::segment::{CatalogKind, Entry, Record, Segment};
    use crate::sync::wait::{self, Parked, deadline_after};
    use crate::sync::{LockError, Semaphore, WaitError, check_size, composite};

    /// How an [`Event`] resets.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum EventMode {
        /// Each signal lets one waiter through, then the event is clear again.
        AutoReset,
        /// A signal lets every waiter through until `reset`.
        ManualReset,
    }

    /// An event in a segment. See the [module docs](super).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions, sync::{Event, EventMode}};
    /// # let name = format!("/zeroipc-doc-event-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let go = Event::create(&seg, "go", EventMode::ManualReset)?;
    /// assert!(go.wait_timeout(Duration::from_millis(5)).is_err());
    /// go.signal()?;
    /// go.wait()?;
    /// go.wait()?; // manual reset: stays signaled
    /// go.reset()?;
    /// assert!(!go.is_signaled()?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct Event {
        seg: Segment,
        entry: Entry,
        sem: Semaphore,
        mode: EventMode,
        grace: Duration,
    }

    impl fmt::Debug for Event {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Event")
                .field("name", self.entry.name())
                .field("mode", &self.mode)
                .field("pulse_grace", &self.grace)
                .finish()
        }
    }

    fn lock_to_wait(e: LockError) -> WaitError {
        match e {
            LockError::Corrupt(c) => WaitError::Corrupt(c),
            _ => WaitError::Timeout,
        }
    }

    impl Event {
        /// Creates a clear event: `name`, then `name_sem`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`]: `InvalidName` if `name` is longer than 27 bytes (checked
        /// before anything is created), `AlreadyExists`, or no room;
        /// [`StructureError::Corrupt`] if only one of the two entries exists (half-created).
        pub fn create(seg: &Segment, name: &str, mode: EventMode) -> Result<Self, StructureError> {
            let names = composite::names(name, &["", SEM_SUFFIX])?;
            composite::check_absent(seg, name, &names)?;
            let raw_mode = match mode {
                EventMode::AutoReset => AUTO_RESET,
                EventMode::ManualReset => MANUAL_RESET,
            };
            let entry = seg.allocate(
                &names[0],
                EVENT_LEN,
                |region, at| -> Result<(), StructureError> {
                    let h: &EventHeader = region.header(at)?;
                    // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
                    h.mode.store(raw_mode, Relaxed);
                    Ok(())
                },
            )?;
            let sem = Semaphore::create_untracked(seg, &names[1], 0, 0)?;
            seg.record(&Record::new(CatalogKind::Event, name, &entry).parts(&["", SEM_SUFFIX]));
            Ok(Self {
                seg: seg.clone(),
                entry,
                sem,
                mode,
                grace: PULSE_GRACE,
            })
        }

        /// Opens the event named `name` (and its `name_sem`).
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] (`NotFound`); [`StructureError::Corrupt`] if `name_sem`
        /// is missing (half-created), the sizes are wrong or `mode` is not 0 or 1.
        pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let names = composite::names(name, &["", SEM_SUFFIX])?;
            let entries = composite::find_all(seg, name, &names)?;
            let entry = entries[0].clone();
            check_size(&entry, EVENT_LEN)?;
            let h: &EventHeader = seg.region().header(entry.offset())?;
            // ORDERING: Relaxed — written once by the creator (C++ re-reads it per call; no
            // implementation ever changes it).
            let mode = match h.mode.load(Relaxed) {
                AUTO_RESET => EventMode::AutoReset,
                MANUAL_RESET => EventMode::ManualReset,
                found => {
                    return Err(Corruption::Field {
                        entry: name.to_owned(),
                        field: "mode",
                        found: u64::from(found),
                        expected: "0 (AutoReset) or 1 (ManualReset)".to_owned(),
                    }
                    .into());
                }
            };
            let sem = Semaphore::open(seg, &names[1])?.without_holder_tracking();
            Ok(Self {
                seg: seg.clone(),
                entry,
                sem,
                mode,
                grace: PULSE_GRACE,
            })
        }

        fn header(&self) -> Result<&EventHeader, Corruption> {
            self.seg.region().header(self.entry.offset())
        }

        /// Sets how long [`Event::pulse`] waits for the counted manual-reset waiters to
        /// leave before it resets anyway (default [`PULSE_GRACE`], 50 ms). A waiter that
        /// died while counted, or a corrupt `waiting` word, costs every pulse this long.
        ///
        /// # Examples
        ///
        /// ```
        /// # use std::time::Duration;
        /// # use zeroipc::{Segment, SegmentOptions, sync::{Event, EventMode}};
        /// # let name = format!("/zeroipc-doc-event-grace-{}", std::process::id());
        /// # let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
        /// let tick = Event::create(&seg, "tick", EventMode::ManualReset)?
        ///     .with_pulse_grace(Duration::from_millis(5));
        /// assert_eq!(tick.pulse_grace(), Duration::from_millis(5));
        /// tick.pulse()?; // nobody waits: signals and resets at once
        /// assert!(!tick.is_signaled()?);
        /// # Segment::unlink(&name)?;
        /// # Ok::<(), Box<dyn std::error::Error>>(())
        /// ```
        #[must_use]
        pub fn with_pulse_grace(mut self, grace: Duration) -> Self {
            self.grace = grace;
            self
        }

        /// How long [`Event::pulse`] waits for counted waiters (see
        /// [`Event::with_pulse_grace`]).
        #[must_use]
        pub fn pulse_grace(&self) -> Duration {
            self.grace
        }

        /// The reset mode.
        #[must_use]
        pub fn mode(&self) -> EventMode {
            self.mode
        }

        /// Signals: manual-reset wakes every waiter; auto-reset lets one waiter through.
        ///
        /// # Errors
        ///
        /// [`WaitError::Corrupt`] if the semaphore is corrupt (or would overflow i32).
        pub fn signal(&self) -> Result<(), WaitError> {
            let h = self.header()?;
            RawManualEvent {
                signaled: &h.signaled,
                waiting: &h.waiting,
            }
            .signal();
            if self.mode == EventMode::AutoReset {
                self.sem.release().map_err(|e| match e {
                    crate::sync::ReleaseError::Corrupt(c) => WaitError::Corrupt(c),
                    other => WaitError::Corrupt(Corruption::Field {
                        entry: self.sem.entry().name().to_string(),
                        field: "count",
                        found: 0,
                        expected: other.to_string(),
                    }),
                })?;
            }
            Ok(())
        }

        /// Clears the signal.
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the entry is out of the mapping (never once validated).
        pub fn reset(&self) -> Result<(), Corruption> {
            // ORDERING: Release — as upstream; orders our earlier writes before the clear.
            self.header()?.signaled.store(0, Release);
            Ok(())
        }

        /// Whether it is signaled now.
        ///
        /// # Errors
        ///
        /// As for [`Event::reset`].
        pub fn is_signaled(&self) -> Result<bool, Corruption> {
            // ORDERING: Acquire pairs with the Release store in `signal`.
            Ok(self.header()?.signaled.load(Acquire) != 0)
        }

        fn wait_inner(&self, deadline: Option<Instant>) -> Result<(), WaitError> {
            let h = self.header()?;
            if self.mode == EventMode::AutoReset {
                match deadline {
                    None => self.sem.acquire(),
                    Some(d) => self.sem.acquire_deadline(d),
                }
                .map_err(lock_to_wait)?;
                // ORDERING: Release — as upstream: consumed.
                h.signaled.store(0, Release);
                return Ok(());
            }
            let raw = RawManualEvent {
                signaled: &h.signaled,
                waiting: &h.waiting,
            };
            if raw.wait(deadline) {
                Ok(())
            } else {
                Err(WaitError::Timeout)
            }
        }

        /// Waits until signaled (auto-reset: consumes the signal).
        ///
        /// # Errors
        ///
        /// [`WaitError::Corrupt`] if the semaphore is corrupt.
        pub fn wait(&self) -> Result<(), WaitError> {
            self.wait_inner(None)
        }

        /// Waits at most `timeout`.
        ///
        /// # Errors
        ///
        /// [`WaitError::Timeout`]; [`WaitError::Corrupt`].
        pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError> {
            self.wait_inner(deadline_after(timeout))
        }

        /// Waits until `deadline`.
        ///
        /// # Errors
        ///
        /// [`WaitError::Timeout`]; [`WaitError::Corrupt`].
        pub fn wait_deadline(&self, deadline: Instant) -> Result<(), WaitError> {
            self.wait_inner(Some(deadline))
        }

        /// Signals, lets the counted manual-reset waiters leave (for at most the
        /// [pulse grace](Event::with_pulse_grace), [`PULSE_GRACE`] unless set), then resets.
        ///
        /// # Errors
        ///
        /// As for [`Event::signal`].
        pub fn pulse(&self) -> Result<(), WaitError> {
            self.signal()?;
            let h = self.header()?;
            let deadline = deadline_after(self.grace);
            loop {
                // ORDERING: Acquire pairs with the waiters' Release decrement.
                let w = h.waiting.load(Acquire);
                if w == 0 || wait::park(&h.waiting, w, deadline) == Parked::TimedOut {
                    break;
                }
            }
            self.reset()?;
            Ok(())
        }

        /// Counted manual-reset waiters now (a snapshot).
        ///
        /// # Errors
        ///
        /// As for [`Event::reset`].
        pub fn waiting(&self) -> Result<u32, Corruption> {
            // ORDERING: Relaxed — a snapshot.
            Ok(self.header()?.waiting.load(Relaxed))
        }

        /// The `name_sem` semaphore.
        #[must_use]
        pub fn semaphore(&self) -> &Semaphore {
            &self.sem
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    #[test]
    fn loom_manual_event_signal_releases_every_waiter() {
        loom::model(|| {
            let w = Arc::new((AtomicU32::new(0), AtomicU32::new(0)));
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    let w = w.clone();
                    thread::spawn(move || {
                        RawManualEvent {
                            signaled: &w.0,
                            waiting: &w.1,
                        }
                        .wait(None)
                    })
                })
                .collect();
            RawManualEvent {
                signaled: &w.0,
                waiting: &w.1,
            }
            .signal();
            for t in waiters {
                assert!(t.join().unwrap());
            }
            // ORDERING: Relaxed — after join.
            assert_eq!(w.1.load(Relaxed), 0);
        });
    }
}

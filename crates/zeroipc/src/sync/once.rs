//! Once: run an initialiser exactly once among all processes, surviving a dead initialiser.
//!
//! # Layout (FORMAT.md §7.5)
//!
//! | off | size | field   | notes                                                      |
//! |-----|------|---------|------------------------------------------------------------|
//! | 0   | 4    | `state` | PENDING 0, EXECUTING 1, DONE 2; anything else is corruption |
//! | 4   | 4    | (gap)   | **zeroipc: pid of the running initialiser**, 0 = unknown   |
//!
//! The entry is 4 bytes (Go and Python insist). Every allocator starts each structure on a
//! multiple of 8 (FORMAT.md §3.6, §4), so bytes 4..8 after a Once are never part of any
//! structure, and no implementation reads them: zeroipc keeps the pid there when they are
//! inside the mapping (if a Once ends the mapping exactly, no pid is kept and a dead
//! initialiser is seen as a timeout).
//!
//! # Synchronization
//!
//! | store (Release)              | load (Acquire)             | publishes                    |
//! |------------------------------|----------------------------|------------------------------|
//! | `state = DONE` after `f`     | `state` load by every caller | everything `f` wrote        |
//! | pid store by the initialiser | pid CAS dead → self        | (which process runs `f`)     |
//!
//! Losers sleep on the `state` futex (re-checking every millisecond); the initialiser wakes
//! them all when it stores DONE.
//!
//! # Process death
//!
//! A zeroipc initialiser that dies leaves EXECUTING (FORMAT.md D-21). A waiter sees its pid
//! gone (`kill(pid, 0)`), takes over with a CAS on the pid word and runs its own `f`; it gets
//! [`OnceOutcome::Recovered`]. A dead initialiser of another language (no pid), or one killed
//! between its CAS and its pid store, is seen as
//! [`WaitTimeoutError::Timeout`](super::WaitTimeoutError::Timeout) by
//! the `_timeout` variants. As upstream, an `f` that panics still marks the Once DONE.

use std::time::Instant;

use crate::layout::once::{DONE, EXECUTING, PENDING};
use crate::loom::{
    AtomicU32,
    Ordering::{AcqRel, Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::sync::wait::{self, Parked};

/// How `call_once` ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnceOutcome {
    /// This caller ran the initialiser.
    Ran,
    /// Someone else ran it (possibly while this caller waited).
    AlreadyDone,
    /// The initialiser (process `pid`) died; this caller ran the initialiser again.
    Recovered {
        /// The dead initialiser's pid.
        pid: u32,
    },
}

/// Why a raw `call` failed.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawOnceError {
    /// The deadline passed while someone else was executing.
    Timeout,
    /// `state` is not one of the three states.
    Bad(BadWord),
}

/// The Once state machine over views of `state` and (when present) the pid word.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawOnce<'a> {
    pub(crate) state: &'a AtomicU32,
    pub(crate) pid: Option<&'a AtomicU32>,
}

fn bad(found: u32) -> BadWord {
    BadWord {
        field: "state",
        found: u64::from(found),
        expected: "0 (pending), 1 (executing) or 2 (done)",
    }
}

/// Stores DONE and wakes everyone, also when `f` panics.
struct Finish<'a>(RawOnce<'a>);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        if let Some(pid) = self.0.pid {
            // ORDERING: Relaxed — the Release store of `state` below publishes it.
            pid.store(0, Relaxed);
        }
        // ORDERING: Release pairs with the Acquire loads of `state` in `call`: everything `f`
        // wrote happens-before any caller that sees DONE.
        self.0.state.store(DONE, Release);
        wait::wake_all(self.0.state);
    }
}

impl RawOnce<'_> {
    /// Whether the initialiser finished.
    pub(crate) fn is_done(&self) -> Result<bool, BadWord> {
        // ORDERING: Acquire pairs with the Release store of DONE in `Finish::drop`.
        match self.state.load(Acquire) {
            DONE => Ok(true),
            PENDING | EXECUTING => Ok(false),
            other => Err(bad(other)),
        }
    }

    fn run(&self, f: impl FnOnce()) {
        let finish = Finish(*self);
        f();
        drop(finish);
    }

    /// Runs `f` if no one has; otherwise waits (until `deadline`) for whoever is running it.
    pub(crate) fn call(
        &self,
        me: u32,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
        f: impl FnOnce(),
    ) -> Result<OnceOutcome, RawOnceError> {
        loop {
            // ORDERING: Acquire pairs with the Release store of DONE.
            match self.state.load(Acquire) {
                DONE => return Ok(OnceOutcome::AlreadyDone),
                PENDING => {
                    // ORDERING: AcqRel on success (Acquire: a previous reset's writes; Release
                    // is harmless), Acquire on failure to read DONE's publication.
                    if self
                        .state
                        .compare_exchange(PENDING, EXECUTING, AcqRel, Acquire)
                        .is_ok()
                    {
                        crate::fault::point("once.call.after_claim");
                        if let Some(pid) = self.pid {
                            // ORDERING: Relaxed — only compared and checked for liveness.
                            pid.store(me, Relaxed);
                        }
                        crate::fault::point("once.call.running");
                        self.run(f);
                        return Ok(OnceOutcome::Ran);
                    }
                }
                EXECUTING => {
                    if let Some(dead) = self.take_over(me, &alive) {
                        self.run(f);
                        return Ok(OnceOutcome::Recovered { pid: dead });
                    }
                    if wait::spin_while(self.state, EXECUTING) {
                        continue;
                    }
                    if wait::park(self.state, EXECUTING, deadline) == Parked::TimedOut {
                        return match self.is_done().map_err(RawOnceError::Bad)? {
                            true => Ok(OnceOutcome::AlreadyDone),
                            false => Err(RawOnceError::Timeout),
                        };
                    }
                }
                other => return Err(RawOnceError::Bad(bad(other))),
            }
        }
    }

    fn take_over(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<u32> {
        let word = self.pid?;
        // ORDERING: Relaxed — a candidate only; the CAS decides.
        let pid = word.load(Relaxed);
        if pid == 0 || pid == me || alive(pid) {
            return None;
        }
        // ORDERING: Acquire pairs with the initialiser's pid store; while the word holds
        // `pid`, that process is the initialiser (it clears the word before storing DONE).
        word.compare_exchange(pid, me, Acquire, Relaxed)
            .ok()
            .map(|_| pid)
    }
}

#[cfg(not(loom))]
pub use handle::Once;

#[cfg(not(loom))]
mod handle {
    use core::fmt;
    use std::time::{Duration, Instant};

    use super::{OnceOutcome, RawOnce, RawOnceError};
    use crate::error::{Corruption, StructureError};
    use crate::layout::once::{ONCE_LEN, ONCE_PID_OFFSET, PENDING};
    use crate::loom::{AtomicU32, Ordering::Relaxed};
    use crate::segment::{CatalogKind, Entry, Record, Segment};
    use crate::sync::semaphore::handle::corrupt;
    use crate::sync::wait::deadline_after;
    use crate::sync::{WaitError, WaitTimeoutError};
    use crate::sys::process::{current_pid, pid_alive};

    /// A once-only initialisation flag in a segment. See the [module docs](super).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, sync::{Once, OnceOutcome}};
    /// # let name = format!("/zeroipc-doc-once-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let init = Once::create(&seg, "init")?;
    /// assert_eq!(init.call_once(|| println!("setting up"))?, OnceOutcome::Ran);
    /// assert_eq!(init.call_once(|| unreachable!())?, OnceOutcome::AlreadyDone);
    /// assert!(init.is_completed()?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct Once {
        seg: Segment,
        entry: Entry,
    }

    impl fmt::Debug for Once {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Once")
                .field("name", self.entry.name())
                .finish_non_exhaustive()
        }
    }

    impl Once {
        /// Creates a pending Once named `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if the name is taken or there is no room.
        pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let entry =
                seg.allocate(name, ONCE_LEN, |region, at| -> Result<(), StructureError> {
                    let s: &AtomicU32 = region.header(at)?;
                    // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
                    s.store(PENDING, Relaxed);
                    // The gap after the entry (unpublished, under the allocation lock): clear it.
                    if let Ok(pid) = region.header::<AtomicU32>(at + ONCE_PID_OFFSET) {
                        pid.store(0, Relaxed);
                    }
                    Ok(())
                })?;
            seg.record(&Record::new(CatalogKind::Once, name, &entry));
            Ok(Self {
                seg: seg.clone(),
                entry,
            })
        }

        /// Opens the Once named `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
        /// if its size is not 4.
        pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let entry = seg.find(name)?;
            crate::sync::check_size(&entry, ONCE_LEN)?;
            let _: &AtomicU32 = seg.region().header(entry.offset())?;
            Ok(Self {
                seg: seg.clone(),
                entry,
            })
        }

        fn raw(&self) -> Result<RawOnce<'_>, Corruption> {
            let region = self.seg.region();
            let state = region.header::<AtomicU32>(self.entry.offset())?;
            let pid = region
                .header::<AtomicU32>(self.entry.offset() + ONCE_PID_OFFSET)
                .ok();
            Ok(RawOnce { state, pid })
        }

        fn call_inner(
            &self,
            deadline: Option<Instant>,
            f: impl FnOnce(),
        ) -> Result<OnceOutcome, WaitTimeoutError> {
            self.raw()?
                .call(current_pid(), deadline, pid_alive, f)
                .map_err(|e| match e {
                    RawOnceError::Timeout => WaitTimeoutError::Timeout,
                    RawOnceError::Bad(b) => WaitTimeoutError::Corrupt(corrupt(&self.entry, b)),
                })
        }

        /// Runs `f` unless it already ran (in any process); waits while another runs it.
        ///
        /// If a zeroipc initialiser died, this caller runs `f` and gets
        /// [`OnceOutcome::Recovered`]. A dead initialiser of another language makes this
        /// wait forever: prefer [`Once::call_once_timeout`] when such peers share it.
        ///
        /// # Errors
        ///
        /// [`WaitError::Corrupt`] if `state` is not 0, 1 or 2.
        pub fn call_once(&self, f: impl FnOnce()) -> Result<OnceOutcome, WaitError> {
            match self.call_inner(None, f) {
                Ok(o) => Ok(o),
                Err(WaitTimeoutError::Corrupt(c)) => Err(WaitError::Corrupt(c)),
                // The raw call parks with no deadline, and `wait::park` reports `TimedOut`
                // only for a deadline that passed (and `f` is gone: no retry).
                Err(WaitTimeoutError::Timeout) => {
                    unreachable!("a call_once without deadline timed out")
                }
            }
        }

        /// As [`Once::call_once`], waiting for another initialiser at most `timeout`.
        ///
        /// # Errors
        ///
        /// [`WaitTimeoutError::Timeout`] (`f` did not run); [`WaitTimeoutError::Corrupt`].
        pub fn call_once_timeout(
            &self,
            timeout: Duration,
            f: impl FnOnce(),
        ) -> Result<OnceOutcome, WaitTimeoutError> {
            self.call_inner(deadline_after(timeout), f)
        }

        /// As [`Once::call_once`], waiting for another initialiser until `deadline`.
        ///
        /// # Errors
        ///
        /// [`WaitTimeoutError::Timeout`] (`f` did not run); [`WaitTimeoutError::Corrupt`].
        pub fn call_once_deadline(
            &self,
            deadline: Instant,
            f: impl FnOnce(),
        ) -> Result<OnceOutcome, WaitTimeoutError> {
            self.call_inner(Some(deadline), f)
        }

        /// Whether the initialiser finished.
        ///
        /// # Errors
        ///
        /// [`Corruption`] if `state` is not 0, 1 or 2.
        pub fn is_completed(&self) -> Result<bool, Corruption> {
            self.raw()?.is_done().map_err(|b| corrupt(&self.entry, b))
        }

        /// The raw state word (0 pending, 1 executing, 2 done).
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the entry is out of the mapping (never for a validated entry).
        pub fn state(&self) -> Result<u32, Corruption> {
            // ORDERING: Relaxed — a snapshot.
            Ok(self.raw()?.state.load(Relaxed))
        }

        /// The table entry.
        #[must_use]
        pub fn entry(&self) -> &Entry {
            &self.entry
        }

        /// The segment the Once lives in.
        #[must_use]
        pub fn segment(&self) -> &Segment {
            &self.seg
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::sync::atomic::AtomicUsize;
    use loom::thread;

    use super::*;

    #[test]
    fn loom_once_runs_once_and_waiters_see_its_writes() {
        loom::model(|| {
            let state = Arc::new((
                AtomicU32::new(PENDING),
                AtomicU32::new(0),
                AtomicUsize::new(0),
            ));
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let raw = RawOnce {
                            state: &s.0,
                            pid: Some(&s.1),
                        };
                        raw.call(
                            me,
                            None,
                            |_| true,
                            || {
                                s.2.fetch_add(1, Relaxed);
                            },
                        )
                        .unwrap();
                        // Whoever returns sees the initialiser's write.
                        assert_eq!(s.2.load(Relaxed), 1);
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            assert_eq!(state.0.load(Relaxed), DONE);
        });
    }

    #[test]
    fn loom_once_dead_initialiser_is_replaced_exactly_once() {
        loom::model(|| {
            // Process 9 died while executing the initialiser.
            let state = Arc::new((
                AtomicU32::new(EXECUTING),
                AtomicU32::new(9),
                AtomicUsize::new(0),
            ));
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let s = state.clone();
                    thread::spawn(move || {
                        let raw = RawOnce {
                            state: &s.0,
                            pid: Some(&s.1),
                        };
                        let out = raw
                            .call(
                                me,
                                None,
                                |pid| pid != 9,
                                || {
                                    s.2.fetch_add(1, Relaxed);
                                },
                            )
                            .unwrap();
                        assert!(
                            matches!(
                                out,
                                OnceOutcome::Recovered { pid: 9 } | OnceOutcome::AlreadyDone
                            ),
                            "{out:?}"
                        );
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            // ORDERING: Relaxed — after join.
            assert_eq!(
                state.2.load(Relaxed),
                1,
                "the initialiser re-ran exactly once"
            );
            assert_eq!(state.0.load(Relaxed), DONE);
            assert_eq!(state.1.load(Relaxed), 0);
        });
    }
}

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
//! `pulse`: signal, wait until the counted manual waiters have left (at most the handle's
//! stall timeout, 50 ms unless [`Event::with_stall_timeout`] sets another: a dead waiter
//! must not hang the pulser, D-22), then reset. Python waiters are not counted (IH-20) and may miss a
//! pulse, as upstream.
//!
//! # Process death
//!
//! An Event has no holder. A waiter that dies leaves `waiting` one too high: `pulse` then
//! waits its stall timeout. Waiters use the `_timeout` forms to bound their own wait.

use std::time::{Duration, Instant};

use crate::loom::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::wait::{self, Parked};

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

/// The default stall timeout of an [`Event`] handle: the longest `pulse` waits for counted
/// manual-reset waiters to leave.
///
/// Not [`crate::DEFAULT_STALL_TIMEOUT`] (1 s), on purpose: live waiters leave within
/// microseconds of the signal, so this bound is only ever reached because of a waiter that
/// died while counted (or a corrupt `waiting` word), and then **every** later `pulse` pays
/// it. At 1 s one dead waiter would cap a pulser at one pulse a second; 50 ms (the value
/// since the first release) keeps that cost small while still covering a waiter that is
/// descheduled on a loaded 2-core machine. The name and builder are the crate's one stall
/// name (`with_stall_timeout` / `stall_timeout`).
const PULSE_STALL_TIMEOUT: Duration = Duration::from_millis(50);

#[cfg(not(loom))]
mod handle;

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

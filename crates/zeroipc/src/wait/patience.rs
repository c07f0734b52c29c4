//! The one stall policy: how long to wait for a peer that holds what we need (a half-written
//! slot, a claimed map slot, a lock word) before reporting it stalled.
//!
//! [`Patience`] spins with [`Backoff`], then yields for [`YIELD_FOR`], then naps [`NAP`] at a
//! time, and gives up after a *time* bound (the handle's stall timeout, by default
//! [`crate::DEFAULT_STALL_TIMEOUT`]), never after an iteration count: 10,000 yields is
//! microseconds in Go and seconds on a loaded machine.

use std::time::{Duration, Instant};

use super::Backoff;

/// After this long, nap instead of yielding so a dead peer does not cost a whole core.
const YIELD_FOR: Duration = Duration::from_millis(1);
/// One nap once yielding has gone on for [`YIELD_FOR`].
const NAP: Duration = Duration::from_micros(50);

/// Patience for one wait; [`Patience::keep_waiting`] returns `false` once `bound` has passed.
#[derive(Debug)]
pub(crate) struct Patience {
    bound: Duration,
    backoff: Backoff,
    since: Option<Instant>,
}

impl Patience {
    /// Patience that lasts `bound` from the first wait that is not a spin.
    pub(crate) fn new(bound: Duration) -> Self {
        Self {
            bound,
            backoff: Backoff::new(),
            since: None,
        }
    }

    /// Starts over (the awaited position changed: the peer made progress). Only blocking
    /// and timed forms call this (their deadline bounds them); a non-blocking call never
    /// does, so a peer that keeps moving a position cannot keep it spinning.
    pub(crate) fn reset(&mut self) {
        self.backoff.reset();
        self.since = None;
    }

    /// For callers that sleep on a futex between checks instead of in [`keep_waiting`] (the
    /// Stream's emit lock, which calls `reset` when the holder changes): starts the clock on
    /// the first call; `true` once the bound has passed since (no waiting here).
    ///
    /// [`keep_waiting`]: Patience::keep_waiting
    pub(crate) fn expired(&mut self) -> bool {
        let now = Instant::now();
        now.duration_since(*self.since.get_or_insert(now)) >= self.bound
    }

    /// When the bound runs out, once the clock has started (after [`Patience::expired`] or
    /// [`Patience::keep_waiting`]): a sleeper that must notice a stall wakes by then.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.since.and_then(|s| s.checked_add(self.bound))
    }

    /// Waits a little; `false` when the bound has passed.
    pub(crate) fn keep_waiting(&mut self) -> bool {
        if !self.backoff.is_completed() {
            self.backoff.spin();
            return true;
        }
        let now = Instant::now();
        let since = *self.since.get_or_insert(now);
        let waited = now.duration_since(since);
        if waited >= self.bound {
            return false;
        }
        if waited < YIELD_FOR {
            std::thread::yield_now();
        } else {
            std::thread::sleep(NAP.min(self.bound - waited));
        }
        true
    }
}

/// [`Patience`] for the open-addressing probes of Map and Set
/// ([`crate::raw::open_addressing::Patience`]): time-bounded per slot, and at most
/// [`MAX_RETRIES`](crate::raw::open_addressing::MAX_RETRIES) lost claims per operation.
#[cfg(not(loom))]
#[derive(Debug)]
pub(crate) struct ProbePatience {
    patience: Patience,
    /// Retries of the whole operation; never reset.
    retries: u32,
}

#[cfg(not(loom))]
impl ProbePatience {
    /// Waits on one slot at most `timeout` (the handle's stall timeout).
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            patience: Patience::new(timeout),
            retries: 0,
        }
    }
}

#[cfg(not(loom))]
impl crate::raw::open_addressing::Patience for ProbePatience {
    fn begin(&mut self) {
        self.patience.reset();
    }

    fn retry(&mut self) -> bool {
        self.retries += 1;
        self.retries < crate::raw::open_addressing::MAX_RETRIES
    }

    fn snooze(&mut self) -> bool {
        self.patience.keep_waiting()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::time::Duration;

    use super::Patience;

    #[test]
    fn patience_ends_after_its_bound_and_not_before() {
        let mut p = Patience::new(Duration::from_millis(20));
        assert!(p.keep_waiting(), "a fresh patience waits");
        while p.keep_waiting() {}
        assert!(p.expired());
        p.reset();
        assert!(!p.expired(), "reset starts the clock again");
        let mut never = Patience::new(Duration::MAX);
        assert!(!never.expired());
    }
}

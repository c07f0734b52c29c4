//! Time-bounded waiting for a peer that holds a slot (FORMAT.md D-7, D-8): spin briefly,
//! then yield, then sleep in short naps, and give up after a time bound, never after an
//! iteration count (10,000 yields is microseconds in Go and seconds on a loaded machine).

use std::time::{Duration, Instant};

/// How long a slot may stay held by another process before an operation reports a stall,
/// unless the handle was given another bound.
pub(crate) const DEFAULT_STALL_TIMEOUT: Duration = Duration::from_secs(1);

/// Iterations of `spin_loop` before the first clock read: a live peer finishes copying one
/// element in nanoseconds.
const SPINS: u32 = 64;
/// After this long, nap instead of yielding so a dead peer does not cost a whole core.
const YIELD_FOR: Duration = Duration::from_millis(1);
const NAP: Duration = Duration::from_micros(50);

/// Patience for one wait; `keep_waiting` returns `false` once `bound` has passed.
#[derive(Debug)]
pub(crate) struct Patience {
    bound: Duration,
    spins: u32,
    since: Option<Instant>,
}

impl Patience {
    pub(crate) fn new(bound: Duration) -> Self {
        Self {
            bound,
            spins: 0,
            since: None,
        }
    }

    /// Starts over (the awaited position changed: the peer made progress).
    pub(crate) fn reset(&mut self) {
        self.spins = 0;
        self.since = None;
    }

    /// Waits a little; `false` when the bound has passed.
    pub(crate) fn keep_waiting(&mut self) -> bool {
        if self.spins < SPINS {
            self.spins += 1;
            core::hint::spin_loop();
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

//! The one spin policy of the crate (crossbeam's `Backoff`, with our limits).
//!
//! Every busy wait in zeroipc goes through [`Backoff`]: a few exponentially growing bursts of
//! `spin_loop` hints (enough for a hand-off between two running processes: a peer finishing
//! an element copy takes nanoseconds), then — for callers that cannot sleep on a futex —
//! `yield_now`. [`Backoff::is_completed`] tells a caller that can sleep when to stop spinning
//! and park instead: never a whole time slice of spinning (two-core machines).

/// Spin bursts double up to `1 << SPIN_LIMIT` hints: 1 + 2 + … + 64 = 127 hints in all.
const SPIN_LIMIT: u32 = 6;
/// After this many steps a [`Backoff::snooze`] caller has yielded a few times: time to sleep.
const YIELD_LIMIT: u32 = 10;

/// Exponential spinning, then yielding (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    /// A fresh backoff (the next wait starts with the shortest burst).
    #[must_use]
    pub(crate) const fn new() -> Self {
        Self { step: 0 }
    }

    /// Starts over (the awaited thing made progress).
    pub(crate) fn reset(&mut self) {
        self.step = 0;
    }

    /// Spins one burst (for lock-free retry loops: never yields).
    pub(crate) fn spin(&mut self) {
        for _ in 0..1u32 << self.step.min(SPIN_LIMIT) {
            core::hint::spin_loop();
        }
        if self.step <= SPIN_LIMIT {
            self.step += 1;
        }
    }

    /// Spins one burst while bursts are short, then yields the processor (for waits on
    /// another thread or process).
    pub(crate) fn snooze(&mut self) {
        if self.step <= SPIN_LIMIT {
            for _ in 0..1u32 << self.step {
                core::hint::spin_loop();
            }
        } else {
            #[cfg(loom)]
            ::loom::thread::yield_now();
            #[cfg(not(loom))]
            std::thread::yield_now();
        }
        if self.step <= YIELD_LIMIT {
            self.step += 1;
        }
    }

    /// Whether spinning has run its course: a caller that can sleep (on a futex) should
    /// sleep now. After [`Backoff::spin`] this is after the longest burst; after
    /// [`Backoff::snooze`], after a few yields.
    #[must_use]
    pub(crate) fn is_completed(&self) -> bool {
        self.step > SPIN_LIMIT
    }

    /// Whether a [`Backoff::snooze`] caller has yielded enough times that it should sleep.
    #[must_use]
    pub(crate) fn is_exhausted(&self) -> bool {
        self.step > YIELD_LIMIT
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::Backoff;

    #[test]
    fn spinning_completes_after_the_longest_burst_and_snoozing_after_yields() {
        let mut b = Backoff::new();
        let mut spins = 0;
        while !b.is_completed() {
            b.spin();
            spins += 1;
        }
        assert_eq!(spins, 7);
        b.reset();
        let mut snoozes = 0;
        while !b.is_exhausted() {
            b.snooze();
            snoozes += 1;
        }
        assert_eq!(snoozes, 11);
    }
}

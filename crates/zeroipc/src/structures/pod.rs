//! Word-wise copies of plain-old-data values at validated segment offsets, shared by the
//! Map, Set and Pool handles (the word is `min(align_of::<T>(), 8)` bytes; see
//! [`crate::raw::words`]), and the time-bounded wait for slots another process owns.
//!
//! # Synchronization
//!
//! None here: the copies are Relaxed; the structures' state words carry the happens-before
//! edges (see each structure).
//!
//! # Process death
//!
//! [`Timed`] is what turns a slot owned by a dead process into an error instead of a hang.

use std::time::{Duration, Instant};

use crate::Element;
use crate::error::Corruption;
use crate::raw::open_addressing::Patience;
use crate::segment::region::Region;

/// Copies the `T` at `at` (Relaxed words: tear-free per word, never a data race).
pub(crate) fn load<T: Element>(region: &Region, at: u64) -> Result<T, Corruption> {
    region.load_value(at)
}

/// Stores `value` at `at` (Relaxed words).
pub(crate) fn store<T: Element>(region: &Region, at: u64, value: &T) -> Result<(), Corruption> {
    region.store_value(at, value)
}

/// Spin, then yield, until `timeout` has passed since [`Patience::begin`].
pub(crate) struct Timed {
    timeout: Duration,
    deadline: Option<Instant>,
    spins: u32,
    /// Retries of the whole operation ([`Patience::retry`]); never reset.
    retries: u32,
}

impl Timed {
    pub(crate) fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            deadline: None,
            spins: 0,
            retries: 0,
        }
    }
}

impl Patience for Timed {
    fn begin(&mut self) {
        self.deadline = None;
        self.spins = 0;
    }

    fn retry(&mut self) -> bool {
        self.retries += 1;
        self.retries < crate::raw::open_addressing::MAX_RETRIES
    }

    fn snooze(&mut self) -> bool {
        self.spins = self.spins.saturating_add(1);
        if self.spins < 32 {
            core::hint::spin_loop();
            return true;
        }
        std::thread::yield_now();
        let now = Instant::now();
        let deadline = *self.deadline.get_or_insert_with(|| now + self.timeout);
        now < deadline
    }
}

//! Word-wise copies of plain-old-data values at validated segment offsets, shared by the
//! Map, Set and Pool handles (the word is `min(align_of::<T>(), 8)` bytes; see
//! [`crate::raw::words`]). The time-bounded wait for slots another process owns is
//! [`crate::wait::ProbePatience`].
//!
//! # Synchronization
//!
//! None here: the copies are Relaxed; the structures' state words carry the happens-before
//! edges (see each structure).

use crate::Element;
use crate::error::Corruption;
use crate::segment::region::Region;

/// Copies the `T` at `at` (Relaxed words: tear-free per word, never a data race).
pub(crate) fn load<T: Element>(region: &Region, at: u64) -> Result<T, Corruption> {
    region.load_value(at)
}

/// Stores `value` at `at` (Relaxed words).
pub(crate) fn store<T: Element>(region: &Region, at: u64, value: &T) -> Result<(), Corruption> {
    region.store_value(at, value)
}

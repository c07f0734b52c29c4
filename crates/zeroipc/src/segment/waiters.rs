//! The waiter registry: a zeroipc-only table entry that counts the processes sleeping on
//! each structure, so that producers and consumers issue `FUTEX_WAKE` only when someone
//! sleeps.
//!
//! Some upstream layouts (Queue above all) have no waiter count, and a `FUTEX_WAKE` system
//! call costs about 300 ns: waking "just in case" on every push into an empty queue would make
//! a push twenty times slower. The registry gives every table slot two sleeper counters.
//!
//! # Layout
//!
//! One table entry named [`WAITERS_ENTRY`], `8 × max_entries` bytes: for table entry `i`,
//!
//! | off      | size | field                                             |
//! |----------|------|---------------------------------------------------|
//! | `8i`     | 4    | `data` u32: sleepers waiting for an element       |
//! | `8i + 4` | 4    | `room` u32: sleepers waiting for a free slot      |
//!
//! It is created by the first zeroipc process that has to sleep (never by non-blocking use,
//! so the layout of a segment only holding non-blocking structures stays exactly upstream's).
//! Other implementations see an unknown entry and ignore it; they never sleep in the kernel
//! (they poll), so they need no wake.
//!
//! # Synchronization
//!
//! A sleeper increments its counter (SeqCst), then re-checks the word it will sleep on
//! (SeqCst) and sleeps only if it still says "nothing for you"; a waker changes that word
//! (SeqCst) and then loads the counter (SeqCst). In the single total order either the
//! waker's load sees the sleeper, or the sleeper's re-check sees the waker's store (Dekker):
//! no wake is lost between zeroipc processes.
//!
//! # Process death
//!
//! A sleeper killed while registered leaves its counter too high: wakers then issue a
//! harmless `FUTEX_WAKE` per operation. A process that could not find or create the registry
//! (table full, out of space) sleeps in 1 ms slices instead of being woken.

use crate::loom::Ordering::Relaxed;
use crate::loom::{AtomicU32, AtomicU64};

use super::{Entry, Segment};
use crate::layout::table::TableHeader;

/// The registry's table entry name.
pub(crate) const WAITERS_ENTRY: &str = "__zeroipc_waiters";

/// This process's knowledge of the registry.
#[derive(Debug, Default)]
pub(crate) struct Cache {
    /// Segment offset of the registry, or 0 while unknown.
    offset: AtomicU64,
    /// `entry_count + 1` when the table was last searched for it (0: never).
    searched_at: AtomicU32,
}

/// The two sleeper counters of one structure.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sleepers<'a> {
    /// Sleepers waiting for an element (woken by producers).
    pub(crate) data: &'a AtomicU32,
    /// Sleepers waiting for room (woken by consumers).
    pub(crate) room: &'a AtomicU32,
}

impl Segment {
    /// The sleeper counters of table entry `entry`, if the registry exists.
    ///
    /// Cheap when nothing changed: one process-local load, and while the registry is unknown
    /// one load of `entry_count` (the table is searched again only after it grew).
    #[inline]
    pub(crate) fn sleepers(&self, entry: &Entry) -> Option<Sleepers<'_>> {
        let inner = &self.ro.inner;
        // ORDERING: Relaxed — process-local cache of an immutable fact (the registry's
        // offset never changes once published).
        let mut offset = inner.waiters.offset.load(Relaxed);
        if offset == 0 {
            // Unknown: search again only if the table grew since the last search.
            // SAFETY: the table header at offset 0 was checked with `header` on this region
            // when the segment was created or opened (`TableLayout::read`, `create_new`).
            let header: &TableHeader = unsafe { inner.region.header_prechecked(0) };
            // ORDERING: Relaxed — a hint; `find_registry` loads it again with Acquire.
            let count = header.entry_count.load(Relaxed);
            if inner.waiters.searched_at.load(Relaxed) == count.wrapping_add(1) {
                return None;
            }
            offset = self.find_registry()?;
        }
        let words = inner
            .region
            .slice::<AtomicU32>(offset + 8 * u64::from(entry.index()), 2)
            .ok()?;
        Some(Sleepers {
            data: &words[0],
            room: &words[1],
        })
    }

    /// The sleeper counters of `entry`, creating the registry if needed.
    pub(crate) fn sleepers_or_create(&self, entry: &Entry) -> Option<Sleepers<'_>> {
        if let Some(s) = self.sleepers(entry) {
            return Some(s);
        }
        let size = 8 * u64::from(self.max_entries());
        // Zeroed by the allocator: every counter starts at 0. A concurrent creator makes
        // this fail with AlreadyExists; either way look it up again.
        let _ = self.allocate(WAITERS_ENTRY, size, |_, _| Ok::<(), crate::TableError>(()));
        self.ro.inner.waiters.searched_at.store(0, Relaxed);
        self.sleepers(entry)
    }

    #[cold]
    fn find_registry(&self) -> Option<u64> {
        let inner = &self.ro.inner;
        let count = inner.layout.entry_count(&inner.region).ok()?;
        // ORDERING: Relaxed — process-local bookkeeping.
        if inner.waiters.searched_at.load(Relaxed) == count.wrapping_add(1) {
            return None;
        }
        inner
            .waiters
            .searched_at
            .store(count.wrapping_add(1), Relaxed);
        let e = self.find(WAITERS_ENTRY).ok()?;
        if e.size() != 8 * u64::from(self.max_entries()) || e.offset() % 4 != 0 {
            return None; // not ours: never written to
        }
        inner.waiters.offset.store(e.offset(), Relaxed);
        Some(e.offset())
    }
}

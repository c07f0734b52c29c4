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
//! It is created **with the first queue**: [`Queue::create`](crate::structures::Queue::create)
//! (and so a Channel's create) adds it (under the allocation lock, right after the queue's
//! own entries) if the segment has none. Nothing else ever adds it: a blocked caller only
//! *looks it up*, so zeroipc never writes the table of a segment at an arbitrary moment (an
//! upstream creator allocates without any lock, and a concurrent table write could lose its
//! entry), and a segment whose queues all come from another implementation keeps its table
//! exactly as that implementation left it. A segment holding no queue has no registry.
//! Other implementations see an unknown entry and ignore it; they never sleep in the kernel
//! (they poll), so they need no wake.
//!
//! # Synchronization
//!
//! A sleeper increments its counter, runs `membarrier::heavy` (a full barrier on every
//! running thread of every process registered for it), then re-checks the word it will
//! sleep on and sleeps only if it still says "nothing for you". A waker changes that word
//! with its ordinary store (the queue's `seq` store is Release, not SeqCst), runs
//! `membarrier::light` (a compiler fence: the sleeper's barrier does the hardware part),
//! then loads the counter (Relaxed). The asymmetric barrier pair makes this a Dekker pair:
//! either the waker's load sees the sleeper, or the sleeper's re-check sees the waker's
//! store, so no wake is lost between zeroipc processes. The protocol's code is
//! `wait::sleeper` (`Sleeper`, `WakeCache`, `wake_sleepers`); this module owns the table.
//!
//! # Process death
//!
//! A sleeper killed while registered leaves its counter too high: wakers then issue a
//! harmless `FUTEX_WAKE` per operation. A process that finds no registry (the queue was
//! created by another implementation, or before this rule, or the table had no room for the
//! registry) sleeps in 1 ms slices instead of being woken.

use crate::loom::Ordering::{Relaxed, SeqCst};
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
    /// Cheap when nothing changed: once the registry is known, one process-local load of
    /// its offset and a bounds check of `entry`'s index (this runs after every queue
    /// operation); while it is unknown, one load of `entry_count` (the table is searched
    /// again only after it grew).
    #[inline(always)]
    pub(crate) fn sleepers(&self, entry: &Entry) -> Option<Sleepers<'_>> {
        let inner = &self.ro.inner;
        // ORDERING: Relaxed — process-local cache of an immutable fact (the registry's
        // offset never changes once published).
        let mut offset = inner.waiters.offset.load(Relaxed);
        if offset == 0 {
            offset = self.sleepers_cold()?;
        }
        let (i, n) = (entry.index(), inner.layout.max_entries);
        if i >= n {
            return None; // not an entry of this table: nobody registers for it
        }
        // SAFETY: `find_registry` cached `offset` only after checking this very slice with
        // `Region::slice` on this region (bounds and alignment).
        let words = unsafe {
            inner
                .region
                .slice_prechecked::<AtomicU32>(offset, 2 * u64::from(n))
        };
        let i = i as usize;
        // `i < n`: both in bounds (the compiler drops the checks).
        Some(Sleepers {
            data: &words[2 * i],
            room: &words[2 * i + 1],
        })
    }

    /// [`Segment::sleepers`] while the registry's offset is not cached: searches the table
    /// (at most once per table growth).
    #[cold]
    #[inline(never)]
    fn sleepers_cold(&self) -> Option<u64> {
        let inner = &self.ro.inner;
        // SAFETY: the table header at offset 0 was checked with `header` on this region
        // when the segment was created or opened (`TableLayout::read`, `create_new`).
        let header: &TableHeader = unsafe { inner.region.header_prechecked(0) };
        // ORDERING: Relaxed — a hint; `find_registry` loads it again with Acquire.
        let count = header.entry_count.load(Relaxed);
        if inner.waiters.searched_at.load(Relaxed) == count.wrapping_add(1) {
            return None;
        }
        self.find_registry()
    }

    /// Adds the waiter registry to the table if the segment has none: called by
    /// [`Queue::create`](crate::structures::Queue::create) only, right after it created its
    /// own entry (an explicit table write the user asked for), never at run time.
    ///
    /// Best effort: a full table or segment leaves the segment without a registry (its
    /// sleepers then poll every millisecond); the structure that was created is not undone.
    pub(crate) fn ensure_waiter_registry(&self) {
        if self.find_registry_now().is_some() {
            return;
        }
        let size = 8 * u64::from(self.max_entries());
        // Zeroed by the allocator: every counter starts at 0. A concurrent creator makes
        // this fail with AlreadyExists, as does an entry of that name that is not ours (then
        // `find_registry` refuses it and sleepers poll).
        let _ = self.allocate(WAITERS_ENTRY, size, |_, _| Ok::<(), crate::TableError>(()));
        // ORDERING: Relaxed — process-local bookkeeping: forget the vain search.
        self.ro.inner.waiters.searched_at.store(0, Relaxed);
    }

    /// Clears the waiter-registry sleeper counters left behind by processes that died while
    /// sleeping, and returns how many registrations were cleared (0 without a registry).
    ///
    /// A sleeper killed while registered leaves its counter one too high; the only cost is a
    /// `FUTEX_WAKE` per operation that wakes nobody, so this is housekeeping for tools
    /// (`zeroipc doctor --repair`), never needed for correctness.
    ///
    /// `observed` are the counters as the caller read them (the registry's bytes as
    /// little-endian u32s: `data` then `room` per table slot) **before** it established that
    /// no process uses the segment (see [`crate::inspect::segment_users`]). A process
    /// sleeping then would still be a user, so every observed count belongs to a dead
    /// process. Each counter is set to 0 only if it still equals its observed value (a CAS):
    /// live sleepers only ever add to a counter and remove what they added, so a counter
    /// that changed has a live sleeper and is left alone, and none is ever lost.
    ///
    /// The caller's check is only as good as `/proc` is: a sleeper in another pid namespace
    /// is invisible and must not exist (see [`crate::inspect::users`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::SegmentOptions;
    /// # let name = format!("/zeroipc-doc-clear-sleepers-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// assert_eq!(seg.clear_dead_sleepers(&[1, 0]), 0); // no registry: nothing to clear
    /// # zeroipc::Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn clear_dead_sleepers(&self, observed: &[u32]) -> u64 {
        let Some(offset) = self.find_registry_now() else {
            return 0;
        };
        let n = observed.len().min(2 * self.max_entries() as usize);
        let Ok(words) = self.ro.inner.region.slice::<AtomicU32>(offset, n as u64) else {
            return 0;
        };
        let mut cleared = 0;
        for (word, &seen) in words.iter().zip(observed) {
            // ORDERING: SeqCst — as the sleepers' own increments (the Dekker pair above).
            if seen != 0 && word.compare_exchange(seen, 0, SeqCst, SeqCst).is_ok() {
                cleared += u64::from(seen);
            }
        }
        cleared
    }

    /// The registry's offset, searching the table now whatever the cache says.
    fn find_registry_now(&self) -> Option<u64> {
        // ORDERING: Relaxed — process-local cache of an offset that never changes once
        // published (see `sleepers`).
        self.ro.inner.waiters.searched_at.store(0, Relaxed);
        let cached = self.ro.inner.waiters.offset.load(Relaxed);
        if cached != 0 {
            return Some(cached);
        }
        self.find_registry()
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
        // `sleepers` builds this slice unchecked from the cached offset: check it once here.
        inner
            .region
            .slice::<AtomicU32>(e.offset(), 2 * u64::from(self.max_entries()))
            .ok()?;
        inner.waiters.offset.store(e.offset(), Relaxed);
        Some(e.offset())
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::segment::{Segment, SegmentOptions};

    /// Creates a segment with a queue `q` and one registered sleeper on it, as a process
    /// that died while sleeping leaves it.
    #[test]
    fn clear_dead_sleepers_clears_only_unchanged_counters() {
        let name = format!("/zeroipc-test-{}-waiters-clear", std::process::id());
        let seg = SegmentOptions::new()
            .size(64 * 1024)
            .create_new(&name)
            .unwrap();
        let q = crate::structures::Queue::<u32>::create(&seg, "q", 4).unwrap();
        drop(q);
        let entry = seg.find("q").unwrap();
        let s = seg
            .sleepers(&entry)
            .expect("Queue::create adds the waiter registry");
        s.data.fetch_add(1, super::SeqCst); // the dead sleeper
        let observed = |seg: &Segment| -> Vec<u32> {
            let e = seg.find(super::WAITERS_ENTRY).unwrap();
            seg.read_bytes(e.offset(), e.size())
                .unwrap()
                .chunks_exact(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        };
        let seen = observed(&seg);
        // A live sleeper registers after the observation: left alone.
        s.data.fetch_add(1, super::SeqCst);
        assert_eq!(seg.clear_dead_sleepers(&seen), 0);
        assert_eq!(s.data.load(super::SeqCst), 2);
        // It leaves again: the dead count alone remains and is cleared.
        s.data.fetch_sub(1, super::SeqCst);
        assert_eq!(seg.clear_dead_sleepers(&seen), 1);
        assert_eq!(s.data.load(super::SeqCst), 0);
        assert_eq!(observed(&seg).iter().sum::<u32>(), 0);
        Segment::unlink(&name).unwrap();
    }
}

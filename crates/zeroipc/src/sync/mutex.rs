//! Mutex: mutual exclusion between processes, with dead-holder detection.
//!
//! # Layout (FORMAT.md §7.2: a Semaphore with initial 1, max 1)
//!
//! | off | size | field       | notes                                                    |
//! |-----|------|-------------|----------------------------------------------------------|
//! | 0   | 4    | `count`     | 1 = unlocked, 0 = locked; anything else is corruption    |
//! | 4   | 4    | `waiting`   | lockers currently blocked                                |
//! | 8   | 4    | `max_count` | 1                                                        |
//! | 12  | 4    | `owner`     | padding upstream; **zeroipc: pid of the holder** (or of a locker about to take `count`), 0 = none or a foreign holder |
//!
//! C++, Go and Python write bytes 12..16 as zero when they create a mutex and never read or
//! write them again, so zeroipc keeps the holder's pid there. A C++/Go/Python holder leaves
//! it 0.
//!
//! # Synchronization
//!
//! | store (Release)                 | load (Acquire)                          | publishes            |
//! |---------------------------------|-----------------------------------------|----------------------|
//! | `count` CAS 0 → 1 in `unlock`   | `count` CAS 1 → 0 in `try_lock`         | the critical section |
//! | `owner` clear in `unlock`       | `owner` CAS 0 → self in `try_lock`      | the end of the last holder's hold |
//! | none: the holder died           | `owner` CAS dead pid → self (takeover)  | nothing by itself: the dead holder's writes are visible because the kernel reported its death (`kill(2)` after its exit); its own `owner` CAS was an Acquire intent, not a Release |
//!
//! Blocking is the [`Semaphore`](super::Semaphore)'s: `waiting` plus a shared futex on
//! `count`, re-checked every millisecond while the holder is unknown (`owner` 0: a C++, Go or
//! Python holder, which never wakes anyone). While `owner` names a zeroipc holder, whose
//! unlock always wakes, a blocked locker re-checks only every 50 ms, to notice its death: a
//! blocked locker then costs next to no CPU (0.05 % of a core, BENCHMARKS.md).
//!
//! An uncontended `lock` is two CAS (`owner`, then `count`), inlined (no call, no system
//! call); an uncontended `unlock` is one CAS, a plain store, a compiler fence and a load of
//! `waiting` (no system call).
//!
//! # Process death
//!
//! Among zeroipc processes `owner` is the lock, and `count` is taken only by the process
//! whose pid `owner` holds, so that no instruction of a zeroipc process leaves `count` taken
//! without a pid to check (issue #17):
//!
//! 1. **intent**: CAS `owner` 0 → me (fails while any zeroipc process holds or is taking
//!    the lock);
//! 2. CAS `count` 1 → 0 (if it fails, a C++/Go/Python process holds it: `owner` = 0 again,
//!    and wait);
//! 3. … critical section …
//! 4. **unlock**: CAS `count` 0 → 1, then `owner` = 0, then wake a sleeper.
//!
//! A blocked locker checks the pid in `owner` with `kill(pid, 0)` every time it re-checks
//! (every 50 ms while a pid is recorded). If that process is gone it takes `owner` over with
//! a CAS (dead pid → own pid; only one locker wins) and looks at `count`:
//!
//! | the dead process was killed                  | `owner` | `count` | the survivor                                     |
//! |----------------------------------------------|---------|---------|--------------------------------------------------|
//! | before its intent                            | 0       | 1       | locks normally                                   |
//! | after its intent, before its `count` CAS (`mutex.lock.after_intent`) | dead | 1 | takes `owner`, finds `count` free: clears `owner`, locks normally (`Ok`) |
//! | holding the lock (`mutex.lock.after_cas`, critical section, before the unlock's CAS) | dead | 0 | takes `owner`, finds `count` taken: holds the lock, [`LockError::OwnerDead`](crate::sync::LockError::OwnerDead) with the guard |
//! | after its unlock's `count` CAS, before clearing `owner` (`mutex.unlock.after_release`) | dead | 1 | as after the intent: locks normally |
//! | after its unlock                             | 0       | 1       | locks normally                                   |
//!
//! With `OwnerDead` the protected data may be half-updated: repair it (or not) and drop the
//! guard. A kill of the survivor between its `owner` takeover and its look at `count`
//! leaves the same rows with the survivor's pid. 200 random SIGKILLs of a process looping
//! lock/unlock lost the lock 37 times before this protocol, 0 times after
//! (`tests/crash.rs`, docs/THREAT_MODEL.md §6).
//!
//! Not detected, so the `_timeout`/`_deadline` variants are the answer:
//! - a holder that is a C++, C, Go or Python process (it writes no pid);
//! - a dead holder that is still a zombie (not yet reaped by its parent: `kill` succeeds), or
//!   whose pid was reused by a new process.
//!
//! Mixed with C++/Go/Python lockers, one window remains, and it errs the other way: a
//! zeroipc locker killed after its intent while a foreign locker takes `count` in the same
//! few instructions (between the zeroipc locker's intent CAS and its `count` CAS, or before
//! it withdraws its intent after that CAS failed) leaves `owner` = dead pid with `count`
//! taken by the live foreign holder, and a survivor takes it over (two holders). Foreign
//! lockers write nothing the survivor could tell apart (docs/THREAT_MODEL.md §6).
//!
//! All zeroipc processes sharing the segment must share a pid namespace: a live holder in
//! another namespace would look dead and be taken over.

use std::time::Instant;

use crate::layout::semaphore::{MUTEX_LOCKED, MUTEX_UNLOCKED, NO_OWNER};
use crate::loom::{
    AtomicU32,
    Ordering::{Acquire, Relaxed, Release},
};
use crate::sync::BadWord;
use crate::sys::membarrier;
use crate::wait::{self, Parked};

/// How many times a blocked locker yields to a live process that holds `owner` while
/// `count` is free (it is between two instructions) before it sleeps in slices instead.
/// (Under loom: always yields, since the modelled park has no slice.)
#[cfg(not(loom))]
const OWNER_YIELDS: u32 = 64;
#[cfg(loom)]
const OWNER_YIELDS: u32 = u32::MAX;

/// How a raw lock attempt ended.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum RawLock {
    /// Held by us, normally.
    Locked,
    /// Held by us, taken over from the dead holder `pid`.
    TookOver { pid: u32 },
    /// Not held (try: busy; timed: deadline passed).
    NotLocked,
    /// `count` holds something other than 0 or 1.
    Bad(BadWord),
}

/// The mutex state machine over views of `count`, `waiting` and `owner`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawMutex<'a> {
    pub(crate) count: &'a AtomicU32,
    pub(crate) waiting: &'a AtomicU32,
    pub(crate) owner: &'a AtomicU32,
}

fn bad(found: u32) -> BadWord {
    BadWord {
        field: "count",
        found: u64::from(found),
        expected: "0 (locked) or 1 (unlocked)",
    }
}

impl RawMutex<'_> {
    /// Takes the lock if it is free, `me` recorded first; else the `count` found (or
    /// [`MUTEX_LOCKED`] while another zeroipc process holds `owner`). Inlined everywhere:
    /// this is the whole uncontended lock (two CAS).
    #[inline(always)]
    pub(crate) fn try_lock_fast(&self, me: u32) -> Result<(), u32> {
        // The intent: `owner` 0 → me before `count` is touched, so a zeroipc process never
        // holds `count` without its pid in `owner` (see "Process death").
        // ORDERING: Acquire on success pairs with the Release clear in `unlock`; `owner`
        // is also the lock among zeroipc processes (only its holder CASes `count` 1 → 0).
        if self
            .owner
            .compare_exchange(NO_OWNER, me, Acquire, Relaxed)
            .is_err()
        {
            return Err(self.busy());
        }
        crate::fault::point("mutex.lock.after_intent");
        // ORDERING: Acquire on success pairs with the Release CAS in `unlock`: the previous
        // holder's critical section happens-before ours.
        match self
            .count
            .compare_exchange(MUTEX_UNLOCKED, MUTEX_LOCKED, Acquire, Relaxed)
        {
            Ok(_) => {
                crate::fault::point("mutex.lock.after_cas");
                Ok(())
            }
            Err(found) => {
                // A C++/Go/Python holder (it records nothing), or a corrupt word: withdraw.
                // ORDERING: Relaxed — `owner` is ours; no data is published.
                self.owner.store(NO_OWNER, Relaxed);
                Err(found)
            }
        }
    }

    /// What a failed `owner` CAS reports: "locked", or the `count` if it is corrupt.
    #[cold]
    #[inline(never)]
    fn busy(&self) -> u32 {
        // ORDERING: Relaxed — only checked for corruption.
        match self.count.load(Relaxed) {
            MUTEX_LOCKED | MUTEX_UNLOCKED => MUTEX_LOCKED,
            other => other,
        }
    }

    /// Takes the lock if it is free; `me` is the caller's pid.
    #[inline]
    pub(crate) fn try_lock(&self, me: u32) -> RawLock {
        match self.try_lock_fast(me) {
            Ok(()) => RawLock::Locked,
            Err(MUTEX_LOCKED) => RawLock::NotLocked,
            Err(other) => RawLock::Bad(bad(other)),
        }
    }

    /// [`RawMutex::try_lock`], then, if it is held, a takeover from a dead holder: never
    /// blocks. A dead process that held only `owner` (the lock was free) is cleared and the
    /// lock tried once more.
    pub(crate) fn try_lock_or_take_over(&self, me: u32, alive: &impl Fn(u32) -> bool) -> RawLock {
        match self.try_lock(me) {
            RawLock::NotLocked => match self.take_over_from_dead(me, alive) {
                Some(pid) => RawLock::TookOver { pid },
                None => self.try_lock(me),
            },
            other => other,
        }
    }

    /// Takes the lock, waiting until `deadline` (`None`: forever). `alive(pid)` says whether
    /// a process exists; a holder found dead is taken over.
    #[inline]
    pub(crate) fn lock(
        &self,
        me: u32,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
    ) -> RawLock {
        match self.try_lock(me) {
            RawLock::NotLocked => self.lock_contended(me, deadline, alive),
            other => other,
        }
    }

    /// If the recorded holder is dead, take the lock over from it: `Some(pid)` if we now
    /// hold the lock the dead process `pid` held. A dead process that held `owner` but not
    /// `count` (killed between its two CAS of a lock, or of an unlock) left nothing to take
    /// over: its `owner` is cleared and `None` returned (the caller's next `try_lock` takes
    /// the free lock).
    pub(crate) fn take_over_from_dead(&self, me: u32, alive: &impl Fn(u32) -> bool) -> Option<u32> {
        // ORDERING: Relaxed — only a candidate; the CAS below decides.
        let pid = self.owner.load(Relaxed);
        if pid == NO_OWNER || pid == me || alive(pid) {
            return None;
        }
        // ORDERING: Acquire, with no Release to pair with: the dead holder's `owner` CAS was
        // an Acquire intent that published nothing. Its writes are visible because we learnt
        // of its death from the kernel (kill(2) after its exit). Winning this CAS makes
        // `owner` ours: no zeroipc process touches `count` while it is.
        self.owner
            .compare_exchange(pid, me, Acquire, Relaxed)
            .ok()?;
        // ORDERING: Acquire — the dead holder's critical section (via the kernel, above).
        if self.count.load(Acquire) == MUTEX_LOCKED {
            // Among zeroipc processes only the `owner` holder takes `count`: the dead
            // process held it, and now we do (`count` stays 0).
            return Some(pid);
        }
        // Free (it died before its `count` CAS, or after its unlock's), or corrupt (the next
        // `try_lock` reports it): give `owner` back.
        // ORDERING: Release pairs with the Acquire `owner` CAS of the next locker.
        self.owner.store(NO_OWNER, Release);
        None
    }

    #[cold]
    fn lock_contended(
        &self,
        me: u32,
        deadline: Option<Instant>,
        alive: impl Fn(u32) -> bool,
    ) -> RawLock {
        if wait::spin_while(self.count, MUTEX_LOCKED) {
            match self.try_lock(me) {
                RawLock::NotLocked => {}
                other => return other,
            }
        }
        // ORDERING: Relaxed + the heavy barrier — Dekker pair with the light barrier in
        // `unlock` (sys::membarrier): either the unlocker sees our `waiting` increment, or
        // our re-check below sees its release of `count`.
        self.waiting.fetch_add(1, Relaxed);
        membarrier::heavy();
        let mut yields = 0;
        let result = loop {
            match self.try_lock(me) {
                RawLock::NotLocked => {}
                other => break other,
            }
            if let Some(pid) = self.take_over_from_dead(me, &alive) {
                break RawLock::TookOver { pid };
            }
            // ORDERING: Relaxed — a hint: `count` is free but `owner` still names a live
            // locker (between its two CAS) or unlocker (between its CAS and its clear), a
            // few instructions: let it run rather than park on a word that will not change.
            // A peer that wrote a live pid there keeps it so: after a few yields, sleep in
            // 1 ms slices (on `count` == free; the unlocker's wake ends it early).
            if self.count.load(Relaxed) == MUTEX_UNLOCKED {
                yields += 1;
                if yields <= OWNER_YIELDS {
                    crate::loom::yield_point();
                    #[cfg(not(loom))]
                    std::thread::yield_now();
                    continue;
                }
                if wait::park_slice(self.count, MUTEX_UNLOCKED, deadline, wait::SLICE)
                    == Parked::TimedOut
                {
                    break self.try_lock(me);
                }
                continue;
            }
            // A holder that wrote its pid is a zeroipc process: its unlock wakes us, so we
            // wake on our own only to check that it lives. No pid: a C++/Go/Python holder
            // (it never wakes anyone) or one between its CAS and its pid store: poll.
            // ORDERING: Relaxed — only picks the slice; the loop re-checks everything.
            let slice = if self.owner.load(Relaxed) == NO_OWNER {
                wait::SLICE
            } else {
                wait::HOLDER_KNOWN_SLICE
            };
            if wait::park_slice(self.count, MUTEX_LOCKED, deadline, slice) == Parked::TimedOut {
                break self.try_lock(me);
            }
        };
        // ORDERING: Relaxed — `waiting` is only a hint for unlockers.
        self.waiting.fetch_sub(1, Relaxed);
        result
    }

    /// Releases the lock and wakes one waiter if any is counted.
    ///
    /// Returns the `count` found if it was not "locked" (a double unlock by someone).
    #[inline]
    pub(crate) fn unlock(&self) -> Result<(), BadWord> {
        // `count` first, `owner` after: a zeroipc process never holds `count` without its
        // pid in `owner` (a kill in between leaves `owner` naming a dead process and `count`
        // free: the next locker clears it, see `take_over_from_dead`).
        // A load and a store, not a CAS: while we hold the lock no peer that follows the
        // protocol writes `count` (zeroipc lockers are held off by `owner`, C++/C/Go/Python
        // lockers' CAS 1 → 0 fails against our 0), so the check cannot race with anything
        // but a hostile writer, which can rewrite the word at any time anyway. It saves
        // one locked instruction: the uncontended pair is two CAS, as before the intent
        // word (issue #17) made `lock` a CAS longer.
        // ORDERING: Relaxed — only compared: the word is ours while we hold the lock.
        let found = self.count.load(Relaxed);
        let r = if found == MUTEX_LOCKED {
            // ORDERING: Release pairs with the Acquire CAS in `try_lock`.
            self.count.store(MUTEX_UNLOCKED, Release);
            Ok(())
        } else {
            Err(found)
        };
        crate::fault::point("mutex.unlock.after_release");
        // ORDERING: Release pairs with the Acquire `owner` CAS of the next locker. Cleared
        // also when `count` was wrong: whoever unlocked it, the lock is not ours any more.
        self.owner.store(NO_OWNER, Release);
        if let Err(found) = r {
            return Err(if found == MUTEX_UNLOCKED {
                BadWord {
                    field: "count",
                    found: u64::from(found),
                    expected: "0 (locked): unlock of an unlocked mutex",
                }
            } else {
                bad(found)
            });
        }
        // ORDERING: the light barrier — pairs with the heavy barrier in `lock_contended`
        // (Dekker, sys::membarrier): a compiler fence here, a full barrier forced on us by
        // any sleeper's membarrier. Keeps the uncontended unlock free of `mfence`.
        membarrier::light();
        // ORDERING: Relaxed — ordered by the fence above.
        if self.waiting.load(Relaxed) != 0 {
            self.wake_one();
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn wake_one(&self) {
        wait::wake_one(self.count);
    }
}

#[cfg(not(loom))]
pub use handle::{Mutex, MutexGuard};

#[cfg(not(loom))]
mod handle {
    use core::fmt;
    use std::time::{Duration, Instant};

    use super::{RawLock, RawMutex};
    use crate::error::{Corruption, StructureError};
    use crate::layout::semaphore::{
        MUTEX_LOCKED, MUTEX_MAX, MUTEX_UNLOCKED, NO_OWNER, SemaphoreHeader,
    };
    use crate::loom::Ordering::Relaxed;
    use crate::segment::{CatalogKind, Entry, Record, Segment};
    use crate::sync::semaphore::handle::{corrupt, create_header, open_header};
    use crate::sync::{
        Attempt, LockError, LockTimeoutError, OwnerDead, ReleaseError, TryLockError,
    };
    use crate::sys::process::{current_pid, pid_alive};
    use crate::wait::deadline_after;

    /// A mutex in a segment, shared by processes. See the [module docs](super).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use zeroipc::{Segment, SegmentOptions};
    /// use zeroipc::sync::{LockError, LockTimeoutError, Mutex, TryLockError};
    /// # let name = format!("/zeroipc-doc-mutex-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m = Mutex::create(&seg, "m")?;
    /// {
    ///     let _g = m.lock().map_err(LockError::drop_guard)?;
    ///     assert!(m.is_locked()?);
    ///     assert_eq!(m.owner()?, Some(std::process::id()));
    ///     assert!(matches!(m.try_lock(), Err(TryLockError::WouldBlock)));
    ///     let t = m.lock_timeout(Duration::from_millis(5));
    ///     assert!(matches!(t, Err(LockTimeoutError::Timeout)));
    /// } // unlocked here
    /// assert!(!m.is_locked()?);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct Mutex {
        seg: Segment,
        entry: Entry,
    }

    impl fmt::Debug for Mutex {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Mutex")
                .field("name", self.entry.name())
                .finish_non_exhaustive()
        }
    }

    /// Holds a [`Mutex`] locked; unlocks on drop.
    #[must_use = "the mutex unlocks as soon as the guard is dropped"]
    pub struct MutexGuard<'a> {
        mutex: &'a Mutex,
    }

    impl fmt::Debug for MutexGuard<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("MutexGuard")
                .field("mutex", self.mutex.entry.name())
                .finish()
        }
    }

    impl<'a> MutexGuard<'a> {
        /// A guard for a lock the caller already holds (taken through the raw state machine).
        pub(crate) fn assume_locked(mutex: &'a Mutex) -> Self {
            Self { mutex }
        }

        /// Unlocks now, reporting what `drop` would ignore.
        ///
        /// # Errors
        ///
        /// [`ReleaseError::Corrupt`] if `count` was not "locked" (someone else unlocked it).
        pub fn unlock(self) -> Result<(), ReleaseError> {
            let m = self.mutex;
            core::mem::forget(self);
            m.unlock_raw()
        }
    }

    impl Drop for MutexGuard<'_> {
        #[inline]
        fn drop(&mut self) {
            // A corrupt or foreign-unlocked count cannot be reported from drop; `unlock`
            // reports it.
            let _ = self.mutex.unlock_raw();
        }
    }

    impl Mutex {
        /// Creates an unlocked mutex named `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if the name is taken or there is no room.
        pub fn create(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let entry = create_header(seg, name, MUTEX_UNLOCKED, MUTEX_MAX)?;
            seg.record(&Record::new(CatalogKind::Mutex, name, &entry));
            Ok(Self {
                seg: seg.clone(),
                entry,
            })
        }

        /// Opens the mutex named `name`.
        ///
        /// # Errors
        ///
        /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
        /// if it is not 16 bytes or its `max_count` is not 1 (as Go and Python check).
        /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
        /// segment's type catalog records another kind or element type for `name` (checked
        /// after the bytes; see [`Segment::unchecked`]).
        pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
            let mutex = Self::open_entry(seg, seg.find(name)?)?;
            seg.check_catalog(&Record::new(CatalogKind::Mutex, name, &mutex.entry))?;
            Ok(mutex)
        }

        /// Validates `entry` as a mutex (size 16, `max_count` 1).
        pub(crate) fn open_entry(seg: &Segment, entry: Entry) -> Result<Self, StructureError> {
            let max = open_header(seg, &entry)?;
            if max != 1 {
                return Err(Corruption::field(
                    entry.name(),
                    "max_count",
                    u64::from(max.unsigned_abs()),
                    "1 (a mutex)",
                )
                .into());
            }
            Ok(Self {
                seg: seg.clone(),
                entry,
            })
        }

        #[inline]
        #[allow(clippy::unnecessary_wraps)] // keeps the callers' `?` if validation moves here
        fn header(&self) -> Result<&SemaphoreHeader, Corruption> {
            // SAFETY: `create_header` (in its `init`) or `open_header` checked this offset
            // with `header::<SemaphoreHeader>` on this same segment's region before the
            // handle existed.
            Ok(unsafe {
                self.seg
                    .region()
                    .header_prechecked::<SemaphoreHeader>(self.entry.offset())
            })
        }

        #[inline]
        pub(crate) fn raw(&self) -> Result<RawMutex<'_>, Corruption> {
            let h = self.header()?;
            Ok(RawMutex {
                count: &h.count,
                waiting: &h.waiting,
                owner: &h.owner,
            })
        }

        #[inline]
        fn finish(&self, r: RawLock) -> Result<MutexGuard<'_>, Attempt<MutexGuard<'_>>> {
            match r {
                RawLock::Locked => Ok(MutexGuard { mutex: self }),
                RawLock::TookOver { pid } => Err(Attempt::Failed(LockError::OwnerDead(
                    OwnerDead::new(pid, MutexGuard { mutex: self }),
                ))),
                RawLock::NotLocked => Err(Attempt::NotTaken),
                RawLock::Bad(b) => {
                    Err(Attempt::Failed(LockError::Corrupt(corrupt(&self.entry, b))))
                }
            }
        }

        #[inline]
        fn lock_inner(
            &self,
            deadline: Option<Instant>,
        ) -> Result<MutexGuard<'_>, Attempt<MutexGuard<'_>>> {
            // The uncontended case inline and branch-straight (matching on `RawLock` here
            // compiled to a jump table: 80 instructions per lock+unlock against std's 29).
            if self.raw()?.try_lock_fast(current_pid()).is_ok() {
                return Ok(MutexGuard { mutex: self });
            }
            self.lock_slow(deadline)
        }

        #[cold]
        #[inline(never)]
        fn lock_slow(
            &self,
            deadline: Option<Instant>,
        ) -> Result<MutexGuard<'_>, Attempt<MutexGuard<'_>>> {
            let r = self.raw()?.lock(current_pid(), deadline, pid_alive);
            self.finish(r)
        }

        /// Locks, waiting as long as it takes.
        ///
        /// A dead zeroipc holder is detected and taken over (see the module docs); a dead
        /// holder of another language makes this wait forever: prefer
        /// [`Mutex::lock_timeout`] when such peers share the mutex.
        ///
        /// # Errors
        ///
        /// [`LockError::OwnerDead`] (the lock is held, through the guard inside);
        /// [`LockError::Corrupt`] if `count` is neither 0 nor 1.
        #[inline]
        pub fn lock(&self) -> Result<MutexGuard<'_>, LockError<MutexGuard<'_>>> {
            loop {
                match self.lock_inner(None) {
                    Ok(g) => return Ok(g),
                    Err(Attempt::Failed(e)) => return Err(e),
                    // A wait without deadline does not end untaken; were it ever to, wait on.
                    Err(Attempt::NotTaken) => {}
                }
            }
        }

        /// Locks if it is free now (also takes over from a dead zeroipc holder); never
        /// blocks.
        ///
        /// # Errors
        ///
        /// [`TryLockError::WouldBlock`] if someone holds it; [`TryLockError::OwnerDead`];
        /// [`TryLockError::Corrupt`].
        pub fn try_lock(&self) -> Result<MutexGuard<'_>, TryLockError<MutexGuard<'_>>> {
            let raw = self.raw()?;
            let me = current_pid();
            let r = raw.try_lock_or_take_over(me, &pid_alive);
            self.finish(r).map_err(Attempt::into_try)
        }

        /// Locks, waiting at most `timeout`.
        ///
        /// # Errors
        ///
        /// [`LockTimeoutError::Timeout`]; [`LockTimeoutError::OwnerDead`];
        /// [`LockTimeoutError::Corrupt`].
        pub fn lock_timeout(
            &self,
            timeout: Duration,
        ) -> Result<MutexGuard<'_>, LockTimeoutError<MutexGuard<'_>>> {
            self.lock_inner(deadline_after(timeout))
                .map_err(Attempt::into_timeout)
        }

        /// Locks, waiting until `deadline` at the latest (a deadline already past still
        /// takes a free lock, and reports [`LockTimeoutError::Timeout`] at once for a held
        /// one).
        ///
        /// # Errors
        ///
        /// [`LockTimeoutError::Timeout`]; [`LockTimeoutError::OwnerDead`];
        /// [`LockTimeoutError::Corrupt`].
        pub fn lock_deadline(
            &self,
            deadline: Instant,
        ) -> Result<MutexGuard<'_>, LockTimeoutError<MutexGuard<'_>>> {
            self.lock_inner(Some(deadline))
                .map_err(Attempt::into_timeout)
        }

        #[inline]
        fn unlock_raw(&self) -> Result<(), ReleaseError> {
            self.raw()?.unlock().map_err(|b| self.unlock_error(b))
        }

        #[cold]
        #[inline(never)]
        fn unlock_error(&self, b: super::BadWord) -> ReleaseError {
            ReleaseError::Corrupt(corrupt(&self.entry, b))
        }

        /// Whether someone holds it now (a snapshot).
        ///
        /// # Errors
        ///
        /// [`Corruption`] if `count` is neither 0 nor 1.
        pub fn is_locked(&self) -> Result<bool, Corruption> {
            // ORDERING: Relaxed — a snapshot.
            match self.header()?.count.load(Relaxed) {
                MUTEX_LOCKED => Ok(true),
                MUTEX_UNLOCKED => Ok(false),
                found => Err(Corruption::field(
                    self.entry.name(),
                    "count",
                    u64::from(found),
                    "0 (locked) or 1 (unlocked)",
                )),
            }
        }

        /// The pid of the zeroipc process holding it, if one does and recorded itself.
        ///
        /// # Errors
        ///
        /// [`Corruption`] if the header is out of the mapping (never for a validated entry).
        pub fn owner(&self) -> Result<Option<u32>, Corruption> {
            // ORDERING: Relaxed — a snapshot.
            let pid = self.header()?.owner.load(Relaxed);
            Ok((pid != NO_OWNER).then_some(pid))
        }

        /// The table entry.
        #[must_use]
        pub fn entry(&self) -> &Entry {
            &self.entry
        }

        /// The segment the mutex lives in.
        #[must_use]
        pub fn segment(&self) -> &Segment {
            &self.seg
        }
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::cell::UnsafeCell;
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Words {
        count: AtomicU32,
        waiting: AtomicU32,
        owner: AtomicU32,
        data: UnsafeCell<u32>,
    }

    impl Words {
        fn raw(&self) -> RawMutex<'_> {
            RawMutex {
                count: &self.count,
                waiting: &self.waiting,
                owner: &self.owner,
            }
        }
    }

    #[test]
    fn loom_mutex_excludes_and_wakes() {
        loom::model(|| {
            let w = Arc::new(Words {
                count: AtomicU32::new(MUTEX_UNLOCKED),
                waiting: AtomicU32::new(0),
                owner: AtomicU32::new(0),
                data: UnsafeCell::new(0),
            });
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        assert_eq!(w.raw().lock(me, None, |_| true), RawLock::Locked);
                        // SAFETY: the lock is held (count CAS 1 → 0 succeeded).
                        w.data.with_mut(|p| unsafe { *p += 1 });
                        w.raw().unlock().unwrap();
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            // SAFETY: all threads joined.
            assert_eq!(w.data.with(|p| unsafe { *p }), 2);
            assert_eq!(w.count.load(Relaxed), MUTEX_UNLOCKED);
        });
    }

    #[test]
    fn loom_mutex_dead_holder_is_taken_over_once() {
        loom::model(|| {
            // Process 9 died holding the lock.
            let w = Arc::new(Words {
                count: AtomicU32::new(MUTEX_LOCKED),
                waiting: AtomicU32::new(0),
                owner: AtomicU32::new(9),
                data: UnsafeCell::new(0),
            });
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let r = w.raw().lock(me, None, |pid| pid != 9);
                        assert!(
                            matches!(r, RawLock::Locked | RawLock::TookOver { pid: 9 }),
                            "{r:?}"
                        );
                        w.raw().unlock().unwrap();
                        matches!(r, RawLock::TookOver { .. })
                    })
                })
                .collect();
            let took: usize = handles
                .into_iter()
                .map(|h| usize::from(h.join().unwrap()))
                .sum();
            assert_eq!(took, 1);
            assert_eq!(w.count.load(Relaxed), MUTEX_UNLOCKED);
        });
    }

    #[test]
    fn loom_mutex_dead_intent_is_cleared_and_the_lock_stays_exclusive() {
        loom::model(|| {
            // Process 9 died after its intent (owner = 9), before its `count` CAS.
            let w = Arc::new(Words {
                count: AtomicU32::new(MUTEX_UNLOCKED),
                waiting: AtomicU32::new(0),
                owner: AtomicU32::new(9),
                data: UnsafeCell::new(0),
            });
            let handles: Vec<_> = (1..=2)
                .map(|me| {
                    let w = w.clone();
                    thread::spawn(move || {
                        let r = w.raw().lock(me, None, |pid| pid != 9);
                        assert_eq!(r, RawLock::Locked, "nothing was held: no OwnerDead");
                        // SAFETY: the lock is held.
                        w.data.with_mut(|p| unsafe { *p += 1 });
                        w.raw().unlock().unwrap();
                    })
                })
                .collect();
            for h in handles {
                h.join().unwrap();
            }
            // SAFETY: all threads joined.
            assert_eq!(w.data.with(|p| unsafe { *p }), 2);
            assert_eq!(w.count.load(Relaxed), MUTEX_UNLOCKED);
            assert_eq!(w.owner.load(Relaxed), NO_OWNER);
        });
    }
}

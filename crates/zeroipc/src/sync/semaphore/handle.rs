//! The `Semaphore` handle: create, open and validate against the segment, and the public
//! operations over the raw state machine of `sync::semaphore` (whose module docs give the layout,
//! the synchronization and what a peer's death leaves).

use core::fmt;
use std::time::{Duration, Instant};

use super::{GATE_SPINS, GATE_TRIES, RawAcquire, RawRelease, RawSemaphore};
use crate::error::{Corruption, StructureError};
use crate::layout::semaphore::{SEMAPHORE_LEN, SemaphoreHeader};
use crate::loom::Ordering::Relaxed;
use crate::loom::{
    AtomicU32, AtomicU64,
    Ordering::{Acquire, Release},
};
use crate::segment::permits::{INTENT_RELEASE, slot_parts, slot_word};
use crate::segment::{CatalogKind, Entry, Record, Segment};
use crate::sync::{
    Attempt, LockError, LockTimeoutError, OwnerDead, ReleaseError, TryLockError, check_size,
};
use crate::sys::process::{current_pid, pid_alive};
use crate::wait::deadline_after;

/// A counting semaphore in a segment. See the [module docs](super).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use zeroipc::{Segment, SegmentOptions};
/// use zeroipc::sync::{LockTimeoutError, Semaphore, TryLockError};
/// # let name = format!("/zeroipc-doc-sem-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let slots = Semaphore::create(&seg, "slots", 2, 2)?;
/// slots.acquire()?;
/// slots.try_acquire()?;
/// assert!(matches!(slots.try_acquire(), Err(TryLockError::WouldBlock)));
/// let t = slots.acquire_timeout(Duration::from_millis(5));
/// assert!(matches!(t, Err(LockTimeoutError::Timeout)));
/// slots.release()?;
/// assert_eq!(slots.count()?, 1);
/// assert_eq!(slots.max_count(), 2);
/// assert_eq!(slots.waiting()?, 0);
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Semaphore {
    seg: Segment,
    entry: Entry,
    max: i32,
    /// Records this process's permits in the permit-holder registry and reclaims dead
    /// holders' (see the module docs); off for [`Semaphore::without_holder_tracking`].
    track: bool,
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Semaphore")
            .field("name", self.entry.name())
            .field("max_count", &self.max)
            .field("track", &self.track)
            .finish()
    }
}

pub(crate) fn corrupt(entry: &Entry, b: crate::sync::BadWord) -> Corruption {
    Corruption::field(entry.name(), b.field, b.found, b.expected.to_owned())
}

/// A validated non-negative `i32` as a count.
pub(crate) fn non_negative(v: i32) -> usize {
    usize::try_from(v).unwrap_or(0)
}

/// A peer-written `i32` count word (held as `u32` bits) as a `usize`; negative is
/// [`Corruption`] naming the value found.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn count_word(
    entry: &Entry,
    field: &'static str,
    raw: u32,
) -> Result<usize, Corruption> {
    usize::try_from(raw as i32).map_err(|_| {
        Corruption::field(
            entry.name(),
            field,
            u64::from(raw),
            format!("a count 0 ..= i32::MAX (found {} as i32)", raw as i32),
        )
    })
}

/// The public error of a raw release.
pub(crate) fn release_error(entry: &Entry, e: RawRelease) -> ReleaseError {
    match e {
        RawRelease::Overflow { count, max } => ReleaseError::Overflow {
            count: non_negative(count),
            max: non_negative(max),
        },
        RawRelease::Bad(b) => ReleaseError::Corrupt(corrupt(entry, b)),
    }
}

/// Creates the 16-byte semaphore header at a fresh entry (also used by Mutex).
pub(crate) fn create_header(
    seg: &Segment,
    name: &str,
    initial: u32,
    max: u32,
) -> Result<Entry, StructureError> {
    seg.allocate(
        name,
        SEMAPHORE_LEN,
        |region, at| -> Result<(), StructureError> {
            let h: &SemaphoreHeader = region.header(at)?;
            // ORDERING: Relaxed — published with the entry (Release of `entry_count`).
            h.count.store(initial, Relaxed);
            h.max_count.store(max, Relaxed);
            Ok(())
        },
    )
}

/// Opens a semaphore entry: size 16 and `max_count ≥ 0`; returns `max_count`.
#[allow(clippy::cast_possible_wrap)]
pub(crate) fn open_header(seg: &Segment, entry: &Entry) -> Result<i32, StructureError> {
    check_size(entry, SEMAPHORE_LEN)?;
    let h: &SemaphoreHeader = seg.region().header(entry.offset())?;
    // ORDERING: Relaxed — the entry was published by the Acquire load of `entry_count`.
    let max = h.max_count.load(Relaxed);
    if (max as i32) < 0 {
        return Err(Corruption::field(
            entry.name(),
            "max_count",
            u64::from(max),
            "0 (unbounded) ..= i32::MAX",
        )
        .into());
    }
    Ok(max as i32)
}

impl Semaphore {
    /// Creates a semaphore with `initial` permits and at most `max` (0 = unbounded).
    ///
    /// If the segment has no permit-holder registry yet (`__zeroipc_permits`, see the
    /// [module docs](super), "Process death"), this adds it too, right after the
    /// semaphore's entry: the registry is only ever created here, never by an acquire.
    /// If the table or segment has no room left for it, the semaphore is still created
    /// and its permits are simply not recorded.
    ///
    /// # Errors
    ///
    /// [`StructureError::InvalidCapacity`] if `initial` or `max` exceed `i32::MAX` (the
    /// wire fields are `i32`), or `max > 0` and `initial > max`;
    /// [`StructureError::Table`] if the name is taken or there is no room.
    pub fn create(
        seg: &Segment,
        name: &str,
        initial: usize,
        max: usize,
    ) -> Result<Self, StructureError> {
        let sem = Self::create_inner(seg, name, initial, max)?;
        seg.ensure_permit_registry();
        Ok(sem)
    }

    /// [`Semaphore::create`] without the permit-holder registry, returning an untracked
    /// handle (as [`Semaphore::without_holder_tracking`]): for the semaphores inside an
    /// Event or a Monitor, which never record permits and so need no registry.
    pub(crate) fn create_untracked(
        seg: &Segment,
        name: &str,
        initial: usize,
        max: usize,
    ) -> Result<Self, StructureError> {
        Ok(Self::create_inner(seg, name, initial, max)?.without_holder_tracking())
    }

    fn create_inner(
        seg: &Segment,
        name: &str,
        initial: usize,
        max: usize,
    ) -> Result<Self, StructureError> {
        let wire = |v: usize| i32::try_from(v).ok().and_then(|v| u32::try_from(v).ok());
        let (Some(initial_w), Some(max_w)) = (wire(initial), wire(max)) else {
            return Err(StructureError::InvalidCapacity {
                requested: u64::try_from(initial.max(max)).unwrap_or(u64::MAX),
                reason: "a semaphore's initial and max counts are i32 on the wire: at most i32::MAX",
            });
        };
        if max > 0 && initial > max {
            return Err(StructureError::InvalidCapacity {
                requested: u64::from(initial_w),
                reason: "a bounded semaphore needs initial <= max",
            });
        }
        let entry = create_header(seg, name, initial_w, max_w)?;
        seg.record(&Record::new(CatalogKind::Semaphore, name, &entry));
        #[allow(clippy::cast_possible_wrap)] // <= i32::MAX, checked above
        Ok(Self {
            seg: seg.clone(),
            entry,
            max: max_w as i32,
            track: true,
        })
    }

    /// Opens the semaphore named `name`.
    ///
    /// # Errors
    ///
    /// [`StructureError::Table`] if there is no such entry; [`StructureError::Corrupt`]
    /// if its size is not 16 or `max_count` is negative.
    /// [`StructureError::KindMismatch`] or [`StructureError::TypeMismatch`] if the
    /// segment's type catalog records another kind or element type for `name` (checked
    /// after the bytes; see [`Segment::unchecked`]).
    pub fn open(seg: &Segment, name: &str) -> Result<Self, StructureError> {
        let entry = seg.find(name)?;
        let max = open_header(seg, &entry)?;
        seg.check_catalog(&Record::new(CatalogKind::Semaphore, name, &entry))?;
        Ok(Self {
            seg: seg.clone(),
            entry,
            max,
            track: true,
        })
    }

    /// This handle without holder tracking: its acquires and releases are not recorded
    /// in the segment's permit-holder registry, and its blocked acquires never reclaim
    /// the permits of dead holders (see the [module docs](super), "Process death").
    ///
    /// For a semaphore used as a *signal* (permits released by one process and acquired
    /// by another, never given back by the acquirer): there, what a process acquired is
    /// not what it holds, and reclaiming it when it dies would create signals that were
    /// never sent. Every process using such a semaphore should use this.
    /// [`Event`](crate::sync::Event) uses it for its semaphore.
    #[must_use]
    pub fn without_holder_tracking(mut self) -> Self {
        self.track = false;
        self
    }

    fn header(&self) -> Result<&SemaphoreHeader, Corruption> {
        self.seg.region().header(self.entry.offset())
    }

    pub(crate) fn raw(&self) -> Result<RawSemaphore<'_>, Corruption> {
        let h = self.header()?;
        Ok(RawSemaphore {
            count: &h.count,
            waiting: &h.waiting,
            max: self.max,
        })
    }

    fn acquire_inner(&self, deadline: Option<Instant>, block: bool) -> Result<(), Attempt<()>> {
        let me = current_pid();
        let h = self.header()?;
        let raw = RawSemaphore {
            count: &h.count,
            waiting: &h.waiting,
            max: self.max,
        };
        let r = if !self.track {
            if block {
                raw.acquire(deadline).map(|()| None)
            } else {
                raw.try_acquire().map(|()| None)
            }
        } else {
            // The slot is found (or claimed) before anything is taken.
            let slot = self.seg.permit_held(&self.entry, me, true);
            let gate = &h.owner;
            let take = |raw: &RawSemaphore<'_>| self.take_recorded(raw, gate, slot, me);
            if block {
                raw.acquire_with(deadline, take, |raw| self.reclaim(raw, gate, me))
            } else {
                take(&raw).map(|()| None)
            }
        };
        match r {
            Ok(None) => Ok(()),
            Ok(Some(pid)) => Err(Attempt::Failed(LockError::OwnerDead(OwnerDead::new(
                pid,
                (),
            )))),
            Err(RawAcquire::NotAcquired) => Err(Attempt::NotTaken),
            Err(RawAcquire::Bad(b)) => Err(corrupt(&self.entry, b).into()),
        }
    }

    /// Enters the semaphore's gate (module docs, "Process death"): `true` once `gate`
    /// holds `me`. A gate held by a dead process is taken over, and the intent it left
    /// settled. `false` if a live process kept it for [`GATE_TRIES`] attempts (a step is
    /// a few instructions: only a peer that wrote a live pid there keeps it so); the
    /// caller then goes on ungated.
    fn enter_gate(&self, raw: &RawSemaphore<'_>, gate: &AtomicU32, me: u32) -> bool {
        for i in 0..GATE_TRIES {
            // ORDERING: Acquire pairs with the Release clear in `exit_gate`: the last
            // gate holder's slot writes happen-before ours.
            match gate.compare_exchange(0, me, Acquire, Relaxed) {
                Ok(_) => return true,
                Err(q) if i >= GATE_SPINS => {
                    // ORDERING: Acquire — a dead holder's writes are visible since the
                    // kernel reported its death; the CAS picks one taker.
                    if q != me
                        && !pid_alive(q)
                        && gate.compare_exchange(q, me, Acquire, Relaxed).is_ok()
                    {
                        // ORDERING: Relaxed — under the gate no zeroipc process moves
                        // `count`; the dead holder's CAS is visible (kernel).
                        let count = raw.count.load(Relaxed);
                        self.seg.resolve_intents(self.entry.index(), count);
                        return true;
                    }
                    std::thread::yield_now();
                }
                Err(_) => core::hint::spin_loop(),
            }
        }
        false
    }

    fn exit_gate(gate: &AtomicU32) {
        // ORDERING: Release pairs with the Acquire CAS in `enter_gate`.
        gate.store(0, Release);
    }

    /// Takes a permit and records it in `slot`, under the gate (intent, CAS, record:
    /// module docs, "Process death").
    fn take_recorded(
        &self,
        raw: &RawSemaphore<'_>,
        gate: &AtomicU32,
        slot: Option<&AtomicU64>,
        me: u32,
    ) -> Result<(), RawAcquire> {
        let Some(word) = slot else {
            return raw.try_acquire(); // nothing to record it in
        };
        if !self.enter_gate(raw, gate, me) {
            raw.try_acquire()?;
            // ORDERING: Relaxed — ungated fallback: this process's own slot.
            word.fetch_add(1, Relaxed);
            return Ok(());
        }
        // ORDERING: Relaxed — our slot, changed only under the gate.
        let (held, _) = slot_parts(word.load(Relaxed));
        // ORDERING: Relaxed — the CAS below (Acquire) is what synchronises.
        let mut c = raw.count.load(Relaxed);
        let r = loop {
            match raw.check(c) {
                Err(b) => break Err(RawAcquire::Bad(b)),
                Ok(0) => break Err(RawAcquire::NotAcquired),
                Ok(_) => {}
            }
            // ORDERING: Relaxed — read only by a gate holder after our death (kernel).
            word.store(slot_word(held, c), Relaxed);
            crate::fault::point("semaphore.acquire.after_intent");
            // ORDERING: Acquire on success pairs with the Release CAS of a release.
            match raw.count.compare_exchange(c, c - 1, Acquire, Relaxed) {
                Ok(_) => break Ok(()),
                Err(now) => c = now, // a foreign peer moved it: a new intent
            }
        };
        if r.is_ok() {
            crate::fault::point("semaphore.acquire.after_cas");
        }
        let held = if r.is_ok() {
            held.saturating_add(1)
        } else {
            held
        };
        // ORDERING: Relaxed — the outcome and the end of the intent, one store.
        word.store(slot_word(held, 0), Relaxed);
        if r.is_ok() {
            crate::fault::point("semaphore.acquire.after_record");
        }
        Self::exit_gate(gate);
        r
    }

    /// Gives back the permits of dead holders of this semaphore (one registry pass,
    /// under the gate); the pid of one of them, if any permit was given back.
    #[cold]
    fn reclaim(&self, raw: &RawSemaphore<'_>, gate: &AtomicU32, me: u32) -> Option<u32> {
        if !self.enter_gate(raw, gate, me) {
            return None;
        }
        let r = self
            .seg
            .take_dead_permits(self.entry.index(), me, pid_alive, |r, word| {
                // All or nothing: a `held` that would overflow `max_count` is corrupt (or
                // the semaphore is used as a signal) and is dropped, never half-applied.
                // ORDERING: Relaxed — the CAS in `release_exact` synchronises.
                let mut c = raw.count.load(Relaxed);
                loop {
                    // ORDERING: Relaxed — read only by a gate holder after our death.
                    word.store(slot_word(r.held, c | INTENT_RELEASE), Relaxed);
                    match raw.release_exact(c, r.held) {
                        Ok(Ok(())) => break,
                        Ok(Err(now)) => c = now,
                        Err(_) => return false,
                    }
                }
                crate::fault::point("semaphore.reclaim.after_give_back");
                raw.wake_after_release(r.held);
                true
            })
            .map(|r| r.pid);
        Self::exit_gate(gate);
        r
    }

    /// Takes a permit, waiting as long as it takes.
    ///
    /// While blocked it gives back, every 50 ms, the permits recorded for zeroipc
    /// processes that died holding them (see the [module docs](super)).
    ///
    /// # Errors
    ///
    /// [`LockError::OwnerDead`] (with `()` for a guard): the permit **is held** by the
    /// caller, taken after this call gave back the permits of the dead process named in
    /// it; release it as usual. [`LockError::Corrupt`] if `count` is negative or above
    /// `max_count`.
    pub fn acquire(&self) -> Result<(), LockError> {
        loop {
            match self.acquire_inner(None, true) {
                Ok(()) => return Ok(()),
                Err(Attempt::Failed(e)) => return Err(e),
                // A wait without deadline does not end untaken; were it ever to, wait on.
                Err(Attempt::NotTaken) => {}
            }
        }
    }

    /// Takes a permit if one is free now (never reclaims dead holders' permits, so
    /// never [`TryLockError::OwnerDead`]); never blocks.
    ///
    /// # Errors
    ///
    /// [`TryLockError::WouldBlock`] if none is; [`TryLockError::Corrupt`] as for
    /// `acquire`.
    pub fn try_acquire(&self) -> Result<(), TryLockError> {
        self.acquire_inner(None, false).map_err(Attempt::into_try)
    }

    /// Takes a permit, waiting at most `timeout`.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; [`LockTimeoutError::OwnerDead`] and
    /// [`LockTimeoutError::Corrupt`] as for `acquire`.
    pub fn acquire_timeout(&self, timeout: Duration) -> Result<(), LockTimeoutError> {
        self.acquire_inner(deadline_after(timeout), true)
            .map_err(Attempt::into_timeout)
    }

    /// Takes a permit, waiting until `deadline` at the latest.
    ///
    /// # Errors
    ///
    /// [`LockTimeoutError::Timeout`]; [`LockTimeoutError::OwnerDead`] and
    /// [`LockTimeoutError::Corrupt`] as for `acquire`.
    pub fn acquire_deadline(&self, deadline: Instant) -> Result<(), LockTimeoutError> {
        self.acquire_inner(Some(deadline), true)
            .map_err(Attempt::into_timeout)
    }

    /// Returns a permit, waking one waiter.
    ///
    /// # Errors
    ///
    /// [`ReleaseError::Overflow`] if the count is at `max_count` (or `i32::MAX`);
    /// [`ReleaseError::Corrupt`] if `count` is out of range.
    pub fn release(&self) -> Result<(), ReleaseError> {
        let h = self.header()?;
        let raw = RawSemaphore {
            count: &h.count,
            waiting: &h.waiting,
            max: self.max,
        };
        let me = current_pid();
        let slot = if self.track {
            self.seg.permit_held(&self.entry, me, false)
        } else {
            None
        };
        let r = match slot {
            None => raw.release(),
            Some(word) => self.release_recorded(&raw, &h.owner, word, me),
        };
        r.map_err(|e| release_error(&self.entry, e))
    }

    /// Returns a permit recorded in `word`, under the gate (intent, CAS, unrecord).
    fn release_recorded(
        &self,
        raw: &RawSemaphore<'_>,
        gate: &AtomicU32,
        word: &AtomicU64,
        me: u32,
    ) -> Result<(), RawRelease> {
        if !self.enter_gate(raw, gate, me) {
            // Ungated fallback: unrecorded before the permit goes back (a crash in
            // between loses it rather than letting a reclaimer return it twice).
            // ORDERING: Relaxed — this process's own slot.
            let unrecorded = word
                .fetch_update(Relaxed, Relaxed, |w| {
                    let (held, intent) = slot_parts(w);
                    held.checked_sub(1).map(|h| slot_word(h, intent))
                })
                .is_ok();
            let r = raw.release();
            if r.is_err() && unrecorded {
                // ORDERING: Relaxed — as above: not returned, still ours.
                word.fetch_add(1, Relaxed);
            }
            return r;
        }
        // ORDERING: Relaxed — our slot, changed only under the gate.
        let (held, _) = slot_parts(word.load(Relaxed));
        let r = if held == 0 {
            raw.release() // not one we recorded: nothing to unrecord
        } else {
            // ORDERING: Relaxed — the CAS in `release_exact` (Release) publishes.
            let mut c = raw.count.load(Relaxed);
            let r = loop {
                // ORDERING: Relaxed — read only by a gate holder after our death.
                word.store(slot_word(held, c | INTENT_RELEASE), Relaxed);
                match raw.release_exact(c, 1) {
                    Ok(Ok(())) => break Ok(()),
                    Ok(Err(now)) => c = now,
                    Err(e) => break Err(e),
                }
            };
            if r.is_ok() {
                crate::fault::point("semaphore.release.after_cas");
            }
            let held = if r.is_ok() { held - 1 } else { held };
            // ORDERING: Relaxed — the outcome and the end of the intent, one store.
            word.store(slot_word(held, 0), Relaxed);
            if r.is_ok() {
                raw.wake_after_release(1);
            }
            r
        };
        Self::exit_gate(gate);
        r
    }

    /// Permits left now (a snapshot).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the `i32` word is negative or above `max_count` (naming the
    /// value found).
    pub fn count(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot for display.
        let raw = self.header()?.count.load(Relaxed);
        self.raw()?
            .check(raw)
            .map(non_negative)
            .map_err(|b| corrupt(&self.entry, b))
    }

    /// Acquirers currently counted as blocked (a snapshot; dead waiters stay counted).
    ///
    /// # Errors
    ///
    /// [`Corruption`] if the `i32` word is negative (naming the value found).
    pub fn waiting(&self) -> Result<usize, Corruption> {
        // ORDERING: Relaxed — a snapshot for display.
        let raw = self.header()?.waiting.load(Relaxed);
        count_word(&self.entry, "waiting", raw)
    }

    /// The maximum count (0 = unbounded: `i32::MAX` is then the limit), validated at
    /// open.
    #[must_use]
    pub fn max_count(&self) -> usize {
        non_negative(self.max)
    }

    /// The table entry.
    #[must_use]
    pub fn entry(&self) -> &Entry {
        &self.entry
    }

    /// The segment the semaphore lives in.
    #[must_use]
    pub fn segment(&self) -> &Segment {
        &self.seg
    }
}

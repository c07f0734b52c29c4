//! The one async bridge: a per-process reactor thread that wakes pending awaitables (Future,
//! Lazy, Channel) when the shared word each waits on changes. No thread per awaited object.
//!
//! # Design
//!
//! An awaitable that finds nothing to return reads the word its blocking form would sleep on
//! (a Future's `state`, a rendezvous channel's `receivers`), then **arms** an [`Interest`]:
//! "wake this task once that word no longer holds the value I read, or at `wake_at`". The
//! registration keeps a clone of the [`Segment`] (so the word stays mapped) and the word's
//! offset in it. One thread per process, started on the first registration, loops:
//!
//! 1. scan every registration (one load each): fire those whose word changed, whose probe
//!    changed, or whose `wake_at` passed (removing them and waking their `Waker`s, outside
//!    the lock);
//! 2. sleep with `futex_waitv` on the **bell** (a process-local word every arm and disarm
//!    bumps) plus up to 127 registered words, each with the value its task read, for at most
//!    [`SLICE`](super::SLICE) (1 ms: peers in other languages never call `FUTEX_WAKE`, so
//!    every word is re-read at least every millisecond, as the blocking forms do).
//!
//! With more than 127 registrations, each pass takes the next 127 (round robin): those in
//! the window wake at once on a zeroipc `FUTEX_WAKE`; the others are noticed by the scan
//! within a millisecond. Thousands of awaited futures cost one thread.
//!
//! **Fallback.** Where `futex_waitv` is missing (Linux before 5.16, or a seccomp filter:
//! `ENOSYS`) or fails, the same thread sleeps on the bell alone for 1 ms and scans: every
//! awaitable is then woken within about a millisecond of its change (polling; still one
//! thread, still no executor polling while nothing changes).
//!
//! # Layout
//!
//! Nothing in shared memory of its own: it only reads words the structures own (a Future's
//! `state`, a Channel's `receivers` / `senders` or a queue slot's `seq`), never writes them.
//! The bell is a process-local word.
//!
//! # Synchronization: no lost wake-up
//!
//! - *Register, then re-check.* The task reads its word (`expected`) **before** its failed
//!   attempt, so a change after that read is a change from `expected`. The reactor either
//!   scans after the change (the word differs: fire), or passes `expected` to `futex_waitv`,
//!   which compares it in the kernel atomically with queueing: a setter's store followed by
//!   its `FUTEX_WAKE` either finds the reactor queued (woken) or the reactor's compare sees
//!   the new value (`EAGAIN`: scan again). So a change between the read and the arm is never
//!   missed.
//! - *The bell.* An arm inserts under the registry mutex, then bumps the bell and wakes it.
//!   The reactor reads the bell before taking the mutex to build its batch, and passes that
//!   value to `futex_waitv`: a registration it did not see (made after its scan) has bumped
//!   the bell, so the wait returns at once (`EAGAIN` or the bell's wake) and the next pass
//!   includes it. The mutex orders everything else (the scan sees every arm made before it).
//! - The registry, the bell and one pass are `reactor_core` (generic over what a
//!   registration watches), model-checked with loom against the futex model: an armed task
//!   is fired in every interleaving of its arm, a setter's store and wake, and the
//!   reactor's pass and wait. The bell is a process-local word, waited on as a *shared*
//!   futex like every other (the key is then the mapping and address; it works the same).
//! - Wakers are called after the registry lock is released, and a fired registration is
//!   removed first, so a task that re-arms from inside its waker (or re-polls on another
//!   thread) never deadlocks and never finds a stale entry.
//!
//! # Process death
//!
//! A peer that dies never wakes anyone: its awaiters are woken by their `wake_at` (a
//! Future's setter is re-checked for liveness every
//! [`HOLDER_KNOWN_SLICE`](super::HOLDER_KNOWN_SLICE)) or their deadline. If the reactor
//! thread cannot be started, arming wakes the task after a slice instead (degraded to
//! polling, never hung).

use core::task::Waker;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::SLICE;
use super::reactor_core::{Core, Watch};
use crate::loom::AtomicU32;
use crate::segment::Segment;
use crate::sys::clock::monotonic_ns;
use crate::sys::futex::{self, WAITV_MAX, WaitvOutcome};

/// How an armed awaitable looks for change besides its futex word: a fingerprint of several
/// words (Channel), compared with the one taken before the failed attempt.
pub(crate) type Probe = Box<dyn Fn() -> u64 + Send>;

/// What one registration waits for.
pub(crate) struct Arm<'a> {
    /// The segment the word lives in (cloned into the registration: keeps it mapped).
    pub(crate) seg: &'a Segment,
    /// The word; the task's futex.
    pub(crate) word: &'a AtomicU32,
    /// The value the task read before its failed attempt.
    pub(crate) expected: u32,
    /// Wake anyway at this instant (a deadline, or a liveness re-check).
    pub(crate) wake_at: Option<Instant>,
    /// A fingerprint to compare on every pass, with its value before the failed attempt.
    pub(crate) probe: Option<(Probe, u64)>,
}

struct Registration {
    seg: Segment,
    /// Offset of the word in `seg` (re-read through the checked gate on each pass).
    at: u64,
    expected: u32,
    wake_at: Option<Instant>,
    probe: Option<(Probe, u64)>,
    waker: Waker,
}

impl Watch for Registration {
    fn word(&self) -> Option<&AtomicU32> {
        self.seg.region().header::<AtomicU32>(self.at).ok()
    }

    fn expected(&self) -> u32 {
        self.expected
    }

    fn due_anyway(&self, now: Instant) -> bool {
        self.wake_at.is_some_and(|t| now >= t)
            || self.probe.as_ref().is_some_and(|(p, seen)| p() != *seen)
    }
}

struct Reactor {
    core: Core<Registration>,
    /// Whether the reactor thread runs (false: it could not be spawned).
    running: bool,
}

fn reactor() -> &'static Reactor {
    static R: OnceLock<&'static Reactor> = OnceLock::new();
    R.get_or_init(|| {
        let spawned = std::thread::Builder::new()
            .name("zeroipc-reactor".into())
            .spawn(|| run(reactor(), true));
        let r: &'static Reactor = Box::leak(Box::new(Reactor {
            core: Core::new(),
            running: spawned.is_ok(),
        }));
        r
    })
}

/// The reactor thread (see the module docs); `waitv_works` false starts it in the polling
/// fallback (tests; the real thread falls back on `ENOSYS`).
fn run(r: &'static Reactor, mut waitv_works: bool) {
    let mut batch = Vec::with_capacity(WAITV_MAX);
    let mut fired = Vec::new();
    loop {
        batch.clear();
        let mut next_wake = Instant::now() + SLICE;
        let pass = r.core.pass(WAITV_MAX - 1, &mut fired, |g| {
            if let Some(t) = g.wake_at {
                next_wake = next_wake.min(t);
            }
            if waitv_works {
                if let Some(w) = g.word() {
                    batch.push(futex::waitv_entry(w, g.expected));
                }
            }
        });
        // Wake outside the registry lock; drop the registrations (and maybe the last clone
        // of a segment) there too.
        fired.drain(..).for_each(|g| g.waker.wake());
        if pass.empty {
            // Nothing registered: sleep until an arm rings.
            let _ = futex::wait(&r.core.bell, pass.bell, None);
            continue;
        }
        if !waitv_works {
            let _ = futex::wait(&r.core.bell, pass.bell, Some(next_wake));
            continue;
        }
        batch.insert(0, futex::waitv_entry(&r.core.bell, pass.bell));
        let left = next_wake.saturating_duration_since(Instant::now());
        let until_ns = monotonic_ns().saturating_add(u64::try_from(left.as_nanos()).unwrap_or(0));
        // A registration disarmed after the batch was built may drop the last clone of its
        // segment: the kernel then reads an unmapped address (EFAULT, one polling pass) or
        // an unrelated word (a spurious return, at the latest when the disarm's bell rings).
        // It only ever reads these addresses, so neither touches this process's memory.
        match futex::waitv(&batch, until_ns) {
            WaitvOutcome::Woken | WaitvOutcome::Changed | WaitvOutcome::TimedOut => {}
            WaitvOutcome::Unsupported => waitv_works = false,
            WaitvOutcome::Failed => {
                let _ = futex::wait(&r.core.bell, pass.bell, Some(next_wake));
            }
        }
    }
}

/// One awaitable's registration with the reactor: armed while the task is pending, removed
/// when it fires, is re-armed, or is dropped.
#[derive(Debug, Default)]
pub(crate) struct Interest {
    id: Option<u64>,
}

impl Interest {
    /// A registration that is not armed.
    pub(crate) const fn new() -> Self {
        Self { id: None }
    }

    /// Asks for `waker` to be woken once `arm.word` no longer holds `arm.expected` (or the
    /// probe changed, or `arm.wake_at` passed). Replaces any earlier arming of `self`.
    ///
    /// The caller read `arm.expected` *before* the attempt that failed, so a change made
    /// after that read wakes the task (module docs, "no lost wake-up").
    pub(crate) fn arm(&mut self, arm: Arm<'_>, waker: &Waker) {
        let r = reactor();
        if !r.running {
            // No reactor thread: poll, a slice at a time (degraded, never hung).
            std::thread::sleep(SLICE);
            waker.wake_by_ref();
            return;
        }
        let Some(at) = arm.seg.region().offset_of(arm.word) else {
            // Not a word of this segment (a bug): never leave the task hanging.
            waker.wake_by_ref();
            return;
        };
        let g = Registration {
            seg: arm.seg.clone(),
            at,
            expected: arm.expected,
            wake_at: arm.wake_at,
            probe: arm.probe,
            waker: waker.clone(),
        };
        let (id, replaced) = r.core.arm(self.id, g);
        self.id = Some(id);
        // Dropped outside the lock (a segment clone's drop may unmap).
        drop(replaced);
    }

    /// Withdraws the registration, if still armed.
    pub(crate) fn disarm(&mut self) {
        if let Some(id) = self.id.take() {
            drop(reactor().core.disarm(id));
        }
    }
}

impl Drop for Interest {
    fn drop(&mut self) {
        self.disarm();
    }
}

/// How many registrations are armed (tests and benchmarks).
#[allow(dead_code)]
pub(crate) fn armed() -> usize {
    reactor().core.len()
}

/// `Duration` of a liveness re-check for an armed awaitable whose peer may die silently.
pub(crate) const RECHECK: Duration = super::HOLDER_KNOWN_SLICE;

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Condvar, Mutex};
    use std::task::Wake;
    use std::time::Duration;

    use super::{Core, Reactor, Registration, Waker, futex, run};
    use crate::loom::Ordering::Release;
    use crate::segment::{Segment, SegmentOptions};

    /// A waker that records being woken.
    #[derive(Default)]
    struct Woken(Mutex<bool>, Condvar);

    impl Wake for Woken {
        fn wake(self: Arc<Self>) {
            *self.0.lock().unwrap() = true;
            self.1.notify_all();
        }
    }

    struct Unlink(String);

    impl Drop for Unlink {
        fn drop(&mut self) {
            let _ = Segment::unlink(&self.0);
        }
    }

    /// A reactor of its own (not the process's), in `futex_waitv` or in polling mode: a
    /// registration fires once its word changes, and is removed.
    fn fires_when_the_word_changes(waitv: bool) {
        let name = format!("/zeroipc-test-{}-reactor-{waitv}", std::process::id());
        let seg = SegmentOptions::new()
            .size(64 * 1024)
            .create_new(&name)
            .unwrap();
        let _unlink = Unlink(name);
        let a = crate::structures::Array::<u32>::create(&seg, "w", 1).unwrap();
        let word = a.atomic(0).unwrap();
        let r: &'static Reactor = Box::leak(Box::new(Reactor {
            core: Core::new(),
            running: true,
        }));
        std::thread::spawn(move || run(r, waitv));
        let woken = Arc::new(Woken::default());
        let g = Registration {
            seg: seg.clone(),
            at: seg.region().offset_of(word).unwrap(),
            expected: 0,
            wake_at: None,
            probe: None,
            waker: Waker::from(woken.clone()),
        };
        let _ = r.core.arm(None, g);
        // ORDERING: Release — the test's "setter" (the registration only compares).
        word.store(1, Release);
        futex::wake_all(word);
        let (done, timeout) = woken
            .1
            .wait_timeout_while(woken.0.lock().unwrap(), Duration::from_secs(30), |w| !*w)
            .unwrap();
        assert!(
            *done && !timeout.timed_out(),
            "never woken (waitv: {waitv})"
        );
        drop(done);
        assert_eq!(r.core.len(), 0, "a fired registration is removed");
    }

    #[test]
    fn a_registration_fires_with_futex_waitv() {
        fires_when_the_word_changes(true);
    }

    #[test]
    fn a_registration_fires_in_the_polling_fallback() {
        fires_when_the_word_changes(false);
    }
}

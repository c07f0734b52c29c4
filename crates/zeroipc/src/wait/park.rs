//! Parking: spin briefly, then sleep on a *shared* futex, re-checking at least every
//! millisecond.
//!
//! Every blocking operation of [`crate::sync`] and `codata` is a loop "try the fast path; if it fails,
//! [`park`] on the word it is waiting for; repeat". This module owns the policy:
//!
//! - **Spin first** ([`spin_while`]): loads between the [`Backoff`] bursts, enough for a
//!   hand-off between two running processes, never a whole time slice (2-core machines).
//! - **Then futex** ([`park`]): `FUTEX_WAIT` *without* `FUTEX_PRIVATE_FLAG` on the 4-byte word,
//!   so a wake from another process reaches us. Our own releases always wake.
//! - **Never longer than [`SLICE`]**: C++, C, Go and Python peers change the same words but
//!   never call `FUTEX_WAKE` (they poll, FORMAT.md §4), so each sleep is at most 1 ms before
//!   the caller re-checks. That matches the upstream back-off cap of about 1.024 ms.
//! - **Absolute deadlines**: callers pass an `Instant`; each slice is recomputed against it.
//!
//! Under `cfg(loom)` [`park`] calls the futex model with the caller's own deadline: an
//! untimed wait then really blocks until a wake, so a missing wake shows up as a loom
//! deadlock instead of being papered over by the 1 ms re-check.

use std::time::{Duration, Instant};

use super::Backoff;
use crate::loom::{AtomicU32, Ordering::Relaxed};
use crate::sys::futex;

/// The longest a waiter sleeps before re-checking its word.
pub(crate) const SLICE: Duration = Duration::from_millis(1);

/// The slice of a waiter whose lock is held by a *zeroipc* process it can name (a Mutex with
/// a recorded owner pid): that holder's release always wakes, so the only reason to wake up
/// on our own is to ask the kernel whether the holder died. Bounds how long a dead holder
/// goes unnoticed; 1 ms slices cost about 2 % of a core per blocked waiter, these ~0.05 %.
pub(crate) const HOLDER_KNOWN_SLICE: Duration = Duration::from_millis(50);

/// Whether [`park`] gave up because the caller's deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Parked {
    /// Re-check the condition (woken, changed, spurious, or a slice ended).
    Retry,
    /// The deadline passed: re-check once more, then report a timeout.
    TimedOut,
}

/// `Instant::now() + timeout`, or `None` (no limit) if that does not fit in an `Instant`.
#[must_use]
pub(crate) fn deadline_after(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Spins (loads only) while `*word == expected`; returns `true` if the word changed.
#[inline]
pub(crate) fn spin_while(word: &AtomicU32, expected: u32) -> bool {
    if cfg!(loom) {
        return false;
    }
    let mut backoff = Backoff::new();
    loop {
        // ORDERING: Relaxed — only a hint to stop spinning; the caller's fast path (an
        // Acquire RMW) is what synchronises.
        if word.load(Relaxed) != expected {
            return true;
        }
        if backoff.is_completed() {
            return false;
        }
        backoff.spin();
    }
}

/// Sleeps while `*word == expected`, for at most [`SLICE`] and never past `deadline`.
///
/// May return early for any reason; callers re-check in a loop.
#[cfg(not(loom))]
pub(crate) fn park(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Parked {
    park_slice(word, expected, deadline, SLICE)
}

/// [`park`] with a slice of the caller's choosing (see [`HOLDER_KNOWN_SLICE`]).
#[cfg(not(loom))]
pub(crate) fn park_slice(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<Instant>,
    slice: Duration,
) -> Parked {
    let now = Instant::now();
    if deadline.is_some_and(|d| now >= d) {
        return Parked::TimedOut;
    }
    let slice_end = now + slice;
    let until = deadline.map_or(slice_end, |d| d.min(slice_end));
    let _ = futex::wait(word, expected, Some(until));
    if deadline.is_some_and(|d| Instant::now() >= d) {
        Parked::TimedOut
    } else {
        Parked::Retry
    }
}

/// Sleeps while every `(word, expected)` pair still holds, for at most [`SLICE`] and never
/// past `deadline`: one `futex_waitv` over all of them (Linux 5.16+), so a change of any word
/// that its changer wakes ends the sleep at once. More than `futex::WAITV_MAX` words, or a
/// kernel without `futex_waitv`, parks on the first word only (the others are noticed by the
/// caller's re-check within one slice).
///
/// May return early for any reason; callers re-check in a loop.
#[cfg(not(loom))]
pub(crate) fn park_any(words: &[(&AtomicU32, u32)], deadline: Option<Instant>) -> Parked {
    let Some(&(first, first_expected)) = words.first() else {
        return Parked::Retry;
    };
    if words.len() == 1 || words.len() > futex::WAITV_MAX {
        return park(first, first_expected, deadline);
    }
    let now = Instant::now();
    if deadline.is_some_and(|d| now >= d) {
        return Parked::TimedOut;
    }
    let span = deadline.map_or(SLICE, |d| d.saturating_duration_since(now).min(SLICE));
    let span_ns = u64::try_from(span.as_nanos()).unwrap_or(u64::MAX);
    let entries: Vec<futex::Waitv> = words
        .iter()
        .map(|&(word, expected)| futex::waitv_entry(word, expected))
        .collect();
    let until_ns = crate::sys::clock::monotonic_ns().saturating_add(span_ns);
    match futex::waitv(&entries, until_ns) {
        futex::WaitvOutcome::Unsupported | futex::WaitvOutcome::Failed => {
            return park(first, first_expected, deadline);
        }
        futex::WaitvOutcome::Woken
        | futex::WaitvOutcome::Changed
        | futex::WaitvOutcome::TimedOut => {}
    }
    if deadline.is_some_and(|d| Instant::now() >= d) {
        Parked::TimedOut
    } else {
        Parked::Retry
    }
}

/// The loom version of [`park_any`]: the model has no multi-word wait, so it parks on the
/// first word (a model that needs the others must wake the first).
#[cfg(loom)]
#[allow(dead_code)]
pub(crate) fn park_any(words: &[(&AtomicU32, u32)], deadline: Option<Instant>) -> Parked {
    match words.first() {
        Some(&(word, expected)) => park(word, expected, deadline),
        None => Parked::Retry,
    }
}

/// The loom version: the caller's deadline goes straight to the futex model (an untimed wait
/// blocks until woken; a timed one may time out at any point).
#[cfg(loom)]
pub(crate) fn park(word: &AtomicU32, expected: u32, deadline: Option<Instant>) -> Parked {
    match futex::wait(word, expected, deadline) {
        futex::WaitOutcome::TimedOut => Parked::TimedOut,
        _ => Parked::Retry,
    }
}

/// The loom version of [`park_slice`]: slices do not exist in the model.
#[cfg(loom)]
pub(crate) fn park_slice(
    word: &AtomicU32,
    expected: u32,
    deadline: Option<Instant>,
    _slice: Duration,
) -> Parked {
    park(word, expected, deadline)
}

/// Wakes one waiter parked on `word` (in any process).
#[inline]
pub(crate) fn wake_one(word: &AtomicU32) {
    futex::wake_one(word);
}

/// Wakes every waiter parked on `word` (in any process).
#[inline]
pub(crate) fn wake_all(word: &AtomicU32) {
    futex::wake_all(word);
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::Arc;
    use loom::thread;

    use super::*;
    use crate::loom::Ordering::{Acquire, Release};

    /// The pattern every primitive uses: check, park on the observed value, re-check; the
    /// other side stores, then wakes. A wake that slips between the check and the sleep
    /// would leave the waiter blocked forever: loom reports that as a deadlock.
    #[test]
    fn loom_park_then_wake_is_never_lost() {
        loom::model(|| {
            let word = Arc::new(AtomicU32::new(0));
            let w2 = word.clone();
            let waiter = thread::spawn(move || {
                loop {
                    // ORDERING: Acquire pairs with the Release store below.
                    let v = w2.load(Acquire);
                    if v != 0 {
                        return v;
                    }
                    let _ = park(&w2, v, None);
                }
            });
            // ORDERING: Release pairs with the waiter's Acquire load.
            word.store(7, Release);
            wake_all(&word);
            assert_eq!(waiter.join().unwrap(), 7);
        });
    }
}

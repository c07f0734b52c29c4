//! The monotonic clock, as C++ `std::chrono::steady_clock` reads it on Linux.

/// `clock_gettime(CLOCK_MONOTONIC)` in nanoseconds: the unit C++ writes into a Future's
/// `completion_time` (FORMAT.md §6.1).
///
/// # References
///  - [Linux `clock_gettime(2)`](https://man7.org/linux/man-pages/man2/clock_gettime.2.html)
#[doc(alias = "clock_gettime")]
#[allow(clippy::cast_sign_loss)] // the monotonic clock is never negative
pub(crate) fn monotonic_ns() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    (t.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(t.tv_nsec as u64)
}

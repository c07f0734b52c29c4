//! Pinning the two sides of a cross-process measurement to different CPUs.
//!
//! On a 2-vCPU machine the scheduler may put both processes of a ping-pong on one CPU; a
//! spinning round trip then costs a time slice (tens of microseconds) instead of a cache-line
//! transfer (tens of nanoseconds), and a ratio to a floor measured at another moment means
//! nothing. The parent pins itself to the first CPU it may run on and tells the child (by
//! [`CPU_ENV`]) to pin itself to the second.

use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};

/// The environment variable through which a parent tells its child which CPU to take.
pub const CPU_ENV: &str = "ZEROIPC_BENCH_CPU";

/// The CPUs this process may run on, in order (empty if the kernel will not say).
#[must_use]
pub fn allowed_cpus() -> Vec<usize> {
    sched_getaffinity(None).map_or_else(
        |_| Vec::new(),
        |set| (0..CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect(),
    )
}

/// Restricts the calling thread (and the threads it starts later) to `cpu`.
///
/// # Errors
///
/// The kernel's answer (`EINVAL` for a CPU this process may not use).
pub fn pin_to(cpu: usize) -> std::io::Result<()> {
    let mut set = CpuSet::new();
    set.set(cpu);
    sched_setaffinity(None, &set).map_err(std::io::Error::from)
}

/// The (parent, child) CPUs of a pair, or `None` with fewer than two allowed CPUs.
#[must_use]
pub fn pair() -> Option<(usize, usize)> {
    match allowed_cpus()[..] {
        [a, b, ..] => Some((a, b)),
        _ => None,
    }
}

/// Pins a child to the CPU its parent named in [`CPU_ENV`] (nothing if unset or invalid).
pub fn pin_child_from_env() {
    if let Some(cpu) = std::env::var(CPU_ENV).ok().and_then(|v| v.parse().ok()) {
        let _ = pin_to(cpu);
    }
}

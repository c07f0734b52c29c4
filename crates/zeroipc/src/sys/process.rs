//! Process identity and liveness, for dead-peer detection.

use crate::loom::{Ordering::Relaxed, ProcessAtomicU32};

/// The calling process's id, cached after the first call.
///
/// `getpid` is a system call (glibc stopped caching it), and lock fast paths record the
/// holder's pid on every acquire. The cache is per process image: a child made by `fork`
/// without `exec` would inherit the parent's value, so such a child must not use zeroipc
/// handles it inherited (open the segment again after `exec`). Rust's `Command` always execs.
///
/// Inlined: every uncontended `Mutex::lock` calls it, and the cached case is one load and a
/// branch (a `OnceLock` behind a call measured a dozen instructions per lock).
#[allow(dead_code)] // used by the dead-holder detection of `sync`
#[inline]
pub(crate) fn current_pid() -> u32 {
    // ORDERING: Relaxed — the pid is the same whichever thread stores it first; a racing
    // thread that reads 0 asks the kernel itself.
    match PID.load(Relaxed) {
        0 => current_pid_slow(),
        pid => pid,
    }
}

/// 0 until the first [`current_pid`] (pids are never 0).
static PID: ProcessAtomicU32 = ProcessAtomicU32::new(0);

#[cold]
fn current_pid_slow() -> u32 {
    let pid = rustix::process::getpid()
        .as_raw_nonzero()
        .get()
        .unsigned_abs();
    // ORDERING: Relaxed — see `current_pid`.
    PID.store(pid, Relaxed);
    pid
}

/// Whether a process with id `pid` exists (`kill(pid, 0)`).
///
/// `EPERM` means it exists but belongs to someone else: alive. Pid reuse can make a dead
/// process look alive; callers treat "alive" as "keep waiting until your timeout".
#[doc(alias = "kill")]
#[allow(dead_code)] // used by the dead-holder detection of `sync`
pub(crate) fn pid_alive(pid: u32) -> bool {
    let Ok(raw) = i32::try_from(pid) else {
        return false;
    };
    let Some(pid) = rustix::process::Pid::from_raw(raw) else {
        return false;
    };
    match rustix::process::test_kill_process(pid) {
        Ok(()) => true,
        Err(e) => e == rustix::io::Errno::PERM,
    }
}

//! Process identity and liveness, for dead-peer detection.

/// The calling process's id, cached after the first call.
///
/// `getpid` is a system call (glibc stopped caching it), and lock fast paths record the
/// holder's pid on every acquire. The cache is per process image: a child made by `fork`
/// without `exec` would inherit the parent's value, so such a child must not use zeroipc
/// handles it inherited (open the segment again after `exec`). Rust's `Command` always execs.
#[allow(dead_code)] // used by the dead-holder detection of `sync`
pub(crate) fn current_pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(|| {
        rustix::process::getpid()
            .as_raw_nonzero()
            .get()
            .unsigned_abs()
    })
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

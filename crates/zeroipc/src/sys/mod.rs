//! The platform layer: the only code that calls the operating system (through rustix).
//!
//! Everything above sees [`Shm`](shm::Shm), [`Mapping`](mapping::Mapping), the shared
//! [`futex`] and [`process`] helpers, never a raw syscall. ZeroIPC is Linux-only (every upstream
//! implementation is, in practice: Python hard-codes `/dev/shm`, Go refuses other systems).

#[cfg(not(target_os = "linux"))]
compile_error!(
    "zeroipc supports Linux only: the segment format relies on POSIX shm in /dev/shm and on futexes"
);

#[cfg(not(loom))]
pub(crate) mod clock;
pub(crate) mod futex;
#[cfg(not(loom))]
pub(crate) mod mapping;
pub(crate) mod membarrier;
#[cfg(not(loom))]
pub(crate) mod process;
#[cfg(not(loom))]
pub(crate) mod shm;

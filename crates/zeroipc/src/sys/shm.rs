//! POSIX shared-memory objects: `shm_open`, `fstat`, `ftruncate`, `fallocate`, `flock`,
//! `shm_unlink`.
//!
//! Names are validated by [`crate::segment::name`] before they reach this module.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use rustix::fs::{FallocateFlags, FlockOperation, Mode};
use rustix::shm::OFlags;

/// An open shared-memory object (its descriptor). Closed on drop; never unlinked on drop.
#[derive(Debug)]
pub(crate) struct Shm {
    fd: OwnedFd,
}

/// How [`Shm::open`] opens the object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Access {
    ReadOnly,
    ReadWrite,
}

/// `name` without its leading slashes, as `shm_open(3)` reads it.
///
/// rustix's raw backend refuses any name longer than `NAME_MAX` (255) *counting* the leading
/// slash, then strips the slash itself; glibc (which C++ and C use) strips first and accepts
/// 255 characters after it. Handing rustix the bare name gives glibc's limit, so a name C++
/// can open we can open too (issue #17).
fn bare(name: &str) -> &str {
    name.trim_start_matches('/')
}

impl Shm {
    /// `shm_open(name, O_CREAT | O_EXCL | O_RDWR, mode)`, then `fchmod(mode)` so the object
    /// gets exactly `mode` whatever the umask.
    ///
    /// # References
    ///  - [Linux `shm_open(3)`](https://man7.org/linux/man-pages/man3/shm_open.3.html)
    #[doc(alias = "shm_open")]
    pub(crate) fn create_exclusive(name: &str, mode: u32) -> io::Result<Self> {
        let fd = rustix::shm::open(
            bare(name),
            OFlags::CREATE | OFlags::EXCL | OFlags::RDWR,
            Mode::from_raw_mode(mode),
        )?;
        rustix::fs::fchmod(&fd, Mode::from_raw_mode(mode))?;
        Ok(Self { fd })
    }

    /// `shm_open(name, O_RDONLY or O_RDWR | O_NONBLOCK | O_NOFOLLOW, 0)`: opens an existing
    /// object, which must be a regular file.
    ///
    /// Anyone may create files in `/dev/shm`. Without `O_NONBLOCK`, a FIFO under the
    /// segment's name would block a read-only open forever (until some writer opens it);
    /// `O_NOFOLLOW` is what glibc's `shm_open` adds and rustix's raw backend does not. On a
    /// regular file `O_NONBLOCK` changes nothing we use (`fstat`, `mmap`, `flock`).
    /// Anything but a regular file is refused with `InvalidInput`.
    #[doc(alias = "shm_open")]
    pub(crate) fn open(name: &str, access: Access) -> io::Result<Self> {
        let flags = match access {
            Access::ReadOnly => OFlags::RDONLY,
            Access::ReadWrite => OFlags::RDWR,
        };
        let extra = rustix::fs::OFlags::NONBLOCK | rustix::fs::OFlags::NOFOLLOW;
        let flags = flags | OFlags::from_bits_retain(extra.bits());
        let fd = rustix::shm::open(bare(name), flags, Mode::empty())?;
        let st = rustix::fs::fstat(&fd)?;
        if rustix::fs::FileType::from_raw_mode(st.st_mode) != rustix::fs::FileType::RegularFile {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "not a shared-memory object (not a regular file)",
            ));
        }
        Ok(Self { fd })
    }

    /// `shm_unlink(name)`.
    #[doc(alias = "shm_unlink")]
    pub(crate) fn unlink(name: &str) -> io::Result<()> {
        Ok(rustix::shm::unlink(bare(name))?)
    }

    /// The object's current size in bytes (`fstat().st_size`).
    #[doc(alias = "fstat")]
    pub(crate) fn size(&self) -> io::Result<u64> {
        let st = rustix::fs::fstat(&self.fd)?;
        // A negative st_size is impossible for a shm object; treat it as empty.
        Ok(u64::try_from(st.st_size).unwrap_or(0))
    }

    /// The object's identity, `(st_dev, st_ino)` from `fstat`.
    #[doc(alias = "fstat")]
    pub(crate) fn identity(&self) -> io::Result<(u64, u64)> {
        let st = rustix::fs::fstat(&self.fd)?;
        Ok((st.st_dev, st.st_ino))
    }

    /// The object's permission bits and owner (`fstat().st_mode & 0o7777`, `st_uid`).
    #[doc(alias = "fstat")]
    pub(crate) fn mode_and_owner(&self) -> io::Result<(u32, u32)> {
        let st = rustix::fs::fstat(&self.fd)?;
        Ok((st.st_mode & 0o7777, st.st_uid))
    }

    /// Sizes a fresh object to `len` bytes and reserves its pages.
    ///
    /// `fallocate(fd, 0, 0, len)` both sets the size and reserves tmpfs pages, so a segment
    /// larger than `/dev/shm` can hold fails here with `ENOSPC` rather than with `SIGBUS` on
    /// first touch later. Where `fallocate` is not supported we fall back to `ftruncate`.
    #[doc(alias = "fallocate")]
    #[doc(alias = "ftruncate")]
    pub(crate) fn reserve(&self, len: u64) -> io::Result<()> {
        match rustix::fs::fallocate(&self.fd, FallocateFlags::empty(), 0, len) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => {
                Ok(rustix::fs::ftruncate(&self.fd, len)?)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// `flock(fd, LOCK_EX | LOCK_NB)` retried with short sleeps until `deadline`: an advisory
    /// lock that serialises table mutations among zeroipc processes. Released by
    /// [`Shm::unlock`] (or when the descriptor is closed, so a process that dies while holding
    /// it releases it).
    ///
    /// A blocking `LOCK_EX` would wait forever behind a holder that is stopped (`SIGSTOP`,
    /// a debugger) or deadlocked; polling with `LOCK_NB` bounds the wait. When `deadline`
    /// passes, the error has kind [`io::ErrorKind::TimedOut`] and says another process holds
    /// the lock.
    #[doc(alias = "flock")]
    pub(crate) fn lock_exclusive_until(&self, deadline: Instant) -> io::Result<()> {
        let mut pause = Duration::from_micros(50);
        loop {
            match rustix::fs::flock(&self.fd, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(()),
                Err(rustix::io::Errno::INTR) => {}
                Err(rustix::io::Errno::WOULDBLOCK) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "another process holds the allocation lock (flock) on this \
                             segment and did not release it in time (stopped or hung?)",
                        ));
                    }
                    std::thread::sleep(pause.min(left));
                    pause = (pause * 2).min(Duration::from_millis(5));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// `flock(fd, LOCK_UN)`.
    #[doc(alias = "flock")]
    pub(crate) fn unlock(&self) -> io::Result<()> {
        Ok(rustix::fs::flock(&self.fd, FlockOperation::Unlock)?)
    }
}

impl AsFd for Shm {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

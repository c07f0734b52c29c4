//! A shared mapping of a whole shm object: base pointer and length, `munmap` on drop.
//!
//! Like memmap2's `MmapRaw`, a `Mapping` never hands out slices: other processes write this
//! memory at any time, so the only references into it are built by
//! [`crate::segment::region`], over types whose every byte pattern is valid and whose fields
//! are atomics.

use std::io;
use std::os::fd::AsFd;
use std::ptr::NonNull;

use rustix::mm::{MapFlags, ProtFlags};

use super::shm::Access;

/// A `MAP_SHARED` mapping of `len` bytes.
#[derive(Debug)]
pub(crate) struct Mapping {
    base: NonNull<u8>,
    len: usize,
    access: Access,
}

// SAFETY: a `Mapping` is a pointer to memory shared with other processes; it has no
// thread-affine state. All access to the memory goes through atomics or `UnsafeCell`-based
// views handed out by `segment::region`, which carry their own synchronisation contracts.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only exposes the base pointer and the length.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// `mmap(NULL, len, PROT_READ [| PROT_WRITE], MAP_SHARED, fd, 0)`.
    ///
    /// # References
    ///  - [Linux `mmap(2)`](https://man7.org/linux/man-pages/man2/mmap.2.html)
    #[doc(alias = "mmap")]
    pub(crate) fn map(fd: impl AsFd, len: usize, access: Access) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "cannot map 0 bytes",
            ));
        }
        let prot = match access {
            Access::ReadOnly => ProtFlags::READ,
            Access::ReadWrite => ProtFlags::READ | ProtFlags::WRITE,
        };
        // SAFETY: a fresh mapping at an address chosen by the kernel (NULL hint) cannot
        // overlap memory Rust already uses; we keep the pointer until `munmap` in `Drop`.
        let ptr =
            unsafe { rustix::mm::mmap(std::ptr::null_mut(), len, prot, MapFlags::SHARED, fd, 0)? };
        let base = NonNull::new(ptr.cast::<u8>())
            .ok_or_else(|| io::Error::other("mmap returned a null pointer"))?;
        Ok(Self { base, len, access })
    }

    /// The first byte of the mapping (page-aligned).
    pub(crate) fn base(&self) -> NonNull<u8> {
        self.base
    }

    /// The mapped length in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Whether the mapping is writable.
    pub(crate) fn access(&self) -> Access {
        self.access
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: `base`/`len` describe exactly the mapping created in `map`, and every
        // reference into it borrows from a handle that keeps this `Mapping` alive (through an
        // `Arc`), so none outlives it.
        let _ = unsafe { rustix::mm::munmap(self.base.as_ptr().cast(), self.len) };
    }
}

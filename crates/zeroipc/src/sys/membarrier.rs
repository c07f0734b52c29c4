//! Asymmetric memory barriers (`membarrier(2)`), for Dekker-style hand-offs whose fast side
//! runs millions of times a second and whose slow side is about to sleep anyway.
//!
//! A waker publishes (a Release store) and then checks a sleeper count; a sleeper increments
//! the count and then re-checks the published word. Both sides need a StoreLoad barrier
//! between their store and their load, or each may miss the other. Instead of a full fence
//! on the fast side (an `mfence`/`xchg`, ~7 ns on x86-64 — it would double the cost of a
//! queue push), the fast side issues only a compiler fence ([`light`]) and the slow side
//! issues `MEMBARRIER_CMD_GLOBAL_EXPEDITED` ([`heavy`], ~0.4 µs), which makes every running
//! thread of every *registered* process execute a full barrier. This is the scheme of
//! folly's `asymmetricHeavyBarrier` and liburcu, across processes.
//!
//! Every zeroipc process registers ([`register`]) when it first opens or creates a segment.
//! A process whose registration failed (old kernel, seccomp) uses a real `fence(SeqCst)` in
//! [`light`]; a sleeper whose `membarrier` call fails uses a real fence too and relies on its
//! 1 ms re-check slices (a wake can then be late by at most a slice, never lost for longer).
//!
//! # References
//!  - [Linux `membarrier(2)`](https://man7.org/linux/man-pages/man2/membarrier.2.html)

//!
//! Under `cfg(loom)` both barriers are `fence(SeqCst)`, which loom models: the Dekker pairs
//! built on them are model-checked in that (stronger-on-the-fast-side) form.

#[cfg(not(loom))]
pub(crate) use real::*;

#[cfg(loom)]
pub(crate) use model::*;

#[cfg(not(loom))]
mod real {
    use std::sync::OnceLock;

    use rustix::thread::{MembarrierCommand, membarrier};

    use crate::loom::Ordering::{Acquire, Release, SeqCst};
    use crate::loom::{ProcessAtomicBool, compiler_fence, fence};

    static REGISTERED: OnceLock<bool> = OnceLock::new();
    /// `REGISTERED` holds `true`: one plain load in `light`, on the hot path of every queue
    /// operation (`OnceLock::get` loads its state word, then the value).
    static FAST: ProcessAtomicBool = ProcessAtomicBool::new(false);

    /// Registers this process for `MEMBARRIER_CMD_GLOBAL_EXPEDITED` (once); returns whether it
    /// is registered.
    #[doc(alias = "MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED")]
    pub(crate) fn register() -> bool {
        *REGISTERED.get_or_init(|| {
            let ok = membarrier(MembarrierCommand::RegisterGlobalExpedited).is_ok();
            // ORDERING: Release — pairs with the Acquire load in `light`: a thread that sees
            // `true` runs after the registration system call returned.
            FAST.store(ok, Release);
            ok
        })
    }

    /// The fast side's barrier: a compiler fence if this process is registered (the slow side's
    /// [`heavy`] supplies the hardware barrier), else a full `fence(SeqCst)`.
    /// Whether this process is registered (then [`light`] is a compiler fence). Once true,
    /// true for the life of the process.
    #[inline]
    pub(crate) fn registered() -> bool {
        // ORDERING: Acquire — see `register`.
        FAST.load(Acquire)
    }

    #[inline]
    pub(crate) fn light() {
        // ORDERING: Acquire — see `register`.
        if FAST.load(Acquire) {
            // ORDERING: compiler-only; pairs with `heavy`, whose membarrier makes this CPU
            // execute a full barrier if a sleeper needs one (module docs).
            compiler_fence(SeqCst);
        } else {
            // ORDERING: unregistered, so no sleeper's membarrier reaches us: a real full
            // barrier, pairing with `heavy`'s own fence.
            fence(SeqCst);
        }
    }

    /// The slow side's barrier: a full barrier here and on every running thread of every
    /// registered process.
    #[doc(alias = "MEMBARRIER_CMD_GLOBAL_EXPEDITED")]
    pub(crate) fn heavy() {
        // ORDERING: SeqCst fence here, and (through the membarrier) on every running
        // registered thread: pairs with `light` on the waker side (Dekker).
        fence(SeqCst);
        if membarrier(MembarrierCommand::GlobalExpedited).is_err() {
            // ORDERING: without the membarrier only unregistered (fence-using) wakers pair
            // with us; this keeps the sleeper side a full fence.
            fence(SeqCst);
        }
    }
}

#[cfg(loom)]
mod model {
    use crate::loom::{Ordering::SeqCst, fence};

    pub(crate) fn light() {
        // ORDERING: loom cannot model membarrier; both sides use a SeqCst fence (stronger).
        fence(SeqCst);
    }

    pub(crate) fn heavy() {
        // ORDERING: as `light`.
        fence(SeqCst);
    }

    /// Never: `light` stays a real fence under loom.
    pub(crate) fn registered() -> bool {
        false
    }
}

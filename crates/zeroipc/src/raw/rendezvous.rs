//! The unbuffered channel's rendezvous, for any number of senders and receivers, over the
//! C++ slot `{ready u8, consumed u8, data}` and the channel header (FORMAT.md §6.4, D-16).
//!
//! # Protocol
//!
//! The C++ protocol (sender: wait `!ready`, write `data`, `consumed = false`, `ready = true`,
//! wait `consumed`; receiver: wait `ready`, read, `consumed = true`, `ready = false`) is only
//! correct for one sender and one receiver: two senders both see `!ready` and overwrite each
//! other, two receivers both see `ready` and take the same value. zeroipc keeps those byte
//! transitions (so one C++ peer on either side still interoperates) and adds two claims:
//!
//! 1. **Senders take a lock** in the header's `send_seq` word, which C++ never uses after
//!    creation: `0` means free, otherwise the owner's `pid << 32 | n` (`n ≠ 0`, distinct per
//!    attempt in a process). Only the owner writes `data`, `consumed` and publishes `ready`.
//!    A lock whose owner process is dead is stolen with a CAS (see *Process death*).
//! 2. **Receivers claim the value** with a CAS of `ready` from non-zero to 0 instead of a
//!    plain load: exactly one receiver wins. The winner reads `data`, then stores
//!    `consumed = 1`.
//!
//! Sender, holding the lock: wait until `ready == 0` (a C++ receiver clears it last), write
//! `data`, `consumed = 0`, `ready = 1` (Release), wait until `consumed != 0`, unlock. A
//! sender that gives up (timeout, close) **retracts**: CAS `ready` 1 → 0. If the CAS wins no
//! receiver has the value and the sender gets it back (and stores `consumed = 1`, the idle
//! state); if it loses, a receiver claimed it, the send counts as done, and the sender waits
//! (bounded) for `consumed` before unlocking so the next sender cannot overwrite `data`
//! while that receiver copies it.
//!
//! After a completed rendezvous the slot reads `ready = 0, consumed = 1, data = v` and the
//! lock word is 0 again: the same bytes a C++ rendezvous leaves (cpp_all `chu`).
//!
//! # Synchronization
//!
//! | store (Release)                          | load (Acquire)                     | publishes |
//! |------------------------------------------|------------------------------------|-----------|
//! | `ready = 1` (sender)                     | claim CAS on `ready` (receiver)    | `data`    |
//! | `consumed = 1` (receiver)                | `consumed` poll (sender)           | the receiver finished reading `data` |
//! | unlock `send_seq = 0` (sender)           | lock CAS on `send_seq` (next sender) | the slot is idle again |
//!
//! # Process death
//!
//! A sender killed while holding the lock leaves `send_seq` naming a dead pid: the next
//! sender checks the pid (`kill(pid, 0)`), steals the lock with a CAS, and — because the
//! dead sender may have published a value that a receiver is still copying — waits (bounded
//! by the stall timeout) for the idle state `ready == 0 && consumed != 0` before writing. A
//! value the dead sender had published stays in the slot and is delivered to the next
//! receiver. A receiver killed between its claim and `consumed = 1` makes its sender wait
//! for the stall timeout, then give up on it (the value is lost with the receiver).

use crate::layout::channel::ChannelHeader;
use crate::loom::Ordering::{AcqRel, Acquire, Relaxed, Release};
use crate::loom::{AtomicU8, AtomicU64};
use crate::raw::cell::{Plain, Slot};

/// A view of one rendezvous: the header and the three fields of `<name>_slot`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rendezvous<'a, T> {
    pub(crate) hdr: &'a ChannelHeader,
    pub(crate) ready: &'a AtomicU8,
    pub(crate) consumed: &'a AtomicU8,
    pub(crate) data: &'a Slot<T>,
}

/// Outcome of a retraction.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Retract<T> {
    /// No receiver had claimed the value: here it is back.
    Retracted(T),
    /// A receiver claimed it first: the send happened.
    Claimed,
}

impl<'a, T: Plain> Rendezvous<'a, T> {
    /// The lock word (`send_seq`).
    fn lock_word(&self) -> &'a AtomicU64 {
        &self.hdr.send_seq
    }

    /// Tries to take the sender lock for `me` (non-zero). `Err(owner)` names the holder.
    pub(crate) fn try_lock(&self, me: u64) -> Result<(), u64> {
        debug_assert_ne!(me, 0);
        // ORDERING: Acquire on success pairs with the Release in `unlock` (and `steal`): the
        // previous owner saw `consumed != 0`, so its receiver finished reading `data`.
        self.lock_word()
            .compare_exchange(0, me, Acquire, Relaxed)
            .map(|_| ())
    }

    /// Releases the lock if `me` still holds it.
    pub(crate) fn unlock(&self, me: u64) {
        // ORDERING: Release pairs with the Acquire of the next `try_lock`.
        let _ = self.lock_word().compare_exchange(me, 0, Release, Relaxed);
    }

    /// Frees a lock held by `owner` (a dead process). `true` if this call freed it.
    pub(crate) fn steal(&self, owner: u64) -> bool {
        // ORDERING: AcqRel — Acquire pairs with the dead owner's last Release (if any), and
        // Release with the next `try_lock`.
        self.lock_word()
            .compare_exchange(owner, 0, AcqRel, Relaxed)
            .is_ok()
    }

    /// Whether the slot is idle: `ready == 0` (every receiver cleared it).
    pub(crate) fn slot_free(&self) -> bool {
        // ORDERING: Acquire pairs with a C++ receiver's `ready = false` Release store (it
        // read `data` before); Rust receivers are covered by the lock chain.
        self.ready.load(Acquire) == 0
    }

    /// Whether the slot is idle in the strong sense used after stealing a dead owner's lock:
    /// `ready == 0 && consumed != 0`.
    pub(crate) fn slot_idle(&self) -> bool {
        // ORDERING: Acquire on both pairs with the receiver's `consumed = 1` Release store
        // and a C++ receiver's `ready = false`.
        self.ready.load(Acquire) == 0 && self.consumed.load(Acquire) != 0
    }

    /// Writes `value` and publishes it. The caller holds the lock and saw `slot_free`.
    pub(crate) fn publish(&self, value: T) {
        // PROTOCOL (why the copy is whole): the sender lock is held and `ready == 0`: no Rust receiver claims the
        // slot until the Release store below, and the receiver of the previous value
        // finished reading (`consumed != 0` seen by the previous owner before its unlock).
        self.data.write(value);
        // ORDERING: Relaxed — ordered before `ready = 1` by the Release below.
        self.consumed.store(0, Relaxed);
        // ORDERING: Release pairs with the receiver's claim CAS (Acquire): `data` visible.
        self.ready.store(1, Release);
    }

    /// Whether the published value was consumed.
    pub(crate) fn consumed(&self) -> bool {
        // ORDERING: Acquire pairs with the receiver's `consumed = 1` Release store: its read
        // of `data` is finished before the next sender overwrites it.
        self.consumed.load(Acquire) != 0
    }

    /// Takes the published value back if no receiver claimed it.
    pub(crate) fn retract(&self) -> Retract<T> {
        // ORDERING: AcqRel — the CAS competes with receivers' claims on `ready`; Relaxed on
        // failure: the winner's `consumed` store is awaited separately.
        match self.ready.compare_exchange(1, 0, AcqRel, Relaxed) {
            Ok(_) => {
                // PROTOCOL (why the copy is whole): the CAS took `ready` back to 0 before any receiver claimed it and
                // the lock is held: nobody else reads or writes `data`.
                let v = self.data.read();
                // ORDERING: Release pairs with a later lock owner's `slot_idle` Acquire.
                self.consumed.store(1, Release);
                Retract::Retracted(v)
            }
            Err(_) => Retract::Claimed,
        }
    }

    /// Receiver: claims and reads the published value, if any.
    pub(crate) fn try_claim(&self) -> Option<T> {
        // ORDERING: Relaxed pre-check; the CAS below synchronises.
        let r = self.ready.load(Relaxed);
        if r == 0 {
            return None;
        }
        // ORDERING: Acquire on success pairs with `publish`'s Release store of `ready`.
        self.ready.compare_exchange(r, 0, Acquire, Relaxed).ok()?;
        // PROTOCOL (why the copy is whole): this receiver won the claim CAS; the sender (who holds the lock) does not
        // write `data` until it sees `consumed != 0`, stored below after the read.
        let v = self.data.read();
        // ORDERING: Release pairs with the sender's `consumed()` Acquire load.
        self.consumed.store(1, Release);
        Some(v)
    }

    /// Whether the channel is closed.
    pub(crate) fn closed(&self) -> bool {
        // ORDERING: Acquire pairs with the Release store in `close`.
        self.hdr.closed.load(Acquire) != 0
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    //! Models with bounded attempts (no unbounded spin, so loom's branch budget holds): a
    //! sender that cannot take the lock gives up, one that published waits a bounded number
    //! of times and then retracts; receivers try a bounded number of times. Invariant:
    //! every value is received exactly once or handed back to its sender, never both,
    //! never twice, and the slot ends idle.
    //!
    //! Negative control (checked by hand): replacing the receivers' claim CAS with C++'s
    //! plain `ready` load + store makes both rendezvous models fail (a value received twice).
    use loom::sync::Arc;
    use loom::thread;

    use super::*;

    struct Shared {
        hdr: ChannelHeader,
        ready: AtomicU8,
        consumed: AtomicU8,
        data: Slot<u32>,
    }

    impl Shared {
        fn view(&self) -> Rendezvous<'_, u32> {
            Rendezvous {
                hdr: &self.hdr,
                ready: &self.ready,
                consumed: &self.consumed,
                data: &self.data,
            }
        }
    }

    fn shared() -> Arc<Shared> {
        Arc::new(Shared {
            hdr: ChannelHeader::new(0),
            ready: AtomicU8::new(0),
            consumed: AtomicU8::new(0), // a fresh slot, as C++ creates it
            data: Slot::new(0),
        })
    }

    /// One send attempt: `Some(v)` if the value came back (lock busy, or retracted).
    fn send(s: &Shared, me: u64, v: u32) -> Option<u32> {
        let r = s.view();
        if r.try_lock(me).is_err() {
            return Some(v);
        }
        // Among zeroipc peers the lock chain implies a free slot.
        assert!(r.slot_free(), "lock taken while a value is still in flight");
        r.publish(v);
        if r.consumed() {
            r.unlock(me);
            return None;
        }
        thread::yield_now();
        let back = match r.retract() {
            Retract::Retracted(v) => Some(v),
            Retract::Claimed => {
                // The claiming receiver stores `consumed` right after its copy.
                while !r.consumed() {
                    thread::yield_now();
                }
                None
            }
        };
        r.unlock(me);
        back
    }

    fn recv(s: &Shared, attempts: usize) -> Vec<u32> {
        let mut got = Vec::new();
        for _ in 0..attempts {
            if let Some(v) = s.view().try_claim() {
                got.push(v);
            }
            thread::yield_now();
        }
        got
    }

    fn check(mut all: Vec<u32>, s: &Shared) {
        all.sort_unstable();
        assert_eq!(
            all,
            [10, 20],
            "each value exactly once: received or handed back"
        );
        assert!(s.view().slot_idle());
        assert_eq!(s.hdr.send_seq.load(Relaxed), 0, "lock released");
    }

    /// Two senders, one receiver.
    #[test]
    fn loom_rendezvous_two_senders_one_receiver() {
        loom::model(|| {
            let s = shared();
            let senders: Vec<_> = [(1u64, 10u32), (2, 20)]
                .into_iter()
                .map(|(me, v)| {
                    let s = s.clone();
                    thread::spawn(move || send(&s, me, v))
                })
                .collect();
            let mut all = recv(&s, 2);
            all.extend(senders.into_iter().filter_map(|t| t.join().unwrap()));
            check(all, &s);
        });
    }

    /// Two senders, two receivers (one of them the main thread).
    #[test]
    fn loom_rendezvous_two_senders_two_receivers() {
        loom::model(|| {
            let s = shared();
            let senders: Vec<_> = [(1u64, 10u32), (2, 20)]
                .into_iter()
                .map(|(me, v)| {
                    let s = s.clone();
                    thread::spawn(move || send(&s, me, v))
                })
                .collect();
            let s2 = s.clone();
            let other = thread::spawn(move || recv(&s2, 1));
            let mut all = recv(&s, 1);
            all.extend(other.join().unwrap());
            all.extend(senders.into_iter().filter_map(|t| t.join().unwrap()));
            check(all, &s);
        });
    }

    /// A sender that retracts races a receiver's claim: exactly one of them gets the value.
    #[test]
    fn loom_retract_races_claim() {
        loom::model(|| {
            let s = shared();
            let r = s.view();
            r.try_lock(1).unwrap();
            r.publish(7);
            let s2 = s.clone();
            let rx = thread::spawn(move || s2.view().try_claim());
            let back = s.view().retract();
            let claimed = rx.join().unwrap();
            match back {
                Retract::Retracted(v) => {
                    assert_eq!(v, 7);
                    assert_eq!(claimed, None);
                }
                Retract::Claimed => assert_eq!(claimed, Some(7)),
            }
        });
    }
}

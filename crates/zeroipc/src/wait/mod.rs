//! The waiting layer: every way a zeroipc operation waits for another thread or process,
//! in one place.
//!
//! | piece                | what it is                                                        |
//! |----------------------|-------------------------------------------------------------------|
//! | [`Backoff`]          | the one spin policy (crossbeam-style): `spin`, `snooze`, `is_completed` |
//! | [`Patience`]         | the one stall policy: how long to wait for a peer that holds a slot or a lock before reporting it stalled ([`crate::DEFAULT_STALL_TIMEOUT`] unless the handle says otherwise) |
//! | [`park`] / [`wake_all`] | sleeping on a *shared* futex word, at most [`SLICE`] at a time |
//! | [`Sleeper`] / [`WakeCache`] | the waiter-registry protocol (`segment::waiters`): waiter counting plus the membarrier Dekker pair, so a waker skips `FUTEX_WAKE` when nobody sleeps |
//! | [`reactor`]          | the one async bridge: one thread per process waits on the words of every pending awaitable with `futex_waitv` |
//! | [`current_pid`] / [`pid_alive`] | the process identity a stall policy asks about |
//!
//! # Layering
//!
//! `wait` sits above `segment` and `sys` and below `structures`, `sync` and `codata`: it is
//! the only module above `sys` that sleeps, issues futex wakes or memory barriers, or asks
//! whether a process is alive, so `structures` and `codata` never import `sys`. (It is not
//! inside `sync` because `structures` use it and must not depend on `sync`.)
//!
//! # Synchronization
//!
//! Futex waits compare the word in the kernel, atomically with queueing the waiter, so a
//! waker that changes the word and then wakes can never slip between a waiter's check and its
//! sleep. Wakes skipped on purpose (the waiter registry says nobody sleeps) rely on the
//! Dekker pair in [`sleeper`]. Peers in other languages never wake anyone, so every sleep
//! here is bounded by [`SLICE`] (1 ms) before the word is checked again.
//!
//! # Process death
//!
//! A waiter never waits on a peer without a bound: a dead peer holding a slot is reported
//! after the [`Patience`] bound; a dead lock holder is noticed by its pid ([`pid_alive`]).
//! A process that dies while registered as a sleeper leaves its count behind: wakers then
//! issue a `FUTEX_WAKE` nobody needs (harmless).
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

mod backoff;
mod park;
mod patience;
#[cfg(not(loom))]
pub(crate) mod reactor;
mod reactor_core;
#[cfg(not(loom))]
pub(crate) mod sleeper;

pub(crate) use backoff::Backoff;
pub(crate) use park::*;
pub(crate) use patience::Patience;
#[cfg(not(loom))]
pub(crate) use patience::ProbePatience;
#[cfg(not(loom))]
pub(crate) use sleeper::{Registration, Side, Sleeper, WakeCache, wake_sleepers};

/// Process identity and clock for stall policies and dead-owner detection (the one OS
/// question a waiter asks besides the futex).
#[cfg(not(loom))]
pub(crate) use crate::sys::{
    clock::monotonic_ns,
    process::{current_pid, pid_alive},
};

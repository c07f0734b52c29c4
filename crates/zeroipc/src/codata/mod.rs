//! Codata: values and sequences that come into existence over time.
//!
//! | structure              | for                                                              |
//! |------------------------|------------------------------------------------------------------|
//! | [`future::Future`]     | a value set once by one process and awaited by others (async too) |
//! | [`lazy::Lazy`]         | a value computed once, by whichever process forces it first       |
//! | [`channel::Channel`]   | CSP channels: buffered or rendezvous, close, select, async        |
//! | [`stream::Stream`]     | a sequence of values with operators (map, filter, fold, window…) running as stages |
//!
//! `codata::Future` is not re-exported at the crate root: it would shadow the prelude's
//! `core::future::Future`.
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

#[cfg(not(loom))]
pub mod channel;
pub mod future;
pub mod lazy;
#[cfg(not(loom))]
pub mod stream;

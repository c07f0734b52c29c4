//! Codata: values that come into existence later — a [`future::Future`] set once by one
//! process and awaited by others, a [`lazy::Lazy`] computed once by whichever process
//! forces it first.
//!
//! `codata::Future` is not re-exported at the crate root: it would shadow the prelude's
//! `core::future::Future`.
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

pub mod future;
pub mod lazy;

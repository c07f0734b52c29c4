//! Codata: values and sequences that come into existence over time.
//!
//! | structure     | for                                                                       |
//! |---------------|---------------------------------------------------------------------------|
//! | [`Future`]    | a value set once by one process and awaited by others (async too); [`Promise`] is the right to set it; `map` / `then` stages and fork-join ([`future::join_all`], [`future::select_first`]) compose them |
//! | [`Lazy`]      | a value computed once, by whichever process forces it first               |
//! | [`Channel`]   | CSP channels: buffered or rendezvous, close, [`Select`], async            |
//! | [`Stream`]    | a sequence of values with operators (map, filter, fold, window…) running as stages |
//!
//! The handles are re-exported here (`codata::Channel`, ...); each submodule keeps its
//! error types, named by operation (`codata::channel::TrySendError`,
//! `codata::stream::NextTimeoutError`, `codata::future::GetError`,
//! `codata::lazy::ForceError`, ...).
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions, codata::{Channel, Future, Lazy, Stream}};
//! # let name = format!("/zeroipc-doc-codata-{}", std::process::id());
//! let seg = SegmentOptions::new().size(256 * 1024).create_new(&name)?;
//! let jobs: Channel<u32> = Channel::create(&seg, "jobs", 4)?;
//! let done: Future<u32> = Future::create(&seg, "done")?;
//! let config: Lazy<u32> = Lazy::create(&seg, "config")?;
//! let ticks: Stream<u32> = Stream::create(&seg, "ticks", 8)?;
//! jobs.send(config.force_with(|| 3)?)?;
//! ticks.emit(jobs.recv()?)?;
//! done.set_value(ticks.next()?)?;
//! assert_eq!(done.get()?, 3);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![cfg_attr(loom, allow(dead_code, unreachable_pub, unused_imports))]

#[cfg(not(loom))]
pub mod channel;
pub mod future;
pub mod lazy;
#[cfg(not(loom))]
pub mod stream;

#[cfg(not(loom))]
pub use channel::{Channel, Select};
#[cfg(not(loom))]
pub use future::{Future, Promise};
#[cfg(not(loom))]
pub use lazy::Lazy;
#[cfg(not(loom))]
pub use stream::Stream;

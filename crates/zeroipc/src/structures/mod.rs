//! Typed data structures in a segment.
//!
//! | structure          | for                                                        |
//! |--------------------|------------------------------------------------------------|
//! | [`Array`]          | a fixed table of values every process reads and writes     |
//! | [`Queue`]          | a bounded FIFO, any number of producers and consumers      |
//! | [`Stack`]          | a bounded LIFO, any number of pushers and poppers          |
//! | [`Ring`]           | a FIFO of elements for exactly one producer and one consumer, with bulk copies |
//! | [`Map`]            | a fixed-capacity hash map shared by processes              |
//! | [`Set`]            | a fixed-capacity hash set shared by processes              |
//! | [`Pool`]           | fixed-size objects handed out by index, lock-free          |
//!
//! The handoff structures (Queue, Stack, Ring) block: `push` waits for room and `pop` for an
//! element, `try_push` / `try_pop` never block, `*_timeout` / `*_deadline` block at most
//! that long. The storage structures (Array, Pool, Map, Set) never block: a full Pool or Map
//! is an error of the one plain method. Each module owns its error types, named by
//! operation (`queue::PushError`, `stack::TryPopError`, `map::MapError`, `pool::PoolError`);
//! this module re-exports the handles. Sizes, indexes and counts are `usize`.
//!
//! Each module documents its byte layout, its synchronization and what happens when a peer
//! dies mid-operation. Each handle validates the structure's header against the table entry
//! and the mapping when it is created or opened, then works from that snapshot.

pub mod array;
pub mod map;
mod pod;
pub mod pool;
pub mod queue;
pub mod ring;
pub mod set;
pub mod stack;

pub use array::Array;
pub use map::{Map, MapKey, hash_bytes};
pub use pool::Pool;
pub use queue::Queue;
pub use ring::{Ring, RingConsumer, RingProducer};
pub use set::Set;
pub use stack::Stack;

//! Typed data structures in a segment.
//!
//! | structure          | for                                                        |
//! |--------------------|------------------------------------------------------------|
//! | [`Array`]          | a fixed table of values every process reads and writes     |
//! | [`Map`]            | a fixed-capacity hash map shared by processes              |
//! | [`Set`]            | a fixed-capacity hash set shared by processes              |
//! | [`Pool`]           | fixed-size objects handed out by index, lock-free          |
//!
//! Each module documents its byte layout, its synchronization and what happens when a peer
//! dies mid-operation. Each handle validates the structure's header against the table entry
//! and the mapping when it is created or opened, then works from that snapshot.

pub mod array;
pub mod map;
mod pod;
pub mod pool;
pub mod set;

pub use array::Array;
pub use map::{Map, MapError, MapKey, hash_bytes};
pub use pod::DEFAULT_STUCK_TIMEOUT;
pub use pool::{Pool, PoolError};
pub use set::Set;

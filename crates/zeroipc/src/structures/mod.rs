//! Typed data structures in a segment.
//!
//! | structure          | for                                                        |
//! |--------------------|------------------------------------------------------------|
//! | [`Array`]          | a fixed table of values every process reads and writes     |
//!
//! Each module documents its byte layout, its synchronization and what happens when a peer
//! dies mid-operation. Each handle validates the structure's header against the table entry and the mapping
//! when it is created or opened, then works from that snapshot.

pub mod array;

pub use array::Array;

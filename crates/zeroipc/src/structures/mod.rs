//! Typed data structures in a segment.
//!
//! | structure          | for                                                        |
//! |--------------------|------------------------------------------------------------|
//! | [`Array`]          | a fixed table of values every process reads and writes     |
//!
//! Each handle validates the structure's header against the table entry and the mapping
//! when it is created or opened, then works from that snapshot.

mod array;

pub use array::Array;

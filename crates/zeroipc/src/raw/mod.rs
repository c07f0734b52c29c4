//! Algorithms over views: lock-free protocols written against `&Header` and `&[atomic]` /
//! `&[cell]` slices, never against addresses, and never making a system call. That is what
//! lets loom test them on the heap and the same code run between processes.

pub(crate) mod cell;
pub(crate) mod hash;
pub(crate) mod open_addressing;
pub(crate) mod pool;
pub(crate) mod rendezvous;
pub(crate) mod ring;
pub(crate) mod stack;
pub(crate) mod vyukov;
pub(crate) mod words;

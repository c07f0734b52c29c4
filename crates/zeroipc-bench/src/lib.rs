//! Benchmarks of zeroipc: `benches/micro.rs` (divan, one process) and `benches/pingpong.rs`
//! (processes that share a segment, with same-run floors). See BENCHMARKS.md.
//!
//! A package of their own because `zeroipc`'s tests turn on its `fault-injection` feature
//! through a self dev-dependency, and Cargo turns it on for every dev target of that
//! package, benches included: a crash-injection check on every queue and mutex step
//! measured a third slower than the library users build. Here the library is a plain
//! dependency, so `cargo bench -p zeroipc-bench` measures exactly what users get.
//!
//! The library part is what both cross-process harnesses share (this crate's `pingpong`
//! and the CLI's `zeroipc bench`, which depends on this crate for it and on nothing else of
//! it): [`stats`] (interleaved floor/subject pairs, the median ratio with its spread, the
//! rejection of implausible floors) and [`pin`] (the two processes on different CPUs).

pub mod pin;
pub mod stats;

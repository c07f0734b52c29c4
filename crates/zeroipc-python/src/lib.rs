//! `zeroipc._zeroipc`: the Python extension module of the `zeroipc` package.
//!
//! The Python package (`python/zeroipc/__init__.py`) re-exports everything from here. Each
//! file registers its own classes, so a new binding is one file plus one line below:
//! - `errors.rs`: the `zeroipc.Error` exception hierarchy and the mapping of the Rust
//!   crate's error types onto it.
//! - `memory.rs`: `Memory` (upstream's constructor and semantics) and `Segment` (the Rust
//!   crate's safe spellings: exclusive create with mode 0600, open, unlink), and
//!   `segment_of` (a structure's `mem` argument: either class).
//! - `dtype.rs`: numpy dtype ↔ Rust element type, and the dispatch over element types.
//! - `sync/`: the synchronization primitives (Semaphore, Mutex, RWLock, Barrier, Latch,
//!   Once, Event, Monitor, Signal).
//! - `codata/`: Future, Lazy, Channel / Select, Stream; `aio.rs`: their asyncio bridge.
//! - `blocking.rs`: blocking calls in 50 ms slices, GIL released, Ctrl-C between slices.
//! - `structure.rs`: upstream's create-or-open constructors (`plan`, `open_or_create`),
//!   the catalog's kind check.
//! - `array.rs`, `queue.rs`, `stack.rs`, `ring.rs`, `pool.rs`, `map.rs` (Map and Set): the
//!   structures, each a `dyn` vtable over its typed handle (`Ops` for `Typed<T>`).
//!
//! Add a class to `python/zeroipc/__init__.py` (explicit import and `__all__`, for type
//! checkers) and to `python/zeroipc/_zeroipc.pyi`.

use pyo3::prelude::*;

mod aio;
mod array;
mod blocking;
mod codata;
mod dtype;
mod errors;
mod map;
mod memory;
mod pool;
mod queue;
mod ring;
mod stack;
mod structure;
mod sync;

/// The extension module. Python imports it as `zeroipc._zeroipc`.
#[pymodule]
fn _zeroipc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    memory::register(m)?;
    array::register(m)?;
    queue::register(m)?;
    stack::register(m)?;
    ring::register(m)?;
    pool::register(m)?;
    map::register(m)?;
    sync::register(m)?;
    codata::register(m)?;
    aio::register(m)?;
    Ok(())
}

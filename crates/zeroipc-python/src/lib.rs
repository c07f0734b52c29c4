//! `zeroipc._zeroipc`: the Python extension module of the `zeroipc` package.
//!
//! The Python package (`python/zeroipc/__init__.py`) re-exports everything from here. Each
//! file registers its own classes, so a new binding is one file plus one line below:
//! - `errors.rs`: the `zeroipc.Error` exception hierarchy and the mapping of the Rust
//!   crate's error types onto it.
//! - `memory.rs`: `Memory` (upstream's constructor and semantics) and `Segment` (the Rust
//!   crate's safe spellings: exclusive create with mode 0600, open, unlink).

use pyo3::prelude::*;

mod errors;
mod memory;

/// The extension module. Python imports it as `zeroipc._zeroipc`.
#[pymodule]
fn _zeroipc(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    memory::register(m)?;
    Ok(())
}

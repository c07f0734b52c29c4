//! The codata types (upstream's `zeroipc.Future`, `Lazy`, `Stream`, `Channel` / `Select`)
//! on the Rust crate's `codata` module: the C++ bytes (FORMAT.md §6); a structure in
//! upstream Python's own layout (Lazy, Stream, Channel) is refused with the Rust crate's
//! error (`KindMismatchError`: "written by upstream's Python package ...").

use pyo3::prelude::*;

mod channel;
mod future;
mod lazy;
mod stream;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    future::register(m)?;
    lazy::register(m)?;
    channel::register(m)?;
    stream::register(m)?;
    Ok(())
}

/// Opens (`exists`) or creates a generic structure with `make(seg)`, where `seg` is checked
/// for a struct dtype on open; a create that lost a race opens.
pub(crate) fn open_or_create_typed<H>(
    seg: &zeroipc::Segment,
    name: &str,
    dt: &crate::dtype::DType,
    exists: bool,
    open: impl Fn(&zeroipc::Segment) -> Result<H, zeroipc::StructureError>,
    create: impl FnOnce(&zeroipc::Segment) -> Result<H, zeroipc::StructureError>,
) -> PyResult<H> {
    use zeroipc::{StructureError, TableError};
    let r = if exists {
        open(&dt.checked_segment(seg, name)?)
    } else {
        match create(seg) {
            Err(StructureError::Table(TableError::AlreadyExists { .. })) => {
                open(&dt.checked_segment(seg, name)?)
            }
            r => {
                if r.is_ok() {
                    dt.describe_created(seg, name);
                }
                r
            }
        }
    };
    r.map_err(crate::errors::structure)
}

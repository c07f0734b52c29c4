//! `Memory` (upstream's Python API) and `Segment` (the Rust crate's safe spellings).

use pyo3::prelude::*;
use zeroipc::{Segment, SegmentOptions};

use zeroipc::OpenError;

use crate::errors::{Class, raise, to_py};

/// A shared-memory segment, as upstream's `zeroipc.Memory`: `Memory(name, size=0,
/// max_entries=64)` opens an existing segment when `size` is 0 and otherwise creates one,
/// replacing any segment of that name (upstream's semantics; `Segment.create` is the
/// exclusive spelling).
#[pyclass(module = "zeroipc", frozen)]
pub(crate) struct Memory {
    pub(crate) seg: Segment,
}

#[pymethods]
impl Memory {
    #[new]
    #[pyo3(signature = (name, size = 0, max_entries = 64))]
    fn new(py: Python<'_>, name: &str, size: u64, max_entries: u32) -> PyResult<Self> {
        let seg = py.detach(|| {
            if size == 0 {
                Segment::open(name).map_err(|e| match e {
                    OpenError::NotFound { .. } => raise(Class::NotFound, e),
                    e => to_py(e),
                })
            } else {
                SegmentOptions::new()
                    .size(size)
                    .max_entries(max_entries)
                    .create_or_replace(name)
                    .map_err(to_py)
            }
        })?;
        Ok(Self { seg })
    }

    /// The segment's name.
    #[getter]
    fn name(&self) -> &str {
        self.seg.name()
    }

    /// The segment's size in bytes.
    #[getter]
    fn size(&self) -> u64 {
        self.seg.size()
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Memory>()?;
    Ok(())
}

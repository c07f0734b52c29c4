//! `Memory` (upstream's Python API) and `Segment` (the Rust crate's safe spellings).
//!
//! Both hold a `zeroipc::Segment` (an `Arc`'d mapping): every structure handle made from
//! them holds a clone, so the mapping lives as long as any handle, numpy view or the object
//! itself. Every structure constructor accepts either (see [`segment_of`]).
//!
//! | | `Memory(name, size=0, max_entries=64)` | `Segment.create(name, size, max_entries=64, mode=0o600)` / `Segment.open(name)` |
//! |---|---|---|
//! | create | `size > 0`: **replaces** an existing segment of that name (upstream) | exclusive: `ExistsError` if the name exists |
//! | mode | 0600 (upstream: 0666, FORMAT.md §12 D-1: world-writable) | `mode`, 0600 by default |
//! | open | `size == 0`; `FileNotFoundError` (`NotFoundError`) if missing | the same |
//! | unlink | `mem.unlink()` | `Segment.unlink(name)` (static) |

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use zeroipc::{Segment, SegmentOptions};

use crate::errors;

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
                Segment::open(name).map_err(Err)
            } else {
                SegmentOptions::new()
                    .size(size)
                    .max_entries(max_entries)
                    .create_or_replace(name)
                    .map_err(Ok)
            }
        });
        let seg = seg.map_err(|e| match e {
            Err(open) => errors::open(open),
            Ok(create) => errors::create(create),
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

    /// The table's capacity.
    #[getter]
    fn max_entries(&self) -> u32 {
        self.seg.max_entries()
    }

    /// Removes the segment's name (mappings stay valid until every handle is gone).
    fn unlink(&self) -> PyResult<()> {
        Segment::unlink(self.seg.name()).map_err(errors::open)
    }

    /// Upstream's `close()`: a no-op here, the mapping is released with the last handle.
    fn close(&self) {}

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        false
    }

    /// `(name, offset, size)` of every table entry.
    fn entries(&self) -> PyResult<Vec<(String, u64, u64)>> {
        entries(&self.seg)
    }

    fn __repr__(&self) -> String {
        format!(
            "Memory(name='{}', size={})",
            self.seg.name(),
            self.seg.size()
        )
    }
}

fn entries(seg: &Segment) -> PyResult<Vec<(String, u64, u64)>> {
    Ok(seg
        .entries()
        .map_err(errors::corruption)?
        .iter()
        .map(|e| (e.name().to_string(), e.offset(), e.size()))
        .collect())
}

/// The Rust crate's segment: `Segment.create` is exclusive (mode 0600 by default),
/// `Segment.open` opens, `Segment.unlink` removes a name.
#[pyclass(module = "zeroipc", name = "Segment", frozen)]
pub(crate) struct PySegment {
    pub(crate) seg: Segment,
}

#[pymethods]
impl PySegment {
    /// Creates a segment; `ExistsError` if the name is taken.
    #[staticmethod]
    #[pyo3(signature = (name, size, max_entries = 64, mode = 0o600, catalog = true))]
    fn create(
        py: Python<'_>,
        name: &str,
        size: u64,
        max_entries: u32,
        mode: u32,
        catalog: bool,
    ) -> PyResult<Self> {
        let seg = py
            .detach(|| {
                SegmentOptions::new()
                    .size(size)
                    .max_entries(max_entries)
                    .mode(mode)
                    .catalog(catalog)
                    .create_new(name)
            })
            .map_err(errors::create)?;
        Ok(Self { seg })
    }

    /// Opens an existing segment; `NotFoundError` if there is none.
    #[staticmethod]
    fn open(py: Python<'_>, name: &str) -> PyResult<Self> {
        let seg = py.detach(|| Segment::open(name)).map_err(errors::open)?;
        Ok(Self { seg })
    }

    /// Removes a segment's name; `NotFoundError` if there is none.
    #[staticmethod]
    fn unlink(name: &str) -> PyResult<()> {
        Segment::unlink(name).map_err(errors::open)
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

    /// The table's capacity.
    #[getter]
    fn max_entries(&self) -> u32 {
        self.seg.max_entries()
    }

    /// `(name, offset, size)` of every table entry.
    fn entries(&self) -> PyResult<Vec<(String, u64, u64)>> {
        entries(&self.seg)
    }

    /// Records a struct layout (`"i32,f32,f64"`) for `name` in the type catalog.
    fn describe(&self, name: &str, layout: &str) -> PyResult<()> {
        self.seg
            .describe(name, layout)
            .map_err(|e| errors::raise(errors::Class::InvalidArgument, e))
    }

    /// Does nothing (the mapping is released with the last handle); for `with`.
    fn close(&self) {}

    fn __enter__(slf: Py<Self>) -> Py<Self> {
        slf
    }

    #[pyo3(signature = (*_args))]
    fn __exit__(&self, _args: &Bound<'_, PyTuple>) -> bool {
        false
    }

    fn __repr__(&self) -> String {
        format!(
            "Segment(name='{}', size={})",
            self.seg.name(),
            self.seg.size()
        )
    }
}

/// The segment of a `Memory` or `Segment` argument (a cheap clone of the handle).
pub(crate) fn segment_of(obj: &Bound<'_, PyAny>) -> PyResult<Segment> {
    if let Ok(m) = obj.cast::<Memory>() {
        return Ok(m.get().seg.clone());
    }
    if let Ok(s) = obj.cast::<PySegment>() {
        return Ok(s.get().seg.clone());
    }
    Err(pyo3::exceptions::PyTypeError::new_err(format!(
        "expected a zeroipc.Memory or zeroipc.Segment, found {}",
        obj.get_type().name()?
    )))
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Memory>()?;
    m.add_class::<PySegment>()?;
    Ok(())
}

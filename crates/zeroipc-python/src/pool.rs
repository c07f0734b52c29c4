//! `Pool`: upstream's Python Pool on the Rust crate's lock-free pool.
//!
//! | upstream | here |
//! |---|---|
//! | `Pool(mem, name, capacity=None, dtype=None)` | same; `dtype` may be omitted where the catalog records it |
//! | `Pool(..., block_size=, block_count=)` (raw byte blocks) | not provided: pass a dtype (`np.dtype((np.void, n))` is not supported either; use a struct dtype) |
//! | `allocate() -> index or None` | same |
//! | `deallocate(i)` / `free(i) -> bool` | same; False also for a node that is not allocated (a double free, which upstream accepts and which corrupts its free list: FORMAT.md §12) |
//! | `get(i)` (None past the end), `set(i, v) -> bool` | same |
//! | `allocated_count()`, `available_count()`, `available()`, `full()`, `empty()`, `get_stats()`, `len()` | same |
//! | `reset()` (non-atomic) | not provided |

use pyo3::prelude::*;
use pyo3::types::PyDict;
use zeroipc::segment::CatalogKind;
use zeroipc::structures::pool::PoolError;
use zeroipc::{Pool, StructureError};

use crate::dtype::{DType, PyElem, Visit};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::structure::{Mode, Target, open_or_create, plan};

trait Ops: Send + Sync {
    fn allocate(&self) -> PyResult<Option<usize>>;
    fn free(&self, index: usize) -> PyResult<bool>;
    fn get(&self, py: Python<'_>, index: usize) -> PyResult<Option<Py<PyAny>>>;
    fn set(&self, index: usize, value: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn allocated(&self) -> usize;
    fn capacity(&self) -> usize;
}

struct Typed<T: PyElem> {
    p: Pool<T>,
    dt: DType,
}

fn hard(e: PoolError) -> PyErr {
    match e {
        PoolError::Corrupt(c) => errors::corruption(c),
        e => raise(Class::Stalled, e),
    }
}

impl<T: PyElem> Ops for Typed<T> {
    fn allocate(&self) -> PyResult<Option<usize>> {
        match self.p.allocate() {
            Ok(i) => Ok(Some(i)),
            Err(PoolError::Exhausted { .. }) => Ok(None),
            Err(e) => Err(hard(e)),
        }
    }
    fn free(&self, index: usize) -> PyResult<bool> {
        match self.p.free(index) {
            Ok(()) => Ok(true),
            Err(PoolError::OutOfRange { .. } | PoolError::NotAllocated { .. }) => Ok(false),
            Err(e) => Err(hard(e)),
        }
    }
    fn get(&self, py: Python<'_>, index: usize) -> PyResult<Option<Py<PyAny>>> {
        match self.p.get(index) {
            Ok(v) => v.to_py(py, &self.dt).map(Some),
            Err(PoolError::OutOfRange { .. }) => Ok(None),
            Err(e) => Err(hard(e)),
        }
    }
    fn set(&self, index: usize, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        let v = T::from_py(value, &self.dt)?;
        match self.p.set(index, v) {
            Ok(()) => Ok(true),
            Err(PoolError::OutOfRange { .. }) => Ok(false),
            Err(e) => Err(hard(e)),
        }
    }
    fn allocated(&self) -> usize {
        self.p.allocated()
    }
    fn capacity(&self) -> usize {
        self.p.capacity()
    }
}

struct Build(Target);

impl Visit for Build {
    type Out = Result<Box<dyn Ops>, StructureError>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let p = match mode {
            Mode::Open => Pool::<T>::open(&seg, &name)?,
            Mode::Create(cap) => Pool::<T>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(Typed { p, dt: dt.clone() }))
    }
}

/// A fixed set of slots handed out by index (upstream's `zeroipc.Pool`).
#[pyclass(module = "zeroipc", name = "Pool", frozen)]
pub(crate) struct PyPool {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyPool {
    /// `Cls[T]` (upstream's classes are `typing.Generic`): the class itself.
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        _item: &Bound<'_, PyAny>,
    ) -> Py<pyo3::types::PyType> {
        cls.clone().unbind()
    }

    #[new]
    #[pyo3(signature = (memory, name, capacity = None, dtype = None, block_size = None, block_count = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        dtype: Option<&Bound<'_, PyAny>>,
        block_size: Option<usize>,
        block_count: Option<usize>,
    ) -> PyResult<Self> {
        if block_size.is_some() || block_count.is_some() {
            return Err(pyo3::exceptions::PyNotImplementedError::new_err(
                "Pool(block_size=, block_count=) is not supported: pass capacity= and a dtype \
                 (a struct dtype for records)",
            ));
        }
        let seg = segment_of(memory)?;
        let (dt, mode) = plan(py, &seg, name, capacity, dtype, CatalogKind::Pool, "pool")?;
        let ops = open_or_create(py, &seg, name, &dt, mode, Build)?;
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// Takes a free slot: its index, or None if every slot is allocated.
    fn allocate(&self) -> PyResult<Option<usize>> {
        self.ops.allocate()
    }

    /// Returns slot `index`: True, or False if it is out of range or not allocated.
    fn deallocate(&self, index: usize) -> PyResult<bool> {
        self.ops.free(index)
    }

    /// Alias of `deallocate`.
    fn free(&self, index: usize) -> PyResult<bool> {
        self.ops.free(index)
    }

    /// The value in slot `index`, or None past the end.
    fn get(&self, py: Python<'_>, index: usize) -> PyResult<Option<Py<PyAny>>> {
        self.ops.get(py, index)
    }

    /// Stores `value` in slot `index`: True, or False past the end.
    fn set(&self, index: usize, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.set(index, value)
    }

    /// Slots allocated.
    fn allocated_count(&self) -> usize {
        self.ops.allocated()
    }

    /// Slots free.
    fn available_count(&self) -> usize {
        self.ops.capacity().saturating_sub(self.ops.allocated())
    }

    /// Alias of `available_count`.
    fn available(&self) -> usize {
        self.available_count()
    }

    /// True if every slot is allocated.
    fn full(&self) -> bool {
        self.ops.allocated() >= self.ops.capacity()
    }

    /// True if no slot is allocated.
    fn empty(&self) -> bool {
        self.ops.allocated() == 0
    }

    /// `{'total_blocks', 'available_blocks', 'allocated_blocks', 'block_size'}`.
    fn get_stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("total_blocks", self.ops.capacity())?;
        d.set_item("available_blocks", self.available_count())?;
        d.set_item("allocated_blocks", self.ops.allocated())?;
        d.set_item("block_size", self.dt.size())?;
        Ok(d)
    }

    /// Slots allocated.
    fn __len__(&self) -> usize {
        self.ops.allocated()
    }

    /// The number of slots.
    #[getter]
    fn capacity(&self) -> usize {
        self.ops.capacity()
    }

    /// The numpy dtype of the elements.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __repr__(&self) -> String {
        format!(
            "Pool(name='{}', allocated={}/{}, dtype={})",
            self.name,
            self.ops.allocated(),
            self.ops.capacity(),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyPool>()?;
    Ok(())
}

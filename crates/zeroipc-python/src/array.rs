//! `Array`: upstream's Python Array, with a zero-copy numpy view of the shared memory.
//!
//! | upstream | here |
//! |---|---|
//! | `Array(mem, name, capacity=None, dtype=None)` (dtype required) | same; `dtype` may be omitted to open an entry the type catalog records |
//! | `a[i]`, `a[i] = v`, slices (numpy) | same: an `int` index reads/writes one element (word-atomic copies), anything else indexes the numpy view |
//! | `len(a)`, `iter(a)`, `fill(v)`, `a.data` (numpy view), `capacity`, `dtype` | same |
//! | — | `a.numpy(writable=True)` and `np.asarray(a)`: views of the shared memory |
//!
//! # The numpy view
//!
//! A `uint8` array over the element bytes (rust-numpy's `borrow_from_array`, whose base
//! object is this `Array`, which holds the segment's mapping), viewed as the dtype. The
//! mapping therefore outlives every view, also after the `Array` and `Memory` objects are
//! dropped by the script. Writes through the view are plain stores (no atomicity), as
//! upstream's `np.frombuffer(mmap)` view; `numpy(writable=False)` gives a read-only view.

use numpy::PyArray1;
use numpy::ndarray::ArrayView1;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use zeroipc::segment::CatalogKind;
use zeroipc::{Array, StructureError};

use crate::dtype::{DType, PyElem, Visit};
use crate::errors::{Class, raise};
use crate::memory::segment_of;
use crate::structure::{Mode, Target, open_or_create, plan};

trait Ops: Send + Sync {
    fn len(&self) -> usize;
    fn get(&self, py: Python<'_>, index: usize) -> PyResult<Py<PyAny>>;
    fn set(&self, index: usize, value: &Bound<'_, PyAny>) -> PyResult<()>;
    fn fill(&self, value: &Bound<'_, PyAny>) -> PyResult<()>;
    /// Address and length in bytes of the elements.
    fn bytes(&self) -> (*mut u8, usize);
}

struct Typed<T: PyElem> {
    a: Array<T>,
    dt: DType,
}

impl<T: PyElem> Ops for Typed<T> {
    fn len(&self) -> usize {
        self.a.len()
    }
    fn get(&self, py: Python<'_>, index: usize) -> PyResult<Py<PyAny>> {
        match self.a.get(index) {
            Some(v) => v.to_py(py, &self.dt),
            None => Err(pyo3::exceptions::PyIndexError::new_err(format!(
                "index {index} out of bounds for length {}",
                self.a.len()
            ))),
        }
    }
    fn set(&self, index: usize, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = T::from_py(value, &self.dt)?;
        self.a
            .set(index, v)
            .map_err(|e| pyo3::exceptions::PyIndexError::new_err(e.to_string()))
    }
    fn fill(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let v = T::from_py(value, &self.dt)?;
        self.a.fill(v);
        Ok(())
    }
    fn bytes(&self) -> (*mut u8, usize) {
        // SAFETY: the slice is used only to take its address and length and is dropped at
        // once; no reference into the shared memory outlives this call. Accesses through
        // the address are numpy's, on memory that stays mapped while `self.a` (held by the
        // view's base object) lives.
        let slice = unsafe { self.a.as_mut_slice() };
        (
            slice.as_mut_ptr().cast::<u8>(),
            core::mem::size_of_val(slice),
        )
    }
}

struct Build(Target);

impl Visit for Build {
    type Out = Result<Box<dyn Ops>, StructureError>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let a = match mode {
            Mode::Open => Array::<T>::open(&seg, &name)?,
            Mode::Create(cap) => Array::<T>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(Typed { a, dt: dt.clone() }))
    }
}

/// A fixed-size array of elements in shared memory (upstream's `zeroipc.Array`).
#[pyclass(module = "zeroipc", name = "Array", frozen)]
pub(crate) struct PyArray {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

impl PyArray {
    fn index(&self, i: isize) -> PyResult<usize> {
        let len = self.ops.len();
        let at = if i < 0 { i + len as isize } else { i };
        usize::try_from(at)
            .ok()
            .filter(|&at| at < len)
            .ok_or_else(|| {
                pyo3::exceptions::PyIndexError::new_err(format!(
                    "index {i} out of bounds for length {len}"
                ))
            })
    }

    fn view<'py>(slf: &Bound<'py, Self>, writable: bool) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let this = slf.get();
        let (ptr, len) = this.ops.bytes();
        // SAFETY: `ptr` is valid for `len` bytes for as long as the mapping lives; the
        // mapping is held by `this.ops` (its segment's `Arc`), and `slf`, which owns it,
        // becomes the numpy array's base object, so it lives as long as the view.
        let nd = unsafe { ArrayView1::from_shape_ptr(len, ptr.cast_const()) };
        // SAFETY: as above: `slf` (the container) keeps the memory `nd` points to alive.
        let bytes = unsafe { PyArray1::<u8>::borrow_from_array(&nd, slf.clone().into_any()) };
        let typed = bytes.call_method1("view", (this.dt.np(py),))?;
        if !writable {
            let kw = PyDict::new(py);
            kw.set_item("write", false)?;
            typed.call_method("setflags", (), Some(&kw))?;
        }
        Ok(typed)
    }
}

#[pymethods]
impl PyArray {
    /// `Cls[T]` (upstream's classes are `typing.Generic`): the class itself.
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        _item: &Bound<'_, PyAny>,
    ) -> Py<pyo3::types::PyType> {
        cls.clone().unbind()
    }

    #[new]
    #[pyo3(signature = (memory, name, capacity = None, dtype = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let (dt, mode) = plan(py, &seg, name, capacity, dtype, CatalogKind::Array, "array")?;
        let ops = open_or_create(py, &seg, name, &dt, mode, Build)?;
        if let (Mode::Open, Some(cap)) = (mode, capacity) {
            if cap != ops.len() {
                return Err(raise(
                    Class::InvalidArgument,
                    format!(
                        "Capacity mismatch: array '{name}' has {} but requested {cap}",
                        ops.len()
                    ),
                ));
            }
        }
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    fn __len__(&self) -> usize {
        self.ops.len()
    }

    /// The number of elements.
    #[getter]
    fn capacity(&self) -> usize {
        self.ops.len()
    }

    /// The numpy dtype of the elements.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __getitem__(slf: &Bound<'_, Self>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        let this = slf.get();
        if let Ok(i) = key.extract::<isize>() {
            return this.ops.get(slf.py(), this.index(i)?);
        }
        Ok(Self::view(slf, true)?.get_item(key)?.unbind())
    }

    fn __setitem__(
        slf: &Bound<'_, Self>,
        key: &Bound<'_, PyAny>,
        value: &Bound<'_, PyAny>,
    ) -> PyResult<()> {
        let this = slf.get();
        if let Ok(i) = key.extract::<isize>() {
            return this.ops.set(this.index(i)?, value);
        }
        Self::view(slf, true)?.set_item(key, value)
    }

    fn __iter__(slf: &Bound<'_, Self>) -> PyResult<Py<PyAny>> {
        Ok(Self::view(slf, false)?.try_iter()?.into_any().unbind())
    }

    /// Sets every element to `value`.
    fn fill(&self, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ops.fill(value)
    }

    /// A numpy view of the shared elements (no copy), writable unless `writable=False`.
    #[pyo3(signature = (writable = true))]
    fn numpy<'py>(slf: &Bound<'py, Self>, writable: bool) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, writable)
    }

    /// Upstream's `data`: the writable numpy view.
    #[getter]
    fn data<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        Self::view(slf, true)
    }

    /// `numpy.asarray(array)`: the view; a copy when `dtype` differs or `copy=True`.
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(
        slf: &Bound<'py, Self>,
        dtype: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let view = Self::view(slf, true)?;
        let view = match dtype.filter(|d| !d.is_none()) {
            Some(d) => view.call_method1("astype", (d,))?,
            None => view,
        };
        if copy == Some(true) {
            return view.call_method0("copy");
        }
        Ok(view)
    }

    fn __repr__(&self) -> String {
        format!(
            "Array(name='{}', capacity={}, dtype={})",
            self.name,
            self.ops.len(),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyArray>()?;
    Ok(())
}

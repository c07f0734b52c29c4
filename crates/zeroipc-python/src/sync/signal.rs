//! `Signal`: upstream's `zeroipc.Signal(memory, name, *, dtype, initial_value=None,
//! create_if_missing=True)` on the Rust crate's [`zeroipc::Signal`] (FORMAT.md §7.9:
//! `name_state` = version u64 + value, `name_mtx`, marker `name`).
//!
//! | upstream | here |
//! |---|---|
//! | `get()` (reads without the mutex: torn reads possible) | same, under the mutex (never torn) |
//! | `set(v)`, `update(func)` | same (atomic under the mutex); a `func` that raises leaves the value unchanged, but the version still advances, and the exception propagates |
//! | `version`, `has_changed(v)`, `wait_for_change(v, timeout=None) -> bool` | same; the wait sleeps on the version futex instead of polling; Ctrl-C within 100 ms |
//! | `dtype` required | may be omitted to open an entry the type catalog records |

use std::sync::Mutex as StdMutex;

use pyo3::prelude::*;
use zeroipc::segment::CatalogKind;
use zeroipc::{Signal, StructureError};

use super::{corrupt, plan_generic, value_sliced, wait_sliced};
use crate::dtype::{DType, PyElem, Visit, visit};
use crate::errors;
use crate::memory::segment_of;

trait Ops: Send + Sync {
    fn get(&self, py: Python<'_>, what: &str) -> PyResult<Py<PyAny>>;
    fn set(&self, py: Python<'_>, what: &str, v: &Bound<'_, PyAny>) -> PyResult<u64>;
    fn update(&self, py: Python<'_>, what: &str, f: &Py<PyAny>) -> PyResult<u64>;
    fn version(&self) -> PyResult<u64>;
    fn wait_for_change(&self, py: Python<'_>, seen: u64, timeout: Option<f64>) -> PyResult<bool>;
}

struct Typed<T: PyElem> {
    s: Signal<T>,
    dt: DType,
}

impl<T: PyElem> Ops for Typed<T> {
    fn get(&self, py: Python<'_>, what: &str) -> PyResult<Py<PyAny>> {
        let s = &self.s;
        let v = value_sliced(py, what, None, |d| s.get_timeout(d))?;
        v.unwrap_or_default().to_py(py, &self.dt)
    }

    fn set(&self, py: Python<'_>, what: &str, v: &Bound<'_, PyAny>) -> PyResult<u64> {
        let v = T::from_py(v, &self.dt)?;
        let s = &self.s;
        Ok(value_sliced(py, what, None, |d| s.set_timeout(v, d))?.unwrap_or_default())
    }

    fn update(&self, py: Python<'_>, what: &str, f: &Py<PyAny>) -> PyResult<u64> {
        let s = &self.s;
        let dt = &self.dt;
        let raised: StdMutex<Option<PyErr>> = StdMutex::new(None);
        let raised_ref = &raised;
        let version = value_sliced(py, what, None, |d| {
            s.update_timeout(
                |cur| {
                    Python::attach(|py| {
                        let r = cur
                            .to_py(py, dt)
                            .and_then(|arg| f.call1(py, (arg,)))
                            .and_then(|new| T::from_py(new.bind(py), dt));
                        r.unwrap_or_else(|e| {
                            *raised_ref
                                .lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(e);
                            cur
                        })
                    })
                },
                d,
            )
        })?;
        match raised
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
        {
            Some(e) => Err(e),
            None => Ok(version.unwrap_or_default()),
        }
    }

    fn version(&self) -> PyResult<u64> {
        self.s.version().map_err(corrupt)
    }

    fn wait_for_change(&self, py: Python<'_>, seen: u64, timeout: Option<f64>) -> PyResult<bool> {
        let s = &self.s;
        Ok(wait_sliced(py, timeout, |d| s.wait_for_change_timeout(seen, d))?.is_some())
    }
}

struct Build<'a> {
    seg: zeroipc::Segment,
    name: &'a str,
    initial: Option<&'a Bound<'a, PyAny>>,
}

impl Visit for Build<'_> {
    type Out = PyResult<Result<Box<dyn Ops>, StructureError>>;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out {
        let s = match self.initial {
            None => Signal::<T>::open(&self.seg, self.name),
            Some(v) => {
                let v = T::from_py(v, dt)?;
                match Signal::<T>::create(&self.seg, self.name, v) {
                    Err(StructureError::Table(zeroipc::TableError::AlreadyExists { .. })) => {
                        Signal::<T>::open(&self.seg, self.name)
                    }
                    r => r,
                }
            }
        };
        Ok(s.map(|s| Box::new(Typed { s, dt: dt.clone() }) as Box<dyn Ops>))
    }
}

/// A versioned value shared by processes (upstream's `zeroipc.Signal`).
#[pyclass(module = "zeroipc", name = "Signal", frozen)]
pub(crate) struct PySignal {
    ops: Box<dyn Ops>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

impl PySignal {
    fn what(&self) -> String {
        format!("signal '{}'", self.name)
    }
}

#[pymethods]
impl PySignal {
    #[new]
    #[pyo3(signature = (memory, name, *, dtype = None, initial_value = None, create_if_missing = true))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        initial_value: Option<&Bound<'_, PyAny>>,
        create_if_missing: bool,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let (dt, exists) = plan_generic(py, &seg, name, dtype, CatalogKind::Signal, "signal")?;
        let initial = if exists {
            None
        } else if !create_if_missing {
            return Err(errors::raise(
                errors::Class::NotFound,
                format!("signal '{name}' not found in segment '{}'", seg.name()),
            ));
        } else {
            match initial_value.filter(|v| !v.is_none()) {
                Some(v) => Some(v),
                None => {
                    return Err(errors::raise(
                        errors::Class::InvalidArgument,
                        format!("initial_value required to create new signal '{name}'"),
                    ));
                }
            }
        };
        let seg = if exists {
            dt.checked_segment(&seg, name)?
        } else {
            seg
        };
        let ops = visit(
            &dt,
            Build {
                seg: seg.clone(),
                name,
                initial,
            },
        )??
        .map_err(errors::structure)?;
        if !exists {
            dt.describe_created(&seg, name);
        }
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// The value now.
    fn get(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.ops.get(py, &self.what())
    }

    /// Sets the value and advances the version.
    fn set(&self, py: Python<'_>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ops.set(py, &self.what(), value).map(drop)
    }

    /// Sets the value to `func(current)` atomically and advances the version.
    fn update(&self, py: Python<'_>, func: Py<PyAny>) -> PyResult<()> {
        self.ops.update(py, &self.what(), &func).map(drop)
    }

    /// The version: how many times the value was set.
    #[getter]
    fn version(&self) -> PyResult<u64> {
        self.ops.version()
    }

    /// True if the version differs from `last_version`.
    fn has_changed(&self, last_version: u64) -> PyResult<bool> {
        Ok(self.ops.version()? != last_version)
    }

    /// Waits until the version differs from `last_version`, at most `timeout` seconds:
    /// True, or False on timeout.
    #[pyo3(signature = (last_version, timeout = None))]
    fn wait_for_change(
        &self,
        py: Python<'_>,
        last_version: u64,
        timeout: Option<f64>,
    ) -> PyResult<bool> {
        self.ops.wait_for_change(py, last_version, timeout)
    }

    /// The numpy dtype of the value.
    #[getter]
    fn dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.dt.np(py).clone().unbind()
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        let v = self
            .ops
            .get(py, &self.what())
            .map_or_else(|_| "?".to_owned(), |v| v.to_string());
        format!(
            "Signal(name='{}', dtype={}, version={}, value={v})",
            self.name,
            self.dt.elem,
            self.ops.version().unwrap_or(0)
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PySignal>()
}

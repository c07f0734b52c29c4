//! `Map` and `Set`: upstream's Python Map and Set names and methods, on the Rust crate's
//! maps and sets, which have the **C++ layout** (FORMAT.md §5.4, §5.5). Upstream's Python
//! Map and Set have another layout (a `{u32 state; K; V}` slot packed to 8, a Set as a
//! `Map<T, u8>`) and hash function: opening one raises `KindMismatchError` with the Rust
//! crate's message (`StructureError::Foreign`) instead of reading garbage.
//!
//! | upstream Map | here |
//! |---|---|
//! | `Map(mem, name, capacity=None, key_dtype=None, value_dtype=None)` | same; both dtypes may be omitted where the catalog records them; keys and values: `int8`..`uint64`, `float32`, `float64`, `bool` |
//! | `insert(k, v)` / `put(k, v) -> bool` (False if full) | same |
//! | `find(k)` / `get(k) -> value or None` | same |
//! | `erase(k)` / `remove(k) -> bool` | same |
//! | `contains(k)`, `in`, `m[k]` (KeyError), `m[k] = v` (RuntimeError if full), `del m[k]`, `size()`, `len()`, `empty()` | same; a full map raises `zeroipc.FullError` |
//! | `clear()` (non-atomic rewrite) | removes every key one by one (safe while peers work) |
//! | — | `keys()`, `values()`, `items()`, `iter()` (snapshots) |
//!
//! | upstream Set | here |
//! |---|---|
//! | `Set(mem, name, capacity=None, dtype=None)` | same; struct dtypes too |
//! | `insert(x)` / `add(x) -> bool` (False if full) | same (True also when `x` was present, as upstream) |
//! | `contains(x)`, `in`, `erase(x)` / `remove(x) -> bool`, `discard(x)`, `size()`, `len()`, `empty()` | same |
//! | `clear()` (NotImplementedError upstream) | removes every element one by one |
//! | — | `members()`, `iter()` (snapshots) |

use pyo3::prelude::*;
use pyo3::types::PyList;
use zeroipc::inspect::TypeSpec;
use zeroipc::segment::CatalogKind;
use zeroipc::structures::map::{MapError, MapKey};
use zeroipc::{Map, Set, StructureError, TableError};

use crate::dtype::{DType, PyElem, Visit, VisitPair, visit_pair};
use crate::errors::{self, Class, raise};
use crate::memory::segment_of;
use crate::structure::{Mode, Target, open_or_create, plan};

fn hard(e: MapError) -> PyErr {
    match e {
        MapError::Corrupt(c) => errors::corruption(c),
        MapError::Full { .. } => raise(Class::Full, e),
        e => raise(Class::Stalled, e),
    }
}

// ---------------------------------------------------------------------------------------
// Map
// ---------------------------------------------------------------------------------------

trait MapOps: Send + Sync {
    fn insert(&self, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn get(&self, py: Python<'_>, k: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>>;
    fn remove(&self, k: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn contains(&self, k: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn pairs(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyAny>, Py<PyAny>)>>;
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
}

struct TypedMap<K: MapKey + PyElem, V: PyElem> {
    m: Map<K, V>,
    kt: DType,
    vt: DType,
}

impl<K: MapKey + PyElem, V: PyElem> MapOps for TypedMap<K, V> {
    fn insert(&self, k: &Bound<'_, PyAny>, v: &Bound<'_, PyAny>) -> PyResult<bool> {
        let (k, v) = (K::from_py(k, &self.kt)?, V::from_py(v, &self.vt)?);
        match self.m.insert(k, v) {
            Ok(_) => Ok(true),
            Err(MapError::Full { .. }) => Ok(false),
            Err(e) => Err(hard(e)),
        }
    }
    fn get(&self, py: Python<'_>, k: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        let k = K::from_py(k, &self.kt)?;
        match self.m.get(&k).map_err(hard)? {
            Some(v) => v.to_py(py, &self.vt).map(Some),
            None => Ok(None),
        }
    }
    fn remove(&self, k: &Bound<'_, PyAny>) -> PyResult<bool> {
        let k = K::from_py(k, &self.kt)?;
        Ok(self.m.remove(&k).map_err(hard)?.is_some())
    }
    fn contains(&self, k: &Bound<'_, PyAny>) -> PyResult<bool> {
        let k = K::from_py(k, &self.kt)?;
        self.m.contains_key(&k).map_err(hard)
    }
    fn pairs(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyAny>, Py<PyAny>)>> {
        self.m
            .pairs()
            .map_err(hard)?
            .into_iter()
            .map(|(k, v)| Ok((k.to_py(py, &self.kt)?, v.to_py(py, &self.vt)?)))
            .collect()
    }
    fn len(&self) -> usize {
        self.m.len()
    }
    fn capacity(&self) -> usize {
        self.m.capacity()
    }
}

struct BuildMap(Target);

impl VisitPair for BuildMap {
    type Out = Result<Box<dyn MapOps>, StructureError>;
    fn visit<K: PyElem + MapKey, V: PyElem>(self, kt: &DType, vt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let m = match mode {
            Mode::Open => Map::<K, V>::open(&seg, &name)?,
            Mode::Create(cap) => Map::<K, V>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(TypedMap {
            m,
            kt: kt.clone(),
            vt: vt.clone(),
        }))
    }
}

/// Key and value types of map `name` from the catalog (docs/CATALOG.md: layout `K=V`).
fn recorded_pair(py: Python<'_>, seg: &zeroipc::Segment, name: &str) -> PyResult<(DType, DType)> {
    let record = seg
        .catalog()
        .ok()
        .flatten()
        .and_then(|c| c.find(name).cloned());
    let Some(record) = record else {
        return Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "key_dtype and value_dtype are required: the type catalog has no record of '{name}'"
        )));
    };
    if record.kind != CatalogKind::Map {
        return Err(raise(
            Class::KindMismatch,
            format!(
                "entry '{name}' is a {} (the type catalog says so), not a map",
                record.kind
            ),
        ));
    }
    let spec: Option<TypeSpec> = record.layout.parse().ok();
    match spec.and_then(|s| Some((s.elem, s.value?))) {
        Some((k, v)) => Ok((
            DType::from_layout(py, &k.to_string())?,
            DType::from_layout(py, &v.to_string())?,
        )),
        None => Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "key_dtype and value_dtype are required: the type catalog records '{name}' as {} \
             with no layout",
            record.type_name
        ))),
    }
}

/// A fixed-capacity hash map in shared memory, C++ layout (upstream's `zeroipc.Map`).
#[pyclass(module = "zeroipc", name = "Map", frozen)]
pub(crate) struct PyMap {
    ops: Box<dyn MapOps>,
    kt: DType,
    vt: DType,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PyMap {
    /// `Cls[T]` (upstream's classes are `typing.Generic`): the class itself.
    #[classmethod]
    fn __class_getitem__(
        cls: &Bound<'_, pyo3::types::PyType>,
        _item: &Bound<'_, PyAny>,
    ) -> Py<pyo3::types::PyType> {
        cls.clone().unbind()
    }

    #[new]
    #[pyo3(signature = (memory, name, capacity = None, key_dtype = None, value_dtype = None))]
    fn new(
        py: Python<'_>,
        memory: &Bound<'_, PyAny>,
        name: &str,
        capacity: Option<usize>,
        key_dtype: Option<&Bound<'_, PyAny>>,
        value_dtype: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let seg = segment_of(memory)?;
        let given = match (
            key_dtype.filter(|d| !d.is_none()),
            value_dtype.filter(|d| !d.is_none()),
        ) {
            (Some(k), Some(v)) => Some((DType::from_object(py, k)?, DType::from_object(py, v)?)),
            _ => None,
        };
        let (kt, vt, mode) = match seg.find(name) {
            Ok(_) => {
                crate::structure::check_kind(&seg, name, CatalogKind::Map)?;
                let (k, v) = match given {
                    Some(kv) => kv,
                    None => recorded_pair(py, &seg, name)?,
                };
                (k, v, Mode::Open)
            }
            Err(TableError::NotFound { .. }) => {
                let Some((k, v)) = given else {
                    return Err(pyo3::exceptions::PyTypeError::new_err(
                        "key_dtype and value_dtype are required to create a map",
                    ));
                };
                let Some(cap) = capacity else {
                    return Err(pyo3::exceptions::PyValueError::new_err(format!(
                        "capacity required to create new map '{name}'"
                    )));
                };
                (k, v, Mode::Create(cap))
            }
            Err(e) => return Err(errors::table(e)),
        };
        let run = |mode: Mode| {
            let target = Target {
                seg: seg.clone(),
                name: name.to_owned(),
                mode,
            };
            visit_pair(&kt, &vt, BuildMap(target))
        };
        let made = match run(mode)? {
            Err(StructureError::Table(TableError::AlreadyExists { .. })) if mode != Mode::Open => {
                run(Mode::Open)?
            }
            other => other,
        };
        Ok(Self {
            ops: made.map_err(errors::structure)?,
            kt,
            vt,
            name: name.to_owned(),
        })
    }

    /// Inserts or updates: True, or False if the key is new and the map is full.
    fn insert(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.insert(key, value)
    }

    /// Alias of `insert`.
    fn put(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.insert(key, value)
    }

    /// The value of `key`, or None.
    fn find(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.get(py, key)
    }

    /// Alias of `find`.
    fn get(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Option<Py<PyAny>>> {
        self.ops.get(py, key)
    }

    /// Removes `key`: True if it was there.
    fn erase(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.remove(key)
    }

    /// Alias of `erase`.
    fn remove(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.remove(key)
    }

    /// True if `key` is present.
    fn contains(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.contains(key)
    }

    fn __contains__(&self, key: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.contains(key)
    }

    fn __getitem__(&self, py: Python<'_>, key: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        self.ops
            .get(py, key)?
            .ok_or_else(|| pyo3::exceptions::PyKeyError::new_err(key.clone().unbind()))
    }

    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.ops.insert(key, value)? {
            Ok(())
        } else {
            Err(raise(
                Class::Full,
                format!("Map is full: all {} slots are taken", self.ops.capacity()),
            ))
        }
    }

    fn __delitem__(&self, key: &Bound<'_, PyAny>) -> PyResult<()> {
        if self.ops.remove(key)? {
            Ok(())
        } else {
            Err(pyo3::exceptions::PyKeyError::new_err(key.clone().unbind()))
        }
    }

    /// Removes every key (one by one; safe while peers work, not a snapshot).
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        for (k, _) in self.ops.pairs(py)? {
            self.ops.remove(k.bind(py))?;
        }
        Ok(())
    }

    /// The keys (a snapshot).
    fn keys(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        Ok(self.ops.pairs(py)?.into_iter().map(|(k, _)| k).collect())
    }

    /// The values (a snapshot).
    fn values(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        Ok(self.ops.pairs(py)?.into_iter().map(|(_, v)| v).collect())
    }

    /// The `(key, value)` pairs (a snapshot).
    fn items(&self, py: Python<'_>) -> PyResult<Vec<(Py<PyAny>, Py<PyAny>)>> {
        self.ops.pairs(py)
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let keys = PyList::new(py, self.keys(py)?)?;
        Ok(keys.try_iter()?.into_any().unbind())
    }

    /// The number of keys.
    fn size(&self) -> usize {
        self.ops.len()
    }

    /// True if the map has no key.
    fn empty(&self) -> bool {
        self.ops.len() == 0
    }

    fn __len__(&self) -> usize {
        self.ops.len()
    }

    fn __bool__(&self) -> bool {
        self.ops.len() > 0
    }

    /// The number of slots.
    #[getter]
    fn capacity(&self) -> usize {
        self.ops.capacity()
    }

    /// The numpy dtype of the keys.
    #[getter]
    fn key_dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.kt.np(py).clone().unbind()
    }

    /// The numpy dtype of the values.
    #[getter]
    fn value_dtype(&self, py: Python<'_>) -> Py<PyAny> {
        self.vt.np(py).clone().unbind()
    }

    fn __repr__(&self) -> String {
        format!(
            "Map(name='{}', size={}, capacity={}, key={}, value={})",
            self.name,
            self.ops.len(),
            self.ops.capacity(),
            self.kt.elem,
            self.vt.elem
        )
    }
}

// ---------------------------------------------------------------------------------------
// Set
// ---------------------------------------------------------------------------------------

trait SetOps: Send + Sync {
    fn insert(&self, x: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn contains(&self, x: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn remove(&self, x: &Bound<'_, PyAny>) -> PyResult<bool>;
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>>;
    fn len(&self) -> usize;
    fn capacity(&self) -> usize;
}

struct TypedSet<T: MapKey + PyElem> {
    s: Set<T>,
    dt: DType,
}

impl<T: MapKey + PyElem> SetOps for TypedSet<T> {
    fn insert(&self, x: &Bound<'_, PyAny>) -> PyResult<bool> {
        match self.s.insert(T::from_py(x, &self.dt)?) {
            Ok(_) => Ok(true),
            Err(MapError::Full { .. }) => Ok(false),
            Err(e) => Err(hard(e)),
        }
    }
    fn contains(&self, x: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.s.contains(&T::from_py(x, &self.dt)?).map_err(hard)
    }
    fn remove(&self, x: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.s.remove(&T::from_py(x, &self.dt)?).map_err(hard)
    }
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        self.s
            .members()
            .map_err(hard)?
            .into_iter()
            .map(|x| x.to_py(py, &self.dt))
            .collect()
    }
    fn len(&self) -> usize {
        self.s.len()
    }
    fn capacity(&self) -> usize {
        self.s.capacity()
    }
}

struct BuildSet(Target);

impl Visit for BuildSet {
    type Out = Result<Box<dyn SetOps>, StructureError>;
    fn visit<T: PyElem + MapKey>(self, dt: &DType) -> Self::Out {
        let Target { seg, name, mode } = self.0;
        let s = match mode {
            Mode::Open => Set::<T>::open(&seg, &name)?,
            Mode::Create(cap) => Set::<T>::create(&seg, &name, cap)?,
        };
        Ok(Box::new(TypedSet { s, dt: dt.clone() }))
    }
}

/// A fixed-capacity hash set in shared memory, C++ layout (upstream's `zeroipc.Set`).
#[pyclass(module = "zeroipc", name = "Set", frozen)]
pub(crate) struct PySet {
    ops: Box<dyn SetOps>,
    dt: DType,
    #[pyo3(get)]
    name: String,
}

#[pymethods]
impl PySet {
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
        let (dt, mode) = plan(py, &seg, name, capacity, dtype, CatalogKind::Set, "set")?;
        let ops = open_or_create(py, &seg, name, &dt, mode, BuildSet)?;
        Ok(Self {
            ops,
            dt,
            name: name.to_owned(),
        })
    }

    /// Adds `element`: True (also if present), or False if it is new and the set is full.
    fn insert(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.insert(element)
    }

    /// Alias of `insert`.
    fn add(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.insert(element)
    }

    /// True if `element` is present.
    fn contains(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.contains(element)
    }

    fn __contains__(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.contains(element)
    }

    /// Removes `element`: True if it was there.
    fn erase(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.remove(element)
    }

    /// Alias of `erase`.
    fn remove(&self, element: &Bound<'_, PyAny>) -> PyResult<bool> {
        self.ops.remove(element)
    }

    /// Removes `element` if present.
    fn discard(&self, element: &Bound<'_, PyAny>) -> PyResult<()> {
        self.ops.remove(element).map(drop)
    }

    /// Removes every element (one by one).
    fn clear(&self, py: Python<'_>) -> PyResult<()> {
        for x in self.ops.members(py)? {
            self.ops.remove(x.bind(py))?;
        }
        Ok(())
    }

    /// The elements (a snapshot).
    fn members(&self, py: Python<'_>) -> PyResult<Vec<Py<PyAny>>> {
        self.ops.members(py)
    }

    fn __iter__(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        let items = PyList::new(py, self.ops.members(py)?)?;
        Ok(items.try_iter()?.into_any().unbind())
    }

    /// The number of elements.
    fn size(&self) -> usize {
        self.ops.len()
    }

    /// True if the set has no element.
    fn empty(&self) -> bool {
        self.ops.len() == 0
    }

    fn __len__(&self) -> usize {
        self.ops.len()
    }

    fn __bool__(&self) -> bool {
        self.ops.len() > 0
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
            "Set(name='{}', size={}, dtype={})",
            self.name,
            self.ops.len(),
            self.dt.elem
        )
    }
}

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyMap>()?;
    m.add_class::<PySet>()?;
    Ok(())
}

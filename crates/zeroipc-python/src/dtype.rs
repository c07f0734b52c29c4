//! Element types: numpy dtypes ↔ Rust element types, and the dispatch that instantiates a
//! generic handle (`Queue<T>`, ...) over the one type a dtype stands for.
//!
//! # API (for every binding file)
//!
//! - [`DType::resolve`]`(py, seg, name, dtype_obj, kind)`: the element type of a structure.
//!   `dtype_obj` is anything `numpy.dtype()` accepts (`np.float32`, `"u8"`, `int`, `float`,
//!   `bool`, a structured dtype, a `DType`-compatible object), or `None`: then the segment's
//!   type catalog is asked for the entry's recorded layout (docs/CATALOG.md), and without a
//!   record the call raises `TypeError` ("pass dtype=").
//! - [`DType::from_object`]`(py, obj)`: the same for an explicit dtype, without a segment.
//! - [`visit`]`(&dt, visitor)`: calls `visitor.visit::<T>(&dt)` with `T` the Rust storage
//!   type of `dt` (one of [the list](for_each_storage)); the visitor usually returns a
//!   `Box<dyn SomethingOps>` holding the typed handle. [`visit_pair`] does the same for a
//!   Map's key and value (primitives only).
//! - [`PyElem`]: `T::from_py(obj, &dt)` and `value.to_py(py, &dt)` convert one element.
//!   Integers become Python `int`, `f64` Python `float`, `f32` `numpy.float32` (so `print`
//!   shows what C++ stored: `23.5`, `0.1`), `bool` Python `bool`, a structured dtype a
//!   `numpy.void` record. Values from Python: anything with `__index__` / `__float__`,
//!   `numpy` scalars, and for records a tuple, a `numpy.void` or `bytes` of the exact size.
//! - [`DType::checked_segment`]: the segment to open through. Primitive element types are
//!   checked against the catalog by the Rust crate itself; a struct dtype is stored as a
//!   word array (`[u64; 3]` for `i32,f32,f64,u8`), whose type name differs from the
//!   creator's struct name, so it opens unchecked after [`DType::check_record`] compared
//!   size, alignment and layout with the catalog here.
//!
//! # Which Rust type stands for which dtype
//!
//! | dtype | storage | catalog layout |
//! |---|---|---|
//! | `int8` .. `uint64`, `float32`, `float64` | `i8` .. `u64`, `f32`, `f64` | the primitive |
//! | `bool` | `u8` (0 or 1; any non-zero reads as `True`) | `u8` |
//! | structured, fields from the ten primitives, C layout (`align=True`) | `[uA; size / A]`, `A` = the struct's alignment | `i32,f32,f64,u8` (written with `Segment::describe` at create) |
//!
//! Struct layouts are the CLI's `--as 'i32,f32,f64'` layouts (C rules: each field aligned to
//! its size, the size rounded up to the largest field); a dtype whose offsets or itemsize
//! differ (numpy's default packed layout) is refused with a hint to pass `align=True`.
//! Record sizes: alignment 8 up to 64 bytes, 4 up to 16, 2 up to 6, 1 sizes 2, 3, 4 and 8
//! (a bounded set, each a monomorphisation of every handle; widen [`for_each_storage`]).

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList};
use zeroipc::inspect::{Elem, ElemType};
use zeroipc::segment::CatalogKind;
use zeroipc::{Element, Segment};

use crate::errors::{Class, raise};

/// How one element converts to and from Python (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Conv {
    Int,
    Float,
    Float32,
    Bool,
    Record,
}

/// The Rust type a dtype is stored as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Storage {
    Prim(ElemType),
    /// `[uA; words]` with `A = align` bytes.
    Record {
        align: u8,
        words: u8,
    },
}

/// A resolved element type: its layout, numpy dtype, storage and conversion.
#[derive(Debug)]
pub(crate) struct DType {
    /// The C layout (one field for a primitive).
    pub(crate) elem: Elem,
    /// The numpy dtype (`numpy.dtype` object).
    pub(crate) np: Py<PyAny>,
    pub(crate) storage: Storage,
    pub(crate) conv: Conv,
}

impl Clone for DType {
    fn clone(&self) -> Self {
        Python::attach(|py| Self {
            elem: self.elem.clone(),
            np: self.np.clone_ref(py),
            storage: self.storage,
            conv: self.conv,
        })
    }
}

static NUMPY: PyOnceLock<Py<PyModule>> = PyOnceLock::new();

/// The `numpy` module (imported once).
pub(crate) fn numpy(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    Ok(NUMPY
        .get_or_try_init(py, || py.import("numpy").map(Bound::unbind))?
        .bind(py))
}

fn prim_of(kind: char, size: usize) -> Option<ElemType> {
    Some(match (kind, size) {
        ('i', 1) => ElemType::I8,
        ('i', 2) => ElemType::I16,
        ('i', 4) => ElemType::I32,
        ('i', 8) => ElemType::I64,
        ('u', 1) => ElemType::U8,
        ('u', 2) => ElemType::U16,
        ('u', 4) => ElemType::U32,
        ('u', 8) => ElemType::U64,
        ('f', 4) => ElemType::F32,
        ('f', 8) => ElemType::F64,
        _ => return None,
    })
}

fn numpy_name(t: ElemType) -> &'static str {
    match t {
        ElemType::I8 => "int8",
        ElemType::U8 => "uint8",
        ElemType::I16 => "int16",
        ElemType::U16 => "uint16",
        ElemType::I32 => "int32",
        ElemType::U32 => "uint32",
        ElemType::I64 => "int64",
        ElemType::U64 => "uint64",
        ElemType::F32 => "float32",
        ElemType::F64 => "float64",
        _ => "void",
    }
}

fn invalid(msg: String) -> PyErr {
    raise(Class::InvalidArgument, msg)
}

/// The primitive of one numpy dtype (not structured), with its conversion.
fn scalar_of(dt: &Bound<'_, PyAny>) -> PyResult<Option<(ElemType, Conv)>> {
    let kind: String = dt.getattr("kind")?.extract()?;
    let size: usize = dt.getattr("itemsize")?.extract()?;
    let kind = kind.chars().next().unwrap_or('?');
    if kind == 'b' && size == 1 {
        return Ok(Some((ElemType::U8, Conv::Bool)));
    }
    let Some(t) = prim_of(kind, size) else {
        return Ok(None);
    };
    if size > 1 {
        let order: String = dt.getattr("byteorder")?.extract()?;
        if order == ">" {
            return Err(invalid(format!(
                "dtype {dt} is big-endian; zeroipc segments are little-endian (use '<' or '=')"
            )));
        }
    }
    let conv = match t {
        ElemType::F32 => Conv::Float32,
        ElemType::F64 => Conv::Float,
        _ => Conv::Int,
    };
    Ok(Some((t, conv)))
}

fn record_storage(elem: &Elem) -> PyResult<Storage> {
    let (size, align) = (elem.size(), elem.align());
    let words = size / align;
    let supported = match align {
        8 => (1..=8).contains(&words),
        4 => (1..=4).contains(&words),
        2 => (1..=3).contains(&words),
        1 => matches!(words, 2 | 3 | 4 | 8),
        _ => false,
    };
    if !supported {
        return Err(invalid(format!(
            "struct dtype '{elem}' is {size} bytes with alignment {align}: not among the \
             record sizes this build supports (alignment 8: 8..64 bytes, 4: 4..16, 2: 2..6, \
             1: 2, 3, 4, 8)"
        )));
    }
    // Both fit u8: align ≤ 8, words ≤ 8.
    Ok(Storage::Record {
        align: u8::try_from(align).unwrap_or(u8::MAX),
        words: u8::try_from(words).unwrap_or(u8::MAX),
    })
}

impl DType {
    /// The element type for an explicit dtype object (anything `numpy.dtype()` accepts).
    pub(crate) fn from_object(py: Python<'_>, obj: &Bound<'_, PyAny>) -> PyResult<Self> {
        let np = numpy(py)?;
        let dt = np.call_method1("dtype", (obj,))?;
        if let Some((t, conv)) = scalar_of(&dt)? {
            return Ok(Self {
                elem: Elem::scalar(t),
                np: dt.unbind(),
                storage: Storage::Prim(t),
                conv,
            });
        }
        let names = dt.getattr("names")?;
        if names.is_none() {
            return Err(invalid(format!(
                "dtype {dt} is not supported: use int8..uint64, float32, float64, bool, or a \
                 structured dtype of those (a C struct)"
            )));
        }
        let fields = dt.getattr("fields")?;
        let mut types = Vec::new();
        let mut offsets = Vec::new();
        for name in names.try_iter()? {
            let name = name?;
            let entry = fields.get_item(&name)?;
            let fdt = entry.get_item(0)?;
            let off: u64 = entry.get_item(1)?.extract()?;
            let Some((t, _)) =
                scalar_of(&fdt)?.filter(|_| fdt.getattr("names").is_ok_and(|n| n.is_none()))
            else {
                return Err(invalid(format!(
                    "field {name} of dtype {dt} is {fdt}: struct fields must be int8..uint64, \
                     float32, float64 or bool (no nesting, no sub-arrays)"
                )));
            };
            types.push(t);
            offsets.push(off);
        }
        let elem =
            Elem::record(types).ok_or_else(|| invalid(format!("dtype {dt} has no fields")))?;
        let itemsize: u64 = dt.getattr("itemsize")?.extract()?;
        if elem.offsets() != offsets || elem.size() != itemsize {
            return Err(invalid(format!(
                "dtype {dt} has offsets {offsets:?} and itemsize {itemsize}, but the C struct \
                 '{elem}' has offsets {:?} and size {}: create the dtype with align=True",
                elem.offsets(),
                elem.size()
            )));
        }
        let storage = record_storage(&elem)?;
        Ok(Self {
            elem,
            np: dt.unbind(),
            storage,
            conv: Conv::Record,
        })
    }

    /// The element type for a layout string in `--as` syntax (`"f32"`, `"i32,f32,f64"`).
    pub(crate) fn from_layout(py: Python<'_>, layout: &str) -> PyResult<Self> {
        let elem: Elem = layout
            .parse()
            .map_err(|e| invalid(format!("layout '{layout}': {e}")))?;
        let np = numpy(py)?;
        if let Some(t) = elem.as_scalar() {
            return Self::from_object(py, &np.getattr(numpy_name(t))?);
        }
        let spec = PyDict::new(py);
        let names: Vec<String> = (0..elem.fields().len()).map(|i| format!("f{i}")).collect();
        let formats: Vec<&str> = elem.fields().iter().map(|t| numpy_name(*t)).collect();
        spec.set_item("names", PyList::new(py, names)?)?;
        spec.set_item("formats", PyList::new(py, formats)?)?;
        spec.set_item("offsets", PyList::new(py, elem.offsets())?)?;
        spec.set_item("itemsize", elem.size())?;
        Self::from_object(py, &spec.into_any())
    }

    /// The element type of structure `name` of kind `kind`: `dtype` if given, else the
    /// layout the segment's type catalog records (see the module docs).
    pub(crate) fn resolve(
        py: Python<'_>,
        seg: &Segment,
        name: &str,
        dtype: Option<&Bound<'_, PyAny>>,
        kind: CatalogKind,
    ) -> PyResult<Self> {
        if let Some(obj) = dtype.filter(|d| !d.is_none()) {
            return Self::from_object(py, obj);
        }
        let record = seg
            .catalog()
            .ok()
            .flatten()
            .and_then(|c| c.find(name).cloned());
        let Some(record) = record else {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "dtype is required: the segment's type catalog has no record of '{name}' \
                 (pass dtype=)"
            )));
        };
        if record.kind != kind {
            return Err(raise(
                Class::KindMismatch,
                format!(
                    "entry '{name}' is a {} (the type catalog says so), not a {}",
                    record.kind, kind
                ),
            ));
        }
        if record.layout.is_empty() || record.layout.contains(['=', ':']) {
            return Err(pyo3::exceptions::PyTypeError::new_err(format!(
                "dtype is required: the type catalog records '{name}' as {} with no field \
                 layout (pass dtype=)",
                record.type_name
            )));
        }
        Self::from_layout(py, &record.layout)
    }

    /// Element size in bytes.
    pub(crate) fn size(&self) -> u64 {
        self.elem.size()
    }

    /// True for a struct dtype (stored as a word array).
    pub(crate) fn is_record(&self) -> bool {
        matches!(self.storage, Storage::Record { .. })
    }

    /// Checks a struct dtype against the catalog's record for `name` (size, alignment, and
    /// the layout when one is recorded); primitives are checked by the Rust crate.
    pub(crate) fn check_record(&self, seg: &Segment, name: &str) -> PyResult<()> {
        if !self.is_record() {
            return Ok(());
        }
        let Some(r) = seg
            .catalog()
            .ok()
            .flatten()
            .and_then(|c| c.find(name).cloned())
        else {
            return Ok(());
        };
        let same_shape = u64::from(r.elem_size) == self.elem.size()
            && u64::from(r.elem_align) == self.elem.align();
        let same_layout = r.layout.is_empty() || r.layout == self.elem.to_string();
        if same_shape && same_layout {
            return Ok(());
        }
        Err(raise(
            Class::TypeMismatch,
            format!(
                "entry '{name}' holds {} ({} bytes, align {}, layout '{}') (the type catalog \
                 says so), not '{}' ({} bytes, align {})",
                r.type_name,
                r.elem_size,
                r.elem_align,
                r.layout,
                self.elem,
                self.elem.size(),
                self.elem.align()
            ),
        ))
    }

    /// The segment handle to open `name` through: `seg` itself for primitives (the crate
    /// checks the catalog), or after [`DType::check_record`] an unchecked one for records.
    pub(crate) fn checked_segment(&self, seg: &Segment, name: &str) -> PyResult<Segment> {
        if self.is_record() {
            self.check_record(seg, name)?;
            Ok(seg.unchecked())
        } else {
            Ok(seg.clone())
        }
    }

    /// After creating `name` with a struct dtype: records its field layout in the catalog
    /// (best effort: a segment without a catalog, or a full one, records nothing).
    pub(crate) fn describe_created(&self, seg: &Segment, name: &str) {
        if self.is_record() {
            let _ = seg.describe(name, &self.elem.to_string());
        }
    }

    /// The numpy dtype, bound.
    pub(crate) fn np<'py>(&self, py: Python<'py>) -> &Bound<'py, PyAny> {
        self.np.bind(py)
    }
}

/// One element converting to and from Python (see the module docs).
pub(crate) trait PyElem: Element + Default {
    /// The value of `obj` as this type.
    fn from_py(obj: &Bound<'_, PyAny>, dt: &DType) -> PyResult<Self>;
    /// This value as a Python object.
    fn to_py(self, py: Python<'_>, dt: &DType) -> PyResult<Py<PyAny>>;
}

macro_rules! int_elem {
    ($($t:ty),*) => {$(
        impl PyElem for $t {
            #[inline]
            fn from_py(obj: &Bound<'_, PyAny>, dt: &DType) -> PyResult<Self> {
                if dt.conv == Conv::Bool {
                    return Ok(<$t>::from(obj.is_truthy()?));
                }
                obj.extract::<$t>()
            }
            #[inline]
            fn to_py(self, py: Python<'_>, dt: &DType) -> PyResult<Py<PyAny>> {
                if dt.conv == Conv::Bool {
                    return Ok(pyo3::types::PyBool::new(py, self != 0).to_owned().into_any().unbind());
                }
                Ok(self.into_pyobject(py)?.into_any().unbind())
            }
        }
    )*};
}
int_elem!(i8, u8, i16, u16, i32, u32, i64, u64);

impl PyElem for f64 {
    #[inline]
    fn from_py(obj: &Bound<'_, PyAny>, _dt: &DType) -> PyResult<Self> {
        obj.extract::<f64>()
    }
    #[inline]
    fn to_py(self, py: Python<'_>, _dt: &DType) -> PyResult<Py<PyAny>> {
        Ok(self.into_pyobject(py)?.into_any().unbind())
    }
}

static FLOAT32: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

impl PyElem for f32 {
    #[inline]
    #[allow(clippy::cast_possible_truncation)] // f64 → f32 rounds, as numpy's float32(x)
    fn from_py(obj: &Bound<'_, PyAny>, _dt: &DType) -> PyResult<Self> {
        obj.extract::<f64>().map(|v| v as f32)
    }
    fn to_py(self, py: Python<'_>, _dt: &DType) -> PyResult<Py<PyAny>> {
        let f32_type =
            FLOAT32.get_or_try_init(py, || numpy(py)?.getattr("float32").map(Bound::unbind))?;
        Ok(f32_type.bind(py).call1((self,))?.unbind())
    }
}

/// A struct value from Python: `bytes` of the exact size, or anything
/// `numpy.asarray(obj, dtype)` accepts (a tuple, a `numpy.void`).
fn record_bytes<T: Element + Default>(obj: &Bound<'_, PyAny>, dt: &DType) -> PyResult<T> {
    let py = obj.py();
    let mut value = T::default();
    let out = value.as_mut_bytes();
    if let Ok(b) = obj.cast::<PyBytes>() {
        let bytes = b.as_bytes();
        if bytes.len() != out.len() {
            return Err(invalid(format!(
                "a {}-byte value for the {}-byte struct '{}'",
                bytes.len(),
                out.len(),
                dt.elem
            )));
        }
        out.copy_from_slice(bytes);
        return Ok(value);
    }
    let arr = numpy(py)?.call_method1("asarray", (obj, dt.np(py)))?;
    let ndim: usize = arr.getattr("ndim")?.extract()?;
    if ndim != 0 {
        return Err(invalid(format!(
            "one '{}' struct value expected, found an array of {ndim} dimensions",
            dt.elem
        )));
    }
    let raw = arr.call_method0("tobytes")?;
    let raw = raw.cast::<PyBytes>()?.as_bytes();
    if raw.len() != out.len() {
        return Err(invalid(format!(
            "numpy gave {} bytes for the {}-byte struct '{}'",
            raw.len(),
            out.len(),
            dt.elem
        )));
    }
    out.copy_from_slice(raw);
    Ok(value)
}

/// A struct value to Python: a `numpy.void` record of the dtype.
fn record_to_py<T: Element>(value: &T, py: Python<'_>, dt: &DType) -> PyResult<Py<PyAny>> {
    let bytes = PyBytes::new(py, value.as_bytes());
    let arr = numpy(py)?.call_method1("frombuffer", (bytes, dt.np(py)))?;
    Ok(arr.get_item(0)?.unbind())
}

macro_rules! record_elem {
    ($($w:ty),*) => {$(
        impl<const N: usize> PyElem for [$w; N]
        where
            [$w; N]: Default,
        {
            fn from_py(obj: &Bound<'_, PyAny>, dt: &DType) -> PyResult<Self> {
                record_bytes(obj, dt)
            }
            fn to_py(self, py: Python<'_>, dt: &DType) -> PyResult<Py<PyAny>> {
                record_to_py(&self, py, dt)
            }
        }
    )*};
}
record_elem!(u8, u16, u32, u64);

/// Builds something generic over the element type; see [`visit`].
pub(crate) trait Visit {
    type Out;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, dt: &DType) -> Self::Out;
}

/// Builds something generic over a Map's key and value types; see [`visit_pair`].
pub(crate) trait VisitPair {
    type Out;
    fn visit<K: PyElem + zeroipc::structures::map::MapKey, V: PyElem>(
        self,
        key: &DType,
        value: &DType,
    ) -> Self::Out;
}

/// The storage types, one list for every dispatch (primitives, then `[uA; N]` records by
/// alignment). Keep in sync with `record_storage`.
macro_rules! for_each_storage {
    ($dt:expr, $v:expr) => {
        match $dt.storage {
            Storage::Prim(ElemType::I8) => Ok($v.visit::<i8>($dt)),
            Storage::Prim(ElemType::U8) => Ok($v.visit::<u8>($dt)),
            Storage::Prim(ElemType::I16) => Ok($v.visit::<i16>($dt)),
            Storage::Prim(ElemType::U16) => Ok($v.visit::<u16>($dt)),
            Storage::Prim(ElemType::I32) => Ok($v.visit::<i32>($dt)),
            Storage::Prim(ElemType::U32) => Ok($v.visit::<u32>($dt)),
            Storage::Prim(ElemType::I64) => Ok($v.visit::<i64>($dt)),
            Storage::Prim(ElemType::U64) => Ok($v.visit::<u64>($dt)),
            Storage::Prim(ElemType::F32) => Ok($v.visit::<f32>($dt)),
            Storage::Prim(ElemType::F64) => Ok($v.visit::<f64>($dt)),
            Storage::Record { align: 8, words: 1 } => Ok($v.visit::<[u64; 1]>($dt)),
            Storage::Record { align: 8, words: 2 } => Ok($v.visit::<[u64; 2]>($dt)),
            Storage::Record { align: 8, words: 3 } => Ok($v.visit::<[u64; 3]>($dt)),
            Storage::Record { align: 8, words: 4 } => Ok($v.visit::<[u64; 4]>($dt)),
            Storage::Record { align: 8, words: 5 } => Ok($v.visit::<[u64; 5]>($dt)),
            Storage::Record { align: 8, words: 6 } => Ok($v.visit::<[u64; 6]>($dt)),
            Storage::Record { align: 8, words: 7 } => Ok($v.visit::<[u64; 7]>($dt)),
            Storage::Record { align: 8, words: 8 } => Ok($v.visit::<[u64; 8]>($dt)),
            Storage::Record { align: 4, words: 1 } => Ok($v.visit::<[u32; 1]>($dt)),
            Storage::Record { align: 4, words: 2 } => Ok($v.visit::<[u32; 2]>($dt)),
            Storage::Record { align: 4, words: 3 } => Ok($v.visit::<[u32; 3]>($dt)),
            Storage::Record { align: 4, words: 4 } => Ok($v.visit::<[u32; 4]>($dt)),
            Storage::Record { align: 2, words: 1 } => Ok($v.visit::<[u16; 1]>($dt)),
            Storage::Record { align: 2, words: 2 } => Ok($v.visit::<[u16; 2]>($dt)),
            Storage::Record { align: 2, words: 3 } => Ok($v.visit::<[u16; 3]>($dt)),
            Storage::Record { align: 1, words: 2 } => Ok($v.visit::<[u8; 2]>($dt)),
            Storage::Record { align: 1, words: 3 } => Ok($v.visit::<[u8; 3]>($dt)),
            Storage::Record { align: 1, words: 4 } => Ok($v.visit::<[u8; 4]>($dt)),
            Storage::Record { align: 1, words: 8 } => Ok($v.visit::<[u8; 8]>($dt)),
            other => Err(invalid(format!(
                "element storage {other:?} is not supported"
            ))),
        }
    };
}

/// Calls `v.visit::<T>(dt)` with `T` the storage type of `dt`.
pub(crate) fn visit<V: Visit>(dt: &DType, v: V) -> PyResult<V::Out> {
    for_each_storage!(dt, v)
}

struct ValueOf<'a, K, V> {
    key: &'a DType,
    inner: V,
    _k: core::marker::PhantomData<K>,
}

impl<K: PyElem + zeroipc::structures::map::MapKey, P: VisitPair> Visit for ValueOf<'_, K, P> {
    type Out = P::Out;
    fn visit<T: PyElem + zeroipc::structures::map::MapKey>(self, value: &DType) -> P::Out {
        self.inner.visit::<K, T>(self.key, value)
    }
}

struct KeyOf<'a, P> {
    value: &'a DType,
    inner: P,
}

impl<P: VisitPair> Visit for KeyOf<'_, P> {
    type Out = PyResult<P::Out>;
    fn visit<K: PyElem + zeroipc::structures::map::MapKey>(self, key: &DType) -> Self::Out {
        let v = ValueOf::<K, P> {
            key,
            inner: self.inner,
            _k: core::marker::PhantomData,
        };
        prim_only(self.value, "value")?;
        visit(self.value, v)
    }
}

fn prim_only(dt: &DType, what: &str) -> PyResult<()> {
    if dt.is_record() {
        return Err(invalid(format!(
            "a Map {what} of struct dtype '{}' is not supported by the Python package yet \
             (keys and values: int8..uint64, float32, float64, bool)",
            dt.elem
        )));
    }
    Ok(())
}

/// Calls `v.visit::<K, V>(key, value)` with the storage types of a Map's key and value
/// (primitives only: a struct key or value raises `InvalidArgumentError`).
pub(crate) fn visit_pair<P: VisitPair>(key: &DType, value: &DType, v: P) -> PyResult<P::Out> {
    prim_only(key, "key")?;
    visit(key, KeyOf { value, inner: v })?
}

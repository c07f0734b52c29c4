//! The type language of `--as`: [`ElemType`] (a primitive), [`Elem`] (a primitive or a
//! C struct of them, `'i32,f32,f64'`), [`TypeSpec`] (one element type, or a Map's key and
//! value), parsed from text.

#[allow(clippy::wildcard_imports)] // the decoder's shared vocabulary
use super::*;

// ---------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------

/// A primitive element type to read values as (little-endian, natural alignment).
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::ElemType;
/// let t: ElemType = "f64".parse()?;
/// assert_eq!((t, t.size(), t.name()), (ElemType::F64, 8, "f64"));
/// assert!("i128".parse::<ElemType>().is_err());
/// # Ok::<(), zeroipc::inspect::ParseTypeError>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[allow(missing_docs)] // the names say it
pub enum ElemType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl ElemType {
    /// Every type, in the order of [`ElemType::name`]s shown to users.
    pub const ALL: [ElemType; 10] = [
        Self::I8,
        Self::U8,
        Self::I16,
        Self::U16,
        Self::I32,
        Self::U32,
        Self::I64,
        Self::U64,
        Self::F32,
        Self::F64,
    ];

    /// Size in bytes.
    #[must_use]
    pub fn size(self) -> u64 {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }

    /// Alignment in bytes (x86-64 and aarch64 Linux: the size).
    #[must_use]
    pub fn align(self) -> u64 {
        self.size()
    }

    /// `"i8"`, ..., `"f64"`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::I16 => "i16",
            Self::U16 => "u16",
            Self::I32 => "i32",
            Self::U32 => "u32",
            Self::I64 => "i64",
            Self::U64 => "u64",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }

    pub(super) fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }

    /// The value in the first `size()` bytes of `b`; `None` if `b` is shorter.
    pub(super) fn read(self, b: &[u8]) -> Option<Value> {
        let n = usize::try_from(self.size()).ok()?;
        let b = b.get(..n)?;
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(b);
        let sign_extend = |bits: u32| {
            let shift = 64 - bits;
            // Reinterpreting the bits is the point: sign-extend an n-byte integer.
            #[allow(clippy::cast_possible_wrap)]
            let v = ((u64::from_le_bytes(w) << shift) as i64) >> shift;
            v
        };
        Some(match self {
            Self::I8 => Value::Signed(sign_extend(8)),
            Self::I16 => Value::Signed(sign_extend(16)),
            Self::I32 => Value::Signed(sign_extend(32)),
            Self::I64 => Value::Signed(sign_extend(64)),
            Self::U8 | Self::U16 | Self::U32 | Self::U64 => Value::Unsigned(u64::from_le_bytes(w)),
            Self::F32 => Value::F32(f32::from_le_bytes([w[0], w[1], w[2], w[3]])),
            Self::F64 => Value::F64(f64::from_le_bytes(w)),
        })
    }

    /// The key extended to 64 bits as C++'s integral hash sees it.
    pub(super) fn extended(self, b: &[u8]) -> Option<u64> {
        match self.read(b)? {
            // The bits of the sign-extended value, as C++ `(size_t)(int64_t)v`.
            #[allow(clippy::cast_sign_loss)]
            Value::Signed(v) => Some(v as u64),
            Value::Unsigned(v) => Some(v),
            _ => None,
        }
    }
}

impl fmt::Display for ElemType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a type name did not parse.
///
/// # Examples
///
/// ```
/// let e = "i128".parse::<zeroipc::inspect::ElemType>().unwrap_err();
/// assert!(e.to_string().contains("i128"));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseTypeError(String);

impl fmt::Display for ParseTypeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseTypeError {}

impl FromStr for ElemType {
    type Err = ParseTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        Self::ALL
            .into_iter()
            .find(|e| e.name().eq_ignore_ascii_case(t))
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|e| e.name()).collect();
                ParseTypeError(format!(
                    "unknown type '{s}' (expected one of {})",
                    names.join(", ")
                ))
            })
    }
}

/// One element type: a primitive, or a C struct of primitives (its fields in order).
///
/// Written as the primitive's name (`"f64"`) or the fields' names separated by commas
/// (`"i32,f32,f64,u8"`). A struct follows the C rules of x86-64 and aarch64 Linux: each field
/// is aligned to its size, and the struct's size is rounded up to its largest field.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::{Elem, ElemType};
/// let s: Elem = "i32,f32,f64,u8".parse()?;
/// assert_eq!(s.offsets(), [0, 4, 8, 16]);
/// assert_eq!((s.size(), s.align()), (24, 8));
/// assert_eq!(s.to_string(), "i32,f32,f64,u8");
/// assert_eq!("u16".parse::<Elem>()?.as_scalar(), Some(ElemType::U16));
/// assert!("i32,,u8".parse::<Elem>().is_err());
/// # Ok::<(), zeroipc::inspect::ParseTypeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Elem {
    pub(super) fields: Vec<ElemType>,
}

impl Elem {
    /// A primitive.
    #[must_use]
    pub fn scalar(t: ElemType) -> Self {
        Self { fields: vec![t] }
    }

    /// A C struct with these fields in order; `None` if there are none.
    #[must_use]
    pub fn record(fields: Vec<ElemType>) -> Option<Self> {
        (!fields.is_empty()).then_some(Self { fields })
    }

    /// The fields in order (one for a primitive).
    #[must_use]
    pub fn fields(&self) -> &[ElemType] {
        &self.fields
    }

    /// The primitive, if this is one (a single field).
    #[must_use]
    pub fn as_scalar(&self) -> Option<ElemType> {
        match self.fields.as_slice() {
            [t] => Some(*t),
            _ => None,
        }
    }

    /// Byte offset of each field (C rules).
    #[must_use]
    pub fn offsets(&self) -> Vec<u64> {
        let mut at: u64 = 0;
        self.fields
            .iter()
            .map(|f| {
                let off = at.next_multiple_of(f.align());
                at = off + f.size();
                off
            })
            .collect()
    }

    /// Alignment: the largest field's.
    #[must_use]
    pub fn align(&self) -> u64 {
        self.fields.iter().map(|f| f.align()).max().unwrap_or(1)
    }

    /// Size in bytes, tail padding included.
    #[must_use]
    pub fn size(&self) -> u64 {
        let end = self
            .fields
            .iter()
            .zip(self.offsets())
            .map(|(f, off)| off + f.size())
            .max()
            .unwrap_or(0);
        end.next_multiple_of(self.align())
    }

    /// The value in the first `size()` bytes of `b` (a [`Value::Struct`] for a struct);
    /// `None` if `b` is shorter.
    pub(super) fn read(&self, b: &[u8]) -> Option<Value> {
        if let Some(t) = self.as_scalar() {
            return t.read(b);
        }
        if (b.len() as u64) < self.size() {
            return None;
        }
        let values = self
            .fields
            .iter()
            .zip(self.offsets())
            .map(|(f, off)| f.read(b.get(usize::try_from(off).ok()?..)?))
            .collect::<Option<Vec<Value>>>()?;
        Some(Value::Struct(values))
    }
}

impl From<ElemType> for Elem {
    fn from(t: ElemType) -> Self {
        Self::scalar(t)
    }
}

impl FromStr for Elem {
    type Err = ParseTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fields = s
            .split(',')
            .map(str::parse)
            .collect::<Result<Vec<ElemType>, _>>()?;
        Self::record(fields).ok_or_else(|| ParseTypeError("empty type".to_owned()))
    }
}

impl fmt::Display for Elem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, t) in self.fields.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(t.name())?;
        }
        Ok(())
    }
}

/// What to read a structure's elements as: one element type ([`Elem`]: a primitive such as
/// `"i32"`, or a C struct such as `"i32,f32,f64,u8"`), or a Map's key and value types,
/// `"KEY=VALUE"` (or `"KEY:VALUE"`), each side a primitive or a struct.
///
/// For compatibility with the older syntax, a Map given exactly two primitives `"K,V"`
/// whose sizes are the map's key and value sizes is read as a key and a value
/// ([`TypeSpec::as_pair`]); everywhere else a comma list is one struct.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::{Elem, ElemType, TypeSpec};
/// let t: TypeSpec = "u64=f64".parse()?;
/// assert_eq!((t.elem.as_scalar(), t.value.clone()), (Some(ElemType::U64), Some(Elem::scalar(ElemType::F64))));
/// assert_eq!(t.to_string(), "u64=f64");
/// assert_eq!("u32:i32,f32".parse::<TypeSpec>()?.to_string(), "u32=i32,f32");
/// let s: TypeSpec = "i32,f32,f64,u8".parse()?;
/// assert_eq!((s.elem.size(), s.value), (24, None));
/// # Ok::<(), zeroipc::inspect::ParseTypeError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TypeSpec {
    /// The element type (a Map's key type).
    pub elem: Elem,
    /// A Map's value type.
    pub value: Option<Elem>,
}

impl TypeSpec {
    /// One primitive element type.
    #[must_use]
    pub fn one(elem: ElemType) -> Self {
        Self {
            elem: Elem::scalar(elem),
            value: None,
        }
    }

    /// A Map's primitive key and value types.
    #[must_use]
    pub fn pair(key: ElemType, value: ElemType) -> Self {
        Self {
            elem: Elem::scalar(key),
            value: Some(Elem::scalar(value)),
        }
    }

    /// One element type, a primitive or a struct.
    #[must_use]
    pub fn of(elem: Elem) -> Self {
        Self { elem, value: None }
    }

    /// A Map's key and value types, each a primitive or a struct.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::{Elem, ElemType, TypeSpec};
    /// let key = Elem::record(vec![ElemType::U16, ElemType::U16]).unwrap();
    /// let t = TypeSpec::map(key, Elem::scalar(ElemType::F64));
    /// assert_eq!(t.to_string(), "u16,u16=f64");
    /// assert_eq!(TypeSpec::of(Elem::scalar(ElemType::I8)).to_string(), "i8");
    /// ```
    #[must_use]
    pub fn map(key: Elem, value: Elem) -> Self {
        Self {
            elem: key,
            value: Some(value),
        }
    }

    /// This spec as a Map's key and value for a map of `key_size`- and `value_size`-byte
    /// keys and values: `KEY=VALUE` as given, or the older `K,V` (exactly two primitives of
    /// those sizes).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::TypeSpec;
    /// let old: TypeSpec = "u32,f64".parse()?;
    /// assert_eq!(old.as_pair(4, 8), Some("u32=f64".parse()?));
    /// assert_eq!(old.as_pair(16, 8), None);
    /// # Ok::<(), zeroipc::inspect::ParseTypeError>(())
    /// ```
    #[must_use]
    pub fn as_pair(&self, key_size: u64, value_size: u64) -> Option<TypeSpec> {
        if self.value.is_some() {
            return Some(self.clone());
        }
        match self.elem.fields() {
            [k, v] if (k.size(), v.size()) == (key_size, value_size) => Some(Self::pair(*k, *v)),
            _ => None,
        }
    }
}

impl FromStr for TypeSpec {
    type Err = ParseTypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once(['=', ':']) {
            None => Ok(Self::of(s.parse()?)),
            Some((k, v)) => Ok(Self::map(k.parse()?, v.parse()?)),
        }
    }
}

impl fmt::Display for TypeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            None => write!(f, "{}", self.elem),
            Some(v) => write!(f, "{}={v}", self.elem),
        }
    }
}

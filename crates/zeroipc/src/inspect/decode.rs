//! Decoding a structure's contents from a byte snapshot, for tools.
//!
//! [`decode`] copies an entry's bytes once ([`ReadOnlySegment::read_bytes`]) and reads
//! everything from that copy: the header fields, the fill level of a container and, when an
//! element type is given ([`TypeSpec`]), the logical contents **in the order the structure
//! would hand them out**, without changing anything (no pop, no lock):
//!
//! | kind      | contents                                                                 |
//! |-----------|--------------------------------------------------------------------------|
//! | Array     | the values by index                                                      |
//! | Queue     | head to tail (pop order); a slot whose `seq` shows no published element is marked |
//! | Stack     | top first (pop order); slots not READY are marked with their state       |
//! | Ring      | `read_pos` to `write_pos`                                                |
//! | Pool      | the allocated nodes' values (nodes not on the free list), and the free list |
//! | Map / Set | the OCCUPIED slots' pairs / members in slot order (INSERTING ones marked) |
//! | Signal    | the value                                                                |
//!
//! Sync primitives need no type: counts, waiters, and the pid of a zeroipc holder (a Mutex's
//! padding word, the 4 bytes after a Once) with whether that process is alive. Composites
//! (Event, RWLock, Monitor, Signal) are decoded whole from any of their entries.
//!
//! The segment may be changing while it is copied, and its bytes may be hostile: impossible
//! values are reported in [`Decoded::problems`] (`corrupt: top 99 >= capacity 8`), never a
//! panic, and every walk (a pool's free list) is bounded.
#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use super::{Composite, FieldValue, Flavor, Kind};
use crate::error::TableError;
use crate::layout::array::{ARRAY_HEADER_LEN, C_ARRAY_HEADER_LEN};
use crate::layout::channel::CHANNEL_HEADER_LEN;
use crate::layout::event::{EVENT_LEN, SEM_SUFFIX};
use crate::layout::map::{
    DELETED, EMPTY as MAP_EMPTY, INSERTING, MAP_HEADER_LEN, OCCUPIED, SlotLayout, python_stride,
    slot_layout, table_bytes,
};
use crate::layout::once::{DONE, ONCE_LEN, ONCE_PID_OFFSET};
use crate::layout::pool::{NULL_INDEX, POOL_HEADER_LEN, node_layout, pool_size, unpack_head};
use crate::layout::queue::{QUEUE_HEADER_LEN, queue_seq_offset, queue_size};
use crate::layout::ring::{RING_HEADER_LEN, ring_size};
use crate::layout::semaphore::{MUTEX_MAX, SEMAPHORE_LEN};
use crate::layout::set::set_slot_layout;
use crate::layout::stack::{
    EMPTY, READING, READY, STACK_HEADER_LEN, WRITING, stack_size, stack_state_offset,
};
use crate::layout::stream::STREAM_HEADER_LEN;
use crate::raw::hash::{hash_bytes, int_hash};
use crate::segment::{Entry, ReadOnlySegment, Record};
use crate::sys::process::pid_alive;

/// At most this many bytes of an entry are copied; items past them are not decoded
/// ([`Decoded::truncated`]).
const SNAPSHOT_LIMIT: u64 = 64 << 20;

/// At most this many items are decoded ([`Decoded::truncated`] beyond).
const MAX_ITEMS: u64 = 1 << 20;

/// Maps with more slots than this are not probed to tell the C++ and Python layouts apart.
const PROBE_LIMIT: u64 = 1 << 16;

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

    fn is_integer(self) -> bool {
        !matches!(self, Self::F32 | Self::F64)
    }

    /// The value in the first `size()` bytes of `b`; `None` if `b` is shorter.
    fn read(self, b: &[u8]) -> Option<Value> {
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
    fn extended(self, b: &[u8]) -> Option<u64> {
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
    fields: Vec<ElemType>,
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
    fn read(&self, b: &[u8]) -> Option<Value> {
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

/// One decoded element.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::Value;
/// assert_eq!(Value::F64(1.0).to_string(), "1.0");
/// assert_eq!(Value::F32(0.1).to_string(), "0.1");
/// assert_eq!(Value::Signed(-3).to_string(), "-3");
/// assert_eq!(Value::Struct(vec![Value::Signed(1), Value::F32(0.5)]).to_string(), "{1, 0.5}");
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A signed integer (i8 to i64).
    Signed(i64),
    /// An unsigned integer (u8 to u64).
    Unsigned(u64),
    /// An f32, kept as such (its shortest decimal is not its f64 widening's).
    F32(f32),
    /// An f64.
    F64(f64),
    /// A C struct's fields, in order.
    Struct(Vec<Value>),
}

impl fmt::Display for Value {
    /// Integers in decimal; floats as the shortest decimal that reads back the same
    /// (`1.0`, `0.1`, `NaN`, `inf`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Signed(v) => write!(f, "{v}"),
            Self::Unsigned(v) => write!(f, "{v}"),
            Self::F32(v) => write!(f, "{v:?}"),
            Self::F64(v) => write!(f, "{v:?}"),
            Self::Struct(fields) => {
                f.write_str("{")?;
                for (i, v) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

/// What a slot's state word says about the element decoded from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotState {
    /// Published and complete.
    Ready,
    /// Queue: a pusher claimed the position but has not published it yet (`seq == pos`).
    Unpublished,
    /// Stack: a pusher is writing the slot.
    Writing,
    /// Stack: a popper (or a peek) is reading the slot.
    Reading,
    /// Stack: the slot is EMPTY although it is below `top` (a pop in progress).
    Empty,
    /// Map/Set: a writer owns the slot (inserting or updating).
    Inserting,
    /// The state word holds a value that cannot be there.
    Corrupt(u32),
}

impl SlotState {
    /// `"ready"`, `"unpublished"`, `"writing"`, `"reading"`, `"empty"`, `"inserting"` or
    /// `"corrupt"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ready => "ready",
            Self::Unpublished => "unpublished",
            Self::Writing => "writing",
            Self::Reading => "reading",
            Self::Empty => "empty",
            Self::Inserting => "inserting",
            Self::Corrupt(_) => "corrupt",
        }
    }
}

impl fmt::Display for SlotState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Corrupt(w) => write!(f, "corrupt state word {w}"),
            s => f.write_str(s.as_str()),
        }
    }
}

/// One element of a container, in logical order.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Item {
    /// Where it lives: array index, queue/stack/map slot, pool node, ring byte offset.
    pub slot: u64,
    /// A Map pair's key.
    pub key: Option<Value>,
    /// The element (a Map pair's value).
    pub value: Value,
    /// What the slot's state word says.
    pub state: SlotState,
}

/// How full a container is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// Elements held (a Pool: allocated nodes).
    pub len: u64,
    /// Elements it can hold.
    pub capacity: u64,
}

/// The logical contents of a structure.
#[derive(Clone, Debug, PartialEq, Default)]
#[non_exhaustive]
pub enum Contents {
    /// Nothing decoded (no type given, or the kind holds no values).
    #[default]
    None,
    /// Array, Queue, Stack, Ring, Pool: the values in logical order.
    Values(Vec<Item>),
    /// Map: the pairs (every item has a key).
    Pairs(Vec<Item>),
    /// Set: the members.
    Members(Vec<Item>),
    /// Signal: its value.
    Value(Value),
}

/// A structure decoded from a snapshot of its bytes by [`decode`].
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Queue};
/// use zeroipc::inspect::{Contents, Value, classify, decode};
/// # let name = format!("/zeroipc-doc-decode-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let q: Queue<u32> = Queue::create(&seg, "jobs", 4)?;
/// q.push(7)?;
/// q.push(8)?;
/// let ro = Segment::open_read_only(&name)?;
/// let e = ro.find("jobs")?;
/// let d = decode(&ro, &e, &classify(&ro, &e), Some("u32".parse()?));
/// let Contents::Values(items) = &d.contents else { panic!() };
/// let values: Vec<Value> = items.iter().map(|i| i.value.clone()).collect();
/// assert_eq!(values, [Value::Unsigned(7), Value::Unsigned(8)]);
/// assert_eq!((d.fill.unwrap().len, d.fill.unwrap().capacity), (2, 4));
/// assert_eq!(q.try_pop(), Ok(7)); // nothing was consumed
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Decoded {
    /// The kind it was decoded as.
    pub kind: Kind,
    /// `"queue"`, ..., or `"rwlock"` / `"monitor"` / `"signal"` for a composite decoded whole.
    pub name: &'static str,
    /// Header fields from the snapshot (composites: every part's, prefixed).
    pub fields: Vec<(&'static str, FieldValue)>,
    /// Fill level of a container.
    pub fill: Option<Fill>,
    /// Logical contents (with a type).
    pub contents: Contents,
    /// A Pool's free list as far as it was walked (node indices, head first).
    pub free_list: Option<Vec<u64>>,
    /// Impossible or inconsistent values found (`corrupt: ...`), and missing parts.
    pub problems: Vec<String>,
    /// Why the given type does not fit this structure (its contents are then not decoded).
    pub type_error: Option<String>,
    /// Not every item was decoded (more than a million, or past the first 64 MiB).
    pub truncated: bool,
    /// For an [`Kind::Ambiguous`] entry: each candidate decoded.
    pub candidates: Vec<Decoded>,
    /// Text read from the bytes: a Future's or Lazy's `error` message (state ERROR), a
    /// Stream's `transform` name. Raw text from a peer: escape it before printing.
    pub texts: Vec<(&'static str, String)>,
    /// A C++ Lazy's operands with a type (one for CONSTANT and NEGATE, two for ADD and
    /// MULTIPLY); the cached value, if computed, is in [`Decoded::contents`].
    pub operands: Vec<Value>,
    /// The type the contents were decoded as: the one given to [`decode`], or else the
    /// layout the segment's catalog records for this structure. `None` if nothing was
    /// decoded with a type (none known, or it did not fit: see `type_error` / `problems`).
    pub spec: Option<TypeSpec>,
    /// The catalog's record for this structure (or the composite it is part of), if the
    /// segment has a catalog that describes it.
    pub record: Option<Record>,
    /// For the catalog entry itself ([`Kind::Catalog`]): its valid records.
    pub records: Vec<Record>,
}

impl Decoded {
    fn new(kind: Kind) -> Self {
        Self {
            name: kind.name(),
            fields: kind.fields(),
            kind,
            fill: None,
            contents: Contents::None,
            free_list: None,
            problems: Vec::new(),
            type_error: None,
            truncated: false,
            candidates: Vec::new(),
            texts: Vec::new(),
            operands: Vec::new(),
            spec: None,
            record: None,
            records: Vec::new(),
        }
    }

    /// The text called `name` (`"error"`, `"transform"`), if any.
    #[must_use]
    pub fn text(&self, name: &str) -> Option<&str> {
        self.texts
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, t)| t.as_str())
    }

    /// The field called `name`, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use zeroipc::{Segment, SegmentOptions, sync::Mutex};
    /// use zeroipc::inspect::{FieldValue, classify, decode};
    /// # let name = format!("/zeroipc-doc-decoded-field-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
    /// let m = Mutex::create(&seg, "m")?;
    /// let _guard = m.lock();
    /// let e = seg.find("m")?;
    /// let d = decode(&seg, &e, &classify(&seg, &e), None);
    /// assert_eq!(d.field("holder_pid"), Some(&FieldValue::Unsigned(std::process::id().into())));
    /// assert_eq!(d.field("holder_alive"), Some(&FieldValue::Bool(true)));
    /// # drop(_guard);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn field(&self, name: &str) -> Option<&FieldValue> {
        self.fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The decoded items (values, pairs or members), empty if none.
    #[must_use]
    pub fn items(&self) -> &[Item] {
        match &self.contents {
            Contents::Values(v) | Contents::Pairs(v) | Contents::Members(v) => v,
            Contents::None | Contents::Value(_) => &[],
        }
    }

    fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    fn push(&mut self, name: &'static str, v: FieldValue) {
        self.fields.push((name, v));
    }
}

// ---------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------

/// The entry to show for `name`: the entry itself, or for a composite named by its base
/// name whose marker is missing, its `_state` or `_header` part.
///
/// # Errors
///
/// The [`TableError`] of looking `name` up, when no part exists either.
///
/// # Examples
///
/// ```
/// # use zeroipc::{Segment, SegmentOptions, sync::RwLock};
/// use zeroipc::inspect::find_structure;
/// # let name = format!("/zeroipc-doc-find-structure-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// RwLock::create(&seg, "rw")?;
/// assert_eq!(find_structure(&seg, "rw")?.name(), "rw");
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn find_structure(seg: &ReadOnlySegment, name: &str) -> Result<Entry, TableError> {
    match seg.find(name) {
        Ok(e) => Ok(e),
        Err(err) => ["_state", "_header"]
            .iter()
            .find_map(|suffix| seg.find(&format!("{name}{suffix}")).ok())
            .ok_or(err),
    }
}

/// Decodes `entry`, classified as `kind` (from [`classify`](super::classify), or
/// [`read_as`]), from one snapshot of its bytes; with `spec`, also its logical contents.
/// Never changes the segment (no pop, no lock).
///
/// | kind      | contents with a type                                                   |
/// |-----------|------------------------------------------------------------------------|
/// | Array     | the values by index                                                    |
/// | Queue     | head to tail (pop order); a slot whose `seq` shows no published element is [`SlotState::Unpublished`] |
/// | Stack     | top first (pop order); slots not READY carry their state               |
/// | Ring      | `read_pos` to `write_pos`                                              |
/// | Pool      | the allocated nodes (not on the free list, which is always walked, bounded) |
/// | Map / Set | OCCUPIED slots' pairs / members in slot order (INSERTING ones marked)  |
/// | Signal    | the value                                                              |
/// | Future    | the value when READY; without a type too: the `error` text when ERROR  |
/// | Lazy      | the cached value when computed and (C++) the operands; `compute_count` and the `error` text need no type |
/// | Stream    | from `x_header` (or `x`): the `transform` text, and its `x_buffer` ring's fill and values |
/// | Channel   | from `x_header` (or `x`): buffered, its `x_buffer` queue's fill and values; unbuffered, `slot_ready` / `slot_consumed` |
///
/// Sync primitives need no type: counts and waiters, and the pid of a zeroipc holder (a
/// Mutex's padding word, the 4 bytes after a Once) with whether that process is alive.
/// Composites (Event, RWLock, Monitor, Signal) are decoded whole from any of their entries,
/// their parts' fields prefixed (`wmtx_holder_pid`, `sem_count`). An ambiguous entry has
/// each candidate decoded in [`Decoded::candidates`].
///
/// `kind` gives the structure's geometry (capacity, element size, layout); every other field
/// is read again from the snapshot, so a structure that changed since it was classified is
/// shown as it is now, and impossible values are reported in [`Decoded::problems`].
#[must_use]
pub fn decode(
    seg: &ReadOnlySegment,
    entry: &Entry,
    kind: &Kind,
    spec: Option<TypeSpec>,
) -> Decoded {
    let catalog = seg.catalog();
    if let Kind::Catalog { .. } = kind {
        let mut d = Decoded::new(kind.clone());
        match catalog {
            Ok(Some(c)) => {
                d.records = c.records;
                d.problems = c.problems;
            }
            Ok(None) => d.problem("no catalog entry".to_owned()),
            Err(e) => d.problem(format!("corrupt: {e}")),
        }
        no_values(&mut d, spec.as_ref());
        return d;
    }
    let mut catalog_problems = Vec::new();
    let record = match catalog {
        // Skipped records (`c.problems`) are shown with the catalog entry itself.
        Ok(Some(c)) => c.describing(entry).or_else(|| c.containing(entry)).cloned(),
        Ok(None) => None,
        Err(e) => {
            catalog_problems.push(format!("catalog ignored: {e}"));
            None
        }
    };
    let given = spec.is_some();
    let spec = spec.or_else(|| {
        // Only where the structure holds values of that type (not a composite's lock or an
        // unbuffered channel's slot, whose record is the composite's).
        if !takes_values(kind) {
            return None;
        }
        let r = record.as_ref()?;
        if r.layout.is_empty() {
            return None;
        }
        match r.layout.parse::<TypeSpec>() {
            Ok(s) => Some(s),
            Err(e) => {
                catalog_problems.push(format!(
                    "the catalog's layout '{}' does not parse ({e}); ignored",
                    r.layout
                ));
                None
            }
        }
    });
    let snap = Snap::new(seg, entry);
    let ctx = Ctx {
        seg,
        entry,
        spec: spec.clone(),
    };
    let mut d = ctx.decode(&snap, kind);
    if !given && spec.is_some() && (d.type_error.is_some() || all_candidates_failed(&d)) {
        // The catalog's word does not fit the bytes: the bytes win.
        let why = d
            .type_error
            .take()
            .or_else(|| d.candidates.iter().find_map(|c| c.type_error.clone()))
            .unwrap_or_default();
        d = Ctx {
            seg,
            entry,
            spec: None,
        }
        .decode(&snap, kind);
        d.problem(format!(
            "the catalog's type {} does not fit the bytes ({why}); contents not decoded",
            spec.as_ref().map(ToString::to_string).unwrap_or_default()
        ));
    } else if d.type_error.is_none() && !all_candidates_failed(&d) {
        // A map read with the older `K,V` reports the pair it was read as.
        d.spec = match (&d.kind, spec) {
            (
                &Kind::Map {
                    key_size,
                    value_size,
                    ..
                },
                Some(s),
            ) => s.as_pair(key_size.into(), value_size.into()).or(Some(s)),
            (_, s) => s,
        };
    }
    if let Some(r) = &record {
        if let Some(why) = super::catalog_mismatch(&d.kind, r) {
            d.problem(why);
        }
    }
    d.problems.extend(catalog_problems);
    d.record = record;
    d
}

/// The element type the segment's catalog records for the structure at `entry` (or the
/// composite it is part of), if the segment has a valid catalog, a record for it, and a
/// layout in that record that parses. The catalog's word only: [`decode`] checks it against
/// the structure's header.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Map};
/// use zeroipc::inspect::catalog_type;
/// # let name = format!("/zeroipc-doc-catalog-type-{}", std::process::id());
/// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
/// Map::<u32, f64>::create(&seg, "prices", 8)?;
/// let e = seg.find("prices")?;
/// assert_eq!(catalog_type(&seg, &e), Some("u32=f64".parse()?));
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use]
pub fn catalog_type(seg: &ReadOnlySegment, entry: &Entry) -> Option<TypeSpec> {
    let c = seg.catalog().ok()??;
    let r = c.describing(entry).or_else(|| c.containing(entry))?;
    r.layout.parse().ok()
}

/// Whether a structure of `kind` has contents a type is read for.
fn takes_values(kind: &Kind) -> bool {
    match kind {
        Kind::Ambiguous(ks) => ks.iter().any(takes_values),
        Kind::Marker { of } => *of == Composite::Signal,
        Kind::ChannelHeader { capacity, .. } => *capacity > 0,
        Kind::Array { .. }
        | Kind::CArray { .. }
        | Kind::Queue { .. }
        | Kind::Stack { .. }
        | Kind::Ring { .. }
        | Kind::Pool { .. }
        | Kind::Map { .. }
        | Kind::Set { .. }
        | Kind::Future { .. }
        | Kind::Lazy { .. }
        | Kind::StreamHeader { .. }
        | Kind::SignalState { .. } => true,
        _ => false,
    }
}

/// Whether `d` is ambiguous and no candidate takes the type.
fn all_candidates_failed(d: &Decoded) -> bool {
    !d.candidates.is_empty() && d.candidates.iter().all(|c| c.type_error.is_some())
}

/// The kinds [`read_as`] can read an entry as.
pub const KIND_NAMES: [&str; 21] = [
    "array",
    "c_array",
    "queue",
    "stack",
    "ring",
    "pool",
    "map",
    "set",
    "semaphore",
    "mutex",
    "barrier",
    "latch",
    "once",
    "event",
    "rwlock",
    "monitor",
    "signal",
    "future",
    "lazy",
    "stream",
    "channel",
];

/// Why [`read_as`] cannot read an entry as the kind asked for.
///
/// # Examples
///
/// ```
/// let e = zeroipc::inspect::KindError::from("no".to_owned());
/// assert_eq!(e.to_string(), "no");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KindError(String);

impl From<String> for KindError {
    fn from(s: String) -> Self {
        Self(s)
    }
}

impl fmt::Display for KindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KindError {}

/// `entry` read as the kind called `name` (one of [`KIND_NAMES`]) from its raw header,
/// **without** the consistency checks of [`classify`](super::classify): for an entry that is
/// ambiguous, or whose header holds impossible values that [`decode`] then reports.
///
/// Only the geometry must fit: the entry size must be what the size formula of FORMAT.md
/// Appendix A gives for the stored capacity and element size. For `future` and `lazy` the
/// entry size bounds the value size (C++ and Python layouts); `stream` and `channel` read a
/// C++ `x_header` entry (56 and 32 bytes).
///
/// # Errors
///
/// An unknown kind name, or an entry whose size does not fit that kind's geometry.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, sync::Semaphore};
/// use zeroipc::inspect::{Kind, read_as};
/// # let name = format!("/zeroipc-doc-read-as-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// Semaphore::create(&seg, "slots", 3, 5)?;
/// let e = seg.find("slots")?;
/// assert_eq!(read_as(&seg, &e, "semaphore")?, Kind::Semaphore { count: 3, waiting: 0, max_count: 5 });
/// assert!(read_as(&seg, &e, "queue").is_err());
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_as(seg: &ReadOnlySegment, entry: &Entry, name: &str) -> Result<Kind, KindError> {
    let snap = Snap::new(seg, entry);
    let size = entry.size();
    let w = |at: u64| snap.u32(at).unwrap_or(0);
    let sw = |at: u64| snap.i32(at).unwrap_or(0);
    let misfit = |what: String| -> KindError {
        KindError(format!(
            "entry '{}' ({size} bytes) is not a {name}: {what}",
            entry.name()
        ))
    };
    let sized = |n: u64| {
        if size == n {
            Ok(())
        } else {
            Err(misfit(format!("a {name} is {n} bytes")))
        }
    };
    let fits = |expected: Option<u64>, geometry: String| {
        if expected == Some(size) {
            Ok(())
        } else {
            Err(misfit(format!(
                "its header says {geometry}, which needs {} bytes",
                expected.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string())
            )))
        }
    };
    let kind = match name {
        "array" | "c_array" => {
            let capacity = snap.u64(0).unwrap_or(0);
            let header = if name == "array" {
                ARRAY_HEADER_LEN
            } else {
                C_ARRAY_HEADER_LEN
            };
            let data = size.saturating_sub(header);
            let elem_size = if name == "array" {
                data.checked_div(capacity).unwrap_or(0)
            } else {
                snap.u64(8).unwrap_or(0)
            };
            let needed = capacity
                .checked_mul(elem_size)
                .and_then(|d| d.checked_add(header));
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            if name == "array" {
                Kind::Array {
                    capacity,
                    elem_size,
                }
            } else {
                Kind::CArray {
                    capacity,
                    elem_size,
                }
            }
        }
        "queue" => {
            let (capacity, elem_size) = (w(8), w(12));
            let needed = queue_size(capacity.into(), elem_size.into());
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            Kind::Queue {
                capacity,
                elem_size,
                head: w(0),
                tail: w(4),
            }
        }
        "stack" => {
            let (capacity, elem_size) = (w(4), w(8));
            let needed = stack_size(capacity.into(), elem_size.into());
            fits(
                needed.filter(|_| capacity > 0),
                format!("capacity {capacity} x {elem_size} bytes"),
            )?;
            Kind::Stack {
                capacity,
                elem_size,
                top: sw(0),
            }
        }
        "ring" => {
            let (capacity, elem_size) = (w(16), w(20));
            fits(
                Some(ring_size(capacity)).filter(|_| elem_size > 0),
                format!("{capacity} bytes of {elem_size}-byte elements"),
            )?;
            Kind::Ring {
                capacity,
                elem_size,
                write_pos: snap.u64(0).unwrap_or(0),
                read_pos: snap.u64(8).unwrap_or(0),
            }
        }
        "pool" => {
            let (capacity, elem_size) = (w(16), w(20));
            let node_size = [1u64, 2, 4, 8].into_iter().find_map(|a| {
                let (_, node) = node_layout(elem_size.into(), a)?;
                (pool_size(capacity.into(), node) == Some(size)).then_some(node)
            });
            let Some(node_size) = node_size.filter(|_| capacity > 0) else {
                return Err(misfit(format!(
                    "its header says capacity {capacity} x {elem_size} bytes, and no node size fits"
                )));
            };
            Kind::Pool {
                capacity,
                elem_size,
                allocated: w(8),
                node_size,
                free_head: snap.u64(0).unwrap_or(0),
            }
        }
        "map" | "set" => {
            let (len, capacity, ks, vs) = (w(0), w(4), w(8), w(12));
            let entry_size = size
                .checked_sub(MAP_HEADER_LEN)
                .and_then(|d| d.checked_div(capacity.into()))
                .filter(|&e| {
                    capacity > 0
                        && e >= 4 + u64::from(ks)
                        && table_bytes(capacity.into(), e) == Some(size)
                });
            let Some(entry_size) = entry_size else {
                return Err(misfit(format!(
                    "its header says capacity {capacity}, which does not divide the slots"
                )));
            };
            let python = python_stride(ks.into(), vs.into()) == Some(entry_size);
            let flavor = if python { Flavor::Python } else { Flavor::Cpp };
            if name == "map" {
                Kind::Map {
                    flavor,
                    capacity,
                    key_size: ks,
                    value_size: vs,
                    len,
                    entry_size,
                }
            } else {
                Kind::Set {
                    flavor: if vs == 0 { Flavor::Cpp } else { flavor },
                    capacity,
                    elem_size: ks,
                    len,
                    entry_size,
                }
            }
        }
        "semaphore" | "mutex" | "barrier" | "latch" => {
            sized(SEMAPHORE_LEN)?;
            match name {
                "semaphore" => Kind::Semaphore {
                    count: sw(0),
                    waiting: sw(4),
                    max_count: sw(8),
                },
                "mutex" => Kind::Mutex {
                    count: sw(0),
                    waiting: sw(4),
                },
                "barrier" => Kind::Barrier {
                    arrived: sw(0),
                    generation: sw(4),
                    participants: sw(8),
                },
                _ => Kind::Latch {
                    count: sw(0),
                    initial_count: sw(4),
                },
            }
        }
        "once" => {
            sized(ONCE_LEN)?;
            Kind::Once { state: w(0) }
        }
        "event" => {
            sized(EVENT_LEN)?;
            Kind::Event {
                signaled: w(0),
                mode: w(4),
                waiting: w(8),
            }
        }
        "future" => {
            // C++: sizeof(Header) = align8(16 + sizeof(T) + 256); Python: 16 + es + 256.
            if size <= 272 {
                return Err(misfit("a future is more than 272 bytes".to_owned()));
            }
            Kind::Future {
                state: w(0),
                waiters: w(4),
                completion_time: snap.u64(8).unwrap_or(0),
                value_size_min: size.saturating_sub(279).max(1),
                value_size_max: size - 272,
            }
        }
        "lazy" => {
            // C++: 280 bytes (T of 1-4 bytes, op at 4) or 304 (8-byte T, op at 8);
            // Python: 260 + sizeof(T), no op stored.
            if size <= 260 {
                return Err(misfit("a lazy is more than 260 bytes".to_owned()));
            }
            let (flavor, op, value_size_max) = match size {
                280 => (Flavor::CppOrPython, Some(w(4)), 20),
                304 => (Flavor::CppOrPython, Some(w(8)), 44),
                _ => (Flavor::Python, None, size - 260),
            };
            Kind::Lazy {
                flavor,
                state: w(0),
                op,
                value_size_max,
            }
        }
        "stream" => {
            sized(STREAM_HEADER_LEN)?;
            Kind::StreamHeader {
                sequence: snap.u64(0).unwrap_or(0),
                subscribers: w(8),
                closed: snap.get(12, 1).map_or(0, |b| b[0]),
                buffer_capacity: w(16),
            }
        }
        "channel" => {
            sized(CHANNEL_HEADER_LEN)?;
            Kind::ChannelHeader {
                capacity: w(0),
                senders: w(4),
                receivers: w(8),
                closed: snap.get(12, 1).map_or(0, |b| b[0]),
            }
        }
        "rwlock" => Kind::Marker {
            of: Composite::RwLock,
        },
        "monitor" => Kind::Marker {
            of: Composite::Monitor,
        },
        "signal" => Kind::Marker {
            of: Composite::Signal,
        },
        other => {
            return Err(KindError(format!(
                "unknown kind '{other}' (expected one of {})",
                KIND_NAMES.join(", ")
            )));
        }
    };
    Ok(kind)
}

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

/// A copy of (the first [`SNAPSHOT_LIMIT`] bytes of) an entry.
struct Snap {
    bytes: Vec<u8>,
    /// The entry's size (the copy may be shorter).
    size: u64,
}

impl Snap {
    fn new(seg: &ReadOnlySegment, entry: &Entry) -> Self {
        let len = entry.size().min(SNAPSHOT_LIMIT);
        let bytes = seg.read_bytes(entry.offset(), len).unwrap_or_default();
        Self {
            bytes,
            size: entry.size(),
        }
    }

    fn get(&self, at: u64, len: u64) -> Option<&[u8]> {
        let at = usize::try_from(at).ok()?;
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        self.bytes.get(at..end)
    }

    fn u32(&self, at: u64) -> Option<u32> {
        Some(u32::from_le_bytes(self.get(at, 4)?.try_into().ok()?))
    }

    fn i32(&self, at: u64) -> Option<i32> {
        Some(i32::from_le_bytes(self.get(at, 4)?.try_into().ok()?))
    }

    fn u64(&self, at: u64) -> Option<u64> {
        Some(u64::from_le_bytes(self.get(at, 8)?.try_into().ok()?))
    }

    fn read(&self, t: &Elem, at: u64) -> Option<Value> {
        t.read(self.get(at, t.size())?)
    }
}

struct Ctx<'a> {
    seg: &'a ReadOnlySegment,
    entry: &'a Entry,
    spec: Option<TypeSpec>,
}

/// Field names of a Mutex inside a composite, by prefix.
struct MutexNames {
    suffix: &'static str,
    locked: &'static str,
    count: &'static str,
    waiting: &'static str,
    pid: &'static str,
    alive: &'static str,
}

const RMTX: MutexNames = MutexNames {
    suffix: "_rmtx",
    locked: "rmtx_locked",
    count: "rmtx_count",
    waiting: "rmtx_waiting",
    pid: "rmtx_holder_pid",
    alive: "rmtx_holder_alive",
};
const WMTX: MutexNames = MutexNames {
    suffix: "_wmtx",
    locked: "wmtx_locked",
    count: "wmtx_count",
    waiting: "wmtx_waiting",
    pid: "wmtx_holder_pid",
    alive: "wmtx_holder_alive",
};
const MTX: MutexNames = MutexNames {
    suffix: "_mtx",
    locked: "mtx_locked",
    count: "mtx_count",
    waiting: "mtx_waiting",
    pid: "mtx_holder_pid",
    alive: "mtx_holder_alive",
};

/// Field names of a Semaphore inside a composite: (suffix, count, waiting, max_count).
type SemNames = (&'static str, &'static str, &'static str, &'static str);
const SEM: SemNames = (SEM_SUFFIX, "sem_count", "sem_waiting", "sem_max_count");
const COND: SemNames = ("_cond", "cond_count", "cond_waiting", "cond_max_count");

fn no_values(d: &mut Decoded, spec: Option<&TypeSpec>) {
    if let Some(s) = spec {
        d.type_error = Some(format!("a {} holds no values to read as {s}", d.name));
    }
}

impl Ctx<'_> {
    fn decode(&self, snap: &Snap, kind: &Kind) -> Decoded {
        match kind {
            Kind::Ambiguous(ks) => {
                let mut d = Decoded::new(kind.clone());
                d.candidates = ks.iter().map(|k| self.decode(snap, k)).collect();
                d
            }
            &Kind::Array {
                capacity,
                elem_size,
            } => self.array(snap, kind, ARRAY_HEADER_LEN, capacity, elem_size),
            &Kind::CArray {
                capacity,
                elem_size,
            } => self.array(snap, kind, C_ARRAY_HEADER_LEN, capacity, elem_size),
            &Kind::Queue {
                capacity,
                elem_size,
                ..
            } => self.queue(snap, capacity, elem_size),
            &Kind::Stack {
                capacity,
                elem_size,
                ..
            } => self.stack(snap, capacity, elem_size),
            &Kind::Ring {
                capacity,
                elem_size,
                ..
            } => self.ring(snap, capacity, elem_size),
            &Kind::Pool {
                capacity,
                elem_size,
                node_size,
                ..
            } => self.pool(snap, capacity, elem_size, node_size),
            &Kind::Map {
                flavor,
                capacity,
                key_size,
                value_size,
                entry_size,
                ..
            } => self.map(snap, flavor, capacity, key_size, value_size, entry_size),
            &Kind::Set {
                flavor,
                capacity,
                elem_size,
                entry_size,
                ..
            } => self.set(snap, flavor, capacity, elem_size, entry_size),
            Kind::Semaphore { .. } => {
                let mut d = Decoded::new(kind.clone());
                d.fields.clear();
                self.semaphore(&mut d, snap);
                no_values(&mut d, self.spec.as_ref());
                d
            }
            Kind::Mutex { .. } => {
                let mut d = Decoded::new(kind.clone());
                d.fields.clear();
                self.mutex(&mut d, snap);
                no_values(&mut d, self.spec.as_ref());
                d
            }
            Kind::Barrier { .. } => {
                let (arrived, generation, participants) = (
                    snap.i32(0).unwrap_or(0),
                    snap.i32(4).unwrap_or(0),
                    snap.i32(8).unwrap_or(0),
                );
                let mut d = Decoded::new(Kind::Barrier {
                    arrived,
                    generation,
                    participants,
                });
                if participants <= 0 || arrived < 0 || arrived >= participants {
                    d.problem(format!(
                        "corrupt: arrived {arrived} outside 0..num_participants {participants}"
                    ));
                }
                no_values(&mut d, self.spec.as_ref());
                d
            }
            Kind::Latch { .. } => {
                let (count, initial_count) = (snap.i32(0).unwrap_or(0), snap.i32(4).unwrap_or(0));
                let mut d = Decoded::new(Kind::Latch {
                    count,
                    initial_count,
                });
                if count < 0 || count > initial_count {
                    d.problem(format!(
                        "corrupt: count {count} outside 0..=initial_count {initial_count}"
                    ));
                }
                no_values(&mut d, self.spec.as_ref());
                d
            }
            Kind::Once { .. } => self.once(snap),
            Kind::Event { .. } => self.event(snap),
            &Kind::Future {
                state,
                value_size_min,
                value_size_max,
                ..
            } => self.future(snap, kind, state, value_size_min, value_size_max),
            &Kind::Lazy {
                flavor, state, op, ..
            } => self.lazy(snap, kind, flavor, state, op),
            Kind::StreamHeader { .. } => self.stream(snap, kind),
            Kind::ChannelHeader { capacity, .. } => self.channel(kind, *capacity),
            Kind::RwLockState { .. } => self.rwlock(self.base("_state")),
            Kind::MonitorCount { .. } => self.monitor(self.base("_count")),
            Kind::SignalState { .. } => self.signal(self.base("_state")),
            Kind::Marker { of } => {
                let base = self.entry.name().to_string();
                match of {
                    Composite::RwLock => self.rwlock(base),
                    Composite::Monitor => self.monitor(base),
                    _ => self.signal(base),
                }
            }
            other => {
                let mut d = Decoded::new(other.clone());
                if let Some(s) = &self.spec {
                    d.type_error = Some(format!(
                        "reading the contents of a {} as {s} is not supported",
                        d.name
                    ));
                }
                d
            }
        }
    }

    /// The one value type `--as` gives, checked against `[min, max]` bytes (else the
    /// type error is set).
    fn one_value(&self, d: &mut Decoded, min: u64, max: u64) -> Option<Elem> {
        let spec = self.spec.as_ref()?;
        if spec.value.is_some() {
            d.type_error = Some(format!("--as {spec}: a {} holds one value", d.name));
            return None;
        }
        let size = spec.elem.size();
        if size < min || size > max {
            let range = if min == max {
                format!("{min}")
            } else {
                format!("{min} to {max}")
            };
            d.type_error = Some(format!(
                "the {}'s value is {range} bytes, {} is {size}",
                d.name, spec.elem
            ));
            return None;
        }
        Some(spec.elem.clone())
    }

    /// Future (§6.1): with a type, the value when READY; the error text when ERROR (at
    /// `16 + sizeof(T)`; without a type, from the first non-zero byte after the shortest
    /// value: C++ and Python never write the value of a failed future, so it stays zero).
    fn future(&self, snap: &Snap, kind: &Kind, state: u32, min: u64, max: u64) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        let t = self.one_value(&mut d, min, max);
        if state == 2 {
            if let Some(t) = &t {
                match snap.read(t, 16) {
                    Some(v) => d.contents = Contents::Value(v),
                    None => d.truncated = true,
                }
            }
        }
        if state == 3 {
            let at = t.map_or_else(
                || {
                    // Bounded: a hostile size range must not make this scan long.
                    (16 + min..16 + max)
                        .take(64)
                        .find(|&i| snap.get(i, 1).is_some_and(|b| b[0] != 0))
                        .unwrap_or(16 + max)
                },
                |t| 16 + t.size(),
            );
            d.texts.push(("error", c_text(snap, at, 256)));
        }
        d
    }

    /// Lazy (§6.2): C++ `compute_count` and error text; with a type, the operands and the
    /// cached value when computed. Python: the value (at 4) when computed, the error text.
    fn lazy(
        &self,
        snap: &Snap,
        kind: &Kind,
        flavor: Flavor,
        state: u32,
        op: Option<u32>,
    ) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        if flavor == Flavor::Python {
            let es = snap.size.saturating_sub(260);
            let t = self.one_value(&mut d, es, es);
            if let (2, Some(t)) = (state, t) {
                match snap.read(&t, 4) {
                    Some(v) => d.contents = Contents::Value(v),
                    None => d.truncated = true,
                }
            }
            if state == 3 {
                d.texts.push(("error", c_text(snap, 4 + es, 256)));
            }
            return d;
        }
        // C++: 280 bytes for a 1- to 4-byte T, 304 for an 8-byte T.
        let wide = snap.size >= 304;
        let count_at = if wide { 296 } else { 276 };
        d.push(
            "compute_count",
            FieldValue::Unsigned(snap.u32(count_at).unwrap_or(0).into()),
        );
        let (min, max) = if wide { (8, 8) } else { (1, 4) };
        let t = self.one_value(&mut d, min, max);
        // Offsets of §6.2 for a T of `size` bytes aligned to its size.
        let geometry = |size: u64| {
            let a = size.max(4);
            let data = 2 * a;
            let union = (2 * size).max(8).next_multiple_of(a);
            let cached = (data + union).next_multiple_of(size);
            (data, cached, cached + size)
        };
        if let Some(t) = &t {
            let (data, cached, _) = geometry(t.size());
            let n = match op {
                Some(0 | 3) => 1,
                Some(1 | 2) => 2,
                _ => 0,
            };
            for i in 0..n {
                match snap.read(t, data + i * t.size()) {
                    Some(v) => d.operands.push(v),
                    None => d.truncated = true,
                }
            }
            if state == 2 {
                match snap.read(t, cached) {
                    Some(v) => d.contents = Contents::Value(v),
                    None => d.truncated = true,
                }
            }
        }
        if state == 3 {
            let at = match t {
                Some(t) => geometry(t.size()).2,
                None if wide => 40,
                // cached at 16, error after a 1- to 4-byte value that ERROR leaves zero.
                None => (17..20)
                    .find(|&i| snap.get(i, 1).is_some_and(|b| b[0] != 0))
                    .unwrap_or(20),
            };
            d.texts.push(("error", c_text(snap, at, 256)));
        }
        d
    }

    /// A sibling entry `base + suffix` classified and decoded with this context's type:
    /// its fill, contents and problems (prefixed with its name).
    fn sibling(&self, d: &mut Decoded, base: &str, suffix: &str) {
        let name = format!("{base}{suffix}");
        let Ok(e) = self.seg.find(&name) else {
            d.problem(format!("entry '{name}' is missing"));
            return;
        };
        let kind = super::classify(self.seg, &e);
        let ctx = Ctx {
            seg: self.seg,
            entry: &e,
            spec: self.spec.clone(),
        };
        let part = ctx.decode(&Snap::new(self.seg, &e), &kind);
        if !part.candidates.is_empty() || part.fill.is_none() && part.fields.is_empty() {
            d.problem(format!(
                "entry '{name}' is not a structure this reads ({kind})"
            ));
            return;
        }
        d.fill = part.fill;
        d.contents = part.contents;
        d.truncated |= part.truncated;
        if d.type_error.is_none() {
            d.type_error = part.type_error;
        }
        d.problems
            .extend(part.problems.into_iter().map(|p| format!("{name}: {p}")));
        for (f, v) in part.fields {
            if matches!(f, "ready" | "consumed") {
                d.push(
                    if f == "ready" {
                        "slot_ready"
                    } else {
                        "slot_consumed"
                    },
                    v,
                );
            }
        }
    }

    /// Stream header (§6.3): its transform name and the fill of its `_buffer` ring.
    fn stream(&self, snap: &Snap, kind: &Kind) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        d.name = "stream";
        d.texts.push(("transform", c_text(snap, 20, 32)));
        let base = self.base("_header");
        self.sibling(&mut d, &base, "_buffer");
        d
    }

    /// Channel header (§6.4): buffered, the fill of its `_buffer` queue; unbuffered, its
    /// slot's `ready` / `consumed` flags.
    fn channel(&self, kind: &Kind, capacity: u32) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        d.name = "channel";
        d.push("buffered", FieldValue::Bool(capacity > 0));
        let base = self.base("_header");
        if capacity > 0 {
            self.sibling(&mut d, &base, "_buffer");
        } else {
            self.sibling(&mut d, &base, "_slot");
            // The slot's data is not decoded: a type given is not an error here.
            d.contents = Contents::None;
            d.type_error = None;
        }
        d
    }

    /// The entry's name without `suffix` (a composite's base name).
    fn base(&self, suffix: &str) -> String {
        let name = self.entry.name().to_string();
        name.strip_suffix(suffix).unwrap_or(&name).to_owned()
    }

    /// A sibling entry's snapshot, or a problem naming it.
    fn part(&self, d: &mut Decoded, base: &str, suffix: &str, size: u64) -> Option<Snap> {
        let name = format!("{base}{suffix}");
        match self.seg.find(&name) {
            Ok(e) if e.size() == size || size == 0 => Some(Snap::new(self.seg, &e)),
            Ok(e) => {
                d.problem(format!(
                    "entry '{name}' is {} bytes, expected {size}",
                    e.size()
                ));
                None
            }
            Err(_) => {
                d.problem(format!("entry '{name}' is missing"));
                None
            }
        }
    }

    /// The element type to read a container of `elem_size`-byte elements as, if one was
    /// given and fits (otherwise sets the type error).
    fn elem(&self, d: &mut Decoded, elem_size: u64) -> Option<Elem> {
        let spec = self.spec.as_ref()?;
        if spec.value.is_some() {
            d.type_error = Some(format!(
                "--as {spec}: a KEY=VALUE pair is for maps; a {} holds one type (try {})",
                d.name, spec.elem
            ));
            return None;
        }
        if spec.elem.size() != elem_size {
            d.type_error = Some(format!(
                "the {}'s elements are {elem_size} bytes, {} is {}",
                d.name,
                spec.elem,
                spec.elem.size()
            ));
            return None;
        }
        Some(spec.elem.clone())
    }

    // --- containers --------------------------------------------------------------------

    fn array(&self, snap: &Snap, kind: &Kind, header: u64, capacity: u64, es: u64) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        let stored = snap.u64(0).unwrap_or(0);
        if stored != capacity {
            d.problem(format!(
                "corrupt: capacity changed to {stored} (classified as {capacity})"
            ));
        }
        d.fill = Some(Fill {
            len: capacity,
            capacity,
        });
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let mut items = Vec::new();
        for i in 0..capacity {
            let Some(v) = (i < MAX_ITEMS)
                .then(|| snap.read(&t, at(header, i, es)))
                .flatten()
            else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key: None,
                value: v,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    fn queue(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let (head, tail) = (snap.u32(0).unwrap_or(0), snap.u32(4).unwrap_or(0));
        let mut d = Decoded::new(Kind::Queue {
            capacity,
            elem_size,
            head,
            tail,
        });
        let len = tail.wrapping_sub(head);
        if len > capacity {
            d.problem(format!(
                "corrupt: tail - head = {len} > capacity {capacity}"
            ));
        }
        let shown = len.min(capacity);
        d.fill = Some(Fill {
            len: shown.into(),
            capacity: capacity.into(),
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let Some(seq_at) = queue_seq_offset(cap, es) else {
            return d;
        };
        let mut items = Vec::new();
        for j in 0..shown {
            let p = head.wrapping_add(j);
            let slot = u64::from(p % capacity.max(1));
            let value = (u64::from(j) < MAX_ITEMS)
                .then(|| snap.read(&t, at(QUEUE_HEADER_LEN, slot, es)))
                .flatten();
            let (Some(value), Some(seq)) = (value, snap.u32(at(seq_at, slot, 4))) else {
                d.truncated = true;
                break;
            };
            let state = if seq == p.wrapping_add(1) {
                SlotState::Ready
            } else if seq == p {
                SlotState::Unpublished
            } else {
                SlotState::Corrupt(seq)
            };
            items.push(Item {
                slot,
                key: None,
                value,
                state,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    fn stack(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let top = snap.i32(0).unwrap_or(-1);
        let mut d = Decoded::new(Kind::Stack {
            capacity,
            elem_size,
            top,
        });
        if top < -1 {
            d.problem(format!("corrupt: top {top} < -1"));
        } else if i64::from(top) >= i64::from(capacity) {
            d.problem(format!("corrupt: top {top} >= capacity {capacity}"));
        }
        // Slots 0..=top, clamped into the slots that exist.
        let len = u64::try_from(i64::from(top) + 1)
            .unwrap_or(0)
            .min(capacity.into());
        d.fill = Some(Fill {
            len,
            capacity: capacity.into(),
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let Some(states_at) = stack_state_offset(cap, es) else {
            return d;
        };
        let mut items = Vec::new();
        for (n, slot) in (0..len).rev().enumerate() {
            let value = (u64::try_from(n).unwrap_or(u64::MAX) < MAX_ITEMS)
                .then(|| snap.read(&t, at(STACK_HEADER_LEN, slot, es)))
                .flatten();
            let (Some(value), Some(state)) = (value, snap.u32(at(states_at, slot, 4))) else {
                d.truncated = true;
                break;
            };
            let state = match state {
                READY => SlotState::Ready,
                WRITING => SlotState::Writing,
                READING => SlotState::Reading,
                EMPTY => SlotState::Empty,
                other => SlotState::Corrupt(other),
            };
            items.push(Item {
                slot,
                key: None,
                value,
                state,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    fn ring(&self, snap: &Snap, capacity: u32, elem_size: u32) -> Decoded {
        let (write_pos, read_pos) = (snap.u64(0).unwrap_or(0), snap.u64(8).unwrap_or(0));
        let mut d = Decoded::new(Kind::Ring {
            capacity,
            elem_size,
            write_pos,
            read_pos,
        });
        let (cap, es) = (u64::from(capacity), u64::from(elem_size).max(1));
        let bytes = if read_pos > write_pos {
            d.problem(format!(
                "corrupt: read_pos {read_pos} > write_pos {write_pos}"
            ));
            0
        } else if write_pos - read_pos > cap {
            d.problem(format!(
                "corrupt: write_pos - read_pos = {} > capacity {cap} bytes",
                write_pos - read_pos
            ));
            cap
        } else {
            write_pos - read_pos
        };
        if bytes % es != 0 || read_pos % es != 0 {
            d.problem(format!(
                "corrupt: positions not multiples of elem_size {es}"
            ));
        }
        let len = bytes / es;
        d.fill = Some(Fill {
            len,
            capacity: cap / es,
        });
        let Some(t) = self.elem(&mut d, es) else {
            return d;
        };
        let mut items = Vec::new();
        let mut buf = Vec::with_capacity(usize::try_from(es).unwrap_or(8));
        for k in 0..len {
            if k >= MAX_ITEMS || cap == 0 {
                d.truncated = true;
                break;
            }
            let pos = read_pos.wrapping_add(k * es);
            buf.clear();
            for b in 0..es {
                match snap.get(RING_HEADER_LEN + pos.wrapping_add(b) % cap, 1) {
                    Some(x) => buf.extend_from_slice(x),
                    None => break,
                }
            }
            let Some(value) = t.read(&buf) else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: pos % cap,
                key: None,
                value,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    fn pool(&self, snap: &Snap, capacity: u32, elem_size: u32, node_size: u64) -> Decoded {
        let (free_head, allocated) = (snap.u64(0).unwrap_or(0), snap.u32(8).unwrap_or(0));
        let mut d = Decoded::new(Kind::Pool {
            capacity,
            elem_size,
            allocated,
            node_size,
            free_head,
        });
        let cap = u64::from(capacity);
        if allocated > capacity {
            d.problem(format!(
                "corrupt: allocated {allocated} > capacity {capacity}"
            ));
        }
        d.fill = Some(Fill {
            len: u64::from(allocated.min(capacity)),
            capacity: cap,
        });
        // Walk the free list, bounded by the capacity: every index in range, no cycle.
        let next_off = node_layout(elem_size.into(), 1).map_or(0, |(off, _)| off);
        let (_, mut idx) = unpack_head(free_head);
        let mut list = Vec::new();
        let mut seen = HashSet::new();
        let complete = loop {
            if idx == NULL_INDEX {
                break true;
            }
            if idx >= capacity {
                d.problem(format!(
                    "corrupt: free list reaches index {idx} >= capacity {capacity} after {} nodes",
                    list.len()
                ));
                break false;
            }
            if !seen.insert(idx) {
                d.problem(format!(
                    "corrupt: free list cycles back to node {idx} after {} nodes",
                    list.len()
                ));
                break false;
            }
            list.push(u64::from(idx));
            if list.len() as u64 >= MAX_ITEMS {
                d.truncated = true;
                break false;
            }
            match snap.u32(at(POOL_HEADER_LEN, idx.into(), node_size).saturating_add(next_off)) {
                Some(next) => idx = next,
                None => {
                    d.truncated = true;
                    break false;
                }
            }
        };
        let free = list.len() as u64;
        d.push("free_list_len", FieldValue::Unsigned(free));
        if complete && free + u64::from(allocated) != cap {
            d.problem(format!(
                "inconsistent: {free} free + {allocated} allocated != capacity {capacity}"
            ));
        }
        d.free_list = Some(list);
        let Some(t) = self.elem(&mut d, elem_size.into()) else {
            return d;
        };
        if !complete {
            d.problem("allocated nodes not listed: the free list could not be walked".into());
            return d;
        }
        let mut items = Vec::new();
        for i in 0..cap.min(MAX_ITEMS) {
            if u32::try_from(i).is_ok_and(|i| seen.contains(&i)) {
                continue;
            }
            let Some(value) = snap.read(&t, at(POOL_HEADER_LEN, i, node_size)) else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key: None,
                value,
                state: SlotState::Ready,
            });
        }
        d.contents = Contents::Values(items);
        d
    }

    /// Counts slot states of a Map or Set (and reports impossible ones).
    fn slot_census(d: &mut Decoded, snap: &Snap, capacity: u32, stride: u64) {
        let (mut occupied, mut deleted, mut inserting, mut bad) = (0u64, 0u64, 0u64, 0u64);
        if u64::from(capacity) > MAX_ITEMS {
            d.truncated = true;
        }
        for i in 0..u64::from(capacity).min(MAX_ITEMS) {
            match snap.u32(at(MAP_HEADER_LEN, i, stride)) {
                Some(OCCUPIED) => occupied += 1,
                Some(DELETED) => deleted += 1,
                Some(INSERTING) => inserting += 1,
                Some(MAP_EMPTY) => {}
                Some(other) => {
                    if bad == 0 {
                        d.problem(format!("corrupt: slot {i} has state {other}"));
                    }
                    bad += 1;
                }
                None => {
                    d.truncated = true;
                    break;
                }
            }
        }
        d.push("occupied", FieldValue::Unsigned(occupied));
        d.push("deleted", FieldValue::Unsigned(deleted));
        d.push("inserting", FieldValue::Unsigned(inserting));
        if bad > 1 {
            d.problem(format!("corrupt: {bad} slots have impossible states"));
        }
    }

    fn map(
        &self,
        snap: &Snap,
        flavor: Flavor,
        capacity: u32,
        key_size: u32,
        value_size: u32,
        entry_size: u64,
    ) -> Decoded {
        let len = snap.u32(0).unwrap_or(0);
        let mut d = Decoded::new(Kind::Map {
            flavor,
            capacity,
            key_size,
            value_size,
            len,
            entry_size,
        });
        if len > capacity {
            d.problem(format!("corrupt: size {len} > capacity {capacity}"));
        }
        d.fill = Some(Fill {
            len: len.min(capacity).into(),
            capacity: capacity.into(),
        });
        Self::slot_census(&mut d, snap, capacity, entry_size);
        let Some(spec) = &self.spec else {
            return d;
        };
        let Some(TypeSpec {
            elem: k,
            value: Some(v),
        }) = spec
            .as_pair(key_size.into(), value_size.into())
            // Two primitives of other sizes: still meant as a pair (the size check says why
            // they do not fit).
            .or_else(|| match spec.elem.fields() {
                [k, v] => Some(TypeSpec::pair(*k, *v)),
                _ => None,
            })
        else {
            d.type_error = Some(format!(
                "a map needs a key and a value type: --as KEY=VALUE (such as --as {}={})",
                int_name(key_size),
                int_name(value_size)
            ));
            return d;
        };
        if (k.size(), v.size()) != (key_size.into(), value_size.into()) {
            d.type_error = Some(format!(
                "the map's keys and values are {key_size} and {value_size} bytes, {k}={v} are {} and {}",
                k.size(),
                v.size()
            ));
            return d;
        }
        let cpp = slot_layout(k.size(), k.align(), v.size(), v.align())
            .filter(|l| l.stride == entry_size);
        let py = SlotLayout {
            key_off: 4,
            val_off: 4 + k.size(),
            stride: entry_size,
        };
        let layout = match (flavor, cpp) {
            (Flavor::Python, _) => (py, Flavor::Python),
            (Flavor::Cpp, Some(c)) => (c, Flavor::Cpp),
            (Flavor::CppOrPython, Some(c)) if c == py => (c, Flavor::CppOrPython),
            // Both layouts fit the size but put keys elsewhere: the one whose hash and
            // probing find every key wins (C++ when both or neither do).
            (Flavor::CppOrPython, Some(c)) => {
                if !probes_ok(snap, capacity, c, &k, Flavor::Cpp)
                    && probes_ok(snap, capacity, py, &k, Flavor::Python)
                {
                    (py, Flavor::Python)
                } else {
                    (c, Flavor::Cpp)
                }
            }
            _ => {
                d.type_error = Some(format!(
                    "{k}={v} in the C++ layout gives {}-byte slots, the map's are {entry_size}",
                    slot_layout(k.size(), k.align(), v.size(), v.align()).map_or(0, |l| l.stride)
                ));
                return d;
            }
        };
        d.push("decoded_layout", FieldValue::Text(layout.1.as_str()));
        let items = self.slots(&mut d, snap, capacity, layout.0, &k, Some(&v));
        d.contents = Contents::Pairs(items);
        d
    }

    fn set(
        &self,
        snap: &Snap,
        flavor: Flavor,
        capacity: u32,
        elem_size: u32,
        entry_size: u64,
    ) -> Decoded {
        let len = snap.u32(0).unwrap_or(0);
        let mut d = Decoded::new(Kind::Set {
            flavor,
            capacity,
            elem_size,
            len,
            entry_size,
        });
        if len > capacity {
            d.problem(format!("corrupt: size {len} > capacity {capacity}"));
        }
        d.fill = Some(Fill {
            len: len.min(capacity).into(),
            capacity: capacity.into(),
        });
        Self::slot_census(&mut d, snap, capacity, entry_size);
        let Some(t) = self.elem(&mut d, elem_size.into()) else {
            return d;
        };
        let layout = if flavor == Flavor::Python {
            Some(SlotLayout {
                key_off: 4,
                val_off: 4 + t.size(),
                stride: entry_size,
            })
        } else {
            set_slot_layout(t.size(), t.align()).filter(|l| l.stride == entry_size)
        };
        let Some(layout) = layout else {
            d.type_error = Some(format!(
                "{t} in the C++ layout does not give the set's {entry_size}-byte slots"
            ));
            return d;
        };
        let items = self.slots(&mut d, snap, capacity, layout, &t, None);
        d.contents = Contents::Members(items);
        d
    }

    /// The OCCUPIED (and INSERTING, marked) slots of a Map or Set, in slot order.
    fn slots(
        &self,
        d: &mut Decoded,
        snap: &Snap,
        capacity: u32,
        l: SlotLayout,
        k: &Elem,
        v: Option<&Elem>,
    ) -> Vec<Item> {
        let mut items = Vec::new();
        if u64::from(capacity) > MAX_ITEMS {
            d.truncated = true;
        }
        for i in 0..u64::from(capacity).min(MAX_ITEMS) {
            let base = at(MAP_HEADER_LEN, i, l.stride);
            let state = match snap.u32(base) {
                Some(OCCUPIED) => SlotState::Ready,
                Some(INSERTING) => SlotState::Inserting,
                Some(_) => continue,
                None => {
                    d.truncated = true;
                    break;
                }
            };
            if items.len() as u64 >= MAX_ITEMS {
                d.truncated = true;
                break;
            }
            let key = snap.read(k, base.saturating_add(l.key_off));
            let (key, value) = match v {
                Some(v) => (key, snap.read(v, base.saturating_add(l.val_off))),
                None => (None, key),
            };
            let Some(value) = value else {
                d.truncated = true;
                break;
            };
            items.push(Item {
                slot: i,
                key,
                value,
                state,
            });
        }
        items
    }

    // --- sync primitives ---------------------------------------------------------------

    fn holder(d: &mut Decoded, pid: u32, names: (&'static str, &'static str)) {
        if pid != 0 {
            d.push(names.0, FieldValue::Unsigned(pid.into()));
            d.push(names.1, FieldValue::Bool(pid_alive(pid)));
        }
    }

    fn semaphore(&self, d: &mut Decoded, snap: &Snap) {
        let count = snap.i32(0).unwrap_or(0);
        let waiting = snap.i32(4).unwrap_or(0);
        let max_count = snap.i32(8).unwrap_or(0);
        d.fields.extend(
            Kind::Semaphore {
                count,
                waiting,
                max_count,
            }
            .fields(),
        );
        Self::sem_problems(d, count, waiting, max_count);
        Self::holder(d, snap.u32(12).unwrap_or(0), ("holder_pid", "holder_alive"));
    }

    fn sem_problems(d: &mut Decoded, count: i32, waiting: i32, max_count: i32) {
        if count < 0 || (max_count > 0 && count > max_count) {
            d.problem(format!(
                "corrupt: count {count} outside 0..=max_count {max_count}"
            ));
        }
        if waiting < 0 || max_count < 0 {
            d.problem(format!(
                "corrupt: waiting {waiting}, max_count {max_count} (negative)"
            ));
        }
    }

    fn mutex(&self, d: &mut Decoded, snap: &Snap) {
        let count = snap.i32(0).unwrap_or(0);
        let waiting = snap.i32(4).unwrap_or(0);
        let max_count = snap.i32(8).unwrap_or(0);
        d.push("locked", FieldValue::Bool(count == 0));
        d.push("count", FieldValue::Signed(count.into()));
        d.push("waiting", FieldValue::Signed(waiting.into()));
        d.push("max_count", FieldValue::Signed(max_count.into()));
        if !(0..=1).contains(&count) || max_count != 1 {
            d.problem(format!(
                "corrupt: count {count}, max_count {max_count} (a mutex has 0 or 1, and 1)"
            ));
        }
        Self::holder(d, snap.u32(12).unwrap_or(0), ("holder_pid", "holder_alive"));
    }

    /// A composite's Mutex part, as prefixed fields.
    fn mutex_part(&self, d: &mut Decoded, base: &str, n: &MutexNames) {
        let Some(snap) = self.part(d, base, n.suffix, SEMAPHORE_LEN) else {
            return;
        };
        let count = snap.i32(0).unwrap_or(0);
        let max_count = snap.u32(8).unwrap_or(0);
        d.push(n.locked, FieldValue::Bool(count == 0));
        d.push(n.count, FieldValue::Signed(count.into()));
        d.push(
            n.waiting,
            FieldValue::Signed(snap.i32(4).unwrap_or(0).into()),
        );
        if !(0..=1).contains(&count) || max_count != MUTEX_MAX {
            d.problem(format!(
                "corrupt: {base}{} count {count}, max_count {max_count}",
                n.suffix
            ));
        }
        Self::holder(d, snap.u32(12).unwrap_or(0), (n.pid, n.alive));
    }

    /// A composite's Semaphore part, as prefixed fields.
    fn sem_part(&self, d: &mut Decoded, base: &str, n: SemNames) {
        let Some(snap) = self.part(d, base, n.0, SEMAPHORE_LEN) else {
            return;
        };
        let (count, waiting, max) = (
            snap.i32(0).unwrap_or(0),
            snap.i32(4).unwrap_or(0),
            snap.i32(8).unwrap_or(0),
        );
        d.push(n.1, FieldValue::Signed(count.into()));
        d.push(n.2, FieldValue::Signed(waiting.into()));
        d.push(n.3, FieldValue::Signed(max.into()));
        Self::sem_problems(d, count, waiting, max);
    }

    fn once(&self, snap: &Snap) -> Decoded {
        let state = snap.u32(0).unwrap_or(0);
        let mut d = Decoded::new(Kind::Once {
            state: state.min(DONE),
        });
        d.fields.clear();
        d.push("state_code", FieldValue::Unsigned(state.into()));
        d.fields.extend(Kind::Once { state }.fields());
        if state > DONE {
            d.problem(format!(
                "corrupt: state {state} (0 pending, 1 executing, 2 done)"
            ));
        }
        // The pid lives in the 4 bytes after the entry (inside the mapping only).
        if self.entry.size() == ONCE_LEN {
            let pid = self
                .seg
                .read_bytes(self.entry.offset().saturating_add(ONCE_PID_OFFSET), 4)
                .ok()
                .and_then(|b| Some(u32::from_le_bytes(b.try_into().ok()?)))
                .unwrap_or(0);
            Self::holder(&mut d, pid, ("initialiser_pid", "initialiser_alive"));
        }
        no_values(&mut d, self.spec.as_ref());
        d
    }

    fn event(&self, snap: &Snap) -> Decoded {
        let signaled = snap.u32(0).unwrap_or(0);
        let mode = snap.u32(4).unwrap_or(0);
        let waiting = snap.u32(8).unwrap_or(0);
        let mut d = Decoded::new(Kind::Event {
            signaled,
            mode,
            waiting,
        });
        if signaled > 1 || mode > 1 {
            d.problem(format!(
                "corrupt: signaled {signaled}, mode {mode} (each 0 or 1)"
            ));
        }
        let base = self.entry.name().to_string();
        self.sem_part(&mut d, &base, SEM);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    fn composite(name: &'static str, kind: Kind) -> Decoded {
        let mut d = Decoded::new(kind);
        d.name = name;
        d.fields.clear();
        d
    }

    fn rwlock(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "rwlock",
            Kind::Marker {
                of: Composite::RwLock,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_state", 8) {
            let (readers, writer_active) = (s.i32(0).unwrap_or(0), s.i32(4).unwrap_or(0));
            d.fields.extend(
                Kind::RwLockState {
                    readers,
                    writer_active,
                }
                .fields(),
            );
            if readers < 0 || !(0..=1).contains(&writer_active) {
                d.problem(format!(
                    "corrupt: readers {readers}, writer_active {writer_active}"
                ));
            }
        }
        self.mutex_part(&mut d, &base, &RMTX);
        self.mutex_part(&mut d, &base, &WMTX);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    fn monitor(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "monitor",
            Kind::Marker {
                of: Composite::Monitor,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_count", 4) {
            d.push(
                "waiting",
                FieldValue::Unsigned(s.u32(0).unwrap_or(0).into()),
            );
        }
        self.mutex_part(&mut d, &base, &MTX);
        self.sem_part(&mut d, &base, COND);
        no_values(&mut d, self.spec.as_ref());
        d
    }

    fn signal(&self, base: String) -> Decoded {
        let mut d = Self::composite(
            "signal",
            Kind::Marker {
                of: Composite::Signal,
            },
        );
        if let Some(s) = self.part(&mut d, &base, "_state", 0) {
            d.push("version", FieldValue::Unsigned(s.u64(0).unwrap_or(0)));
            let value_max = s.size.saturating_sub(8);
            d.push("value_size_max", FieldValue::Unsigned(value_max));
            match &self.spec {
                Some(spec) if spec.value.is_some() => {
                    d.type_error = Some(format!("--as {spec}: a signal holds one value"));
                }
                // C++ pads the state to align8(8 + size): the value is at most 7 bytes
                // shorter than the space after the version; Python stores it unpadded.
                Some(spec) if spec.elem.size() > value_max || spec.elem.size() + 8 <= value_max => {
                    d.type_error = Some(format!(
                        "the signal's value is {} to {value_max} bytes, {} is {}",
                        value_max.saturating_sub(7).max(1),
                        spec.elem,
                        spec.elem.size()
                    ));
                }
                Some(spec) => match s.read(&spec.elem, 8) {
                    Some(v) => d.contents = Contents::Value(v),
                    None => d.truncated = true,
                },
                None => {}
            }
        }
        self.mutex_part(&mut d, &base, &MTX);
        d
    }
}

/// The NUL-terminated text of at most `max` bytes at `at` (lossy UTF-8; empty if the
/// snapshot ends first).
fn c_text(snap: &Snap, at: u64, max: u64) -> String {
    let avail = snap
        .size
        .min(snap.bytes.len() as u64)
        .saturating_sub(at)
        .min(max);
    let b = snap.get(at, avail).unwrap_or(&[]);
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// `base + i * stride`, saturated: an offset past any snapshot when hostile geometry
/// overflows (the read then finds no bytes).
fn at(base: u64, i: u64, stride: u64) -> u64 {
    base.saturating_add(i.saturating_mul(stride))
}

/// An unsigned integer type name of `size` bytes, for hints.
fn int_name(size: u32) -> String {
    match size {
        1 => "u8".into(),
        2 => "u16".into(),
        4 => "i32".into(),
        8 => "i64".into(),
        n => format!("<{n}-byte type>"),
    }
}

/// Whether every OCCUPIED key of a map, read with layout `l`, is reachable by `flavor`'s
/// hash and linear probing (no EMPTY slot between its home slot and its slot).
fn probes_ok(snap: &Snap, capacity: u32, l: SlotLayout, k: &Elem, flavor: Flavor) -> bool {
    let cap = u64::from(capacity);
    // Inconclusive (false) past a bounded amount of probing: the walk is quadratic at worst.
    if cap == 0 || cap > PROBE_LIMIT {
        return false;
    }
    let mut budget = PROBE_LIMIT * 16;
    let state = |i: u64| snap.u32(at(MAP_HEADER_LEN, i, l.stride));
    (0..cap).all(|i| {
        if state(i) != Some(OCCUPIED) {
            return true;
        }
        let Some(key) = snap.get(
            at(MAP_HEADER_LEN, i, l.stride).saturating_add(l.key_off),
            k.size(),
        ) else {
            return false;
        };
        let h = match flavor {
            Flavor::Python => {
                let h = key
                    .iter()
                    .fold(0u64, |h, &b| h.wrapping_mul(31).wrapping_add(b.into()));
                h.wrapping_mul(2_654_435_761)
            }
            _ => match k.as_scalar().filter(|t| t.is_integer()) {
                Some(t) => t.extended(key).map_or(0, int_hash),
                None => hash_bytes(key),
            },
        };
        let home = h % cap;
        let steps = (i + cap - home) % cap;
        if steps > budget {
            return false;
        }
        budget -= steps;
        (0..steps).all(|s| state((home + s) % cap) != Some(MAP_EMPTY))
    })
}

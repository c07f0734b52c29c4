//! The output model: what decoding an entry gives ([`Decoded`]: header fields, problems,
//! [`Contents`] with [`Item`]s of [`Value`]s and their [`SlotState`], [`Fill`]).

#[allow(clippy::wildcard_imports)] // the decoder's shared vocabulary
use super::*;

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
    pub(super) fn new(kind: Kind) -> Self {
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

    pub(super) fn problem(&mut self, p: String) {
        self.problems.push(p);
    }

    pub(super) fn push(&mut self, name: &'static str, v: FieldValue) {
        self.fields.push((name, v));
    }
}

//! What a structure is: [`Kind`] (every structure, primitive and codata type, with the
//! header fields that identify it), [`Flavor`], [`Composite`] and [`FieldValue`].

#[allow(clippy::wildcard_imports)] // the inspect module's shared vocabulary
use super::*;

// ---------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------

/// Which implementation's layout a structure is in, where C++ and Python differ
/// (FORMAT.md §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Flavor {
    /// The C++ layout (also Go's and the one this library writes).
    Cpp,
    /// The Python layout.
    Python,
    /// Both layouts give these exact bytes.
    CppOrPython,
}

impl Flavor {
    /// `"cpp"`, `"python"` or `"cpp|python"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(zeroipc::inspect::Flavor::CppOrPython.as_str(), "cpp|python");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cpp => "cpp",
            Self::Python => "python",
            Self::CppOrPython => "cpp|python",
        }
    }
}

/// The composite structure a 1-byte marker entry belongs to (FORMAT.md Appendix B).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Composite {
    /// `x_state`, `x_rmtx`, `x_wmtx`, `x`.
    RwLock,
    /// `x_mtx`, `x_cond`, `x_count`, `x`.
    Monitor,
    /// `x_state`, `x_mtx`, `x`.
    Signal,
}

impl Composite {
    /// `"rwlock"`, `"monitor"` or `"signal"`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(zeroipc::inspect::Composite::Monitor.as_str(), "monitor");
    /// ```
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RwLock => "rwlock",
            Self::Monitor => "monitor",
            Self::Signal => "signal",
        }
    }
}

/// What a table entry holds, as far as its bytes prove it, with the decoded header fields.
///
/// Element sizes are in bytes. A range `*_min..=*_max` is given where the format leaves a
/// size open (a Future's value size is only known up to the C++ padding). Field names are
/// those of FORMAT.md, so they are not documented one by one.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::Kind;
/// let k = Kind::Queue { capacity: 8, elem_size: 4, head: 5, tail: 12 };
/// assert_eq!(k.to_string(), "queue (head=5 tail=12 capacity=8 elem_size=4 len=7)");
/// let both = Kind::Ambiguous(vec![Kind::Latch { count: 1, initial_count: 2 }, k]);
/// assert_eq!(both.to_string(), "ambiguous (latch | queue)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
#[allow(missing_docs)] // the fields are named as in FORMAT.md
pub enum Kind {
    /// Array, C++/Go/Python layout: `{u64 capacity}` then the elements (§5.1).
    Array { capacity: u64, elem_size: u64 },
    /// Array in the C implementation's layout: `{u64 capacity, u64 elem_size}` (IH-1).
    CArray { capacity: u64, elem_size: u64 },
    /// Bounded MPMC queue (§5.2). `len = tail - head`.
    Queue {
        capacity: u32,
        elem_size: u32,
        head: u32,
        tail: u32,
    },
    /// Bounded stack (§5.3). `top` is -1 when empty.
    Stack {
        capacity: u32,
        elem_size: u32,
        top: i32,
    },
    /// SPSC byte ring (§5.7); `capacity` is in bytes.
    Ring {
        capacity: u32,
        elem_size: u32,
        write_pos: u64,
        read_pos: u64,
    },
    /// Object pool (§5.6). `free_head` is `(generation << 32) | index`.
    Pool {
        capacity: u32,
        elem_size: u32,
        allocated: u32,
        node_size: u64,
        free_head: u64,
    },
    /// Hash map (§5.4); `len` is the stored `size` field.
    Map {
        flavor: Flavor,
        capacity: u32,
        key_size: u32,
        value_size: u32,
        len: u32,
        entry_size: u64,
    },
    /// Hash set (§5.5). A Python Set is a Python `Map<T, u8>`.
    Set {
        flavor: Flavor,
        capacity: u32,
        elem_size: u32,
        len: u32,
        entry_size: u64,
    },
    /// Future (§6.1): state 0 pending, 1 computing, 2 ready, 3 error.
    Future {
        state: u32,
        waiters: u32,
        completion_time: u64,
        value_size_min: u64,
        value_size_max: u64,
    },
    /// Lazy (§6.2): state 0 not computed, 1 computing, 2 computed, 3 error. `op` is the
    /// C++ operation code (None for the Python layout, which stores none).
    Lazy {
        flavor: Flavor,
        state: u32,
        op: Option<u32>,
        value_size_max: u64,
    },
    /// C++ `Lazy<bool>` (16 bytes).
    LazyBool { state: u32, op: u32, cached: u8 },
    /// C++ `Stream<void>` (16 bytes).
    StreamVoid { event_count: u64, closed: u8 },
    /// C++ Stream `x_header` (§6.3); its ring is `x_buffer`.
    StreamHeader {
        sequence: u64,
        subscribers: u32,
        closed: u8,
        buffer_capacity: u32,
    },
    /// C++ Channel `x_header` (§6.4); capacity 0 means unbuffered (`x_slot`), otherwise the
    /// queue `x_buffer`.
    ChannelHeader {
        capacity: u32,
        senders: u32,
        receivers: u32,
        closed: u8,
    },
    /// C++ unbuffered Channel `x_slot`.
    ChannelSlot { ready: u8, consumed: u8 },
    /// Python Channel `x_sync`; its queue is `x`.
    ChannelSync {
        sender_waiting: u32,
        receiver_waiting: u32,
        closed: u32,
        logical_capacity: u32,
    },
    /// Semaphore (§7.1); `max_count` 0 means unbounded.
    Semaphore {
        count: i32,
        waiting: i32,
        max_count: i32,
    },
    /// Mutex (§7.2): a Semaphore with `max_count` 1 (a binary semaphore has the same bytes);
    /// locked when `count` is 0.
    Mutex { count: i32, waiting: i32 },
    /// Barrier (§7.3).
    Barrier {
        arrived: i32,
        generation: i32,
        participants: i32,
    },
    /// Latch (§7.4).
    Latch { count: i32, initial_count: i32 },
    /// Once (§7.5): 0 pending, 1 executing, 2 done.
    Once { state: u32 },
    /// Event `x` (§7.6); its semaphore is `x_sem`. Mode 0 auto-reset, 1 manual-reset.
    Event {
        signaled: u32,
        mode: u32,
        waiting: u32,
    },
    /// RWLock `x_state` (§7.7).
    RwLockState { readers: i32, writer_active: i32 },
    /// Monitor `x_count` (§7.8).
    MonitorCount { waiting: u32 },
    /// Signal `x_state` (§7.9).
    SignalState {
        version: u64,
        value_size_min: u64,
        value_size_max: u64,
    },
    /// The 1-byte marker entry `x` of a composite.
    Marker { of: Composite },
    /// zeroipc's waiter registry (`__zeroipc_waiters`): two sleeper counters per table slot,
    /// so wakers skip `FUTEX_WAKE` when nobody sleeps. Other implementations ignore it.
    WaiterRegistry {
        /// Table slots covered (the segment's `max_entries`).
        slots: u32,
        /// Processes registered as sleeping, summed over all counters.
        sleepers: u64,
    },
    /// zeroipc's permit-holder registry (`__zeroipc_permits`, docs/EXTENSIONS.md): 64 slots
    /// recording how many permits of which Semaphore each zeroipc process holds, so that
    /// blocked acquirers can give back a dead holder's. Other implementations ignore it.
    PermitRegistry {
        /// Slots in use (a non-zero pid).
        used: u32,
        /// Permits recorded as held, summed over the slots in use.
        held: u64,
    },
    /// zeroipc's type catalog (`__zeroipc_catalog`, docs/CATALOG.md): what zeroipc recorded
    /// about each structure it created. Other implementations ignore it.
    Catalog {
        /// Records it has room for.
        capacity: u32,
        /// Records published.
        count: u32,
    },
    /// Several kinds fit these bytes equally well.
    Ambiguous(Vec<Kind>),
    /// No kind fits (or the bytes could not be read).
    Unknown,
}

/// A decoded header field, for display.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::FieldValue;
/// assert_eq!(FieldValue::Signed(-1).to_string(), "-1");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldValue {
    /// An unsigned number.
    Unsigned(u64),
    /// A signed number.
    Signed(i64),
    /// A word.
    Text(&'static str),
    /// Yes or no (`true` / `false`).
    Bool(bool),
}

impl fmt::Display for FieldValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsigned(v) => write!(f, "{v}"),
            Self::Signed(v) => write!(f, "{v}"),
            Self::Text(t) => f.write_str(t),
            Self::Bool(b) => write!(f, "{b}"),
        }
    }
}

impl Kind {
    /// A short lower-case name: `"array"`, `"queue"`, `"stream_header"`, ...,
    /// `"ambiguous"`, `"unknown"`.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::Kind;
    /// assert_eq!(Kind::Once { state: 2 }.name(), "once");
    /// ```
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Array { .. } => "array",
            Self::CArray { .. } => "c_array",
            Self::Queue { .. } => "queue",
            Self::Stack { .. } => "stack",
            Self::Ring { .. } => "ring",
            Self::Pool { .. } => "pool",
            Self::Map { .. } => "map",
            Self::Set { .. } => "set",
            Self::Future { .. } => "future",
            Self::Lazy { .. } => "lazy",
            Self::LazyBool { .. } => "lazy_bool",
            Self::StreamVoid { .. } => "stream_void",
            Self::StreamHeader { .. } => "stream_header",
            Self::ChannelHeader { .. } => "channel_header",
            Self::ChannelSlot { .. } => "channel_slot",
            Self::ChannelSync { .. } => "channel_sync",
            Self::Semaphore { .. } => "semaphore",
            Self::Mutex { .. } => "mutex",
            Self::Barrier { .. } => "barrier",
            Self::Latch { .. } => "latch",
            Self::Once { .. } => "once",
            Self::Event { .. } => "event",
            Self::RwLockState { .. } => "rwlock_state",
            Self::MonitorCount { .. } => "monitor_count",
            Self::SignalState { .. } => "signal_state",
            Self::Marker { .. } => "marker",
            Self::WaiterRegistry { .. } => "waiter_registry",
            Self::PermitRegistry { .. } => "permit_registry",
            Self::Catalog { .. } => "catalog",
            Self::Ambiguous(_) => "ambiguous",
            Self::Unknown => "unknown",
        }
    }

    /// The decoded header fields, in layout order (empty for `Ambiguous` and `Unknown`).
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::inspect::{FieldValue, Kind};
    /// let k = Kind::Array { capacity: 3, elem_size: 8 };
    /// assert_eq!(k.fields()[0], ("capacity", FieldValue::Unsigned(3)));
    /// ```
    #[must_use]
    pub fn fields(&self) -> Vec<(&'static str, FieldValue)> {
        use FieldValue::{Signed as S, Text as T, Unsigned as U};
        match *self {
            Self::Array {
                capacity,
                elem_size,
            }
            | Self::CArray {
                capacity,
                elem_size,
            } => {
                vec![("capacity", U(capacity)), ("elem_size", U(elem_size))]
            }
            Self::Queue {
                capacity,
                elem_size,
                head,
                tail,
            } => vec![
                ("head", U(head.into())),
                ("tail", U(tail.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("len", U(tail.wrapping_sub(head).into())),
            ],
            Self::Stack {
                capacity,
                elem_size,
                top,
            } => vec![
                ("top", S(top.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("len", U(u64::try_from(i64::from(top) + 1).unwrap_or(0))),
            ],
            Self::Ring {
                capacity,
                elem_size,
                write_pos,
                read_pos,
            } => vec![
                ("write_pos", U(write_pos)),
                ("read_pos", U(read_pos)),
                ("capacity_bytes", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                (
                    "len",
                    U(write_pos.wrapping_sub(read_pos) / u64::from(elem_size.max(1))),
                ),
            ],
            Self::Pool {
                capacity,
                elem_size,
                allocated,
                node_size,
                free_head,
            } => vec![
                ("free_head_index", U(free_head & 0xFFFF_FFFF)),
                ("free_head_generation", U(free_head >> 32)),
                ("allocated", U(allocated.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("node_size", U(node_size)),
            ],
            Self::Map {
                flavor,
                capacity,
                key_size,
                value_size,
                len,
                entry_size,
            } => vec![
                ("layout", T(flavor.as_str())),
                ("len", U(len.into())),
                ("capacity", U(capacity.into())),
                ("key_size", U(key_size.into())),
                ("value_size", U(value_size.into())),
                ("entry_size", U(entry_size)),
            ],
            Self::Set {
                flavor,
                capacity,
                elem_size,
                len,
                entry_size,
            } => vec![
                ("layout", T(flavor.as_str())),
                ("len", U(len.into())),
                ("capacity", U(capacity.into())),
                ("elem_size", U(elem_size.into())),
                ("entry_size", U(entry_size)),
            ],
            Self::Future {
                state,
                waiters,
                completion_time,
                value_size_min,
                value_size_max,
            } => vec![
                (
                    "state",
                    T(match state {
                        0 => "pending",
                        1 => "computing",
                        2 => "ready",
                        _ => "error",
                    }),
                ),
                ("waiters", U(waiters.into())),
                ("completion_time", U(completion_time)),
                ("value_size_min", U(value_size_min)),
                ("value_size_max", U(value_size_max)),
            ],
            Self::Lazy {
                flavor,
                state,
                op,
                value_size_max,
            } => {
                let mut v = vec![
                    ("layout", T(flavor.as_str())),
                    (
                        "state",
                        T(match state {
                            0 => "not_computed",
                            1 => "computing",
                            2 => "computed",
                            _ => "error",
                        }),
                    ),
                ];
                if let Some(op) = op {
                    v.push((
                        "op",
                        T(match op {
                            0 => "constant",
                            1 => "add",
                            2 => "multiply",
                            3 => "negate",
                            4 => "chain",
                            _ => "external",
                        }),
                    ));
                }
                v.push(("value_size_max", U(value_size_max)));
                v
            }
            Self::LazyBool { state, op, cached } => {
                vec![
                    ("state", U(state.into())),
                    ("op", U(op.into())),
                    ("cached", U(cached.into())),
                ]
            }
            Self::StreamVoid {
                event_count,
                closed,
            } => {
                vec![
                    ("event_count", U(event_count)),
                    ("closed", U(closed.into())),
                ]
            }
            Self::StreamHeader {
                sequence,
                subscribers,
                closed,
                buffer_capacity,
            } => vec![
                ("sequence", U(sequence)),
                ("subscribers", U(subscribers.into())),
                ("closed", U(closed.into())),
                ("buffer_capacity", U(buffer_capacity.into())),
            ],
            Self::ChannelHeader {
                capacity,
                senders,
                receivers,
                closed,
            } => vec![
                ("capacity", U(capacity.into())),
                ("senders", U(senders.into())),
                ("receivers", U(receivers.into())),
                ("closed", U(closed.into())),
            ],
            Self::ChannelSlot { ready, consumed } => {
                vec![("ready", U(ready.into())), ("consumed", U(consumed.into()))]
            }
            Self::ChannelSync {
                sender_waiting,
                receiver_waiting,
                closed,
                logical_capacity,
            } => vec![
                ("sender_waiting", U(sender_waiting.into())),
                ("receiver_waiting", U(receiver_waiting.into())),
                ("closed", U(closed.into())),
                ("logical_capacity", U(logical_capacity.into())),
            ],
            Self::Semaphore {
                count,
                waiting,
                max_count,
            } => vec![
                ("count", S(count.into())),
                ("waiting", S(waiting.into())),
                ("max_count", S(max_count.into())),
            ],
            Self::Mutex { count, waiting } => vec![
                ("locked", T(if count == 0 { "yes" } else { "no" })),
                ("count", S(count.into())),
                ("waiting", S(waiting.into())),
            ],
            Self::Barrier {
                arrived,
                generation,
                participants,
            } => vec![
                ("arrived", S(arrived.into())),
                ("generation", S(generation.into())),
                ("num_participants", S(participants.into())),
            ],
            Self::Latch {
                count,
                initial_count,
            } => {
                vec![
                    ("count", S(count.into())),
                    ("initial_count", S(initial_count.into())),
                ]
            }
            Self::Once { state } => vec![(
                "state",
                T(match state {
                    0 => "pending",
                    1 => "executing",
                    _ => "done",
                }),
            )],
            Self::Event {
                signaled,
                mode,
                waiting,
            } => vec![
                ("signaled", U(signaled.into())),
                (
                    "mode",
                    T(if mode == 0 {
                        "auto_reset"
                    } else {
                        "manual_reset"
                    }),
                ),
                ("waiting", U(waiting.into())),
            ],
            Self::RwLockState {
                readers,
                writer_active,
            } => {
                vec![
                    ("readers", S(readers.into())),
                    ("writer_active", S(writer_active.into())),
                ]
            }
            Self::MonitorCount { waiting } => vec![("waiting", U(waiting.into()))],
            Self::SignalState {
                version,
                value_size_min,
                value_size_max,
            } => vec![
                ("version", U(version)),
                ("value_size_min", U(value_size_min)),
                ("value_size_max", U(value_size_max)),
            ],
            Self::Marker { of } => vec![("of", T(of.as_str()))],
            Self::WaiterRegistry { slots, sleepers } => {
                vec![("slots", U(slots.into())), ("sleepers", U(sleepers))]
            }
            Self::PermitRegistry { used, held } => {
                vec![("used", U(used.into())), ("held", U(held))]
            }
            Self::Catalog { capacity, count } => {
                vec![("capacity", U(capacity.into())), ("count", U(count.into()))]
            }
            Self::Ambiguous(_) | Self::Unknown => Vec::new(),
        }
    }
}

impl fmt::Display for Kind {
    /// `queue (head=0 tail=3 capacity=8 elem_size=4 len=3)`, `ambiguous (semaphore | barrier)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Ambiguous(kinds) => {
                let mut names: Vec<&str> = kinds.iter().map(Kind::name).collect();
                names.dedup();
                write!(f, "ambiguous ({})", names.join(" | "))
            }
            Self::Unknown => f.write_str("unknown"),
            k => {
                f.write_str(k.name())?;
                let fields = k.fields();
                if !fields.is_empty() {
                    f.write_str(" (")?;
                    for (i, (name, value)) in fields.iter().enumerate() {
                        if i > 0 {
                            f.write_str(" ")?;
                        }
                        write!(f, "{name}={value}")?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
        }
    }
}

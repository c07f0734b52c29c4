//! A snapshot of an entry ([`Snap`]) and the decoder's dispatch (`Ctx::decode`) with the
//! codata decoders (Future, Lazy, Stream, Channel) and the helpers every family uses.

#[allow(clippy::wildcard_imports)] // the decoder's shared vocabulary
use super::*;

// ---------------------------------------------------------------------------------------
// Snapshot
// ---------------------------------------------------------------------------------------

/// A copy of (the first [`SNAPSHOT_LIMIT`] bytes of) an entry.
pub(super) struct Snap {
    pub(super) bytes: Vec<u8>,
    /// The entry's size (the copy may be shorter).
    pub(super) size: u64,
}

impl Snap {
    pub(super) fn new(seg: &ReadOnlySegment, entry: &Entry) -> Self {
        let len = entry.size().min(SNAPSHOT_LIMIT);
        let bytes = seg.read_bytes(entry.offset(), len).unwrap_or_default();
        Self {
            bytes,
            size: entry.size(),
        }
    }

    pub(super) fn get(&self, at: u64, len: u64) -> Option<&[u8]> {
        let at = usize::try_from(at).ok()?;
        let end = at.checked_add(usize::try_from(len).ok()?)?;
        self.bytes.get(at..end)
    }

    pub(super) fn u32(&self, at: u64) -> Option<u32> {
        Some(u32::from_le_bytes(self.get(at, 4)?.try_into().ok()?))
    }

    pub(super) fn i32(&self, at: u64) -> Option<i32> {
        Some(i32::from_le_bytes(self.get(at, 4)?.try_into().ok()?))
    }

    pub(super) fn u64(&self, at: u64) -> Option<u64> {
        Some(u64::from_le_bytes(self.get(at, 8)?.try_into().ok()?))
    }

    pub(super) fn read(&self, t: &Elem, at: u64) -> Option<Value> {
        t.read(self.get(at, t.size())?)
    }
}

pub(super) struct Ctx<'a> {
    pub(super) seg: &'a ReadOnlySegment,
    pub(super) entry: &'a Entry,
    pub(super) spec: Option<TypeSpec>,
}

/// Field names of a Mutex inside a composite, by prefix.
pub(super) struct MutexNames {
    pub(super) suffix: &'static str,
    pub(super) locked: &'static str,
    pub(super) count: &'static str,
    pub(super) waiting: &'static str,
    pub(super) pid: &'static str,
    pub(super) alive: &'static str,
}

pub(super) const RMTX: MutexNames = MutexNames {
    suffix: "_rmtx",
    locked: "rmtx_locked",
    count: "rmtx_count",
    waiting: "rmtx_waiting",
    pid: "rmtx_holder_pid",
    alive: "rmtx_holder_alive",
};
pub(super) const WMTX: MutexNames = MutexNames {
    suffix: "_wmtx",
    locked: "wmtx_locked",
    count: "wmtx_count",
    waiting: "wmtx_waiting",
    pid: "wmtx_holder_pid",
    alive: "wmtx_holder_alive",
};
pub(super) const MTX: MutexNames = MutexNames {
    suffix: "_mtx",
    locked: "mtx_locked",
    count: "mtx_count",
    waiting: "mtx_waiting",
    pid: "mtx_holder_pid",
    alive: "mtx_holder_alive",
};

/// Field names of a Semaphore inside a composite: (suffix, count, waiting, max_count).
pub(super) type SemNames = (&'static str, &'static str, &'static str, &'static str);
pub(super) const SEM: SemNames = (SEM_SUFFIX, "sem_count", "sem_waiting", "sem_max_count");
pub(super) const COND: SemNames = ("_cond", "cond_count", "cond_waiting", "cond_max_count");

pub(super) fn no_values(d: &mut Decoded, spec: Option<&TypeSpec>) {
    if let Some(s) = spec {
        d.type_error = Some(format!("a {} holds no values to read as {s}", d.name));
    }
}

impl Ctx<'_> {
    pub(super) fn decode(&self, snap: &Snap, kind: &Kind) -> Decoded {
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
                    snap.i32(at!(BarrierHeader, arrived)).unwrap_or(0),
                    snap.i32(at!(BarrierHeader, generation)).unwrap_or(0),
                    snap.i32(at!(BarrierHeader, num_participants)).unwrap_or(0),
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
                let (count, initial_count) = (
                    snap.i32(at!(LatchHeader, count)).unwrap_or(0),
                    snap.i32(at!(LatchHeader, initial_count)).unwrap_or(0),
                );
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
    pub(super) fn one_value(&self, d: &mut Decoded, min: u64, max: u64) -> Option<Elem> {
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
    pub(super) fn future(
        &self,
        snap: &Snap,
        kind: &Kind,
        state: u32,
        min: u64,
        max: u64,
    ) -> Decoded {
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
    pub(super) fn lazy(
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
    pub(super) fn sibling(&self, d: &mut Decoded, base: &str, suffix: &str) {
        let name = format!("{base}{suffix}");
        let Ok(e) = self.seg.find(&name) else {
            d.problem(format!("entry '{name}' is missing"));
            return;
        };
        let kind = crate::inspect::classify(self.seg, &e);
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
    pub(super) fn stream(&self, snap: &Snap, kind: &Kind) -> Decoded {
        let mut d = Decoded::new(kind.clone());
        d.name = "stream";
        d.texts.push(("transform", c_text(snap, 20, 32)));
        let base = self.base("_header");
        self.sibling(&mut d, &base, "_buffer");
        d
    }

    /// Channel header (§6.4): buffered, the fill of its `_buffer` queue; unbuffered, its
    /// slot's `ready` / `consumed` flags.
    pub(super) fn channel(&self, kind: &Kind, capacity: u32) -> Decoded {
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
    pub(super) fn base(&self, suffix: &str) -> String {
        let name = self.entry.name().to_string();
        name.strip_suffix(suffix).unwrap_or(&name).to_owned()
    }

    /// A sibling entry's snapshot, or a problem naming it.
    pub(super) fn part(
        &self,
        d: &mut Decoded,
        base: &str,
        suffix: &str,
        size: u64,
    ) -> Option<Snap> {
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
    pub(super) fn elem(&self, d: &mut Decoded, elem_size: u64) -> Option<Elem> {
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
}

/// The NUL-terminated text of at most `max` bytes at `at` (lossy UTF-8; empty if the
/// snapshot ends first).
pub(super) fn c_text(snap: &Snap, at: u64, max: u64) -> String {
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
pub(super) fn at(base: u64, i: u64, stride: u64) -> u64 {
    base.saturating_add(i.saturating_mul(stride))
}

/// An unsigned integer type name of `size` bytes, for hints.
pub(super) fn int_name(size: u32) -> String {
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
pub(super) fn probes_ok(
    snap: &Snap,
    capacity: u32,
    l: SlotLayout,
    k: &Elem,
    flavor: Flavor,
) -> bool {
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

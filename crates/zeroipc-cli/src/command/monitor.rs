//! `zeroipc monitor`: print the values a structure receives, as they arrive, without
//! consuming anything (the segment is mapped read-only and polled).
//!
//! * **Queue**: follows `tail`; each newly published slot (`seq == pos + 1`, or
//!   `pos + capacity` once a consumer popped it) is read from the segment bytes. A value the
//!   producers overwrote before a poll saw it (consumers popped it and the producers lapped
//!   us) is counted in a `missed N` line.
//! * **Ring**: follows `write_pos`, one value per element; bytes the producer overwrote
//!   before a poll read them are reported as missed.
//! * **Signal** (`x`, `x_state`): prints the value when `version` changes.
//! * **Array**: prints each element that changed, with its index.
//! * **Stream / Channel** (`x` with `x_header`): their `x_buffer` ring / queue.
//!
//! Values present when monitoring starts are not printed: only what arrives afterwards.

use std::io::Write;
use std::time::Duration;

use serde_json::json;
use zeroipc::Entry;
use zeroipc::ReadOnlySegment;
use zeroipc::inspect::{Elem, ElemType, Kind, TypeSpec, catalog_type, classify};

use super::{CliError, fail, open, printable};

/// What to follow, with its geometry.
enum Target {
    Queue {
        capacity: u32,
        elem_size: u32,
    },
    Ring {
        capacity: u32,
        elem_size: u32,
    },
    Signal {
        value_len: u64,
    },
    Array {
        header: u64,
        capacity: u64,
        elem_size: u64,
    },
}

/// Options of `zeroipc monitor`.
pub(crate) struct Options {
    pub(crate) as_type: Option<TypeSpec>,
    pub(crate) interval: u64,
    pub(crate) count: Option<u64>,
    pub(crate) json: bool,
}

pub(crate) fn run(
    out: &mut dyn Write,
    segment: &str,
    entry: &str,
    opts: &Options,
) -> Result<(), CliError> {
    let seg = open(segment)?;
    let (e, target) = resolve(&seg, entry)?;
    let elem_size = match target {
        Target::Queue { elem_size, .. } | Target::Ring { elem_size, .. } => u64::from(elem_size),
        Target::Array { elem_size, .. } => elem_size,
        Target::Signal { value_len } => value_len,
    };
    // `--as`, else the type the segment's catalog records (when it fits), else an unsigned
    // integer of the element's size.
    let recorded = catalog_type(&seg, &e).filter(|t| {
        t.value.is_none()
            && (t.elem.size() == elem_size
                || matches!(target, Target::Signal { .. }) && t.elem.size() <= elem_size)
    });
    let elem = match opts.as_type.clone().or(recorded) {
        Some(t) if t.value.is_some() => return fail("--as KEY=VALUE is for maps; give one type"),
        Some(t) if matches!(target, Target::Signal { .. }) && t.elem.size() <= elem_size => {
            Some(t.elem)
        }
        Some(t) if t.elem.size() != elem_size => {
            return fail(format!(
                "--as {}: {} bytes, but the elements of '{}' are {elem_size} bytes",
                t.elem,
                t.elem.size(),
                printable(entry)
            ));
        }
        Some(t) => Some(t.elem),
        None => default_type(elem_size).map(Elem::scalar),
    };
    let mut m = Monitor {
        seg: &seg,
        base: e.offset(),
        elem,
        json: opts.json,
        printed: 0,
        count: opts.count,
    };
    let interval = Duration::from_millis(opts.interval);
    match target {
        Target::Queue {
            capacity,
            elem_size,
        } => m.queue(out, capacity, elem_size, interval),
        Target::Ring {
            capacity,
            elem_size,
        } => m.ring(out, capacity, elem_size, interval),
        Target::Signal { value_len } => m.signal(out, value_len, interval),
        Target::Array {
            header,
            capacity,
            elem_size,
        } => m.array(out, header, capacity, elem_size, interval),
    }
}

/// The entry to follow for `name` and what it is.
fn resolve(seg: &ReadOnlySegment, name: &str) -> Result<(Entry, Target), CliError> {
    let find = |n: &str| seg.find(n).ok();
    // A Stream/Channel header names its buffer.
    let name = name
        .strip_suffix("_header")
        .filter(|b| !b.is_empty())
        .unwrap_or(name);
    let shown = printable(name);
    // Composites by their base name.
    let entry = if find(&format!("{name}_header")).is_some() {
        match find(&format!("{name}_buffer")) {
            Some(e) => e,
            None => {
                return fail(format!(
                    "{shown}: has no '{shown}_buffer' (an unbuffered channel or a half-created \
                     stream cannot be monitored)"
                ));
            }
        }
    } else if let (Some(state), Some(_)) =
        (find(&format!("{name}_state")), find(&format!("{name}_mtx")))
    {
        state
    } else {
        match seg.find(name) {
            Ok(e) => e,
            Err(e) => return fail(format!("{}: {shown}: {e}", seg.name())),
        }
    };
    let target = match classify(seg, &entry) {
        Kind::Queue {
            capacity,
            elem_size,
            ..
        } if capacity > 0 && elem_size > 0 => Target::Queue {
            capacity,
            elem_size,
        },
        Kind::Ring {
            capacity,
            elem_size,
            ..
        } if capacity > 0 && elem_size > 0 && capacity % elem_size == 0 => Target::Ring {
            capacity,
            elem_size,
        },
        Kind::SignalState { .. } => Target::Signal {
            value_len: entry.size().saturating_sub(8),
        },
        Kind::Array {
            capacity,
            elem_size,
        } if elem_size > 0 => Target::Array {
            header: 8,
            capacity,
            elem_size,
        },
        Kind::CArray {
            capacity,
            elem_size,
        } if elem_size > 0 => Target::Array {
            header: 16,
            capacity,
            elem_size,
        },
        other => {
            return fail(format!(
                "{shown}: cannot be monitored: its kind is {} (monitor follows a queue, ring, \
                 signal, array, stream or buffered channel)",
                other.name()
            ));
        }
    };
    Ok((entry, target))
}

/// An unsigned integer of `size` bytes, if there is one.
fn default_type(size: u64) -> Option<ElemType> {
    match size {
        1 => Some(ElemType::U8),
        2 => Some(ElemType::U16),
        4 => Some(ElemType::U32),
        8 => Some(ElemType::U64),
        _ => None,
    }
}

/// `b` read as `t` (little-endian; a struct as the array of its fields), or as hex without
/// a type.
fn value(t: Option<&Elem>, b: &[u8]) -> serde_json::Value {
    match t.map(|t| (t.as_scalar(), t)) {
        Some((Some(scalar), _)) => scalar_value(Some(scalar), b),
        Some((None, t)) => t
            .fields()
            .iter()
            .zip(t.offsets())
            .map(|(f, off)| {
                let at = usize::try_from(off).unwrap_or(usize::MAX);
                scalar_value(Some(*f), b.get(at..).unwrap_or_default())
            })
            .collect::<Vec<_>>()
            .into(),
        None => scalar_value(None, b),
    }
}

/// `b` read as the primitive `t`, or as hex without a type.
fn scalar_value(t: Option<ElemType>, b: &[u8]) -> serde_json::Value {
    fn arr<const N: usize>(b: &[u8]) -> [u8; N] {
        let mut a = [0; N];
        for (d, s) in a.iter_mut().zip(b) {
            *d = *s;
        }
        a
    }
    match t {
        Some(ElemType::I8) => i8::from_le_bytes(arr(b)).into(),
        Some(ElemType::U8) => u8::from_le_bytes(arr(b)).into(),
        Some(ElemType::I16) => i16::from_le_bytes(arr(b)).into(),
        Some(ElemType::U16) => u16::from_le_bytes(arr(b)).into(),
        Some(ElemType::I32) => i32::from_le_bytes(arr(b)).into(),
        Some(ElemType::U32) => u32::from_le_bytes(arr(b)).into(),
        Some(ElemType::I64) => i64::from_le_bytes(arr(b)).into(),
        Some(ElemType::U64) => u64::from_le_bytes(arr(b)).into(),
        Some(ElemType::F32) => f64::from(f32::from_le_bytes(arr(b))).into(),
        Some(ElemType::F64) => f64::from_le_bytes(arr(b)).into(),
        _ => b
            .iter()
            .map(|x| format!("{x:02x}"))
            .collect::<String>()
            .into(),
    }
}

struct Monitor<'a> {
    seg: &'a ReadOnlySegment,
    base: u64,
    elem: Option<Elem>,
    json: bool,
    printed: u64,
    count: Option<u64>,
}

impl Monitor<'_> {
    fn bytes(&self, at: u64, len: u64) -> Result<Vec<u8>, CliError> {
        self.seg
            .read_bytes(self.base + at, len)
            .map_err(|e| CliError::Message(format!("{}: {e}", self.seg.name())))
    }

    fn u32(&self, at: u64) -> Result<u32, CliError> {
        let b = self.bytes(at, 4)?;
        b.get(..4)
            .and_then(|b| b.try_into().ok())
            .map(u32::from_le_bytes)
            .ok_or_else(|| CliError::Message(format!("{}: short read", self.seg.name())))
    }

    fn u64(&self, at: u64) -> Result<u64, CliError> {
        let b = self.bytes(at, 8)?;
        b.get(..8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| CliError::Message(format!("{}: short read", self.seg.name())))
    }

    fn done(&self) -> bool {
        self.count.is_some_and(|c| self.printed >= c)
    }

    /// Prints one value; `label` is the queue/ring position, array index or signal version.
    fn emit(
        &mut self,
        out: &mut dyn Write,
        key: &str,
        label: u64,
        bytes: &[u8],
    ) -> Result<(), CliError> {
        let v = value(self.elem.as_ref(), bytes);
        if self.json {
            writeln!(out, "{}", json!({ key: label, "value": v }))?;
        } else {
            let text = match &v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            match key {
                "index" => writeln!(out, "[{label}] {text}")?,
                "version" => writeln!(out, "version {label}: {text}")?,
                _ => writeln!(out, "{text}")?,
            }
        }
        self.printed += 1;
        Ok(())
    }

    fn missed(&self, out: &mut dyn Write, n: u64) -> Result<(), CliError> {
        if n > 0 {
            if self.json {
                writeln!(out, "{}", json!({ "missed": n }))?;
            } else {
                writeln!(out, "missed {n}")?;
            }
        }
        Ok(())
    }

    fn queue(
        &mut self,
        out: &mut dyn Write,
        capacity: u32,
        elem_size: u32,
        interval: Duration,
    ) -> Result<(), CliError> {
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let data = 16;
        let seq_at = 16 + (cap * es).div_ceil(8) * 8;
        let mut next = self.u32(4)?;
        while !self.done() {
            let tail = self.u32(4)?;
            let behind = tail.wrapping_sub(next);
            if behind > capacity {
                self.missed(out, u64::from(behind - capacity))?;
                next = tail.wrapping_sub(capacity);
            }
            while next != tail && !self.done() {
                let slot = u64::from(next % capacity);
                let seq1 = self.u32(seq_at + 4 * slot)?;
                if seq1 == next {
                    break; // claimed, not published yet
                }
                let bytes = self.bytes(data + slot * es, es)?;
                let seq2 = self.u32(seq_at + 4 * slot)?;
                let ours = seq1 == seq2
                    && (seq1 == next.wrapping_add(1) || seq1 == next.wrapping_add(capacity));
                if ours {
                    self.emit(out, "position", u64::from(next), &bytes)?;
                } else {
                    self.missed(out, 1)?;
                }
                next = next.wrapping_add(1);
            }
            out.flush()?;
            if !self.done() {
                std::thread::sleep(interval);
            }
        }
        Ok(())
    }

    fn ring(
        &mut self,
        out: &mut dyn Write,
        capacity: u32,
        elem_size: u32,
        interval: Duration,
    ) -> Result<(), CliError> {
        let (cap, es) = (u64::from(capacity), u64::from(elem_size));
        let mut next = self.u64(0)?;
        while !self.done() {
            let wp = self.u64(0)?;
            if wp.wrapping_sub(next) > cap {
                let skip = wp.wrapping_sub(next) - cap;
                self.missed(out, skip.div_ceil(es))?;
                next = next.wrapping_add(skip.div_ceil(es) * es);
            }
            let mut values = Vec::new();
            while wp.wrapping_sub(next) >= es {
                values.push((next, self.bytes(24 + next % cap, es)?));
                next = next.wrapping_add(es);
            }
            // Values the producer overwrote while we read them are not reported.
            let wp2 = self.u64(0)?;
            for (pos, bytes) in values {
                if self.done() {
                    break;
                }
                if wp2.wrapping_sub(pos) > cap {
                    self.missed(out, 1)?;
                } else {
                    self.emit(out, "position", pos / es, &bytes)?;
                }
            }
            out.flush()?;
            if !self.done() {
                std::thread::sleep(interval);
            }
        }
        Ok(())
    }

    fn signal(
        &mut self,
        out: &mut dyn Write,
        value_len: u64,
        interval: Duration,
    ) -> Result<(), CliError> {
        let len = self.elem.as_ref().map_or(value_len, Elem::size);
        let mut seen = self.u64(0)?;
        while !self.done() {
            let v1 = self.u64(0)?;
            if v1 != seen {
                let bytes = self.bytes(8, len)?;
                if self.u64(0)? == v1 {
                    self.emit(out, "version", v1, &bytes)?;
                    seen = v1;
                    out.flush()?;
                    continue;
                }
            }
            std::thread::sleep(interval);
        }
        Ok(())
    }

    fn array(
        &mut self,
        out: &mut dyn Write,
        header: u64,
        capacity: u64,
        elem_size: u64,
        interval: Duration,
    ) -> Result<(), CliError> {
        const LIMIT: u64 = 64 << 20;
        let len = capacity.saturating_mul(elem_size).min(LIMIT);
        let n = len / elem_size;
        let mut old = self.bytes(header, n * elem_size)?;
        while !self.done() {
            std::thread::sleep(interval);
            let now = self.bytes(header, n * elem_size)?;
            for i in 0..n {
                let r = usize::try_from(i * elem_size).unwrap_or(usize::MAX)
                    ..usize::try_from((i + 1) * elem_size).unwrap_or(usize::MAX);
                if now.get(r.clone()) != old.get(r.clone()) && !self.done() {
                    let b = now.get(r).unwrap_or_default().to_vec();
                    self.emit(out, "index", i, &b)?;
                }
            }
            out.flush()?;
            old = now;
        }
        Ok(())
    }
}

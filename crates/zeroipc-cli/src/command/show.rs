//! `zeroipc show`: a segment's header and entry table with kinds, or one entry in detail.

use std::io::Write;

use serde_json::json;
use zeroipc::inspect::{Kind, classify, classify_all};
use zeroipc::{Entry, ReadOnlySegment};

use super::{CliError, fail, kind_json, open, printable};
use crate::cli::ElemType;

pub(crate) fn run(
    out: &mut dyn Write,
    segment: &str,
    entry: Option<&str>,
    as_type: Option<ElemType>,
    json: bool,
) -> Result<(), CliError> {
    let seg = open(segment)?;
    match entry {
        None => show_segment(out, &seg, json),
        Some(name) => show_entry(out, &seg, name, as_type, json),
    }
}

fn corrupt(seg: &ReadOnlySegment, e: impl std::fmt::Display) -> CliError {
    CliError::Message(format!("{}: corrupt segment: {e}", seg.name()))
}

fn show_segment(out: &mut dyn Write, seg: &ReadOnlySegment, json: bool) -> Result<(), CliError> {
    let h = seg.header().map_err(|e| corrupt(seg, e))?;
    let entries = classify_all(seg).map_err(|e| corrupt(seg, e))?;
    let mode = seg.mode_and_owner().ok();
    if json {
        let list: Vec<_> = entries
            .iter()
            .map(|(e, k)| {
                let mut v = json!({
                    "index": e.index(),
                    "name": e.name().to_string(),
                    "offset": e.offset(),
                    "size": e.size(),
                });
                if let (Some(obj), serde_json::Value::Object(kind)) =
                    (v.as_object_mut(), kind_json(k))
                {
                    obj.extend(kind);
                }
                v
            })
            .collect();
        let doc = json!({
            "segment": seg.name(),
            "size": seg.size(),
            "memory_size": h.memory_size,
            "version": h.version,
            "max_entries": h.max_entries,
            "entry_count": h.entry_count,
            "next_offset": h.next_offset,
            "table_size": h.table_size,
            "mode": mode.map(|(m, _)| format!("{m:04o}")),
            "owner_uid": mode.map(|(_, uid)| uid),
            "entries": list,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    let used = h.next_offset;
    let percent = if h.memory_size == 0 {
        0.0
    } else {
        ratio(used, h.memory_size)
    };
    writeln!(out, "segment      {}", printable(seg.name()))?;
    writeln!(out, "size         {} bytes (mapped)", seg.size())?;
    writeln!(out, "memory_size  {}", h.memory_size)?;
    writeln!(out, "version      {}", h.version)?;
    writeln!(
        out,
        "max_entries  {} (table {} bytes)",
        h.max_entries, h.table_size
    )?;
    writeln!(out, "entry_count  {}", h.entry_count)?;
    writeln!(out, "next_offset  {used} ({percent:.1}% used)")?;
    if let Some((m, uid)) = mode {
        writeln!(out, "mode         {m:04o}, owner uid {uid}")?;
    }
    writeln!(out)?;
    writeln!(
        out,
        "{:>4}  {:<31}  {:>10}  {:>10}  KIND",
        "#", "NAME", "OFFSET", "SIZE"
    )?;
    for (e, k) in &entries {
        writeln!(
            out,
            "{:>4}  {:<31}  {:>10}  {:>10}  {}",
            e.index(),
            printable(&e.name().to_string()),
            e.offset(),
            e.size(),
            k
        )?;
    }
    Ok(())
}

/// `used / total` in percent, for display only.
fn ratio(used: u64, total: u64) -> f64 {
    // Display precision only: both values are far below 2^53 for any real segment.
    #[allow(clippy::cast_precision_loss)]
    let r = used as f64 * 100.0 / total as f64;
    r
}

fn show_entry(
    out: &mut dyn Write,
    seg: &ReadOnlySegment,
    name: &str,
    as_type: Option<ElemType>,
    json: bool,
) -> Result<(), CliError> {
    let entry = seg
        .find(name)
        .map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))?;
    let kind = classify(seg, &entry);
    // Checked before anything is printed, so an error leaves stdout empty.
    let array = match as_type {
        Some(t) => Some(ArrayGeometry::read(seg, &entry, t)?),
        None => None,
    };
    if json {
        let mut doc = json!({
            "segment": seg.name(),
            "index": entry.index(),
            "name": entry.name().to_string(),
            "offset": entry.offset(),
            "size": entry.size(),
        });
        if let (Some(obj), serde_json::Value::Object(k)) = (doc.as_object_mut(), kind_json(&kind)) {
            obj.extend(k);
        }
        let Some(array) = array else {
            serde_json::to_writer_pretty(&mut *out, &doc)?;
            writeln!(out)?;
            return Ok(());
        };
        // Values are streamed: an array may be as large as the segment.
        let text = serde_json::to_string_pretty(&doc)?;
        let head = text.strip_suffix("\n}").unwrap_or(&text);
        write!(
            out,
            "{head},\n  \"as\": \"{}\",\n  \"values\": [",
            array.t.name()
        )?;
        let mut first = true;
        array.for_each(seg, |_, v| {
            let sep = if first { "" } else { "," };
            first = false;
            write!(out, "{sep}\n    {}", v.json)?;
            Ok(())
        })?;
        writeln!(out, "\n  ]\n}}")?;
        return Ok(());
    }
    writeln!(out, "segment  {}", printable(seg.name()))?;
    writeln!(
        out,
        "entry    {} (#{})",
        printable(&entry.name().to_string()),
        entry.index()
    )?;
    writeln!(out, "offset   {} (0x{:x})", entry.offset(), entry.offset())?;
    writeln!(out, "size     {} bytes", entry.size())?;
    match &kind {
        Kind::Ambiguous(candidates) => {
            writeln!(out, "kind     {kind}")?;
            for k in candidates {
                writeln!(out, "  could be {k}")?;
            }
        }
        k => {
            writeln!(out, "kind     {}", k.name())?;
            for (field, value) in k.fields() {
                writeln!(out, "  {field:<22} {value}")?;
            }
        }
    }
    if let Some(array) = array {
        writeln!(out, "values   {} x {}", array.capacity, array.t.name())?;
        array.for_each(seg, |i, v| {
            writeln!(out, "  [{i}] {}", v.text)?;
            Ok(())
        })?;
    }
    Ok(())
}

struct Value {
    text: String,
    json: serde_json::Value,
}

/// Where the elements of an Array entry are (C++/Go/Python layout, or the C layout), read
/// as `t`.
struct ArrayGeometry {
    t: ElemType,
    /// Segment offset of element 0.
    data: u64,
    capacity: u64,
}

impl ArrayGeometry {
    fn read(seg: &ReadOnlySegment, entry: &Entry, t: ElemType) -> Result<Self, CliError> {
        let head = seg
            .read_bytes(entry.offset(), entry.size().min(16))
            .map_err(|e| corrupt(seg, e))?;
        let word = |at: usize| {
            head.get(at..at + 8)
                .and_then(|b| b.try_into().ok())
                .map(u64::from_le_bytes)
        };
        let es = t.size();
        let fits = |header: u64, cap: u64| {
            cap.checked_mul(es).and_then(|d| d.checked_add(header)) == Some(entry.size())
        };
        let (header, capacity) = match (word(0), word(8)) {
            (Some(cap), _) if fits(8, cap) => (8, cap),
            (Some(cap), Some(stored_es)) if stored_es == es && fits(16, cap) => (16, cap),
            _ => {
                return fail(format!(
                    "{}: entry '{}' is not an array of {} ({} bytes, capacity field {})",
                    seg.name(),
                    printable(&entry.name().to_string()),
                    t.name(),
                    entry.size(),
                    word(0).map_or_else(|| "missing".to_owned(), |c| c.to_string()),
                ));
            }
        };
        Ok(Self {
            t,
            data: entry.offset() + header,
            capacity,
        })
    }

    /// Calls `f(index, value)` for every element, reading the segment in chunks.
    fn for_each(
        &self,
        seg: &ReadOnlySegment,
        mut f: impl FnMut(u64, Value) -> Result<(), CliError>,
    ) -> Result<(), CliError> {
        let es = self.t.size();
        let per_chunk = (64 * 1024) / es;
        let mut index = 0;
        while index < self.capacity {
            let n = (self.capacity - index).min(per_chunk);
            let bytes = seg
                .read_bytes(self.data + index * es, n * es)
                .map_err(|e| corrupt(seg, e))?;
            for b in bytes.chunks_exact(usize::try_from(es).unwrap_or(1)) {
                f(index, decode(self.t, b))?;
                index += 1;
            }
        }
        Ok(())
    }
}

fn decode(t: ElemType, b: &[u8]) -> Value {
    fn int(text: String, json: serde_json::Value) -> Value {
        Value { text, json }
    }
    fn float(v: f64, text: String) -> Value {
        let json = if v.is_finite() { json!(v) } else { json!(text) };
        Value { text, json }
    }
    let arr = |n: usize| -> [u8; 8] {
        let mut a = [0u8; 8];
        a[..n].copy_from_slice(&b[..n]);
        a
    };
    match t {
        ElemType::I8 => {
            let v = i8::from_le_bytes([b[0]]);
            int(v.to_string(), json!(v))
        }
        ElemType::U8 => int(b[0].to_string(), json!(b[0])),
        ElemType::I16 => {
            let v = i16::from_le_bytes([b[0], b[1]]);
            int(v.to_string(), json!(v))
        }
        ElemType::U16 => {
            let v = u16::from_le_bytes([b[0], b[1]]);
            int(v.to_string(), json!(v))
        }
        ElemType::I32 => {
            let v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            int(v.to_string(), json!(v))
        }
        ElemType::U32 => {
            let v = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            int(v.to_string(), json!(v))
        }
        ElemType::I64 => {
            let v = i64::from_le_bytes(arr(8));
            int(v.to_string(), json!(v))
        }
        ElemType::U64 => {
            let v = u64::from_le_bytes(arr(8));
            int(v.to_string(), json!(v))
        }
        ElemType::F32 => {
            let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
            // The shortest decimal that reads back as this f32, not its f64 widening.
            let text = format!("{v:?}");
            float(text.parse().unwrap_or(f64::NAN), text)
        }
        ElemType::F64 => {
            let v = f64::from_le_bytes(arr(8));
            float(v, format!("{v:?}"))
        }
    }
}

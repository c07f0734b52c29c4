//! `zeroipc show`: a segment's header and entry table with kinds, or one entry in detail.

use std::io::Write;

use serde_json::json;
use zeroipc::ReadOnlySegment;
use zeroipc::inspect::{
    Contents, Decoded, FieldValue, Inspection, Item, Kind, KindName, SlotState, TypeSpec, Value,
    classify_all, find_structure, read_as,
};
use zeroipc::segment::{CatalogKind, Record};

use super::{CliError, fail, kind_json, open, printable};

pub(crate) fn run(
    out: &mut dyn Write,
    segment: &str,
    entry: Option<&str>,
    as_type: Option<TypeSpec>,
    kind: Option<KindName>,
    json: bool,
) -> Result<(), CliError> {
    let seg = open(segment)?;
    match entry {
        None => show_segment(out, &seg, json),
        Some(name) => show_entry(out, &seg, name, as_type, kind, json),
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
    as_type: Option<TypeSpec>,
    forced: Option<KindName>,
    json: bool,
) -> Result<(), CliError> {
    let entry =
        find_structure(seg, name).map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))?;
    // The table and the catalog, read once for the classification and the decoding.
    let look = Inspection::new(seg).map_err(|e| corrupt(seg, e))?;
    let kind = match forced {
        None => look.classify(&entry),
        Some(k) => read_as(seg, &entry, k)
            .map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))?,
    };
    let mut d = look.decode(&entry, &kind, as_type.clone());
    let selected = as_type.as_ref().and_then(|t| select(&mut d, t));
    // Checked before anything is printed, so an error leaves stdout empty.
    if let Some(t) = &as_type {
        if let Some(why) = type_error(&d) {
            return fail(format!(
                "{}: entry '{}' cannot be read as {t}: {why}",
                seg.name(),
                printable(&entry.name().to_string())
            ));
        }
    }
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
        if let (Some(obj), serde_json::Value::Object(dj)) = (doc.as_object_mut(), decoded_json(&d))
        {
            obj.extend(dj);
            // The classified kind of this entry ("marker" for a composite's marker); the
            // structure decoded is "structure".
            obj.insert("kind".into(), kind.name().into());
        }
        if let (Some(obj), false) = (doc.as_object_mut(), d.candidates.is_empty()) {
            let list: Vec<_> = d.candidates.iter().map(decoded_json).collect();
            obj.insert("candidates".into(), list.into());
            if let Some(c) = selected.and_then(|i| d.candidates.get(i)) {
                // The reading the type selected, as if the entry were that kind.
                obj.insert("selected".into(), c.name.into());
                if let serde_json::Value::Object(cj) = decoded_json(c) {
                    obj.extend(cj);
                }
                obj.insert("kind".into(), kind.name().into());
            }
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
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
    if d.candidates.is_empty() {
        writeln!(out, "kind     {}", d.name)?;
        write_decoded(out, &d, as_type.as_ref(), "")?;
    } else if let (Some(c), Some(t)) = (selected.and_then(|i| d.candidates.get(i)), &as_type) {
        writeln!(out, "kind     {kind}")?;
        let names: Vec<&str> = d.candidates.iter().map(|c| c.name).collect();
        writeln!(
            out,
            "as       {t} selects {} (candidates: {})",
            c.name,
            names.join(", ")
        )?;
        writeln!(out, "read as  {}", c.name)?;
        write_decoded(out, c, as_type.as_ref(), "")?;
    } else {
        writeln!(out, "kind     {kind}")?;
        for c in &d.candidates {
            writeln!(out, "  could be {}", c.name)?;
            write_decoded(out, c, as_type.as_ref(), "  ")?;
        }
    }
    Ok(())
}

/// For an ambiguous entry read with `--as t`: marks the candidates the type fits as read
/// with it (their values are then shown) and returns the one the type selects: the only
/// candidate it fits, or, when it fits several, the one whose bytes agree with themselves
/// (a computed constant Lazy whose cached value is its constant). `None` when the type fits
/// no candidate or cannot tell them apart.
fn select(d: &mut Decoded, t: &TypeSpec) -> Option<usize> {
    let fitting: Vec<usize> = (0..d.candidates.len())
        .filter(|&i| d.candidates[i].type_error.is_none())
        .collect();
    for &i in &fitting {
        d.candidates[i].spec = Some(t.clone());
    }
    match fitting.as_slice() {
        [] => None,
        [one] => Some(*one),
        many => {
            let consistent: Vec<usize> = many
                .iter()
                .copied()
                .filter(|&i| {
                    let c = &d.candidates[i];
                    matches!(
                        c.kind,
                        Kind::Lazy {
                            state: 2,
                            op: Some(0),
                            ..
                        }
                    ) && matches!((&c.contents, c.operands.as_slice()),
                            (Contents::Value(v), [o]) if v == o)
                })
                .collect();
            match consistent.as_slice() {
                [one] => Some(*one),
                _ => None,
            }
        }
    }
}

/// Why `--as` does not apply: the decoded's type error, or, for an ambiguous entry, the
/// first candidate's when no candidate takes the type.
fn type_error(d: &Decoded) -> Option<String> {
    if d.candidates.is_empty() {
        return d.type_error.clone();
    }
    if d.candidates.iter().any(|c| c.type_error.is_none()) {
        return None;
    }
    let why: Vec<String> = d
        .candidates
        .iter()
        .filter_map(|c| c.type_error.clone())
        .collect();
    Some(why.join("; "))
}

/// Fields, fill, contents and problems of one decoded structure, as text.
fn write_decoded(
    out: &mut dyn Write,
    d: &Decoded,
    as_type: Option<&TypeSpec>,
    pad: &str,
) -> Result<(), CliError> {
    // The type the contents were decoded as: `--as`, or the catalog's.
    let used = d.spec.as_ref();
    for (field, value) in &d.fields {
        writeln!(out, "{pad}  {field:<22} {value}")?;
    }
    for (field, text) in &d.texts {
        writeln!(out, "{pad}  {field:<22} \"{}\"", printable(text))?;
    }
    if let Kind::Catalog { .. } = d.kind {
        writeln!(out, "{pad}records  {}", d.records.len())?;
        for r in &d.records {
            writeln!(out, "{pad}  {}", record_text(r))?;
        }
    }
    if let Some(r) = &d.record {
        writeln!(out, "{pad}catalog  {}", record_text(r))?;
    }
    if let (Some(t), false) = (used, d.operands.is_empty()) {
        let list: Vec<String> = d.operands.iter().map(Value::to_string).collect();
        writeln!(out, "{pad}operands [{}] ({t})", list.join(", "))?;
    }
    if let Some(f) = d.fill {
        writeln!(
            out,
            "{pad}fill     {}/{} ({:.1}%)",
            f.len,
            f.capacity,
            if f.capacity == 0 {
                0.0
            } else {
                ratio(f.len, f.capacity)
            }
        )?;
    }
    if let Some(list) = &d.free_list {
        let shown: Vec<String> = list.iter().take(64).map(u64::to_string).collect();
        let more = if list.len() > 64 { " ..." } else { "" };
        writeln!(out, "{pad}free     [{}{more}]", shown.join(", "))?;
    }
    if let (Some(t), None) = (used, &d.type_error) {
        match &d.contents {
            Contents::Value(v) => writeln!(out, "{pad}value    {v} ({t})")?,
            Contents::Values(items) => {
                writeln!(
                    out,
                    "{pad}values   {} x {t}, {}",
                    items.len(),
                    order(d.name)
                )?;
                for (i, item) in items.iter().enumerate() {
                    if d.name == "array" || d.name == "c_array" {
                        writeln!(out, "{pad}  [{i}] {}", item.value)?;
                    } else {
                        let node = if d.name == "pool" { "node" } else { "slot" };
                        writeln!(
                            out,
                            "{pad}  [{i}] {}  ({node} {}{})",
                            item.value,
                            item.slot,
                            state_note(item)
                        )?;
                    }
                }
            }
            Contents::Pairs(items) => {
                writeln!(out, "{pad}pairs    {} x {t}, in slot order", items.len())?;
                for item in items {
                    let key = item
                        .key
                        .as_ref()
                        .map_or_else(|| "?".to_owned(), ToString::to_string);
                    writeln!(
                        out,
                        "{pad}  {key} => {}  (slot {}{})",
                        item.value,
                        item.slot,
                        state_note(item)
                    )?;
                }
            }
            Contents::Members(items) => {
                writeln!(out, "{pad}members  {} x {t}, in slot order", items.len())?;
                for item in items {
                    writeln!(
                        out,
                        "{pad}  {}  (slot {}{})",
                        item.value,
                        item.slot,
                        state_note(item)
                    )?;
                }
            }
            _ => {}
        }
    }
    if let (Some(t), Some(why), false) = (as_type, &d.type_error, pad.is_empty()) {
        writeln!(out, "{pad}not as {t}: {}", printable(why))?;
    }
    if d.truncated {
        writeln!(
            out,
            "{pad}(not every item was decoded: too many, or past 64 MiB)"
        )?;
    }
    for p in &d.problems {
        writeln!(out, "{pad}problem  {}", printable(p))?;
    }
    Ok(())
}

fn order(kind: &str) -> &'static str {
    match kind {
        "queue" => "head first (pop order)",
        "stack" => "top first (pop order)",
        "ring" | "stream" => "read_pos first (read order)",
        "channel" => "head first (recv order)",
        "pool" => "allocated nodes",
        _ => "by index",
    }
}

fn state_note(item: &Item) -> String {
    match item.state {
        SlotState::Ready => String::new(),
        s => format!(", {s}"),
    }
}

/// A value as JSON: integers exact, finite floats as numbers (an f32 as its shortest
/// decimal), NaN and infinities as strings.
fn value_json(v: &Value) -> serde_json::Value {
    let text = v.to_string();
    match v {
        Value::Signed(i) => (*i).into(),
        Value::Unsigned(u) => (*u).into(),
        Value::Struct(fields) => fields.iter().map(value_json).collect::<Vec<_>>().into(),
        _ => match text.parse::<f64>() {
            Ok(f) if f.is_finite() => f.into(),
            _ => text.into(),
        },
    }
}

/// One catalog record on one line: `#3 jobs: queue of u64 (8 bytes, align 8) as u64`.
fn record_text(r: &Record) -> String {
    let mut line = format!("#{} {}: {}", r.entry_index, printable(&r.name), r.kind);
    if !r.type_name.is_empty() {
        line.push_str(&format!(" of {}", printable(&r.type_name)));
        if r.kind == CatalogKind::Map {
            line.push_str(&format!(
                " ({}+{} bytes, align {}+{})",
                r.elem_size, r.value_size, r.elem_align, r.value_align
            ));
        } else {
            line.push_str(&format!(" ({} bytes, align {})", r.elem_size, r.elem_align));
        }
    }
    if !r.layout.is_empty() {
        line.push_str(&format!(" as {}", printable(&r.layout)));
    }
    if r.parts.len() > 1 {
        let names: Vec<String> = r.entry_names().iter().map(|n| printable(n)).collect();
        line.push_str(&format!(" entries {}", names.join(",")));
    }
    line
}

/// A catalog record as JSON.
fn record_json(r: &Record) -> serde_json::Value {
    json!({
        "name": r.name,
        "entry_index": r.entry_index,
        "kind": r.kind.name(),
        "type_name": r.type_name,
        "elem_size": r.elem_size,
        "elem_align": r.elem_align,
        "value_size": r.value_size,
        "value_align": r.value_align,
        "layout": r.layout,
        "entries": r.entry_names(),
    })
}

fn field_json(v: &FieldValue) -> serde_json::Value {
    match v {
        FieldValue::Unsigned(u) => (*u).into(),
        FieldValue::Signed(i) => (*i).into(),
        FieldValue::Text(t) => (*t).into(),
        FieldValue::Bool(b) => (*b).into(),
        other => other.to_string().into(),
    }
}

/// `structure`, `fields`, `fill`, contents (`values`, `pairs`, `members` or `value`), the
/// slots not ready (`flagged`), `free_list`, `problems` and `truncated`.
fn decoded_json(d: &Decoded) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("kind".into(), d.kind.name().into());
    obj.insert("structure".into(), d.name.into());
    let fields: serde_json::Map<String, serde_json::Value> = d
        .fields
        .iter()
        .map(|(n, v)| ((*n).to_owned(), field_json(v)))
        .collect();
    obj.insert("fields".into(), fields.into());
    for (field, text) in &d.texts {
        obj.insert((*field).into(), text.clone().into());
    }
    if !d.operands.is_empty() {
        let list: Vec<_> = d.operands.iter().map(value_json).collect();
        obj.insert("operands".into(), list.into());
    }
    if let Some(f) = d.fill {
        obj.insert(
            "fill".into(),
            json!({ "len": f.len, "capacity": f.capacity }),
        );
    }
    if let Some(list) = &d.free_list {
        obj.insert("free_list".into(), list.clone().into());
    }
    if let (Some(t), None) = (&d.spec, &d.type_error) {
        obj.insert("as".into(), t.to_string().into());
    }
    if let Some(r) = &d.record {
        obj.insert("catalog".into(), record_json(r));
    }
    if let Kind::Catalog { .. } = d.kind {
        let list: Vec<_> = d.records.iter().map(record_json).collect();
        obj.insert("records".into(), list.into());
    }
    let items = match &d.contents {
        Contents::Value(v) => {
            obj.insert("value".into(), value_json(v));
            None
        }
        Contents::Values(items) => {
            let values: Vec<_> = items.iter().map(|i| value_json(&i.value)).collect();
            obj.insert("values".into(), values.into());
            if d.name != "array" && d.name != "c_array" {
                let slots: Vec<u64> = items.iter().map(|i| i.slot).collect();
                let key = if d.name == "pool" { "nodes" } else { "slots" };
                obj.insert(key.into(), slots.into());
            }
            Some(items)
        }
        Contents::Pairs(items) => {
            let pairs: Vec<_> = items
                .iter()
                .map(|i| {
                    json!([
                        i.key.as_ref().map_or(serde_json::Value::Null, value_json),
                        value_json(&i.value)
                    ])
                })
                .collect();
            obj.insert("pairs".into(), pairs.into());
            Some(items)
        }
        Contents::Members(items) => {
            let members: Vec<_> = items.iter().map(|i| value_json(&i.value)).collect();
            obj.insert("members".into(), members.into());
            Some(items)
        }
        _ => None,
    };
    if let Some(items) = items {
        let flagged: Vec<_> = items
            .iter()
            .enumerate()
            .filter(|(_, i)| i.state != SlotState::Ready)
            .map(|(n, i)| json!({ "index": n, "slot": i.slot, "state": i.state.as_str() }))
            .collect();
        obj.insert("flagged".into(), flagged.into());
    }
    if let Some(e) = &d.type_error {
        obj.insert("type_error".into(), e.clone().into());
    }
    obj.insert("problems".into(), d.problems.clone().into());
    if d.truncated {
        obj.insert("truncated".into(), true.into());
    }
    obj.into()
}

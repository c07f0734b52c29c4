//! `zeroipc list`: the objects in /dev/shm, ZeroIPC segments first-class, others on request.

use std::io::Write;

use serde_json::json;
use zeroipc::inspect::{Listing, Status, list_segments};

use super::{CliError, printable};
use crate::color::{Paint, paint};

/// Whether `status` is (or claims to be) a ZeroIPC segment: listed without `--all`.
fn is_zeroipc(status: &Status) -> bool {
    matches!(
        status,
        Status::Segment(_) | Status::Corrupt { .. } | Status::UnsupportedVersion { .. }
    )
}

/// `color`: paint the header and the status column (the last one, so alignment is kept).
pub(crate) fn run(out: &mut dyn Write, all: bool, json: bool, color: bool) -> Result<(), CliError> {
    let listings = list_segments().map_err(|e| {
        CliError::Message(format!("cannot read {}: {e}", zeroipc::inspect::SHM_DIR))
    })?;
    let shown: Vec<&Listing> = listings
        .iter()
        .filter(|l| all || is_zeroipc(&l.status))
        .collect();
    if json {
        let items: Vec<_> = shown.iter().map(|l| listing_json(l)).collect();
        serde_json::to_writer_pretty(&mut *out, &items)?;
        writeln!(out)?;
        return Ok(());
    }
    let width = shown
        .iter()
        .map(|l| printable(&l.name).chars().count())
        .max()
        .unwrap_or(4)
        .max(4);
    let head = format!(
        "{:<width$}  {:>12}  {:>9}  {:>12}  STATUS",
        "NAME", "SIZE", "ENTRIES", "USED"
    );
    writeln!(out, "{}", paint(color, Paint::Bold, &head))?;
    for l in shown {
        let name = printable(&l.name);
        match &l.status {
            Status::Segment(s) => writeln!(
                out,
                "{name:<width$}  {:>12}  {:>9}  {:>12}  {}",
                l.size,
                format!("{}/{}", s.entry_count, s.max_entries),
                s.next_offset,
                paint(color, Paint::Green, "ok"),
            )?,
            other => writeln!(
                out,
                "{name:<width$}  {:>12}  {:>9}  {:>12}  {}",
                l.size,
                "-",
                "-",
                paint(
                    color,
                    if is_zeroipc(other) {
                        Paint::Red
                    } else {
                        Paint::Yellow
                    },
                    &printable(&other.to_string())
                )
            )?,
        }
    }
    Ok(())
}

fn listing_json(l: &Listing) -> serde_json::Value {
    let mut v = json!({ "name": l.name, "size": l.size });
    let extra = match &l.status {
        Status::Segment(s) => json!({
            "status": "ok",
            "entry_count": s.entry_count,
            "max_entries": s.max_entries,
            "next_offset": s.next_offset,
            "used": s.next_offset,
            "table_size": s.table_size,
            "memory_size": s.memory_size,
        }),
        Status::Corrupt { reason } => json!({ "status": "corrupt", "reason": reason }),
        Status::UnsupportedVersion { found } => {
            json!({ "status": "unsupported_version", "version": found })
        }
        Status::NotZeroIpc(why) => json!({ "status": "not_zeroipc", "reason": why.to_string() }),
        Status::Unreadable { reason } => json!({ "status": "unreadable", "reason": reason }),
        other => json!({ "status": "other", "reason": other.to_string() }),
    };
    if let (Some(obj), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
        obj.extend(extra);
    }
    v
}

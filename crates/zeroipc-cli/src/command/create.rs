//! `zeroipc create`: an empty segment, exclusively unless `--replace`.

use std::io::Write;
use std::path::Path;

use serde_json::json;
use zeroipc::SegmentOptions;
use zeroipc::inspect::SHM_DIR;

use super::{CliError, display_name, printable};

/// What to create.
#[derive(Debug)]
pub(crate) struct Request<'a> {
    pub(crate) segment: &'a str,
    pub(crate) size: u64,
    pub(crate) max_entries: u32,
    pub(crate) mode: u32,
    pub(crate) replace: bool,
}

pub(crate) fn run(out: &mut dyn Write, req: &Request<'_>, json: bool) -> Result<(), CliError> {
    let options = SegmentOptions::new()
        .size(req.size)
        .max_entries(req.max_entries)
        .mode(req.mode);
    // Only for the report: whether something was there to replace (another process may
    // create or remove the name meanwhile; the creation itself does not depend on this).
    let existed = req.replace
        && Path::new(SHM_DIR)
            .join(req.segment.trim_start_matches('/'))
            .exists();
    let created = if req.replace {
        options.create_or_replace(req.segment)
    } else {
        options.create_new(req.segment)
    };
    let seg = created.map_err(|e| match e {
        zeroipc::CreateError::AlreadyExists { name } => CliError::Message(format!(
            "{} already exists (remove it with 'zeroipc rm', or create with --replace)",
            printable(&name)
        )),
        other => CliError::Message(format!(
            "cannot create {}: {other}",
            printable(&display_name(req.segment))
        )),
    })?;
    let h = seg
        .header()
        .map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))?;
    let mode = seg.mode_and_owner().map_or(req.mode, |(m, _)| m);
    if json {
        let doc = json!({
            "segment": seg.name(),
            "size": seg.size(),
            "max_entries": h.max_entries,
            "table_size": h.table_size,
            "mode": format!("{mode:04o}"),
            "replaced": existed,
        });
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    let verb = if existed { "replaced" } else { "created" };
    writeln!(
        out,
        "{verb} {}: {} bytes, {} entries max (table {} bytes), mode {mode:04o}",
        printable(seg.name()),
        seg.size(),
        h.max_entries,
        h.table_size,
    )?;
    Ok(())
}

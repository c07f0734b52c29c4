//! `zeroipc rm`: remove a segment; other objects only with `--force`.

use std::io::Write;
use std::path::Path;

use zeroipc::inspect::SHM_DIR;
use zeroipc::{OpenError, Segment};

use super::{CliError, display_name, fail, printable};

/// What the object behind a name turned out to be.
enum Verdict {
    /// A valid ZeroIPC segment.
    Segment { size: u64, entries: u32 },
    /// Anything else, with why it is not a (valid) segment.
    Other(String),
}

pub(crate) fn run(out: &mut dyn Write, segment: &str, force: bool) -> Result<(), CliError> {
    let name = display_name(segment);
    let shown = printable(&name);
    let verdict = match Segment::open_read_only(segment) {
        // The mapping is dropped before the unlink below.
        Ok(seg) => match seg.header() {
            Ok(h) => Verdict::Segment {
                size: seg.size(),
                entries: h.entry_count,
            },
            Err(c) => Verdict::Other(format!("corrupt zeroipc segment: {c}")),
        },
        Err(OpenError::NotFound { .. }) => return fail(format!("{shown}: no such segment")),
        Err(e @ OpenError::InvalidName { .. }) => return fail(e.to_string()),
        Err(OpenError::NotInitialized { .. }) => Verdict::Other(
            "not a zeroipc segment (first word is 0: not initialised, or not zeroipc)".to_owned(),
        ),
        Err(OpenError::Corrupt(c)) => Verdict::Other(format!("not a valid zeroipc segment: {c}")),
        Err(e @ OpenError::Version { .. }) => Verdict::Other(e.to_string()),
        // Permission denied and the like: without --force, refuse what we cannot verify;
        // with it, the unlink below reports its own error if it fails too.
        Err(e) => Verdict::Other(format!("cannot be read: {e}")),
    };
    if let Verdict::Other(why) = &verdict {
        if !force {
            return fail(format!(
                "{shown}: {} (not removed; use --force to remove it anyway)",
                printable(why)
            ));
        }
    }
    let size = std::fs::metadata(Path::new(SHM_DIR).join(name.trim_start_matches('/')))
        .map(|m| m.len())
        .ok();
    Segment::unlink(&name).map_err(|e| match e {
        OpenError::NotFound { .. } => CliError::Message(format!("{shown}: no such segment")),
        other => CliError::Message(format!("cannot remove {shown}: {other}")),
    })?;
    match verdict {
        Verdict::Segment { size, entries } => writeln!(
            out,
            "removed {shown} (zeroipc segment, {size} bytes, {entries} entries)"
        )?,
        Verdict::Other(why) => writeln!(
            out,
            "removed {shown} ({}, {} bytes; --force)",
            printable(&why),
            size.map_or_else(|| "?".to_owned(), |s| s.to_string())
        )?,
    }
    Ok(())
}

//! Composite primitives (Event, RWLock, Monitor, Signal) occupy several table entries named
//! `base + suffix` (FORMAT.md §4.5, Appendix B). Creation is not atomic, so:
//!
//! - the longest composed name is checked **before** anything is created (upstream only
//!   notices when it reaches that sub-entry, leaving orphans: D-26);
//! - a base whose entries exist only in part (a creator crashed half-way, or an upstream
//!   creator hit D-26) is reported as [`Corruption::Field`] naming the missing entry, both by
//!   `create` and by `open`, instead of "not found" or "already exists".

use crate::error::{Corruption, StructureError, TableError};
use crate::layout::MAX_ENTRY_NAME_LEN;
use crate::segment::{Entry, Segment};

/// The entry names of `base` with `suffixes`, in creation order, after checking them all.
pub(crate) fn names(base: &str, suffixes: &[&str]) -> Result<Vec<String>, StructureError> {
    let longest = suffixes.iter().map(|s| s.len()).max().unwrap_or(0);
    let name = format!(
        "{base}{}",
        suffixes.iter().find(|s| s.len() == longest).unwrap_or(&"")
    );
    if base.is_empty() || name.len() > MAX_ENTRY_NAME_LEN || name.contains('\0') {
        return Err(TableError::InvalidName {
            len: name.len(),
            name,
        }
        .into());
    }
    Ok(suffixes.iter().map(|s| format!("{base}{s}")).collect())
}

fn half_created(base: &str, present: &[(String, bool)]) -> StructureError {
    let missing: Vec<&str> = present
        .iter()
        .filter(|(_, p)| !p)
        .map(|(n, _)| n.as_str())
        .collect();
    let found = present.iter().filter(|(_, p)| *p).count();
    Corruption::field(base, "composite entries", found as u64, format!(
            "all {} entries; missing {} (half-created: a creator died or failed mid-way, FORMAT.md D-26)",
            present.len(),
            missing.join(", ")
        ))
    .into()
}

/// Before creating: fails with `AlreadyExists` if every entry exists, and with the
/// half-created error if only some do.
pub(crate) fn check_absent(
    seg: &Segment,
    base: &str,
    names: &[String],
) -> Result<(), StructureError> {
    let present: Vec<(String, bool)> = names
        .iter()
        .map(|n| (n.clone(), seg.find(n).is_ok()))
        .collect();
    match present.iter().filter(|(_, p)| *p).count() {
        0 => Ok(()),
        n if n == present.len() => Err(TableError::AlreadyExists {
            name: base.to_owned(),
        }
        .into()),
        _ => Err(half_created(base, &present)),
    }
}

/// Opens all entries: `NotFound` if none exists, the half-created error if some are missing.
pub(crate) fn find_all(
    seg: &Segment,
    base: &str,
    names: &[String],
) -> Result<Vec<Entry>, StructureError> {
    let found: Vec<Option<Entry>> = names.iter().map(|n| seg.find(n).ok()).collect();
    if found.iter().all(Option::is_some) {
        return Ok(found.into_iter().flatten().collect());
    }
    if found.iter().all(Option::is_none) {
        return Err(TableError::NotFound {
            name: base.to_owned(),
        }
        .into());
    }
    let present: Vec<(String, bool)> = names
        .iter()
        .cloned()
        .zip(found.iter().map(Option::is_some))
        .collect();
    Err(half_created(base, &present))
}

/// Creates the 1-byte marker entry `name` (contents unused).
pub(crate) fn create_marker(seg: &Segment, name: &str) -> Result<Entry, StructureError> {
    seg.allocate(
        name,
        crate::layout::rwlock::MARKER_LEN,
        |_, _| -> Result<(), StructureError> { Ok(()) },
    )
}

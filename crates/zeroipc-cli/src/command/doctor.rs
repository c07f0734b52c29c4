//! `zeroipc doctor`: check a segment read-only and report what is wrong with it; or list
//! (and remove) the stale segments nobody uses.
//!
//! What is checked, per entry: the problems [`decode`] finds (impossible field values),
//! **stuck slots** (queue slots claimed but never published, stack slots in WRITING or
//! READING, map/set slots in INSERTING: a peer died mid-operation), **dead holders** (a
//! locked Mutex, an RwLock/Monitor/Signal mutex, a Semaphore or an executing Once whose
//! zeroipc holder process is gone, and Semaphore permits that the permit-holder registry
//! `__zeroipc_permits` records for a process that is gone), **half-created composites**
//! (parts of an Event, RwLock, Monitor, Signal, Stream or Channel missing), and sleeper
//! counters of the waiter registry that are non-zero while no other process uses the
//! segment.
//!
//! A slot or holder state that is part of an operation in progress is not a fault: stuck
//! slots are reported only when two snapshots [`RECHECK`] apart agree.
//!
//! `--repair` changes one thing only: the waiter-registry sleeper counters of a segment no
//! other process uses, each cleared only if it still holds the value read before the users
//! were checked ([`zeroipc::Segment::clear_dead_sleepers`]). A dead lock holder is left to
//! the library's takeover (the next zeroipc locker gets `OwnerDead`); everything else needs
//! the structure recreated. Every finding says which.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use serde_json::json;
use zeroipc::inspect::{
    Decoded, ElemType, FieldValue, Inspection, Kind, Removal, SlotState, TypeSpec,
    UnknownProcesses, process_exists, read_permit_registry, read_waiter_registry, remove_if_stale,
    segment_users, stale_segments,
};

use super::{CliError, display_name, fail, open, printable};

/// How long to wait before the second snapshot that confirms a stuck slot.
const RECHECK: Duration = Duration::from_millis(50);

/// One thing found wrong.
struct Finding {
    /// The entry it concerns (None: the segment as a whole).
    entry: Option<String>,
    /// `corrupt`, `stuck_slot`, `dead_holder`, `half_created` or `stale_sleepers`.
    category: &'static str,
    /// What is wrong.
    message: String,
    /// What fixes it (and whether `--repair` does).
    remedy: &'static str,
}

const RECREATE: &str = "not repairable: recreate the structure";
const RECLAIM: &str = "not repaired here: the next zeroipc acquirer that has to wait gives \
                       the permits back (it gets OwnerDead)";

const TAKEOVER: &str = "not repaired here: the next zeroipc lock/wait takes it over from \
                        the dead holder (OwnerDead / Recovered)";
const SLEEPERS: &str = "repairable with --repair (each counter is cleared only if unchanged \
                        since it was read); harmless otherwise: an extra FUTEX_WAKE per operation";

/// `zeroipc doctor SEGMENT`. Returns whether the segment is healthy.
pub(crate) fn run(
    out: &mut dyn Write,
    segment: &str,
    json: bool,
    repair: bool,
) -> Result<bool, CliError> {
    let seg = open(segment)?;
    // The table and the catalog, read once for every classification and decoding below.
    let look = Inspection::new(&seg)
        .map_err(|e| CliError::Message(format!("{}: corrupt segment: {e}", seg.name())))?;
    let entries = look.classify_all();
    // The sleeper counters, read before the users are looked up (see
    // `Segment::clear_dead_sleepers`).
    let observed: Option<Vec<u32>> = read_waiter_registry(&seg)
        .ok()
        .flatten()
        .map(|(_, counts)| counts);
    // The permit-holder registry's published slots, read once.
    let holdings = read_permit_registry(&seg).ok().flatten();
    let me = std::process::id();
    let users = segment_users(segment).ok();
    let others: Vec<u32> = users
        .as_ref()
        .map(|u| u.pids().into_iter().filter(|&p| p != me).collect())
        .unwrap_or_default();
    let usage_known = users
        .as_ref()
        .is_some_and(|u| u.unknown.is_empty() && !u.proc_restricted);

    let mut findings = Vec::new();
    let mut notes: Vec<(String, String)> = Vec::new();
    let first: Vec<Decoded> = entries
        .iter()
        .map(|(e, k)| look.decode(e, k, spec_for(k)))
        .collect();
    let any_slots = first.iter().any(|d| !stuck(d).is_empty());
    let second: Option<Vec<Decoded>> = any_slots.then(|| {
        std::thread::sleep(RECHECK);
        entries
            .iter()
            .map(|(e, k)| look.decode(e, k, spec_for(k)))
            .collect()
    });
    // A composite is decoded whole from each of its entries: report it once, under its
    // base name, and not again through its Mutex parts.
    let composite_bases: BTreeSet<String> = entries
        .iter()
        .zip(&first)
        .filter(|(_, d)| is_composite(d))
        .map(|((e, _), _)| base_name(&e.name().to_string()).to_owned())
        .collect();
    let mut reported = BTreeSet::new();
    for (i, ((entry, kind), d)) in entries.iter().zip(&first).enumerate() {
        let mut name = entry.name().to_string();
        let base = base_name(&name).to_owned();
        if is_composite(d) {
            if !reported.insert(base.clone()) {
                continue;
            }
            name = base;
        } else if base != name
            && composite_bases.contains(&base)
            && matches!(
                d.kind,
                Kind::Mutex { .. } | Kind::Semaphore { .. } | Kind::Ambiguous(_)
            )
        {
            continue;
        }
        let add = |findings: &mut Vec<Finding>, category, message, remedy| {
            findings.push(Finding {
                entry: Some(name.clone()),
                category,
                message,
                remedy,
            });
        };
        for p in &d.problems {
            let category = if p.contains("is missing") || p.contains(" bytes, expected ") {
                "half_created"
            } else {
                "corrupt"
            };
            add(&mut findings, category, p.clone(), RECREATE);
        }
        if let Some(again) = &second {
            let now: BTreeSet<(u64, String)> = stuck(&again[i]).into_iter().collect();
            for s in stuck(d).into_iter().filter(|s| now.contains(s)) {
                add(
                    &mut findings,
                    "stuck_slot",
                    format!(
                        "slot {} is {} (a peer died mid-operation, or is very slow)",
                        s.0, s.1
                    ),
                    RECREATE,
                );
            }
        }
        if spec_for(kind).is_none()
            && matches!(
                kind,
                Kind::Queue { .. } | Kind::Stack { .. } | Kind::Map { .. } | Kind::Set { .. }
            )
        {
            notes.push((
                name.clone(),
                format!(
                    "slot states not checked: its element size has no integer type ({})",
                    kind.name()
                ),
            ));
        }
        for h in held(d) {
            match h.pid {
                Some(pid) if !h.alive => add(
                    &mut findings,
                    "dead_holder",
                    format!("{} by process {pid}, which no longer exists", h.what),
                    TAKEOVER,
                ),
                Some(pid) => {
                    notes.push((name.clone(), format!("{} by live process {pid}", h.what)))
                }
                None => notes.push((
                    name.clone(),
                    format!(
                        "{}, holder unknown (no pid stored: a C++/C/Go/Python holder); not \
                         judged",
                        h.what
                    ),
                )),
            }
        }
        if let (Kind::PermitRegistry { .. }, Some((registry, held))) = (kind, &holdings)
            && registry == entry
        {
            for slot in held {
                let Some(sem) = entries.get(slot.semaphore_index as usize) else {
                    continue;
                };
                if slot.held == 0 {
                    continue;
                }
                let what = format!(
                    "{} permit(s) of semaphore {} held by process {}",
                    slot.held,
                    sem.0.name(),
                    slot.pid
                );
                if process_exists(slot.pid) {
                    notes.push((name.clone(), format!("{what} (alive)")));
                } else {
                    add(
                        &mut findings,
                        "dead_holder",
                        format!("{what}, which no longer exists"),
                        RECLAIM,
                    );
                }
            }
        }
        if let Kind::WaiterRegistry { sleepers, .. } = kind {
            if *sleepers > 0 && others.is_empty() {
                let message = format!(
                    "{sleepers} sleeper(s) registered while no other process uses the segment"
                );
                if usage_known {
                    add(&mut findings, "stale_sleepers", message, SLEEPERS);
                } else {
                    // A process we cannot inspect may really be sleeping: not a finding.
                    notes.push((
                        name.clone(),
                        format!(
                            "{message} that we can see (some processes could not be inspected)"
                        ),
                    ));
                }
            }
        }
    }
    let names: Vec<String> = entries.iter().map(|(e, _)| e.name().to_string()).collect();
    for (entry, message) in half_created(&names) {
        if !findings
            .iter()
            .any(|f| f.category == "half_created" && f.message == message)
        {
            findings.push(Finding {
                entry: Some(entry),
                category: "half_created",
                message,
                remedy: RECREATE,
            });
        }
    }

    let healthy = findings.is_empty();
    let mut repaired: Vec<String> = Vec::new();
    if repair && findings.iter().any(|f| f.category == "stale_sleepers") {
        if let Some(observed) = &observed {
            let rw = zeroipc::Segment::open(segment).map_err(|e| {
                CliError::Message(format!("cannot open {} to repair it: {e}", seg.name()))
            })?;
            let cleared = rw.clear_dead_sleepers(observed);
            repaired.push(format!(
                "__zeroipc_waiters: cleared {cleared} sleeper registration(s) of dead processes"
            ));
        }
    }
    let repair_note = "only dead processes' sleeper counters are ever changed; everything \
                       else is left as found (see each finding's remedy)";
    if json {
        let list: Vec<_> = findings
            .iter()
            .map(|f| {
                json!({
                    "entry": f.entry,
                    "category": f.category,
                    "message": f.message,
                    "remedy": f.remedy,
                })
            })
            .collect();
        let mut doc = json!({
            "segment": seg.name(),
            "healthy": healthy,
            "entries": entries.len(),
            "findings": list,
            "notes": notes.iter().map(|(e, m)| json!({ "entry": e, "message": m })).collect::<Vec<_>>(),
            "users": users.as_ref().map(|u| json!({
                "mapped_by": u.mapped_by.iter().filter(|&&p| p != me).collect::<Vec<_>>(),
                "open_in": u.open_in.iter().filter(|&&p| p != me).collect::<Vec<_>>(),
                "unknown": u.unknown,
                "proc_restricted": u.proc_restricted,
            })),
        });
        if repair {
            doc["repaired"] = json!(repaired);
            doc["repair_note"] = repair_note.into();
        }
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(healthy);
    }
    writeln!(
        out,
        "{}: {} entries, {} bytes",
        printable(seg.name()),
        entries.len(),
        seg.size()
    )?;
    match &users {
        Some(u) => {
            let list = |v: &[u32]| {
                v.iter()
                    .filter(|&&p| p != me)
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(" ")
            };
            writeln!(
                out,
                "users: mapped by [{}], open in [{}]{}",
                list(&u.mapped_by),
                list(&u.open_in),
                if u.unknown.is_empty() && !u.proc_restricted {
                    String::new()
                } else {
                    format!(
                        "; {} process(es) could not be inspected",
                        u.unknown.len().max(1)
                    )
                }
            )?;
        }
        None => writeln!(out, "users: unknown (/proc could not be read)")?,
    }
    for f in &findings {
        writeln!(
            out,
            "{} {}: {}\n    {}",
            f.category,
            printable(f.entry.as_deref().unwrap_or("-")),
            printable(&f.message),
            f.remedy
        )?;
    }
    for (entry, note) in &notes {
        writeln!(out, "note {}: {}", printable(entry), printable(note))?;
    }
    if healthy {
        writeln!(out, "healthy: no problems found")?;
    } else {
        writeln!(out, "{} problem(s) found", findings.len())?;
    }
    if repair {
        for r in &repaired {
            writeln!(out, "repaired {}", printable(r))?;
        }
        writeln!(out, "repair: {repair_note}")?;
    }
    Ok(healthy)
}

/// Whether `d` is a composite decoded whole (from any of its entries).
fn is_composite(d: &Decoded) -> bool {
    matches!(d.name, "rwlock" | "monitor" | "signal")
}

/// `name` without a composite part suffix.
fn base_name(name: &str) -> &str {
    SUFFIXES
        .iter()
        .find_map(|s| name.strip_suffix(s).filter(|b| !b.is_empty()))
        .unwrap_or(name)
}

/// The part suffixes of composites (Appendix B), longest first where one ends another.
const SUFFIXES: [&str; 10] = [
    "_state", "_rmtx", "_wmtx", "_cond", "_count", "_header", "_buffer", "_slot", "_sem", "_mtx",
];

/// The type to decode a container's slots as, so their states are read (any type of the
/// element's size does: only the states matter here).
fn spec_for(kind: &Kind) -> Option<TypeSpec> {
    let by_size = |n: u64| match n {
        1 => Some(ElemType::U8),
        2 => Some(ElemType::U16),
        4 => Some(ElemType::U32),
        8 => Some(ElemType::U64),
        _ => None,
    };
    match kind {
        Kind::Queue { elem_size, .. }
        | Kind::Stack { elem_size, .. }
        | Kind::Set { elem_size, .. } => by_size((*elem_size).into()).map(TypeSpec::one),
        Kind::Map {
            key_size,
            value_size,
            ..
        } => Some(TypeSpec::pair(
            by_size((*key_size).into())?,
            by_size((*value_size).into())?,
        )),
        _ => None,
    }
}

/// The (slot, state) of every slot in the middle of an operation.
fn stuck(d: &Decoded) -> Vec<(u64, String)> {
    d.items()
        .iter()
        .filter(|i| {
            matches!(
                i.state,
                SlotState::Unpublished
                    | SlotState::Writing
                    | SlotState::Reading
                    | SlotState::Inserting
            )
        })
        .map(|i| (i.slot, i.state.as_str().to_owned()))
        .collect()
}

/// A lock (or Once) held right now, and by whom.
struct Held {
    /// The holder's pid, if a zeroipc holder stored it.
    pid: Option<u64>,
    /// Whether that process exists (false when no pid is known).
    alive: bool,
    /// "mutex held", "rwlock wmtx held", "once executing".
    what: String,
}

/// Every lock of `d` (and, for an ambiguous entry, of its Mutex/Semaphore/Once readings)
/// that is held now.
fn held(d: &Decoded) -> Vec<Held> {
    let mut out = Vec::new();
    if matches!(d.kind, Kind::Ambiguous(_)) {
        for c in &d.candidates {
            if matches!(
                c.kind,
                Kind::Mutex { .. } | Kind::Semaphore { .. } | Kind::Once { .. }
            ) {
                for mut h in held(c) {
                    h.what = format!("{} (if it is a {}: the entry is ambiguous)", h.what, c.name);
                    out.push(h);
                }
            }
        }
        return out;
    }
    let pid_of = |prefix: &str| match d.field(&format!("{prefix}_pid")) {
        Some(&FieldValue::Unsigned(p)) => Some((
            p,
            d.field(&format!("{prefix}_alive")) == Some(&FieldValue::Bool(true)),
        )),
        _ => None,
    };
    if matches!(d.kind, Kind::Once { .. }) {
        if d.field("state_code") == Some(&FieldValue::Unsigned(1)) {
            let p = pid_of("initialiser");
            out.push(Held {
                pid: p.map(|p| p.0),
                alive: p.is_some_and(|p| p.1),
                what: "once executing".to_owned(),
            });
        }
        return out;
    }
    for (name, value) in &d.fields {
        let Some(part) = name.strip_suffix("locked") else {
            continue;
        };
        if *value != FieldValue::Bool(true) {
            continue;
        }
        let p = pid_of(&format!("{part}holder"));
        let what = if part.is_empty() {
            format!("{} held", d.name)
        } else {
            format!("{} {} held", d.name, part.trim_end_matches('_'))
        };
        out.push(Held {
            pid: p.map(|p| p.0),
            alive: p.is_some_and(|p| p.1),
            what,
        });
    }
    // A Semaphore (a binary one is a Mutex's bytes): held while its count is 0 and a
    // zeroipc holder stored its pid.
    if matches!(d.kind, Kind::Semaphore { .. }) && d.field("count") == Some(&FieldValue::Signed(0))
    {
        if let Some((pid, alive)) = pid_of("holder") {
            out.push(Held {
                pid: Some(pid),
                alive,
                what: "semaphore taken".to_owned(),
            });
        }
    }
    out
}

/// Composites whose parts are missing, found from the entry names alone: (entry, message).
fn half_created(names: &[String]) -> Vec<(String, String)> {
    let has = |n: &str| names.iter().any(|x| x == n);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for n in names {
        let Some((base, suffix)) = [
            "_state", "_rmtx", "_wmtx", "_cond", "_count", "_header", "_buffer", "_slot", "_sem",
            "_mtx",
        ]
        .iter()
        .find_map(|s| n.strip_suffix(s).map(|b| (b, *s))) else {
            continue;
        };
        if base.is_empty() || !seen.insert(base.to_owned()) {
            continue;
        }
        let part = |s: &str| format!("{base}{s}");
        let (what, needed): (&str, Vec<String>) = if has(&part("_rmtx")) || has(&part("_wmtx")) {
            (
                "rwlock",
                vec![
                    part("_state"),
                    part("_rmtx"),
                    part("_wmtx"),
                    base.to_owned(),
                ],
            )
        } else if has(&part("_cond")) || has(&part("_count")) {
            (
                "monitor",
                vec![part("_mtx"), part("_cond"), part("_count"), base.to_owned()],
            )
        } else if has(&part("_state")) || (suffix == "_mtx" && has(&part("_mtx"))) {
            if has(&part("_mtx")) {
                (
                    "signal",
                    vec![part("_state"), part("_mtx"), base.to_owned()],
                )
            } else {
                ("rwlock or signal", vec![part("_state"), base.to_owned()])
            }
        } else if has(&part("_header")) || has(&part("_buffer")) || has(&part("_slot")) {
            if has(&part("_header")) && (has(&part("_buffer")) || has(&part("_slot"))) {
                continue;
            }
            if has(&part("_header")) {
                (
                    "stream or channel",
                    vec![format!("{base}_buffer' or '{base}_slot")],
                )
            } else {
                ("stream or channel", vec![part("_header")])
            }
        } else if suffix == "_sem" {
            ("event", vec![base.to_owned()])
        } else {
            continue;
        };
        let missing: Vec<&String> = needed.iter().filter(|p| !has(p)).collect();
        if missing.is_empty() {
            continue;
        }
        let list: Vec<String> = missing.iter().map(|m| format!("'{m}'")).collect();
        out.push((
            n.clone(),
            format!(
                "half-created {what} '{base}': {} missing (its creator died, or these names \
                 are not a composite)",
                list.join(", ")
            ),
        ));
    }
    out
}

/// `zeroipc doctor [SEGMENT] --stale [--remove]`. Processes whose `/proc` entries cannot be read
/// count as users unless `ignore_unknown`.
pub(crate) fn stale(
    out: &mut dyn Write,
    only: Option<&str>,
    remove: bool,
    ignore_unknown: bool,
    json: bool,
) -> Result<(), CliError> {
    let policy = if ignore_unknown {
        UnknownProcesses::Ignore
    } else {
        UnknownProcesses::CountAsUsers
    };
    let mut list = stale_segments(policy)
        .map_err(|e| CliError::Message(format!("cannot scan /dev/shm and /proc: {e}")))?;
    if let Some(name) = only {
        let name = display_name(name);
        list.retain(|u| u.name == name);
    }
    let mut rows = Vec::new();
    for u in &list {
        let outcome = if remove {
            match remove_if_stale(&u.name, policy) {
                Ok(Removal::Removed) => "removed".to_owned(),
                Ok(Removal::InUse(_)) => "kept: in use again".to_owned(),
                Ok(Removal::Unknown(_)) => "kept: some processes cannot be inspected".to_owned(),
                Ok(Removal::Replaced) => "kept: replaced by another object".to_owned(),
                Ok(_) => "kept".to_owned(),
                Err(e) => format!("not removed: {e}"),
            }
        } else {
            "stale".to_owned()
        };
        rows.push((u, outcome));
    }
    if json {
        let doc: Vec<_> = rows
            .iter()
            .map(|(u, outcome)| {
                json!({
                    "segment": u.name,
                    "uninspectable_processes": u.unknown,
                    "status": outcome,
                })
            })
            .collect();
        serde_json::to_writer_pretty(&mut *out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    if rows.is_empty() {
        writeln!(out, "no stale segments")?;
    }
    for (u, outcome) in rows {
        let note = if u.unknown.is_empty() {
            String::new()
        } else {
            format!(" ({} process(es) could not be inspected)", u.unknown.len())
        };
        writeln!(out, "{}: {outcome}{note}", printable(&u.name))?;
    }
    Ok(())
}

/// `doctor` without SEGMENT and without `--stale`.
pub(crate) fn missing_segment() -> Result<bool, CliError> {
    fail("doctor needs a SEGMENT, or --stale (see 'zeroipc doctor --help')")
}

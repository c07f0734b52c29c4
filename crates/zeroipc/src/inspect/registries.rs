//! zeroipc's two registries read from a snapshot, for tools: the permit-holder registry
//! (which process holds how many permits of which semaphore) and the waiter registry's
//! sleeper counters. The library itself reads them live (`segment::permits`,
//! `segment::waiters`); these readers use the same constants, so the CLI's `doctor` parses no
//! bytes of its own.
//!
//! # Layout
//!
//! The registries' own (`segment/permits.rs`, `segment/waiters.rs`, docs/EXTENSIONS.md):
//! permit slots of [`SLOT_BYTES`](crate::segment::permits::SLOT_BYTES) bytes (`pid`,
//! `entry_index`, `held`, `intent`), and a `data` and a `room` counter (`u32`) per table
//! slot.
//!
//! # Concurrency
//!
//! A snapshot: a slot being claimed (its `pid` has the pending bit) is skipped, and counters
//! may change right after they are read.

use crate::error::Corruption;
use crate::segment::permits::{PENDING, PERMITS_ENTRY, PERMITS_LEN, SLOT_BYTES, SLOT_FIELDS};
use crate::segment::waiters::WAITERS_ENTRY;
use crate::segment::{Entry, ReadOnlySegment};

/// One published slot of the permit-holder registry: process `pid` holds `held` permits of
/// the semaphore at table index `semaphore_index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PermitHolding {
    /// The holder's pid.
    pub pid: u32,
    /// The semaphore's index in the segment's table.
    pub semaphore_index: u32,
    /// Permits it holds.
    pub held: u32,
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The published slots of a permit-registry snapshot (the bytes of its entry). Free slots
/// and slots being claimed are left out; a short last slot is ignored.
///
/// # Examples
///
/// ```
/// use zeroipc::inspect::{PermitHolding, permit_holdings};
/// let mut bytes = vec![0u8; 32];
/// bytes[0..4].copy_from_slice(&42u32.to_le_bytes()); // pid
/// bytes[4..8].copy_from_slice(&3u32.to_le_bytes()); // entry_index
/// bytes[8..12].copy_from_slice(&2u32.to_le_bytes()); // held
/// assert_eq!(
///     permit_holdings(&bytes),
///     [PermitHolding { pid: 42, semaphore_index: 3, held: 2 }]
/// );
/// ```
#[must_use]
pub fn permit_holdings(bytes: &[u8]) -> Vec<PermitHolding> {
    let (pid, entry, held) = SLOT_FIELDS;
    bytes
        .chunks_exact(SLOT_BYTES)
        .filter_map(|s| {
            Some(PermitHolding {
                pid: u32_at(s, pid)?,
                semaphore_index: u32_at(s, entry)?,
                held: u32_at(s, held)?,
            })
        })
        .filter(|s| s.pid != 0 && s.pid & PENDING == 0)
        .collect()
}

/// Slots of a permit-registry snapshot in use: published or being claimed (a non-zero
/// `pid`).
pub(crate) fn permit_slots_in_use(bytes: &[u8]) -> u32 {
    let n = bytes
        .chunks_exact(SLOT_BYTES)
        .filter(|s| u32_at(s, SLOT_FIELDS.0).is_some_and(|pid| pid != 0))
        .count();
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The sleeper counters of a waiter-registry snapshot, in table order: `data` then `room`
/// for each table slot (what [`Segment::clear_dead_sleepers`](crate::Segment::clear_dead_sleepers)
/// takes as `observed`).
///
/// # Examples
///
/// ```
/// let bytes = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0];
/// assert_eq!(zeroipc::inspect::sleeper_counts(&bytes), [1, 0, 0, 2]);
/// ```
#[must_use]
pub fn sleeper_counts(bytes: &[u8]) -> Vec<u32> {
    bytes.chunks_exact(4).filter_map(|w| u32_at(w, 0)).collect()
}

/// The permit-holder registry of `seg`, if it has one: its entry and its published slots.
///
/// # Errors
///
/// [`Corruption`] if the registry's entry lies outside the mapping.
///
/// # Examples
///
/// ```
/// use zeroipc::{SegmentOptions, Segment, inspect::read_permit_registry, sync::Semaphore};
/// # let name = format!("/zeroipc-doc-permit-registry-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let s = Semaphore::create(&seg, "jobs", 2, 0)?; // creates the registry
/// s.acquire()?;
/// let ro = Segment::open_read_only(&name)?;
/// let (_, held) = read_permit_registry(&ro)?.expect("a registry");
/// assert_eq!(held[0].pid, std::process::id());
/// assert_eq!(held[0].held, 1);
/// # s.release()?;
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_permit_registry(
    seg: &ReadOnlySegment,
) -> Result<Option<(Entry, Vec<PermitHolding>)>, Corruption> {
    let Ok(entry) = seg.find(PERMITS_ENTRY) else {
        return Ok(None);
    };
    if entry.size() != PERMITS_LEN {
        return Ok(None);
    }
    let bytes = seg.read_bytes(entry.offset(), entry.size())?;
    Ok(Some((entry, permit_holdings(&bytes))))
}

/// The waiter registry of `seg`, if it has one: its entry and its sleeper counters
/// ([`sleeper_counts`]).
///
/// # Errors
///
/// [`Corruption`] if the registry's entry lies outside the mapping.
///
/// # Examples
///
/// ```
/// use zeroipc::{SegmentOptions, Segment, inspect::read_waiter_registry, structures::Queue};
/// # let name = format!("/zeroipc-doc-waiter-registry-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// Queue::<u32>::create(&seg, "q", 4)?; // creates the registry
/// let ro = Segment::open_read_only(&name)?;
/// let (_, counts) = read_waiter_registry(&ro)?.expect("a registry");
/// assert!(counts.iter().all(|&c| c == 0), "nobody sleeps");
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_waiter_registry(
    seg: &ReadOnlySegment,
) -> Result<Option<(Entry, Vec<u32>)>, Corruption> {
    let Ok(entry) = seg.find(WAITERS_ENTRY) else {
        return Ok(None);
    };
    if entry.size() != 8 * u64::from(seg.max_entries()) {
        return Ok(None);
    }
    let bytes = seg.read_bytes(entry.offset(), entry.size())?;
    Ok(Some((entry, sleeper_counts(&bytes))))
}

/// Whether process `pid` exists as far as the kernel tells this process (`kill(pid, 0)`: a
/// zombie counts; a process in another pid namespace does not): the check the library's
/// dead-holder takeovers make, for tools that report dead holders.
///
/// # Examples
///
/// ```
/// assert!(zeroipc::inspect::process_exists(std::process::id()));
/// ```
#[must_use]
pub fn process_exists(pid: u32) -> bool {
    crate::wait::pid_alive(pid)
}

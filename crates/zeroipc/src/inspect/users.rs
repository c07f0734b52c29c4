//! Who uses a segment: the processes that map it or hold it open, found through `/proc`.
//!
//! POSIX shared memory has no reference count that outlives processes: a segment stays in
//! `/dev/shm` until someone unlinks it, even when every process that used it has exited
//! (FORMAT.md §2.4). [`segment_users`] and [`stale_segments`] find segments nobody uses any
//! more; [`remove_if_stale`] removes one after checking again.
//!
//! # How users are found
//!
//! The object behind `/dev/shm/<name>` is identified by its device and inode numbers (so an
//! object that was unlinked and recreated under the same name is a different object). For
//! every process in `/proc`:
//!
//! * `/proc/<pid>/maps` lists its mappings with device and inode: a match is a **mapper**;
//! * `/proc/<pid>/fd/*` are its open descriptors; `stat` through each link gives device and
//!   inode: a match is a **holder**.
//!
//! A process whose `maps` or `fd` cannot be read (another user's process when we are not
//! root; a non-dumpable process or a sandbox's init even for root) is reported in
//! [`SegmentUsers::unknown`], never as "not a user": such a segment is [`Usage::Unknown`],
//! not [`Usage::Unused`]. Whether "unknown" blocks removal is the caller's choice
//! ([`UnknownProcesses`]). Processes that exit during the scan are skipped.
//!
//! # Limits
//!
//! * **Pid namespaces.** Only processes visible in this process's `/proc` are seen. A process
//!   in another pid namespace (a container sharing `/dev/shm` with us, or the host seen from
//!   inside a container) can use a segment that is reported unused.
//! * **`hidepid`.** With `/proc` mounted `hidepid=2` (`invisible`), other users' processes
//!   are not listed at all. This is detected (from `/proc/self/mountinfo`) for non-root
//!   callers and makes every answer [`Usage::Unknown`].
//! * **Later re-opens.** A process that closed its descriptor and unmapped the segment, but
//!   will `shm_open` it by name again later, is not a user now; removing the segment makes
//!   its next open fail with `NotFound` (or, for an upstream creator, recreate it empty).
//! * **Races.** The answer is a snapshot. [`remove_if_stale`] scans, checks that the name
//!   still refers to the same object, then unlinks: a process that opens the segment between
//!   that scan and the unlink keeps using the (now nameless) object and shares nothing with
//!   processes that open the name afterwards. Only an agreement between the programs (one
//!   owner that removes its segments) closes that window.
//! * **Threads with their own descriptor table** (`clone` without `CLONE_FILES`) are seen
//!   through their process's mappings only, not through their private descriptors.
//!
//! # Examples
//!
//! ```
//! use zeroipc::{Segment, SegmentOptions};
//! use zeroipc::inspect::{segment_users, Usage};
//! # let name = format!("/zeroipc-doc-users-{}", std::process::id());
//! let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
//! let users = segment_users(&name)?;
//! assert!(users.mapped_by.contains(&std::process::id())); // we map it
//! assert_eq!(users.usage(), Usage::InUse);
//! drop(seg);
//! # Segment::unlink(&name)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;

use super::{SHM_DIR, Status, list_segments};
use crate::segment::Segment;

/// The processes that use one segment, as [`segment_users`] found them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SegmentUsers {
    /// The segment name, with its leading `/`.
    pub name: String,
    /// Processes with a mapping of the object (`/proc/<pid>/maps`), sorted.
    pub mapped_by: Vec<u32>,
    /// Processes with an open descriptor for the object (`/proc/<pid>/fd`), sorted.
    pub open_in: Vec<u32>,
    /// Processes that could not be inspected (permission denied): they may be users.
    pub unknown: Vec<u32>,
    /// `/proc` hides other users' processes from us (`hidepid=2`): any of them may be a user.
    pub proc_restricted: bool,
}

/// Whether a segment is in use, as far as `/proc` can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Usage {
    /// At least one process maps it or holds it open.
    InUse,
    /// No visible process uses it, but some processes could not be inspected.
    Unknown,
    /// No process maps it or holds it open: it is stale.
    Unused,
}

/// What to do about processes whose `/proc` entries cannot be read.
///
/// Strictly, such a process may use any segment, so [`CountAsUsers`](Self::CountAsUsers) is
/// the safe choice. But some processes are unreadable even to root: non-dumpable ones
/// (`prctl(PR_SET_DUMPABLE, 0)`, setuid programs), and a sandbox's own init seen from inside
/// a user namespace. Where such processes always exist, no segment can ever be proven
/// unused, and a caller that knows its machine may choose [`Ignore`](Self::Ignore): then
/// only the processes that *can* be read decide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnknownProcesses {
    /// An uninspectable process (or a `hidepid` `/proc`) means "maybe in use": keep.
    CountAsUsers,
    /// Decide from the processes that can be inspected only.
    Ignore,
}

impl SegmentUsers {
    /// Every process known to use the segment (mappers and holders), sorted.
    #[must_use]
    pub fn pids(&self) -> Vec<u32> {
        let all: BTreeSet<u32> = self
            .mapped_by
            .iter()
            .chain(&self.open_in)
            .copied()
            .collect();
        all.into_iter().collect()
    }

    /// The verdict: in use, unknown, or unused.
    #[must_use]
    pub fn usage(&self) -> Usage {
        if !self.mapped_by.is_empty() || !self.open_in.is_empty() {
            Usage::InUse
        } else if !self.unknown.is_empty() || self.proc_restricted {
            Usage::Unknown
        } else {
            Usage::Unused
        }
    }

    /// Whether no process uses the segment: [`Usage::Unused`], or also [`Usage::Unknown`]
    /// when `unknown` is [`UnknownProcesses::Ignore`].
    #[must_use]
    pub fn is_stale(&self, unknown: UnknownProcesses) -> bool {
        match self.usage() {
            Usage::Unused => true,
            Usage::Unknown => unknown == UnknownProcesses::Ignore,
            Usage::InUse => false,
        }
    }
}

/// What [`remove_if_stale`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Removal {
    /// The segment was unused and has been unlinked.
    Removed,
    /// A process uses it; nothing was removed.
    InUse(SegmentUsers),
    /// Some processes could not be inspected and they count as users; nothing was removed.
    Unknown(SegmentUsers),
    /// The name was replaced by another object during the check; nothing was removed.
    Replaced,
}

/// The identity of a shm object: device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct ObjectId {
    dev: u64,
    ino: u64,
}

impl ObjectId {
    /// `major:minor` of `dev` as glibc's `gnu_dev_major` / `gnu_dev_minor` decode it, which
    /// is how `/proc/<pid>/maps` prints it.
    fn major_minor(self) -> (u64, u64) {
        let d = self.dev;
        let major = ((d >> 32) & 0xffff_f000) | ((d >> 8) & 0x0000_0fff);
        let minor = ((d >> 12) & 0xffff_ff00) | (d & 0x0000_00ff);
        (major, minor)
    }
}

/// Stats `/dev/shm/<name>` without following links; only regular files are segments.
fn identify(name: &str) -> io::Result<(String, ObjectId)> {
    let name = crate::segment::name::normalize(name)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let meta = fs::symlink_metadata(format!("{SHM_DIR}{name}"))?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a shared-memory object (not a regular file)",
        ));
    }
    Ok((
        name,
        ObjectId {
            dev: meta.dev(),
            ino: meta.ino(),
        },
    ))
}

/// Whether an error reading `/proc/<pid>/...` means the process is gone.
fn gone(e: &io::Error) -> bool {
    // ESRCH (3): the process exited while we read its files.
    e.kind() == io::ErrorKind::NotFound || e.raw_os_error() == Some(3)
}

/// Parses one `/proc/<pid>/maps` line: `addr perms offset MM:mm inode [path]`.
fn maps_line_id(line: &[u8]) -> Option<((u64, u64), u64)> {
    let mut fields = line.split(|&b| b == b' ').filter(|f| !f.is_empty()).skip(3);
    let dev = std::str::from_utf8(fields.next()?).ok()?;
    let ino = std::str::from_utf8(fields.next()?).ok()?.parse().ok()?;
    let (major, minor) = dev.split_once(':')?;
    let major = u64::from_str_radix(major, 16).ok()?;
    let minor = u64::from_str_radix(minor, 16).ok()?;
    Some(((major, minor), ino))
}

/// Scans every process once for all `targets`; one [`SegmentUsers`] per target.
fn scan(targets: &[(String, ObjectId)]) -> io::Result<Vec<SegmentUsers>> {
    let restricted = proc_restricted();
    let mut out: Vec<SegmentUsers> = targets
        .iter()
        .map(|(name, _)| SegmentUsers {
            name: name.clone(),
            mapped_by: Vec::new(),
            open_in: Vec::new(),
            unknown: Vec::new(),
            proc_restricted: restricted,
        })
        .collect();
    let devs: Vec<((u64, u64), u64)> = targets
        .iter()
        .map(|(_, id)| (id.major_minor(), id.ino))
        .collect();
    for dirent in fs::read_dir("/proc")? {
        let Ok(dirent) = dirent else { continue };
        let Some(pid) = dirent
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let dir = dirent.path();
        let mut unreadable = false;
        // Mappings.
        match fs::read(dir.join("maps")) {
            Ok(text) => {
                for id in text.split(|&b| b == b'\n').filter_map(maps_line_id) {
                    for (i, want) in devs.iter().enumerate() {
                        if id == *want && !out[i].mapped_by.contains(&pid) {
                            out[i].mapped_by.push(pid);
                        }
                    }
                }
            }
            Err(e) if gone(&e) => continue,
            Err(_) => unreadable = true,
        }
        // Descriptors.
        match fs::read_dir(dir.join("fd")) {
            Ok(fds) => {
                for fd in fds.flatten() {
                    // `metadata` follows the magic link to the open file, even if unlinked.
                    let Ok(meta) = fs::metadata(fd.path()) else {
                        continue; // closed meanwhile, or not a file we can stat
                    };
                    for (i, (_, id)) in targets.iter().enumerate() {
                        if meta.dev() == id.dev
                            && meta.ino() == id.ino
                            && !out[i].open_in.contains(&pid)
                        {
                            out[i].open_in.push(pid);
                        }
                    }
                }
            }
            Err(e) if gone(&e) => continue,
            Err(_) => unreadable = true,
        }
        if unreadable {
            for u in &mut out {
                u.unknown.push(pid);
            }
        }
    }
    for u in &mut out {
        u.mapped_by.sort_unstable();
        u.open_in.sort_unstable();
        u.unknown.sort_unstable();
    }
    Ok(out)
}

/// Whether `/proc` hides other users' processes from us: mounted `hidepid=2` (or
/// `hidepid=invisible`) and we are not root.
fn proc_restricted() -> bool {
    let root = fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1)) // effective uid
            .is_some_and(|euid| euid == "0")
    });
    if root {
        return false;
    }
    fs::read_to_string("/proc/self/mountinfo").is_ok_and(|info| {
        info.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.nth(4) == Some("/proc")
                && l.split(" - ").nth(1).is_some_and(|sup| {
                    sup.contains("hidepid=2") || sup.contains("hidepid=invisible")
                })
        })
    })
}

/// The processes that currently map segment `name` or hold it open.
///
/// # Errors
///
/// `NotFound` if there is no such object, `InvalidInput` for an invalid name or an object
/// that is not a regular file, or the error reading `/dev/shm` or `/proc` itself. Processes
/// that cannot be inspected are not errors: they are listed in [`SegmentUsers::unknown`].
///
/// # Examples
///
/// See the [module documentation](self).
pub fn segment_users(name: &str) -> io::Result<SegmentUsers> {
    let target = identify(name)?;
    let mut users = scan(std::slice::from_ref(&target))?;
    Ok(users.pop().unwrap_or(SegmentUsers {
        name: target.0,
        mapped_by: Vec::new(),
        open_in: Vec::new(),
        unknown: Vec::new(),
        proc_restricted: false,
    }))
}

/// Every ZeroIPC segment in `/dev/shm` that no process maps or holds open.
///
/// Only objects with the ZeroIPC magic are considered (valid, corrupt, or of another format
/// version). An object whose creator died before storing the magic reads as
/// "not initialised" and cannot be told apart from another program's object: it is not
/// listed; check it by name with [`segment_users`]. Segments with [`Usage::Unknown`] are
/// listed only when `unknown` is [`UnknownProcesses::Ignore`] (their
/// [`SegmentUsers::unknown`] says which processes could not be inspected).
///
/// # Errors
///
/// The error reading `/dev/shm` or `/proc`.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions};
/// use zeroipc::inspect::{stale_segments, UnknownProcesses};
/// # let name = format!("/zeroipc-doc-stale-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let stale = || stale_segments(UnknownProcesses::Ignore);
/// assert!(!stale()?.iter().any(|s| s.name == name)); // we map it
/// drop(seg);
/// assert!(stale()?.iter().any(|s| s.name == name)); // nobody does now
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn stale_segments(unknown: UnknownProcesses) -> io::Result<Vec<SegmentUsers>> {
    let targets: Vec<(String, ObjectId)> = list_segments()?
        .into_iter()
        .filter(|l| {
            matches!(
                l.status,
                Status::Segment(_) | Status::Corrupt { .. } | Status::UnsupportedVersion { .. }
            )
        })
        .filter_map(|l| identify(&l.name).ok())
        .collect();
    Ok(scan(&targets)?
        .into_iter()
        .filter(|u| u.is_stale(unknown))
        .collect())
}

/// Unlinks segment `name` if, checked now, no process uses it.
///
/// Scans `/proc` (as [`segment_users`]; uninspectable processes treated as `unknown` says),
/// then checks that the name still refers to the object that was scanned, and only then
/// calls `shm_unlink`. Never trust an earlier
/// [`stale_segments`] answer instead: this re-checks. The window between the scan and the
/// unlink remains (see the [module documentation](self#limits)).
///
/// # Errors
///
/// As [`segment_users`], and the `shm_unlink` error (for example permission denied: the
/// sticky bit of `/dev/shm` lets only the owner remove an object).
///
/// # Examples
///
/// ```
/// use zeroipc::SegmentOptions;
/// use zeroipc::inspect::{remove_if_stale, Removal, UnknownProcesses};
/// # let name = format!("/zeroipc-doc-remove-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// let remove = || remove_if_stale(&name, UnknownProcesses::Ignore);
/// assert!(matches!(remove()?, Removal::InUse(_)));
/// drop(seg);
/// assert_eq!(remove()?, Removal::Removed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remove_if_stale(name: &str, unknown: UnknownProcesses) -> io::Result<Removal> {
    let (name, id) = identify(name)?;
    let users = segment_users(&name)?;
    match users.usage() {
        Usage::InUse => return Ok(Removal::InUse(users)),
        Usage::Unknown if unknown == UnknownProcesses::CountAsUsers => {
            return Ok(Removal::Unknown(users));
        }
        Usage::Unknown | Usage::Unused => {}
    }
    match identify(&name) {
        Ok((_, again)) if again == id => {}
        Ok(_) => return Ok(Removal::Replaced),
        Err(e) => return Err(e),
    }
    Segment::unlink(&name).map_err(|e| match e {
        crate::OpenError::NotFound { .. } => io::Error::new(io::ErrorKind::NotFound, e),
        crate::OpenError::Os { source, .. } => source,
        other => io::Error::other(other),
    })?;
    Ok(Removal::Removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_lines_parse() {
        let line = b"7f12a0000000-7f12a0100000 rw-s 00000000 00:1a 4242   /dev/shm/x (deleted)";
        assert_eq!(maps_line_id(line), Some(((0, 0x1a), 4242)));
        assert_eq!(maps_line_id(b""), None);
        assert_eq!(maps_line_id(b"garbage"), None);
    }

    /// glibc's `gnu_dev_makedev`.
    fn makedev(major: u64, minor: u64) -> u64 {
        ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
    }

    #[test]
    fn dev_numbers_decode_like_glibc() {
        let id = |dev| ObjectId { dev, ino: 0 };
        assert_eq!(id(0x801).major_minor(), (8, 1));
        for (major, minor) in [
            (0, 0x1a),
            (8, 1),
            (0x123, 0x45678),
            (0xfff_ffff, 0xfff_ffff),
        ] {
            assert_eq!(id(makedev(major, minor)).major_minor(), (major, minor));
        }
    }
}

//! The type catalog as classification uses it: records indexed by entry name (built once
//! per `classify_all`), the kind a record names, and what a record and the bytes disagree on.

#[allow(clippy::wildcard_imports)] // the inspect module's shared vocabulary
use super::*;

/// A catalog's records by the names of the entries they describe, so classifying every entry
/// stays linear however many records a (hostile) catalog holds.
#[derive(Default)]
pub(super) struct CatalogIndex {
    records: Vec<crate::segment::Record>,
    /// First entry name → record (the structure created at that entry).
    first: HashMap<Vec<u8>, usize>,
    /// Any part's entry name → record of the composite it belongs to.
    part: HashMap<Vec<u8>, usize>,
}

impl CatalogIndex {
    pub(super) fn new(catalog: Option<&Catalog>) -> Self {
        let mut index = Self::default();
        let Some(c) = catalog else {
            return index;
        };
        index.records.clone_from(&c.records);
        for (i, r) in index.records.iter().enumerate() {
            let names = r.entry_names();
            if let Some(first) = names.first() {
                index.first.entry(first.as_bytes().to_vec()).or_insert(i);
            }
            if names.len() > 1 {
                for n in names {
                    index.part.entry(n.into_bytes()).or_insert(i);
                }
            }
        }
        index
    }

    /// The record describing `entry` and whether it is `entry`'s own (not its composite's).
    fn lookup(&self, entry: &Entry) -> Option<(&crate::segment::Record, bool)> {
        let name = entry.name().as_bytes();
        if let Some(&i) = self.first.get(name) {
            let r = &self.records[i];
            if r.entry_index == entry.index() {
                return Some((r, true));
            }
        }
        self.part.get(name).map(|&i| (&self.records[i], false))
    }
}

/// The kind of `entry` given the catalog's word and the kind its bytes prove (`by_bytes`).
///
/// Where the catalog names a kind `read_as` can read, the entry is read as that kind, and
/// kept only if its geometry fits and the element size in its header is the catalog's
/// (the bytes win: otherwise `by_bytes`). Otherwise the catalog only picks among the
/// candidates of an ambiguous `by_bytes`.
pub(super) fn catalog_kind(
    seg: &ReadOnlySegment,
    entry: &Entry,
    index: &CatalogIndex,
    by_bytes: Kind,
) -> Kind {
    let (record, own) = match index.lookup(entry) {
        Some(found) => found,
        None => return by_bytes,
    };
    let as_kind = match record.kind {
        CatalogKind::Array => Some(KindName::Array),
        CatalogKind::Queue => Some(KindName::Queue),
        CatalogKind::Stack => Some(KindName::Stack),
        CatalogKind::Ring => Some(KindName::Ring),
        CatalogKind::Pool => Some(KindName::Pool),
        CatalogKind::Map => Some(KindName::Map),
        CatalogKind::Set => Some(KindName::Set),
        CatalogKind::Semaphore => Some(KindName::Semaphore),
        CatalogKind::Mutex => Some(KindName::Mutex),
        CatalogKind::Barrier => Some(KindName::Barrier),
        CatalogKind::Latch => Some(KindName::Latch),
        CatalogKind::Once => Some(KindName::Once),
        CatalogKind::Event => Some(KindName::Event),
        _ => None,
    };
    if let (Some(kind), true) = (as_kind, own) {
        return match read_as(seg, entry, kind) {
            Ok(k) if catalog_mismatch(&k, record).is_none() => k,
            _ => by_bytes,
        };
    }
    let fits: &[&str] = match record.kind {
        CatalogKind::Future => &["future"],
        CatalogKind::Lazy => &["lazy", "lazy_bool"],
        CatalogKind::Stream => &["stream_header", "ring"],
        CatalogKind::Channel => &["channel_header", "channel_slot", "queue"],
        _ => &[],
    };
    match by_bytes {
        Kind::Ambiguous(candidates) => {
            let mut matching: Vec<Kind> = candidates
                .iter()
                .filter(|k| fits.contains(&k.name()))
                .cloned()
                .collect();
            if matching.len() == 1 {
                matching.remove(0)
            } else {
                Kind::Ambiguous(candidates)
            }
        }
        k => k,
    }
}

/// Why the catalog's `record` contradicts what the structure's header says (`kind`), if it
/// does: the element sizes differ.
pub(crate) fn catalog_mismatch(kind: &Kind, record: &crate::segment::Record) -> Option<String> {
    let stored: Option<(&str, u64)> = match *kind {
        Kind::Array { elem_size, .. } | Kind::CArray { elem_size, .. } => {
            Some(("elem_size", elem_size))
        }
        Kind::Queue { elem_size, .. }
        | Kind::Stack { elem_size, .. }
        | Kind::Ring { elem_size, .. }
        | Kind::Pool { elem_size, .. }
        | Kind::Set { elem_size, .. } => Some(("elem_size", elem_size.into())),
        Kind::Map {
            key_size,
            value_size,
            ..
        } => {
            if u64::from(value_size) != u64::from(record.value_size) {
                return Some(format!(
                    "the catalog says value_size {}, the header says {value_size}; the header wins",
                    record.value_size
                ));
            }
            Some(("key_size", key_size.into()))
        }
        _ => None,
    };
    match stored {
        Some((field, n)) if n != u64::from(record.elem_size) => Some(format!(
            "the catalog says {field} {}, the header says {n}; the header wins",
            record.elem_size
        )),
        _ => None,
    }
}

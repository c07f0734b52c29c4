//! [`Inspection`]: one look at a segment, with its table and its type catalog read once, for
//! tools that classify and decode many entries (the CLI's `show`, `doctor`, `watch`). The
//! free functions ([`classify`](super::classify), [`decode`](super::decode),
//! [`catalog_type`](super::catalog_type)) read the catalog again on every call.

use super::decode::{catalog_type_in, decode_in};
use super::{Classifier, Decoded, Kind, TypeSpec};
use crate::error::Corruption;
use crate::segment::{Catalog, CatalogError, Entry, ReadOnlySegment};

/// A segment's table entries and type catalog, read once.
///
/// # Examples
///
/// ```
/// use zeroipc::{Segment, SegmentOptions, structures::Array};
/// use zeroipc::inspect::{Inspection, Kind};
/// # let name = format!("/zeroipc-doc-inspection-{}", std::process::id());
/// let seg = SegmentOptions::new().size(64 * 1024).create_new(&name)?;
/// Array::<f32>::create(&seg, "temps", 4)?.set(0, 23.5)?;
/// let ro = Segment::open_read_only(&name)?;
/// let look = Inspection::new(&ro)?;
/// for (entry, kind) in look.classify_all() {
///     let d = look.decode(&entry, &kind, None);
///     if matches!(kind, Kind::Array { .. }) {
///         assert_eq!(d.spec.unwrap().to_string(), "f32"); // from the catalog
///     }
/// }
/// # Segment::unlink(&name)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Inspection<'a> {
    seg: &'a ReadOnlySegment,
    entries: Vec<Entry>,
    catalog: Result<Option<Catalog>, CatalogError>,
}

impl<'a> Inspection<'a> {
    /// Reads the table and the catalog of `seg` (a catalog that is corrupt is kept as its
    /// error: decoding reports it, classifying ignores it).
    ///
    /// # Errors
    ///
    /// The [`Corruption`] of the first invalid table entry.
    pub fn new(seg: &'a ReadOnlySegment) -> Result<Self, Corruption> {
        Ok(Self {
            seg,
            entries: seg.entries()?,
            catalog: seg.catalog(),
        })
    }

    /// The table's entries, in table order.
    #[must_use]
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Every entry with its [`Kind`], in table order: [`classify_all`](super::classify_all)
    /// without reading the table or the catalog again.
    #[must_use]
    pub fn classify_all(&self) -> Vec<(Entry, Kind)> {
        let c = self.classifier();
        self.entries
            .iter()
            .map(|e| (e.clone(), c.classify(e)))
            .collect()
    }

    /// The [`Kind`] of one entry ([`classify`](super::classify)).
    #[must_use]
    pub fn classify(&self, entry: &Entry) -> Kind {
        self.classifier().classify(entry)
    }

    /// [`decode`](super::decode) with this inspection's catalog.
    #[must_use]
    pub fn decode(&self, entry: &Entry, kind: &Kind, spec: Option<TypeSpec>) -> Decoded {
        decode_in(self.seg, &self.catalog, entry, kind, spec)
    }

    /// [`catalog_type`](super::catalog_type) with this inspection's catalog.
    #[must_use]
    pub fn catalog_type(&self, entry: &Entry) -> Option<TypeSpec> {
        catalog_type_in(self.catalog.as_ref().ok()?.as_ref()?, entry)
    }

    fn classifier(&self) -> Classifier<'_> {
        let catalog = self.catalog.as_ref().ok().and_then(Option::as_ref);
        Classifier::new(self.seg, &self.entries, catalog)
    }
}

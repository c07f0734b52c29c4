//! [`Segment::describe`]: attaching a field layout to a structure's catalog record, so tools
//! decode user structs without `--as`.
//!
//! # Layout
//!
//! Writes one catalog record (docs/CATALOG.md §3) through `Segment::record`.
//!
//! # Synchronization
//!
//! As every catalog append: under the allocation lock, the record written before the
//! Release store of the catalog's `count` (see `segment::catalog`).
//!
//! # Process death
//!
//! A process killed mid-append publishes nothing; the old record stays in force.
#![forbid(unsafe_code)]

use std::fmt;

use super::decode::{Elem, ParseTypeError, TypeSpec};
use crate::layout::catalog::LAYOUT_LEN;
use crate::segment::{CatalogKind, Segment};

impl Segment {
    /// Records the field layout of the elements of the structure named `name`, so that
    /// `zeroipc show` decodes a user struct without `--as`.
    ///
    /// `layout` is in `zeroipc show --as` syntax: a C struct's fields in order,
    /// comma-separated, from `i8 u8 i16 u16 i32 u32 i64 u64 f32 f64` (`"i32,f32,f64,u8"`);
    /// for a Map, `KEY=VALUE` with each side a type or a struct. It is checked against the
    /// element size the structure was created with (C alignment rules: each field aligned to
    /// its size, the struct padded to its largest field). A new record is appended, so the
    /// catalog needs one free record.
    ///
    /// # Errors
    ///
    /// [`DescribeError`]: the segment has no catalog or it is full, no record for `name`,
    /// the layout does not parse, or its size is not the element size.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, structures::Array};
    /// #[derive(Clone, Copy, zerocopy::FromBytes, zerocopy::IntoBytes, zerocopy::Immutable, zerocopy::KnownLayout)]
    /// #[repr(C)]
    /// struct Sample { id: i32, gain: f32, t: f64, flag: u8, _pad: [u8; 7] }
    /// # let name = format!("/zeroipc-doc-describe-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
    /// Array::<Sample>::create(&seg, "samples", 4)?;
    /// seg.describe("samples", "i32,f32,f64,u8")?;
    /// assert_eq!(seg.catalog()?.unwrap().find("samples").unwrap().layout, "i32,f32,f64,u8");
    /// assert!(seg.describe("samples", "i32,f32").is_err()); // 8 bytes, not 24
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn describe(&self, name: &str, layout: &str) -> Result<(), DescribeError> {
        let catalog = self
            .catalog()
            .map_err(|e| DescribeError::NoCatalog(e.to_string()))?
            .ok_or_else(|| DescribeError::NoCatalog("the segment has none".to_owned()))?;
        let mut record = catalog
            .find(name)
            .cloned()
            .ok_or_else(|| DescribeError::NotRecorded {
                name: name.to_owned(),
            })?;
        let mut spec: TypeSpec = layout
            .parse()
            .map_err(|e: ParseTypeError| DescribeError::Layout(e.to_string()))?;
        let (es, vs) = (u64::from(record.elem_size), u64::from(record.value_size));
        if record.kind == CatalogKind::Map {
            spec = spec.as_pair(es, vs).ok_or_else(|| {
                DescribeError::Layout(format!("a map needs KEY=VALUE, not '{layout}'"))
            })?;
        } else if spec.value.is_some() {
            return Err(DescribeError::Layout(format!(
                "KEY=VALUE is for maps, '{}' is a {}",
                record.name, record.kind
            )));
        }
        let sizes = (spec.elem.size(), spec.value.as_ref().map(Elem::size));
        let expected = (es, (record.kind == CatalogKind::Map).then_some(vs));
        if sizes != expected {
            let text = |(k, v): (u64, Option<u64>)| match v {
                Some(v) => format!("{k}={v}"),
                None => k.to_string(),
            };
            return Err(DescribeError::Layout(format!(
                "'{layout}' is {} bytes, the element is {}",
                text(sizes),
                text(expected)
            )));
        }
        if spec.to_string().len() >= LAYOUT_LEN {
            return Err(DescribeError::Layout(format!(
                "'{layout}' is longer than {} bytes",
                LAYOUT_LEN - 1
            )));
        }
        if catalog.count >= catalog.capacity {
            return Err(DescribeError::NoCatalog("the catalog is full".to_owned()));
        }
        record.layout = spec.to_string();
        self.record(&record);
        Ok(())
    }
}

/// Why [`Segment::describe`] failed.
///
/// # Examples
///
/// ```
/// let e = zeroipc::inspect::DescribeError::NotRecorded { name: "x".into() };
/// assert_eq!(e.to_string(), "the catalog has no record for 'x'");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DescribeError {
    /// The segment has no usable catalog, or it is full.
    NoCatalog(String),
    /// No record for that structure.
    NotRecorded {
        /// The name asked for.
        name: String,
    },
    /// The layout does not parse or does not fit the element.
    Layout(String),
}

impl fmt::Display for DescribeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoCatalog(why) => write!(f, "no catalog to record in: {why}"),
            Self::NotRecorded { name } => write!(f, "the catalog has no record for '{name}'"),
            Self::Layout(why) => write!(f, "bad layout: {why}"),
        }
    }
}

impl std::error::Error for DescribeError {}

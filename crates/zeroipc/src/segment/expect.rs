//! Typed opens check the type catalog (issue #17).
//!
//! A structure's header says little about what it holds: a Mutex and a Semaphore share one
//! layout, and a `Future<u64>` and a `Future<u32>` differ only in bytes no header records.
//! Where the segment has a type catalog (every segment zeroipc creates, unless turned off),
//! its record for the entry is the creator's word on the kind and the element type, and an
//! open that contradicts it is refused with a typed error naming both:
//!
//! - **kind**: the recorded [`CatalogKind`](super::CatalogKind) must be the one the open expects;
//! - **element**: size and alignment must match, and so must the type's name with module
//!   paths removed (`demo::Reading` and `consumer::Reading` are the same `Reading`: two
//!   programs that share a struct usually define it in two crates). Names are compared only
//!   when both sides are Rust type names, which the catalog always holds.
//!
//! Nothing here makes an open fail for want of information: no catalog (a foreign segment,
//! or `SegmentOptions::catalog(false)`), a catalog that does not parse, or no record for the
//! name all mean "nothing to check". [`Segment::unchecked`] skips the check for raw use.
#![forbid(unsafe_code)]

use super::{Record, Segment};
use crate::error::StructureError;

impl Segment {
    /// A handle on the same segment whose typed opens do not check the type catalog.
    ///
    /// Opens through it accept any structure whose bytes fit, as opens in segments without a
    /// catalog do: for raw use, such as reading a Mutex's word as a Semaphore's count on
    /// purpose. Everything else (validation of the bytes, the table) is unchanged.
    ///
    /// # Examples
    ///
    /// ```
    /// use zeroipc::{Segment, SegmentOptions, StructureError, sync::{Mutex, Semaphore}};
    /// # let name = format!("/zeroipc-doc-unchecked-{}", std::process::id());
    /// let seg = SegmentOptions::new().size(1 << 20).create_new(&name)?;
    /// Mutex::create(&seg, "lock")?;
    /// // The catalog says "lock" is a Mutex: opening it as a Semaphore is refused...
    /// assert!(matches!(Semaphore::open(&seg, "lock"), Err(StructureError::KindMismatch { .. })));
    /// // ...unless asked for explicitly.
    /// let raw = Semaphore::open(&seg.unchecked(), "lock")?;
    /// # drop(raw);
    /// # Segment::unlink(&name)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn unchecked(&self) -> Segment {
        let mut seg = self.clone();
        seg.check_catalog = false;
        seg
    }

    /// Refuses an open that contradicts the catalog's record for `expected.name` (see the
    /// [module docs](self)). `expected` is the record the open would have written at create.
    pub(crate) fn check_catalog(&self, expected: &Record) -> Result<(), StructureError> {
        if !self.check_catalog {
            return Ok(());
        }
        let Ok(Some(catalog)) = self.catalog() else {
            return Ok(());
        };
        let Some(recorded) = catalog.find(&expected.name) else {
            return Ok(());
        };
        check(recorded, expected)
    }
}

/// The comparison itself, on two records (a unit-testable pure function).
fn check(recorded: &Record, expected: &Record) -> Result<(), StructureError> {
    if recorded.kind != expected.kind {
        return Err(StructureError::KindMismatch {
            entry: expected.name.clone(),
            recorded: recorded.kind,
            expected: expected.kind,
        });
    }
    let same_shape = recorded.elem_size == expected.elem_size
        && recorded.elem_align == expected.elem_align
        && recorded.value_size == expected.value_size
        && recorded.value_align == expected.value_align;
    let same_name = strip_paths(&recorded.type_name) == strip_paths(&expected.type_name);
    if same_shape && same_name {
        return Ok(());
    }
    Err(StructureError::TypeMismatch {
        entry: expected.name.clone(),
        recorded: describe(recorded),
        expected: describe(expected),
    })
}

/// `name (size bytes, align a)`, with a Map's value too.
fn describe(r: &Record) -> String {
    let mut s = format!(
        "{} ({} bytes, align {}",
        if r.type_name.is_empty() {
            "no element type"
        } else {
            &r.type_name
        },
        r.elem_size,
        r.elem_align
    );
    if r.value_size != 0 || r.value_align != 0 {
        s.push_str(&format!(
            "; values {} bytes, align {}",
            r.value_size, r.value_align
        ));
    }
    s.push(')');
    s
}

/// Removes module paths: `alloc::vec::Vec<demo::Reading>` becomes `Vec<Reading>`.
fn strip_paths(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(at) = rest.find("::") {
        out.push_str(&rest[..at]);
        // Drop the path segment just before `::` (the trailing identifier characters).
        let keep = out
            .trim_end_matches(|c: char| c.is_alphanumeric() || c == '_')
            .len();
        out.truncate(keep);
        rest = &rest[at + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::segment::CatalogKind;

    fn record(kind: CatalogKind, type_name: &str, size: u32, align: u32) -> Record {
        Record {
            name: "x".to_owned(),
            entry_index: 1,
            kind,
            type_name: type_name.to_owned(),
            elem_size: size,
            elem_align: align,
            value_size: 0,
            value_align: 0,
            layout: String::new(),
            parts: vec![String::new()],
        }
    }

    #[test]
    fn paths_are_stripped_at_every_level() {
        assert_eq!(strip_paths("u64"), "u64");
        assert_eq!(strip_paths("demo::Reading"), "Reading");
        assert_eq!(
            strip_paths("alloc::vec::Vec<demo::Reading>"),
            "Vec<Reading>"
        );
        assert_eq!(strip_paths("[a::b::C; 4]"), "[C; 4]");
        assert_eq!(strip_paths("u32=f64"), "u32=f64");
        assert_eq!(strip_paths("k::K=v::V"), "K=V");
    }

    #[test]
    fn kind_size_alignment_and_name_are_each_checked() {
        let q64 = record(CatalogKind::Queue, "u64", 8, 8);
        assert!(check(&q64, &q64).is_ok());
        assert!(check(&q64, &record(CatalogKind::Queue, "other::u64", 8, 8)).is_ok());
        assert!(matches!(
            check(&q64, &record(CatalogKind::Stack, "u64", 8, 8)),
            Err(StructureError::KindMismatch {
                recorded: CatalogKind::Queue,
                expected: CatalogKind::Stack,
                ..
            })
        ));
        for wrong in [
            record(CatalogKind::Queue, "u32", 4, 4),
            record(CatalogKind::Queue, "f64", 8, 8),
            record(CatalogKind::Queue, "u64", 8, 4),
        ] {
            let err = check(&q64, &wrong).unwrap_err();
            assert!(matches!(err, StructureError::TypeMismatch { .. }), "{err}");
            assert!(err.to_string().contains("u64 (8 bytes, align 8)"), "{err}");
        }
    }
}

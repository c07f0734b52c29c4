//! Segment names: POSIX shm names, normalised so Rust, C++, Go, C and the CLI reach the same
//! object. FORMAT.md §2.1 (Rust recommendation), IH-4.
#![forbid(unsafe_code)]

use crate::error::NameError;

/// `NAME_MAX` on Linux: the longest name after the leading slash.
pub(crate) const MAX_NAME_LEN: usize = 255;

/// Returns `name` with exactly one leading `/`, or why it cannot name a segment.
///
/// `"sensors"` and `"/sensors"` both become `"/sensors"` (glibc's `shm_open` strips the
/// slash, Go joins it under `/dev/shm`, Python concatenates: only the slashed form is the same
/// object everywhere).
pub(crate) fn normalize(name: &str) -> Result<String, NameError> {
    let bare = name.strip_prefix('/').unwrap_or(name);
    if bare.is_empty() {
        return Err(NameError::Empty);
    }
    if bare.contains('/') {
        return Err(NameError::InteriorSlash);
    }
    if bare.contains('\0') {
        return Err(NameError::Nul);
    }
    if bare.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong {
            len: bare.len(),
            max: MAX_NAME_LEN,
        });
    }
    Ok(format!("/{bare}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_exactly_one_leading_slash() {
        assert_eq!(normalize("sensors").unwrap(), "/sensors");
        assert_eq!(normalize("/sensors").unwrap(), "/sensors");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(normalize(""), Err(NameError::Empty));
        assert_eq!(normalize("/"), Err(NameError::Empty));
        assert_eq!(normalize("//x"), Err(NameError::InteriorSlash));
        assert_eq!(normalize("/a/b"), Err(NameError::InteriorSlash));
        assert_eq!(normalize("a\0b"), Err(NameError::Nul));
        assert_eq!(normalize(&"x".repeat(255)).unwrap().len(), 256);
        assert_eq!(
            normalize(&"x".repeat(256)),
            Err(NameError::TooLong { len: 256, max: 255 })
        );
    }
}

//! The subcommands, and what they share: the error type and text helpers.

pub(crate) mod bench;
pub(crate) mod create;
pub(crate) mod demo;
pub(crate) mod doctor;
pub(crate) mod dump;
pub(crate) mod list;
pub(crate) mod monitor;
pub(crate) mod rm;
pub(crate) mod show;
pub(crate) mod watch;

use std::fmt;
use std::io;

use zeroipc::inspect::{FieldValue, Kind};
use zeroipc::{OpenError, ReadOnlySegment, Segment};

/// Why a command failed: a message for the user, or an I/O error writing the output.
#[derive(Debug)]
pub(crate) enum CliError {
    /// A problem to report as is.
    Message(String),
    /// Writing to stdout failed.
    Io(io::Error),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Message(m) => f.write_str(m),
            Self::Io(e) => write!(f, "cannot write the output: {e}"),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        Self::Io(e.into())
    }
}

pub(crate) fn fail<T>(message: impl Into<String>) -> Result<T, CliError> {
    Err(CliError::Message(message.into()))
}

/// Opens `name` (with or without its leading '/') read-only.
pub(crate) fn open(name: &str) -> Result<ReadOnlySegment, CliError> {
    Segment::open_read_only(name).map_err(|e| match e {
        OpenError::Corrupt(_) | OpenError::Version { .. } => {
            CliError::Message(format!("{}: {e}", display_name(name)))
        }
        other => CliError::Message(other.to_string()),
    })
}

/// The segment name as the user meant it, with one leading '/'.
pub(crate) fn display_name(name: &str) -> String {
    format!("/{}", name.trim_start_matches('/'))
}

/// `s` with control characters escaped, so a hostile name cannot move the cursor or start
/// a new line.
pub(crate) fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

/// A kind as JSON: `{"kind": name, "fields": {...}}`, plus `"candidates"` when ambiguous.
pub(crate) fn kind_json(kind: &Kind) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    obj.insert("kind".into(), kind.name().into());
    obj.insert("fields".into(), fields_json(kind));
    if let Kind::Ambiguous(candidates) = kind {
        let list: Vec<_> = candidates
            .iter()
            .map(|k| serde_json::json!({ "kind": k.name(), "fields": fields_json(k) }))
            .collect();
        obj.insert("candidates".into(), list.into());
    }
    obj.into()
}

fn fields_json(kind: &Kind) -> serde_json::Value {
    let map: serde_json::Map<String, serde_json::Value> = kind
        .fields()
        .into_iter()
        .map(|(name, value)| {
            let v = match value {
                FieldValue::Unsigned(u) => u.into(),
                FieldValue::Signed(i) => i.into(),
                FieldValue::Text(t) => t.into(),
                _ => value.to_string().into(),
            };
            (name.to_owned(), v)
        })
        .collect();
    map.into()
}

//! Command-line definitions (clap derive) and nothing else.

use clap::{Parser, Subcommand, ValueEnum};

/// Inspect ZeroIPC shared-memory segments. Every command maps segments read-only and never
/// writes to them.
#[derive(Debug, Parser)]
#[command(
    name = "zeroipc",
    version,
    arg_required_else_help = true,
    after_help = "Examples:\n  zeroipc list\n  zeroipc show /sensors\n  zeroipc show sensors readings --as f64\n  \
                  zeroipc dump /sensors readings --len 0x20"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// List the ZeroIPC segments in /dev/shm with their size, entry count and space used.
    ///
    /// Objects that are not ZeroIPC segments (other programs' shared memory, POSIX
    /// semaphores, objects this user may not read) are hidden unless --all is given; corrupt
    /// ZeroIPC segments are always listed, with what is wrong.
    #[command(
        after_help = "Examples:\n  zeroipc list\n  zeroipc list --all\n  zeroipc list --json"
    )]
    List {
        /// Also list objects that are not ZeroIPC segments, marked as such.
        #[arg(short, long)]
        all: bool,
        /// Print a JSON array instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Show a segment's header and entry table with each entry's kind, or one entry.
    ///
    /// The kind is what the entry's bytes prove (the table stores no types): for example
    /// "queue", "ambiguous (semaphore | barrier)" when several kinds fit, or "unknown".
    #[command(
        after_help = "Examples:\n  zeroipc show /sensors\n  zeroipc show sensors --json\n  \
                            zeroipc show /sensors q_jobs\n  zeroipc show /sensors readings --as f32"
    )]
    Show {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Show only this entry, with its decoded header fields.
        entry: Option<String>,
        /// Print the values of an Array entry as this element type.
        #[arg(long = "as", value_name = "TYPE", requires = "entry")]
        as_type: Option<ElemType>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Hex + ASCII dump of a whole segment, one entry, or a range of either.
    ///
    /// 16 bytes a line, offsets absolute in the segment (as `hexdump -C`). With ENTRY,
    /// --offset and --len are relative to the entry's bytes.
    #[command(
        after_help = "Examples:\n  zeroipc dump /sensors\n  zeroipc dump /sensors readings\n  \
                            zeroipc dump /sensors readings --offset 8 --len 16\n  \
                            zeroipc dump sensors --offset 0x20 --len 0x30 --json"
    )]
    Dump {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Dump only this entry's bytes.
        entry: Option<String>,
        /// Start of the range, relative to the entry when ENTRY is given (decimal or 0x hex).
        #[arg(long, value_name = "N", value_parser = parse_number)]
        offset: Option<u64>,
        /// Length of the range in bytes (decimal or 0x hex); default: to the end.
        #[arg(long, value_name = "N", value_parser = parse_number)]
        len: Option<u64>,
        /// Print one JSON object (with the bytes as a hex string) instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Element types `show --as` can decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum ElemType {
    I8,
    U8,
    I16,
    U16,
    I32,
    U32,
    I64,
    U64,
    F32,
    F64,
}

impl ElemType {
    pub(crate) fn size(self) -> u64 {
        match self {
            Self::I8 | Self::U8 => 1,
            Self::I16 | Self::U16 => 2,
            Self::I32 | Self::U32 | Self::F32 => 4,
            Self::I64 | Self::U64 | Self::F64 => 8,
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::I8 => "i8",
            Self::U8 => "u8",
            Self::I16 => "i16",
            Self::U16 => "u16",
            Self::I32 => "i32",
            Self::U32 => "u32",
            Self::I64 => "i64",
            Self::U64 => "u64",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }
}

/// A byte count or offset: decimal, or hexadecimal with a `0x` prefix.
fn parse_number(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
        None => t.replace('_', "").parse(),
    };
    parsed.map_err(|_| format!("'{s}' is not a number (decimal, or hex with 0x)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn numbers_accept_decimal_and_hex() {
        assert_eq!(parse_number("42"), Ok(42));
        assert_eq!(parse_number("0x2A"), Ok(42));
        assert_eq!(parse_number("0X10"), Ok(16));
        assert!(parse_number("x").is_err());
        assert!(parse_number("-1").is_err());
    }
}

//! Command-line definitions (clap derive) and nothing else.

use clap::{Parser, Subcommand};
use zeroipc::inspect::{KIND_NAMES, TypeSpec};

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
                            zeroipc show /sensors q_jobs --as u64\n  zeroipc show /sensors readings --as f32\n  \
                            zeroipc show /sensors prices --as u32,f64 --json\n  zeroipc show /sensors rw\n  \
                            zeroipc show /sensors slots --kind semaphore"
    )]
    Show {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Show only this entry, with its decoded header fields.
        entry: Option<String>,
        /// Read the entry's contents as this type: i8, u8, i16, u16, i32, u32, i64, u64, f32
        /// or f64, or KEY,VALUE for a map (such as i32,f64). Arrays show their values; queues
        /// and stacks in pop order; rings from read_pos; pools their allocated nodes; maps
        /// their pairs; sets their members; signals their value.
        #[arg(long = "as", value_name = "TYPE", requires = "entry", value_parser = parse_type)]
        as_type: Option<TypeSpec>,
        /// Read ENTRY as this kind instead of the kind its bytes prove: to pick one for an
        /// ambiguous entry, or to see the impossible values of a corrupt structure.
        #[arg(long, value_name = "KIND", requires = "entry",
              value_parser = clap::builder::PossibleValuesParser::new(KIND_NAMES))]
        kind: Option<String>,
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

/// A `--as` type: one element type, or `KEY,VALUE` for a map.
fn parse_type(s: &str) -> Result<TypeSpec, String> {
    s.parse()
        .map_err(|e: zeroipc::inspect::ParseTypeError| e.to_string())
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

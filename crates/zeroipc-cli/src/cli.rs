//! Command-line definitions (clap derive) and nothing else.

use clap::builder::TypedValueParser;
use clap::{Parser, Subcommand};
use zeroipc::inspect::{KIND_NAMES, KindName, TypeSpec};

/// Inspect and manage ZeroIPC shared-memory segments. Every command that inspects (list,
/// show, dump, watch, doctor, monitor) maps segments read-only and never writes to them;
/// only create, rm and doctor --stale --remove change anything.
#[derive(Debug, Parser)]
#[command(
    name = "zeroipc",
    version,
    arg_required_else_help = true,
    after_help = "Examples:\n  zeroipc list\n  zeroipc show /sensors\n  zeroipc show sensors readings --as f64\n  \
                  zeroipc dump /sensors readings --len 0x20\n  zeroipc watch /sensors\n  \
                  zeroipc create /sensors --size 4M\n  zeroipc rm /sensors"
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
    /// Segments created by zeroipc carry a type catalog (entry __zeroipc_catalog, kind
    /// "catalog"): their structures are shown with their exact kind and their contents
    /// decoded without --as; where the catalog contradicts the bytes, the bytes win and a
    /// "problem" line says so.
    #[command(
        after_help = "Examples:\n  zeroipc show /sensors\n  zeroipc show sensors --json\n  \
                            zeroipc show /sensors q_jobs --as u64\n  zeroipc show /sensors readings --as f32\n  \
                            zeroipc show /sensors samples --as 'i32,f32,f64,u8'\n  \
                            zeroipc show /sensors prices --as u32=f64 --json\n  zeroipc show /sensors rw\n  \
                            zeroipc show /sensors slots --kind semaphore\n  \
                            zeroipc show /compute result --kind future --as f64"
    )]
    Show {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Show only this entry, with its decoded header fields.
        entry: Option<String>,
        /// Read the entry's contents as this type (overrides the catalog's): i8, u8, i16, u16,
        /// i32, u32, i64, u64, f32 or f64; a C struct as its fields separated by commas (such
        /// as 'i32,f32,f64,u8': each field aligned to its size, the struct padded to its
        /// largest field; its size must be the element size); or KEY=VALUE for a map (such as
        /// i32=f64; each side may be a struct; i32,f64 also works when those are the map's
        /// key and value sizes). Arrays show their values; queues and stacks in pop order;
        /// rings from read_pos; pools their allocated nodes; maps their pairs; sets their
        /// members; signals their value; streams their buffered values (read order) and
        /// channels theirs (receive order); futures their value when ready (their error
        /// text when failed); lazies their operands and cached value. On an ambiguous
        /// entry the candidate kind the type fits is selected ("as T selects K"). A struct is shown as {f1, f2, ...} (JSON: an array
        /// of its field values).
        #[arg(long = "as", value_name = "TYPE", requires = "entry", value_parser = parse_type)]
        as_type: Option<TypeSpec>,
        /// Read ENTRY as this kind instead of the kind its bytes prove: to pick one for an
        /// ambiguous entry, or to see the impossible values of a corrupt structure. Every
        /// kind the library has: containers, sync primitives, and future, lazy, stream
        /// and channel (a stream or channel by its base name or its x_header entry).
        #[arg(long, value_name = "KIND", requires = "entry",
              value_parser = clap::builder::PossibleValuesParser::new(KIND_NAMES)
                  .map(|s| s.parse::<KindName>().expect("one of KIND_NAMES")))]
        kind: Option<KindName>,
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
                            zeroipc dump /sensors --offset 0 --size 1024\n  \
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
        /// Length of the range in bytes (decimal or 0x hex); default: to the end. Also
        /// spelled --size.
        #[arg(long, visible_alias = "size", value_name = "N", value_parser = parse_number)]
        len: Option<u64>,
        /// Print one JSON object (with the bytes as a hex string) instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Live view of a segment: entries, kinds, fill levels, ops/s and waiters.
    ///
    /// Refreshed until q, Esc or Ctrl-C; the arrow keys, PgUp/PgDn and Home/End scroll.
    /// Read-only. Rates are computed from the counters each kind stores, between two
    /// refreshes: queue pushes (tail) and pops (head), ring bytes written and read, stream
    /// and signal sequence numbers, barrier generations; for stacks, pools, maps and sets
    /// only the net change of their length can be seen. If the segment is removed or
    /// becomes corrupt while watched, the view says so and keeps the last good sample.
    #[command(
        after_help = "Examples:\n  zeroipc watch /sensors\n  zeroipc watch sensors --interval 200"
    )]
    Watch {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Refresh interval in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=3_600_000))]
        interval: u64,
    },
    /// Create an empty segment (exclusively, unless --replace).
    ///
    /// SIZE is in bytes, or with a K, M, G or T suffix (powers of 1024): 65536, 64K, 4M, 1G.
    /// MODE is octal permission bits, applied exactly (the umask does not narrow them).
    #[command(after_help = "Examples:\n  zeroipc create /sensors --size 4M\n  \
                            zeroipc create sensors --size 64K --max-entries 16 --mode 0640\n  \
                            zeroipc create /sensors --size 1G --replace --json")]
    Create {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Total size, table included: bytes, or with a K, M, G or T suffix (powers of 1024).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        size: u64,
        /// Capacity of the entry table (upstream peers assume 64).
        #[arg(long, value_name = "N", default_value_t = 64)]
        max_entries: u32,
        /// Permission bits, octal.
        #[arg(long, value_name = "MODE", default_value = "0600", value_parser = parse_mode)]
        mode: u32,
        /// Remove any object of that name first (processes that still map it keep the old
        /// one).
        #[arg(long)]
        replace: bool,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Remove a segment (other objects in /dev/shm only with --force).
    ///
    /// Objects that are not valid ZeroIPC segments (bad magic, too small, corrupt,
    /// uninitialised) are refused unless --force is given. Processes that map the segment
    /// keep their mapping; the name is free at once.
    #[command(after_help = "Examples:\n  zeroipc rm /sensors\n  zeroipc rm leftover --force")]
    Rm {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// Also remove objects that are not (valid) ZeroIPC segments.
        #[arg(long)]
        force: bool,
    },
    /// Run the demo: producer, transformer and consumer processes sharing one segment.
    ///
    /// The producer emits temperature readings into a Stream, the transformer runs a map
    /// stage (°C → °F) into a second Stream, the consumer subscribes to it, sends running
    /// averages back over a Channel and resolves a Future with the hottest reading. The
    /// segment is removed at the end, also on Ctrl-C.
    #[command(after_help = "Examples:\n  zeroipc demo")]
    Demo {
        /// (internal) Run as one of the demo's processes.
        #[arg(long, hide = true, value_enum)]
        role: Option<crate::command::demo::Role>,
        /// (internal) The demo's segment, for --role.
        #[arg(long, hide = true)]
        segment: Option<String>,
    },
    /// Measure this machine between two processes: floors, Queue, Ring and Semaphore.
    ///
    /// Runs the cache-line floor (spin ping-pong), Queue<u64> round trip, Ring<u64> one-way
    /// throughput (single and batched 64), the bare futex hand-off floor and a blocking
    /// Semaphore hand-off between this process and a child, on a fresh segment
    /// /zeroipc-bench-<pid> removed at the end. The two processes run on different CPUs
    /// where there are two. Each row is measured as interleaved pairs (floor batch, subject
    /// batch, ...): the value is a median over batches, the ratio the median of the per-pair
    /// ratios with their spread (min..max). Pairs whose floor is implausible (both processes
    /// on one CPU) are dropped; a row left with fewer than half its pairs is re-measured once,
    /// then shown as "invalid" (JSON: ratio null, valid false).
    #[command(after_help = "Examples:\n  zeroipc bench\n  zeroipc bench --quick --json")]
    Bench {
        /// Small batches: finishes in a few seconds.
        #[arg(long)]
        quick: bool,
        /// Print a JSON array of {scenario, value, unit, ratio, ratio_min, ratio_max, valid,
        /// pairs, pairs_kept, floor, floor_ns, pinned}.
        #[arg(long)]
        json: bool,
        /// (internal) Run as the benchmark's child for this scenario.
        #[arg(long, hide = true)]
        role: Option<String>,
        /// (internal) The benchmark's segment, for --role.
        #[arg(long, hide = true)]
        segment: Option<String>,
        /// (internal) Iterations the child runs, for --role.
        #[arg(long, hide = true, default_value_t = 0)]
        iters: u64,
    },
    /// Check a segment read-only and report what is wrong; or list stale segments.
    ///
    /// Checks the table, every entry's fields, stuck slots (queue slots claimed but never
    /// published, stack slots left WRITING/READING, map/set slots left INSERTING: a peer
    /// died mid-operation; confirmed by a second snapshot 50 ms later), dead holders (a
    /// held Mutex, RwLock/Monitor/Signal mutex, Semaphore or running Once whose zeroipc
    /// process is gone; upstream holders store no pid and cannot be judged), half-created
    /// composites (Event, RwLock, Monitor, Signal, Stream, Channel with parts missing), and
    /// waiter-registry sleepers registered while no other process uses the segment.
    ///
    /// Exit status: 0 healthy, 1 problems found (or the segment cannot be checked: a
    /// one-line error on stderr), 2 usage error.
    ///
    /// --repair changes only what it can prove safe: the waiter-registry sleeper counters
    /// of a segment no other process uses (each cleared only if unchanged since it was
    /// read, so a new sleeper is never lost). A dead Mutex/RwLock/Once holder is left to
    /// the next zeroipc locker, which takes it over (the library's OwnerDead path);
    /// everything else needs the structure recreated. Each finding says which.
    ///
    /// --stale lists the ZeroIPC segments no process maps or holds open (found through
    /// /proc; only SEGMENT if given); --remove unlinks them, re-checking each just before. A process whose /proc
    /// entries cannot be read (another user's, a non-dumpable one) counts as a possible user
    /// and keeps the segment, unless --ignore-unknown.
    #[command(
        after_help = "Examples:\n  zeroipc doctor /sensors\n  zeroipc doctor sensors --json\n  \
                            zeroipc doctor /sensors --repair\n  zeroipc doctor --stale\n  \
                            zeroipc doctor --stale --remove"
    )]
    Doctor {
        /// Segment name, with or without the leading '/'.
        /// With --stale: check only this segment.
        #[arg(required_unless_present = "stale")]
        segment: Option<String>,
        /// Repair what is provably safe to repair, and say what was changed.
        #[arg(long)]
        repair: bool,
        /// List the ZeroIPC segments that no process uses.
        #[arg(long, conflicts_with = "repair")]
        stale: bool,
        /// With --stale: remove them (each re-checked just before).
        #[arg(long, requires = "stale")]
        remove: bool,
        /// With --stale: decide from the processes that can be inspected only.
        #[arg(long, requires = "stale")]
        ignore_unknown: bool,
        /// Print one JSON document instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the values a structure receives as they arrive, without consuming them.
    ///
    /// Queue: each newly published element (follows tail); values that consumers popped and
    /// producers overwrote before a poll saw them are counted in "missed N" lines. Ring:
    /// follows write_pos. Signal: the value at each version change. Array: changed elements
    /// as "[index] value". Stream / Channel (by base name): their x_buffer ring / queue.
    /// Values already there when monitoring starts are not printed. Read-only; polls every
    /// --interval ms; stops after --count values, on Ctrl-C, or when the reader goes away.
    #[command(after_help = "Examples:\n  zeroipc monitor /sensors q_jobs\n  \
                            zeroipc monitor sensors readings --as f64 --interval 100\n  \
                            zeroipc monitor /sensors temperature --count 1 --json")]
    Monitor {
        /// Segment name, with or without the leading '/'.
        segment: String,
        /// The structure to follow.
        entry: String,
        /// Read values as this type, a primitive or a C struct such as 'i32,f32,f64,u8'
        /// (default: the type the segment's catalog records, else an unsigned integer of the
        /// element's size, else hex).
        #[arg(long = "as", value_name = "TYPE", value_parser = parse_type)]
        as_type: Option<TypeSpec>,
        /// Poll interval in milliseconds.
        #[arg(long, value_name = "MS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
        interval: u64,
        /// Stop after this many values.
        #[arg(long, value_name = "N")]
        count: Option<u64>,
        /// Print one JSON object a line.
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script to stdout.
    #[command(
        after_help = "Examples:\n  zeroipc completions bash > ~/.local/share/bash-completion/completions/zeroipc\n  \
                            zeroipc completions zsh > ~/.zfunc/_zeroipc"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// A `--as` type: one element type (a primitive or a comma-separated C struct), or
/// `KEY=VALUE` for a map.
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

/// A size in bytes: decimal or 0x hex, or decimal with a K, M, G or T suffix (powers of
/// 1024, optionally followed by `iB` or `B`).
pub(crate) fn parse_size(s: &str) -> Result<u64, String> {
    let err = || format!("'{s}' is not a size (bytes, or a number with K, M, G or T)");
    let t = s.trim();
    let upper = t.to_ascii_uppercase();
    let body = upper
        .strip_suffix("IB")
        .or_else(|| upper.strip_suffix('B'))
        .unwrap_or(&upper);
    let (digits, shift) = match body.as_bytes().last() {
        Some(b'K') => (&body[..body.len() - 1], 10),
        Some(b'M') => (&body[..body.len() - 1], 20),
        Some(b'G') => (&body[..body.len() - 1], 30),
        Some(b'T') => (&body[..body.len() - 1], 40),
        _ if body.len() != upper.len() => return Err(err()),
        _ => return parse_number(t).map_err(|_| err()),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit() || b == b'_') {
        return Err(err());
    }
    let n: u64 = digits.replace('_', "").parse().map_err(|_| err())?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// Permission bits in octal: `0600`, `640`, `0o644`; at most `7777`.
pub(crate) fn parse_mode(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let digits = t.strip_prefix("0o").unwrap_or(t);
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.starts_with('+') => Ok(m),
        _ => Err(format!("'{s}' is not an octal mode (such as 0600 or 640)")),
    }
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

    #[test]
    fn sizes_accept_powers_of_1024() {
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("0x10000"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(64 << 10));
        assert_eq!(parse_size("64k"), Ok(64 << 10));
        assert_eq!(parse_size("64KiB"), Ok(64 << 10));
        assert_eq!(parse_size("4M"), Ok(4 << 20));
        assert_eq!(parse_size("4MB"), Ok(4 << 20));
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("2T"), Ok(2 << 40));
        for bad in [
            "",
            "K",
            "4X",
            "-4K",
            "4.5M",
            "1B2",
            "abc",
            "99999999999T",
            "4 M",
        ] {
            assert!(parse_size(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn modes_are_octal() {
        assert_eq!(parse_mode("0600"), Ok(0o600));
        assert_eq!(parse_mode("640"), Ok(0o640));
        assert_eq!(parse_mode("0o644"), Ok(0o644));
        assert_eq!(parse_mode("7777"), Ok(0o7777));
        for bad in ["", "0800", "rw", "17777", "-600", "+600", "0x600"] {
            assert!(parse_mode(bad).is_err(), "{bad:?}");
        }
    }
}

//! The `zeroipc` command-line tool: list, show, dump, watch, monitor, doctor, create and rm
//! ZeroIPC shared-memory segments.
//!
//! Every command that inspects maps segments read-only, through the public API of the
//! `zeroipc` library; only `create`, `rm` and `doctor --stale --remove` change anything.
//! `doctor` exits 1 when it finds problems.
//! Errors are one line on stderr (`zeroipc: <what>`) and a non-zero exit status; a corrupt
//! or hostile segment is reported, never a reason to panic.
#![forbid(unsafe_code)]

mod cli;
mod color;
mod command;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command};
use command::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return usage_error(&e),
    };
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = match cli.command {
        Command::List { all, json } => command::list::run(&mut out, all, json, color::enabled()),
        Command::Show {
            segment,
            entry,
            as_type,
            kind,
            json,
        } => command::show::run(&mut out, &segment, entry.as_deref(), as_type, kind, json),
        Command::Dump {
            segment,
            entry,
            offset,
            len,
            json,
        } => command::dump::run(&mut out, &segment, entry.as_deref(), offset, len, json),
        Command::Create {
            segment,
            size,
            max_entries,
            mode,
            replace,
            json,
        } => command::create::run(
            &mut out,
            &command::create::Request {
                segment: &segment,
                size,
                max_entries,
                mode,
                replace,
            },
            json,
        ),
        Command::Rm { segment, force } => command::rm::run(&mut out, &segment, force),
        Command::Demo { role, segment } => command::demo::run(&mut out, role, segment.as_deref()),
        Command::Bench {
            quick,
            json,
            role,
            segment,
            iters,
        } => command::bench::run(
            &mut out,
            quick,
            json,
            role.as_deref(),
            segment.as_deref(),
            iters,
        ),
        Command::Doctor {
            segment,
            repair,
            stale,
            remove,
            ignore_unknown,
            json,
        } => {
            let r = match segment {
                _ if stale => command::doctor::stale(
                    &mut out,
                    segment.as_deref(),
                    remove,
                    ignore_unknown,
                    json,
                )
                .map(|()| true),
                Some(segment) => command::doctor::run(&mut out, &segment, json, repair),
                None => command::doctor::missing_segment(),
            };
            match r {
                Ok(true) => Ok(()),
                Ok(false) => {
                    let flushed = out.flush().map_err(CliError::from);
                    return match flushed {
                        Ok(()) => ExitCode::from(1),
                        e => finish(e),
                    };
                }
                Err(e) => Err(e),
            }
        }
        Command::Monitor {
            segment,
            entry,
            as_type,
            interval,
            count,
            json,
        } => command::monitor::run(
            &mut out,
            &segment,
            &entry,
            &command::monitor::Options {
                as_type,
                interval,
                count,
                json,
            },
        ),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "zeroipc", &mut out);
            Ok(())
        }
        // Draws on the terminal itself (nothing goes through `out`; the stdout lock is
        // re-entrant, so holding it here does not block the terminal's writes).
        Command::Watch { segment, interval } => {
            command::watch::run(&segment, interval, color::enabled())
        }
    };
    finish(result.and_then(|()| out.flush().map_err(CliError::from)))
}

/// The exit status for `result`, reporting an error on stderr.
fn finish(result: Result<(), CliError>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`zeroipc dump x | head`): not an error.
        Err(CliError::Io(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            report(&e.to_string());
            ExitCode::FAILURE
        }
    }
}

/// Help and version go out as clap renders them; any other usage error is one line.
fn usage_error(e: &clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            u8::try_from(e.exit_code()).map_or(ExitCode::FAILURE, ExitCode::from)
        }
        _ => {
            // clap's first paragraph, joined: "the following required arguments were not
            // provided:" is followed by the arguments on their own lines.
            let text = e.to_string();
            let first: Vec<&str> = text
                .lines()
                .take_while(|l| !l.trim().is_empty())
                .map(str::trim)
                .collect();
            let first = first.join(" ");
            let first = first.strip_prefix("error: ").unwrap_or(&first);
            let first = if first.is_empty() {
                "invalid usage"
            } else {
                first
            };
            report(&format!("{first} (see 'zeroipc --help')"));
            ExitCode::from(2)
        }
    }
}

/// `zeroipc: <message>` as exactly one line, control characters escaped.
fn report(message: &str) {
    let line: String = command::printable(message);
    let _ = writeln!(io::stderr(), "zeroipc: {line}");
}

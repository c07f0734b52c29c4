//! The `zeroipc` command-line tool: list, show and dump ZeroIPC shared-memory segments.
//!
//! Every command maps segments read-only, through the public API of the `zeroipc` library.
//! Errors are one line on stderr (`zeroipc: <what>`) and a non-zero exit status; a corrupt
//! or hostile segment is reported, never a reason to panic.
#![forbid(unsafe_code)]

mod cli;
mod command;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

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
        Command::List { all, json } => command::list::run(&mut out, all, json),
        Command::Show {
            segment,
            entry,
            as_type,
            kind,
            json,
        } => command::show::run(
            &mut out,
            &segment,
            entry.as_deref(),
            as_type,
            kind.as_deref(),
            json,
        ),
        Command::Dump {
            segment,
            entry,
            offset,
            len,
            json,
        } => command::dump::run(&mut out, &segment, entry.as_deref(), offset, len, json),
    };
    let result = result.and_then(|()| out.flush().map_err(CliError::from));
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
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid usage");
            let first = first.strip_prefix("error: ").unwrap_or(first);
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

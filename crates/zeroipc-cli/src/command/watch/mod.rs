//! `zeroipc watch`: a live view of one segment, refreshed until the user quits.
//!
//! [`sample`] reads the segment (read-only, a fresh mapping per refresh) and turns two
//! consecutive snapshots into rows and rates; [`render`] draws them with ratatui. This file
//! only owns the terminal and the event loop.

pub(crate) mod render;
pub(crate) mod sample;

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};

use super::{CliError, display_name, fail, printable};
use render::Look;
use sample::{Sample, Snapshot, Watcher};

/// Owns the terminal in raw mode on the alternate screen, and restores it when dropped:
/// on return, on error, and while unwinding from a panic (ratatui's panic hook restores it
/// too, before the panic message is printed).
struct TerminalGuard {
    terminal: DefaultTerminal,
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        Ok(Self {
            terminal: ratatui::try_init()?,
        })
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        let _ = ratatui::try_restore();
    }
}

fn terminal_error(e: io::Error) -> CliError {
    CliError::Message(format!("terminal: {e}"))
}

pub(crate) fn run(segment: &str, interval_ms: u64, color: bool) -> Result<(), CliError> {
    // A name that is not there, or not a segment, is a one-line error before the terminal
    // is touched; later problems are shown in the view.
    let first = Snapshot::take(segment);
    match &first.sample {
        Sample::Ok { .. } => {}
        Sample::Gone => {
            return fail(format!(
                "segment {} not found",
                printable(&display_name(segment))
            ));
        }
        Sample::Broken(why) => {
            return fail(format!(
                "{}: {}",
                printable(&display_name(segment)),
                printable(why)
            ));
        }
    }
    if !io::stdout().is_terminal() {
        return fail("watch needs a terminal (for a one-off listing use 'zeroipc show')");
    }
    let interval = Duration::from_millis(interval_ms);
    let look = Look { interval_ms, color };
    let mut watcher = Watcher::new(segment);
    watcher.update(first);

    let mut guard = TerminalGuard::enter().map_err(terminal_error)?;
    let mut next = Instant::now() + interval;
    let mut scroll = 0_usize;
    loop {
        let mut page = 1;
        guard
            .terminal
            .draw(|f| {
                page = usize::from(f.area().height.saturating_sub(4)).max(1);
                render::draw(f, &watcher, look, &mut scroll);
            })
            .map_err(terminal_error)?;
        let timeout = next.saturating_duration_since(Instant::now());
        if event::poll(timeout).map_err(terminal_error)? {
            match event::read().map_err(terminal_error)? {
                Event::Key(k) if k.kind != KeyEventKind::Release => {
                    let ctrl_c =
                        k.code == KeyCode::Char('c') && k.modifiers.contains(KeyModifiers::CONTROL);
                    if ctrl_c || matches!(k.code, KeyCode::Char('q' | 'Q') | KeyCode::Esc) {
                        return Ok(());
                    }
                    // Clamped to the table when drawn.
                    scroll = match k.code {
                        KeyCode::Up | KeyCode::Char('k') => scroll.saturating_sub(1),
                        KeyCode::Down | KeyCode::Char('j') => scroll.saturating_add(1),
                        KeyCode::PageUp => scroll.saturating_sub(page),
                        KeyCode::PageDown | KeyCode::Char(' ') => scroll.saturating_add(page),
                        KeyCode::Home | KeyCode::Char('g') => 0,
                        KeyCode::End | KeyCode::Char('G') => usize::MAX,
                        _ => scroll,
                    };
                }
                // Resizes and other keys: redraw, and keep waiting for the next refresh.
                _ => {}
            }
            if Instant::now() < next {
                continue;
            }
        }
        watcher.update(Snapshot::take(segment));
        next = Instant::now() + interval;
    }
}

//! `zeroipc watch`: a live view of one segment, refreshed until the user quits.
//!
//! [`sample`] reads the segment (read-only, a fresh mapping per refresh) and turns two
//! consecutive snapshots into rows and rates; [`render`] draws them with ratatui. This file
//! only owns the terminal and the event loop.

pub(crate) mod render;
pub(crate) mod sample;

use std::io::{self, IsTerminal};
use std::panic;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use ratatui::crossterm::terminal::{self, EnterAlternateScreen, LeaveAlternateScreen};
use ratatui::crossterm::{cursor, execute};
use ratatui::{DefaultTerminal, Terminal};

use super::{CliError, display_name, fail, printable};
use render::Look;
use sample::{Sample, Snapshot, Watcher};

/// Whether the terminal is in raw mode on the alternate screen. Restoring clears it, so the
/// terminal is restored exactly once: a second "leave the alternate screen" would move the
/// cursor back over what was printed since (a panic message, for one).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Leaves raw mode and the alternate screen and shows the cursor, if not done already.
fn restore_terminal() {
    if ACTIVE.swap(false, Ordering::SeqCst) {
        let _ = terminal::disable_raw_mode();
        let _ = execute!(io::stdout(), LeaveAlternateScreen, cursor::Show);
    }
}

/// Restores the terminal when dropped: on return, on error, and while unwinding.
struct RawMode;

impl RawMode {
    fn enter() -> io::Result<Self> {
        // A panic restores the terminal *before* its message is printed (unwinding, which
        // drops the guard, comes after the message, which would go to the alternate screen
        // and vanish with it).
        static HOOK: Once = Once::new();
        HOOK.call_once(|| {
            let previous = panic::take_hook();
            panic::set_hook(Box::new(move |info| {
                restore_terminal();
                previous(info);
            }));
        });
        terminal::enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        let guard = Self;
        execute!(io::stdout(), EnterAlternateScreen)?;
        Ok(guard)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        restore_terminal();
    }
}

/// The ratatui terminal, and the guard that restores the real one (dropped after it).
struct TerminalGuard {
    terminal: DefaultTerminal,
    _raw: RawMode,
}

impl TerminalGuard {
    fn enter() -> io::Result<Self> {
        let raw = RawMode::enter()?;
        Ok(Self {
            terminal: Terminal::new(CrosstermBackend::new(io::stdout()))?,
            _raw: raw,
        })
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
        // Test hook (debug builds only): lets scripts/watch-tmux.sh check that a panic
        // while the terminal is in raw mode still restores it.
        #[cfg(debug_assertions)]
        if std::env::var_os("ZEROIPC_WATCH_TEST_PANIC").is_some() {
            panic!("ZEROIPC_WATCH_TEST_PANIC is set");
        }
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

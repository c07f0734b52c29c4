//! Drawing the [`Watcher`] with ratatui; no sampling here.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, LineGauge, Paragraph, Row as TableRow, Table, TableState};

use super::sample::{Fill, Row, Watcher};

/// How to draw: the refresh interval to show, and whether colours are allowed (`NO_COLOR`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Look {
    pub(crate) interval_ms: u64,
    pub(crate) color: bool,
}

impl Look {
    fn fg(self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
}

/// The widest a column other than the last may grow (a long `ambiguous (...)` label must
/// not push the waiters off the screen; cells are cut at the column's edge).
const MAX_COLUMN: usize = 30;

/// Draws the whole view into `frame`, the table starting at row `*scroll` (clamped here to
/// what the screen can show).
pub(crate) fn draw(frame: &mut Frame<'_>, w: &Watcher, look: Look, scroll: &mut usize) {
    let [top, gauge, table, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());

    frame.render_widget(Paragraph::new(header_line(w, look)), top);

    match (&w.problem, w.header) {
        (Some(problem), _) => frame.render_widget(
            Paragraph::new(Line::from(Span::styled(
                // The consequence first: a long reason is cut at the screen's edge.
                format!("! last good sample shown: {problem}"),
                look.fg(Color::Red).add_modifier(Modifier::BOLD),
            ))),
            gauge,
        ),
        (None, Some(h)) => {
            let ratio = Fill {
                len: h.used,
                capacity: Some(h.memory_size),
            }
            .ratio()
            .unwrap_or(0.0);
            frame.render_widget(
                LineGauge::default()
                    .label("used ")
                    .filled_style(look.fg(Color::Green))
                    .ratio(ratio),
                gauge,
            );
        }
        (None, None) => {}
    }

    let bold = Style::new().add_modifier(Modifier::BOLD);
    let cells: Vec<[String; COLUMNS]> = w.rows.iter().map(cells).collect();
    // Each column as wide as its widest cell; the last one takes what is left.
    let widths = HEADINGS.iter().enumerate().map(|(i, h)| {
        let widest = cells
            .iter()
            .map(|c| c[i].chars().count())
            .chain([h.len()])
            .max()
            .unwrap_or(0)
            .min(MAX_COLUMN);
        if i + 1 == COLUMNS {
            Constraint::Fill(1)
        } else {
            Constraint::Length(u16::try_from(widest).unwrap_or(u16::MAX))
        }
    });
    let widths: Vec<Constraint> = widths.collect();
    let head = TableRow::new(HEADINGS.map(|h| Cell::from(h).style(bold)));
    let stale = w.problem.is_some();
    let rows = w
        .rows
        .iter()
        .zip(cells)
        .map(|(r, c)| table_row(r, c, look, stale));
    let visible = usize::from(table.height.saturating_sub(1));
    let total = w.rows.len();
    *scroll = (*scroll).min(total.saturating_sub(visible));
    let mut state = TableState::default().with_offset(*scroll);
    frame.render_stateful_widget(
        Table::new(rows, widths).header(head).column_spacing(2),
        table,
        &mut state,
    );

    let mut help = "q, Esc or Ctrl-C: quit".to_owned();
    if total > visible {
        let last = (*scroll + visible).min(total);
        help.push_str(&format!(
            "   ↑ ↓ PgUp PgDn Home End: scroll   rows {}-{last} of {total}",
            *scroll + 1
        ));
    }
    frame.render_widget(
        Paragraph::new(Line::from(Span::styled(
            help,
            Style::new().add_modifier(Modifier::DIM),
        ))),
        footer,
    );
}

fn header_line(w: &Watcher, look: Look) -> Line<'static> {
    let mut spans = vec![
        Span::styled("zeroipc watch ", Style::new().add_modifier(Modifier::DIM)),
        Span::styled(
            w.name.clone(),
            look.fg(Color::Cyan).add_modifier(Modifier::BOLD),
        ),
    ];
    if let Some(h) = w.header {
        let pct = Fill {
            len: h.used,
            capacity: Some(h.memory_size),
        }
        .ratio()
        .unwrap_or(0.0)
            * 100.0;
        spans.push(Span::raw(format!(
            "  size {}  used {} ({pct:.1}%)  entries {}/{}",
            h.size, h.used, h.entry_count, h.max_entries
        )));
    }
    spans.push(Span::styled(
        format!("  every {} ms", look.interval_ms),
        Style::new().add_modifier(Modifier::DIM),
    ));
    Line::from(spans)
}

const COLUMNS: usize = 8;
const HEADINGS: [&str; COLUMNS] = [
    "#", "NAME", "KIND", "OFFSET", "SIZE", "FILL", "OPS/S", "WAITERS",
];

/// The text of each column of `r`.
fn cells(r: &Row) -> [String; COLUMNS] {
    [
        r.index.to_string(),
        r.name.clone(),
        r.kind.clone(),
        r.offset.to_string(),
        r.size.to_string(),
        fill_text(r.fill),
        rates_text(r),
        r.waiters.clone().unwrap_or_default(),
    ]
}

fn table_row(r: &Row, cells: [String; COLUMNS], look: Look, stale: bool) -> TableRow<'static> {
    let kind_style = match r.kind.as_str() {
        "unknown" => look.fg(Color::Red),
        k if k.starts_with("ambiguous") => look.fg(Color::Yellow),
        _ => look.fg(Color::Cyan),
    };
    let row = TableRow::new(cells.into_iter().enumerate().map(|(i, text)| {
        if i == 2 {
            Cell::from(text).style(kind_style)
        } else {
            Cell::from(text)
        }
    }));
    if stale {
        row.style(Style::new().add_modifier(Modifier::DIM))
    } else {
        row
    }
}

/// `▮▮▮▮▯▯▯▯▯▯ 4/10 40%`, or `12` where there is no capacity; empty without a fill.
pub(crate) fn fill_text(fill: Option<Fill>) -> String {
    let Some(f) = fill else {
        return String::new();
    };
    let (Some(cap), Some(ratio)) = (f.capacity, f.ratio()) else {
        return f.len.to_string();
    };
    const BAR: usize = 10;
    // ratio is in 0..=1, so the rounded value is in 0..=BAR.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let full = ((ratio * 10.0).round() as usize).min(BAR);
    format!(
        "{}{} {}/{cap} {:.0}%",
        "▮".repeat(full),
        "▯".repeat(BAR - full),
        f.len,
        ratio * 100.0
    )
}

/// `push 10.0 pop 6.0`; empty when there is no rate (yet).
pub(crate) fn rates_text(r: &Row) -> String {
    r.rates
        .iter()
        .map(|rate| format!("{} {:.1}", rate.label, rate.per_sec))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use zeroipc::inspect::Kind;

    use super::super::sample::{EntrySample, Header, Sample, Snapshot, Watcher};
    use super::*;

    fn watcher() -> Watcher {
        let t0 = Instant::now();
        let snap = |at, head, tail| Snapshot {
            name: "/w".to_owned(),
            at,
            sample: Sample::Ok {
                header: Header {
                    size: 65536,
                    entry_count: 2,
                    max_entries: 64,
                    used: 6554,
                    memory_size: 65536,
                },
                entries: vec![
                    EntrySample {
                        index: 0,
                        name: "jobs".to_owned(),
                        offset: 3104,
                        size: 100,
                        kind: Kind::Queue {
                            capacity: 8,
                            elem_size: 4,
                            head,
                            tail,
                        },
                    },
                    EntrySample {
                        index: 1,
                        name: "lock".to_owned(),
                        offset: 3208,
                        size: 16,
                        kind: Kind::Mutex {
                            count: 0,
                            waiting: 2,
                        },
                    },
                ],
            },
        };
        let mut w = Watcher::new("w");
        w.update(snap(t0, 0, 0));
        w.update(snap(t0 + Duration::from_secs(1), 1, 5));
        w
    }

    fn screen(w: &Watcher) -> String {
        screen_sized(w, 10, &mut 0)
    }

    fn screen_sized(w: &Watcher, height: u16, scroll: &mut usize) -> String {
        let mut term = Terminal::new(TestBackend::new(120, height)).unwrap();
        term.draw(|f| {
            draw(
                f,
                w,
                Look {
                    interval_ms: 500,
                    color: false,
                },
                scroll,
            );
        })
        .unwrap();
        let buf = term.backend().buffer().clone();
        let mut text = String::new();
        for y in 0..buf.area.height {
            for x in 0..buf.area.width {
                text.push_str(buf[(x, y)].symbol());
            }
            text.push('\n');
        }
        text
    }

    #[test]
    fn the_view_shows_header_rows_fill_rates_and_waiters() {
        let text = screen(&watcher());
        assert!(text.contains("/w"), "{text}");
        assert!(text.contains("entries 2/64"), "{text}");
        assert!(text.contains("every 500 ms"), "{text}");
        assert!(text.contains("jobs") && text.contains("queue"), "{text}");
        assert!(text.contains("4/8 50%"), "{text}");
        assert!(text.contains("push 5.0 pop 1.0"), "{text}");
        assert!(text.contains("locked, waiting 2"), "{text}");
    }

    #[test]
    fn the_view_says_when_the_segment_is_gone() {
        let mut w = watcher();
        w.update(Snapshot {
            name: "/w".to_owned(),
            at: Instant::now() + Duration::from_secs(2),
            sample: Sample::Gone,
        });
        let text = screen(&w);
        assert!(text.contains("/w no longer exists"), "{text}");
        assert!(text.contains("jobs"), "{text}");
    }

    #[test]
    fn a_table_taller_than_the_screen_scrolls_and_says_which_rows_it_shows() {
        let w = watcher();
        // 5 lines: header, gauge, table heading + 1 row, footer.
        let mut scroll = 0;
        let text = screen_sized(&w, 5, &mut scroll);
        assert!(text.contains("jobs") && !text.contains("lock "), "{text}");
        assert!(text.contains("rows 1-1 of 2"), "{text}");
        scroll = 99;
        let text = screen_sized(&w, 5, &mut scroll);
        assert_eq!(scroll, 1, "clamped to the last full screen");
        assert!(
            text.contains("lock") && text.contains("rows 2-2 of 2"),
            "{text}"
        );
        let mut scroll = 0;
        let text = screen_sized(&w, 10, &mut scroll);
        assert!(!text.contains("rows "), "everything fits: {text}");
    }

    #[test]
    fn fill_text_without_capacity_is_the_length() {
        assert_eq!(
            fill_text(Some(Fill {
                len: 3,
                capacity: None
            })),
            "3"
        );
        assert_eq!(fill_text(None), "");
        assert_eq!(
            fill_text(Some(Fill {
                len: 0,
                capacity: Some(4)
            })),
            "▯▯▯▯▯▯▯▯▯▯ 0/4 0%"
        );
    }
}

//! Colour on a terminal only: never when stdout is piped or redirected, never with
//! `NO_COLOR` set to anything non-empty (<https://no-color.org>).

use std::io::IsTerminal;

/// Whether stdout may carry colour.
pub(crate) fn enabled() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stdout().is_terminal()
}

/// ANSI styles used by the text commands.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Paint {
    Bold,
    Green,
    Yellow,
    Red,
}

/// `text` wrapped in the ANSI codes of `paint` when `on`, unchanged otherwise.
pub(crate) fn paint(on: bool, paint: Paint, text: &str) -> String {
    if !on {
        return text.to_owned();
    }
    let code = match paint {
        Paint::Bold => "1",
        Paint::Green => "32",
        Paint::Yellow => "33",
        Paint::Red => "31",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paint_is_a_no_op_when_off() {
        assert_eq!(paint(false, Paint::Red, "x"), "x");
        assert_eq!(paint(true, Paint::Green, "ok"), "\x1b[32mok\x1b[0m");
    }
}

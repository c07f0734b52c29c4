//! `zeroipc dump`: classic hex + ASCII, 16 bytes a line, offsets absolute in the segment.

use std::fmt::Write as _;
use std::io::Write;

use serde_json::json;

use super::{CliError, fail, open, printable};

/// Bytes read from the segment at a time.
const CHUNK: u64 = 64 * 1024;

pub(crate) fn run(
    out: &mut dyn Write,
    segment: &str,
    entry: Option<&str>,
    offset: Option<u64>,
    len: Option<u64>,
    json: bool,
) -> Result<(), CliError> {
    let seg = open(segment)?;
    let (base, limit, what) = match entry {
        Some(name) => {
            let e = seg
                .find(name)
                .map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))?;
            (e.offset(), e.size(), format!("entry '{}'", printable(name)))
        }
        None => (0, seg.size(), format!("segment {}", printable(seg.name()))),
    };
    let rel = offset.unwrap_or(0);
    if rel > limit {
        return fail(format!(
            "offset {rel} is past the end of {what} ({limit} bytes)"
        ));
    }
    let len = len.unwrap_or(limit - rel);
    if len > limit - rel {
        return fail(format!(
            "range {rel}+{len} is past the end of {what} ({limit} bytes)"
        ));
    }
    let start = base + rel;
    let read = |at: u64, n: u64| {
        seg.read_bytes(at, n)
            .map_err(|e| CliError::Message(format!("{}: {e}", seg.name())))
    };
    if json {
        // The bytes are streamed as hex: a range may be as large as the segment.
        let doc = json!({
            "segment": seg.name(),
            "entry": entry,
            "offset": start,
            "len": len,
        });
        let text = serde_json::to_string_pretty(&doc)?;
        let head = text.strip_suffix("\n}").unwrap_or(&text);
        write!(out, "{head},\n  \"hex\": \"")?;
        let mut at = start;
        while at < start + len {
            let n = (start + len - at).min(CHUNK);
            let mut hex = String::with_capacity(2 * usize::try_from(n).unwrap_or(0));
            for b in read(at, n)? {
                let _ = write!(hex, "{b:02x}");
            }
            out.write_all(hex.as_bytes())?;
            at += n;
        }
        writeln!(out, "\"\n}}")?;
        return Ok(());
    }
    let end = start + len;
    let mut at = start;
    while at < end {
        // Whole lines per chunk, so every line starts 16 bytes after the previous one.
        let n = (end - at).min(CHUNK);
        let bytes = read(at, n)?;
        for (i, line) in bytes.chunks(16).enumerate() {
            writeln!(out, "{}", hex_line(at + 16 * i as u64, line))?;
        }
        at += n;
    }
    Ok(())
}

/// `00001820  0a 00 00 00 00 00 00 00  ec ff ff ff ed ff ff ff  |................|`
pub(crate) fn hex_line(offset: u64, bytes: &[u8]) -> String {
    let mut s = format!("{offset:08x}  ");
    for i in 0..16 {
        match bytes.get(i) {
            Some(b) => {
                let _ = write!(s, "{b:02x} ");
            }
            None => s.push_str("   "),
        }
        if i == 7 {
            s.push(' ');
        }
    }
    s.push_str(" |");
    s.extend(bytes.iter().map(|&b| {
        if b.is_ascii_graphic() || b == b' ' {
            char::from(b)
        } else {
            '.'
        }
    }));
    s.push('|');
    s
}

#[cfg(test)]
mod tests {
    use super::hex_line;

    #[test]
    fn hex_line_is_hexdump_canonical() {
        let line = hex_line(0x1820, b"ABCDEFGH\x00\x01\xffxyz 1");
        assert_eq!(
            line,
            "00001820  41 42 43 44 45 46 47 48  00 01 ff 78 79 7a 20 31  |ABCDEFGH...xyz 1|"
        );
        let short = hex_line(0, b"MPIZ");
        assert_eq!(
            short,
            "00000000  4d 50 49 5a                                       |MPIZ|"
        );
    }
}

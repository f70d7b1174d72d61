//! Strings from outside (a snapshot's keys and servers, a server's answers, a bucket's names)
//! made safe to print for a human: every control character is escaped, so such a string can
//! neither move the cursor, clear the screen, recolour the terminal nor forge a line of its
//! own in what an operator reads before `--yes`.
//!
//! Escaped: C0 controls (U+0000..U+001F) and DEL as `\n`, `\r`, `\t` or `\xNN`; C1 controls
//! (U+0080..U+009F), the Unicode line and paragraph separators and the bidirectional
//! controls (U+061C, U+200E, U+200F, U+202A..U+202E, U+2066..U+2069), which reorder what
//! follows them on screen, as `\u{NNNN}`; and `\` itself as `\\`, so an escaped string is
//! never mistaken for a literal one. JSON output is not passed through this: serde escapes
//! what JSON needs, and the value stays exact.

use std::borrow::Cow;
use std::fmt::Write;

/// True for a character [`escape`] rewrites.
#[must_use]
pub fn needs_escape(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{1f}'
            | '\\'
            | '\u{7f}'..='\u{9f}'
            | '\u{61c}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
    )
}

/// `text` with every control character escaped (see the module); borrowed when there is
/// none.
#[must_use]
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 && needs_escape(c) => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c if needs_escape(c) => {
                let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` cut to at most `max_chars` characters, the last of them `…` when it was longer:
/// an error text from outside (a server's answer quoted by a client library) kept to a size
/// an operator can read.
#[must_use]
pub fn cut(text: &str, max_chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max_chars) {
        None => Cow::Borrowed(text),
        Some(_) if max_chars == 0 => Cow::Borrowed(""),
        Some(_) => {
            let keep = max_chars.saturating_sub(1);
            let end = text.char_indices().nth(keep).map_or(text.len(), |(i, _)| i);
            Cow::Owned(format!("{}…", &text[..end]))
        }
    }
}

/// `text` cut to at most `max_chars` characters by taking out its middle (marked `…`): the
/// start and the end of an error text both say something (what was asked, and the answer).
#[must_use]
pub fn cut_middle(text: &str, max_chars: usize) -> Cow<'_, str> {
    let count = text.chars().count();
    if count <= max_chars {
        return Cow::Borrowed(text);
    }
    if max_chars == 0 {
        return Cow::Borrowed("");
    }
    let head = (max_chars - 1) / 2;
    let tail = max_chars - 1 - head;
    let head_end = text.char_indices().nth(head).map_or(text.len(), |(i, _)| i);
    let tail_start = text
        .char_indices()
        .nth(count - tail)
        .map_or(text.len(), |(i, _)| i);
    Cow::Owned(format!("{}…{}", &text[..head_end], &text[tail_start..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_middle_keeps_the_start_and_the_end() {
        assert_eq!(cut_middle("abcdef", 6), "abcdef");
        assert_eq!(cut_middle("abcdefg", 5), "ab…fg");
        assert_eq!(cut_middle("abcdefg", 4), "a…fg");
        assert_eq!(cut_middle("ééééééé", 3), "é…é");
        assert_eq!(cut_middle("abc", 1), "…");
        assert_eq!(cut_middle("abc", 0), "");
        let long = format!("GET /x{} 403 Forbidden", "y".repeat(5000));
        let short = cut_middle(&long, 400);
        assert_eq!(short.chars().count(), 400);
        assert!(short.starts_with("GET /x") && short.ends_with("403 Forbidden"));
    }

    #[test]
    fn cut_keeps_short_texts_and_ends_long_ones_with_an_ellipsis() {
        assert_eq!(cut("abc", 3), "abc");
        assert!(matches!(cut("abc", 3), Cow::Borrowed(_)));
        assert_eq!(cut("abcd", 3), "ab…");
        assert_eq!(cut("ééééé", 4), "ééé…");
        assert_eq!(cut(&"x".repeat(5000), 600).chars().count(), 600);
        assert_eq!(cut("abc", 0), "");
        assert_eq!(cut("", 0), "");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "logical/1c4b-uuid/ünïcode 127.0.0.1:8201";
        assert!(matches!(escape(text), Cow::Borrowed(t) if t == text));
    }

    #[test]
    fn control_characters_are_escaped_and_nothing_raw_remains() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(escape("line\nforged\r\t"), "line\\nforged\\r\\t");
        assert_eq!(escape("\x00\x7f"), "\\x00\\x7f");
        assert_eq!(escape("\u{9b}31m"), "\\u{009b}31m");
        assert_eq!(escape("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(escape("\u{2066}x\u{2069}"), "\\u{2066}x\\u{2069}");
        assert_eq!(escape("a\\x1b"), "a\\\\x1b");
        for c in (0..0x110000).filter_map(char::from_u32) {
            let escaped = escape(c.encode_utf8(&mut [0; 4])).into_owned();
            assert!(
                !escaped
                    .chars()
                    .any(|e| e.is_control() || needs_escape(e) && e != '\\'),
                "{c:?} -> {escaped:?}"
            );
        }
    }
}

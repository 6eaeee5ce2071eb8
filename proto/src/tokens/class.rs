//! One character at a time: decode UTF-8 by hand (no validation pass, no allocation) and
//! sort the character into the classes the estimator counts. The ranges follow the
//! Unicode blocks that matter to BPE tokenizers trained mostly on web text; anything not
//! named falls into [`Class::OtherLetter`] (a conservative default: letters of rarer
//! scripts cost several tokens each).
//!
//! Never panics: a byte that does not start a valid UTF-8 sequence is [`Class::Invalid`]
//! and one byte long.

/// What a character is, for counting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// ASCII `a`-`z`.
    Lower,
    /// ASCII `A`-`Z`.
    Upper,
    /// A Latin letter outside ASCII (accented, Latin Extended, Vietnamese).
    LatinExt,
    /// ASCII `0`-`9`.
    Digit,
    /// U+0020.
    Space,
    /// CR or LF.
    Newline,
    /// Tab, NBSP and the other Unicode spaces.
    OtherSpace,
    /// ASCII punctuation and symbols (and control characters).
    Punct,
    /// Non-ASCII punctuation and symbols: quotes, dashes, arrows, CJK punctuation.
    Symbol,
    Cyrillic,
    Greek,
    /// Arabic and Hebrew.
    Arabic,
    /// Devanagari, Bengali, Tamil and the other Brahmic scripts of India; Thai.
    Indic,
    Han,
    Kana,
    Hangul,
    /// Pictographs and emoji.
    Emoji,
    /// Combining marks, variation selectors, zero-width joiners: they ride on the
    /// character before them.
    Mark,
    OtherLetter,
    Invalid,
}

/// The class and byte length of the character that starts `bytes` (non-empty).
#[inline]
pub(crate) fn next_char(bytes: &[u8]) -> (Class, usize) {
    let Some(&lead) = bytes.first() else {
        return (Class::Invalid, 1);
    };
    if lead < 0x80 {
        return (ascii_class(lead), 1);
    }
    let (len, min, init) = match lead {
        0xC2..=0xDF => (2, 0x80, u32::from(lead & 0x1F)),
        0xE0..=0xEF => (3, 0x800, u32::from(lead & 0x0F)),
        0xF0..=0xF4 => (4, 0x1_0000, u32::from(lead & 0x07)),
        _ => return (Class::Invalid, 1),
    };
    let Some(tail) = bytes.get(1..len) else {
        return (Class::Invalid, 1);
    };
    let mut cp = init;
    for &b in tail {
        if b & 0xC0 != 0x80 {
            return (Class::Invalid, 1);
        }
        cp = (cp << 6) | u32::from(b & 0x3F);
    }
    if cp < min || cp > 0x10_FFFF || (0xD800..=0xDFFF).contains(&cp) {
        return (Class::Invalid, 1);
    }
    (non_ascii_class(cp), len)
}

#[inline]
fn ascii_class(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        b' ' => Class::Space,
        b'\r' | b'\n' => Class::Newline,
        b'\t' | 0x0B | 0x0C => Class::OtherSpace,
        _ => Class::Punct,
    }
}

fn non_ascii_class(cp: u32) -> Class {
    match cp {
        0xA0 | 0x1680 | 0x2000..=0x200A | 0x2028 | 0x2029 | 0x202F | 0x205F | 0x3000 => {
            Class::OtherSpace
        }
        0xD7 | 0xF7 => Class::Symbol,
        0xC0..=0x24F | 0x1E00..=0x1EFF => Class::LatinExt,
        0x80..=0xBF => Class::Symbol,
        0x250..=0x2FF => Class::LatinExt,
        0x300..=0x36F | 0x200B..=0x200F | 0xFE00..=0xFE0F | 0xE0000..=0xE007F => Class::Mark,
        0x370..=0x3FF | 0x1F00..=0x1FFF => Class::Greek,
        0x400..=0x52F => Class::Cyrillic,
        0x590..=0x5FF | 0x600..=0x6FF | 0x750..=0x77F | 0xFB50..=0xFDFF | 0xFE70..=0xFEFF => {
            Class::Arabic
        }
        0x900..=0xE7F => Class::Indic,
        0x1100..=0x11FF | 0x3130..=0x318F | 0xAC00..=0xD7AF => Class::Hangul,
        0x2010..=0x2BFF | 0x3001..=0x303F | 0xFF00..=0xFF0F | 0xFF1A..=0xFF20 => Class::Symbol,
        0xFF10..=0xFF19 => Class::Digit,
        0x3040..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => Class::Kana,
        0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x2_0000..=0x3_FFFF => Class::Han,
        0x1F000..=0x1FAFF => Class::Emoji,
        _ => Class::OtherLetter,
    }
}

#[cfg(test)]
mod tests {
    use super::{next_char, Class};

    #[test]
    fn classes() {
        let cases: &[(&str, Class)] = &[
            ("a", Class::Lower),
            ("Q", Class::Upper),
            ("é", Class::LatinExt),
            ("ß", Class::LatinExt),
            ("7", Class::Digit),
            (" ", Class::Space),
            ("\n", Class::Newline),
            ("\t", Class::OtherSpace),
            ("\u{a0}", Class::OtherSpace),
            ("{", Class::Punct),
            ("—", Class::Symbol),
            ("“", Class::Symbol),
            ("Ж", Class::Cyrillic),
            ("λ", Class::Greek),
            ("ع", Class::Arabic),
            ("ש", Class::Arabic),
            ("क", Class::Indic),
            ("中", Class::Han),
            ("の", Class::Kana),
            ("한", Class::Hangul),
            ("😀", Class::Emoji),
            ("\u{301}", Class::Mark),
            ("。", Class::Symbol),
        ];
        for (text, class) in cases {
            assert_eq!(next_char(text.as_bytes()), (*class, text.len()), "{text:?}");
        }
    }

    #[test]
    fn invalid_bytes_are_one_byte_each() {
        for bytes in [
            &b"\xFF"[..],
            b"\x80",
            b"\xC3",
            b"\xE4\xB8",
            b"\xC0\x80",
            b"\xED\xA0\x80",
            b"\xF4\x90\x80\x80",
            b"\xE4\x41\x41",
        ] {
            assert_eq!(next_char(bytes), (Class::Invalid, 1), "{bytes:?}");
        }
    }
}

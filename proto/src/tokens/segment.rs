//! The segmenter: one pass over the text that cuts it where the tokenizers' pre-split
//! regex would (letter runs with one space before them, digit groups of three,
//! punctuation runs, whitespace runs), and prices each piece from [`Weights`].
//!
//! A BPE tokenizer never merges across those cuts, so a text's token count is the sum of
//! its pieces' counts; what is estimated is only how many tokens each piece becomes,
//! from its class and length. The state is a handful of integers: no allocation, no
//! lookahead beyond one character.

use super::class::{next_char, Class};
use super::weights::{Script, Weights};

/// What a piece is, as [`super::for_each_segment`] reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SegmentKind {
    /// A run of letters of one script (with its leading space, if any).
    Word(Script),
    /// Up to three digits.
    Digits,
    /// Punctuation, symbols, emoji (with a leading space and trailing line ends).
    Punct,
    /// Spaces or tabs not carried by the next piece.
    Space,
    /// Line ends, with the whitespace around them.
    Newline,
    /// A byte that is not valid UTF-8.
    Invalid,
}

/// One piece of the text: `text[start..end]` and its estimated cost in thousandths of a
/// token (priced as English where it is a Latin word; see `estimate` for the adjustment
/// made for other languages).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub kind: SegmentKind,
    pub start: usize,
    pub end: usize,
    pub milli_tokens: u32,
    /// Letters in a word piece; 0 for other pieces.
    pub letters: u32,
    /// A Latin word with letters outside ASCII (`é`, `ß`): a sign of a language other
    /// than English.
    pub accented: bool,
}

/// The piece being read.
#[derive(Debug, Clone, Copy)]
enum Run {
    Idle,
    Word(Word),
    Digits(u32),
    Punct(Punct),
    Spaces(Spaces),
    /// Line ends, and the whitespace after the last one so far.
    Newline(Spaces),
}

/// A run of whitespace other than line ends.
#[derive(Debug, Clone, Copy, Default)]
struct Spaces {
    /// Where the run starts.
    from: usize,
    count: u32,
    /// Tabs and Unicode spaces among them.
    others: u32,
    last_is_space: bool,
}

impl Spaces {
    fn add(&mut self, class: Class, at: usize) {
        if self.count == 0 {
            self.from = at;
        }
        self.count += 1;
        self.others += u32::from(class != Class::Space);
        self.last_is_space = class == Class::Space;
    }

    fn all_but_last(self) -> Spaces {
        Spaces {
            count: self.count - 1,
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Word {
    script: Script,
    chars: u32,
    /// Latin letters outside ASCII.
    ext: u32,
    /// ASCII capitals, lower-to-upper changes inside the word (camelCase), and
    /// whether the first letter is a capital.
    upper: u32,
    humps: u32,
    capital: bool,
    marks: u32,
    last_lower: bool,
    /// A space or a punctuation character came before it in the same pre-token.
    prefix: Prefix,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prefix {
    None,
    Space,
    /// ASCII punctuation.
    Punct,
    /// A non-ASCII symbol (`«`, `“`, `，`).
    Symbol,
}

#[derive(Debug, Clone, Copy, Default)]
struct Punct {
    ascii: u32,
    symbols: u32,
    emoji: u32,
    marks: u32,
    newlines: u32,
    spaced: bool,
}

/// Walks `text` and calls `f` for each piece, in order; the pieces tile the text.
pub(crate) fn walk(text: &[u8], weights: &Weights, mut f: impl FnMut(Segment)) {
    let mut run = Run::Idle;
    let mut start = 0;
    let mut at = 0;
    while at < text.len() {
        let (class, len) = next_char(&text[at..]);
        run = step(run, class, at, &mut start, weights, &mut f);
        at += len;
    }
    close(run, start, text.len(), weights, &mut f);
}

/// Feeds one character to the run; emits the run it ends.
#[inline]
fn step(
    mut run: Run,
    class: Class,
    at: usize,
    start: &mut usize,
    w: &Weights,
    f: &mut impl FnMut(Segment),
) -> Run {
    // Continue the current run where the character belongs to it.
    match (&mut run, class) {
        (Run::Word(word), _) if extends_word(word, class) => {
            add_letter(word, class);
            return run;
        }
        (Run::Digits(n), Class::Digit) if *n < 3 => {
            *n += 1;
            return run;
        }
        (Run::Punct(p), _) if p.newlines == 0 && is_punct(class) => {
            add_punct(p, class);
            return run;
        }
        (Run::Punct(p), Class::Newline) => {
            p.newlines += 1;
            return run;
        }
        (Run::Spaces(ws), Class::Space | Class::OtherSpace)
        | (Run::Newline(ws), Class::Space | Class::OtherSpace) => {
            ws.add(class, at);
            return run;
        }
        // Whitespace before a line end belongs to it (`\s*[\r\n]+`).
        (Run::Spaces(_), Class::Newline) => return Run::Newline(Spaces::default()),
        (Run::Newline(ws), Class::Newline) => {
            *ws = Spaces::default();
            return run;
        }
        _ => {}
    }
    // Whitespace after a line end is not part of it: split it off.
    if let Run::Newline(ws) = run {
        if ws.count > 0 {
            close(Run::Newline(Spaces::default()), *start, ws.from, w, f);
            *start = ws.from;
            run = Run::Spaces(ws);
        }
    }
    // The character starts a new piece. The last of a run of spaces goes with a word or
    // punctuation after it; a lone punctuation character goes with letters after it.
    let prefix = match run {
        Run::Spaces(ws) if ws.last_is_space && (starts_word(class) || is_punct(class)) => {
            if ws.count > 1 {
                close(Run::Spaces(ws.all_but_last()), *start, at - 1, w, f);
            }
            *start = at - 1;
            Prefix::Space
        }
        Run::Punct(p) if p.is_lone() && starts_word(class) => {
            if p.ascii == 1 {
                Prefix::Punct
            } else {
                Prefix::Symbol
            }
        }
        _ => {
            close(run, *start, at, w, f);
            *start = at;
            Prefix::None
        }
    };
    begin(class, prefix, at)
}

fn begin(class: Class, prefix: Prefix, at: usize) -> Run {
    if let Some(script) = script_of(class) {
        let mut word = Word {
            script,
            chars: 0,
            ext: 0,
            upper: 0,
            humps: 0,
            capital: class == Class::Upper,
            marks: 0,
            last_lower: false,
            prefix,
        };
        add_letter(&mut word, class);
        return Run::Word(word);
    }
    match class {
        Class::Digit => Run::Digits(1),
        Class::Space | Class::OtherSpace => {
            let mut ws = Spaces {
                from: at,
                ..Spaces::default()
            };
            ws.add(class, at);
            Run::Spaces(ws)
        }
        Class::Newline => Run::Newline(Spaces::default()),
        _ => {
            let mut p = Punct {
                spaced: prefix == Prefix::Space,
                ..Punct::default()
            };
            add_punct(&mut p, class);
            Run::Punct(p)
        }
    }
}

fn script_of(class: Class) -> Option<Script> {
    Some(match class {
        Class::Lower | Class::Upper | Class::LatinExt => Script::Latin,
        Class::Cyrillic => Script::Cyrillic,
        Class::Greek => Script::Greek,
        Class::Arabic => Script::Arabic,
        Class::Indic => Script::Indic,
        Class::Han => Script::Han,
        Class::Kana => Script::Kana,
        Class::Hangul => Script::Hangul,
        Class::OtherLetter => Script::Other,
        _ => return None,
    })
}

fn starts_word(class: Class) -> bool {
    script_of(class).is_some()
}

fn extends_word(word: &Word, class: Class) -> bool {
    class == Class::Mark || script_of(class) == Some(word.script)
}

fn add_letter(word: &mut Word, class: Class) {
    match class {
        Class::Mark => {
            word.marks += 1;
            return;
        }
        Class::Upper => {
            word.upper += 1;
            if word.last_lower {
                word.humps += 1;
            }
        }
        Class::LatinExt => word.ext += 1,
        _ => {}
    }
    word.last_lower = class == Class::Lower;
    word.chars += 1;
}

fn is_punct(class: Class) -> bool {
    matches!(
        class,
        Class::Punct | Class::Symbol | Class::Emoji | Class::Mark | Class::Invalid
    )
}

impl Punct {
    /// One punctuation character with nothing before it in its piece.
    fn is_lone(&self) -> bool {
        self.ascii + self.symbols == 1
            && self.emoji + self.marks + self.newlines == 0
            && !self.spaced
    }
}

fn add_punct(p: &mut Punct, class: Class) {
    match class {
        Class::Punct => p.ascii += 1,
        Class::Emoji => p.emoji += 1,
        Class::Mark => p.marks += 1,
        _ => p.symbols += 1,
    }
}

/// Emits the finished run `text[start..end]` with its price.
fn close(run: Run, start: usize, end: usize, w: &Weights, f: &mut impl FnMut(Segment)) {
    let (mut letters, mut accented) = (0, false);
    let (kind, milli) = match run {
        Run::Idle => return,
        Run::Word(word) => {
            letters = word.chars;
            accented = word.ext > 0;
            (SegmentKind::Word(word.script), price_word(&word, w))
        }
        Run::Digits(_) => (SegmentKind::Digits, 1000),
        Run::Punct(p) => (SegmentKind::Punct, price_punct(&p, w)),
        Run::Spaces(ws) => (
            SegmentKind::Space,
            w.space_run + (ws.count.saturating_sub(1) / 16) * 1000 + ws.others * w.tab_extra,
        ),
        Run::Newline(_) => (SegmentKind::Newline, w.newline_run),
    };
    f(Segment {
        kind,
        start,
        end,
        milli_tokens: milli,
        letters,
        accented,
    });
}

fn price_word(word: &Word, w: &Weights) -> u32 {
    let n = word.chars;
    let mut milli = match word.script {
        Script::Latin => {
            let table = if word.upper >= 2 && word.upper * 2 >= n {
                &w.latin_caps
            } else {
                &w.latin
            };
            let caps = table == &w.latin_caps;
            let i = (n as usize).min(table.len() - 1);
            let over = n.saturating_sub(table.len() as u32 - 1);
            let capital = if word.capital && !caps && n >= 6 {
                w.capitalised
            } else {
                0
            };
            table[i] + over * w.latin_long + word.ext * w.latin_ext + word.humps * w.hump + capital
        }
        script => {
            let (base, per_char) = w.script(script);
            base + n * per_char
        }
    };
    milli += word.marks * w.mark;
    match word.prefix {
        Prefix::Space => {}
        Prefix::None => milli += w.unspaced,
        Prefix::Punct => milli += w.punct_prefix,
        Prefix::Symbol => milli += w.symbol,
    }
    milli.max(1000)
}

fn price_punct(p: &Punct, w: &Weights) -> u32 {
    let n = p.ascii as usize;
    let last = w.punct.len() - 1;
    let ascii = w.punct[n.min(last)] + (n.saturating_sub(last) as u32) * w.punct_long;
    let milli = ascii
        + p.symbols * w.symbol
        + p.emoji * w.emoji
        + p.marks * w.mark
        + p.newlines.min(1) * w.punct_newline;
    milli.max(1000)
}

//! The prices of pieces, per vocabulary, in thousandths of a token.
//!
//! Fitted against the real tokenizers (tiktoken's `cl100k_base` and `o200k_base`) on
//! the sample texts in `proto/tests/data/tokens/`: each piece of those texts was
//! tokenized on its own and the averages by class and length became these tables (see
//! `proto/tests/token_estimate.rs`, which measures the result).

/// The letter runs the estimator tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    Latin,
    Cyrillic,
    Greek,
    /// Arabic and Hebrew.
    Arabic,
    /// The Brahmic scripts of India, and Thai.
    Indic,
    Han,
    Kana,
    Hangul,
    Other,
}

/// What each kind of piece costs.
#[derive(Debug, Clone)]
pub(crate) struct Weights {
    /// A Latin word by length in letters (index 0 unused), with a space before it.
    pub latin: [u32; 17],
    /// The same for words mostly in capitals.
    pub latin_caps: [u32; 17],
    /// Each letter past the end of the tables.
    pub latin_long: u32,
    /// Each non-ASCII Latin letter (accents cost extra byte-level tokens).
    pub latin_ext: u32,
    /// Each letter past the third of a Latin word, in a text that is not English (see
    /// [`super::estimate`]).
    pub foreign_letter: u32,
    /// Each lower-to-upper change inside a word (`camelCase`).
    pub hump: u32,
    /// A word with no space before it (start of a line, after a digit).
    pub unspaced: u32,
    /// A capitalised word of six letters or more (names cost more than words).
    pub capitalised: u32,
    /// A word with one ASCII punctuation character glued before it (`(self`, `.foo`).
    pub punct_prefix: u32,
    /// Other scripts: `(per word, per character)`.
    pub cyrillic: (u32, u32),
    pub greek: (u32, u32),
    pub arabic: (u32, u32),
    pub indic: (u32, u32),
    pub han: (u32, u32),
    pub kana: (u32, u32),
    pub hangul: (u32, u32),
    pub other: (u32, u32),
    /// A combining mark, variation selector or joiner.
    pub mark: u32,
    /// A run of ASCII punctuation by length (common pairs like `",` or `{"` are one
    /// token), and each character past the table.
    pub punct: [u32; 6],
    pub punct_long: u32,
    /// Each non-ASCII symbol (quotes, dashes, arrows, CJK punctuation).
    pub symbol: u32,
    pub emoji: u32,
    /// Line ends glued to the end of a punctuation run.
    pub punct_newline: u32,
    /// A run of whitespace (up to 16), and each tab or Unicode space in it.
    pub space_run: u32,
    pub tab_extra: u32,
    /// A run of line ends.
    pub newline_run: u32,
}

impl Weights {
    pub fn script(&self, script: Script) -> (u32, u32) {
        match script {
            Script::Latin => (0, 1000),
            Script::Cyrillic => self.cyrillic,
            Script::Greek => self.greek,
            Script::Arabic => self.arabic,
            Script::Indic => self.indic,
            Script::Han => self.han,
            Script::Kana => self.kana,
            Script::Hangul => self.hangul,
            Script::Other => self.other,
        }
    }
}

/// `cl100k_base` (GPT-4, GPT-3.5, text-embedding-3).
pub(crate) const CL100K: Weights = Weights {
    latin: [
        1000, 1000, 1000, 1000, 1030, 1090, 1140, 1170, 1310, 1500, 1600, 1800, 1900, 2100, 2300,
        2500, 2700,
    ],
    latin_caps: [
        1000, 1000, 1000, 1300, 1600, 1900, 2200, 2500, 2800, 3100, 3400, 3700, 4000, 4300, 4600,
        4900, 5200,
    ],
    latin_long: 200,
    latin_ext: 500,
    foreign_letter: 110,
    hump: 300,
    capitalised: 350,
    unspaced: 0,
    punct_prefix: 50,
    cyrillic: (300, 470),
    greek: (300, 500),
    arabic: (200, 750),
    indic: (100, 1230),
    han: (200, 1000),
    kana: (200, 950),
    hangul: (900, 1000),
    other: (0, 1500),
    mark: 700,
    punct: [0, 1000, 1010, 1040, 1350, 1520],
    punct_long: 450,
    symbol: 1000,
    emoji: 2700,
    punct_newline: 0,
    space_run: 1000,
    tab_extra: 0,
    newline_run: 1000,
};

/// `o200k_base` (GPT-4o, GPT-4.1, GPT-5, o-series).
pub(crate) const O200K: Weights = Weights {
    latin: [
        1000, 1000, 1000, 1000, 1010, 1040, 1060, 1070, 1260, 1380, 1380, 1380, 1400, 1570, 1800,
        1900, 2000,
    ],
    latin_caps: [
        1000, 1000, 1000, 1300, 1600, 1900, 2200, 2500, 2800, 3100, 3400, 3700, 4000, 4300, 4600,
        4900, 5200,
    ],
    latin_long: 200,
    latin_ext: 300,
    foreign_letter: 60,
    hump: 300,
    capitalised: 150,
    unspaced: 0,
    punct_prefix: 50,
    cyrillic: (300, 220),
    greek: (300, 350),
    arabic: (400, 220),
    indic: (700, 160),
    han: (200, 630),
    kana: (200, 600),
    hangul: (0, 700),
    other: (0, 1200),
    mark: 500,
    punct: [0, 1000, 1010, 1040, 1350, 1520],
    punct_long: 450,
    symbol: 1000,
    emoji: 2100,
    punct_newline: 0,
    space_run: 1000,
    tab_extra: 0,
    newline_run: 1000,
};

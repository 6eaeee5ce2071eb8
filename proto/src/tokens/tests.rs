//! Properties of the estimator that hold for any text; its accuracy against the real
//! tokenizers is measured in `proto/tests/token_estimate.rs`.

use super::{estimate, for_each_segment, SegmentKind, Vocab};

const VOCABS: [Vocab; 2] = [Vocab::Cl100k, Vocab::O200k];

/// The pieces tile the text, and every piece costs at least one token.
fn check_pieces(text: &[u8]) {
    for vocab in VOCABS {
        let mut next = 0;
        for_each_segment(text, vocab, |s| {
            assert_eq!(s.start, next, "{text:?}: gap or overlap");
            assert!(s.end > s.start);
            assert!(s.milli_tokens >= 1000);
            next = s.end;
        });
        assert_eq!(next, text.len(), "{text:?}: not tiled");
        assert_eq!(estimate(text, vocab) == 0, text.is_empty());
    }
}

#[test]
fn pieces_tile_any_text() {
    let texts: &[&[u8]] = &[
        b"",
        b" ",
        b"hello",
        b"Hello, world!\n",
        b"  indented\n\n\tline  \n",
        b"fn main() { println!(\"{}\", 1234567); }",
        "naïve café — «ça va?» 日本語のテキスト 한국어 Привет мир 😀👍🏽".as_bytes(),
        b"\xFF\xFE\xC3 broken \xE2\x82 utf8 \xF0\x9F",
        b"\r\n\r\n   \r\n",
        b"a1b2c3 123456789 3.14159",
    ];
    for text in texts {
        check_pieces(text);
    }
    // Every byte value, alone and in a run.
    for b in 0..=255u8 {
        check_pieces(&[b]);
        check_pieces(&[b, b, b, b'a', b]);
    }
}

#[test]
fn pieces_follow_the_pre_split() {
    fn kinds(text: &str) -> Vec<(&str, SegmentKind)> {
        let mut out = Vec::new();
        for_each_segment(text.as_bytes(), Vocab::O200k, |s| {
            out.push((&text[s.start..s.end], s.kind));
        });
        out
    }
    use super::Script::Latin;
    use SegmentKind::*;
    assert_eq!(
        kinds("Hello world"),
        [("Hello", Word(Latin)), (" world", Word(Latin))]
    );
    assert_eq!(
        kinds("x = 1234567;"),
        [
            ("x", Word(Latin)),
            (" =", Punct),
            (" ", Space),
            ("123", Digits),
            ("456", Digits),
            ("7", Digits),
            (";", Punct)
        ]
    );
    assert_eq!(
        kinds("a\n    return(self)"),
        [
            ("a", Word(Latin)),
            ("\n", Newline),
            ("   ", Space),
            (" return", Word(Latin)),
            ("(self", Word(Latin)),
            (")", Punct)
        ]
    );
    assert_eq!(
        kinds("end  \n\n"),
        [("end", Word(Latin)), ("  \n\n", Newline)]
    );
    assert_eq!(kinds("\"},\n"), [("\"},\n", Punct)]);
}

#[test]
fn familiar_counts() {
    // Counts the real tokenizers give for these (both vocabularies).
    for vocab in VOCABS {
        assert_eq!(estimate(b"Hello world", vocab), 2);
        assert_eq!(
            estimate(b"The quick brown fox jumps over the lazy dog.", vocab),
            10
        );
        assert_eq!(estimate(b"1234567", vocab), 3);
        assert_eq!(estimate(b"{\"role\": \"user\"}", vocab), 6);
    }
}

#[test]
fn accented_text_costs_more_per_word() {
    let english = b"the small house stands near the river and the old bridge";
    let french = "la petite maison se trouve près de la rivière et du vieux pont".as_bytes();
    for vocab in VOCABS {
        let per_word = |text: &[u8]| {
            let words = text.split(|&b| b == b' ').count() as f64;
            estimate(text, vocab) as f64 / words
        };
        assert!(per_word(french) > per_word(english));
    }
}

#[test]
fn model_names() {
    for (model, vocab) in [
        ("gpt-4o-mini", Vocab::O200k),
        ("gpt-4.1", Vocab::O200k),
        ("gpt-5-nano", Vocab::O200k),
        ("o3-mini", Vocab::O200k),
        ("o1", Vocab::O200k),
        ("gpt-4-turbo", Vocab::Cl100k),
        ("gpt-3.5-turbo", Vocab::Cl100k),
        ("claude-sonnet-4", Vocab::Cl100k),
        ("llama3", Vocab::Cl100k),
        ("omni", Vocab::Cl100k),
        ("", Vocab::Cl100k),
    ] {
        assert_eq!(Vocab::for_model(model), vocab, "{model}");
    }
}

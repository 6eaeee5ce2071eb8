//! One row per rule of the WHATWG HTML event-stream interpretation (§9.2.6), written
//! from the spec text. Each row runs all ways (whole, every split, byte by byte; see
//! `run_all_ways`).

use super::{check_table, msg, typed, SKIP, X};

use X::{Comment, Skip};

#[test]
fn line_ends() {
    check_table(&[
        ("LF ends a line", b"data: a\n\n", &[msg(b"a").x()]),
        ("CR ends a line", b"data: a\r\r", &[msg(b"a").x()]),
        ("CRLF ends a line", b"data: a\r\n\r\n", &[msg(b"a").x()]),
        (
            "mixed line ends in one event",
            b"data: a\rdata: b\ndata: c\r\n\n",
            &[msg(b"a\nb\nc").x()],
        ),
        (
            "CR CR is a line end and an empty line",
            b"data: a\r\rdata: b\r\r",
            &[msg(b"a").x(), msg(b"b").x()],
        ),
        (
            "LF CR is a line end and an empty line",
            b"data: a\n\rdata: b\n\r",
            &[msg(b"a").x(), msg(b"b").x()],
        ),
        (
            "CRLF is one line end, the LF after it another",
            b"data: a\r\n\ndata: b\r\n\r\n",
            &[msg(b"a").x(), msg(b"b").x()],
        ),
        (
            "CR LF LF: the second LF is an empty line",
            b"data: a\r\n\n\ndata: b\n\n",
            &[msg(b"a").x(), SKIP, msg(b"b").x()],
        ),
        (
            "an extra empty line dispatches nothing",
            b"data: a\n\n\n\ndata: b\n\n",
            &[msg(b"a").x(), SKIP, SKIP, msg(b"b").x()],
        ),
        ("only empty lines", b"\n\r\n\r", &[SKIP, SKIP, SKIP]),
        ("an empty stream", b"", &[]),
    ]);
}

#[test]
fn byte_order_mark() {
    check_table(&[
        (
            "a leading BOM is skipped",
            b"\xEF\xBB\xBFdata: a\n\n",
            &[msg(b"a").x()],
        ),
        (
            "only one leading BOM is skipped",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\ndata: b\n\n",
            &[SKIP, msg(b"b").x()],
        ),
        (
            "a BOM after the start is part of the line",
            b"data: a\n\n\xEF\xBB\xBFdata: b\n\n",
            &[msg(b"a").x(), SKIP],
        ),
        (
            "a BOM inside a value is kept",
            b"data: \xEF\xBB\xBFa\n\n",
            &[msg(b"\xEF\xBB\xBFa").x()],
        ),
        (
            "half a BOM is line content",
            b"\xEF\xBBdata: a\n\ndata: b\n\n",
            &[SKIP, msg(b"b").x()],
        ),
        ("one BOM byte is line content", b"\xEFdata: a\n\n", &[SKIP]),
        (
            "a BOM then an empty line",
            b"\xEF\xBB\xBF\ndata: a\n\n",
            &[SKIP, msg(b"a").x()],
        ),
        ("a stream that is only a BOM", b"\xEF\xBB\xBF", &[]),
    ]);
}

#[test]
fn comments() {
    check_table(&[
        (
            "a comment line is reported with its text",
            b": hello\n\n",
            &[Comment(b" hello"), SKIP],
        ),
        (
            "a comment without a space",
            b":hello\ndata: a\n\n",
            &[Comment(b"hello"), msg(b"a").x()],
        ),
        ("an empty comment", b":\n\n", &[Comment(b""), SKIP]),
        (
            "a comment inside an event does not end it",
            b"data: a\n: c\ndata: b\n\n",
            &[Comment(b" c"), msg(b"a\nb").x()],
        ),
        (
            "a comment inside a typed event",
            b"event: add\r\n: x\r\ndata: 1\r\n\r\n",
            &[Comment(b" x"), typed(b"add", b"1").x()],
        ),
        (
            "colons inside a comment",
            b":a:b: c\n\n",
            &[Comment(b"a:b: c"), SKIP],
        ),
        (
            "a comment that looks like a field",
            b":data: x\n\n",
            &[Comment(b"data: x"), SKIP],
        ),
        (
            "comments with each line end",
            b":a\r:b\n:c\r\n\n",
            &[Comment(b"a"), Comment(b"b"), Comment(b"c"), SKIP],
        ),
        (
            "a comment at the end of the stream",
            b"data: a\n\n: bye\n",
            &[msg(b"a").x(), Comment(b" bye")],
        ),
    ]);
}

#[test]
fn field_syntax() {
    check_table(&[
        (
            "one space after the colon is dropped",
            b"data: a\n\n",
            &[msg(b"a").x()],
        ),
        ("no space after the colon", b"data:a\n\n", &[msg(b"a").x()]),
        (
            "only one space is dropped",
            b"data:  a\n\n",
            &[msg(b" a").x()],
        ),
        ("a tab is not dropped", b"data:\ta\n\n", &[msg(b"\ta").x()]),
        (
            "trailing spaces are kept",
            b"data: a  \n\n",
            &[msg(b"a  ").x()],
        ),
        (
            "only the first colon splits",
            b"data: a:b: c\n\n",
            &[msg(b"a:b: c").x()],
        ),
        (
            "a line without a colon is a field with an empty value",
            b"data\n\n",
            &[msg(b"").x()],
        ),
        (
            "an empty value after the colon",
            b"data:\n\n",
            &[msg(b"").x()],
        ),
        ("a value that is one space", b"data: \n\n", &[msg(b"").x()]),
        (
            "field names are case-sensitive",
            b"Data: a\nDATA: b\n\n",
            &[SKIP],
        ),
        (
            "whitespace before the name makes another name",
            b" data: a\n\tdata: b\n\n",
            &[SKIP],
        ),
        ("whitespace before the colon", b"data : a\n\n", &[SKIP]),
        (
            "unknown fields are ignored",
            b"foo: bar\nx\ndata: a\nbaz:\n\n",
            &[msg(b"a").x()],
        ),
        (
            "NUL in a data value is kept",
            b"data: \0\n\n",
            &[msg(b"\0").x()],
        ),
        (
            "bytes that are not UTF-8 pass through",
            b"data: \xFF\xFE\xC3\n\n",
            &[msg(b"\xFF\xFE\xC3").x()],
        ),
        (
            "UTF-8 text",
            "data: 日本語 ✓\n\n".as_bytes(),
            &[msg("日本語 ✓".as_bytes()).x()],
        ),
    ]);
}

#[test]
fn data_and_event_fields() {
    check_table(&[
        (
            "data lines are joined with LF",
            b"data: a\ndata: b\ndata: c\n\n",
            &[msg(b"a\nb\nc").x()],
        ),
        (
            "two empty data lines are one LF",
            b"data\ndata\n\n",
            &[msg(b"\n").x()],
        ),
        (
            "an empty last data line keeps one LF",
            b"data: a\ndata:\n\n",
            &[msg(b"a\n").x()],
        ),
        (
            "the event field sets the type",
            b"event: add\ndata: 1\n\n",
            &[typed(b"add", b"1").x()],
        ),
        (
            "the type is reset after each event",
            b"event: add\ndata: 1\n\ndata: 2\n\n",
            &[typed(b"add", b"1").x(), msg(b"2").x()],
        ),
        (
            "the last event field wins",
            b"event: a\nevent: b\ndata: x\n\n",
            &[typed(b"b", b"x").x()],
        ),
        (
            "an empty event field means message",
            b"event:\ndata: x\n\nevent: \ndata: y\n\nevent\ndata: z\n\n",
            &[msg(b"x").x(), msg(b"y").x(), msg(b"z").x()],
        ),
        (
            "the event field may follow data",
            b"data: x\nevent: add\n\n",
            &[typed(b"add", b"x").x()],
        ),
        (
            "an event without data is not dispatched and its type is dropped",
            b"event: add\n\ndata: x\n\n",
            &[SKIP, msg(b"x").x()],
        ),
    ]);
}

#[test]
fn id_field() {
    check_table(&[
        (
            "id sets the last event id",
            b"id: 1\ndata: a\n\n",
            &[msg(b"a").id(b"1").x()],
        ),
        (
            "the last event id persists",
            b"id: 1\ndata: a\n\ndata: b\n\n",
            &[msg(b"a").id(b"1").x(), msg(b"b").id(b"1").x()],
        ),
        (
            "an empty id resets it",
            b"id: 1\ndata: a\n\nid\ndata: b\n\nid:\ndata: c\n\n",
            &[msg(b"a").id(b"1").x(), msg(b"b").x(), msg(b"c").x()],
        ),
        (
            "an id holding NUL is ignored",
            b"id: 1\ndata: a\n\nid: 2\x003\ndata: b\n\n",
            &[msg(b"a").id(b"1").x(), msg(b"b").id(b"1").x()],
        ),
        (
            "an id in a block without data still sets the last event id",
            b"id: 7\n\ndata: a\n\n",
            &[Skip(b"7", None), msg(b"a").id(b"7").x()],
        ),
        (
            "spaces inside an id are kept",
            b"id:  x y \ndata: a\n\n",
            &[msg(b"a").id(b" x y ").x()],
        ),
        (
            "the last id field of a block wins",
            b"id: 1\nid: 2\ndata: a\n\n",
            &[msg(b"a").id(b"2").x()],
        ),
    ]);
}

#[test]
fn retry_field() {
    check_table(&[
        (
            "retry takes ASCII digits",
            b"retry: 1000\ndata: a\n\n",
            &[msg(b"a").retry(1000).x()],
        ),
        (
            "leading zeros",
            b"retry: 03000\n\n",
            &[Skip(b"", Some(3000))],
        ),
        ("zero", b"retry:0\n\n", &[Skip(b"", Some(0))]),
        ("a non-digit makes it ignored", b"retry: 10x\n\n", &[SKIP]),
        (
            "a sign makes it ignored",
            b"retry: -1\n\nretry: +1\n\n",
            &[SKIP, SKIP],
        ),
        (
            "a decimal point makes it ignored",
            b"retry: 1.5\n\n",
            &[SKIP],
        ),
        (
            "a second space makes it ignored",
            b"retry:  100\n\n",
            &[SKIP],
        ),
        (
            "an empty value is ignored",
            b"retry\n\nretry:\n\n",
            &[SKIP, SKIP],
        ),
        (
            "a later valid value wins",
            b"retry: 1\nretry: 2\n\n",
            &[Skip(b"", Some(2))],
        ),
        (
            "a later invalid value changes nothing",
            b"retry: 5\nretry: x\n\n",
            &[Skip(b"", Some(5))],
        ),
        (
            "the largest u64",
            b"retry: 18446744073709551615\n\n",
            &[Skip(b"", Some(u64::MAX))],
        ),
        (
            "a value past u64 is ignored",
            b"retry: 18446744073709551616\n\n",
            &[SKIP],
        ),
        (
            "retry is per block",
            b"retry: 9\ndata: a\n\ndata: b\n\n",
            &[msg(b"a").retry(9).x(), msg(b"b").x()],
        ),
    ]);
}

#[test]
fn end_of_stream() {
    check_table(&[
        (
            "an event without its empty line is not dispatched",
            b"data: a\n\ndata: b\n",
            &[msg(b"a").x()],
        ),
        (
            "a line without its line end is not processed",
            b"data: a\n\ndata: b",
            &[msg(b"a").x()],
        ),
        ("a final CR ends the line", b"data: a\r\r", &[msg(b"a").x()]),
    ]);
}

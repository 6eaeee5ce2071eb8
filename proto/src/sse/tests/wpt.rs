//! The parsing cases of the web-platform-tests `eventsource/format-*` suite, ported:
//! each test's stream and the event it expects, written out here (the MIME-type,
//! reconnection and network cases have no sans-I/O counterpart and are left out). Where
//! a WPT test reconnects to check `retry` or `lastEventId`, the row checks the value the
//! scanner reports instead. A few cases from the `eventsource-parser` fixtures follow.

use super::{check_table, msg, typed, SKIP, X};

use X::{Comment, Skip};

#[test]
fn wpt_format() {
    check_table(&[
        (
            "format-bom",
            b"\xEF\xBB\xBFdata:1\n\n\xEF\xBB\xBFdata:2\n\ndata:3\n\n",
            &[msg(b"1").x(), SKIP, msg(b"3").x()],
        ),
        (
            "format-bom-2",
            b"\xEF\xBB\xBF\xEF\xBB\xBFdata:1\n\ndata:2\n\ndata:3\n\n",
            &[SKIP, msg(b"2").x(), msg(b"3").x()],
        ),
        (
            "format-comments",
            // 2 KiB of `x` in the WPT test; 64 here, the rule is the same.
            b"data:1\r:\0\n:\r\ndata:2\n:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\rdata:3\n:data:fail\r:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\ndata:4\n\n",
            &[
                Comment(b"\0"),
                Comment(b""),
                Comment(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                Comment(b"data:fail"),
                Comment(b"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"),
                msg(b"1\n2\n3\n4").x(),
            ],
        ),
        (
            "format-data-before-final-empty-line",
            b"retry:1000\ndata:test1\n\nid:test\ndata:test2",
            &[msg(b"test1").retry(1000).x()],
        ),
        (
            "format-field-data",
            b"data:\n\ndata\ndata\n\ndata:test\n\n",
            &[msg(b"").x(), msg(b"\n").x(), msg(b"test").x()],
        ),
        (
            "format-field-event",
            b"event:test\ndata:x\n\ndata:x\n\n",
            &[typed(b"test", b"x").x(), msg(b"x").x()],
        ),
        (
            "format-field-event-empty",
            b"event: \ndata:data\n\n",
            &[msg(b"data").x()],
        ),
        (
            "format-field-id",
            b"id: 1\ndata: 1\n\ndata: 2\n\n",
            &[msg(b"1").id(b"1").x(), msg(b"2").id(b"1").x()],
        ),
        (
            "format-field-id-2",
            b"id:1\ndata:1\n\nid:\ndata:2\n\n",
            &[msg(b"1").id(b"1").x(), msg(b"2").x()],
        ),
        (
            "format-field-id-3 (an id with no data)",
            b"id:1\n\ndata:x\n\n",
            &[Skip(b"1", None), msg(b"x").id(b"1").x()],
        ),
        (
            "format-field-id-null",
            b"id:1\ndata:a\n\nid:1\x00a\ndata:b\n\n",
            &[msg(b"a").id(b"1").x(), msg(b"b").id(b"1").x()],
        ),
        (
            "format-field-parsing",
            b"data:\0\ndata:  2\rData:1\ndata\0:2\ndata:1\r\0data:4\nda-ta:3\rdata_5\ndata:3\rdata:\r\n data:32\ndata:4\n\n",
            &[msg(b"\0\n 2\n1\n3\n\n4").x()],
        ),
        (
            "format-field-retry",
            b"retry:03000\ndata:x\n\n",
            &[msg(b"x").retry(3000).x()],
        ),
        (
            "format-field-retry-bogus",
            b"retry:3000\nretry:1000x\ndata:x\n\n",
            &[msg(b"x").retry(3000).x()],
        ),
        (
            "format-field-retry-empty",
            b"retry\ndata:test\n\n",
            &[msg(b"test").x()],
        ),
        (
            "format-field-unknown",
            b"data:test\n data\ndata\nfoobar:xxx\njustsometext\n:thisisacommentyay\ndata:test\n\n",
            &[Comment(b"thisisacommentyay"), msg(b"test\n\ntest").x()],
        ),
        (
            "format-leading-space",
            b"data:\ttest\rdata: \ndata:test\n\n",
            &[msg(b"\ttest\n\ntest").x()],
        ),
        (
            "format-newlines",
            b"data:test\r\ndata\ndata:test\r\n\r",
            &[msg(b"test\n\ntest").x()],
        ),
        (
            "format-null-character",
            b"data:\0\n\n\n\n",
            &[msg(b"\0").x(), SKIP, SKIP],
        ),
        (
            "format-utf-8",
            "data:ok…\n\n".as_bytes(),
            &[msg("ok…".as_bytes()).x()],
        ),
    ]);
}

/// Shapes from the `eventsource-parser` fixtures: multi-byte text, heartbeats, and a
/// stream that mixes every field.
#[test]
fn parser_fixtures() {
    check_table(&[
        (
            "emoji and combining characters",
            "id: 1\ndata: 🥌 e\u{301}\n\nid: 2\ndata: 🧹\n\n".as_bytes(),
            &[
                msg("🥌 e\u{301}".as_bytes()).id(b"1").x(),
                msg("🧹".as_bytes()).id(b"2").x(),
            ],
        ),
        (
            "heartbeat comments between events",
            b":\n\ndata: a\n\n:heartbeat\n\n:heartbeat\n\ndata: b\n\n",
            &[
                Comment(b""),
                SKIP,
                msg(b"a").x(),
                Comment(b"heartbeat"),
                SKIP,
                Comment(b"heartbeat"),
                SKIP,
                msg(b"b").x(),
            ],
        ),
        (
            "every field in one block, in an odd order",
            b"data: x\nretry: 500\nid: 9\nevent: ping\ndata: y\n\n",
            &[typed(b"ping", b"x\ny").id(b"9").retry(500).x()],
        ),
        (
            "multi-line JSON",
            b"data: {\ndata: \"a\": 1\ndata: }\n\n",
            &[msg(b"{\n\"a\": 1\n}").x()],
        ),
    ]);
}

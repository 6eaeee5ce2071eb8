//! The examples in the text of the WHATWG HTML spec (§9.2.5 and §9.2.6), run all ways.

use super::{check_table, msg, typed, SKIP, X};

use X::Comment;

/// The examples in the spec's text (HTML §9.2.5 and §9.2.6).
#[test]
fn spec_examples() {
    check_table(&[
        (
            "stock ticker",
            b"data: YHOO\ndata: +2\ndata: 10\n\n",
            &[msg(b"YHOO\n+2\n10").x()],
        ),
        (
            "four blocks",
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n",
            &[
                Comment(b" test stream"),
                SKIP,
                msg(b"first event").id(b"1").x(),
                msg(b"second event").x(),
            ],
        ),
        (
            "four blocks, the last one ended",
            b": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
            &[
                Comment(b" test stream"),
                SKIP,
                msg(b"first event").id(b"1").x(),
                msg(b"second event").x(),
                msg(b" third event").x(),
            ],
        ),
        (
            "empty data and a discarded last block",
            b"data\n\ndata\ndata\n\ndata:",
            &[msg(b"").x(), msg(b"\n").x()],
        ),
        (
            "one space is optional",
            b"data:test\n\ndata: test\n\n",
            &[msg(b"test").x(), msg(b"test").x()],
        ),
        (
            "first, second and third message",
            b"data: This is the first message.\n\ndata: This is the second message, it\ndata: has two lines.\n\ndata: This is the third message.\n\n",
            &[
                msg(b"This is the first message.").x(),
                msg(b"This is the second message, it\nhas two lines.").x(),
                msg(b"This is the third message.").x(),
            ],
        ),
        (
            "named events",
            b"event: add\ndata: 73857293\n\nevent: remove\ndata: 2153\n\nevent: add\ndata: 113411\n\n",
            &[
                typed(b"add", b"73857293").x(),
                typed(b"remove", b"2153").x(),
                typed(b"add", b"113411").x(),
            ],
        ),
    ]);
}

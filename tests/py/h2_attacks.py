"""The known HTTP/2 attacks against a running gateway, each with what the gateway must do.

Every attack runs on its own connections (`--rounds` of them, one after the other) while
a well-behaved client (h2wire.Bystander, the `h2` package's state machine) makes
requests on a connection of its own. An attack passes when:
- each attacking connection gets the answer below (GOAWAY with its code, then the
  connection closed; or the resets named), within seconds;
- the well-behaved client got only 200s, before, during (when the attack lasted long
  enough to see any: 0.5 s) and after;
- with --pid: the gateway's peak memory grew by less than --max-rss-mib;
- with --mock / --upstream-port: the upstream saw no work for streams that were reset
  (where the attack is about that).

| check | attack | answer |
| --- | --- | --- |
| rapid-reset-burst | CVE-2023-44487: HEADERS + RST_STREAM pairs, written in bursts | GOAWAY ENHANCE_YOUR_CALM (h2's pending-accept reset limit, `http2.max_pending_accept_resets`) |
| rapid-reset-paced | the same, one pair per write, reading between | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.rst_stream` per second, or the pending-accept limit) |
| made-you-reset | CVE-2025-8671: requests (to a slow upstream) the server must reset: a WINDOW_UPDATE that overflows the stream window, a self-dependent PRIORITY, DATA past content-length | RST_STREAM FLOW_CONTROL_ERROR / PROTOCOL_ERROR each, the upstream request cancelled, then GOAWAY ENHANCE_YOUR_CALM (`http2.max_local_error_resets`) |
| continuation-flood | CVE-2024-27316: HEADERS without END_HEADERS, then CONTINUATION frames without end | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.continuation_per_block`, or h2's own limit) |
| continuation-flood-big | the same with 16 KiB fragments | GOAWAY ENHANCE_YOUR_CALM |
| hpack-bomb | a 4 KB field put in the HPACK table, then a block that refers to it 16,000 times (64 MB decoded) | GOAWAY ENHANCE_YOUR_CALM (h2's header-list abuse limit: 4 x `http2.max_header_list_size`), memory flat |
| settings-flood | CVE-2019-9515: SETTINGS without reading the ACKs | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.settings`) |
| ping-flood | CVE-2019-9512: PING without reading the ACKs | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.ping`) |
| priority-flood | CVE-2019-9513: PRIORITY frames for ever new streams | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.priority`) |
| window-update-flood | WINDOW_UPDATE 1 on the connection, again and again | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.window_update`) |
| empty-data-flood | CVE-2019-9518: empty DATA frames on an open stream | GOAWAY ENHANCE_YOUR_CALM (`http2.flood.empty_frames`) |
| within-budgets | (the control) PING, SETTINGS, PRIORITY, WINDOW_UPDATE and a reset request every 20 ms for 2.5 s | nothing: no GOAWAY, every PING answered, then a 200 |
| zero-window-stall | CVE-2019-9517-like: initial window 0, large responses, no WINDOW_UPDATE | response heads, no DATA, RST_STREAM CANCEL after `http2.send_timeout`, GOAWAY NO_ERROR after `http2.idle_timeout`, closed; memory bounded |

The GOAWAY's debug data says who stopped it: empty for the gateway's frame scanner
(proto/src/h2/scan.rs), h2's own words (`too_many_resets`, `too_many_continuations`,
`too_many_internal_resets`, `header_list_way_too_large`) for the h2 crate's limits.
tests/tests/h2_attacks.rs checks the matching metric after each.

    target/pyenv/bin/python tests/py/h2_attacks.py --gateway 127.0.0.1:8080 \\
        [--ca ca.pem] [--pid PID] [--mock http://127.0.0.1:8081] [--upstream-port 8081] \\
        [--rounds 3] [--send-timeout 1 --idle-timeout 1] [-k ping-flood]

Output and exit status: see h2checks.py.
"""

from __future__ import annotations

import json
import time
import urllib.request

from h2checks import Registry
from h2wire import (
    CANCEL,
    DATA,
    ENHANCE_YOUR_CALM,
    FLOW_CONTROL_ERROR,
    GOAWAY,
    HEADERS,
    INITIAL_WINDOW_SIZE,
    NO_ERROR,
    PING,
    PROTOCOL_ERROR,
    RST_STREAM,
    Bystander,
    Closed,
    Conn,
    Timeout,
    code_name,
    continuation,
    cpu_seconds,
    data,
    headers,
    ping,
    priority,
    rss_kib,
    rst_stream,
    settings,
    window_update,
)

reg = Registry(after_each=lambda: stop_watching())

# ---------------------------------------------------------------------------------------
# Support
# ---------------------------------------------------------------------------------------


def upstream_requests(args) -> int | None:
    """Requests the mock has seen, or None without --mock."""
    if not args.mock:
        return None
    with urllib.request.urlopen(args.mock.rstrip("/") + "/__mock/stats", timeout=3) as r:
        return int(json.load(r)["requests"])


def upstream_connections(port: int | None) -> int | None:
    """Established TCP connections to `port` on this host (the gateway's to its
    upstream), from /proc/net/tcp and tcp6."""
    if not port:
        return None
    n = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if cols[3] == "01" and int(cols[2].rsplit(":", 1)[1], 16) == port:
                        n += 1
        except FileNotFoundError:
            pass
    return n


# The well-behaved clients running: a check that fails before its Watch is done leaves
# its client running, which would count in the next check's upstream requests.
_watching: list[Bystander] = []


def stop_watching() -> None:
    while _watching:
        _watching.pop().stop()


class Watch:
    """The bystander, the gateway's memory and CPU, and the upstream's request count,
    around one attack."""

    def __init__(self, args, what: str):
        self.args, self.what = args, what
        self.by = Bystander(args.target).start()
        _watching.append(self.by)
        if not self.by.wait_ok(2, 5):
            self.by.stop()
            raise AssertionError(f"the well-behaved client got no 200s before the attack: {self.by.errors[:3]}")
        self.rss0 = rss_kib(args.pid)
        self.cpu0 = cpu_seconds(args.pid)
        self.up0 = upstream_requests(args)
        self.ok0 = self.by.ok
        self.t0 = time.monotonic()

    def done(self, max_upstream: int | None = None) -> str:
        """Ends the watch: checks the bystander (only 200s, some during the attack when
        it lasted 0.5 s or more, more after it), memory and upstream work."""
        took = time.monotonic() - self.t0
        during = self.by.ok - self.ok0
        after_from = self.by.ok
        got_after = self.by.wait_ok(after_from + 2, 5)
        self.by.stop()
        self.by.check()
        assert got_after, f"the well-behaved client got no 200 after the attack ({self.by.summary()})"
        if took >= 0.5:
            assert during >= 1, f"the well-behaved client got no 200 during {took:.2f}s of attack"
        out = [f"bystander {self.by.summary()}, {during} during the attack"]
        if self.args.pid:
            rss1 = rss_kib(self.args.pid)
            grew = (rss1["VmHWM"] - self.rss0["VmHWM"]) / 1024
            out.append(f"gateway peak RSS +{grew:.1f} MiB (now {rss1['VmRSS'] / 1024:.1f} MiB)")
            assert grew < self.args.max_rss_mib, f"the gateway's peak memory grew by {grew:.1f} MiB"
            out.append(f"CPU {cpu_seconds(self.args.pid) - self.cpu0:.2f}s over {took:.2f}s")
        up = upstream_requests(self.args)
        if up is not None:
            # The bystander's own requests reach the upstream too; the one in flight
            # when it stopped may have, uncounted (+1 at most).
            extra = up - self.up0 - (self.by.ok - self.ok0)
            out.append(f"upstream requests from the attack ~{max(extra, 0)}")
            if max_upstream is not None:
                assert extra <= max_upstream + 1, f"the upstream got ~{extra} requests from the attack (want <= {max_upstream})"
        return "; ".join(out)


def goaway_close(c: Conn, code: int, within: float = 3.0) -> str:
    """Reads until GOAWAY `code` and the close; returns a description with times."""
    c.expect_goaway(code, within, within)
    g = c.goaway()
    debug = g.frame.additional_data.decode(errors="replace")
    return (f"GOAWAY {code_name(code)} ({debug or 'frame scanner'}) at {c.since(g.at) * 1000:.0f} ms, "
            f"closed at {c.since(c.closed_at) * 1000:.0f} ms")


def poll_goaway(c: Conn) -> bool:
    """Reads what has come without waiting; True once GOAWAY came or the server closed."""
    try:
        while True:
            c.read(time.monotonic() + 0.0005)
    except (Timeout, Closed):
        pass
    return c.closed or c.goaway() is not None


def flood(c: Conn, frame_at, limit: int, chunk: int = 50) -> int:
    """Writes `frame_at(i)` for i in 0..limit, `chunk` at a time, until the server says
    GOAWAY or closes; returns how many were written."""
    sent = 0
    while sent < limit:
        n = min(chunk, limit - sent)
        if not c.send(b"".join(frame_at(sent + i) for i in range(n))):
            break
        sent += n
        if poll_goaway(c):
            break
    return sent


def rounds(args, attack) -> list[str]:
    return [attack(i) for i in range(args.rounds)]


def summary(results: list[str], watch: Watch, max_upstream: int | None = None) -> str:
    first = results[0] if len(set(results)) == 1 else " | ".join(results)
    return f"{len(results)} rounds: {first}; {watch.done(max_upstream)}"


# ---------------------------------------------------------------------------------------
# Rapid Reset (CVE-2023-44487)
# ---------------------------------------------------------------------------------------


def rapid_reset(args, per_write: int, max_upstream: int) -> str:
    """HEADERS + RST_STREAM(CANCEL) pairs, `per_write` pairs a write, until GOAWAY.
    The requests ask the upstream to wait 5 s: a reset request whose upstream work
    went on would hold an upstream connection that long, so the count of those left
    open after each round shows whether the resets cancelled the work. At most
    `max_upstream` of the reset requests may reach the upstream at all."""
    w = Watch(args, "rapid reset")
    slow = [("x-mock-delay-ms", "5000")]

    def attack(_):
        c = Conn(args.target)
        c.start()

        def pair(i):
            return headers(1 + 2 * i, c.hp.request("/", extra=slow)) + rst_stream(1 + 2 * i, CANCEL)

        # Look at the upstream after 200 pairs, while the connection still lives (when
        # the budgets let it: in bursts, h2's pending-accept limit ends it at once).
        pairs = flood(c, pair, 200, per_write)
        held = None if c.closed or c.goaway() else upstream_connections(args.upstream_port)
        pairs += flood(c, lambda i: pair(pairs + i), 20000, per_write)
        result = f"{pairs} HEADERS+RST_STREAM pairs, {goaway_close(c, ENHANCE_YOUR_CALM)}"
        if held is not None:
            # The bystander's connection, and a few whose close is under way.
            assert held <= 5, f"{held} upstream connections open after 200 reset streams: their work goes on"
            result += f" (after 200 pairs: {held} upstream connections open)"
        return result

    # A stream reset in the read that brought its HEADERS never starts its request:
    # the reset is polled before the request path (core/src/h2/server.rs).
    return summary(rounds(args, attack), w, max_upstream=max_upstream)


@reg.check("rapid-reset-burst", "CVE-2023-44487")
def _(args):
    return rapid_reset(args, 100, 0)


@reg.check("rapid-reset-paced", "CVE-2023-44487")
def _(args):
    # One pair per write, but when the gateway falls behind (a loaded CI machine) the
    # pairs queue in its socket and a read can end between a HEADERS and its
    # RST_STREAM: that request starts, as it should, and is cancelled when the reset
    # is read. Seen once in CI: 2 reached the upstream. A few, not the thousands of a
    # gateway that let reset streams run.
    return rapid_reset(args, 1, 5)


# ---------------------------------------------------------------------------------------
# MadeYouReset (CVE-2025-8671)
# ---------------------------------------------------------------------------------------


@reg.check("made-you-reset", "CVE-2025-8671")
def _(args):
    w = Watch(args, "MadeYouReset")
    held = []

    def attack(r):
        c = Conn(args.target)
        c.start()
        # Requests the upstream holds for 5 s: if the gateway kept working for the
        # streams it reset, each would hold an upstream connection meanwhile.
        slow = [("x-mock-delay-ms", "5000")]
        post = [("x-mock-delay-ms", "5000"), ("content-length", "1")]
        kinds = {FLOW_CONTROL_ERROR: 0, PROTOCOL_ERROR: 0}
        i = 0
        for i in range(2000):
            sid = 1 + 2 * i
            kind = i % 3
            if kind == 2:
                c.send(headers(sid, c.hp.request("/", "POST", extra=post), end_stream=False))
            else:
                c.send(headers(sid, c.hp.request("/", extra=slow)))
            time.sleep(0.003)  # let the gateway accept the stream and start on it
            if kind == 0:
                c.send(window_update(sid, 2**31 - 1))  # overflows the stream's send window
            elif kind == 1:
                c.send(priority(sid, sid))  # depends on itself
            else:
                c.send(data(sid, b"xx", end_stream=True))  # longer than content-length
            try:
                f = c.expect(lambda f: f.type in (RST_STREAM, GOAWAY), 2, f"the reset of stream {sid}")
            except AssertionError:
                if c.closed:
                    break
                raise
            if f.type == GOAWAY:
                break
            assert f.stream == sid, f"reset of stream {f.stream}, want {sid}: {f!r}"
            want = FLOW_CONTROL_ERROR if kind == 0 else PROTOCOL_ERROR
            assert f.frame.error_code == want, f"stream {sid}: {f!r}, want {code_name(want)}"
            kinds[want] += 1
            if i == 60 and r == 0:
                time.sleep(0.05)
                held.append(upstream_connections(args.upstream_port))
        resets = sum(kinds.values())
        return (f"{resets} streams reset by the server ({kinds[FLOW_CONTROL_ERROR]} FLOW_CONTROL_ERROR, "
                f"{kinds[PROTOCOL_ERROR]} PROTOCOL_ERROR), then {goaway_close(c, ENHANCE_YOUR_CALM)}")

    results = rounds(args, attack)
    if held and held[0] is not None:
        # 60 reset streams to a 5-second upstream; the bystander holds one connection.
        assert held[0] <= 5, f"{held[0]} upstream connections open after 60 server-reset streams: their work goes on"
        results[0] += f" (upstream connections open after 60 resets: {held[0]})"
    return summary(results, w)


# ---------------------------------------------------------------------------------------
# CONTINUATION floods (CVE-2024-27316 and family)
# ---------------------------------------------------------------------------------------


@reg.check("continuation-flood", "CVE-2024-27316")
def _(args):
    w = Watch(args, "CONTINUATION flood")

    def attack(_):
        c = Conn(args.target)
        c.start()
        c.send(headers(1, c.hp.request("/"), end_stream=True, end_headers=False))
        n = flood(c, lambda i: continuation(1, c.hp.block([("x-c", str(i))])), 100000, 20)
        return f"{n} CONTINUATION frames, {goaway_close(c, ENHANCE_YOUR_CALM)}"

    return summary(rounds(args, attack), w, max_upstream=0)


@reg.check("continuation-flood-big", "CVE-2024-27316")
def _(args):
    w = Watch(args, "CONTINUATION flood, 16 KiB frames")

    def attack(_):
        c = Conn(args.target)
        c.start()
        c.send(headers(1, c.hp.request("/"), end_stream=True, end_headers=False))
        frag = c.hp.block([("x-c", "v" * 16000)], sensitive=True, huffman=False)
        n = flood(c, lambda i: continuation(1, frag), 2000, 4)
        return f"{n} x 16 KB CONTINUATION, {goaway_close(c, ENHANCE_YOUR_CALM)}"

    return summary(rounds(args, attack), w, max_upstream=0)


# ---------------------------------------------------------------------------------------
# HPACK bomb
# ---------------------------------------------------------------------------------------


@reg.check("hpack-bomb", "HPACK bomb (RFC 7541 §7.3, CVE-2016-6581 class)")
def _(args):
    w = Watch(args, "HPACK bomb")

    def attack(_):
        c = Conn(args.target)
        c.start()
        # A real request puts a 4,000-byte field in the dynamic table (index 62)...
        c.send(headers(1, c.hp.request("/", extra=[("x-bomb", "b" * 4000)])))
        status, _, _ = c.response(1)
        assert status == 200, f"the request that fills the table got {status}"
        # ...then one block names it 16,000 times: 1-byte references, 64 MB decoded.
        block = c.hp.request("/") + bytes([0x80 | 62]) * 16000
        c.send(headers(3, block))
        return f"200, then a 16 KB block worth 64 MB: {goaway_close(c, ENHANCE_YOUR_CALM)}"

    return summary(rounds(args, attack), w, max_upstream=args.rounds)


# ---------------------------------------------------------------------------------------
# Control-frame floods (CVE-2019-9511..9518)
# ---------------------------------------------------------------------------------------


def control_flood(args, what: str, make, limit: int, setup=None) -> str:
    """Floods with `make(i)` after four requests to a 3-second upstream (streams 1-7)
    and `setup(c)`; the requests' upstream work must end with the connection."""
    w = Watch(args, what)

    def attack(_):
        c = Conn(args.target)
        c.start()
        for sid in (1, 3, 5, 7):
            c.request(sid, extra=[("x-mock-delay-ms", "3000")])
        if setup:
            setup(c)
        # The ACKs and answers are not read while flooding (the attack's point: the
        # server's output queue grows); a few are read between bursts to see GOAWAY.
        n = flood(c, make, limit, 200)
        result = f"{n} frames, {goaway_close(c, ENHANCE_YOUR_CALM)}"
        if args.upstream_port:
            # The well-behaved client's pooled connection may stay; the four slow
            # requests' must not (they would for 3 s).
            deadline = time.monotonic() + 1
            while (held := upstream_connections(args.upstream_port)) > 1 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert held <= 1, f"{held} upstream connections still open 1 s after the GOAWAY"
            result += ", the streams' upstream work dropped"
        return result

    return summary(rounds(args, attack), w)


@reg.check("settings-flood", "CVE-2019-9515")
def _(args):
    return control_flood(args, "SETTINGS flood", lambda i: settings((INITIAL_WINDOW_SIZE, 65535 + i % 2)), 100000)


@reg.check("ping-flood", "CVE-2019-9512")
def _(args):
    return control_flood(args, "PING flood", lambda i: ping(i.to_bytes(8, "big")), 100000)


@reg.check("priority-flood", "CVE-2019-9513")
def _(args):
    return control_flood(args, "PRIORITY flood", lambda i: priority(11 + 2 * i, 9 + 2 * i), 100000)


@reg.check("window-update-flood", "CVE-2019-9511 family")
def _(args):
    return control_flood(args, "WINDOW_UPDATE flood", lambda i: window_update(0, 1), 200000)


@reg.check("empty-data-flood", "CVE-2019-9518")
def _(args):
    def open_stream(c):
        c.send(headers(9, c.hp.request("/", "POST", extra=[("x-mock-delay-ms", "3000")]), end_stream=False))

    return control_flood(args, "empty DATA flood", lambda i: data(9, b""), 100000, setup=open_stream)


# ---------------------------------------------------------------------------------------
# Zero-window stall
# ---------------------------------------------------------------------------------------


@reg.check("zero-window-stall", "CVE-2019-9517 class (slow read)")
def _(args):
    w = Watch(args, "zero-window stall")
    streams, size = 20, 1 << 20
    c = Conn(args.target, timeout=10)
    c.start((INITIAL_WINDOW_SIZE, 0))
    t0 = time.monotonic()
    for i in range(streams):
        c.request(1 + 2 * i, extra=[("x-mock-body-size", str(size))])
    heads, resets, datas = set(), {}, 0
    deadline = t0 + args.send_timeout + 5
    while len(resets) < streams:
        try:
            f = c.read(deadline)
        except Timeout:
            raise AssertionError(f"{len(heads)} heads, {len(resets)} resets within {deadline - t0:.1f}s") from None
        except Closed:
            raise AssertionError(f"closed ({c.close_reason}) after {len(resets)} resets") from None
        if f.type == HEADERS:
            heads.add(f.stream)
        elif f.type == DATA and f.frame.data:
            datas += len(f.frame.data)
        elif f.type == RST_STREAM:
            resets[f.stream] = (f.frame.error_code, f.at - t0)
        elif f.type == GOAWAY:
            raise AssertionError(f"GOAWAY before every stream was reset: {f!r}")
    assert datas == 0, f"{datas} DATA bytes sent into a zero window"
    assert len(heads) == streams, f"{len(heads)} response heads for {streams} streams"
    codes = {code for code, _ in resets.values()}
    assert codes == {CANCEL}, f"reset codes {sorted(map(code_name, codes))}, want CANCEL"
    first = min(t for _, t in resets.values())
    last = max(t for _, t in resets.values())
    assert first >= args.send_timeout * 0.8, f"reset after {first:.2f}s, before http2.send_timeout ({args.send_timeout}s)"
    held = upstream_connections(args.upstream_port)
    # Nothing left: GOAWAY NO_ERROR once idle, then the close (h2's GOAWAY + PING; we
    # never answer the PING, the gateway closes after its grace).
    c.expect_goaway(NO_ERROR, args.idle_timeout + 3, 5)
    g = c.goaway()
    idle_after = g.at - t0 - last
    assert idle_after >= args.idle_timeout * 0.8, f"GOAWAY {idle_after:.2f}s after the last stream ended"
    return (f"{streams} x {size >> 20} MiB asked with a zero window: {len(heads)} heads, 0 DATA bytes, "
            f"RST_STREAM CANCEL at {first:.2f}-{last:.2f}s, upstream connections then {held}, "
            f"GOAWAY NO_ERROR {idle_after:.2f}s later, closed at {c.since(c.closed_at):.2f}s; {w.done()}")


# ---------------------------------------------------------------------------------------
# The control: a busy client within every budget is not cut off
# ---------------------------------------------------------------------------------------


@reg.check("within-budgets", "no false positives: budgets are per second")
def _(args):
    w = Watch(args, "a client within the budgets")
    c = Conn(args.target)
    c.start()
    # Every 20 ms for 2.5 s: a PING, a SETTINGS, a PRIORITY, a WINDOW_UPDATE and a
    # request reset at once: 125 of each, more than one second's budget of PING and
    # SETTINGS (100 with the defaults) in all, about half of it in any one second.
    ticks = 125
    for i in range(ticks):
        sid = 1 + 2 * i
        ok = c.send(
            ping(i.to_bytes(8, "big")),
            settings((INITIAL_WINDOW_SIZE, 65535 + i % 2)),
            priority(sid + 2, sid),
            window_update(0, 1),
            headers(sid, c.hp.request("/")),
            rst_stream(sid, CANCEL),
        )
        assert ok, f"the server closed after {i} ticks ({c.send_error}): {c.frames[-5:]}"
        assert not poll_goaway(c), f"cut off after {i} ticks: {c.goaway()!r} {c.close_reason}"
        time.sleep(0.02)
    assert c.request(1 + 2 * ticks), f"the request after the busy spell could not be sent: {c.send_error}"
    status, _, _ = c.response(1 + 2 * ticks)
    assert status == 200, f"a request after the busy spell got {status}"
    acks = sum(1 for f in c.frames if f.type == PING and "ACK" in f.flags)
    assert acks == ticks, f"{acks} PING ACKs for {ticks} PINGs"
    # max_upstream=1: the one ordinary request after the busy spell reaches the upstream
    # too (it is not the bystander's, so the watch counts it as the attack's); none of
    # the 125 reset requests may.
    return f"{ticks} ticks over {c.since():.1f}s: {acks} PING ACKs, no GOAWAY, then 200; {w.done(max_upstream=1)}"


def add_args(p):
    p.add_argument("--mock", help="the upstream tollgate-mock's URL (its request count)")
    p.add_argument("--rounds", type=int, default=3, help="attacking connections per attack (default 3)")
    p.add_argument("--send-timeout", type=float, default=30.0, help="the gateway's http2.send_timeout, s")
    p.add_argument("--idle-timeout", type=float, default=60.0, help="the gateway's http2.idle_timeout, s")
    p.add_argument("--max-rss-mib", type=float, default=64.0,
                   help="largest growth of the gateway's peak RSS an attack may cause (default 64)")


if __name__ == "__main__":
    reg.main(__doc__, add_args)

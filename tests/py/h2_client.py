"""A scriptable HTTP/2 client for the end-to-end tests in tests/tests/h2.rs.

One connection (h2c by prior knowledge, or TLS with ALPN), driven by JSON commands read
from stdin, one per line; each gets one JSON line on stdout (`{"error": ...}` when it
failed). The `h2` package keeps the protocol state; this script only moves bytes and
records what came, with times, so the Rust test can check streams, resets and GOAWAYs
that curl and h2load do not show.

    h2_client.py HOST PORT [--tls --sni NAME --ca FILE [--cert F --key F]]

Commands (`op`):
  info                         {"alpn", "cert"}: the ALPN chosen and the server's leaf
                               certificate (hex DER); both null on h2c
  send                         opens a stream: {"method", "path", "authority", "headers":
                               [[name, value], ...], "body": text | "body_size": n (bytes
                               i % 251), "pieces": DATA frames to split it into,
                               "trailers": [[name, value], ...], "open": true to leave the
                               stream open after the body}; answers {"stream": id}
  wait                         {"stream", "timeout"}: reads until that stream ended or was
                               reset (or the connection closed, or the time-out); answers
                               what the stream got (see `Stream.report`)
  request                      send + wait
  reset                        {"stream", "code"}: RST_STREAM
  wait_goaway                  {"timeout", "until_closed"}: reads until a GOAWAY came (and,
                               with until_closed, the connection closed); answers
                               {"goaways": [{"code", "last_stream", "t_ms"}], "closed",
                               "t_ms"}
  close                        closes the socket and exits

Times (`t_ms`) count from the start of the connection; a stream's DATA frames are timed
from when the stream was opened. Every read has a time-out: nothing here waits forever.
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import sys
import time
import traceback

import h2.config
import h2.connection
import h2.events


# The h2 package closes its whole state machine on any GOAWAY, but streams at or under
# its last_stream_id may still finish (RFC 9113 §6.8), and a graceful shutdown is exactly
# that: stay open on a GOAWAY received, so their frames (and PINGs) are still taken.
for _state in (h2.connection.ConnectionState.IDLE, h2.connection.ConnectionState.CLIENT_OPEN):
    h2.connection.H2ConnectionStateMachine._transitions[
        (_state, h2.connection.ConnectionInputs.RECV_GOAWAY)
    ] = (None, _state)


def pattern(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


class Stream:
    def __init__(self, sid: int) -> None:
        self.sid = sid
        self.t0 = time.monotonic()
        self.status: int | None = None
        self.headers: list[list[str]] = []
        self.informational: list[int] = []
        self.body = bytearray()
        self.frames: list[list[float]] = []
        self.trailers: list[list[str]] = []
        self.ended = False
        self.reset: int | None = None

    def done(self) -> bool:
        return self.ended or self.reset is not None

    def report(self, closed: bool) -> dict:
        body = bytes(self.body)
        try:
            text = body.decode()
        except UnicodeDecodeError:
            text = None
        return {
            "stream": self.sid,
            "status": self.status,
            "headers": self.headers,
            "informational": self.informational,
            "body": text if text is not None and len(body) <= 64 * 1024 else None,
            "body_len": len(body),
            "body_is_pattern": body == pattern(len(body)),
            "frames": self.frames,
            "trailers": self.trailers,
            "ended": self.ended,
            "reset": self.reset,
            "closed": closed,
        }


def pairs(headers) -> list[list[str]]:
    out = []
    for n, v in headers:
        n = n.decode() if isinstance(n, bytes) else n
        v = v.decode("latin-1") if isinstance(v, bytes) else v
        out.append([n, v])
    return out


class Client:
    def __init__(self, args: argparse.Namespace) -> None:
        self.t_start = time.monotonic()
        sock = socket.create_connection((args.host, args.port), timeout=10)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.alpn = None
        self.cert = None
        self.scheme = "http"
        if args.tls:
            ctx = ssl.create_default_context(cafile=args.ca)
            ctx.set_alpn_protocols(["h2"])
            if args.cert:
                ctx.load_cert_chain(args.cert, args.key)
            sock = ctx.wrap_socket(sock, server_hostname=args.sni)
            self.alpn = sock.selected_alpn_protocol()
            self.cert = sock.getpeercert(binary_form=True).hex()
            self.scheme = "https"
        self.sock = sock
        self.authority = args.sni or f"{args.host}:{args.port}"
        # Requests go out as the test wrote them (a Host beside :authority, odd fields):
        # what the gateway does with them is the question.
        config = h2.config.H2Configuration(
            client_side=True, header_encoding=None, validate_outbound_headers=False
        )
        self.conn = h2.connection.H2Connection(config=config)
        self.conn.initiate_connection()
        self.flush()
        self.streams: dict[int, Stream] = {}
        self.goaways: list[dict] = []
        self.closed = False

    def ms(self, since: float | None = None) -> float:
        return round((time.monotonic() - (since or self.t_start)) * 1000, 1)

    def flush(self) -> None:
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def pump(self, deadline: float) -> None:
        """Reads once (until `deadline` at most) and handles what came."""
        if self.closed:
            time.sleep(max(0.0, min(0.01, deadline - time.monotonic())))
            return
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return
        except (OSError, ssl.SSLError):
            self.closed = True
            return
        if not data:
            self.closed = True
            return
        for ev in self.conn.receive_data(data):
            self.handle(ev)
        try:
            self.flush()
        except OSError:
            self.closed = True

    def handle(self, ev) -> None:
        s = self.streams.get(getattr(ev, "stream_id", None) or 0)
        if isinstance(ev, h2.events.ResponseReceived):
            hs = pairs(ev.headers)
            s.status = int(dict(hs)[":status"])
            s.headers = [h for h in hs if not h[0].startswith(":")]
        elif isinstance(ev, h2.events.InformationalResponseReceived):
            s.informational.append(int(dict(pairs(ev.headers))[":status"]))
        elif isinstance(ev, h2.events.DataReceived):
            s.body += ev.data
            s.frames.append([self.ms(s.t0), len(ev.data)])
            self.conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
        elif isinstance(ev, h2.events.TrailersReceived):
            s.trailers = pairs(ev.headers)
        elif isinstance(ev, h2.events.StreamEnded):
            s.ended = True
        elif isinstance(ev, h2.events.StreamReset):
            if s is not None:
                s.reset = int(ev.error_code)
        elif isinstance(ev, h2.events.ConnectionTerminated):
            self.goaways.append(
                {
                    "code": int(ev.error_code),
                    "last_stream": ev.last_stream_id,
                    "t_ms": self.ms(),
                }
            )

    def send_body(self, sid: int, data: bytes, pieces: int, end: bool, deadline: float) -> None:
        size = max(1, -(-len(data) // max(1, pieces)))
        offset = 0
        while offset < len(data):
            piece = data[offset : offset + size]
            sent = 0
            while sent < len(piece):
                window = min(
                    self.conn.local_flow_control_window(sid), self.conn.max_outbound_frame_size
                )
                if window <= 0:
                    if time.monotonic() > deadline:
                        raise TimeoutError("the server's window stayed closed")
                    self.pump(deadline)
                    if self.streams[sid].done():
                        return
                    continue
                n = min(window, len(piece) - sent)
                last = end and offset + sent + n >= len(data)
                self.conn.send_data(sid, piece[sent : sent + n], end_stream=last)
                self.flush()
                sent += n
            offset += len(piece)

    def send(self, cmd: dict) -> dict:
        deadline = time.monotonic() + cmd.get("timeout", 10)
        sid = self.conn.get_next_available_stream_id()
        headers = [
            (":method", cmd.get("method", "GET")),
            (":scheme", self.scheme),
            (":authority", cmd.get("authority", self.authority)),
            (":path", cmd.get("path", "/")),
        ]
        headers += [tuple(h) for h in cmd.get("headers", [])]
        if "body_size" in cmd:
            body = pattern(cmd["body_size"])
        elif "body" in cmd:
            body = cmd["body"].encode()
        else:
            body = None
        trailers = cmd.get("trailers")
        keep_open = cmd.get("open", False)
        headers_end = body is None and not trailers and not keep_open
        self.streams[sid] = Stream(sid)
        self.conn.send_headers(sid, headers, end_stream=headers_end)
        self.flush()
        if body is not None:
            end = not trailers and not keep_open
            if body:
                self.send_body(sid, body, cmd.get("pieces", 1), end, deadline)
            elif end:
                self.conn.end_stream(sid)
        if trailers:
            self.conn.send_headers(sid, [tuple(t) for t in trailers], end_stream=True)
        self.flush()
        return {"stream": sid}

    def wait(self, cmd: dict) -> dict:
        s = self.streams[cmd["stream"]]
        deadline = time.monotonic() + cmd.get("timeout", 10)
        while not s.done() and not self.closed and time.monotonic() < deadline:
            self.pump(deadline)
        return s.report(self.closed)

    def reset(self, cmd: dict) -> dict:
        self.conn.reset_stream(cmd["stream"], error_code=cmd.get("code", 8))
        self.flush()
        return {}

    def wait_goaway(self, cmd: dict) -> dict:
        deadline = time.monotonic() + cmd.get("timeout", 10)
        until_closed = cmd.get("until_closed", False)
        while time.monotonic() < deadline and not self.closed:
            if self.goaways and not until_closed:
                break
            self.pump(deadline)
        return {"goaways": self.goaways, "closed": self.closed, "t_ms": self.ms()}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("--tls", action="store_true")
    ap.add_argument("--sni")
    ap.add_argument("--ca")
    ap.add_argument("--cert")
    ap.add_argument("--key")
    args = ap.parse_args()
    client = Client(args)
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            cmd = json.loads(line)
            op = cmd["op"]
            if op == "info":
                out = {"alpn": client.alpn, "cert": client.cert}
            elif op == "send":
                out = client.send(cmd)
            elif op == "wait":
                out = client.wait(cmd)
            elif op == "request":
                sid = client.send(cmd)["stream"]
                out = client.wait({**cmd, "stream": sid})
            elif op == "reset":
                out = client.reset(cmd)
            elif op == "wait_goaway":
                out = client.wait_goaway(cmd)
            elif op == "close":
                client.sock.close()
                print(json.dumps({}), flush=True)
                return
            else:
                out = {"error": f"unknown op {op!r}"}
        except Exception:
            out = {"error": traceback.format_exc()}
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()

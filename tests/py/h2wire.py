"""HTTP/2 on the wire, for the attack and conformance scripts (h2_attacks.py,
h2_conformance.py).

What is here:
- frame builders: valid frames are serialised by `hyperframe`; frames that hyperframe
  or `h2` refuse to make (a WINDOW_UPDATE of 0, an even stream id, a bad SETTINGS value,
  an oversized frame) are packed by hand with `raw()`;
- `Conn`: one client connection on a raw socket (h2c by prior knowledge, or TLS with
  ALPN `h2`) that sends bytes as given and reads the server's frames with `hyperframe`,
  every read bounded by a deadline;
- `Bystander`: a well-behaved client (the `h2` package's state machine) on its own
  connection that makes requests in a loop while an attack runs, and records what it
  got: the attack tests assert that it kept getting its 200s.

Nothing here blocks without a time-out: every socket has one, and every wait takes a
deadline.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass, field

import h2.config
import h2.connection
import h2.events
from hpack import Encoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PriorityFrame,
    RstStreamFrame,
    SettingsFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame types (RFC 9113 §6).
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY = range(8)
WINDOW_UPDATE, CONTINUATION = 8, 9

# Flags.
END_STREAM, ACK, END_HEADERS, PADDED, PRIORITY_FLAG = 0x1, 0x1, 0x4, 0x8, 0x20

# Error codes (RFC 9113 §7).
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0x0, 0x1, 0x2, 0x3
SETTINGS_TIMEOUT, STREAM_CLOSED, FRAME_SIZE_ERROR, REFUSED_STREAM = 0x4, 0x5, 0x6, 0x7
CANCEL, COMPRESSION_ERROR, CONNECT_ERROR, ENHANCE_YOUR_CALM = 0x8, 0x9, 0xA, 0xB
INADEQUATE_SECURITY, HTTP_1_1_REQUIRED = 0xC, 0xD
ERRORS = {
    NO_ERROR: "NO_ERROR",
    PROTOCOL_ERROR: "PROTOCOL_ERROR",
    INTERNAL_ERROR: "INTERNAL_ERROR",
    FLOW_CONTROL_ERROR: "FLOW_CONTROL_ERROR",
    SETTINGS_TIMEOUT: "SETTINGS_TIMEOUT",
    STREAM_CLOSED: "STREAM_CLOSED",
    FRAME_SIZE_ERROR: "FRAME_SIZE_ERROR",
    REFUSED_STREAM: "REFUSED_STREAM",
    CANCEL: "CANCEL",
    COMPRESSION_ERROR: "COMPRESSION_ERROR",
    CONNECT_ERROR: "CONNECT_ERROR",
    ENHANCE_YOUR_CALM: "ENHANCE_YOUR_CALM",
    INADEQUATE_SECURITY: "INADEQUATE_SECURITY",
    HTTP_1_1_REQUIRED: "HTTP_1_1_REQUIRED",
}

# SETTINGS identifiers.
HEADER_TABLE_SIZE, ENABLE_PUSH, MAX_CONCURRENT_STREAMS = 0x1, 0x2, 0x3
INITIAL_WINDOW_SIZE, MAX_FRAME_SIZE, MAX_HEADER_LIST_SIZE = 0x4, 0x5, 0x6

TYPE_NAMES = {
    DATA: "DATA",
    HEADERS: "HEADERS",
    PRIORITY: "PRIORITY",
    RST_STREAM: "RST_STREAM",
    SETTINGS: "SETTINGS",
    PUSH_PROMISE: "PUSH_PROMISE",
    PING: "PING",
    GOAWAY: "GOAWAY",
    WINDOW_UPDATE: "WINDOW_UPDATE",
    CONTINUATION: "CONTINUATION",
}


def code_name(code: int | None) -> str:
    if code is None:
        return "none"
    return f"{ERRORS.get(code, 'UNKNOWN')}(0x{code:x})"


# ---------------------------------------------------------------------------------------
# Frames out
# ---------------------------------------------------------------------------------------


def raw(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    """A frame packed by hand: any type, flags, stream id (the reserved bit included)
    and payload, whatever the protocol says of them."""
    n = len(payload)
    return struct.pack(">I", n)[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def settings(*pairs: tuple[int, int], ack: bool = False) -> bytes:
    if ack:
        return SettingsFrame(0, flags=["ACK"]).serialize()
    f = SettingsFrame(0)
    f.settings = dict(pairs)
    return f.serialize()


def settings_raw(*pairs: tuple[int, int]) -> bytes:
    """A SETTINGS frame with any values (hyperframe would take them too, but this keeps
    the order and duplicates exactly as given)."""
    return raw(SETTINGS, 0, 0, b"".join(struct.pack(">HI", k, v) for k, v in pairs))


def headers(
    stream: int,
    block: bytes,
    end_stream: bool = True,
    end_headers: bool = True,
) -> bytes:
    flags = []
    if end_stream:
        flags.append("END_STREAM")
    if end_headers:
        flags.append("END_HEADERS")
    f = HeadersFrame(stream, flags=flags)
    f.data = block
    return f.serialize()


def continuation(stream: int, block: bytes, end_headers: bool = False) -> bytes:
    f = ContinuationFrame(stream, flags=["END_HEADERS"] if end_headers else [])
    f.data = block
    return f.serialize()


def data(stream: int, payload: bytes = b"", end_stream: bool = False) -> bytes:
    f = DataFrame(stream, flags=["END_STREAM"] if end_stream else [])
    f.data = payload
    return f.serialize()


def rst_stream(stream: int, code: int = 0x8) -> bytes:
    f = RstStreamFrame(stream)
    f.error_code = code
    return f.serialize()


def ping(payload: bytes = b"\0" * 8, ack: bool = False) -> bytes:
    f = PingFrame(0, flags=["ACK"] if ack else [])
    f.opaque_data = payload
    return f.serialize()


def priority(stream: int, depends_on: int = 0, weight: int = 15, exclusive: bool = False) -> bytes:
    f = PriorityFrame(stream)
    f.depends_on = depends_on
    f.stream_weight = weight
    f.exclusive = exclusive
    return f.serialize()


def window_update(stream: int, increment: int) -> bytes:
    """Any increment, 0 and over 2^31-1 included (hyperframe refuses those)."""
    return raw(WINDOW_UPDATE, 0, stream, struct.pack(">I", increment))


def goaway(last_stream: int = 0, code: int = 0, debug: bytes = b"") -> bytes:
    f = GoAwayFrame(0)
    f.last_stream_id = last_stream
    f.error_code = code
    f.additional_data = debug
    return f.serialize()


class Headers:
    """An HPACK encoder for one connection (its dynamic table lives as long as the
    connection: use one per connection, in order)."""

    def __init__(self) -> None:
        self.enc = Encoder()

    def block(
        self,
        fields: list[tuple[str | bytes, str | bytes]],
        sensitive: bool = False,
        huffman: bool = True,
    ) -> bytes:
        """The HPACK block of `fields` as given (order, case, pseudo-headers and all):
        the encoder does not validate HTTP semantics. `sensitive`: never index them;
        `huffman=False` keeps big values cheap to encode."""
        fs = [(_b(k), _b(v)) for k, v in fields]
        if sensitive:
            from hpack import NeverIndexedHeaderTuple

            fs = [NeverIndexedHeaderTuple(k, v) for k, v in fs]
        return self.enc.encode(fs, huffman=huffman)

    def request(
        self,
        path: str = "/",
        method: str = "GET",
        authority: str = "test",
        extra: list[tuple[str, str]] = (),
    ) -> bytes:
        return self.block(
            [(":method", method), (":scheme", "http"), (":authority", authority), (":path", path)]
            + list(extra)
        )


def _b(x: str | bytes) -> bytes:
    return x if isinstance(x, bytes) else x.encode()


# ---------------------------------------------------------------------------------------
# Connections
# ---------------------------------------------------------------------------------------


@dataclass
class Target:
    """Where the gateway listens: `host:port`, h2c by prior knowledge, or TLS with ALPN
    `h2` when `ca` (a PEM file that signs its certificate) is given."""

    host: str
    port: int
    ca: str | None = None
    sni: str = "localhost"

    @staticmethod
    def parse(addr: str, ca: str | None = None, sni: str = "localhost") -> Target:
        host, _, port = addr.rpartition(":")
        return Target(host, int(port), ca, sni)

    @property
    def tls(self) -> bool:
        return self.ca is not None

    def connect(self, timeout: float = 5.0) -> socket.socket:
        s = socket.create_connection((self.host, self.port), timeout=timeout)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self.tls:
            return s
        ctx = ssl.create_default_context(cafile=self.ca)
        ctx.set_alpn_protocols(["h2"])
        t = ctx.wrap_socket(s, server_hostname=self.sni)
        if t.selected_alpn_protocol() != "h2":
            raise AssertionError(f"ALPN chose {t.selected_alpn_protocol()!r}, not h2")
        return t


class Closed(Exception):
    """The server closed the connection (EOF or reset)."""


class Timeout(Exception):
    pass


@dataclass
class In:
    """A frame from the server, parsed by hyperframe."""

    frame: Frame
    at: float

    @property
    def type(self) -> int:
        return self.frame.type

    @property
    def stream(self) -> int:
        return self.frame.stream_id

    @property
    def flags(self) -> set[str]:
        return set(self.frame.flags)

    def __repr__(self) -> str:
        f = self.frame
        extra = ""
        if f.type in (GOAWAY, RST_STREAM):
            extra = f" {code_name(f.error_code)}"
        if f.type == GOAWAY:
            extra += f" last={f.last_stream_id} debug={f.additional_data[:60]!r}"
        return f"{TYPE_NAMES.get(f.type, f.type)}(stream={f.stream_id}, flags={sorted(f.flags)}){extra}"


class Conn:
    """One client connection that sends exactly the bytes it is given."""

    def __init__(self, target: Target, timeout: float = 5.0):
        self.target = target
        self.sock = target.connect(timeout)
        self.timeout = timeout
        self.sock.settimeout(timeout)
        self.buf = bytearray()
        self.frames: list[In] = []
        self.closed = False
        self.close_reason = ""
        self.hp = Headers()
        self.t0 = time.monotonic()
        self.send_error: str | None = None

    # -- sending ----------------------------------------------------------------------

    def send(self, *chunks: bytes) -> bool:
        """Sends the bytes (waiting at most the connection's time-out for room); False
        (and remembers why) once the server has closed or stopped reading."""
        try:
            self.sock.settimeout(self.timeout)  # a read may have left a short one
            self.sock.sendall(b"".join(chunks))
            return True
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError) as e:
            self.send_error = f"{type(e).__name__}: {e}"
            return False

    def start(self, *pairs: tuple[int, int], wait: float = 2.0) -> In:
        """Preface and our SETTINGS, then the server's SETTINGS (acknowledged).
        Returns the server's SETTINGS frame."""
        self.send(PREFACE + settings(*pairs))
        f = self.expect(lambda f: f.type == SETTINGS and "ACK" not in f.flags, wait, "server SETTINGS")
        self.send(settings(ack=True))
        return f

    def request(
        self,
        stream: int,
        path: str = "/",
        method: str = "GET",
        extra: list[tuple[str, str]] = (),
        end_stream: bool = True,
    ) -> bool:
        return self.send(headers(stream, self.hp.request(path, method, extra=extra), end_stream))

    # -- reading ----------------------------------------------------------------------

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(65536)
        except (TimeoutError, socket.timeout) as e:
            raise Timeout() from e
        except ssl.SSLWantReadError as e:
            raise Timeout() from e
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError, OSError) as e:
            self._close(f"{type(e).__name__}: {e}")
            raise Closed() from e
        if not chunk:
            self._close("EOF")
            raise Closed()
        self.buf += chunk

    def _close(self, why: str) -> None:
        if not self.closed:
            self.closed = True
            self.close_reason = why
            self.closed_at = time.monotonic()

    def read(self, deadline: float) -> In:
        """The next frame; raises Timeout at the deadline, Closed at the end."""
        while len(self.buf) < 9:
            self._fill(deadline)
        f, n = Frame.parse_frame_header(memoryview(bytes(self.buf[:9])))
        while len(self.buf) < 9 + n:
            self._fill(deadline)
        f.parse_body(memoryview(bytes(self.buf[9 : 9 + n])))
        del self.buf[: 9 + n]
        got = In(f, time.monotonic())
        self.frames.append(got)
        return got

    def expect(self, pred, within: float, what: str) -> In:
        """Reads until a frame satisfies `pred`; answers PINGs and SETTINGS meanwhile.
        Raises AssertionError naming `what` and the frames seen when none does."""
        deadline = time.monotonic() + within
        start = len(self.frames)
        while True:
            try:
                f = self.read(deadline)
            except Timeout:
                raise AssertionError(
                    f"no {what} within {within}s; got {self.frames[start:][-12:]}"
                ) from None
            except Closed:
                raise AssertionError(
                    f"connection closed ({self.close_reason}) before {what}; got {self.frames[start:][-12:]}"
                ) from None
            if pred(f):
                return f

    def drain(self, within: float) -> bool:
        """Reads frames until the server closes (True) or `within` passes (False)."""
        deadline = time.monotonic() + within
        while True:
            try:
                self.read(deadline)
            except Timeout:
                return False
            except Closed:
                return True

    def goaway(self) -> In | None:
        for f in self.frames:
            if f.type == GOAWAY:
                return f
        return None

    def resets(self, stream: int | None = None) -> list[In]:
        return [f for f in self.frames if f.type == RST_STREAM and (stream is None or f.stream == stream)]

    def expect_goaway(self, code: int, within: float = 3.0, close_within: float = 3.0) -> In:
        """The server sends GOAWAY with `code`, then closes the connection."""
        g = self.goaway() or self.expect(lambda f: f.type == GOAWAY, within, f"GOAWAY {code_name(code)}")
        got = g.frame.error_code
        if got != code:
            raise AssertionError(f"GOAWAY {code_name(got)}, want {code_name(code)}: {g!r}")
        if not self.closed and not self.drain(close_within):
            raise AssertionError(f"GOAWAY {code_name(code)} came but the connection stayed open {close_within}s")
        return g

    def response(self, stream: int, within: float = 5.0) -> tuple[int, dict[str, str], bytes]:
        """The response on `stream`: (status, headers, body). Sends WINDOW_UPDATEs for the
        DATA it takes. Raises on RST_STREAM, GOAWAY before the end, or the deadline."""
        from hpack import Decoder

        dec = getattr(self, "_dec", None) or Decoder()
        self._dec = dec
        deadline = time.monotonic() + within
        status, hdrs, body = None, {}, bytearray()
        while True:
            try:
                f = self.read(deadline)
            except Timeout:
                raise AssertionError(f"no whole response on stream {stream} within {within}s") from None
            except Closed:
                raise AssertionError(f"connection closed ({self.close_reason}) during the response on {stream}") from None
            if f.type == HEADERS:
                # Decode every block: the HPACK context is the connection's.
                fields = [(_s(k), _s(v)) for k, v in dec.decode(f.frame.data)]
                if f.stream != stream:
                    continue
                d = dict(fields)
                if ":status" in d:
                    if int(d[":status"]) < 200:
                        continue  # informational: the final head is still to come
                    status = int(d[":status"])
                    hdrs = {k: v for k, v in fields if not k.startswith(":")}
                else:
                    hdrs.update(fields)  # trailers
                if "END_STREAM" in f.flags and status is not None:
                    return status, hdrs, bytes(body)
            elif f.type == DATA and f.stream == stream:
                body += f.frame.data
                if f.frame.flow_controlled_length:
                    self.send(window_update(0, f.frame.flow_controlled_length),
                              window_update(stream, f.frame.flow_controlled_length))
                if "END_STREAM" in f.flags:
                    return status, hdrs, bytes(body)
            elif f.type == DATA and f.frame.flow_controlled_length:
                self.send(window_update(0, f.frame.flow_controlled_length))
            elif f.type == RST_STREAM and f.stream == stream:
                raise AssertionError(f"stream {stream} reset: {f!r}")
            elif f.type == GOAWAY:
                raise AssertionError(f"GOAWAY during the response on {stream}: {f!r}")
            elif f.type == PING and "ACK" not in f.flags:
                self.send(ping(f.frame.opaque_data, ack=True))
            elif f.type == SETTINGS and "ACK" not in f.flags:
                self.send(settings(ack=True))

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def since(self, t: float | None = None) -> float:
        """Seconds from the connection's start to `t` (now when None)."""
        return (t if t is not None else time.monotonic()) - self.t0


def _s(x: str | bytes) -> str:
    return x.decode() if isinstance(x, bytes) else x


# ---------------------------------------------------------------------------------------
# A well-behaved client
# ---------------------------------------------------------------------------------------


@dataclass
class Bystander:
    """A well-behaved client on its own connection (the `h2` package's state machine,
    every rule kept) that GETs `path` over and over until stopped, a request at a time.

    `ok`: responses with status 200; `errors`: anything else (a status, a reset, a
    GOAWAY, a timeout, a closed connection: with what happened). The connection is
    opened again after an error, so one failure does not hide later successes."""

    target: Target
    path: str = "/"
    request_timeout: float = 3.0
    ok: int = 0
    errors: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> Bystander:
        self._thread.start()
        return self

    def stop(self) -> Bystander:
        self._stop.set()
        self._thread.join(self.request_timeout + 2)
        return self

    def wait_ok(self, n: int, within: float) -> bool:
        deadline = time.monotonic() + within
        while self.ok < n and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.ok >= n

    def summary(self) -> str:
        lat = sorted(self.latencies)
        p = (lambda q: f"{lat[min(len(lat) - 1, int(q * len(lat)))] * 1000:.1f}ms") if lat else (lambda q: "-")
        return f"{self.ok} x 200, {len(self.errors)} errors, latency p50 {p(0.5)} max {p(1.0)}"

    def check(self, at_least: int = 3) -> None:
        if self.errors:
            raise AssertionError(f"the well-behaved client saw errors: {self.errors[:5]} ({self.summary()})")
        if self.ok < at_least:
            raise AssertionError(f"the well-behaved client got only {self.ok} responses (want >= {at_least})")

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._session()
            except Exception as e:  # noqa: BLE001 - every failure is recorded
                self.errors.append(f"{type(e).__name__}: {e}")
                time.sleep(0.05)

    def _session(self) -> None:
        sock = self.target.connect(self.request_timeout)
        try:
            cfg = h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
            conn = h2.connection.H2Connection(config=cfg)
            conn.initiate_connection()
            sock.sendall(conn.data_to_send())
            while not self._stop.is_set():
                self._one(sock, conn)
        finally:
            sock.close()

    def _one(self, sock: socket.socket, conn: h2.connection.H2Connection) -> None:
        t0 = time.monotonic()
        sid = conn.get_next_available_stream_id()
        authority = f"{self.target.host}:{self.target.port}"
        scheme = "https" if self.target.tls else "http"
        conn.send_headers(
            sid,
            [(":method", "GET"), (":scheme", scheme), (":authority", authority), (":path", self.path)],
            end_stream=True,
        )
        sock.sendall(conn.data_to_send())
        status = None
        deadline = t0 + self.request_timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no response on stream {sid} within {self.request_timeout}s")
            sock.settimeout(left)
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"connection closed during stream {sid}")
            for ev in conn.receive_data(chunk):
                if isinstance(ev, h2.events.ResponseReceived) and ev.stream_id == sid:
                    status = int(dict(ev.headers)[":status"])
                elif isinstance(ev, h2.events.DataReceived):
                    conn.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
                elif isinstance(ev, h2.events.StreamReset) and ev.stream_id == sid:
                    raise ConnectionError(f"stream {sid} reset: {code_name(int(ev.error_code))}")
                elif isinstance(ev, h2.events.ConnectionTerminated):
                    raise ConnectionError(f"GOAWAY {code_name(int(ev.error_code))}")
                elif isinstance(ev, h2.events.StreamEnded) and ev.stream_id == sid:
                    sock.sendall(conn.data_to_send())
                    if status == 200:
                        self.ok += 1
                        self.latencies.append(time.monotonic() - t0)
                    else:
                        self.errors.append(f"status {status} on stream {sid}")
                    return
            sock.sendall(conn.data_to_send())


# ---------------------------------------------------------------------------------------
# The gateway's process
# ---------------------------------------------------------------------------------------


def rss_kib(pid: int | None) -> dict[str, int]:
    """VmRSS and VmHWM (peak) of a process, in KiB; empty without a pid."""
    if not pid:
        return {}
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def cpu_seconds(pid: int | None) -> float | None:
    """User + system CPU time of a process so far."""
    if not pid:
        return None
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = __import__("os").sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick

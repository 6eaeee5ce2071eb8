"""An HTTP/2 upstream for the end-to-end tests (tests/tests/h2_upstream.rs), with the
python `h2` package: cleartext (h2c, prior knowledge) or TLS (ALPN h2), one asyncio
task per stream, flow control respected both ways.

    h2_upstream.py --port-file PATH [--tls CERT KEY] [--max-streams N]

It binds 127.0.0.1 on a free port and writes the port to PATH when ready. Every
request's body (and trailers) is read whole before it answers; what it answers depends
on the path:

  /echo          200, the request body back (content-length), and what it saw:
                 x-method, x-path, x-authority, x-scheme, x-te, x-trailers
                 ("name=value; ..."), x-headers (the field names, comma-separated)
  /stream        200, the request body back without content-length (two DATA frames)
  /big?n=N       200, N bytes (content-length)
  /grpc?status=S&message=M
                 200 application/grpc, a 5-byte gRPC frame, then trailers
                 grpc-status: S, grpc-message: M
  /slow?ms=N     200 "slow" after N ms
  /refuse-once?key=K    the first request with K: RST_STREAM REFUSED_STREAM; then 200
  /goaway-once?key=K    the first request with K: GOAWAY with last stream id below it
                        (not processed) and close; then 200
  /reset-once?key=K     the first request with K: RST_STREAM INTERNAL_ERROR (after it
                        was read, i.e. processed); then 200
  /_stats        200 JSON {"connections": C, "requests": R, "keys": {K: attempts}}:
                 connections and requests other than /_stats
"""

import argparse
import asyncio
import json
import os
import ssl
import sys
from urllib.parse import parse_qs, urlsplit

import h2.config
import h2.connection
import h2.events
import h2.errors
import h2.settings

STATS = {"connections": 0, "requests": 0, "keys": {}}


class Conn(asyncio.Protocol):
    def __init__(self, max_streams):
        config = h2.config.H2Configuration(client_side=False, header_encoding="utf-8")
        self.h2 = h2.connection.H2Connection(config=config)
        self.max_streams = max_streams
        self.transport = None
        self.streams = {}  # stream id -> {"headers", "body", "trailers"}
        self.window_open = asyncio.Event()
        # Counted at its first request other than /_stats, so that asking for the
        # stats does not change them.
        self.counted = False

    def connection_made(self, transport):
        self.transport = transport
        self.h2.initiate_connection()
        self.h2.update_settings({h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: self.max_streams})
        self.flush()

    def flush(self):
        data = self.h2.data_to_send()
        if data and self.transport is not None:
            self.transport.write(data)

    def connection_lost(self, exc):
        self.transport = None
        self.window_open.set()

    def data_received(self, data):
        try:
            events = self.h2.receive_data(data)
        except Exception:
            self.transport.close()
            return
        for ev in events:
            if isinstance(ev, h2.events.RequestReceived):
                self.streams[ev.stream_id] = {
                    "headers": dict(ev.headers),
                    "names": [n for n, _ in ev.headers],
                    "body": bytearray(),
                    "trailers": [],
                }
            elif isinstance(ev, h2.events.DataReceived):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s["body"] += ev.data
                self.h2.acknowledge_received_data(ev.flow_controlled_length, ev.stream_id)
            elif isinstance(ev, h2.events.TrailersReceived):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    s["trailers"] = list(ev.headers)
            elif isinstance(ev, h2.events.StreamEnded):
                s = self.streams.get(ev.stream_id)
                if s is not None:
                    asyncio.ensure_future(self.answer(ev.stream_id, s))
            elif isinstance(ev, h2.events.StreamReset):
                self.streams.pop(ev.stream_id, None)
                self.window_open.set()
            elif isinstance(ev, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)):
                self.window_open.set()
            elif isinstance(ev, h2.events.ConnectionTerminated):
                self.transport.close()
        self.flush()

    async def send(self, sid, data, end):
        """Sends data as the client's windows allow."""
        view = memoryview(bytes(data))
        while True:
            if self.transport is None or sid not in self.streams:
                return
            room = min(self.h2.local_flow_control_window(sid), self.h2.max_outbound_frame_size)
            if room <= 0 and len(view) > 0:
                self.window_open.clear()
                await self.window_open.wait()
                continue
            chunk, view = view[:room], view[room:]
            last = end and len(view) == 0
            self.h2.send_data(sid, bytes(chunk), end_stream=last)
            self.flush()
            if len(view) == 0:
                return

    def respond(self, sid, status, headers, end=False):
        self.h2.send_headers(sid, [(":status", str(status))] + headers, end_stream=end)
        self.flush()

    async def answer(self, sid, s):
        h = s["headers"]
        url = urlsplit(h.get(":path", "/"))
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path
        if path != "/_stats":
            STATS["requests"] += 1
            if not self.counted:
                self.counted = True
                STATS["connections"] += 1
        body = bytes(s["body"])
        try:
            if path.endswith("-once"):
                key = q.get("key", "")
                n = STATS["keys"].get(key, 0) + 1
                STATS["keys"][key] = n
                if n == 1:
                    if path == "/refuse-once":
                        self.h2.reset_stream(sid, h2.errors.ErrorCodes.REFUSED_STREAM)
                    elif path == "/reset-once":
                        self.h2.reset_stream(sid, h2.errors.ErrorCodes.INTERNAL_ERROR)
                    else:
                        # The last stream processed is below this one: this one was not.
                        self.h2.close_connection(
                            error_code=h2.errors.ErrorCodes.NO_ERROR, last_stream_id=max(0, sid - 2)
                        )
                        self.flush()
                        self.transport.close()
                        return
                    self.flush()
                    self.streams.pop(sid, None)
                    return
                self.respond(sid, 200, [("content-length", "2")])
                await self.send(sid, b"ok", True)
            elif path == "/echo":
                trailers = "; ".join(f"{n}={v}" for n, v in s["trailers"])
                self.respond(
                    sid,
                    200,
                    [
                        ("content-length", str(len(body))),
                        ("x-method", h.get(":method", "")),
                        ("x-path", h.get(":path", "")),
                        ("x-authority", h.get(":authority", "")),
                        ("x-scheme", h.get(":scheme", "")),
                        ("x-te", h.get("te", "")),
                        ("x-trailers", trailers),
                        ("x-headers", ",".join(n for n in s["names"] if not n.startswith(":"))),
                    ],
                    end=len(body) == 0,
                )
                if body:
                    await self.send(sid, body, True)
            elif path == "/stream":
                self.respond(sid, 200, [("content-type", "application/octet-stream")])
                half = len(body) // 2
                await self.send(sid, body[:half], False)
                await self.send(sid, body[half:], True)
            elif path == "/big":
                n = int(q.get("n", "0"))
                data = bytes(i % 251 for i in range(n))
                self.respond(sid, 200, [("content-length", str(n))], end=n == 0)
                if n:
                    await self.send(sid, data, True)
            elif path == "/grpc":
                self.respond(sid, 200, [("content-type", "application/grpc")])
                await self.send(sid, b"\x00\x00\x00\x00\x00", False)
                if sid in self.streams and self.transport is not None:
                    self.h2.send_headers(
                        sid,
                        [
                            ("grpc-status", q.get("status", "0")),
                            ("grpc-message", q.get("message", "ok")),
                        ],
                        end_stream=True,
                    )
                    self.flush()
            elif path == "/slow":
                await asyncio.sleep(int(q.get("ms", "100")) / 1000)
                if sid in self.streams and self.transport is not None:
                    self.respond(sid, 200, [("content-length", "4")])
                    await self.send(sid, b"slow", True)
            elif path == "/_stats":
                data = json.dumps(STATS).encode()
                self.respond(sid, 200, [("content-length", str(len(data))), ("content-type", "application/json")])
                await self.send(sid, data, True)
            else:
                self.respond(sid, 404, [("content-length", "0")], end=True)
        except Exception as e:  # a stream the client reset, a closed connection
            print(f"stream {sid}: {e!r}", file=sys.stderr)
        finally:
            self.streams.pop(sid, None)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--max-streams", type=int, default=100)
    args = ap.parse_args()
    ctx = None
    if args.tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.tls[0], args.tls[1])
        ctx.set_alpn_protocols(["h2"])
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Conn(args.max_streams), "127.0.0.1", 0, ssl=ctx)
    port = server.sockets[0].getsockname()[1]
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(port))
    os.rename(tmp, args.port_file)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())

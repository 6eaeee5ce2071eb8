#!/usr/bin/env python3
"""Memory a proxy holds per idle keep-alive client connection.

Opens N connections to a proxy on loopback, sends one GET on each and reads its
answer, then leaves them idle and samples the proxy's RSS (from /proc/PID/status)
at a few moments. Prints the RSS before and, per sample, the growth per connection.

    bench/idle_conns.py --port 18302 --pid "$(pgrep -n tollgate)" -n 5000

The proxy's keep-alive time-out must be longer than the last sample (the default
60 s of Tollgate and nginx is). Needs N + 100 open files (`ulimit -n`).
"""

import argparse
import socket
import time


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for pid {pid}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="the proxy's port on 127.0.0.1")
    ap.add_argument("--pid", type=int, required=True, help="the process whose RSS is read")
    ap.add_argument("-n", type=int, default=5000, help="connections (default 5000)")
    ap.add_argument("--path", default="/", help="the GET's path (default /)")
    ap.add_argument(
        "--at",
        default="0.3,2.3",
        help="seconds after the last answer to sample RSS at, comma-separated (default 0.3,2.3)",
    )
    args = ap.parse_args()
    request = f"GET {args.path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()

    before = rss_kib(args.pid)
    socks = []
    for _ in range(args.n):
        s = socket.create_connection(("127.0.0.1", args.port), timeout=10)
        s.sendall(request)
        socks.append(s)
    for s in socks:
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit("the proxy closed a connection before answering")
            got += chunk
    t0 = time.monotonic()
    line = [f"RSS before {before} KiB"]
    for at in (float(x) for x in args.at.split(",")):
        time.sleep(max(0.0, t0 + at - time.monotonic()))
        now = rss_kib(args.pid)
        line.append(f"{args.n} idle after {at:g} s: {now} KiB ({(now - before) / args.n:.1f} KiB/conn)")
    print("; ".join(line))
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()

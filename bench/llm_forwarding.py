#!/usr/bin/env python3
"""Splits the inter-token latency of `bench/llm.sh`'s streams through the gateway into
what the mock sent and what the gateway added, from kernel timestamps of the packets.

Record the whole gateway run with the kernel's tcp_probe tracepoint (one event per data
packet a TCP socket receives, stamped in the sender's context on loopback), then feed
the text to this script with the gateway's listen port and the mock's port (both in
the run's conf/tollgate.toml):

    perf record -a -e tcp:tcp_probe --filter 'data_len > 0' -o probe.data &
    bench/llm.sh --no-build --scenario streams --targets gateway --rounds 1 \\
        --stream-points 10000x1x100
    kill -INT %1
    perf script -i probe.data | bench/llm_forwarding.py GATEWAY_PORT MOCK_PORT

It prints, per token event:
- the gaps between a stream's token packets as they reached the gateway from the mock
  and as they reached the load generator from the gateway (what the clients' ITL is
  made of, before the load generator's own scheduling);
- the inter-token gap p99 the gateway added: the p99 of the gaps leaving it minus the
  p99 of the gaps reaching it, the same streams in the same run (the issue's "added
  inter-token latency p99", measured at the gateway's sockets, so that neither the
  mock's nor the load generator's scheduling enters it);
- the gateway's forwarding delay: token-sized packets (-8..+16 bytes around the most
  common size of the mock's packets; the gateway passes the mock's events through
  unchanged, and so does a proxy that keeps the chunk framing, as nginx does) into the
  gateway's upstream sockets and out to the load generator, all sorted by time, the
  k-th out minus the k-th in. That is exact for a first-come first-served gateway and
  otherwise says how far its output runs behind its input.

Where the first and the last token travel differs by side (from the mock they share a
packet with the response head and with the finish; Tollgate sends them on their own,
nginx sends the head alone and joins the first two events), a stream has more token
packets on one side: as many are left out at each end of that side's streams as make
the typical stream count the same on both. Streams cut off by the recording's start or
end break the count: record the whole run (a difference of up to 50 events is aligned
away). The gateway port may be any proxy's listen port.
"""

import collections
import re
import sys

PROBE = re.compile(
    r"(\d+\.\d+):\s+tcp:tcp_probe: .*?src=([\d.]+):(\d+) dest=([\d.]+):(\d+) .*?data_len=(\d+)"
)


def pct(v, p):
    return v[min(len(v) - 1, int(p * len(v)))]


def line(name, v):
    return (
        f"{name}: p50 {pct(v, .5):.0f} p90 {pct(v, .9):.0f} p99 {pct(v, .99):.0f} "
        f"p99.9 {pct(v, .999):.0f} max {v[-1]:.0f} us (n {len(v)})"
    )


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    gw, mock = sys.argv[1], sys.argv[2]
    # Keyed by the receiving socket's port: the load generator's for what the gateway
    # sent, the gateway's upstream one for what the mock sent.
    packets = []
    for text in sys.stdin:
        m = PROBE.search(text)
        if not m:
            continue
        t, _src, sport, daddr, dport, n = m.groups()
        if dport == gw:
            packets.append((False, sport, float(t), int(n)))
        elif daddr == "127.0.0.2" and dport == mock:
            packets.append((True, sport, float(t), int(n)))
    # Token events are the bulk of the mock's packets and of one size give or take the
    # digits of the text (the model name and id in each event set it).
    sizes = collections.Counter(n for is_up, _, _, n in packets if is_up)
    if not sizes:
        sys.exit("no packets from the mock for these ports (is the mock on 127.0.0.2?)")
    token = sizes.most_common(1)[0][0]
    out = collections.defaultdict(list)
    up = collections.defaultdict(list)
    for is_up, sport, t, n in packets:
        if token - 8 <= n <= token + 16:
            (up if is_up else out)[sport].append(t)
    if not out or not up:
        sys.exit("no token packets for these ports (is the mock on 127.0.0.2?)")
    for flows in (up, out):
        for ts in flows.values():
            ts.sort()

    def typical(flows):
        return sorted(len(ts) for ts in flows.values())[len(flows) // 2]

    def trimmed(flows, front, back):
        return {k: ts[front : len(ts) - back] for k, ts in flows.items()}

    def flat(flows):
        return sorted(t for ts in flows.values() for t in ts)

    def median_delay(ins, outs):
        d = sorted(o - i for i, o in zip(ins[:20000], outs[:20000]))
        return d[len(d) // 2] if d else 0.0

    # The side with more token packets per stream loses the extra ones at its streams'
    # ends, split between front and back where the k-th out and the k-th in are then
    # closest (a wrong split pairs every token with its stream's next or last one, a
    # whole gap away).
    extra = typical(out) - typical(up)
    best = None
    for front in range(abs(extra) + 1):
        if extra >= 0:
            u, o = up, trimmed(out, front, extra - front)
        else:
            u, o = trimmed(up, front, -extra - front), out
        off = abs(median_delay(flat(u), flat(o)))
        if best is None or off < best[0]:
            best = (off, u, o)
    _, up, out = best
    ins, outs = flat(up), flat(out)
    print(f"streams {len(up)} upstream / {len(out)} client; token events in {len(ins)}, out {len(outs)}")
    p99 = {}
    for name, flows in (("token gaps into the gateway", up), ("token gaps out of the gateway", out)):
        gaps = sorted(
            (b - a) * 1e6 for ts in flows.values() for a, b in zip(ts, ts[1:])
        )
        print(line(name, gaps))
        p99[name] = pct(gaps, 0.99)
    print(
        "inter-token gap p99 added (out of the gateway minus into it, same run): "
        f"{p99['token gaps out of the gateway'] - p99['token gaps into the gateway']:+.0f} us"
    )
    # A few events may differ in count (a token packet that coalesced with the next,
    # a stream cut by the recording): skip up to 50 at the front of the longer side, as
    # many as leave the fewest negative delays.
    if abs(len(ins) - len(outs)) > 50:
        print("counts differ by more than 50 (streams cut by the recording?): no forwarding delay")
        return
    best = None
    for skip_in in range(0, 51):
        for skip_out in range(0, 51):
            a, b = ins[skip_in:], outs[skip_out:]
            if abs(len(a) - len(b)) > 2 or (skip_in and skip_out):
                continue
            neg = sum(1 for i, o in zip(a[:20000], b[:20000]) if o < i)
            if best is None or neg < best[0]:
                best = (neg, skip_in, skip_out)
    _, skip_in, skip_out = best
    ins, outs = ins[skip_in:], outs[skip_out:]
    if skip_in or skip_out:
        print(f"aligned by skipping {skip_in} events in, {skip_out} out")
    delay = sorted((o - i) * 1e6 for i, o in zip(ins, outs))
    print(line("gateway forwarding delay", delay))
    bins = collections.Counter(int(i * 100) for i, o in zip(ins, outs) if o - i > 0.005)
    print(f"10 ms intervals with an event delayed over 5 ms: {len(bins)} of "
          f"{int((ins[-1] - ins[0]) * 100) + 1}")


if __name__ == "__main__":
    main()

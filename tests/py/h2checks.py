"""The check runner shared by h2_attacks.py and h2_conformance.py.

A script registers checks with `@check(name, ref)`; `main()` parses the command line,
runs the chosen checks in order and prints one line per check:

    PASS  name  (ref): what was seen
    FAIL  name  (ref): what was expected and what came
    XFAIL name  (ref): a known deviation, still there, failing exactly the known way
    XPASS name  (ref): marked as a known deviation, but it passes now: remove the mark

It exits 1 when a check failed or passed unexpectedly (a deviation that went away must
be noticed, not hidden), 2 on a usage error, 0 otherwise. A check that could not run
is a FAIL, never a skip.

Command line (both scripts):
  --gateway HOST:PORT   the gateway's HTTP/2 listener (h2c by prior knowledge, or TLS
                        with --ca)
  --ca FILE             TLS with ALPN h2, trusting this CA (PEM); --sni NAME (localhost)
  --pid PID             the gateway's process: its memory and CPU are read from /proc
  --upstream-port PORT  the port of the gateway's upstream (tollgate-mock), to count
                        the gateway's connections to it in /proc/net/tcp
  -k SUBSTRING          run only checks whose name contains it (repeatable)
  --list                print the check names and exit
  and script-specific options (see each script's --help).
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable

from h2wire import Target


@dataclass
class Check:
    name: str
    ref: str
    fn: Callable
    known_deviation: tuple[str, str] | None


class Registry:
    def __init__(self, after_each: Callable[[], None] | None = None) -> None:
        """`after_each`: called after every check, passed or failed (to stop what a
        failed check left running)."""
        self.checks: list[Check] = []
        self.after_each = after_each

    def check(self, name: str, ref: str, known_deviation: tuple[str, str] | None = None):
        """Registers a check. `known_deviation`: (why, seen): the gateway is known to
        answer differently from what `ref` requires, for the reason `why`. The check
        must still fail, and its failure must contain `seen` (the known wrong answer:
        anything else, a hang included, is a FAIL); passing is an XPASS, so that the
        mark gets removed."""

        def reg(fn):
            self.checks.append(Check(name, ref, fn, known_deviation))
            return fn

        return reg

    def main(self, doc: str, add_args: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
        p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
        p.add_argument("--gateway", help="HOST:PORT of the HTTP/2 listener")
        p.add_argument("--ca", help="TLS (ALPN h2), trusting this CA file")
        p.add_argument("--sni", default="localhost")
        p.add_argument("--pid", type=int, help="the gateway's pid (memory, CPU)")
        p.add_argument("--upstream-port", type=int, help="the upstream's port")
        p.add_argument("-k", action="append", default=[], help="only checks whose name contains this")
        p.add_argument("--list", action="store_true")
        if add_args:
            add_args(p)
        args = p.parse_args()
        if args.list:
            for c in self.checks:
                print(f"{c.name}  ({c.ref})")
            return
        if not args.gateway:
            p.error("--gateway is required")
        args.target = Target.parse(args.gateway, args.ca, args.sni)
        chosen = [c for c in self.checks if not args.k or any(k in c.name for k in args.k)]
        if not chosen:
            print(f"no check matches {args.k}", file=sys.stderr)
            sys.exit(2)
        bad = 0
        counts = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
        t_all = time.monotonic()
        for c in chosen:
            t0 = time.monotonic()
            detail, tb = "", None
            try:
                detail = c.fn(args) or ""
                ok = True
            except AssertionError as e:
                ok, detail = False, str(e)
            except Exception as e:  # noqa: BLE001 - a check that cannot run fails
                ok, detail, tb = False, f"{type(e).__name__}: {e}", traceback.format_exc()
            finally:
                if self.after_each:
                    self.after_each()
            ms = (time.monotonic() - t0) * 1000
            if c.known_deviation:
                why, seen = c.known_deviation
                if ok:
                    verdict = "XPASS"
                    detail = f"{detail} -- marked as a known deviation ({why}) but it passes: remove the mark"
                elif seen in detail:
                    verdict = "XFAIL"
                    detail = f"known deviation: {why}; seen: {detail}"
                else:
                    verdict = "FAIL"
                    detail = f"failed, but not the known way ({seen!r} expected: {why}): {detail}"
            else:
                verdict = "PASS" if ok else "FAIL"
            counts[verdict] += 1
            if verdict in ("FAIL", "XPASS"):
                bad += 1
            print(f"{verdict:5} {c.name}  ({c.ref}, {ms:.0f} ms): {detail}", flush=True)
            if tb:
                print(tb, flush=True)
        total = (time.monotonic() - t_all) * 1000
        print(
            f"{counts['PASS']} passed, {counts['FAIL']} failed, {counts['XFAIL']} known deviations, "
            f"{counts['XPASS']} unexpectedly passed, in {total:.0f} ms"
        )
        sys.exit(1 if bad else 0)

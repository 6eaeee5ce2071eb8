"""Shared support for the SDK end-to-end scripts in this folder.

Each script builds a `Suite`, registers its cases with `@suite.case`, and calls
`suite.main()`, which parses the command line, runs the cases in order, prints one line
per case (and the traceback of each failure) and exits 1 when any case failed, 2 on a
usage error. The Rust tests in tests/tests/llm_sdk.rs start the servers and run the
scripts; a script can also be run by hand against servers started by hand:

    target/pyenv/bin/python tests/py/mock_sdk.py --mock plain=http://127.0.0.1:8081 \\
        --mock paced=http://127.0.0.1:8082 [-k substring]

Command line (every script takes the same; each uses what it needs):
  --gateway URL      the gateway's listener (the SDKs' base URL)
  --admin URL        the gateway's admin listener (/metrics)
  --access-log PATH  the gateway's access log
  --mock NAME=URL    a tollgate-mock instance (repeatable); recorded requests are read
                     from URL/__mock/requests, so start the mocks with --record
  -k SUBSTRING       run only the cases whose name contains it (repeatable)
  --topology         print the servers the script needs as JSON and exit: the gateway
                     scripts declare their mocks and models (`Suite(topology=...)`),
                     and tests/tests/llm_sdk.rs starts and configures exactly those
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
import urllib.request
import uuid
from typing import Any, Callable


class Failure(Exception):
    """A check failed; the message says what was expected and what came."""


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise Failure(msg)


def eq(got: Any, want: Any, what: str) -> None:
    if got != want:
        raise Failure(f"{what}: got {got!r}, want {want!r}")


def raises(exc_types: type | tuple, fn: Callable[[], Any], what: str) -> BaseException:
    """Runs `fn`; it must raise one of `exc_types`. Returns the exception."""
    try:
        result = fn()
    except exc_types as e:  # noqa: PERF203
        return e
    except Exception as e:
        raise Failure(
            f"{what}: expected {_names(exc_types)}, got {type(e).__module__}.{type(e).__name__}: {e}"
        ) from e
    raise Failure(f"{what}: expected {_names(exc_types)}, but it succeeded: {str(result)[:300]}")


def _names(t: type | tuple) -> str:
    ts = t if isinstance(t, tuple) else (t,)
    return " or ".join(f"{x.__module__}.{x.__name__}" for x in ts)


def nonce() -> str:
    """A word no other request has: cases find their upstream request by it."""
    return "n" + uuid.uuid4().hex[:12]


def now_us() -> int:
    return time.time_ns() // 1000


class Mock:
    """A tollgate-mock instance: its recorded requests and stats."""

    def __init__(self, name: str, url: str):
        self.name = name
        self.url = url.rstrip("/")

    def requests(self) -> list[dict]:
        with urllib.request.urlopen(self.url + "/__mock/requests", timeout=5) as r:
            return json.load(r)

    def stats(self) -> dict:
        with urllib.request.urlopen(self.url + "/__mock/stats", timeout=5) as r:
            return json.load(r)

    def find(self, word: str) -> list[dict]:
        """Recorded requests whose body contains `word`."""
        return [r for r in self.requests() if word in r.get("body", "")]


class Suite:
    def __init__(self, description: str, topology: dict | None = None):
        self.description = description
        self.topology = topology or {}
        self.cases: list[tuple[str, Callable[[], None]]] = []
        self.args: argparse.Namespace | None = None
        self.mocks: dict[str, Mock] = {}

    def case(self, fn: Callable[[], None]) -> Callable[[], None]:
        """Registers `fn` as a case, run in the order of registration."""
        self.cases.append((fn.__name__, fn))
        return fn

    # What the cases read -------------------------------------------------------------

    @property
    def gateway(self) -> str:
        return self._need("gateway").rstrip("/")

    @property
    def admin(self) -> str:
        return self._need("admin").rstrip("/")

    @property
    def access_log(self) -> str:
        return self._need("access_log")

    def mock(self, name: str) -> Mock:
        if name not in self.mocks:
            raise Failure(f"this case needs --mock {name}=URL")
        return self.mocks[name]

    def _need(self, attr: str) -> str:
        v = getattr(self.args, attr, None)
        if not v:
            raise Failure(f"this case needs --{attr.replace('_', '-')}")
        return v

    def find_upstream(self, word: str, names: list[str] | None = None, wait_s: float = 2.0) -> list[tuple[str, dict]]:
        """(mock name, recorded request) for every upstream request carrying `word`,
        waiting up to `wait_s` for at least one."""
        deadline = time.monotonic() + wait_s
        while True:
            found = [
                (n, r)
                for n, m in self.mocks.items()
                if names is None or n in names
                for r in m.find(word)
            ]
            if found or time.monotonic() > deadline:
                return found
            time.sleep(0.02)

    def one_upstream(self, word: str, names: list[str] | None = None) -> tuple[str, dict]:
        found = self.find_upstream(word, names)
        check(found, f"no mock received a request carrying {word!r}")
        eq(len(found), 1, f"upstream requests carrying {word!r} (mocks {[n for n, _ in found]})")
        return found[0]

    def access_log_line(self, model: str, wait_s: float = 3.0) -> dict:
        """The gateway's access log line (JSON) whose `llm.model` is `model`; there must be
        exactly one."""
        deadline = time.monotonic() + wait_s
        while True:
            lines = []
            try:
                with open(self.access_log, encoding="utf-8") as f:
                    lines = [json.loads(x) for x in f if x.strip()]
            except FileNotFoundError:
                pass
            mine = [x for x in lines if isinstance(x.get("llm"), dict) and x["llm"].get("model") == model]
            if mine or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        check(mine, f"no access log line with llm.model {model!r} in {self.access_log} "
                    f"({len(lines)} lines; last: {lines[-1] if lines else None})")
        eq(len(mine), 1, f"access log lines for model {model!r}")
        return mine[0]

    def metrics(self) -> list[tuple[str, dict, float]]:
        """The gateway's Prometheus samples: (name, labels, value)."""
        with urllib.request.urlopen(self.admin + "/metrics", timeout=5) as r:
            text = r.read().decode()
        out = []
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            name_labels, _, value = line.rpartition(" ")
            name, _, labels = name_labels.partition("{")
            pairs = {}
            for part in labels.rstrip("}").split(","):
                k, sep, v = part.partition("=")
                if sep:
                    pairs[k.strip()] = v.strip().strip('"')
            try:
                out.append((name, pairs, float(value)))
            except ValueError:
                pass
        return out

    # Running --------------------------------------------------------------------------

    def main(self) -> None:
        p = argparse.ArgumentParser(description=self.description)
        p.add_argument("--gateway")
        p.add_argument("--admin")
        p.add_argument("--access-log")
        p.add_argument("--mock", action="append", default=[], metavar="NAME=URL")
        p.add_argument("-k", action="append", default=[], metavar="SUBSTRING")
        p.add_argument("--list", action="store_true", help="print the case names and exit")
        p.add_argument("--topology", action="store_true", help="print the servers needed (JSON) and exit")
        self.args = p.parse_args()
        if self.args.topology:
            print(json.dumps(self.topology))
            return
        for spec in self.args.mock:
            name, sep, url = spec.partition("=")
            if not sep:
                p.error(f"--mock wants NAME=URL, got {spec!r}")
            self.mocks[name] = Mock(name, url)
        cases = [(n, f) for n, f in self.cases if not self.args.k or any(k in n for k in self.args.k)]
        if self.args.list:
            for n, _ in cases:
                print(n)
            return
        if not cases:
            p.error(f"no case matches {self.args.k}")
        failed = []
        for name, fn in cases:
            t0 = time.monotonic()
            try:
                fn()
            except Exception as e:  # every failure is reported, then the next case runs
                ms = (time.monotonic() - t0) * 1000
                failed.append(name)
                print(f"FAIL {name} ({ms:.0f} ms): {type(e).__name__}: {e}", flush=True)
                if not isinstance(e, Failure) or e.__cause__ is not None:
                    traceback.print_exc(file=sys.stdout)
                continue
            print(f"ok   {name} ({(time.monotonic() - t0) * 1000:.0f} ms)", flush=True)
        print(f"cases: {len(cases) - len(failed)} ok, {len(failed)} failed")
        if failed:
            print("failed cases: " + ", ".join(failed))
            sys.exit(1)

"""The official openai and anthropic SDKs straight against tollgate-mock: every shape the
mock produces must be one the SDKs accept, its faults must surface as the SDKs' typed
errors, and its request log must show usage and when a client left a stream.

Mocks (all with --record): `plain` (defaults), `paced` (--tps 100 --tokens 400),
`f429` (--fault 429: the CLI fault applies to every request).
"""

from __future__ import annotations

import time

import anthropic
import httpx2
import openai

import checks
from harness import Suite, check, eq, nonce, now_us, raises

suite = Suite(__doc__)


def oai(name: str = "plain", **headers: str) -> openai.OpenAI:
    c = checks.openai_client(suite.mock(name).url)
    return c.with_options(default_headers=headers) if headers else c


def ant(name: str = "plain", **headers: str) -> anthropic.Anthropic:
    c = checks.anthropic_client(suite.mock(name).url)
    return c.with_options(default_headers=headers) if headers else c


PLAIN = ["plain"]


@suite.case
def openai_chat():
    checks.openai_chat(suite, oai(), "m", "/v1/chat/completions", PLAIN)


@suite.case
def openai_chat_stream():
    checks.openai_chat_stream(suite, oai(), "m", None, "/v1/chat/completions", PLAIN)


@suite.case
def openai_chat_stream_include_usage():
    checks.openai_chat_stream(suite, oai(), "m", True, "/v1/chat/completions", PLAIN)


@suite.case
def openai_chat_stream_include_usage_false():
    checks.openai_chat_stream(suite, oai(), "m", False, "/v1/chat/completions", PLAIN)


@suite.case
def openai_tools():
    checks.openai_tools(suite, oai(), "m", False, "/v1/chat/completions", PLAIN)


@suite.case
def openai_tools_stream():
    checks.openai_tools(suite, oai(), "m", True, "/v1/chat/completions", PLAIN)


@suite.case
def openai_tool_result_turn():
    checks.openai_tool_result_turn(suite, oai(), "m", "/v1/chat/completions", PLAIN)


@suite.case
def openai_completions():
    checks.openai_completions(suite, oai(), "m", False, PLAIN)


@suite.case
def openai_completions_stream():
    checks.openai_completions(suite, oai(), "m", True, PLAIN)


@suite.case
def openai_embeddings():
    checks.openai_embeddings(suite, oai(), "e", PLAIN)


@suite.case
def openai_models():
    ids = [m.id for m in oai().models.list()]
    eq(ids, ["mock-gpt", "mock-claude"], "model ids")


@suite.case
def anthropic_message():
    checks.anthropic_message(suite, ant(), "c", "/v1/messages", PLAIN)


@suite.case
def anthropic_stream_events():
    checks.anthropic_stream_events(suite, ant(), "c", "/v1/messages", PLAIN)


@suite.case
def anthropic_stream_helper():
    checks.anthropic_stream_helper(suite, ant(), "c", "/v1/messages", PLAIN)


@suite.case
def anthropic_tools():
    checks.anthropic_tools(suite, ant(), "c", False, "/v1/messages", PLAIN)


@suite.case
def anthropic_tools_stream():
    checks.anthropic_tools(suite, ant(), "c", True, "/v1/messages", PLAIN)


@suite.case
def anthropic_tool_result_turn():
    checks.anthropic_tool_result_turn(suite, ant(), "c", "/v1/messages", PLAIN)


# Faults, per request by header -------------------------------------------------------------

OPENAI_FAULTS = [("429", openai.RateLimitError), ("500", openai.InternalServerError),
                 ("503", openai.InternalServerError)]
ANTHROPIC_FAULTS = [("429", anthropic.RateLimitError, "rate_limit_error"),
                    ("500", anthropic.InternalServerError, "api_error"),
                    ("503", anthropic.InternalServerError, "overloaded_error")]


@suite.case
def openai_status_faults():
    for fault, exc in OPENAI_FAULTS:
        for stream in (False, True):
            c = oai(**{"x-mock-fault": fault})

            def go():
                r = c.chat.completions.create(model="m", messages=checks.user(nonce()), stream=stream)
                return list(r) if stream else r

            e = raises(exc, go, f"fault {fault}, stream {stream}")
            checks.openai_error_body(e, int(fault))


@suite.case
def anthropic_status_faults():
    for fault, exc, typ in ANTHROPIC_FAULTS:
        for stream in (False, True):
            c = ant(**{"x-mock-fault": fault})

            def go():
                if stream:
                    with c.messages.stream(model="c", max_tokens=10, messages=checks.user(nonce())) as s:
                        return s.get_final_message()
                return c.messages.create(model="c", max_tokens=10, messages=checks.user(nonce()))

            e = raises(exc, go, f"fault {fault}, stream {stream}")
            checks.anthropic_error_body(e, int(fault), typ)


@suite.case
def openai_error_event_mid_stream():
    c = oai(**{"x-mock-fault": "error-event", "x-mock-fault-after": "3"})
    seen = []

    def go():
        for ch in c.chat.completions.create(model="m", messages=checks.user(nonce()), stream=True):
            seen.append(ch)

    e = raises(openai.APIError, go, "error event")
    check(not isinstance(e, openai.APIConnectionError), f"a connection error, not the error event: {e!r}")
    eq(len(seen), 3, "chunks before the error")
    check("mock error-event" in str(e), f"message {e}")


@suite.case
def anthropic_error_event_mid_stream():
    c = ant(**{"x-mock-fault": "error-event", "x-mock-fault-after": "4"})
    seen = []

    def go():
        with c.messages.stream(model="c", max_tokens=50, messages=checks.user(nonce())) as s:
            for ev in s:
                seen.append(ev.type)

    e = raises(anthropic.APIStatusError, go, "error event")
    check(isinstance(e.body, dict) and e.body.get("type") == "error", f"error body {e.body!r}")
    check("message_start" in seen, f"events before the error: {seen}")


@suite.case
def reset_mid_stream_is_a_connection_error():
    c = oai(**{"x-mock-fault": "reset-mid-stream", "x-mock-fault-after": "3"})
    raises((openai.APIConnectionError, httpx2.TransportError),
           lambda: list(c.chat.completions.create(model="m", messages=checks.user(nonce()), stream=True)),
           "reset mid-stream")


@suite.case
def cli_fault_applies_to_every_request():
    e = raises(openai.RateLimitError,
               lambda: oai("f429").chat.completions.create(model="m", messages=checks.user(nonce())), "chat")
    checks.openai_error_body(e, 429)
    check(e.response.headers.get("retry-after"), "no Retry-After on the 429")
    e = raises(anthropic.RateLimitError,
               lambda: ant("f429").messages.create(model="c", max_tokens=5, messages=checks.user(nonce())),
               "messages")
    checks.anthropic_error_body(e, 429, "rate_limit_error")
    raises(openai.RateLimitError, lambda: oai("f429").models.list(), "models")


# Client leaving mid-stream ----------------------------------------------------------------


def leave_after(read: int, make_stream) -> tuple[str, int]:
    word = nonce()
    stream = make_stream(word)
    n = 0
    for _ in stream:
        n += 1
        if n == read:
            break
    closed = now_us()
    stream.close()
    return word, closed


def stream_end(word: str) -> dict:
    deadline = time.monotonic() + 2
    while True:
        _, rec = suite.one_upstream(word, ["paced"])
        if "stream_end" in rec or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    check("stream_end" in rec, f"the mock recorded no stream_end: {rec.get('llm')}")
    return rec["stream_end"]


@suite.case
def mock_sees_openai_client_leave():
    before = suite.mock("paced").stats()["streams_client_gone"]
    word, closed = leave_after(5, lambda w: oai("paced").chat.completions.create(
        model="m", messages=checks.user(w), stream=True))
    end = stream_end(word)
    eq(end["outcome"], "client_gone", "outcome")
    lag_ms = (end["t_us"] - closed) / 1000
    check(0 <= lag_ms < 100, f"the mock saw the close {lag_ms:.1f} ms after it")
    check(end["tokens"] < 400, f"tokens sent {end['tokens']}")
    eq(suite.mock("paced").stats()["streams_client_gone"], before + 1, "streams_client_gone")


@suite.case
def mock_sees_anthropic_client_leave():
    word, closed = leave_after(6, lambda w: ant("paced").messages.create(
        model="c", max_tokens=1000, messages=checks.user(w), stream=True))
    end = stream_end(word)
    eq(end["outcome"], "client_gone", "outcome")
    lag_ms = (end["t_us"] - closed) / 1000
    check(0 <= lag_ms < 100, f"the mock saw the close {lag_ms:.1f} ms after it")


@suite.case
def complete_streams_are_recorded_complete():
    word = nonce()
    list(oai().chat.completions.create(model="m", messages=checks.user(word), stream=True))
    _, rec = suite.one_upstream(word, PLAIN)
    end = rec.get("stream_end", {})
    eq((end.get("outcome"), end.get("tokens")), ("complete", 16), "stream_end")


if __name__ == "__main__":
    suite.main()

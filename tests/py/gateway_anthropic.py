"""The official anthropic SDK through the gateway: messages whole and streamed (raw events
and the `messages.stream` helper with `get_final_message()`), tool use and tool results,
against an Anthropic-format upstream (`claude-mock`) and translated to an OpenAI-format
upstream (`gpt-mock`); usage as the mock produced it; errors the gateway answers itself
as the SDK's typed exceptions in Anthropic's error format.
"""

from __future__ import annotations

import json

import anthropic

import checks
from harness import Suite, check, eq, nonce, raises

suite = Suite(__doc__, topology={
    "mocks": {"good": []},
    "models": {"gpt-mock": ["good-oai"], "claude-mock": ["good-ant"]},
})

GPT = ("gpt-mock", "/v1/chat/completions")
CLAUDE = ("claude-mock", "/v1/messages")
GOOD = ["good"]
UPSTREAMS = [("anthropic_upstream", CLAUDE), ("openai_upstream", GPT)]


def client() -> anthropic.Anthropic:
    return checks.anthropic_client(suite.gateway)


def register(prefix: str, fn) -> None:
    for tag, (model, path) in UPSTREAMS:
        def case(model=model, path=path):
            fn(model, path)

        case.__name__ = f"{prefix}_{tag}"
        suite.case(case)


register("message", lambda m, p: checks.anthropic_message(suite, client(), m, p, GOOD))
register("stream_events", lambda m, p: checks.anthropic_stream_events(suite, client(), m, p, GOOD))
register("stream_helper", lambda m, p: checks.anthropic_stream_helper(suite, client(), m, p, GOOD))
register("tools", lambda m, p: checks.anthropic_tools(suite, client(), m, False, p, GOOD))
register("tools_stream", lambda m, p: checks.anthropic_tools(suite, client(), m, True, p, GOOD))
register("tool_result_turn", lambda m, p: checks.anthropic_tool_result_turn(suite, client(), m, p, GOOD))


@suite.case
def upstream_gets_provider_keys():
    for model, path in (CLAUDE, GPT):
        word = nonce()
        client().messages.create(model=model, max_tokens=3, messages=checks.user(word))
        _, rec = suite.one_upstream(word, GOOD)
        eq(rec["path"], path, "upstream path")
        headers = {k.lower(): v for k, v in rec["headers"]}
        if path == "/v1/messages":
            eq(headers.get("x-api-key"), "ak-upstream", "x-api-key upstream")
            check("anthropic-version" in headers, f"no anthropic-version upstream: {sorted(headers)}")
        else:
            eq(headers.get("authorization"), "Bearer sk-upstream", "authorization upstream")
            check("x-api-key" not in headers, f"x-api-key went to an OpenAI upstream: {headers}")
        check("ak-client" not in json.dumps(rec["headers"]), "the client's API key went upstream")
        eq(json.loads(rec["body"]).get("model"), model, "model sent upstream")


@suite.case
def stream_to_openai_upstream_has_usage_without_leaking_it():
    """Translated from an OpenAI stream: the gateway must have asked for the usage chunk
    (Anthropic clients always get usage) and not pass an OpenAI chunk through."""
    word = nonce()
    with client().messages.stream(model=GPT[0], max_tokens=50, messages=checks.user(word)) as s:
        types = [e.type for e in s]
        m = s.get_final_message()
    _, rec = suite.one_upstream(word, GOOD)
    body = json.loads(rec["body"])
    eq(body.get("stream_options", {}).get("include_usage"), True, "stream_options.include_usage upstream")
    check(m.usage.output_tokens > 0, f"usage {m.usage}")
    check(set(types) <= {"message_start", "content_block_start", "content_block_delta", "content_block_stop",
                         "message_delta", "message_stop", "text", "input_json", "ping"}, f"event types {types}")


@suite.case
def unknown_model_is_404():
    word = nonce()
    e = raises(anthropic.NotFoundError, lambda: client().messages.create(
        model="no-such-model", max_tokens=5, messages=checks.user(word)), "unknown model")
    checks.anthropic_error_body(e, 404, "not_found_error")
    eq(suite.find_upstream(word, wait_s=0.2), [], "upstream requests for an unknown model")

    def stream():
        with client().messages.stream(model="no-such-model", max_tokens=5, messages=checks.user(word)) as s:
            return s.get_final_message()

    e = raises(anthropic.NotFoundError, stream, "unknown model, stream")
    checks.anthropic_error_body(e, 404, "not_found_error")


@suite.case
def messages_not_a_list_is_400_when_translating():
    """The gateway must read the messages to translate them, so it is the one to refuse
    them. (Passed through to an Anthropic upstream, the provider judges: the mock accepts.)"""
    word = nonce()
    e = raises(anthropic.BadRequestError, lambda: client().messages.create(
        model=GPT[0], max_tokens=5, messages=f"hello {word}"), "messages as a string")
    checks.anthropic_error_body(e, 400, "invalid_request_error")
    eq(suite.find_upstream(word, wait_s=0.2), [], "upstream requests for a refused body")


@suite.case
def body_not_json_is_400():
    e = raises(anthropic.BadRequestError, lambda: client().post(
        "/v1/messages", content=b"{not json", cast_to=object,
        options={"headers": {"content-type": "application/json"}}), "a body that is not JSON")
    checks.anthropic_error_body(e, 400, "invalid_request_error")


if __name__ == "__main__":
    suite.main()

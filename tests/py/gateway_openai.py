"""The official openai SDK through the gateway: chat (whole and streamed, with and
without stream_options.include_usage), tool calls, legacy completions, embeddings and
the model list, against an OpenAI-format upstream (`gpt-mock`) and translated to an
Anthropic-format upstream (`claude-mock`); usage as the mock produced it; errors the
gateway answers itself as the SDK's typed exceptions in OpenAI's error format.
"""

from __future__ import annotations

import json

import openai

import checks
from harness import Suite, check, eq, nonce, raises

suite = Suite(__doc__, topology={
    "mocks": {"good": []},
    "models": {"gpt-mock": ["good-oai"], "claude-mock": ["good-ant"]},
})

GPT = ("gpt-mock", "/v1/chat/completions")
CLAUDE = ("claude-mock", "/v1/messages")
GOOD = ["good"]


def client() -> openai.OpenAI:
    return checks.openai_client(suite.gateway)


def upstream_auth(word: str, anthropic_upstream: bool) -> None:
    """The provider's key went upstream, in the provider's header; the client's did not."""
    _, rec = suite.one_upstream(word, GOOD)
    headers = {k.lower(): v for k, v in rec["headers"]}
    if anthropic_upstream:
        eq(headers.get("x-api-key"), "ak-upstream", "x-api-key upstream")
        check("anthropic-version" in headers, f"no anthropic-version upstream: {sorted(headers)}")
        check("authorization" not in headers, f"authorization went to an Anthropic upstream: {headers}")
    else:
        eq(headers.get("authorization"), "Bearer sk-upstream", "authorization upstream")
    check("sk-client" not in json.dumps(rec["headers"]), "the client's API key went upstream")


@suite.case
def models_list():
    ids = {m.id for m in client().models.list()}
    check({"gpt-mock", "claude-mock"} <= ids, f"model ids {sorted(ids)}")


@suite.case
def chat_openai_upstream():
    checks.openai_chat(suite, client(), *GPT, GOOD)


@suite.case
def chat_anthropic_upstream():
    checks.openai_chat(suite, client(), *CLAUDE, GOOD)


@suite.case
def upstream_gets_provider_keys():
    for model, path in (GPT, CLAUDE):
        word = nonce()
        client().chat.completions.create(model=model, messages=checks.user(word), max_tokens=3)
        _, rec = suite.one_upstream(word, GOOD)
        eq(rec["path"], path, "upstream path")
        upstream_auth(word, path == "/v1/messages")
        eq(json.loads(rec["body"]).get("model"), model, "model sent upstream")


def stream_cases():
    for model, path in (GPT, CLAUDE):
        tag = "openai" if model == GPT[0] else "anthropic"
        for include in (None, True, False):
            name = {None: "", True: "_include_usage", False: "_include_usage_false"}[include]

            def case(model=model, path=path, include=include):
                checks.openai_chat_stream(suite, client(), model, include, path, GOOD)

            case.__name__ = f"chat_stream{name}_{tag}_upstream"
            suite.case(case)


stream_cases()


@suite.case
def stream_asks_openai_upstream_for_usage():
    """DESIGN §4: the gateway asks the provider for usage in streams even when the client
    did not (and strips the chunk, which chat_stream_* check)."""
    word = nonce()
    list(client().chat.completions.create(model=GPT[0], messages=checks.user(word), stream=True))
    _, rec = suite.one_upstream(word, GOOD)
    body = json.loads(rec["body"])
    eq(body.get("stream_options", {}).get("include_usage"), True, "stream_options.include_usage upstream")


@suite.case
def tools_openai_upstream():
    checks.openai_tools(suite, client(), GPT[0], False, GPT[1], GOOD)


@suite.case
def tools_stream_openai_upstream():
    checks.openai_tools(suite, client(), GPT[0], True, GPT[1], GOOD)


@suite.case
def tools_anthropic_upstream():
    checks.openai_tools(suite, client(), CLAUDE[0], False, CLAUDE[1], GOOD)


@suite.case
def tools_stream_anthropic_upstream():
    checks.openai_tools(suite, client(), CLAUDE[0], True, CLAUDE[1], GOOD)


@suite.case
def tool_result_turn_openai_upstream():
    checks.openai_tool_result_turn(suite, client(), *GPT, GOOD)


@suite.case
def tool_result_turn_anthropic_upstream():
    checks.openai_tool_result_turn(suite, client(), *CLAUDE, GOOD)


@suite.case
def completions():
    checks.openai_completions(suite, client(), GPT[0], False, GOOD)


@suite.case
def completions_stream():
    checks.openai_completions(suite, client(), GPT[0], True, GOOD)


@suite.case
def embeddings():
    checks.openai_embeddings(suite, client(), GPT[0], GOOD)


@suite.case
def unknown_model_is_404():
    word = nonce()
    e = raises(openai.NotFoundError, lambda: client().chat.completions.create(
        model="no-such-model", messages=checks.user(word)), "unknown model")
    checks.openai_error_body(e, 404)
    eq(suite.find_upstream(word, wait_s=0.2), [], "upstream requests for an unknown model")
    e = raises(openai.NotFoundError, lambda: list(client().chat.completions.create(
        model="no-such-model", messages=checks.user(word), stream=True)), "unknown model, stream")
    checks.openai_error_body(e, 404)


@suite.case
def messages_not_a_list_is_400_when_translating():
    """The gateway must read the messages to translate them, so it is the one to refuse
    them. (Passed through to an OpenAI upstream, the provider judges: the mock accepts.)"""
    word = nonce()
    e = raises(openai.BadRequestError, lambda: client().chat.completions.create(
        model=CLAUDE[0], messages=f"hello {word}"), "messages as a string")
    checks.openai_error_body(e, 400)
    eq(suite.find_upstream(word, wait_s=0.2), [], "upstream requests for a refused body")


@suite.case
def missing_model_is_400():
    e = raises(openai.BadRequestError, lambda: client().post(
        "/chat/completions", body={"messages": checks.user(nonce())}, cast_to=object), "no model")
    checks.openai_error_body(e, 400)


@suite.case
def body_not_json_is_400():
    e = raises(openai.BadRequestError, lambda: client().post(
        "/chat/completions", content=b"{not json", cast_to=object,
        options={"headers": {"content-type": "application/json"}}), "a body that is not JSON")
    checks.openai_error_body(e, 400)


if __name__ == "__main__":
    suite.main()

"""Round trips through the official SDKs, shared by the scripts: each sends a request
carrying a fresh nonce, checks what the SDK returns, finds the request the upstream
mock received (by the nonce) and checks that the usage the client sees is the usage
the mock reported.

The mock's text is one word per token, so the words of the answer must equal its
completion (output) tokens too.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import openai

from harness import Failure, Suite, check, eq, nonce

WEATHER_OPENAI = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]

WEATHER_ANTHROPIC = [
    {
        "name": "get_weather",
        "description": "Current weather in a city",
        "input_schema": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    }
]


def openai_client(base: str) -> openai.OpenAI:
    # max_retries=0: a fault must surface, not be retried by the SDK.
    return openai.OpenAI(api_key="sk-client", base_url=base + "/v1", max_retries=0, timeout=20)


def anthropic_client(base: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(api_key="ak-client", base_url=base, max_retries=0, timeout=20)


def upstream_usage(rec: dict) -> tuple[int, int]:
    """(input, output) tokens the mock reported for a recorded request, in either API's names."""
    llm = rec.get("llm")
    check(llm and llm.get("usage"), f"the mock recorded no usage for {rec.get('path')}: {llm}")
    u = llm["usage"]
    if "input_tokens" in u:
        return u["input_tokens"], u["output_tokens"]
    return u["prompt_tokens"], u.get("completion_tokens", 0)


def upstream(suite: Suite, word: str, expect_path: str | None, names: list[str] | None) -> dict:
    _, rec = suite.one_upstream(word, names)
    if expect_path is not None:
        eq(rec["path"], expect_path, "path the upstream received")
    return rec


def user(word: str, text: str = "tell me about the weather") -> list[dict]:
    return [{"role": "user", "content": f"{text} {word}"}]


# OpenAI SDK ----------------------------------------------------------------------------


def openai_chat(suite: Suite, client: openai.OpenAI, model: str, expect_path: str | None = None,
                names: list[str] | None = None) -> None:
    word = nonce()
    r = client.chat.completions.create(
        model=model,
        messages=[{"role": "system", "content": "be brief"}] + user(word),
        max_tokens=12,
    )
    eq(r.object, "chat.completion", "object")
    eq(len(r.choices), 1, "choices")
    c = r.choices[0]
    eq(c.message.role, "assistant", "role")
    check(isinstance(c.message.content, str) and c.message.content, f"no content: {c.message}")
    check(c.finish_reason in ("stop", "length"), f"finish_reason {c.finish_reason!r}")
    rec = upstream(suite, word, expect_path, names)
    want_in, want_out = upstream_usage(rec)
    check(r.usage is not None, "no usage in the answer")
    eq((r.usage.prompt_tokens, r.usage.completion_tokens), (want_in, want_out),
       "usage (prompt, completion) vs the mock's")
    eq(r.usage.total_tokens, want_in + want_out, "total_tokens")
    eq(len(c.message.content.split()), want_out, f"words in {c.message.content!r}")


def openai_chat_stream(suite: Suite, client: openai.OpenAI, model: str, include_usage: bool | None,
                       expect_path: str | None = None, names: list[str] | None = None) -> None:
    word = nonce()
    kw: dict[str, Any] = {}
    if include_usage is not None:
        kw["stream_options"] = {"include_usage": include_usage}
    stream = client.chat.completions.create(model=model, messages=user(word), stream=True, **kw)
    text, finishes, usages, roles, chunks = [], [], [], [], 0
    for ch in stream:
        chunks += 1
        eq(ch.object, "chat.completion.chunk", "chunk object")
        if ch.usage is not None:
            usages.append((ch.usage, len(ch.choices)))
        for choice in ch.choices:
            if choice.delta.role:
                roles.append(choice.delta.role)
            if choice.delta.content:
                text.append(choice.delta.content)
            if choice.finish_reason:
                finishes.append(choice.finish_reason)
    content = "".join(text)
    check(content, f"no content in {chunks} chunks")
    eq(roles, ["assistant"], "role deltas")
    eq(len(finishes), 1, f"finish_reason chunks ({finishes})")
    rec = upstream(suite, word, expect_path, names)
    want_in, want_out = upstream_usage(rec)
    eq(len(content.split()), want_out, f"words streamed ({content!r})")
    if include_usage:
        eq(len(usages), 1, "chunks carrying usage with include_usage")
        u, nchoices = usages[0]
        eq(nchoices, 0, "choices in the usage chunk")
        eq((u.prompt_tokens, u.completion_tokens, u.total_tokens), (want_in, want_out, want_in + want_out),
           "streamed usage vs the mock's")
    else:
        eq([u.model_dump() for u, _ in usages], [], "usage chunks the client did not ask for")


def openai_tools(suite: Suite, client: openai.OpenAI, model: str, stream: bool, expect_path: str | None = None,
                 names: list[str] | None = None) -> None:
    word = nonce()
    kw = dict(model=model, messages=user(word, "what is the weather in Paris"),
              tools=WEATHER_OPENAI, tool_choice="required")
    if stream:
        with client.chat.completions.stream(**kw) as s:
            for _ in s:
                pass
            r = s.get_final_completion()
    else:
        r = client.chat.completions.create(**kw)
    c = r.choices[0]
    eq(c.finish_reason, "tool_calls", "finish_reason")
    calls = c.message.tool_calls or []
    eq(len(calls), 1, "tool calls")
    call = calls[0]
    eq(call.type, "function", "tool call type")
    check(call.id, "tool call without id")
    eq(call.function.name, "get_weather", "tool name")
    args = json.loads(call.function.arguments)
    check(isinstance(args, dict) and "city" in args, f"arguments {call.function.arguments!r}")
    rec = upstream(suite, word, expect_path, names)
    body = json.loads(rec["body"])
    check(body.get("tools"), f"the upstream request has no tools: {rec['body'][:300]}")
    if not stream:
        want_in, want_out = upstream_usage(rec)
        eq((r.usage.prompt_tokens, r.usage.completion_tokens), (want_in, want_out), "usage vs the mock's")


def openai_tool_result_turn(suite: Suite, client: openai.OpenAI, model: str, expect_path: str | None = None,
                            names: list[str] | None = None) -> None:
    """A second turn that carries the assistant's tool call and the tool's result."""
    word = nonce()
    messages = user(word, "what is the weather in Paris") + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny and warm"},
    ]
    r = client.chat.completions.create(model=model, messages=messages, tools=WEATHER_OPENAI, tool_choice="none")
    check(r.choices[0].message.content, f"no text after the tool result: {r.choices[0].message}")
    rec = upstream(suite, word, expect_path, names)
    check("sunny and warm" in rec["body"], f"the tool result did not reach the upstream: {rec['body'][:400]}")
    want_in, want_out = upstream_usage(rec)
    eq((r.usage.prompt_tokens, r.usage.completion_tokens), (want_in, want_out), "usage vs the mock's")


def openai_completions(suite: Suite, client: openai.OpenAI, model: str, stream: bool,
                       names: list[str] | None = None) -> None:
    word = nonce()
    if stream:
        parts = list(client.completions.create(model=model, prompt=f"say hi {word}", stream=True,
                                               stream_options={"include_usage": True}))
        text = "".join(c.choices[0].text for c in parts if c.choices)
        usage = [c.usage for c in parts if c.usage is not None]
        eq(len(usage), 1, "usage chunks")
        usage = usage[0]
    else:
        r = client.completions.create(model=model, prompt=f"say hi {word}")
        eq(r.object, "text_completion", "object")
        text, usage = r.choices[0].text, r.usage
    check(text, "no text")
    rec = upstream(suite, word, "/v1/completions", names)
    want_in, want_out = upstream_usage(rec)
    eq((usage.prompt_tokens, usage.completion_tokens), (want_in, want_out), "usage vs the mock's")
    eq(len(text.split()), want_out, f"words in {text!r}")


def openai_embeddings(suite: Suite, client: openai.OpenAI, model: str, names: list[str] | None = None) -> None:
    word = nonce()
    # The SDK asks for base64 and decodes it; the floats must come back either way.
    r = client.embeddings.create(model=model, input=[f"alpha beta {word}", "gamma"], dimensions=6)
    eq(len(r.data), 2, "embeddings")
    for i, d in enumerate(r.data):
        eq(d.index, i, "index")
        eq(len(d.embedding), 6, "dimensions")
        check(all(isinstance(x, float) and -1.0 <= x <= 1.0 for x in d.embedding), f"vector {d.embedding}")
    f = client.embeddings.create(model=model, input=[f"alpha beta {word}", "gamma"], dimensions=6,
                                 encoding_format="float")
    for a, b in zip(r.data, f.data):
        check(all(abs(x - y) < 1e-6 for x, y in zip(a.embedding, b.embedding)),
              f"base64 and float vectors differ: {a.embedding} vs {b.embedding}")
    found = suite.find_upstream(word, names)
    eq(len(found), 2, "upstream embedding requests")
    want_in, _ = upstream_usage(found[0][1])
    eq(r.usage.prompt_tokens, want_in, "prompt_tokens vs the mock's")
    eq(want_in, 4, "the mock's count (4 words)")


# Anthropic SDK -------------------------------------------------------------------------


def anthropic_message(suite: Suite, client: anthropic.Anthropic, model: str, expect_path: str | None = None,
                      names: list[str] | None = None) -> None:
    word = nonce()
    m = client.messages.create(model=model, max_tokens=12, system="be brief", messages=user(word))
    eq(m.type, "message", "type")
    eq(m.role, "assistant", "role")
    eq([b.type for b in m.content], ["text"], "content blocks")
    check(m.content[0].text, "empty text")
    check(m.stop_reason in ("end_turn", "max_tokens"), f"stop_reason {m.stop_reason!r}")
    rec = upstream(suite, word, expect_path, names)
    want_in, want_out = upstream_usage(rec)
    eq((m.usage.input_tokens, m.usage.output_tokens), (want_in, want_out), "usage vs the mock's")
    eq(len(m.content[0].text.split()), want_out, f"words in {m.content[0].text!r}")


def anthropic_stream_events(suite: Suite, client: anthropic.Anthropic, model: str,
                            expect_path: str | None = None, names: list[str] | None = None) -> None:
    word = nonce()
    events = list(client.messages.create(model=model, max_tokens=50, messages=user(word), stream=True))
    types = [e.type for e in events]
    check(types and types[0] == "message_start", f"first event {types[:1]}")
    check(types[-1] == "message_stop", f"last event {types[-1:]}")
    for t in ("content_block_start", "content_block_delta", "content_block_stop", "message_delta"):
        check(t in types, f"no {t} in {types}")
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta" and e.delta.type == "text_delta")
    rec = upstream(suite, word, expect_path, names)
    want_in, want_out = upstream_usage(rec)
    deltas = [e.usage for e in events if e.type == "message_delta"]
    eq(len(deltas), 1, "message_delta events")
    # As the SDK reads it: message_delta may restate input_tokens (a translating gateway
    # learns them only at the end of an OpenAI stream); else message_start has them.
    got_in = deltas[0].input_tokens
    if got_in is None:
        got_in = events[0].message.usage.input_tokens
    eq(got_in, want_in, "input_tokens vs the mock's")
    eq(deltas[0].output_tokens, want_out, "message_delta output_tokens vs the mock's")
    eq(len(text.split()), want_out, f"words streamed ({text!r})")


def anthropic_stream_helper(suite: Suite, client: anthropic.Anthropic, model: str,
                            expect_path: str | None = None, names: list[str] | None = None) -> None:
    word = nonce()
    with client.messages.stream(model=model, max_tokens=50, messages=user(word)) as s:
        text = "".join(s.text_stream)
        m = s.get_final_message()
    check(text, "text_stream gave nothing")
    eq(m.content[0].text, text, "final message text vs text_stream")
    rec = upstream(suite, word, expect_path, names)
    want_in, want_out = upstream_usage(rec)
    eq((m.usage.input_tokens, m.usage.output_tokens), (want_in, want_out), "final usage vs the mock's")
    check(m.stop_reason in ("end_turn", "max_tokens"), f"stop_reason {m.stop_reason!r}")


def anthropic_tools(suite: Suite, client: anthropic.Anthropic, model: str, stream: bool,
                    expect_path: str | None = None, names: list[str] | None = None) -> None:
    word = nonce()
    kw = dict(model=model, max_tokens=200, messages=user(word, "what is the weather in Paris"),
              tools=WEATHER_ANTHROPIC, tool_choice={"type": "any"})
    if stream:
        with client.messages.stream(**kw) as s:
            m = s.get_final_message()
    else:
        m = client.messages.create(**kw)
    eq(m.stop_reason, "tool_use", "stop_reason")
    blocks = [b for b in m.content if b.type == "tool_use"]
    eq(len(blocks), 1, f"tool_use blocks in {m.content}")
    b = blocks[0]
    eq(b.name, "get_weather", "tool name")
    check(b.id, "tool_use without id")
    check(isinstance(b.input, dict) and "city" in b.input, f"input {b.input!r}")
    rec = upstream(suite, word, expect_path, names)
    check(json.loads(rec["body"]).get("tools"), f"the upstream request has no tools: {rec['body'][:300]}")
    want_in, want_out = upstream_usage(rec)
    eq((m.usage.input_tokens, m.usage.output_tokens), (want_in, want_out), "usage vs the mock's")


def anthropic_tool_result_turn(suite: Suite, client: anthropic.Anthropic, model: str,
                               expect_path: str | None = None, names: list[str] | None = None) -> None:
    word = nonce()
    messages = user(word, "what is the weather in Paris") + [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny and warm"}]},
    ]
    m = client.messages.create(model=model, max_tokens=50, messages=messages, tools=WEATHER_ANTHROPIC,
                               tool_choice={"type": "none"})
    eq([b.type for b in m.content], ["text"], "content blocks after the tool result")
    rec = upstream(suite, word, expect_path, names)
    check("sunny and warm" in rec["body"], f"the tool result did not reach the upstream: {rec['body'][:400]}")


# Errors ----------------------------------------------------------------------------------


def openai_error_body(e: openai.APIStatusError, status: int) -> dict:
    eq(e.status_code, status, "status")
    try:
        body = e.response.json()
    except Exception as x:
        raise Failure(f"the {status} body is not JSON: {e.response.text[:300]!r}") from x
    err = body.get("error") if isinstance(body, dict) else None
    check(isinstance(err, dict) and isinstance(err.get("message"), str) and err.get("type"),
          f"not an OpenAI error body: {body}")
    return err


def anthropic_error_body(e: anthropic.APIStatusError, status: int, err_type: str | None = None) -> dict:
    eq(e.status_code, status, "status")
    try:
        body = e.response.json()
    except Exception as x:
        raise Failure(f"the {status} body is not JSON: {e.response.text[:300]!r}") from x
    check(isinstance(body, dict) and body.get("type") == "error" and isinstance(body.get("error"), dict)
          and isinstance(body["error"].get("message"), str), f"not an Anthropic error body: {body}")
    if err_type is not None:
        eq(body["error"].get("type"), err_type, "error.type")
    return body["error"]

"""Fallback and upstream errors through the gateway, with the official SDKs.

Each case has its own model and its own failing mock (a mock started with `--fault`:
the gateway does not forward `x-mock-*` headers), so no case is affected by another's
cool-down. The case's model has the failing deployment only and falls back to the model
`serve-oai` or `serve-ant` (one good deployment): deployments of one model are tried
in a weighted random order, fallback models after them, so this is the order that is
certain. (`fallback_between_deployments_*` covers two deployments of one model.)

- before the commit point (429, 500, or a reset right after the response head, before
  any event), the gateway moves to the next deployment and the client sees a success,
  with the usage of the deployment that served it;
- after it (an error event, or a reset, after the first events went to the client),
  nothing may be retried and the client must see a well-formed error in its own API's
  format: the SDK raises an APIError while iterating, not a connection error;
- with a single failing deployment, the provider's error reaches the client as the SDK's
  typed exception, in the client's error format (translated where the formats differ).
"""

from __future__ import annotations

import anthropic
import openai

import checks
from harness import Suite, check, eq, nonce, raises

FAULTS_BEFORE = {
    "429": ["--fault", "429"],
    "500": ["--fault", "500"],
    "reset": ["--fault", "reset-mid-stream", "--fault-after", "0"],
}
# Events the failing upstream sends before failing: OpenAI role + 2 tokens; Anthropic
# message_start, content_block_start, ping + 2 deltas.
AFTER_K = {"oai": "3", "ant": "5"}
FAULTS_AFTER = {
    "error": lambda k: ["--fault", "error-event", "--fault-after", AFTER_K[k]],
    "reset": lambda k: ["--fault", "reset-mid-stream", "--fault-after", AFTER_K[k]],
}

MOCKS: dict[str, list[str]] = {"good": []}
MODELS: dict[str, list[str] | dict] = {"serve-oai": ["good-oai"], "serve-ant": ["good-ant"]}


def failing_then_good(failing_provider: str, up: str) -> dict:
    return {"deployments": [failing_provider], "fallbacks": [f"serve-{up}"]}

CASES = []


def kind_of(sdk: str) -> str:
    return "oai" if sdk == "openai" else "ant"


def other(kind: str) -> str:
    return "ant" if kind == "oai" else "oai"


# Fallback before the commit point: same format, both modes; and across formats.
for sdk in ("openai", "anthropic"):
    for fault, args in FAULTS_BEFORE.items():
        for stream in (False, True):
            tag = f"{fault}-{'s' if stream else 'ns'}-{kind_of(sdk)}"
            MOCKS[f"f-{tag}"] = args
            MODELS[f"fb-{tag}"] = failing_then_good(f"f-{tag}-{kind_of(sdk)}", kind_of(sdk))
            CASES.append(("before", sdk, fault, stream, f"fb-{tag}", f"f-{tag}", kind_of(sdk)))
    x = other(kind_of(sdk))
    tag = f"500-s-{kind_of(sdk)}-to-{x}"
    MOCKS[f"f-{tag}"] = FAULTS_BEFORE["500"]
    MODELS[f"fb-{tag}"] = failing_then_good(f"f-{tag}-{x}", x)
    CASES.append(("before", sdk, "500", True, f"fb-{tag}", f"f-{tag}", x))

# Failures after the commit point: same format, and across formats.
for sdk in ("openai", "anthropic"):
    for fault, args in FAULTS_AFTER.items():
        for up in (kind_of(sdk), other(kind_of(sdk))):
            tag = f"late-{fault}-{kind_of(sdk)}-to-{up}"
            MOCKS[f"f-{tag}"] = args(up)
            MODELS[tag] = failing_then_good(f"f-{tag}-{up}", up)
            CASES.append(("after", sdk, fault, True, tag, f"f-{tag}", up))

# A single failing deployment: the provider's error, in the client's format.
PASSTHROUGH = [("openai", "429", "oai"), ("openai", "429", "ant"), ("anthropic", "500", "ant"),
               ("anthropic", "429", "oai")]
for sdk, fault, up in PASSTHROUGH:
    tag = f"only-{fault}-{kind_of(sdk)}-to-{up}"
    MOCKS[f"f-{tag}"] = ["--fault", fault]
    MODELS[tag] = [f"f-{tag}-{up}"]

# Two deployments of one model, one failing: whichever order the draw gives, every
# request succeeds and is served by the good one.
for sdk in ("openai", "anthropic"):
    k = kind_of(sdk)
    MOCKS[f"f-pair-{k}"] = ["--fault", "500"]
    MODELS[f"pair-{k}"] = [f"f-pair-{k}-{k}", f"good-{k}"]

suite = Suite(__doc__, topology={"mocks": MOCKS, "models": MODELS})


def upstream_names(word: str) -> list[str]:
    return sorted(n for n, _ in suite.find_upstream(word, wait_s=0.3))


def fallback_succeeds(sdk: str, fault: str, stream: bool, model: str, failing: str, up: str) -> None:
    word = nonce()
    if sdk == "openai":
        c = checks.openai_client(suite.gateway)
        if stream:
            chunks = list(c.chat.completions.create(model=model, messages=checks.user(word), stream=True,
                                                    stream_options={"include_usage": True}))
            text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
            usage = [ch.usage for ch in chunks if ch.usage is not None]
            eq(len(usage), 1, "usage chunks")
            got = (usage[0].prompt_tokens, usage[0].completion_tokens)
        else:
            r = c.chat.completions.create(model=model, messages=checks.user(word))
            text, got = r.choices[0].message.content, (r.usage.prompt_tokens, r.usage.completion_tokens)
    else:
        c = checks.anthropic_client(suite.gateway)
        if stream:
            with c.messages.stream(model=model, max_tokens=50, messages=checks.user(word)) as s:
                text = "".join(s.text_stream)
                m = s.get_final_message()
        else:
            m = c.messages.create(model=model, max_tokens=50, messages=checks.user(word))
            text = m.content[0].text
        got = (m.usage.input_tokens, m.usage.output_tokens)
    check(text, "no text")
    _, rec = suite.one_upstream(word, ["good"])
    eq(got, checks.upstream_usage(rec), "usage vs what the serving mock reported")
    eq(len(text.split()), got[1], f"words in {text!r}")
    eq(len(suite.mock(failing).find(word)), 1, f"requests the failing deployment ({failing}) got")
    line = suite.access_log_line(model)
    eq(line.get("status"), 200, "access log status")
    eq(line["llm"].get("fallbacks"), 1, "access log llm.fallbacks")
    eq(line["llm"].get("provider"), f"good-{up}", "access log llm.provider")


def error_after_commit(sdk: str, fault: str, model: str, failing: str) -> None:
    word = nonce()
    received: list[str] = []
    if sdk == "openai":
        c = checks.openai_client(suite.gateway)

        def go():
            for ch in c.chat.completions.create(model=model, messages=checks.user(word), stream=True):
                for choice in ch.choices:
                    if choice.delta.content:
                        received.append(choice.delta.content)

        e = raises(openai.APIError, go, "a stream cut after the commit point")
        check(not isinstance(e, openai.APIConnectionError),
              f"the SDK saw a broken connection, not an error in the stream: {e!r}")
    else:
        c = checks.anthropic_client(suite.gateway)

        def go():
            with c.messages.stream(model=model, max_tokens=50, messages=checks.user(word)) as s:
                for ev in s:
                    if ev.type == "text":
                        received.append(ev.text)

        e = raises(anthropic.APIError, go, "a stream cut after the commit point")
        check(not isinstance(e, anthropic.APIConnectionError),
              f"the SDK saw a broken connection, not an error event: {e!r}")
        check(isinstance(e, anthropic.APIStatusError) and isinstance(e.body, dict)
              and e.body.get("type") == "error", f"not an Anthropic error event: {e!r} body {getattr(e, 'body', None)}")
    check(received, "no text reached the client before the error (was it before the commit point?)")
    eq(upstream_names(word), [failing], "mocks that got the request (nothing retried after commit)")


def register():
    for when, sdk, fault, stream, model, failing, up in CASES:
        if when == "before":
            def case(sdk=sdk, fault=fault, stream=stream, model=model, failing=failing, up=up):
                fallback_succeeds(sdk, fault, stream, model, failing, up)
            mode = "stream" if stream else "whole"
            case.__name__ = f"fallback_on_{fault}_{mode}_{sdk}_client_{'anthropic' if up == 'ant' else 'openai'}_upstream"
        else:
            def case(sdk=sdk, fault=fault, model=model, failing=failing):
                error_after_commit(sdk, fault, model, failing)
            case.__name__ = f"{fault}_after_commit_{sdk}_client_{'anthropic' if up == 'ant' else 'openai'}_upstream"
        suite.case(case)
    for sdk, fault, up in PASSTHROUGH:
        def case(sdk=sdk, fault=fault, up=up):
            model = f"only-{fault}-{kind_of(sdk)}-to-{up}"
            word = nonce()
            if sdk == "openai":
                exc = {"429": openai.RateLimitError, "500": openai.InternalServerError}[fault]
                e = raises(exc, lambda: checks.openai_client(suite.gateway).chat.completions.create(
                    model=model, messages=checks.user(word)), f"upstream {fault}")
                checks.openai_error_body(e, int(fault))
            else:
                exc, typ = {"429": (anthropic.RateLimitError, "rate_limit_error"),
                            "500": (anthropic.InternalServerError, "api_error")}[fault]
                e = raises(exc, lambda: checks.anthropic_client(suite.gateway).messages.create(
                    model=model, max_tokens=5, messages=checks.user(word)), f"upstream {fault}")
                checks.anthropic_error_body(e, int(fault), typ)
            check(upstream_names(word) == [f"f-{model}"], f"mocks that got it: {upstream_names(word)}")
        case.__name__ = f"upstream_{fault}_reaches_{sdk}_client_from_{'anthropic' if up == 'ant' else 'openai'}_upstream"
        suite.case(case)


register()


def pair_case(sdk: str):
    def case():
        k = kind_of(sdk)
        for _ in range(6):
            word = nonce()
            if sdk == "openai":
                r = checks.openai_client(suite.gateway).chat.completions.create(
                    model=f"pair-{k}", messages=checks.user(word))
                check(r.choices[0].message.content, "no content")
            else:
                m = checks.anthropic_client(suite.gateway).messages.create(
                    model=f"pair-{k}", max_tokens=20, messages=checks.user(word))
                check(m.content[0].text, "no text")
            suite.one_upstream(word, ["good"])
        tried = len(suite.mock(f"f-pair-{k}").requests())
        print(f"     (the failing deployment was tried {tried} times in 6 requests)")

    case.__name__ = f"fallback_between_deployments_{sdk}_client"
    suite.case(case)


pair_case("openai")
pair_case("anthropic")


if __name__ == "__main__":
    suite.main()

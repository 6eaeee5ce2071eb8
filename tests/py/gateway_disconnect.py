"""A client that leaves a stream: the gateway must cancel the upstream stream within
100 ms (the mock stamps when it saw its client, the gateway, go; the script stamps when
it closed its own connection: one clock), and account the tokens: the access log line
has input and output tokens, marked estimated (the provider's final usage never came),
and the token metrics grew.

The upstream mock is paced (100 tokens/s, 400 tokens), so a stream lasts 4 s unless
cancelled. Each case has its own model, so its access log line is found by
`llm.model`; same-format and translated streams, for both SDKs.
"""

from __future__ import annotations

import time

import checks
from harness import Suite, check, eq, nonce, now_us

CASES = [
    # (case, sdk, model, upstream kind)
    ("openai_client_openai_upstream", "openai", "slow-oo", "oai"),
    ("openai_client_anthropic_upstream", "openai", "slow-oa", "ant"),
    ("anthropic_client_anthropic_upstream", "anthropic", "slow-aa", "ant"),
    ("anthropic_client_openai_upstream", "anthropic", "slow-ao", "oai"),
]

suite = Suite(__doc__, topology={
    "mocks": {"paced": ["--tps", "100", "--tokens", "400"]},
    "models": {model: [f"paced-{kind}"] for _, _, model, kind in CASES},
})

READ_EVENTS = 6
CANCEL_WITHIN_MS = 100


def leave_stream(sdk: str, model: str, word: str) -> tuple[int, int]:
    """Opens a stream, reads a few events, closes it. Returns (close time µs, text deltas
    read)."""
    if sdk == "openai":
        stream = checks.openai_client(suite.gateway).chat.completions.create(
            model=model, messages=checks.user(word), stream=True, max_tokens=1000)
    else:
        stream = checks.anthropic_client(suite.gateway).messages.create(
            model=model, max_tokens=1000, messages=checks.user(word), stream=True)
    n, texts = 0, 0
    for ev in stream:
        n += 1
        if sdk == "openai":
            texts += sum(1 for c in ev.choices if c.delta.content)
        elif ev.type == "content_block_delta":
            texts += 1
        if n == READ_EVENTS:
            break
    closed = now_us()
    stream.close()
    return closed, texts


def token_metrics(model: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, labels, value in suite.metrics():
        if name == "gen_ai_client_token_usage_total" and labels.get("gen_ai_request_model") == model:
            t = labels.get("gen_ai_token_type", "?")
            out[t] = out.get(t, 0) + value
    return out


def leave_and_check(sdk: str, model: str, kind: str) -> None:
    word = nonce()
    closed, texts = leave_stream(sdk, model, word)
    check(texts > 0, "no text arrived before leaving")
    # The cancellation: the mock records when its stream to the gateway ended.
    deadline = time.monotonic() + 5
    while True:
        _, rec = suite.one_upstream(word, ["paced"])
        if "stream_end" in rec or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    end = rec.get("stream_end")
    check(end is not None, "the upstream stream was still running 5 s after the client left "
                           f"(the mock sent {rec.get('llm')})")
    eq(end["outcome"], "client_gone", "how the upstream stream ended")
    lag_ms = (end["t_us"] - closed) / 1000
    check(lag_ms < CANCEL_WITHIN_MS,
          f"the upstream stream was cancelled {lag_ms:.1f} ms after the client left (limit {CANCEL_WITHIN_MS} ms)")
    check(end["tokens"] < 400, f"the upstream sent all {end['tokens']} tokens")
    # The accounting.
    line = suite.access_log_line(model)
    llm = line["llm"]
    want_in, _ = checks.upstream_usage(rec)
    for key in ("input_tokens", "output_tokens"):
        check(isinstance(llm.get(key), int) and llm[key] > 0, f"access log llm.{key} = {llm.get(key)!r}: {line}")
    eq(llm.get("estimated"), True, "access log llm.estimated (no final usage came)")
    if kind == "ant":
        # message_start carried the exact input tokens before the client left.
        eq(llm["input_tokens"], want_in, "access log input_tokens vs the mock's message_start")
    check(llm["output_tokens"] <= end["tokens"] * 4 + 8,
          f"output_tokens {llm['output_tokens']} for {end['tokens']} tokens sent upstream")
    m = token_metrics(model)
    check(m.get("input", 0) > 0 and m.get("output", 0) > 0, f"gen_ai_client_token_usage_total for {model}: {m}")
    print(f"     (upstream cancelled {lag_ms:.1f} ms after the client left, {end['tokens']} tokens sent; "
          f"logged input {llm['input_tokens']} output {llm['output_tokens']}, mock input {want_in})")


def register():
    for name, sdk, model, kind in CASES:
        def case(sdk=sdk, model=model, kind=kind):
            leave_and_check(sdk, model, kind)

        case.__name__ = f"leaving_cancels_upstream_{name}"
        suite.case(case)


register()


@suite.case
def deployment_serves_after_clients_left():
    """A client leaving is not the deployment's failure: no cool-down follows."""
    word = nonce()
    r = checks.openai_client(suite.gateway).chat.completions.create(
        model="slow-oo", messages=checks.user(word), max_tokens=3)
    check(r.choices[0].message.content, "no content")


if __name__ == "__main__":
    suite.main()

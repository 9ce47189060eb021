"""Drives a running `lantern serve` with the official `openai` client and prints one JSON object
of observations; Tests/LanternServerTests checks them. Usage:
    openai_client.py BASE_URL API_KEY MODEL_ALIAS CONTEXT_LENGTH MAX_BODY_BYTES
The server must have been started with that --api-key, --alias, -c, --max-body-bytes and --max-queue 1.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request

import openai

base, key, alias, ctx, max_body = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
client = openai.OpenAI(base_url=base + "/v1", api_key=key, max_retries=0, timeout=120)
out = {}


def raw(path, body=None, auth=True, method=None, content_type="application/json"):
    """Plain HTTP: (status, headers, body text)."""
    data = body if isinstance(body, (bytes, type(None))) else body.encode()
    req = urllib.request.Request(base + path, data=data, method=method or ("POST" if data is not None else "GET"))
    if data is not None:
        req.add_header("Content-Type", content_type)
    if auth:
        req.add_header("Authorization", "Bearer " + key)
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def error_of(fn):
    """Runs fn expecting an OpenAI API error: {status, type, param, code, message}."""
    try:
        fn()
        return {"status": 200}
    except openai.APIStatusError as e:
        err = (e.body or {}) if isinstance(e.body, dict) else {}
        err = err.get("error", err)
        return {"status": e.status_code, "type": err.get("type"), "param": err.get("param"),
                "code": err.get("code"), "message": err.get("message"),
                "retry_after": e.response.headers.get("retry-after")}


def raw_error(status_body):
    status, headers, body = status_body
    try:
        err = json.loads(body)["error"]
    except Exception:
        err = {"message": body}
    return {"status": status, "type": err.get("type"), "param": err.get("param"), "code": err.get("code"),
            "message": err.get("message")}


messages = [{"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": [{"type": "text", "text": "What is the capital of France?"}]}]

# models
out["models"] = [m.id for m in client.models.list().data]

# chat, then the same chat streamed: at temperature 0 the deltas must add up to the same text
r = client.chat.completions.create(model=alias, messages=messages, temperature=0, max_tokens=24, user="test")
out["chat"] = {"text": r.choices[0].message.content, "role": r.choices[0].message.role,
               "finish": r.choices[0].finish_reason, "id": r.id, "object": r.object, "model": r.model,
               "created": r.created, "usage": r.usage.model_dump()}
deltas, roles, finishes, usage_chunks, chunks = [], [], [], [], 0
for c in client.chat.completions.create(model=alias, messages=messages, temperature=0, max_tokens=24, stream=True,
                                        stream_options={"include_usage": True}):
    chunks += 1
    if c.usage is not None:
        usage_chunks.append(c.usage.model_dump())
    for ch in c.choices:
        if ch.delta.role:
            roles.append(ch.delta.role)
        if ch.delta.content:
            deltas.append(ch.delta.content)
        if ch.finish_reason:
            finishes.append(ch.finish_reason)
out["chat_stream"] = {"text": "".join(deltas), "deltas": deltas, "roles": roles, "finishes": finishes,
                      "usage_chunks": usage_chunks, "chunks": chunks}

# completions, plain and streamed
prompt = "The capital of France is"
r = client.completions.create(model=alias, prompt=prompt, temperature=0, max_tokens=16)
out["completion"] = {"text": r.choices[0].text, "finish": r.choices[0].finish_reason, "usage": r.usage.model_dump(),
                     "object": r.object}
pieces, finishes = [], []
for c in client.completions.create(model=alias, prompt=prompt, temperature=0, max_tokens=16, stream=True):
    for ch in c.choices:
        pieces.append(ch.text)
        if ch.finish_reason:
            finishes.append(ch.finish_reason)
out["completion_stream"] = {"text": "".join(pieces), "finishes": finishes}
r = client.completions.create(model=alias, prompt=[prompt, "Once upon a time"], temperature=0, max_tokens=4)
out["completion_list"] = {"count": len(r.choices), "indices": [c.index for c in r.choices],
                          "first": r.choices[0].text}
r = client.completions.create(model=alias, prompt=[504, 3575, 282, 4649, 314], temperature=0, max_tokens=16)
out["completion_ids"] = {"text": r.choices[0].text}

# logprobs
r = client.chat.completions.create(model=alias, messages=messages, temperature=0, max_tokens=5, logprobs=True,
                                   top_logprobs=3)
out["chat_logprobs"] = [{"token": t.token, "logprob": t.logprob, "bytes": t.bytes,
                         "top": [{"token": a.token, "logprob": a.logprob} for a in t.top_logprobs]}
                        for t in r.choices[0].logprobs.content]
out["chat_logprobs_text"] = r.choices[0].message.content
r = client.completions.create(model=alias, prompt=prompt, temperature=0, max_tokens=4, logprobs=2)
lp = r.choices[0].logprobs
out["completion_logprobs"] = {"tokens": lp.tokens, "token_logprobs": lp.token_logprobs, "top": lp.top_logprobs,
                              "text": r.choices[0].text}

# stop strings: a piece of the greedy text ends it before that piece
text = out["completion"]["text"]
stop = text.strip()[4:8] if len(text.strip()) >= 8 else text.strip()[:1]
r = client.completions.create(model=alias, prompt=prompt, temperature=0, max_tokens=16, stop=[stop, "@@@@"])
out["stop"] = {"stop": stop, "expected": text[:text.find(stop)], "text": r.choices[0].text,
               "finish": r.choices[0].finish_reason}
pieces = []
for c in client.completions.create(model=alias, prompt=prompt, temperature=0, max_tokens=16, stop=stop, stream=True):
    pieces.extend(ch.text for ch in c.choices)
out["stop_stream"] = "".join(pieces)

# a repeated prefix: the second request reuses the KV entries of the shared system prompt
system = {"role": "system", "content": "You are a helpful assistant who answers in one short sentence. " * 6}
first = client.chat.completions.create(model=alias, messages=[system, {"role": "user", "content": "Name a colour."}],
                                       temperature=0, max_tokens=4)
second = client.chat.completions.create(model=alias, messages=[system, {"role": "user", "content": "Name a fruit."}],
                                        temperature=0, max_tokens=4)
out["cached"] = {"first": first.usage.model_dump(), "second": second.usage.model_dump()}

# errors
out["errors"] = {
    "malformed": raw_error(raw("/v1/chat/completions", "{not json")),
    "messages_type": raw_error(raw("/v1/chat/completions", json.dumps({"messages": "hi"}))),
    "temperature_type": raw_error(raw("/v1/chat/completions", json.dumps({"messages": messages, "temperature": "hot"}))),
    "nan": raw_error(raw("/v1/chat/completions", '{"messages": [{"role": "user", "content": "hi"}], "temperature": NaN}')),
    "negative_temperature": error_of(lambda: client.chat.completions.create(model=alias, messages=messages, temperature=-1)),
    "top_p": error_of(lambda: client.chat.completions.create(model=alias, messages=messages, top_p=1.5)),
    "top_p_zero": error_of(lambda: client.completions.create(model=alias, prompt="hi", top_p=0)),
    "unknown_model": error_of(lambda: client.chat.completions.create(model="gpt-4o", messages=messages)),
    "n": error_of(lambda: client.chat.completions.create(model=alias, messages=messages, n=2)),
    "too_long": error_of(lambda: client.completions.create(model=alias, prompt="hello " * (ctx + 10), max_tokens=1)),
    "wrong_key": error_of(lambda: openai.OpenAI(base_url=base + "/v1", api_key="wrong", max_retries=0)
                          .models.list()),
    "no_key": raw_error(raw("/v1/models", auth=False)),
    "too_large": raw_error(raw("/v1/completions", json.dumps({"prompt": "x" * (max_body + 10)}))),
    "embeddings": error_of(lambda: client.embeddings.create(model=alias, input="hello")),
    "unknown_route": raw_error(raw("/v1/nothing")),
}
out["health_without_key"] = raw("/health", auth=False)[0]

# tokenize / detokenize (llama-server's shapes)
status, _, body = raw("/tokenize", json.dumps({"content": prompt}))
tokens = json.loads(body)["tokens"]
status2, _, body2 = raw("/detokenize", json.dumps({"tokens": tokens}))
out["tokenize"] = {"status": status, "tokens": tokens, "detok_status": status2, "content": json.loads(body2)["content"]}

# a full queue: one running, one waiting (--max-queue 1), the third gets 429 with Retry-After;
# closing the streams cancels both sequences
running = client.chat.completions.create(model=alias, messages=messages, temperature=0.8, max_tokens=400, stream=True)
chunks_of_running = iter(running)
next(chunks_of_running)  # the role chunk, sent at once
next(chunks_of_running)  # the first token: the sequence now runs, so the next one waits
waiting = client.chat.completions.create(model=alias, messages=messages, temperature=0.8, max_tokens=400, stream=True)
out["errors"]["queue_full"] = error_of(lambda: client.chat.completions.create(model=alias, messages=messages,
                                                                              max_tokens=4))
waiting.close()
running.close()
deadline = time.time() + 20
metrics = ""
while time.time() < deadline:
    metrics = raw("/metrics")[2]
    if "lantern_requests_running 0" in metrics and "lantern_requests_waiting 0" in metrics:
        break
    time.sleep(0.2)
out["after_cancel_seconds"] = round(20 - (deadline - time.time()), 2)
start = time.time()
r = client.chat.completions.create(model=alias, messages=messages, temperature=0, max_tokens=2)
out["after_cancel"] = {"text": r.choices[0].message.content, "seconds": round(time.time() - start, 2)}
out["metrics"] = raw("/metrics")[2]
print(json.dumps(out))

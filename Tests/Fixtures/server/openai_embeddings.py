"""Asks a running `lantern serve --embedding-model ...` for embeddings through the official `openai`
client and prints what it got as JSON; Tests/LanternServerTests checks it. Usage:
    openai_embeddings.py BASE_URL TEXT...
The client asks for base64 by default and decodes it itself; float is asked for explicitly too.
"""
import json
import sys

import openai

base, texts = sys.argv[1], sys.argv[2:]
client = openai.OpenAI(base_url=base + "/v1", api_key="unused", max_retries=0, timeout=120)
default = client.embeddings.create(model="minilm", input=texts)
floats = client.embeddings.create(model="minilm", input=texts[0], encoding_format="float")
print(json.dumps({
    "default": [d.embedding for d in default.data],
    "indices": [d.index for d in default.data],
    "prompt_tokens": default.usage.prompt_tokens,
    "float_one": floats.data[0].embedding,
}))

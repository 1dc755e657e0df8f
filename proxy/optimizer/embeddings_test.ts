import assert from "node:assert/strict";
import { EmbeddingClient, EmbeddingError } from "./embeddings.ts";

async function withServer(answer: () => Response, fn: (url: string) => Promise<void>) {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} },
    async (req) => {
      await req.body?.cancel();
      return answer();
    },
  );
  try {
    await fn(`http://127.0.0.1:${server.addr.port}/v1`);
  } finally {
    ac.abort();
    await server.finished;
  }
}

const client = (url: string) => new EmbeddingClient({ url, model: "m", timeoutMs: 5000 });

Deno.test("EmbeddingClient returns normalized vectors in input order, whatever order the answer has", async () => {
  await withServer(
    () =>
      Response.json({
        data: [{ index: 1, embedding: [0, 2] }, { index: 0, embedding: [3, 4] }],
      }),
    async (url) => {
      const [a, b] = await client(url).embed(["x", "y"]);
      assert.deepEqual([...a!].map((v) => Math.round(v * 10) / 10), [0.6, 0.8]);
      assert.deepEqual([...b!], [0, 1]);
    },
  );
});

Deno.test("EmbeddingClient refuses malformed answers with an EmbeddingError saying what is wrong", async () => {
  const cases: [unknown, RegExp][] = [
    [{ data: [] }, /has 0 vectors for 1 inputs/],
    [{ data: [{ index: 3, embedding: [1] }] }, /index "3"/],
    [{ data: [{ index: 0, embedding: "x" }] }, /not a float array/],
    [{ nope: 1 }, /has no vectors/],
  ];
  for (const [body, re] of cases) {
    await withServer(() => Response.json(body), async (url) => {
      await assert.rejects(
        client(url).embed(["x"]),
        (e) => e instanceof EmbeddingError && re.test(e.message),
      );
    });
  }
  await withServer(() => new Response("{", { status: 200 }), async (url) => {
    await assert.rejects(client(url).embed(["x"]), /is not JSON/);
  });
  await withServer(() => new Response("down", { status: 503 }), async (url) => {
    await assert.rejects(client(url).embed(["x"]), /answered HTTP 503: down/);
  });
  await assert.rejects(client("http://127.0.0.1:9/v1").embed(["x"]), EmbeddingError);
  await assert.rejects(
    client("http://127.0.0.1:9/v1").embed(new Array(65).fill("x")),
    /at most 64/,
  );
});

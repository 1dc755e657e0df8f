import assert from "node:assert/strict";
import type { Tool } from "../../core/sdk.ts";
import { createLogger, silentLogger } from "../../core/log.ts";
import { ManualClock } from "../../core/clock.ts";
import type { OptimizerSettings } from "../../crds/optimizer.ts";
import { startEmbeddingsServer } from "../../tests/fixtures/embeddings_server.ts";
import { until } from "../../tests/harness/until.ts";
import { EmbeddingClient } from "./embeddings.ts";
import { MAX_PENDING_QUERIES, SemanticIndex } from "./semantic_index.ts";
import { ToolSearch } from "./tool_search.ts";

const TOOLS: Tool[] = [
  {
    name: "cars_rent_car",
    description: "Rent a car for some days",
    inputSchema: { type: "object", properties: { days: { type: "number" } } },
  },
  {
    name: "fs_read_file",
    description: "Read the contents of a file",
    inputSchema: { type: "object", properties: { path: { type: "string" } } },
  },
  {
    name: "fs_write_file",
    description: "Write text to a file",
    inputSchema: { type: "object", properties: { path: { type: "string" } } },
  },
  {
    name: "weather_forecast",
    description: "Weather forecast of a city",
    inputSchema: { type: "object" },
  },
];

function settings(url?: string, extra: Partial<OptimizerSettings> = {}): OptimizerSettings {
  return {
    maxToolsToReturn: 8,
    hybridSearchSemanticRatio: 0.5,
    semanticDistanceThreshold: 1,
    ...(url ? { embeddings: { url, model: "toy", timeout: "5s" } } : {}),
    ...extra,
  };
}

const names = (m: { tool: Tool }[]) => m.map((x) => x.tool.name);

Deno.test("ToolSearch finds tools by keywords, splitting identifiers, and never a removed tool", async () => {
  const s = new ToolSearch(settings(), { log: silentLogger });
  s.sync(TOOLS);
  assert.equal(names(await s.find("read a file", { limit: 1 }))[0], "fs_read_file");
  assert.equal(names(await s.find("weather", { limit: 8 }))[0], "weather_forecast");
  // Concepts: "remove"/"save" are not in the text, "write" is.
  assert.equal(names(await s.find("save text into a file", { limit: 1 }))[0], "fs_write_file");
  const keep = (n: string) => n !== "fs_read_file";
  assert.ok(!names(await s.find("read a file", { limit: 8, keep })).includes("fs_read_file"));
  s.sync(TOOLS.filter((t) => t.name !== "fs_read_file"));
  assert.ok(!names(await s.find("read a file", { limit: 8 })).includes("fs_read_file"));
  assert.deepEqual(await s.find("nothing matches zzz", { limit: 8 }), []);
});

Deno.test("ToolSearch blends embeddings in: a tool that shares no word with the query is found", async () => {
  const server = startEmbeddingsServer({ related: [["car", "automobile"], ["rent", "hire"]] });
  try {
    const lexical = new ToolSearch(settings(), { log: silentLogger });
    lexical.sync(TOOLS);
    assert.deepEqual(await lexical.find("hire an automobile", { limit: 3 }), []);
    const blended = new ToolSearch(settings(server.url), { log: silentLogger });
    blended.sync(TOOLS);
    await blended.semantic!.idle();
    const found = await blended.find("hire an automobile", { limit: 3 });
    assert.equal(found[0]?.tool.name, "cars_rent_car");
    assert.ok(found[0]!.score > 0 && found[0]!.score <= 1);
    // Semantic only (ratio 1) and the distance threshold: far tools get no semantic score.
    const strict = new ToolSearch(settings(server.url, { semanticDistanceThreshold: 0.1 }), {
      log: silentLogger,
    });
    strict.sync(TOOLS);
    await strict.semantic!.idle();
    assert.deepEqual(await strict.find("hire an automobile", { limit: 3 }), []);
    for (const s of [blended, strict]) s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch embeds each tool once: unchanged tools are not embedded again, a changed one is", async () => {
  const server = startEmbeddingsServer();
  try {
    const s = new ToolSearch(settings(server.url), { log: silentLogger });
    s.sync(TOOLS);
    await s.semantic!.idle();
    const inputs = () => server.requests.flat().length;
    assert.equal(inputs(), TOOLS.length);
    assert.equal(server.requests.length, 1); // one batch
    // The same tools again (new objects, as after a reload or a list_changed): nothing sent.
    s.sync(TOOLS.map((t) => ({ ...t })));
    await s.semantic!.idle();
    assert.equal(inputs(), TOOLS.length);
    // A backend goes down (its tools leave) and comes back: nothing sent.
    s.sync(TOOLS.slice(0, 2));
    s.sync(TOOLS.map((t) => ({ ...t })));
    await s.semantic!.idle();
    assert.equal(inputs(), TOOLS.length);
    // One description changes: that tool alone is embedded again.
    const changed = TOOLS.map((t) =>
      t.name === "weather_forecast" ? { ...t, description: "Forecast for tomorrow" } : t
    );
    s.sync(changed);
    await s.semantic!.idle();
    assert.equal(inputs(), TOOLS.length + 1);
    assert.match(server.requests.at(-1)![0]!, /Forecast for tomorrow/);
    // Queries are embedded once each.
    await s.find("a query", { limit: 3 });
    await s.find("a query", { limit: 3 });
    assert.equal(server.requests.filter((r) => r[0] === "a query").length, 1);
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch falls back to keywords when the embeddings service fails, warning at most once a minute", async () => {
  const server = startEmbeddingsServer();
  const lines: string[] = [];
  const log = createLogger({ level: "warn", sink: (l) => lines.push(l) });
  const clock = new ManualClock(1_000_000);
  try {
    server.mode = "fail";
    // A timeout far longer than any answer: the failure seen is the HTTP 500.
    const s = new ToolSearch(
      { ...settings(server.url), embeddings: { url: server.url, model: "toy", timeout: "60s" } },
      { log, clock },
    );
    s.sync(TOOLS);
    await s.semantic!.idle();
    for (let i = 0; i < 3; i++) {
      const found = await s.find(`read a file ${i}`, { limit: 1 });
      assert.equal(found[0]?.tool.name, "fs_read_file");
    }
    // One warning (the tool batch); the three failed queries within the minute are quiet.
    assert.equal(lines.length, 1, lines.join("\n"));
    assert.match(lines.join("\n"), /HTTP 500/);
    // The service is back: the paused fill resumes with traffic (after its pause).
    server.mode = "ok";
    clock.advance(31_000);
    await s.find("read", { limit: 1 });
    await s.semantic!.idle();
    assert.equal(s.semantic!.ready, TOOLS.length);
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch answers by keywords when the embeddings service hangs past embeddingServiceTimeout", async () => {
  const server = startEmbeddingsServer();
  const lines: string[] = [];
  const log = createLogger({ level: "warn", sink: (l) => lines.push(l) });
  try {
    server.mode = "hang";
    const s = new ToolSearch(
      { ...settings(server.url), embeddings: { url: server.url, model: "toy", timeout: "300ms" } },
      { log },
    );
    s.sync(TOOLS);
    const found = await s.find("write to a file", { limit: 1 });
    assert.equal(found[0]?.tool.name, "fs_write_file");
    await s.semantic!.idle();
    assert.match(lines.join("\n"), /no answer within 300 ms/);
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch holds at most MAX_PENDING_QUERIES query embeddings in flight; more queries are answered by keywords at once", async () => {
  const server = startEmbeddingsServer();
  const lines: string[] = [];
  const log = createLogger({ level: "warn", sink: (l) => lines.push(l) });
  try {
    const s = new ToolSearch(
      { ...settings(server.url), embeddings: { url: server.url, model: "toy", timeout: "60s" } },
      { log },
    );
    s.sync(TOOLS);
    await s.semantic!.idle();
    const sent = server.requests.length;
    server.mode = "hang";
    const held = Array.from(
      { length: MAX_PENDING_QUERIES },
      (_, i) => s.find(`read a file ${i}`, { limit: 1 }),
    );
    await until(
      "the held queries to reach the service",
      () => Promise.resolve(server.requests.length === sent + MAX_PENDING_QUERIES),
    );
    // One more: answered by keywords without a request (not after the 60 s timeout).
    const more = await s.find("write to a file", { limit: 1 });
    assert.equal(more[0]?.tool.name, "fs_write_file");
    assert.equal(server.requests.length, sent + MAX_PENDING_QUERIES);
    assert.match(lines.join("\n"), /16 query embeddings are pending already/);
    await server.stop(); // the held requests fail: answered by keywords
    for (const f of await Promise.all(held)) assert.equal(f[0]?.tool.name, "fs_read_file");
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch with hybridSearchSemanticRatio 0 sends the embeddings service nothing", async () => {
  const server = startEmbeddingsServer();
  try {
    const s = new ToolSearch(settings(server.url, { hybridSearchSemanticRatio: 0 }), {
      log: silentLogger,
    });
    s.sync(TOOLS);
    assert.equal(s.semantic, undefined);
    assert.equal((await s.find("read a file", { limit: 1 }))[0]?.tool.name, "fs_read_file");
    assert.deepEqual(server.requests, []);
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch refuses to start when embeddingApiKeyEnv names an unset variable, and sends the key", async () => {
  const server = startEmbeddingsServer({ apiKey: "k-123" });
  try {
    const withKey = (env: Record<string, string>) =>
      new ToolSearch(
        {
          ...settings(),
          embeddings: { url: server.url, model: "toy", timeout: "5s", apiKeyEnv: "EMB_KEY" },
        },
        { log: silentLogger, env: (n) => env[n] },
      );
    assert.throws(
      () => withKey({}),
      /Invalid optimizer.embeddingApiKeyEnv "EMB_KEY": the environment variable is not set/,
    );
    const s = withKey({ EMB_KEY: "k-123" });
    s.sync(TOOLS);
    await s.semantic!.idle();
    assert.equal(s.semantic!.ready, TOOLS.length);
    s.close();
  } finally {
    await server.stop();
  }
});

Deno.test("ToolSearch builds in slices: find waits for the first index, answers from the last complete one, and a newer catalogue supersedes a build in progress", async () => {
  // A scheduler that pauses after every tool and resumes only when the test says so.
  const gates: (() => void)[] = [];
  const scheduler = {
    sliceMs: 0,
    now: () => 0,
    pause: () => new Promise<void>((resolve) => gates.push(resolve)),
  };
  const tick = () => new Promise((r) => setTimeout(r, 0));
  const release = async () => {
    while (gates.length) (gates.shift()!(), await tick());
  };
  const s = new ToolSearch(settings(), { log: silentLogger, scheduler });
  const tool = (name: string, description: string): Tool => ({
    name,
    description,
    inputSchema: { type: "object" },
  });

  s.sync(TOOLS);
  let first: string[] | undefined;
  const pending = s.find("weather", { limit: 8 }).then((m) => (first = names(m)));
  await tick();
  assert.equal(first, undefined); // no index yet: find waits for the first one
  assert.ok(gates.length > 0 && !s.current);
  await release();
  await pending;
  assert.deepEqual(first, ["weather_forecast"]);
  assert.ok(s.current);

  // B: adds a tool, removes weather_forecast; held at its first pause.
  const b = [...TOOLS.filter((t) => t.name !== "weather_forecast"), tool("b_kite", "Fly a kite")];
  s.sync(b);
  const bSettled = s.settled();
  await tick();
  assert.ok(!s.current && gates.length === 1);
  // Answers come from the last complete index, limited to and described by the newest list.
  assert.deepEqual(names(await s.find("weather", { limit: 8 })), []);
  assert.deepEqual(names(await s.find("kite", { limit: 8 })), []);
  assert.deepEqual(names(await s.find("read a file", { limit: 1 })), ["fs_read_file"]);

  // C supersedes B while B is paused: B is dropped at its pause, C is applied, B's waiter too.
  const c = [...TOOLS, tool("c_boat", "Sail a boat")];
  s.sync(c);
  await release();
  await bSettled;
  await s.settled();
  assert.ok(s.current);
  assert.deepEqual(names(await s.find("kite", { limit: 8 })), []);
  assert.deepEqual(names(await s.find("sail a boat", { limit: 8 })), ["c_boat"]);
  assert.deepEqual(names(await s.find("weather", { limit: 8 })), ["weather_forecast"]);

  // Once built, the same results as an index built in one go from the same list.
  const fresh = new ToolSearch(settings(), { log: silentLogger });
  fresh.sync(c);
  for (const q of ["read a file", "save text into a file", "boat", "rent"]) {
    assert.deepEqual(await s.find(q, { limit: 8 }), await fresh.find(q, { limit: 8 }));
  }
  s.close();
  fresh.close();
});

Deno.test("SemanticIndex embeds at most maxCached tools of a larger catalogue, and its fill ends", async () => {
  const server = startEmbeddingsServer();
  try {
    const client = new EmbeddingClient({ url: server.url, model: "toy", timeoutMs: 30_000 });
    const index = new SemanticIndex(client, { log: silentLogger, maxCached: 2 });
    index.sync(TOOLS);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      index.idle().then(() => "idle"),
      new Promise((r) => timer = setTimeout(() => r("still filling after 30 s"), 30_000)),
    ]);
    clearTimeout(timer);
    index.close();
    assert.equal(outcome, "idle");
    assert.equal(index.ready, 2);
    assert.equal(server.requests.flat().length, 2);
  } finally {
    await server.stop();
  }
});

/**
 * Tool search quality, size and speed (issue #19), on the tools of 14 real MCP servers from npm
 * (fixtures/tools.json, collected by collect_tools.ts) and 214 queries written as a user asks
 * (fixtures/queries.tsv, each with the tool(s) that answer it).
 *
 * - recall@1 / recall@5: a query counts when one of its answers is first / in the first five,
 *   for keywords (BM25) with and without the concept terms (tokenize.ts), and blended with
 *   embeddings when `--embeddings URL --model NAME` name an OpenAI-compatible endpoint.
 * - tokens: the `tools/list` result versus find_tool's answer (the JSON-RPC `result` a client
 *   receives), counted with gpt-tokenizer's o200k_base encoding (GPT-4o's; other models'
 *   tokenizers differ by some ten percent).
 * - latency: find_tool's search (query → ranked tools) p50/p95 at 1,000 and 10,000 tools, made
 *   by repeating the real catalogue under other server prefixes with varied descriptions.
 *
 *   deno run -A bench/optimizer/search_bench.ts [--embeddings http://127.0.0.1:8089/v1 --model all-MiniLM-L6-v2] [--json out.json]
 * @module
 */
import { encode } from "gpt-tokenizer/encoding/o200k_base";
import type { Tool } from "../../core/sdk.ts";
import { silentLogger } from "../../core/log.ts";
import type { OptimizerSettings } from "../../crds/optimizer.ts";
import { OptimizerTools } from "../../proxy/optimizer/meta_tools.ts";
import { ToolSearch } from "../../proxy/optimizer/tool_search.ts";
import { LexicalIndex } from "../../proxy/optimizer/lexical_index.ts";
import { RETRY_MS } from "../../proxy/optimizer/semantic_index.ts";
import { ManualClock } from "../../core/clock.ts";

const encoder = new TextEncoder();
function print(text: string): void {
  Deno.stderr.writeSync(encoder.encode(text + "\n"));
}

interface Query {
  query: string;
  answers: string[];
}

const here = new URL("./fixtures/", import.meta.url);

/** The catalogue as vmcp advertises it with the prefix strategy (`<server>_<tool>`). */
export async function loadCatalogue(): Promise<Tool[]> {
  const servers = JSON.parse(await Deno.readTextFile(new URL("tools.json", here))) as {
    server: string;
    tools: Tool[];
  }[];
  return servers.flatMap((s) => s.tools.map((t) => ({ ...t, name: `${s.server}_${t.name}` })));
}

export async function loadQueries(): Promise<Query[]> {
  const text = await Deno.readTextFile(new URL("queries.tsv", here));
  return text.split("\n").filter((l) => l.trim() && !l.startsWith("#")).map((l) => {
    const [query, answers] = l.split("\t");
    return { query: query!, answers: answers!.split(",").map((a) => a.trim()) };
  });
}

function settings(embeddings?: { url: string; model: string }, ratio = 0.5): OptimizerSettings {
  return {
    maxToolsToReturn: 8,
    hybridSearchSemanticRatio: ratio,
    semanticDistanceThreshold: 1,
    ...(embeddings ? { embeddings: { ...embeddings, timeout: "5m" } } : {}),
  };
}

async function recall(search: ToolSearch, queries: Query[]) {
  let at1 = 0, at5 = 0;
  const misses: string[] = [];
  for (const q of queries) {
    const names = (await search.find(q.query, { limit: 5 })).map((m) => m.tool.name);
    if (q.answers.includes(names[0] ?? "")) at1++;
    if (names.some((n) => q.answers.includes(n))) at5++;
    else misses.push(`${q.query} → ${names.slice(0, 3).join(", ")} (want ${q.answers[0]})`);
  }
  return { recallAt1: at1 / queries.length, recallAt5: at5 / queries.length, misses };
}

/** `n` tools: the catalogue repeated under other prefixes, descriptions varied per copy. */
export function synthesize(catalogue: readonly Tool[], n: number): Tool[] {
  const regions = ["eu", "us", "apac", "staging", "prod", "dev", "lab", "edge"];
  const out: Tool[] = [];
  for (let copy = 0; out.length < n; copy++) {
    for (const t of catalogue) {
      if (out.length >= n) break;
      const region = regions[copy % regions.length]!;
      out.push({
        ...t,
        name: copy === 0 ? t.name : `${region}${copy}_${t.name}`,
        description: copy === 0
          ? t.description
          : `${t.description ?? ""} (${region} instance ${copy})`,
      });
    }
  }
  return out;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
}

async function latency(catalogue: readonly Tool[], queries: Query[], n: number) {
  const tools = synthesize(catalogue, n);
  // The old way for comparison: the whole build in one synchronous go.
  const t00 = performance.now();
  new LexicalIndex().sync(tools);
  const inlineBuildMs = performance.now() - t00;
  const search = new ToolSearch(settings(), { log: silentLogger });
  const t0 = performance.now();
  search.sync(tools);
  const longestStallMs = await longestStall(search.settled());
  const buildMs = performance.now() - t0;
  for (const q of queries.slice(0, 50)) await search.find(q.query, { limit: 8 }); // warm-up
  const times: number[] = [];
  for (let round = 0; round < 3; round++) {
    for (const q of queries) {
      const s = performance.now();
      await search.find(q.query, { limit: 8 });
      times.push(performance.now() - s);
    }
  }
  times.sort((a, b) => a - b);
  // One backend's tools change (a list_changed): the incremental re-index.
  const changed = tools.map((t, i) => i < 25 ? { ...t, description: `${t.description} v2` } : t);
  const t1 = performance.now();
  search.sync(changed);
  const resyncStallMs = await longestStall(search.settled());
  const resyncMs = performance.now() - t1;
  return {
    tools: n,
    inlineBuildMs: round2(inlineBuildMs),
    buildMs: round2(buildMs),
    longestStallMs: round2(longestStallMs),
    resync25ChangedMs: round2(resyncMs),
    resyncLongestStallMs: round2(resyncStallMs),
    p50Ms: round2(percentile(times, 0.5)),
    p95Ms: round2(percentile(times, 0.95)),
  };
}

/**
 * The longest the event loop went without running a timer until `done` settled (a build in
 * slices should keep this near its slice length; the one-go build held it for all of it).
 */
async function longestStall(done: Promise<void>): Promise<number> {
  let finished = false;
  void done.then(() => finished = true);
  let longest = 0;
  while (!finished) {
    const t = performance.now();
    await new Promise((r) => setTimeout(r, 0));
    longest = Math.max(longest, performance.now() - t);
  }
  return longest;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

async function tokens(catalogue: readonly Tool[], queries: Query[]) {
  const listResult = JSON.stringify({ tools: catalogue });
  const search = new ToolSearch(settings(), { log: silentLogger });
  const optimizer = new OptimizerTools(search);
  const optimizedList = JSON.stringify({ tools: optimizer.tools });
  const hooks = {
    all: catalogue,
    visible: () => Promise.resolve(catalogue),
    callPlain: () => Promise.reject(new Error("not here")),
  };
  const answers: number[] = [];
  for (const q of queries) {
    const r = await optimizer.call(
      { name: "find_tool", arguments: { tool_description: q.query } },
      new AbortController().signal,
      hooks,
    );
    answers.push(encode(JSON.stringify(r)).length);
  }
  answers.sort((a, b) => a - b);
  return {
    tools: catalogue.length,
    toolsListTokens: encode(listResult).length,
    optimizedToolsListTokens: encode(optimizedList).length,
    findToolAnswerTokensP50: percentile(answers, 0.5),
    findToolAnswerTokensMax: answers[answers.length - 1],
    tokenizer: "o200k_base (gpt-tokenizer)",
  };
}

/**
 * What call_tool adds to a call (argument checks, the inner params) against the same plain call
 * in the same run: CPU per call of `OptimizerTools.call` → `callPlain` versus `callPlain` alone.
 */
async function callToolOverhead() {
  const optimizer = new OptimizerTools(new ToolSearch(settings(), { log: silentLogger }));
  const result = { content: [{ type: "text", text: "ok" }] };
  const hooks = {
    all: [] as Tool[],
    visible: () => Promise.resolve([] as Tool[]),
    callPlain: (_p: Record<string, unknown>) => Promise.resolve(result),
  };
  const signal = new AbortController().signal;
  const n = 200_000;
  const run = async (viaCallTool: boolean) => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      if (viaCallTool) {
        await optimizer.call(
          { name: "call_tool", arguments: { tool_name: "web_add", parameters: { a: 1, b: i } } },
          signal,
          hooks,
        );
      } else await hooks.callPlain({ name: "web_add", arguments: { a: 1, b: i } });
    }
    return (performance.now() - t0) * 1000 / n;
  };
  await run(true);
  await run(false); // warm-up
  const plainUs = await run(false);
  const viaUs = await run(true);
  return {
    plainCallUs: round2(plainUs),
    viaCallToolUs: round2(viaUs),
    addedUsPerCall: round2(viaUs - plainUs),
    note:
      "router-level only; a proxied tools/call costs about 1 ms (bench/README.md), so this is the whole added cost",
  };
}

if (import.meta.main) {
  const args = Deno.args;
  const arg = (name: string) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const catalogue = await loadCatalogue();
  const queries = await loadQueries();
  const names = new Set(catalogue.map((t) => t.name));
  for (const q of queries) {
    for (const a of q.answers) if (!names.has(a)) throw new Error(`Unknown answer "${a}"`);
  }
  const report: Record<string, unknown> = {
    servers: 14,
    tools: catalogue.length,
    queries: queries.length,
  };
  const lexical = new ToolSearch(settings(), { log: silentLogger });
  lexical.sync(catalogue);
  const lex = await recall(lexical, queries);
  const plain = new ToolSearch(settings(), { log: silentLogger, concepts: false });
  plain.sync(catalogue);
  const words = await recall(plain, queries);
  report.lexical = { recallAt1: lex.recallAt1, recallAt5: lex.recallAt5 };
  report.lexicalWithoutConcepts = { recallAt1: words.recallAt1, recallAt5: words.recallAt5 };
  const url = arg("--embeddings");
  if (url) {
    const model = arg("--model") ?? "all-MiniLM-L6-v2";
    const blended: Record<string, unknown> = { model };
    for (const ratio of [0.5, 1]) {
      // A failed batch pauses the fill (RETRY_MS): the bench's clock skips the pause, so every
      // tool has its vector before recall is measured (checked in the report).
      const clock = new ManualClock(Date.now());
      const s = new ToolSearch(settings({ url, model }, ratio), { log: silentLogger, clock });
      for (let i = 0; i < 5 && s.semantic!.ready < catalogue.length; i++) {
        s.sync([...catalogue]);
        await s.semantic!.idle();
        clock.advance(RETRY_MS + 1);
      }
      const r = await recall(s, queries);
      const requests = s.semantic!.requests;
      blended[`ratio${ratio}`] = {
        recallAt1: r.recallAt1,
        recallAt5: r.recallAt5,
        toolsWithVectors: s.semantic!.ready, // all of them, or the run is not valid
        embeddingRequests: requests,
      };
      if (Deno.args.includes("--misses")) print(r.misses.join("\n"));
      s.close();
    }
    report.blended = blended;
  }
  report.tokens = await tokens(catalogue, queries);
  report.callToolOverhead = await callToolOverhead();
  report.latency = [
    await latency(catalogue, queries, 1000),
    await latency(catalogue, queries, 10000),
  ];
  if (Deno.args.includes("--misses")) print(lex.misses.join("\n"));
  Deno.stdout.writeSync(encoder.encode(JSON.stringify(report, null, 2) + "\n"));
  const out = arg("--json");
  if (out) await Deno.writeTextFile(out, JSON.stringify(report, null, 2) + "\n");
}

import assert from "node:assert/strict";
import type { BackendCapabilities } from "../core/aggregation/mod.ts";
import { silentLogger } from "../core/log.ts";
import type { ClientCapabilities, Tool } from "../core/sdk.ts";
import {
  BASE_CAPABILITIES,
  CapabilityViews,
  NEW_SETS_PER_MINUTE,
  RETRY_AFTER_MS,
  type ViewBackend,
  type ViewSet,
} from "./capability_views.ts";
import type { ExtraTool } from "./router_state.ts";

const tool = (name: string): Tool => ({ name, inputSchema: { type: "object" } });

/** A backend that offers `roots-tool` only to clients declaring roots, and counts discoveries. */
class FakeBackend implements ViewBackend {
  discoveries = 0;
  routable = true;
  fail = false;
  caps: BackendCapabilities;
  constructor(readonly name: string) {
    this.caps = this.listed(BASE_CAPABILITIES);
  }
  listed(c: ClientCapabilities): BackendCapabilities {
    const tools = [tool("echo"), ...(c.roots ? [tool("roots-tool")] : [])];
    return { backend: this.name, tools, resources: [], resourceTemplates: [], prompts: [] };
  }
  async discover(c: ClientCapabilities): Promise<BackendCapabilities> {
    this.discoveries++;
    await Promise.resolve();
    if (this.fail) throw new Error("down");
    return this.listed(c);
  }
}

function setup(backends: FakeBackend[], extra = new Map<string, ExtraTool>()) {
  let now = 0;
  const base = { marker: "base" } as unknown as ViewSet;
  const views = new CapabilityViews({
    backends: () => backends,
    aggregation: () => undefined,
    extraTools: extra,
    base: () => base,
  }, { log: silentLogger, clock: { now: () => now, sleep: () => Promise.resolve() }, max: 2 });
  return { views, base, tick: (ms: number) => now += ms };
}

const names = (v: ViewSet) => v.lists.tools.map((t) => t.name);

Deno.test("CapabilityViews: the base capability set is the runtime's own view", () => {
  const { views, base } = setup([new FakeBackend("a")]);
  assert.equal(views.viewFor({ ...BASE_CAPABILITIES }), base);
  assert.equal(views.size, 0);
});

Deno.test("CapabilityViews: a set is discovered once per backend, shared by concurrent callers, then served synchronously", async () => {
  const a = new FakeBackend("a");
  const { views } = setup([a]);
  const [v1, v2] = await Promise.all([views.viewFor({}), views.viewFor({ sampling: {} })]);
  assert.deepEqual(names(v1), ["a_echo"]);
  assert.deepEqual(names(v2), ["a_echo"]);
  const roots = await views.viewFor({ roots: { listChanged: true } });
  assert.deepEqual(names(roots), ["a_echo", "a_roots-tool"]);
  assert.equal(a.discoveries, 3);
  const again = views.viewFor({ roots: { listChanged: true } });
  assert.ok(!(again instanceof Promise));
  assert.equal(again.lists.tools, roots.lists.tools, "the same list: its page text stays cached");
  assert.equal(a.discoveries, 3);
});

Deno.test("CapabilityViews: a state change rebuilds views; a rediscovered backend is discovered again", async () => {
  const a = new FakeBackend("a"), b = new FakeBackend("b");
  const { views } = setup([a, b]);
  const first = await views.viewFor({});
  b.routable = false;
  views.invalidate();
  const next = await views.viewFor({});
  assert.deepEqual(names(next), ["a_echo"]);
  assert.deepEqual([...next.fullView.toolRoutes.keys()].sort(), ["a_echo", "b_echo"]);
  assert.notEqual(next.lists.tools, first.lists.tools);
  assert.equal(a.discoveries + b.discoveries, 2, "nothing rediscovered");
  a.caps = a.listed(BASE_CAPABILITIES); // a rediscovery: a new base result
  views.invalidate();
  await views.viewFor({});
  assert.equal(a.discoveries, 2);
});

Deno.test("CapabilityViews: a failed discovery falls back to the base lists and is retried later", async () => {
  const a = new FakeBackend("a");
  a.fail = true;
  const { views, tick } = setup([a]);
  assert.deepEqual(names(await views.viewFor({})), ["a_echo", "a_roots-tool"]);
  views.invalidate();
  await views.viewFor({});
  assert.equal(a.discoveries, 1, "not retried at once");
  a.fail = false;
  tick(RETRY_AFTER_MS);
  views.invalidate();
  assert.deepEqual(names(await views.viewFor({})), ["a_echo"]);
  assert.equal(a.discoveries, 2);
});

Deno.test("CapabilityViews: at most `max` sets are kept, least recently used dropped", async () => {
  const a = new FakeBackend("a");
  const { views } = setup([a]);
  await views.viewFor({});
  await views.viewFor({ roots: {} });
  await views.viewFor({}); // used: {roots} is now the oldest
  await views.viewFor({ sampling: {} });
  assert.equal(views.size, 2);
  assert.ok(!(views.viewFor({}) instanceof Promise));
  assert.ok(views.viewFor({ roots: {} }) instanceof Promise, "dropped: built again");
});

Deno.test("CapabilityViews: a client inventing capability sets gets at most NEW_SETS_PER_MINUTE discoveries a minute; then base lists, sets already held unaffected", async () => {
  const a = new FakeBackend("a");
  const { views, base, tick } = setup([a]);
  const invented = (i: number) => ({ extensions: { [`x-${i}`]: {} } }) as ClientCapabilities;
  for (let i = 0; i < NEW_SETS_PER_MINUTE; i++) await views.viewFor(invented(i));
  assert.equal(a.discoveries, NEW_SETS_PER_MINUTE);
  // Over budget: the base views, no discovery.
  assert.equal(views.viewFor(invented(1000)), base);
  assert.equal(a.discoveries, NEW_SETS_PER_MINUTE);
  // A set still held is served as before (max is 2 here: the last two invented).
  assert.notEqual(await views.viewFor(invented(NEW_SETS_PER_MINUTE - 1)), base);
  assert.equal(a.discoveries, NEW_SETS_PER_MINUTE);
  // The budget refills with time.
  tick(60_000 / NEW_SETS_PER_MINUTE);
  const refilled = await views.viewFor(invented(1001));
  assert.notEqual(refilled, base);
  assert.equal(a.discoveries, NEW_SETS_PER_MINUTE + 1);
});

Deno.test("CapabilityViews: extra tools are listed in every set while their backends are routable", async () => {
  const a = new FakeBackend("a");
  const extra = new Map<string, ExtraTool>([
    ["flow", { tool: tool("flow"), backends: ["a"], handler: () => Promise.resolve({}) }],
  ]);
  const { views } = setup([a], extra);
  assert.deepEqual(names(await views.viewFor({})), ["a_echo", "flow"]);
  a.routable = false;
  views.invalidate();
  assert.deepEqual(names(await views.viewFor({})), []);
});

Deno.test("CapabilityViews: an unroutable backend is not asked (it may be down)", async () => {
  const a = new FakeBackend("a"), down = new FakeBackend("down");
  down.routable = false;
  const { views } = setup([a, down]);
  const v = await views.viewFor({});
  assert.equal(down.discoveries, 0);
  assert.deepEqual(names(v), ["a_echo"]);
  assert.ok(v.fullView.toolRoutes.has("down_echo"));
});

/** A backend whose offer can change and whose set discoveries wait until released. */
class ChangingBackend extends FakeBackend {
  added: string[] = [];
  readonly #held: (() => void)[] = [];
  hold = false;
  override listed(c: ClientCapabilities): BackendCapabilities {
    const caps = super.listed(c);
    // `added` is not set yet while the base constructor lists.
    return { ...caps, tools: [...caps.tools, ...(this.added ?? []).map(tool)] };
  }
  override async discover(c: ClientCapabilities): Promise<BackendCapabilities> {
    this.discoveries++;
    const now = this.listed(c); // what the backend offers when it is asked
    if (this.hold) await new Promise<void>((r) => this.#held.push(r));
    return now;
  }
  release(): void {
    for (const r of this.#held.splice(0)) r();
  }
}

Deno.test("CapabilityViews: a caller after a state change never gets a build that started before it (list_changed, then list, shows the change)", async () => {
  const a = new ChangingBackend("a");
  const { views } = setup([a]);
  a.hold = true;
  // A list in flight: its discovery asked the backend before the change.
  const before = views.viewFor({});
  assert.ok(before instanceof Promise);
  // The backend adds a tool; the runtime rediscovers it (a new base result) and recomputes
  // (`invalidate`) before it sends list_changed.
  a.added.push("gap_tool");
  a.caps = a.listed(BASE_CAPABILITIES);
  views.invalidate();
  // The client heard list_changed and lists again.
  const after = views.viewFor({});
  a.hold = false;
  a.release();
  assert.deepEqual(names(await before), ["a_echo"], "the earlier caller: the earlier state");
  assert.deepEqual(names(await after), ["a_echo", "a_gap_tool"], "the change is listed");
  // Kept for the next callers of the set (the earlier build did not overwrite it).
  const next = views.viewFor({});
  assert.ok(!(next instanceof Promise));
  assert.deepEqual(names(next), ["a_echo", "a_gap_tool"]);
  assert.equal(a.discoveries, 2);
});

Deno.test("CapabilityViews: callers at one state generation share one build", async () => {
  const a = new ChangingBackend("a");
  const { views } = setup([a]);
  a.hold = true;
  const one = views.viewFor({});
  const two = views.viewFor({});
  assert.equal(one, two);
  a.release();
  await one;
  assert.equal(a.discoveries, 1);
});

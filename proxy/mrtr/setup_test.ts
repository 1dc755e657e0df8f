import assert from "node:assert/strict";
import { ManualClock } from "../../core/clock.ts";
import { createLogger, silentLogger } from "../../core/log.ts";
import { createInputRequired, INPUT_GATHER_MS } from "./setup.ts";

const KEY = "k".repeat(40);

Deno.test("the config's bounds and timeout apply; a configured key makes states every replica can open", async () => {
  const clock = new ManualClock(1_000);
  const env = (n: string) => (n === "VMCP_REQUEST_STATE_KEY" ? KEY : undefined);
  const a = createInputRequired({ timeout: "2m", maxPendingPerIdentity: 1 }, silentLogger, {
    env,
    clock,
  });
  const b = createInputRequired({}, silentLogger, { env, clock });
  assert.equal(a.timeoutMs, 120_000);
  assert.equal(b.timeoutMs, 600_000);
  assert.equal(a.codec.kid, b.codec.kid);
  const binding = { method: "tools/call", name: "t", identityKey: "me" };
  assert.equal(
    b.codec.open(a.codec.seal({ kind: "pass", be: "x", s: "y" }, binding, 1), binding).i,
    1,
  );

  const peer = {};
  let finish!: (v: Record<string, unknown>) => void;
  const call = a.parked.race(peer, binding, () => new Promise((r) => (finish = r)));
  const first = a.parked.bridge(peer, { method: "roots/list" });
  await assert.rejects(a.parked.bridge(peer, { method: "roots/list" }), /maxPendingPerIdentity/);
  await new Promise((r) => setTimeout(r, 0));
  clock.advance(INPUT_GATHER_MS); // the round is answered once the gather window ends
  const r = await call;
  assert.equal(r.resultType, "input_required");
  clock.advance(120_000); // the configured timeout ends the round
  await assert.rejects(first, /did not answer roots\/list/);
  finish({});
});

Deno.test("a short key in the environment stops start-up with the variable's name; no key is logged once", () => {
  assert.throws(
    () =>
      createInputRequired(undefined, silentLogger, {
        env: (n) => (n === "VMCP_REQUEST_STATE_KEY" ? "too short" : undefined),
      }),
    /VMCP_REQUEST_STATE_KEY is 9 bytes long; a requestState key needs at least 32 bytes/,
  );
  const lines: string[] = [];
  const r = createInputRequired(undefined, createLogger({ sink: (l) => void lines.push(l) }), {
    env: () => undefined,
  });
  assert.ok(r.codec.randomKey);
  assert.equal(lines.length, 1);
  assert.match(lines[0]!, /no requestState key configured/);
});

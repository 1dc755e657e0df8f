/**
 * Parked calls (proxy/mrtr/parking.ts) with real parts: a `BackendConnection` to
 * server-everything (legacy, its own Streamable HTTP transport) whose owner relays
 * server-to-client requests through `ParkedCalls.bridge`, as a 2026-07-28 client's
 * `RequestPeer` does. The backend's elicitation and sampling requests become `input_required`
 * rounds; the retries answer them and the calls complete, also when the client takes longer
 * than the backend timeout to retry.
 */
import assert from "node:assert/strict";
import { BackendConfigSchema } from "../../crds/vmcp_config.ts";
import { ANONYMOUS_IDENTITY } from "../../core/auth/identity.ts";
import { systemClock } from "../../core/clock.ts";
import { silentLogger } from "../../core/log.ts";
import {
  type AnyObject,
  BackendConnection,
  type SessionPeer,
} from "../../proxy/backends/connection.ts";
import { ParkedCalls } from "../../proxy/mrtr/parking.ts";
import { StateCodec } from "../../proxy/mrtr/state.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";

const TIMEOUT_MS = 5_000;

/** What the modern endpoint's `RequestPeer` does with a backend's request: park it. */
function parkingPeer(parked: ParkedCalls): SessionPeer {
  const peer: SessionPeer = {
    id: "request-peer",
    identity: ANONYMOUS_IDENTITY,
    request: (req, opts) => parked.bridge(peer, req, opts),
    notify: () => Promise.resolve(),
    clientCapabilities: () => ({ elicitation: {}, sampling: {} }),
  };
  return peer;
}

Deno.test("server-everything's elicitation and sampling reach a parked caller as input_required rounds; the retries complete the calls", async () => {
  const every = await startEverythingHttp();
  const codec = new StateCodec({ ttlMs: 600_000, clock: systemClock });
  const parked = new ParkedCalls({
    codec,
    clock: systemClock,
    log: silentLogger,
    timeoutMs: 600_000,
  });
  const peer = parkingPeer(parked);
  const conn = new BackendConnection(
    BackendConfigSchema.parse({ name: "every", url: every.url }),
    peer,
    { onListChanged: () => {}, onResourceUpdated: () => {}, onClosed: () => {} },
    silentLogger,
  );
  try {
    await conn.connect(30_000);
    const call = (name: string, args: AnyObject) => () =>
      conn.request("tools/call", { name, arguments: args }, {
        ctx: { session: peer },
        timeoutMs: TIMEOUT_MS,
      });

    const binding = { method: "tools/call", name: "every_elicit", identityKey: "anon" };
    const first = await parked.race(peer, binding, call("trigger-elicitation-request", {}));
    assert.equal(first.resultType, "input_required", JSON.stringify(first));
    const requests = first.inputRequests as Record<string, { method: string }>;
    assert.deepEqual(Object.keys(requests), ["v1"]);
    assert.equal(requests.v1!.method, "elicitation/create");
    // The client takes longer than the backend timeout: the call's deadline is paused.
    await new Promise((r) => setTimeout(r, TIMEOUT_MS * 2.5));
    const done = await parked.resume(codec.open(first.requestState, binding), {
      v1: { action: "accept", content: { name: "Zoe" } },
    });
    assert.match(JSON.stringify(done.content), /Name: Zoe/);
    assert.equal(parked.pending, 0);

    const sampling = { ...binding, name: "every_sample" };
    const samplingCall = () =>
      conn.request("tools/call", {
        name: "trigger-sampling-request",
        arguments: { prompt: "hello", maxTokens: 5 },
      }, { ctx: { session: peer }, timeoutMs: TIMEOUT_MS });
    const s1 = await parked.race(peer, sampling, samplingCall);
    const sreq = s1.inputRequests as Record<string, { method: string; params: AnyObject }>;
    assert.equal(sreq.v1!.method, "sampling/createMessage");
    const s2 = await parked.resume(codec.open(s1.requestState, sampling), {
      v1: { role: "assistant", model: "m", content: { type: "text", text: "sampled!" } },
    });
    assert.match(JSON.stringify(s2.content), /sampled!/);
  } finally {
    await conn.close();
    await every.stop();
  }
});

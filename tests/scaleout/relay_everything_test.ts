/**
 * A retry on the other replica (ADR 0010 §4, step 6) with real parts: two replicas' MRTR pieces
 * (`StateCodec` with one shared key, `ParkedCalls`, `ParkRelay`) in this process, on a real
 * redis-server; each replica has its own `BackendConnection` to server-everything (legacy,
 * Streamable HTTP), whose server-to-client requests go through `ParkedCalls.bridge` as a
 * 2026-07-28 client's `RequestPeer` does. server-everything's elicitation parks on replica a;
 * the retry sent to replica b completes it there; duplicate retries run nothing twice; with a's
 * relay gone the retry gets -32602 "no longer pending". The second test puts the owner in its
 * own process (tests/fixtures/park_owner.ts) and kills it with SIGKILL.
 *
 * The end-to-end version through two proxy processes needs the modern endpoint's MRTR wiring
 * (parked.race / relay.resume in proxy/server/); see proxy/mrtr/relay.ts.
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
import { ParkRelay } from "../../proxy/mrtr/relay.ts";
import { RequestStateError, StateCodec } from "../../proxy/mrtr/state.ts";
import { startEverythingHttp } from "../harness/everything_http.ts";
import { repoRoot } from "../fixtures/mod.ts";
import { logTail, spawnService } from "../harness/process.ts";
import { getTestRedis } from "../harness/redis.ts";
import { waitFor } from "../proxy/helpers.ts";

const redis = await getTestRedis();
const KEY = new TextEncoder().encode("shared-request-state-key-".repeat(2));
const BINDING = { method: "tools/call", name: "every_elicit", identityKey: "anon" };
const TIMEOUT_MS = 30_000;

/** One replica's MRTR pieces and its backend connection to server-everything. */
async function replica(everythingUrl: string, keyPrefix: string) {
  const codec = new StateCodec({ key: KEY, ttlMs: 600_000, clock: systemClock });
  const parked = new ParkedCalls({
    codec,
    clock: systemClock,
    log: silentLogger,
    timeoutMs: 600_000,
  });
  const relay = new ParkRelay({
    parked,
    codec,
    log: silentLogger,
    waitMs: TIMEOUT_MS,
    redis: { address: `127.0.0.1:${redis.port}`, password: redis.password, keyPrefix },
  });
  await relay.start(TIMEOUT_MS);
  assert.ok(relay.ready);
  /** Every request server-everything sent to the client through this replica. */
  const asked: string[] = [];
  const peer: SessionPeer = {
    id: "request-peer",
    identity: ANONYMOUS_IDENTITY,
    request: (req, opts) => (asked.push(req.method), parked.bridge(peer, req, opts)),
    notify: () => Promise.resolve(),
    clientCapabilities: () => ({ elicitation: {}, sampling: {} }),
  };
  const conn = new BackendConnection(
    BackendConfigSchema.parse({ name: "every", url: everythingUrl }),
    peer,
    { onListChanged: () => {}, onResourceUpdated: () => {}, onClosed: () => {} },
    silentLogger,
  );
  await conn.connect(TIMEOUT_MS);
  const elicit = () =>
    parked.race(
      peer,
      BINDING,
      () =>
        conn.request("tools/call", { name: "trigger-elicitation-request", arguments: {} }, {
          ctx: { session: peer },
          timeoutMs: TIMEOUT_MS,
        }),
    );
  const retry = (requestState: string, inputResponses: AnyObject, signal?: AbortSignal) =>
    relay.resume({
      state: codec.open(requestState, BINDING),
      requestState,
      binding: BINDING,
      inputResponses,
    }, signal ? { signal } : {});
  return {
    parked,
    relay,
    asked,
    elicit,
    retry,
    stop: async () => (await relay.stop(), await conn.close()),
  };
}

const accept = (name: string) => ({ v1: { action: "accept", content: { name } } });

Deno.test({
  name:
    "server-everything's elicitation parked on replica a is completed by a retry on replica b; duplicates run nothing twice; with a gone the retry gets -32602",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const every = await startEverythingHttp();
    const prefix = `test:relay:${crypto.randomUUID().slice(0, 8)}:`;
    const a = await replica(every.url, prefix);
    const b = await replica(every.url, prefix);
    try {
      // 1. Parked on a, answered on b.
      const first = await a.elicit();
      assert.equal(first.resultType, "input_required", JSON.stringify(first));
      const done = await b.retry(first.requestState as string, accept("Zoe"));
      assert.match(JSON.stringify(done.content), /Name: Zoe/);
      assert.deepEqual(a.asked, ["elicitation/create"]);
      assert.deepEqual(b.asked, [], "b's backend connection ran nothing");
      assert.equal(a.parked.calls, 0);

      // 2. The same round again, and three at once on both replicas: one answer reaches the
      // call, every other retry gets -32602, and server-everything asked once.
      await assert.rejects(
        b.retry(first.requestState as string, accept("Again")),
        RequestStateError,
      );
      const second = await a.elicit();
      const state = second.requestState as string;
      const outcomes = await Promise.allSettled([
        b.retry(state, accept("One")),
        b.retry(state, accept("Two")),
        a.retry(state, accept("Three")),
      ]);
      const ok = outcomes.filter((o): o is PromiseFulfilledResult<AnyObject> =>
        o.status === "fulfilled"
      );
      assert.equal(ok.length, 1, JSON.stringify(outcomes));
      assert.match(JSON.stringify(ok[0]!.value.content), /Name: (One|Two|Three)/);
      for (const o of outcomes.filter((o) => o.status === "rejected")) {
        const err = (o as PromiseRejectedResult).reason;
        assert.ok(err instanceof RequestStateError, String(err));
        assert.equal(err.toJsonRpc().code, -32602);
      }
      assert.deepEqual(a.asked, ["elicitation/create", "elicitation/create"]);

      // 3. The owner gone: a parked call on a, a's relay stops; the retry on b fails closed.
      const third = await a.elicit();
      await a.relay.stop();
      await assert.rejects(b.retry(third.requestState as string, accept("Late")), (err) => {
        assert.ok(err instanceof RequestStateError);
        assert.equal(err.reason, "not_pending");
        assert.match(err.message, /no longer pending; call again without requestState/);
        return true;
      });
      assert.equal(a.parked.calls, 1, "the call on a is still parked, untouched");
      assert.equal(a.parked.pending, 1);
    } finally {
      await a.stop();
      await b.stop();
      await every.stop();
    }
  },
});

Deno.test({
  name:
    "a retry relayed to another process completes the call parked there; after that process is killed (SIGKILL) the retry gets -32602 not pending",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const every = await startEverythingHttp();
    const prefix = `test:relay:${crypto.randomUUID().slice(0, 8)}:`;
    const dir = await Deno.makeTempDir({ prefix: "vmcp-park-owner-" });
    const out = `${dir}/states.json`;
    const owner = spawnService({
      name: "park owner",
      bin: Deno.execPath(),
      args: ["run", "-A", "tests/fixtures/park_owner.ts"],
      logPath: `${dir}/owner.log`,
      cwd: repoRoot,
      env: {
        PARK_KEY: new TextDecoder().decode(KEY),
        PARK_REDIS_PORT: String(redis.port),
        PARK_REDIS_PASSWORD: redis.password ?? "",
        PARK_PREFIX: prefix,
        PARK_EVERYTHING_URL: every.url,
        PARK_CALLS: "2",
        PARK_OUT: out,
      },
    });
    const b = await replica(every.url, prefix);
    try {
      const parkedThere = await waitFor(
        async () => {
          if (!owner.running()) throw new Error(`owner exited:\n${await logTail(owner.logPath)}`);
          const text = await Deno.readTextFile(out).catch(() => "");
          return text.endsWith("\n")
            ? JSON.parse(text) as { replicaId: string; states: string[] }
            : undefined;
        },
        60_000,
        "the owner to park its calls",
      );
      const [one, two] = parkedThere!.states as [string, string];
      const done = await b.retry(one, accept("Remote"));
      assert.match(JSON.stringify(done.content), /Name: Remote/);
      assert.deepEqual(b.asked, [], "nothing ran on the receiving replica");

      owner.killNow();
      await owner.status;
      await assert.rejects(b.retry(two, accept("Too late")), (err) => {
        assert.ok(err instanceof RequestStateError, String(err));
        assert.equal(err.reason, "not_pending");
        assert.equal(err.toJsonRpc().code, -32602);
        assert.match(err.message, /no longer pending; call again without requestState/);
        return true;
      });
      assert.equal(b.relay.stats.waiting, 0);
    } finally {
      owner.killNow();
      await owner.status;
      await b.stop();
      await every.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

import assert from "node:assert/strict";
import { settledWithin, watchListenStream } from "./listen_ready.ts";
import type { Transport } from "../../core/sdk.ts";

Deno.test("watchListenStream() resolves once the transport's first GET stream opening settles", async () => {
  let open!: () => void;
  const calls: unknown[] = [];
  const proto = {
    _startOrAuthSse(o: unknown) {
      calls.push(o);
      return new Promise<void>((r) => open = r);
    },
  };
  const t = Object.create(proto) as Transport & { _startOrAuthSse(o: unknown): Promise<void> };
  const ready = watchListenStream(t);
  void t._startOrAuthSse({ first: true });
  let done = false;
  const waiting = ready().then(() => done = true);
  await Promise.resolve();
  assert.equal(done, false);
  open();
  await waiting;
  assert.equal(done, true);
  assert.equal(t._startOrAuthSse, proto._startOrAuthSse, "reconnections go as before");
  assert.deepEqual(calls, [{ first: true }]);
});

Deno.test("watchListenStream() resolves at once for a transport without a GET stream", async () => {
  await watchListenStream({} as Transport)();
});

Deno.test("settledWithin() gives up waiting after the bound and rejects on abort", async () => {
  const never = new Promise(() => {});
  await settledWithin(never, 10, new AbortController().signal);
  const ac = new AbortController();
  const waiting = settledWithin(never, 60_000, ac.signal);
  ac.abort(new Error("cancelled"));
  await assert.rejects(waiting, /cancelled/);
});

/**
 * Lease election against a real kube-apiserver (tests/harness), with short timings:
 * lease 3s, renew deadline 2s, retry 0.5s.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../../tests/harness/kube.ts";
import { createKubeClient, type KubeApi } from "./kube.ts";
import { LeaderElector, type LeaderElectorOptions, type Lease } from "./leader.ts";

const cluster = await getTestCluster();
const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
const TIMING = { leaseDurationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 500 };

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error(`Timed out after ${timeoutMs}ms: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

interface Candidate {
  elector: LeaderElector;
  abort: AbortController;
  done: Promise<void>;
  started: AbortSignal[];
  stopped: number;
  leaders: string[];
}

function candidate(
  api: Pick<KubeApi, "get" | "create" | "replace">,
  opts: Pick<LeaderElectorOptions, "namespace" | "name"> & Partial<LeaderElectorOptions>,
): Candidate {
  const c = { started: [], stopped: 0, leaders: [] } as unknown as Candidate;
  c.elector = new LeaderElector(api, {
    ...TIMING,
    ...opts,
    onStartedLeading: (signal) => void c.started.push(signal),
    onStoppedLeading: () => void c.stopped++,
    onNewLeader: (id) => void c.leaders.push(id),
  });
  c.abort = new AbortController();
  c.done = c.elector.run(c.abort.signal);
  return c;
}

async function readLease(ns: string, name: string): Promise<Lease | undefined> {
  return await kube.get<Lease>("coordination.k8s.io/v1", "Lease", ns, name);
}

Deno.test("two electors on one Lease elect exactly one leader and both know who it is", async () => {
  await using ns = await createTestNamespace(cluster, "leader");
  const a = candidate(kube, { namespace: ns.name, name: "ctl", identity: "a" });
  const b = candidate(kube, { namespace: ns.name, name: "ctl", identity: "b" });
  try {
    await waitFor("a leader", () => a.elector.isLeader() || b.elector.isLeader());
    // Hold for more than a lease duration: leadership must not flap or double up.
    const deadline = Date.now() + 4000;
    while (Date.now() < deadline) {
      assert.equal(Number(a.elector.isLeader()) + Number(b.elector.isLeader()), 1);
      await new Promise((r) => setTimeout(r, 50));
    }
    const leader = a.elector.isLeader() ? a : b;
    const follower = leader === a ? b : a;
    assert.equal(leader.started.length, 1);
    assert.equal(follower.started.length, 0);
    await waitFor(
      "follower sees leader",
      () => follower.elector.leaderIdentity() === leader.elector.identity,
    );
    assert.equal(leader.elector.leaderIdentity(), leader.elector.identity);
    const lease = await readLease(ns.name, "ctl");
    assert.equal(lease?.spec?.holderIdentity, leader.elector.identity);
    assert.equal(lease?.spec?.leaseDurationSeconds, 3);
    assert.match(String(lease?.spec?.renewTime), /\.\d{6}Z$/);
  } finally {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  }
});

Deno.test("a leader shut down gracefully releases the Lease and the other takes over at once", async () => {
  await using ns = await createTestNamespace(cluster, "leader");
  const a = candidate(kube, { namespace: ns.name, name: "ctl", identity: "a" });
  await waitFor("a leads", () => a.elector.isLeader());
  const b = candidate(kube, { namespace: ns.name, name: "ctl", identity: "b" });
  try {
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(b.elector.isLeader(), false);
    const stoppedAt = Date.now();
    a.abort.abort();
    await a.done;
    assert.equal(a.stopped, 1);
    assert.equal(a.started[0]?.aborted, true, "the leading signal aborts");
    assert.equal(a.elector.isLeader(), false);
    await waitFor("b leads", () => b.elector.isLeader(), 3000);
    const handover = Date.now() - stoppedAt;
    assert.ok(handover < 1500, `release hands over faster than expiry (took ${handover}ms)`);
    const lease = await readLease(ns.name, "ctl");
    assert.equal(lease?.spec?.holderIdentity, "b");
    assert.equal(lease?.spec?.leaseTransitions, 1);
    assert.deepEqual(b.leaders, ["a", "b"]);
  } finally {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  }
});

Deno.test("a leader that cannot renew within the deadline stops at once and a follower takes over within the lease duration", async () => {
  await using ns = await createTestNamespace(cluster, "leader");
  let broken = false;
  const fail = () => Promise.reject(new Error("injected: API unreachable"));
  const flaky: Pick<KubeApi, "get" | "create" | "replace"> = {
    get: (...args) => broken ? fail() : kube.get(...args),
    create: (obj, o) => broken ? fail() : kube.create(obj, o),
    replace: (obj, o) => broken ? fail() : kube.replace(obj, o),
  };
  const a = candidate(flaky, { namespace: ns.name, name: "ctl", identity: "a" });
  await waitFor("a leads", () => a.elector.isLeader());
  const b = candidate(kube, { namespace: ns.name, name: "ctl", identity: "b" });
  try {
    await new Promise((r) => setTimeout(r, 700));
    const lastRenew = Date.now();
    broken = true;
    const lostAfter = await waitFor("a gives up", () => a.stopped === 1, 5000);
    // Lost no later than retry + renew deadline after the last good renewal (+ slack).
    assert.ok(lostAfter <= 500 + 2000 + 500, `a stopped after ${lostAfter}ms`);
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.started[0]?.aborted, true);
    await a.done; // fail-stop: run() resolved without the signal being aborted
    assert.equal(a.abort.signal.aborted, false);
    await waitFor("b leads", () => b.elector.isLeader(), 6000);
    const takeover = Date.now() - lastRenew;
    assert.ok(takeover <= 3000 + 500 + 1000, `b took over ${takeover}ms after a's last renewal`);
    assert.ok(a.stopped === 1 && b.started.length === 1);
  } finally {
    a.abort.abort();
    b.abort.abort();
    await Promise.all([a.done, b.done]);
  }
});

Deno.test("a leader that finds another holder on the Lease stops leading at its next renewal", async () => {
  await using ns = await createTestNamespace(cluster, "leader");
  const a = candidate(kube, { namespace: ns.name, name: "ctl", identity: "a" });
  try {
    await waitFor("a leads", () => a.elector.isLeader());
    const lease = (await readLease(ns.name, "ctl"))!;
    await kube.replace({ ...lease, spec: { ...lease.spec, holderIdentity: "intruder" } });
    const after = await waitFor("a stops", () => a.stopped === 1, 3000);
    assert.ok(after < 1500, `stopped after ${after}ms`);
    await a.done;
    assert.equal(a.elector.leaderIdentity(), "intruder");
    assert.equal((await readLease(ns.name, "ctl"))?.spec?.holderIdentity, "intruder");
  } finally {
    a.abort.abort();
    await a.done;
  }
});

Deno.test("LeaderElector.run() cannot be called twice", async () => {
  await using ns = await createTestNamespace(cluster, "leader");
  const a = candidate(kube, { namespace: ns.name, name: "ctl", identity: "a" });
  await assert.rejects(() => a.elector.run(new AbortController().signal), /twice/);
  a.abort.abort();
  await a.done;
});

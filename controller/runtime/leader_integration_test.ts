/**
 * Lease election against a real kube-apiserver (tests/harness). Each test picks timings where
 * the behaviour it checks and the alternative are far apart (a busy machine may delay any
 * timer or API call by seconds): e.g. a handover "at once" is checked against a 30 s lease.
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster } from "../../tests/harness/kube.ts";
import { createKubeClient, type KubeApi } from "./kube.ts";
import { LeaderElector, type LeaderElectorOptions, type Lease } from "./leader.ts";

const cluster = await getTestCluster();
const kube = createKubeClient({ kubeconfigPath: cluster.kubeconfigPath });
/** Nothing expires during a test: only explicit releases and injected failures end a lease. */
const LONG = { leaseDurationMs: 30_000, renewDeadlineMs: 20_000, retryPeriodMs: 500 };

async function waitFor(what: string, cond: () => boolean, timeoutMs = 30_000): Promise<number> {
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
  /** When each leadership started and stopped (Date.now()). */
  startedAt: number[];
  stoppedAt: number[];
  stopped: number;
  leaders: string[];
}

function candidate(
  api: Pick<KubeApi, "get" | "create" | "replace">,
  opts: Pick<LeaderElectorOptions, "namespace" | "name"> & Partial<LeaderElectorOptions>,
): Candidate {
  const c = {
    started: [],
    startedAt: [],
    stoppedAt: [],
    stopped: 0,
    leaders: [],
  } as unknown as Candidate;
  c.elector = new LeaderElector(api, {
    ...LONG,
    ...opts,
    onStartedLeading: (signal) => void (c.started.push(signal), c.startedAt.push(Date.now())),
    onStoppedLeading: () => void (c.stopped++, c.stoppedAt.push(Date.now())),
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
  // A short lease (so the hold below outlasts it) with a renew deadline that a slow API call
  // cannot plausibly miss.
  const timing = { leaseDurationMs: 6000, renewDeadlineMs: 5000, retryPeriodMs: 500 };
  const a = candidate(kube, { namespace: ns.name, name: "ctl", identity: "a", ...timing });
  const b = candidate(kube, { namespace: ns.name, name: "ctl", identity: "b", ...timing });
  try {
    await waitFor("a leader", () => a.elector.isLeader() || b.elector.isLeader());
    // Hold for more than a lease duration: leadership must not flap or double up.
    const deadline = Date.now() + timing.leaseDurationMs + 2000;
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
    assert.equal(lease?.spec?.leaseDurationSeconds, timing.leaseDurationMs / 1000);
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
    // Waiting for expiry would take the 30 s lease; a release lets b in at its next retry.
    await waitFor("b leads", () => b.elector.isLeader(), 25_000);
    const handover = Date.now() - stoppedAt;
    assert.ok(
      handover < LONG.leaseDurationMs / 2,
      `release hands over faster than expiry (took ${handover}ms)`,
    );
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
  // a gives up after the 4 s renew deadline, long before the 20 s lease lets b in.
  const timing = { leaseDurationMs: 20_000, renewDeadlineMs: 4000, retryPeriodMs: 500 };
  const a = candidate(flaky, { namespace: ns.name, name: "ctl", identity: "a", ...timing });
  await waitFor("a leads", () => a.elector.isLeader());
  const b = candidate(kube, { namespace: ns.name, name: "ctl", identity: "b", ...timing });
  try {
    await new Promise((r) => setTimeout(r, 700));
    const lastRenew = Date.now();
    broken = true;
    const lostAfter = await waitFor("a gives up", () => a.stopped === 1);
    // Lost within retry + renew deadline after the last good renewal: well before expiry.
    assert.ok(
      lostAfter < timing.leaseDurationMs / 2,
      `a stopped after ${lostAfter}ms (lease ${timing.leaseDurationMs}ms)`,
    );
    assert.equal(a.elector.isLeader(), false);
    assert.equal(a.started[0]?.aborted, true);
    await a.done; // fail-stop: run() resolved without the signal being aborted
    assert.equal(a.abort.signal.aborted, false);
    await waitFor("b leads", () => b.elector.isLeader(), 60_000);
    const takeover = Date.now() - lastRenew;
    // b only takes over once the 20 s lease has expired, not when a gave up (about 4.5 s): a
    // slow machine only makes it later.
    assert.ok(
      takeover >= timing.leaseDurationMs / 2,
      `b took over ${takeover}ms after a's last renewal, before the lease expired`,
    );
    assert.ok(a.stopped === 1 && b.started.length === 1);
    assert.ok(a.stoppedAt[0]! <= b.startedAt[0]!, "a stopped leading before b started");
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
    // At its next renewal (0.5 s retry), long before the 30 s lease would expire.
    const after = await waitFor("a stops", () => a.stopped === 1, 25_000);
    assert.ok(after < LONG.leaseDurationMs / 2, `stopped after ${after}ms`);
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

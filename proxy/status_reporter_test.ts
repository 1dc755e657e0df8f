/**
 * The status reporter against a real kube-apiserver: what it writes, when, as which field
 * manager, and how it survives refusals. The proxy itself is replaced by a snapshot function
 * (tests/e2e/phase_walk_test.ts runs the real proxy process).
 */
import assert from "node:assert/strict";
import { createTestNamespace, getTestCluster, kubeRequest } from "../tests/harness/kube.ts";
import { installCrds } from "../tests/controller/_setup.ts";
import { GROUP_VERSION } from "../crds/common.ts";
import type { DiscoveredBackend } from "../crds/virtualmcpserver.ts";
import { createLogger } from "../core/log.ts";
import { type Clock, systemClock } from "../core/clock.ts";
import type { FetchFn } from "./auth/http.ts";
import {
  PROXY_FIELD_MANAGER,
  reporterTargetFromEnv,
  startStatusReporter,
} from "./status_reporter.ts";

const cluster = await getTestCluster();
await installCrds(cluster);

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits for something that should happen; generous, as a busy machine may be slow. */
async function until<T>(what: string, fn: () => Promise<T> | T, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await sleep(20);
  }
}

const vmcpPath = (ns: string, name = "v") =>
  `/apis/${GROUP_VERSION}/namespaces/${ns}/virtualmcpservers/${name}`;

async function createVmcp(ns: string, name = "v") {
  await kubeRequest(cluster, "POST", `/apis/${GROUP_VERSION}/namespaces/${ns}/virtualmcpservers`, {
    apiVersion: GROUP_VERSION,
    kind: "VirtualMCPServer",
    metadata: { name, namespace: ns },
    spec: { groupRef: { name: "g" } },
  });
}

const getVmcp = (ns: string) => kubeRequest<Obj>(cluster, "GET", vmcpPath(ns));

/** Counts the reporter's PATCH requests. */
function countingFetch() {
  const calls: number[] = [];
  const f: FetchFn = (input, init) => {
    calls.push(Date.now());
    return fetch(input, init);
  };
  return { fetch: f, calls };
}

/** The real clock, plus a skew a test can add to make "later" come at once. */
function skewedClock(): Clock & { skip(ms: number): void } {
  let skew = 0;
  return {
    now: () => Date.now() + skew,
    sleep: (ms, signal) => systemClock.sleep(ms, signal),
    skip: (ms) => void (skew += ms),
  };
}

function logSink() {
  const lines: Obj[] = [];
  return { log: createLogger({ level: "debug", sink: (l) => lines.push(JSON.parse(l)) }), lines };
}

Deno.test("The reporter writes only status.discoveredBackends as vmcp-proxy: transitions at once, lastHealthCheck-only changes at the next interval, nothing when nothing changed", async () => {
  await using ns = await createTestNamespace(cluster, "reporter");
  await createVmcp(ns.name);
  // The controller's fields, written first by its own manager, must survive the proxy's writes.
  await kubeRequest(
    cluster,
    "PATCH",
    `${vmcpPath(ns.name)}/status?fieldManager=vmcp-controller&force=true`,
    {
      apiVersion: GROUP_VERSION,
      kind: "VirtualMCPServer",
      metadata: { name: "v", namespace: ns.name },
      status: { phase: "Pending", message: "waiting", backendCount: 0 },
    },
    { contentType: "application/apply-patch+yaml" },
  );
  let entries: DiscoveredBackend[] = [
    {
      name: "a",
      url: "http://127.0.0.1:1/mcp",
      transport: "streamable-http",
      status: "ready",
      authType: "unauthenticated",
      lastHealthCheck: "2026-01-01T00:00:00.000Z",
      message: "Healthy",
      consecutiveFailures: 0,
      toolCount: 3,
    },
    { name: "b", transport: "stdio", status: "unknown", consecutiveFailures: 0 },
  ];
  const counted = countingFetch();
  const { log } = logSink();
  // The interval is long (10 min), so nothing periodic can happen while the test waits;
  // the clock is skipped forward when a test step wants the next interval to come.
  const INTERVAL = 600_000;
  const clock = skewedClock();
  let compared = 0;
  /** Waits until the reporter has compared the snapshot a few more times. */
  const ticks = (n = 5) => {
    const target = compared + n;
    return until(`${n} more comparisons`, () => compared >= target);
  };
  const reporter = startStatusReporter({
    name: "v",
    namespace: ns.name,
    apiServerUrl: cluster.url,
    token: cluster.token,
    caPem: cluster.caPem,
    snapshot: () => (compared++, entries),
    intervalMs: () => INTERVAL,
    clock,
    log,
    fetch: counted.fetch,
    watchMs: 20,
    minGapMs: 0,
  });
  try {
    await until("the first report", () => reporter.writes === 1);
    let cr = await getVmcp(ns.name);
    assert.deepEqual(cr.status.discoveredBackends, entries);
    assert.equal(cr.status.phase, "Pending", "the controller's phase is untouched");
    assert.equal(cr.status.backendCount, 0, "the controller's backendCount is untouched");
    const mine = (cr.metadata.managedFields as Obj[]).filter((m) =>
      m.manager === PROXY_FIELD_MANAGER
    );
    assert.equal(mine.length, 1);
    assert.equal(mine[0]!.subresource, "status");
    assert.equal(mine[0]!.operation, "Apply");
    assert.deepEqual(Object.keys(mine[0]!.fieldsV1["f:status"]), ["f:discoveredBackends"]);

    // Only the check time moved: not a transition, so no write before the interval.
    entries = entries.map((b) =>
      b.name === "a" ? { ...b, lastHealthCheck: "2026-01-01T00:00:05.000Z" } : b
    );
    await ticks();
    assert.equal(counted.calls.length, 1, "no write for a lastHealthCheck-only change");
    clock.skip(INTERVAL);
    await until("the periodic report", () => reporter.writes === 2);
    cr = await getVmcp(ns.name);
    assert.equal(cr.status.discoveredBackends[0].lastHealthCheck, "2026-01-01T00:00:05.000Z");

    clock.skip(2 * INTERVAL); // more than one interval with nothing new
    await ticks();
    assert.equal(counted.calls.length, 2, "no write when nothing changed");

    // A transition is written within a few ticks: the next interval is 10 min away, far
    // beyond the wait.
    entries = entries.map((b) =>
      b.name === "a"
        ? { ...b, status: "unavailable", message: "connection refused", consecutiveFailures: 3 }
        : b
    );
    await until("the transition report", () => reporter.writes === 3);
    cr = await getVmcp(ns.name);
    assert.equal(cr.status.discoveredBackends[0].status, "unavailable");
    assert.equal(cr.status.discoveredBackends[0].message, "connection refused");

    // A removed backend disappears from the list (its entry was owned by vmcp-proxy alone).
    entries = entries.filter((b) => b.name !== "b");
    await until("the removal report", () => reporter.writes === 4);
    cr = await getVmcp(ns.name);
    assert.deepEqual(cr.status.discoveredBackends.map((b: Obj) => b.name), ["a"]);
    assert.equal(cr.status.phase, "Pending");
  } finally {
    await reporter.stop();
  }
});

Deno.test("A refused write is logged and retried with backoff, and the token file is read again for each attempt", async () => {
  await using ns = await createTestNamespace(cluster, "reporter-retry");
  const dir = await Deno.makeTempDir({ prefix: "vmcp-reporter-" });
  const tokenFile = `${dir}/token`;
  await Deno.writeTextFile(tokenFile, "not-a-valid-token\n");
  const counted = countingFetch();
  const { log, lines } = logSink();
  const reporter = startStatusReporter({
    name: "v",
    namespace: ns.name,
    apiServerUrl: cluster.url,
    tokenFile,
    caPem: cluster.caPem,
    snapshot: () => [{ name: "a", status: "ready", consecutiveFailures: 0 }],
    intervalMs: () => 60_000,
    log,
    fetch: counted.fetch,
    watchMs: 10,
    initialBackoffMs: 100,
    maxBackoffMs: 400,
  });
  try {
    const warned = (re: RegExp) =>
      lines.some((l) => l.level === "warn" && re.test(String(l.error)));
    await until("a 401 warning", () => warned(/HTTP 401 \(token rejected\)/));
    await until("four attempts", () => counted.calls.length >= 4);
    // Without backoff the attempts would come every 10 ms tick; with it they are at least
    // 100, 200 and 400 ms apart (a slow machine only spaces them further).
    const gaps = counted.calls.slice(1, 4).map((t, i) => t - counted.calls[i]!);
    assert.ok(
      gaps[0]! >= 95 && gaps[1]! >= 195 && gaps[2]! >= 395,
      `backoff spaced the attempts: ${gaps.join(", ")} ms`,
    );
    assert.equal(reporter.writes, 0);

    await Deno.writeTextFile(tokenFile, `${cluster.token}\n`); // as a rotated projected token
    await until("a 404 warning", () => warned(/HTTP 404 \(VirtualMCPServer or its CRD/));
    await createVmcp(ns.name);
    await until("a successful write", () => reporter.writes === 1);
    assert.ok(lines.some((l) => l.msg === "status reporting recovered"));
    const cr = await getVmcp(ns.name);
    assert.deepEqual(cr.status.discoveredBackends, [{
      name: "a",
      status: "ready",
      consecutiveFailures: 0,
    }]);
    assert.ok(
      !JSON.stringify(lines).includes(cluster.token),
      "the token never appears in the log",
    );
  } finally {
    await reporter.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Reporting is off when standalone and explains itself when the API server is unknown", async () => {
  const envOf = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(reporterTargetFromEnv(envOf({})), undefined);
  assert.equal(reporterTargetFromEnv(envOf({ VMCP_NAMESPACE: "ns" })), undefined);
  assert.match(
    String(reporterTargetFromEnv(envOf({ VMCP_NAME: "v", VMCP_NAMESPACE: "ns" }))),
    /no API server: set VMCP_KUBE_API_URL or run in a cluster/,
  );
  assert.match(
    String(reporterTargetFromEnv(envOf({
      VMCP_NAME: "v",
      VMCP_NAMESPACE: "ns",
      VMCP_KUBE_API_URL: "not a url",
    }))),
    /VMCP_KUBE_API_URL "not a url" is not a URL/,
  );
  assert.match(
    String(reporterTargetFromEnv(envOf({
      VMCP_NAME: "v",
      VMCP_NAMESPACE: "ns",
      VMCP_KUBE_API_URL: "https://127.0.0.1:6443",
      VMCP_KUBE_CA_FILE: "/nonexistent/ca.crt",
    }))),
    /cannot read VMCP_KUBE_CA_FILE "\/nonexistent\/ca.crt"/,
  );
  const inCluster = reporterTargetFromEnv(envOf({
    VMCP_NAME: "v",
    VMCP_NAMESPACE: "ns",
    KUBERNETES_SERVICE_HOST: "fd00::1",
    KUBERNETES_SERVICE_PORT: "6443",
  }));
  assert.equal(typeof inCluster, "object");
  assert.equal((inCluster as Obj).apiServerUrl, "https://[fd00::1]:6443");
  assert.equal((inCluster as Obj).tokenFile, "/var/run/secrets/kubernetes.io/serviceaccount/token");
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/ca.crt`, cluster.caPem);
    const explicit = reporterTargetFromEnv(envOf({
      VMCP_NAME: "v",
      VMCP_NAMESPACE: "ns",
      VMCP_KUBE_API_URL: cluster.url,
      VMCP_KUBE_TOKEN_FILE: `${dir}/token`,
      VMCP_KUBE_CA_FILE: `${dir}/ca.crt`,
    })) as Obj;
    assert.deepEqual(explicit, {
      name: "v",
      namespace: "ns",
      apiServerUrl: cluster.url,
      tokenFile: `${dir}/token`,
      caPem: cluster.caPem,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/**
 * A real kube-apiserver + etcd for tests (no controllers, no kubelet).
 *
 * `startKubeCluster()` starts a private etcd and kube-apiserver on free loopback ports.
 * `getTestCluster()` returns the cluster shared by the whole test run (started by
 * `tests/run.ts` and described by the VMCP_TEST_KUBE_* env vars), or starts one for this
 * process when those are not set. When you run a test file on its own with `deno test`, call
 * `getTestCluster()` at module top level (top-level await) rather than inside a test: the
 * processes then exist before the first test and Deno's resource sanitizer stays quiet.
 */
import { freePorts } from "./ports.ts";
import { logTail, raceExit, type ServiceProcess, spawnService } from "./process.ts";
import { type KubeConn, kubeRequest } from "./kube_request.ts";

export { kubeRequest } from "./kube_request.ts";
export type { KubeConn } from "./kube_request.ts";

/** Kubernetes version the build script produces by default. */
export const K8S_VERSION = Deno.env.get("K8S_VERSION") ?? "v1.34.3";
const BINS = ["kube-apiserver", "etcd", "kubectl"] as const;
const BUILD_SCRIPT = new URL("../../scripts/build-cluster-bins.sh", import.meta.url).pathname;

export interface KubeCluster extends KubeConn {
  /** https://127.0.0.1:<port> */
  readonly url: string;
  /** Kubeconfig for the admin user (token in group system:masters, CA of the server). */
  readonly kubeconfigPath: string;
  /** Bearer token of the admin user. */
  readonly token: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly caPem: string;
  /** Directory holding kube-apiserver, etcd and kubectl. */
  readonly binDir: string;
  /** Stops the kube-apiserver and starts it again on the same port (etcd keeps running). */
  restartApiServer(): Promise<void>;
  /** Stops both processes and removes the temp dir. A no-op for a shared cluster. */
  stop(): Promise<void>;
}

export interface StartKubeClusterOptions {
  /** Directory with the binaries; default: `await ensureClusterBins()`. */
  binDir?: string;
  /** Extra kube-apiserver flags (appended, so they override the defaults). */
  apiServerArgs?: string[];
  /** How long to wait for etcd and for /readyz, each. Default 90 s. */
  startTimeoutMs?: number;
  signal?: AbortSignal;
}

function hasAllBins(dir: string): boolean {
  return BINS.every((b) => {
    try {
      return Deno.statSync(`${dir}/${b}`).isFile;
    } catch {
      return false;
    }
  });
}

/** Where the build script puts the binaries for `version`. */
export function clusterBinCacheDir(version = K8S_VERSION): string {
  const root = Deno.env.get("VMCP_CACHE") ?? `${Deno.env.get("HOME") ?? "/root"}/.cache/vmcp`;
  return `${root}/envtest/${version}`;
}

/**
 * Returns the directory holding kube-apiserver, etcd and kubectl: KUBEBUILDER_ASSETS if it
 * holds them, else the build cache, building there first (many minutes) when needed.
 */
export async function ensureClusterBins(): Promise<string> {
  const assets = Deno.env.get("KUBEBUILDER_ASSETS");
  if (assets && hasAllBins(assets)) return assets;
  const cached = clusterBinCacheDir();
  if (hasAllBins(cached)) return cached;
  const out = await new Deno.Command("bash", {
    args: [BUILD_SCRIPT],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new Error(`ensureClusterBins: ${BUILD_SCRIPT} failed with exit code ${out.code}`);
  }
  const dir = new TextDecoder().decode(out.stdout).trim().split("\n").at(-1) ?? "";
  if (!hasAllBins(dir)) {
    throw new Error(`ensureClusterBins: build script printed '${dir}', which lacks ${BINS}`);
  }
  return dir;
}

function pemEncode(label: string, der: ArrayBuffer): string {
  const b64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  return `-----BEGIN ${label}-----\n${b64.match(/.{1,64}/g)!.join("\n")}\n-----END ${label}-----\n`;
}

/** Writes an ECDSA P-256 service-account signing key pair; returns [privatePath, publicPath]. */
async function writeServiceAccountKeys(dir: string): Promise<[string, string]> {
  const pair = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, [
    "sign",
    "verify",
  ]);
  const priv = `${dir}/sa.key`;
  const pub = `${dir}/sa.pub`;
  await Deno.writeTextFile(
    priv,
    pemEncode("PRIVATE KEY", await crypto.subtle.exportKey("pkcs8", pair.privateKey)),
    { mode: 0o600 },
  );
  await Deno.writeTextFile(
    pub,
    pemEncode("PUBLIC KEY", await crypto.subtle.exportKey("spki", pair.publicKey)),
  );
  return [priv, pub];
}

function randomToken(bytes = 24): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(bytes)))
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until `path` exists and holds a PEM certificate; returns the last certificate (the CA). */
async function waitForServingCa(path: string, proc: ServiceProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) break;
    try {
      const text = await Deno.readTextFile(path);
      const certs = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g);
      if (certs && certs.length > 0) return certs.at(-1)!.trimEnd() + "\n";
    } catch {
      // not written yet
    }
    await sleep(100);
  }
  throw new Error(
    `kube-apiserver wrote no serving certificate to ${path} within ${timeoutMs} ms; log:\n` +
      (await logTail(proc.logPath)),
  );
}

async function waitForReadyz(conn: KubeConn, proc: ServiceProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline && proc.running()) {
    try {
      const res = await kubeRequest(conn, "GET", "/readyz", undefined, { raw: true });
      if (res.status === 200) return;
      last = `HTTP ${res.status}: ${String(res.body).slice(0, 500)}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    await sleep(200);
  }
  throw new Error(
    `kube-apiserver at ${conn.url} was not ready within ${timeoutMs} ms (last: ${last}); log:\n` +
      (await logTail(proc.logPath)),
  );
}

async function waitForEtcd(clientUrl: string, proc: ServiceProcess, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && proc.running()) {
    try {
      const res = await fetch(`${clientUrl}/health`);
      const body = await res.text();
      if (res.ok && body.includes('"true"')) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(
    `etcd at ${clientUrl} was not healthy within ${timeoutMs} ms; log:\n` +
      (await logTail(proc.logPath)),
  );
}

function kubeconfigYaml(url: string, caPem: string, token: string): string {
  // JSON is valid YAML; kubectl and @kubernetes/client-node both read it.
  return JSON.stringify(
    {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{
        name: "vmcp-test",
        cluster: { server: url, "certificate-authority-data": btoa(caPem) },
      }],
      users: [{ name: "vmcp-admin", user: { token } }],
      contexts: [{
        name: "vmcp-test",
        context: { cluster: "vmcp-test", user: "vmcp-admin", namespace: "default" },
      }],
      "current-context": "vmcp-test",
    },
    null,
    2,
  ) + "\n";
}

/** Starts etcd and kube-apiserver on free loopback ports; see {@link KubeCluster}. */
export async function startKubeCluster(
  options: StartKubeClusterOptions = {},
): Promise<KubeCluster> {
  const binDir = options.binDir ?? await ensureClusterBins();
  const timeoutMs = options.startTimeoutMs ?? 90_000;
  const dir = await Deno.makeTempDir({ prefix: "vmcp-kube-" });
  const processes: ServiceProcess[] = [];
  const onUnload = () => {
    for (const p of processes) p.killNow();
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // best effort
    }
  };
  globalThis.addEventListener("unload", onUnload);

  let etcd: ServiceProcess | undefined;
  let apiserver: ServiceProcess | undefined;
  const cleanup = async () => {
    globalThis.removeEventListener("unload", onUnload);
    await apiserver?.stop();
    await etcd?.stop();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    const [etcdClientPort, etcdPeerPort, apiPort] = freePorts(3) as [number, number, number];
    const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
    const peerUrl = `http://127.0.0.1:${etcdPeerPort}`;
    etcd = spawnService({
      name: "etcd",
      bin: `${binDir}/etcd`,
      logPath: `${dir}/etcd.log`,
      args: [
        "--name=vmcp-test",
        `--data-dir=${dir}/etcd-data`,
        `--listen-client-urls=${etcdUrl}`,
        `--advertise-client-urls=${etcdUrl}`,
        `--listen-peer-urls=${peerUrl}`,
        `--initial-advertise-peer-urls=${peerUrl}`,
        `--initial-cluster=vmcp-test=${peerUrl}`,
        "--unsafe-no-fsync=true",
        "--log-level=warn",
      ],
    });
    processes.push(etcd);
    await raceExit(etcd, waitForEtcd(etcdUrl, etcd, timeoutMs));

    const token = randomToken();
    await Deno.writeTextFile(
      `${dir}/tokens.csv`,
      `${token},vmcp-admin,vmcp-admin-uid,"system:masters"\n`,
      { mode: 0o600 },
    );
    const [saKey, saPub] = await writeServiceAccountKeys(dir);
    const certDir = `${dir}/certs`;
    const url = `https://127.0.0.1:${apiPort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      `--cert-dir=${certDir}`,
      "--bind-address=127.0.0.1",
      "--advertise-address=127.0.0.1",
      `--secure-port=${apiPort}`,
      `--token-auth-file=${dir}/tokens.csv`,
      "--authorization-mode=RBAC",
      "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
      `--service-account-signing-key-file=${saKey}`,
      `--service-account-key-file=${saPub}`,
      "--service-cluster-ip-range=10.0.0.0/24",
      // No kube-controller-manager runs, so nothing creates the "default" ServiceAccount
      // the ServiceAccount admission plugin insists on for pods.
      "--disable-admission-plugins=ServiceAccount",
      "--allow-privileged=true",
      // The kubernetes Service's endpoints would be 127.0.0.1, which validation rejects.
      "--endpoint-reconciler-type=none",
      "--profiling=false",
      ...(options.apiServerArgs ?? []),
    ];
    const startApiServer = async () => {
      apiserver = spawnService({
        name: "kube-apiserver",
        bin: `${binDir}/kube-apiserver`,
        logPath: `${dir}/kube-apiserver.log`,
        args: apiArgs,
      });
      processes.push(apiserver);
      const caPem = await raceExit(
        apiserver,
        waitForServingCa(`${certDir}/apiserver.crt`, apiserver, timeoutMs),
      );
      await raceExit(apiserver, waitForReadyz({ url, token, caPem }, apiserver, timeoutMs));
      return caPem;
    };
    const caPem = await startApiServer();
    const kubeconfigPath = `${dir}/kubeconfig`;
    await Deno.writeTextFile(kubeconfigPath, kubeconfigYaml(url, caPem, token), { mode: 0o600 });

    let stopped = false;
    return {
      url,
      token,
      caPem,
      kubeconfigPath,
      binDir,
      async restartApiServer() {
        if (stopped) throw new Error("restartApiServer: the cluster was stopped");
        const old = apiserver!;
        await old.stop();
        processes.splice(processes.indexOf(old), 1);
        // The cert dir is kept, so the restarted server serves the same certificate.
        await startApiServer();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await cleanup();
      },
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}

let processCluster: Promise<KubeCluster> | undefined;

/**
 * The cluster for tests: the shared one from VMCP_TEST_KUBECONFIG / VMCP_TEST_KUBE_URL /
 * VMCP_TEST_KUBE_TOKEN (+ VMCP_TEST_KUBE_CA_FILE, VMCP_TEST_KUBE_BIN_DIR) when set, else one
 * started for this process on first call and killed when the process unloads.
 * Do not `stop()` it; for `restartApiServer()` start a private cluster instead.
 */
export function getTestCluster(): Promise<KubeCluster> {
  processCluster ??= sharedFromEnv() ?? startProcessCluster();
  return processCluster;
}

function sharedFromEnv(): Promise<KubeCluster> | undefined {
  const kubeconfigPath = Deno.env.get("VMCP_TEST_KUBECONFIG");
  if (!kubeconfigPath) return undefined;
  return (async () => {
    const url = Deno.env.get("VMCP_TEST_KUBE_URL");
    const token = Deno.env.get("VMCP_TEST_KUBE_TOKEN");
    const caFile = Deno.env.get("VMCP_TEST_KUBE_CA_FILE");
    if (!url || !token || !caFile) {
      throw new Error(
        "getTestCluster: VMCP_TEST_KUBECONFIG is set, so VMCP_TEST_KUBE_URL, " +
          "VMCP_TEST_KUBE_TOKEN and VMCP_TEST_KUBE_CA_FILE must be set too",
      );
    }
    const caPem = await Deno.readTextFile(caFile);
    return {
      url,
      token,
      caPem,
      kubeconfigPath,
      binDir: Deno.env.get("VMCP_TEST_KUBE_BIN_DIR") ?? Deno.env.get("KUBEBUILDER_ASSETS") ??
        clusterBinCacheDir(),
      restartApiServer() {
        return Promise.reject(
          new Error(
            "restartApiServer: not possible on the shared test cluster; " +
              "use startKubeCluster() for a private one",
          ),
        );
      },
      stop: () => Promise.resolve(),
    };
  })();
}

async function startProcessCluster(): Promise<KubeCluster> {
  const cluster = await startKubeCluster();
  // startKubeCluster already kills its processes on unload; stop() is for explicit callers.
  return { ...cluster, stop: () => Promise.resolve() };
}

export interface TestNamespace {
  readonly name: string;
  /** Deletes the namespace (it stays Terminating: no namespace controller runs). */
  delete(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Creates a namespace with a unique name `<prefix>-<random>` (prefix lower-cased and trimmed
 * to a valid DNS label). Use `await using ns = await createTestNamespace(cluster, "x")`.
 */
export async function createTestNamespace(
  cluster: KubeConn,
  prefix = "test",
): Promise<TestNamespace> {
  const clean = prefix.toLowerCase().replace(/[^a-z0-9-]+/g, "-").replace(/^-+|-+$/g, "")
    .slice(0, 50) || "test";
  const name = `${clean}-${randomToken(4)}`;
  await kubeRequest(cluster, "POST", "/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name, labels: { "vmcp.test/namespace": "true" } },
  });
  let deleted = false;
  const del = async () => {
    if (deleted) return;
    deleted = true;
    await kubeRequest(cluster, "DELETE", `/api/v1/namespaces/${name}`, undefined, { raw: true });
  };
  return { name, delete: del, [Symbol.asyncDispose]: del };
}

/**
 * A TokenRequest token for ServiceAccount `ns/name` (created when missing), as the kubelet
 * would mount it. `audiences` empty: the API server's default audience.
 */
export async function serviceAccountToken(
  cluster: KubeConn,
  ns: string,
  name: string,
  audiences: string[] = [],
  expirationSeconds = 3600,
): Promise<string> {
  await kubeRequest(cluster, "POST", `/api/v1/namespaces/${ns}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name },
  }, { raw: true });
  const tr = await kubeRequest<{ status: { token: string } }>(
    cluster,
    "POST",
    `/api/v1/namespaces/${ns}/serviceaccounts/${name}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { ...(audiences.length ? { audiences } : {}), expirationSeconds },
    },
  );
  return tr.status.token;
}

/** Binds `system:auth-delegator` (TokenReview) to ServiceAccount `ns/sa` as ClusterRoleBinding `name`. */
export async function grantAuthDelegator(
  cluster: KubeConn,
  name: string,
  ns: string,
  sa: string,
): Promise<void> {
  await kubeRequest(cluster, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: "system:auth-delegator",
    },
    subjects: [{ kind: "ServiceAccount", name: sa, namespace: ns }],
  });
}

/**
 * Test helpers for the install manifests: run the kubectl built next to kube-apiserver,
 * render `deploy/` (or `deploy/namespaced/`) with its kustomize, and mint a real
 * ServiceAccount token.
 * @module
 */
import YAML from "yaml";
import { type KubeCluster, kubeRequest } from "../tests/harness/kube.ts";
import { type ServiceProcess, spawnService } from "../tests/harness/process.ts";

export const DEPLOY_DIR = new URL("./", import.meta.url).pathname;
/** The overlay that installs the operator watching one namespace, least privilege. */
export const NAMESPACED_DIR = new URL("./namespaced/", import.meta.url).pathname;
export const EXAMPLES_DIR = new URL("../examples/k8s/", import.meta.url).pathname;
export const OPERATOR_NAMESPACE = "vmcp-system";
export const OPERATOR_SA = "vmcp-controller";
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:${OPERATOR_SA}`;

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A plain Kubernetes object as kubectl renders it. */
export interface Obj {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

let cacheDir: string | undefined;

/** Runs kubectl from `binDir`; `kubeconfig` defaults to none (for `kustomize`). */
export async function kubectl(
  binDir: string,
  args: string[],
  kubeconfig?: string,
): Promise<KubectlResult> {
  // A private discovery cache: CRDs come and go between tests.
  if (!cacheDir) {
    const dir = cacheDir = await Deno.makeTempDir({ prefix: "vmcp-kubectl-cache-" });
    globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
  }
  const out = await new Deno.Command(`${binDir}/kubectl`, {
    args: [
      ...(kubeconfig ? [`--kubeconfig=${kubeconfig}`] : []),
      `--cache-dir=${cacheDir}`,
      ...args,
    ],
    env: { NO_PROXY: "127.0.0.1,localhost", no_proxy: "127.0.0.1,localhost" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Like {@link kubectl} but throws with the output unless kubectl exits 0. */
export async function kubectlOk(
  binDir: string,
  args: string[],
  kubeconfig?: string,
): Promise<string> {
  const r = await kubectl(binDir, args, kubeconfig);
  if (r.code !== 0) {
    throw new Error(`kubectl ${args.join(" ")} exited ${r.code}:\n${r.stderr}\n${r.stdout}`);
  }
  return r.stdout;
}

/** The objects `kubectl apply -k <dir>` installs (default deploy/), as kustomize renders them. */
export async function renderDeploy(binDir: string, dir = DEPLOY_DIR): Promise<Obj[]> {
  const text = await kubectlOk(binDir, ["kustomize", dir]);
  return YAML.parseAllDocuments(text).map((d) => d.toJSON() as Obj).filter(Boolean);
}

/**
 * `kubectl apply --server-side -k <dir>` (default deploy/) as the cluster admin, then waits
 * for the CRDs.
 */
export async function applyDeploy(cluster: KubeCluster, dir = DEPLOY_DIR): Promise<string> {
  const out = await kubectlOk(cluster.binDir, [
    "apply",
    "--server-side",
    "--force-conflicts",
    "--field-manager=vmcp-install",
    "-k",
    dir,
  ], cluster.kubeconfigPath);
  const crds = (await renderDeploy(cluster.binDir, dir)).filter((o) =>
    o.kind === "CustomResourceDefinition"
  );
  await kubectlOk(cluster.binDir, [
    "wait",
    "--for=condition=Established",
    "--timeout=60s",
    ...crds.map((c) => `crd/${c.metadata.name}`),
  ], cluster.kubeconfigPath);
  return out;
}

/**
 * Writes a kubeconfig that authenticates as the operator's ServiceAccount with a real
 * TokenRequest token (the path a pod's projected token takes), and returns its path.
 */
export async function operatorKubeconfig(
  cluster: KubeCluster,
  dir: string,
): Promise<{ path: string; token: string }> {
  const tr = await kubeRequest<{ status: { token: string } }>(
    cluster,
    "POST",
    `/api/v1/namespaces/${OPERATOR_NAMESPACE}/serviceaccounts/${OPERATOR_SA}/token`,
    {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    },
  );
  const path = `${dir}/operator.kubeconfig`;
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{
      name: "c",
      cluster: { server: cluster.url, "certificate-authority-data": btoa(cluster.caPem) },
    }],
    users: [{ name: OPERATOR_SA, user: { token: tr.status.token } }],
    contexts: [{ name: "c", context: { cluster: "c", user: OPERATOR_SA } }],
    "current-context": "c",
  };
  await Deno.writeTextFile(path, JSON.stringify(config), { mode: 0o600 });
  return { path, token: tr.status.token };
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;

export interface OperatorRun {
  kubeconfig: string;
  /** The pod name the downward API would give (POD_NAME, the leader-election identity). */
  pod: string;
  /** Replaces the Deployment's --metrics-port. */
  metricsPort: number;
  logPath: string;
  /** Extra flags (e.g. --namespace to keep a shared test cluster's other namespaces out). */
  extraArgs?: string[];
}

type Container = {
  args: string[];
  env: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
};

/**
 * Starts `main.ts` as the operator pod of deploy/ would run: the Deployment's container args
 * and env, with the downward API resolved for `run.pod` in vmcp-system.
 */
export function startOperator(objs: Obj[], run: OperatorRun): ServiceProcess {
  const dep = objs.find((o) => o.kind === "Deployment") as unknown as {
    spec: { template: { spec: { containers: Container[] } } };
  };
  const c = dep.spec.template.spec.containers[0]!;
  const field: Record<string, string> = {
    "metadata.name": run.pod,
    "metadata.namespace": OPERATOR_NAMESPACE,
  };
  const env: Record<string, string> = { NO_PROXY: "127.0.0.1,localhost" };
  for (const e of c.env) env[e.name] = e.value ?? field[e.valueFrom?.fieldRef?.fieldPath ?? ""]!;
  const args = c.args.map((a) =>
    a.startsWith("--metrics-port=") ? `--metrics-port=${run.metricsPort}` : a
  );
  return spawnService({
    name: "operator",
    bin: Deno.execPath(),
    args: ["run", "-A", MAIN, ...args, `--kubeconfig=${run.kubeconfig}`, ...(run.extraArgs ?? [])],
    logPath: run.logPath,
    env,
  });
}

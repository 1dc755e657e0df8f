/**
 * Shared set-up of the controller integration tests: the real test cluster with the vmcp
 * CRDs installed (from deploy/crds/, what `deno task crds` writes) and a KubeClient.
 */
import YAML from "yaml";
import { type KubeCluster, kubeRequest } from "../harness/kube.ts";
import {
  createKubeClient,
  type KubeClient,
  type KubeObject,
} from "../../controller/runtime/kube.ts";
import { CRD_API_VERSION } from "../../controller/meta.ts";

const GENERATED = new URL("../../deploy/crds/", import.meta.url);

/** Applies every generated CRD and waits until each is Established and served. */
export async function installCrds(cluster: KubeCluster): Promise<void> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(GENERATED)) {
    if (!entry.name.endsWith(".yaml")) continue;
    const crd = YAML.parse(await Deno.readTextFile(new URL(entry.name, GENERATED))) as KubeObject;
    const name = crd.metadata!.name!;
    names.push(name);
    await kubeRequest(
      cluster,
      "PATCH",
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}?fieldManager=vmcp-test&force=true`,
      crd,
      { contentType: "application/apply-patch+yaml" },
    );
  }
  const deadline = Date.now() + 30_000;
  for (const name of names) {
    for (;;) {
      const crd = await kubeRequest<
        KubeObject & { status?: { conditions?: { type: string; status: string }[] } }
      >(
        cluster,
        "GET",
        `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`,
      );
      if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) {
        break;
      }
      if (Date.now() > deadline) throw new Error(`CRD ${name} not Established within 30s`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  // Discovery can lag behind Established.
  for (;;) {
    try {
      await kubeRequest(cluster, "GET", `/apis/${CRD_API_VERSION}/virtualmcpservers`);
      await kubeRequest(
        cluster,
        "GET",
        `/apis/${CRD_API_VERSION}/virtualmcpcompositetooldefinitions`,
      );
      return;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A KubeClient for the test cluster. */
export function testClient(cluster: KubeCluster, timeoutMs = 10_000): KubeClient {
  return createKubeClient({ kubeconfigPath: cluster.kubeconfigPath, requestTimeoutMs: timeoutMs });
}

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `Timed out after ${timeoutMs}ms waiting for ${what}${last ? `: ${last}` : ""}`,
      );
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export const GV = CRD_API_VERSION;

import assert from "node:assert/strict";
import { VirtualMCPServerSpecSchema } from "../../crds/virtualmcpserver.ts";
import type { KubeObject } from "../runtime/kube.ts";
import type { View } from "../view.ts";
import { computeConditions } from "./status.ts";
import { observeVmcp } from "./observe.ts";
import { authzConfigMapName, resolveAuthzConfigMap } from "./authz_configmap.ts";

function viewWith(objects: KubeObject[]): View {
  return {
    get: <T extends KubeObject>(t: { kind: string }, _ns: unknown, n: string) =>
      Promise.resolve(
        objects.find((o) => o.kind === t.kind && o.metadata?.name === n) as T | undefined,
      ),
    list: <T extends KubeObject>(t: { kind: string }) =>
      Promise.resolve(objects.filter((o) => o.kind === t.kind) as T[]),
  };
}

const authzFile = (policies: string[]) =>
  JSON.stringify({ version: "1.0", type: "cedarv1", cedar: { policies, entities_json: "[]" } });
const cm = (data: Record<string, string>): KubeObject =>
  ({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "policies", namespace: "ns" },
    data,
  }) as KubeObject;
const spec = VirtualMCPServerSpecSchema.parse({
  groupRef: { name: "g" },
  incomingAuth: {
    type: "anonymous",
    authzConfig: { type: "configMap", configMap: { name: "policies" } },
  },
});

Deno.test("authz ConfigMap: ToolHive's file is rendered as inline policies", async () => {
  assert.equal(authzConfigMapName(spec), "policies");
  const p = ['permit(principal, action == Action::"call_tool", resource == Tool::"echo");'];
  const out = await resolveAuthzConfigMap(
    viewWith([cm({ "authz.json": authzFile(p) })]),
    "ns",
    spec,
  );
  assert.deepEqual(out.problems, []);
  assert.deepEqual(out.spec.incomingAuth?.authzConfig, {
    type: "inline",
    inline: { policies: p, entitiesJson: "[]" },
  });
});

Deno.test("authz ConfigMap: missing, or a bad policy, makes AuthConfigured False saying why", async () => {
  const missing = await resolveAuthzConfigMap(viewWith([]), "ns", spec);
  assert.equal(missing.problems[0]!.path, "spec.incomingAuth.authzConfig.configMap.name");
  const bad = await resolveAuthzConfigMap(
    viewWith([cm({ "authz.json": authzFile(["permit(principal,\n action resource);"]) })]),
    "ns",
    spec,
  );
  assert.equal(bad.problems[0]!.path, "ConfigMap policies key authz.json: cedar.policies[0]");
  assert.match(bad.problems[0]!.message, /line 2, column 9/);

  const vmcp: KubeObject = {
    apiVersion: "toolhive.stacklok.dev/v1alpha1",
    kind: "VirtualMCPServer",
    metadata: { name: "v", namespace: "ns" },
    spec: {
      groupRef: { name: "g" },
      incomingAuth: {
        type: "anonymous",
        authzConfig: { type: "inline", inline: { policies: ["permit(principal,"] } },
      },
    },
  };
  const inputs = await observeVmcp(viewWith([vmcp]), vmcp);
  const auth = computeConditions({ ...inputs, name: "v", namespace: "ns" } as never)
    .find((c) => c.type === "AuthConfigured")!;
  assert.equal(auth.status, "False");
  assert.equal(auth.reason, "AuthInvalid");
  assert.match(auth.message!, /authzConfig\.inline\.policies\[0\].*line 1, column 18/);
});

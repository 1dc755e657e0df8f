import assert from "node:assert/strict";
import {
  buildClusterRbac,
  buildConfigMap,
  buildRbac,
  buildService,
  type Parent,
} from "./children.ts";
import { buildDeployment, deploymentAvailable } from "./deployment.ts";
import { checkPodTemplateSpec, merge } from "./pod_template.ts";
import { SecretEnvCollector } from "./secret_env.ts";

const parent: Parent = {
  apiVersion: "toolhive.stacklok.dev/v1alpha1",
  kind: "VirtualMCPServer",
  metadata: { name: "v", namespace: "ns", uid: "u-1" },
};

// deno-lint-ignore no-explicit-any
type Any = any;

Deno.test("buildRbac() grants the proxy only get on its own CR and patch/update on its status", () => {
  const [sa, role, rb] = buildRbac(parent) as Any[];
  assert.deepEqual([sa.kind, sa.metadata.name, role.metadata.name, rb.metadata.name], [
    "ServiceAccount",
    "v-vmcp",
    "v-vmcp",
    "v-vmcp",
  ]);
  assert.deepEqual(role.rules, [
    {
      apiGroups: ["toolhive.stacklok.dev"],
      resources: ["virtualmcpservers"],
      resourceNames: ["v"],
      verbs: ["get"],
    },
    {
      apiGroups: ["toolhive.stacklok.dev"],
      resources: ["virtualmcpservers/status"],
      resourceNames: ["v"],
      verbs: ["patch", "update"],
    },
  ]);
  assert.deepEqual(rb.subjects, [{ kind: "ServiceAccount", name: "v-vmcp", namespace: "ns" }]);
  for (const o of [sa, role, rb]) {
    assert.deepEqual(o.metadata.ownerReferences[0], {
      apiVersion: parent.apiVersion,
      kind: "VirtualMCPServer",
      name: "v",
      uid: "u-1",
      controller: true,
      blockOwnerDeletion: true,
    });
  }
});

Deno.test("buildClusterRbac() names TokenReview RBAC vmcp-<ns>-<name>-tokenreview and labels it with its owner instead of an ownerReference", () => {
  const [cr, crb] = buildClusterRbac(parent) as Any[];
  assert.equal(cr.metadata.name, "vmcp-ns-v-tokenreview");
  assert.deepEqual(cr.rules, [{
    apiGroups: ["authentication.k8s.io"],
    resources: ["tokenreviews"],
    verbs: ["create"],
  }]);
  assert.equal(crb.roleRef.name, "vmcp-ns-v-tokenreview");
  assert.equal(cr.metadata.ownerReferences, undefined);
  assert.equal(cr.metadata.labels["vmcp.toolhive.stacklok.dev/owner-namespace"], "ns");
  assert.equal(cr.metadata.labels["vmcp.toolhive.stacklok.dev/owner-name"], "v");
});

Deno.test("buildConfigMap() and buildService() use the fixed names, port 4483 named http and the service type", () => {
  const cm = buildConfigMap(parent, "name: v\n", "abc") as Any;
  assert.deepEqual([
    cm.metadata.name,
    cm.data["config.yaml"],
    cm.metadata.annotations["toolhive.stacklok.dev/content-checksum"],
  ], ["v-vmcp-config", "name: v\n", "abc"]);
  const svc = buildService(parent, "LoadBalancer") as Any;
  assert.deepEqual([
    svc.metadata.name,
    svc.spec.type,
    svc.spec.ports[0].name,
    svc.spec.ports[0].port,
  ], ["vmcp-v", "LoadBalancer", "http", 4483]);
});

Deno.test("buildDeployment() fills Secret env from secretKeyRef and merges a podTemplateSpec by container name without losing selector labels", () => {
  const env = new SecretEnvCollector();
  env.add(["github"], { name: "s", key: "k" });
  const d = buildDeployment({
    parent,
    image: "img",
    configChecksum: "sum",
    secretEnv: env.vars,
    replicas: 2,
    podTemplateSpec: {
      metadata: { labels: { app: "hijack", team: "x" } },
      spec: {
        containers: [{
          name: "vmcp",
          resources: { limits: { memory: "1Gi" } },
          env: [{ name: "EXTRA", value: "1" }],
        }],
      },
    },
  }) as Any;
  const c = d.spec.template.spec.containers;
  assert.equal(c.length, 1);
  assert.deepEqual(c[0].resources, {
    requests: { cpu: "100m", memory: "128Mi" },
    limits: { cpu: "500m", memory: "1Gi" },
  });
  assert.deepEqual(c[0].env.map((e: Any) => e.name), [
    "VMCP_NAME",
    "VMCP_NAMESPACE",
    "VMCP_SECRET_GITHUB",
    "EXTRA",
  ]);
  assert.deepEqual(c[0].env[2].valueFrom, { secretKeyRef: { name: "s", key: "k" } });
  assert.equal(d.spec.template.metadata.labels.app, "virtualmcpserver");
  assert.equal(d.spec.template.metadata.labels.team, "x");
  assert.equal(
    d.spec.template.metadata.annotations["toolhive.stacklok.dev/runconfig-checksum"],
    "sum",
  );
  assert.equal(d.spec.replicas, 2);
  assert.equal(
    "replicas" in
      (buildDeployment({ parent, image: "i", configChecksum: "s", secretEnv: [] }) as Any).spec,
    false,
  );
});

Deno.test("checkPodTemplateSpec() names the offending field for foreign containers, bad shapes and patch directives", () => {
  assert.deepEqual(checkPodTemplateSpec(undefined), []);
  assert.deepEqual(checkPodTemplateSpec({ spec: { containers: [{ name: "vmcp" }] } }), []);
  const paths = (x: unknown) => checkPodTemplateSpec(x).map((p) => p.path);
  assert.deepEqual(paths({ spec: { containers: [{ name: "side" }] } }), [
    "spec.podTemplateSpec.spec.containers[0].name",
  ]);
  assert.deepEqual(paths({ spec: { containers: "x" } }), ["spec.podTemplateSpec.spec.containers"]);
  assert.deepEqual(paths({ foo: 1 }), ["spec.podTemplateSpec.foo"]);
  assert.deepEqual(paths({ metadata: { labels: { a: 1 } } }), [
    "spec.podTemplateSpec.metadata.labels",
  ]);
  assert.deepEqual(paths({ spec: { volumes: [{ $patch: "delete", name: "x" }] } }), [
    "spec.podTemplateSpec.spec.volumes[0].$patch",
  ]);
  assert.deepEqual(paths({ spec: { volumes: [{ emptyDir: {} }] } }), [
    "spec.podTemplateSpec.spec.volumes",
  ]);
});

Deno.test("merge() merges keyed lists by key, replaces other lists and deletes on null", () => {
  assert.deepEqual(
    merge({ volumes: [{ name: "a", x: 1 }], args: ["1"] }, {
      volumes: [{ name: "a", y: 2 }, { name: "b" }],
      args: ["2"],
    }),
    {
      volumes: [{ name: "a", x: 1, y: 2 }, { name: "b" }],
      args: ["2"],
    },
  );
  assert.deepEqual(merge({ a: 1, b: 2 }, { b: null }), { a: 1 });
});

Deno.test("deploymentAvailable() needs the Available condition and an available replica", () => {
  assert.equal(deploymentAvailable(undefined), false);
  assert.equal(
    deploymentAvailable({
      status: { conditions: [{ type: "Available", status: "True" }], availableReplicas: 1 },
    }),
    true,
  );
  assert.equal(
    deploymentAvailable({
      status: { conditions: [{ type: "Available", status: "False" }], availableReplicas: 1 },
    }),
    false,
  );
});

Deno.test("SecretEnvCollector reuses a name for the same reference and suffixes a colliding different one", () => {
  const c = new SecretEnvCollector();
  assert.equal(c.add(["my-backend"], { name: "s", key: "k" }), "VMCP_SECRET_MY_BACKEND");
  assert.equal(c.add(["my-backend"], { name: "s", key: "k" }), "VMCP_SECRET_MY_BACKEND");
  assert.equal(c.add(["my_backend"], { name: "t", key: "k" }), "VMCP_SECRET_MY_BACKEND_2");
  assert.equal(c.vars.length, 2);
});

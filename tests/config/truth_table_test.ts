/**
 * One verdict everywhere (issue #15): every case goes to `vmcp validate` (its function, and
 * for two cases the real process), the proxy's start-up loader (`parseConfig`, what
 * proxy/main.ts calls; a real proxy process for two cases) and the controller's reconcile
 * inputs (`observeVmcp` → `renderProxyConfig` → `computeStatus`, the functions the reconcile
 * calls). All must agree, and a rejection must name the field path and the value.
 */
import assert from "node:assert/strict";
import YAML from "yaml";
import { validateFile } from "../../main.ts";
import { ConfigError } from "../../core/config/problems.ts";
import { parseConfig } from "../../core/config/load.ts";
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { observeVmcp } from "../../controller/vmcp/observe.ts";
import { computeStatus } from "../../controller/vmcp/status.ts";
import type { View } from "../../controller/view.ts";
import type { KubeObject } from "../../controller/runtime/kube.ts";
import { CASES, type TruthCase } from "./truth_table_cases.ts";

const GV = "toolhive.stacklok.dev/v1alpha1";
const NS = "ns";

/** The standalone config of a case (one HTTP backend named "one"). */
export function standaloneConfig(c: TruthCase): Record<string, unknown> {
  return {
    name: "v",
    groupRef: { name: "g" },
    backends: [{ name: "one", url: "http://127.0.0.1:9/mcp" }],
    ...c.config,
  };
}

/** A namespace holding a Ready group "g", its MCPServer "one", a Secret and the CR. */
function fakeView(spec: Record<string, unknown>): { view: View; vmcp: KubeObject } {
  const vmcp: KubeObject = {
    apiVersion: GV,
    kind: "VirtualMCPServer",
    metadata: { name: "v", namespace: NS, generation: 1 },
    spec: { groupRef: { name: "g" }, ...spec },
  };
  const objects: KubeObject[] = [
    vmcp,
    {
      apiVersion: GV,
      kind: "MCPGroup",
      metadata: { name: "g", namespace: NS },
      spec: {},
      status: { phase: "Ready" },
    } as KubeObject,
    {
      apiVersion: GV,
      kind: "MCPServer",
      metadata: { name: "one", namespace: NS },
      spec: { groupRef: { name: "g" }, url: "http://one.example.test:8080/mcp" },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "cache", namespace: NS },
      data: { k: btoa("x".repeat(32)) },
    } as KubeObject,
  ];
  const match = (t: { apiVersion: string; kind: string }, o: KubeObject) =>
    o.apiVersion === t.apiVersion && o.kind === t.kind;
  const view: View = {
    get: <T extends KubeObject>(t: { apiVersion: string; kind: string }, _ns: unknown, n: string) =>
      Promise.resolve(objects.find((o) => match(t, o) && o.metadata?.name === n) as T | undefined),
    list: <T extends KubeObject>(t: { apiVersion: string; kind: string }) =>
      Promise.resolve(objects.filter((o) => match(t, o)) as T[]),
  };
  return { view, vmcp };
}

interface Verdict {
  valid: boolean;
  /** Every problem as one line each: `path: message (got value)`. */
  text: string;
  config?: VmcpConfig;
}

async function viaValidate(file: string): Promise<Verdict> {
  const r = await validateFile(file);
  return { valid: r.code === 0, text: r.text };
}

function viaProxyLoader(text: string, file: string): Verdict {
  try {
    return { valid: true, text: "", config: parseConfig(text, { source: file }) };
  } catch (e) {
    assert.ok(e instanceof ConfigError, `the loader throws a ConfigError, got ${e}`);
    return { valid: false, text: e.message };
  }
}

async function viaController(
  c: TruthCase,
): Promise<Verdict & { phase: string; ready: string; rendered?: Record<string, unknown> }> {
  const { view, vmcp } = fakeView(c.spec ?? c.config);
  const inputs = await observeVmcp(view, vmcp);
  const status = computeStatus({
    name: "v",
    namespace: NS,
    generation: 1,
    now: new Date(0).toISOString(),
    groupName: inputs.groupName,
    group: inputs.group,
    configProblems: inputs.configProblems,
    podTemplateProblems: inputs.podTemplateProblems,
    authProblems: inputs.authProblems,
    anonymous: inputs.anonymous,
    compositeProblems: inputs.compositeProblems,
    compositeReason: inputs.compositeReason,
    backendNames: inputs.render ? inputs.servers.map((s) => s.name) : undefined,
    deploymentAvailable: true,
  });
  const problems = [
    ...inputs.configProblems,
    ...inputs.authProblems,
    ...inputs.compositeProblems,
  ];
  const ready = status.conditions.find((x) => x.type === "Ready");
  return {
    valid: problems.length === 0,
    text: problems.map((p) =>
      `${p.path}: ${p.message}${p.value === undefined ? "" : ` (got ${JSON.stringify(p.value)})`}`
    ).join("\n"),
    phase: status.phase,
    ready: `${ready?.status}/${ready?.reason}`,
    ...(inputs.render ? { rendered: inputs.render.config } : {}),
  };
}

/** The problem line naming `path` (and `value`, when the case has one). */
function assertNamed(where: string, text: string, path: string, c: TruthCase): void {
  const line = text.split("\n").find((l) => l.startsWith(`${path}:`));
  assert.ok(line, `${c.name}: ${where} names ${path}; it said:\n${text}`);
  if (c.value !== undefined) {
    assert.ok(
      line.includes(`(got ${JSON.stringify(c.value)})`),
      `${c.name}: ${where} names the value ${JSON.stringify(c.value)}: ${line}`,
    );
  }
  if (c.message) assert.match(line, c.message, `${c.name}: ${where}`);
}

const dir = await Deno.makeTempDir({ prefix: "vmcp-truth-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

for (const c of CASES) {
  const verdict = !c.path
    ? "validate, the proxy loader and the controller all say valid"
    : c.inCluster
    ? `validate and the proxy loader say invalid at ${c.path}; the controller renders a valid config`
    : `validate, the proxy loader and the controller all say invalid at ${c.path}`;
  Deno.test(`${c.name}: ${verdict}`, async () => {
    const file = `${dir}/${c.name.replace(/[^a-z0-9]+/gi, "_")}.yaml`;
    const text = YAML.stringify(standaloneConfig(c));
    await Deno.writeTextFile(file, text);
    const validate = await viaValidate(file);
    const proxy = viaProxyLoader(text, file);
    const controller = await viaController(c);
    const want = c.path === undefined;
    assert.equal(validate.valid, want, `${c.name}: validate\n${validate.text}`);
    assert.equal(proxy.valid, want, `${c.name}: proxy loader\n${proxy.text}`);
    if (c.inCluster) {
      assert.equal(controller.valid, true, `${c.name}: controller\n${controller.text}`);
      c.inCluster.check(controller.rendered!);
      const inPod = viaProxyLoader(YAML.stringify(controller.rendered), "rendered");
      assert.equal(inPod.valid, true, `${c.name}: the rendered config loads\n${inPod.text}`);
    } else {
      assert.equal(controller.valid, want, `${c.name}: controller\n${controller.text}`);
    }
    if (want) {
      assert.equal(controller.phase === "Failed", false, `${c.name}: phase ${controller.phase}`);
      c.check?.(proxy.config!);
      return;
    }
    assertNamed("validate", validate.text, c.path!, c);
    assertNamed("the proxy loader", proxy.text, c.path!, c);
    if (c.inCluster) return;
    assertNamed("the controller", controller.text, `spec.${c.specPath ?? c.path}`, c);
    assert.equal(controller.phase, "Failed", `${c.name}: controller phase`);
    assert.equal(controller.ready, "False/InvalidConfiguration", `${c.name}: Ready condition`);
  });
}

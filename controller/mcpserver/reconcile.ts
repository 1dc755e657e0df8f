/**
 * The MCPServer reconciler: a url server is Ready at its url; an image server gets a
 * Deployment + Service `mcp-<name>` and is Ready when the Deployment is available.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { formatProblems, type Problem, problemsFromZod } from "../../core/config/problems.ts";
import { MCPServerSpecSchema } from "../../crds/backends.ts";
import type { Condition } from "../../crds/common.ts";
import { type KubeApi, KubeApiError, type KubeObject } from "../runtime/kube.ts";
import type { HandlerResult } from "../runtime/queue.ts";
import { applyIfChanged } from "../apply.ts";
import { type ConditionInput, mergeConditions, sameConditions, timeString } from "../conditions.ts";
import { DEFAULT_PROXY_IMAGE, FIELD_MANAGER, mcpServerWorkloadName, splitKey } from "../meta.ts";
import { TYPES, type View } from "../view.ts";
import { deploymentAvailable } from "../vmcp/deployment.ts";
import { mcpServerEndpoint } from "./backend.ts";
import { buildServerWorkload, checkWorkload } from "./workload.ts";

export interface ServerReconcilerOptions {
  kube: KubeApi;
  view: View;
  clock: Clock;
  logger: Logger;
  /** The vmcp image (stdio bridge init container). */
  proxyImage?: string | undefined;
}

interface ServerStatus {
  phase: "Pending" | "Ready" | "Failed";
  url?: string;
  message: string;
  conditions: Condition[];
  observedGeneration?: number;
}

interface ServerObject extends KubeObject {
  status?: Partial<ServerStatus>;
}

/** Reconciles the MCPServer `namespace/name`. */
export async function reconcileMCPServer(
  opts: ServerReconcilerOptions,
  key: string,
  signal?: AbortSignal,
): Promise<HandlerResult> {
  const { namespace, name } = splitKey(key);
  const server = await opts.view.get<ServerObject>(TYPES.server, namespace, name);
  if (!server || server.metadata?.deletionTimestamp) return;
  const log = opts.logger.with({ kind: "MCPServer", namespace, name });
  const parsed = MCPServerSpecSchema.safeParse(server.spec ?? {});
  const problems: Problem[] = parsed.success
    ? checkWorkload(parsed.data)
    : problemsFromZod(parsed.error, server.spec, ["spec"]);
  let url: string | undefined;
  let ready = false;
  let waiting = "";
  if (!problems.length && parsed.success) {
    const spec = parsed.data;
    url = mcpServerEndpoint(name, namespace, spec).url;
    if (spec.url) ready = true;
    else {
      let deployment: KubeObject | undefined;
      for (
        const child of buildServerWorkload(server, spec, opts.proxyImage ?? DEFAULT_PROXY_IMAGE)
      ) {
        const live = await opts.view.get(
          { apiVersion: child.apiVersion!, kind: child.kind! },
          namespace,
          child.metadata!.name!,
        );
        try {
          const res = await applyIfChanged(opts.kube, child, live, signal);
          if (res.changed) log.info(`Applied ${child.kind}`, { child: child.metadata!.name });
          if (child.kind === "Deployment") deployment = res.object;
        } catch (err) {
          if (
            !(err instanceof KubeApiError && (err.status === 422 || err.status === 400))
          ) throw err;
          problems.push({
            path: `${child.kind} ${child.metadata!.name}`,
            message: `Rejected by the API server: ${err.apiMessage}`,
          });
        }
      }
      ready = deploymentAvailable(deployment);
      waiting = `Deployment "${mcpServerWorkloadName(name)}" has no available replica yet`;
    }
  }
  const computed: ConditionInput = problems.length
    ? { type: "Ready", status: "False", reason: "InvalidSpec", message: formatProblems(problems) }
    : ready
    ? { type: "Ready", status: "True", reason: "ServerReady", message: `Reachable at ${url}` }
    : { type: "Ready", status: "False", reason: "DeploymentNotReady", message: waiting };
  const generation = server.metadata?.generation;
  const status: ServerStatus = {
    phase: problems.length ? "Failed" : ready ? "Ready" : "Pending",
    message: computed.message,
    conditions: mergeConditions(
      server.status?.conditions,
      [computed],
      timeString(opts.clock.now()),
      generation,
    ),
  };
  if (url) status.url = url;
  if (generation !== undefined) status.observedGeneration = generation;
  const s = server.status ?? {};
  if (
    s.phase === status.phase && s.url === status.url && s.message === status.message &&
    s.observedGeneration === status.observedGeneration &&
    sameConditions(s.conditions, status.conditions)
  ) return;
  await opts.kube.applyStatus({
    apiVersion: TYPES.server.apiVersion,
    kind: TYPES.server.kind,
    metadata: { name, namespace },
    status,
  }, { fieldManager: FIELD_MANAGER, force: true, ...(signal ? { signal } : {}) });
  if (s.phase !== status.phase) {
    log.info("Changed phase", { from: s.phase ?? "(none)", to: status.phase });
    await opts.kube.createEvent(server, {
      type: status.phase === "Failed" ? "Warning" : "Normal",
      reason: `Phase${status.phase}`,
      message: status.message.slice(0, 1000),
    });
  }
}

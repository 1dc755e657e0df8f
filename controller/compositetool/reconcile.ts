/**
 * The VirtualMCPCompositeToolDefinition reconciler: validates the workflow (every problem
 * with its field path) and lists the VirtualMCPServers that reference it.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { validateCompositeTool } from "../../core/composite/validate.ts";
import { CompositeToolConditions as CT } from "../../crds/composite_tool.ts";
import type { Condition } from "../../crds/common.ts";
import type { KubeApi, KubeObject } from "../runtime/kube.ts";
import type { HandlerResult } from "../runtime/queue.ts";
import { mergeConditions, sameConditions, timeString } from "../conditions.ts";
import { FIELD_MANAGER, splitKey } from "../meta.ts";
import { TYPES, type View } from "../view.ts";
import { describeProblem, failureReason } from "./describe.ts";

export interface CompositeReconcilerOptions {
  kube: KubeApi;
  view: View;
  clock: Clock;
  logger: Logger;
}

interface DefStatus {
  validationStatus: "Valid" | "Invalid";
  validationErrors: string[];
  referencingVirtualServers: string[];
  observedGeneration?: number;
  conditions: Condition[];
}

/** Names of VirtualMCPServers in `namespace` whose compositeToolRefs name `name`. */
export async function referencingServers(
  view: View,
  namespace: string,
  name: string,
): Promise<string[]> {
  return (await view.list(TYPES.vmcp, namespace))
    .filter((v) =>
      ((v.spec as { compositeToolRefs?: { name: string }[] })?.compositeToolRefs ?? []).some((r) =>
        r.name === name
      )
    )
    .map((v) => v.metadata?.name ?? "")
    .sort();
}

/** Reconciles the definition `namespace/name`. */
export async function reconcileCompositeToolDefinition(
  opts: CompositeReconcilerOptions,
  key: string,
  signal?: AbortSignal,
): Promise<HandlerResult> {
  const { namespace, name } = splitKey(key);
  const def = await opts.view.get<KubeObject & { status?: Partial<DefStatus> }>(
    TYPES.compositeDef,
    namespace,
    name,
  );
  if (!def || def.metadata?.deletionTimestamp) return;
  const problems = validateCompositeTool(def.spec ?? {});
  const errors = problems.map((p) => describeProblem(def.spec, p));
  const valid = errors.length === 0;
  const generation = def.metadata?.generation;
  const conditions = mergeConditions(
    def.status?.conditions,
    [
      {
        type: CT.types.WorkflowValidated,
        status: valid ? "True" : "False",
        reason: valid ? CT.reasons.ValidationSuccess : failureReason(problems),
        message: valid ? "The workflow is valid" : errors.join("\n"),
      },
      {
        type: CT.types.Ready,
        status: valid ? "True" : "False",
        reason: valid ? CT.reasons.WorkflowReady : CT.reasons.WorkflowNotReady,
        message: valid ? "Ready to be referenced" : `${errors.length} validation error(s)`,
      },
    ],
    timeString(opts.clock.now()),
    generation,
  );
  const status: DefStatus = {
    validationStatus: valid ? "Valid" : "Invalid",
    validationErrors: errors,
    referencingVirtualServers: await referencingServers(opts.view, namespace, name),
    conditions,
  };
  if (generation !== undefined) status.observedGeneration = generation;
  const s = def.status ?? {};
  if (
    s.validationStatus === status.validationStatus &&
    JSON.stringify(s.validationErrors ?? []) === JSON.stringify(errors) &&
    JSON.stringify(s.referencingVirtualServers ?? []) ===
      JSON.stringify(status.referencingVirtualServers) &&
    s.observedGeneration === status.observedGeneration && sameConditions(s.conditions, conditions)
  ) return;
  await opts.kube.applyStatus({
    apiVersion: TYPES.compositeDef.apiVersion,
    kind: TYPES.compositeDef.kind,
    metadata: { name, namespace },
    status,
  }, { fieldManager: FIELD_MANAGER, force: true, ...(signal ? { signal } : {}) });
  if (s.validationStatus !== status.validationStatus) {
    opts.logger.info("Validated composite tool definition", {
      namespace,
      name,
      result: status.validationStatus,
    });
    await opts.kube.createEvent(def, {
      type: valid ? "Normal" : "Warning",
      reason: valid ? CT.reasons.ValidationSuccess : CT.reasons.ValidationFailed,
      message: valid ? "The workflow is valid" : errors.join("; ").slice(0, 1000),
    });
  }
}

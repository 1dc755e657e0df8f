/**
 * The MCPGroup reconciler: the group is Ready when it exists and every member MCPServer
 * (a server whose `spec.groupRef.name` names the group) has a valid spec. The status lists
 * the members. Members join through their own groupRef; the group owns nothing.
 * @module
 */
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { formatProblems } from "../../core/config/problems.ts";
import type { Condition } from "../../crds/common.ts";
import type { KubeApi, KubeObject } from "../runtime/kube.ts";
import type { HandlerResult } from "../runtime/queue.ts";
import { mergeConditions, sameConditions, timeString } from "../conditions.ts";
import { FIELD_MANAGER, splitKey } from "../meta.ts";
import { TYPES, type View } from "../view.ts";
import { groupMembers } from "../vmcp/observe.ts";

export interface GroupReconcilerOptions {
  kube: KubeApi;
  view: View;
  clock: Clock;
  logger: Logger;
}

interface GroupStatus {
  phase: "Ready" | "Failed";
  servers: string[];
  serverCount: number;
  conditions: Condition[];
  observedGeneration?: number;
}

interface GroupObject extends KubeObject {
  status?: Partial<GroupStatus>;
}

/** Computes the group's status from its members (pure). */
export function computeGroupStatus(input: {
  members: string[];
  problems: { path: string; message: string; value?: unknown }[];
  previous?: Condition[] | undefined;
  generation?: number | undefined;
  now: string;
}): GroupStatus {
  const ok = input.problems.length === 0;
  const conditions = mergeConditions(
    input.previous,
    [{
      type: "MCPServersChecked",
      status: ok ? "True" : "False",
      reason: ok ? "AllServersValid" : "InvalidServers",
      message: ok ? `${input.members.length} member server(s)` : formatProblems(input.problems),
    }],
    input.now,
    input.generation,
  );
  const out: GroupStatus = {
    phase: ok ? "Ready" : "Failed",
    servers: [...input.members].sort(),
    serverCount: input.members.length,
    conditions,
  };
  if (input.generation !== undefined) out.observedGeneration = input.generation;
  return out;
}

function same(a: Partial<GroupStatus> | undefined, b: GroupStatus): boolean {
  return !!a && a.phase === b.phase && a.serverCount === b.serverCount &&
    a.observedGeneration === b.observedGeneration &&
    JSON.stringify(a.servers ?? []) === JSON.stringify(b.servers) &&
    sameConditions(a.conditions, b.conditions);
}

/** Reconciles the MCPGroup `namespace/name`. */
export async function reconcileMCPGroup(
  opts: GroupReconcilerOptions,
  key: string,
  signal?: AbortSignal,
): Promise<HandlerResult> {
  const { namespace, name } = splitKey(key);
  const group = await opts.view.get<GroupObject>(TYPES.group, namespace, name);
  if (!group || group.metadata?.deletionTimestamp) return;
  const { problems } = await groupMembers(opts.view, namespace, name);
  const all = (await opts.view.list(TYPES.server, namespace))
    .filter((s) => (s.spec as { groupRef?: { name?: string } })?.groupRef?.name === name)
    .map((s) => s.metadata?.name ?? "");
  const status = computeGroupStatus({
    members: all,
    problems,
    previous: group.status?.conditions,
    generation: group.metadata?.generation,
    now: timeString(opts.clock.now()),
  });
  if (same(group.status, status)) return;
  await opts.kube.applyStatus({
    apiVersion: TYPES.group.apiVersion,
    kind: TYPES.group.kind,
    metadata: { name, namespace },
    status,
  }, { fieldManager: FIELD_MANAGER, force: true, ...(signal ? { signal } : {}) });
  if (group.status?.phase !== status.phase) {
    opts.logger.info("Changed phase", { kind: "MCPGroup", namespace, name, to: status.phase });
    await opts.kube.createEvent(group, {
      type: status.phase === "Ready" ? "Normal" : "Warning",
      reason: `Phase${status.phase}`,
      message: status.conditions[0]!.message ?? status.phase,
    });
  }
}

/**
 * Shared helpers of the composite-tool integration tests: a real proxy with composite tools
 * served, real HTTP test backends, and small builders.
 * @module
 */
import type { VmcpConfig, VmcpConfigInput } from "../../crds/vmcp_config.ts";
import type { CompositeToolSpecInput } from "../../crds/composite_tool.ts";
import { silentLogger } from "../../core/log.ts";
import { CompositeToolRegistry } from "../../proxy/composite/registry.ts";
import type { RunningProxy } from "../../proxy/serve.ts";
import {
  type ServedBackend,
  serveHttpBackend,
  type ServeHttpOptions,
  type TestTool,
} from "../fixtures/mod.ts";
import { text } from "../fixtures/backend_tools.ts";
import { config, connect, type Connected, proxy } from "../proxy/helpers.ts";

export { config, connect, type Connected, PATIENCE_MS, waitFor } from "../proxy/helpers.ts";

export interface CompositeSetup {
  proxy: RunningProxy;
  backends: Record<string, ServedBackend>;
  /** The registry serving the composite tools (the runtime's own once it has the hook). */
  registry: CompositeToolRegistry;
  client: Connected["client"];
  connected: Connected;
  /** Connects another client (closed by `close`). */
  connect(capabilities?: Parameters<typeof connect>[1]): Promise<Connected>;
  close(): Promise<void>;
}

interface RuntimeWithHook {
  composites?: CompositeToolRegistry;
}

/**
 * Serves composite tools on a running proxy. Uses the runtime's own registry when it has the
 * `composites` hook; otherwise syncs a registry here and rebuilds the lists.
 */
export function serveComposites(p: RunningProxy): CompositeToolRegistry {
  const own = (p.runtime as unknown as RuntimeWithHook).composites;
  if (own) return own;
  const registry = new CompositeToolRegistry(silentLogger);
  registry.sync(p.runtime.config, p.runtime.fullView, p.runtime.extraTools);
  p.runtime.recompute();
  return registry;
}

/**
 * Starts HTTP backends (by name), a proxy over them with `compositeTools`, and one client.
 */
export async function setup(opts: {
  backends: (Omit<ServeHttpOptions, "name"> & { name: string })[];
  compositeTools: CompositeToolSpecInput[];
  aggregation?: VmcpConfigInput["aggregation"];
  operational?: VmcpConfigInput["operational"];
  capabilities?: Parameters<typeof connect>[1];
}): Promise<CompositeSetup> {
  const backends: Record<string, ServedBackend> = {};
  for (const b of opts.backends) backends[b.name] = await serveHttpBackend(b);
  const cfg: VmcpConfig = config({
    backends: opts.backends.map((b) => ({ name: b.name, url: backends[b.name]!.url })),
    compositeTools: opts.compositeTools,
    ...(opts.aggregation ? { aggregation: opts.aggregation } : {}),
    ...(opts.operational ? { operational: opts.operational } : {}),
  });
  const p = await proxy(cfg);
  const registry = serveComposites(p);
  const clients: Connected[] = [];
  const open = async (capabilities?: Parameters<typeof connect>[1]) => {
    const c = await connect(p.url, capabilities ?? {});
    clients.push(c);
    return c;
  };
  const connected = await open(opts.capabilities);
  return {
    proxy: p,
    backends,
    registry,
    client: connected.client,
    connected,
    connect: open,
    close: async () => {
      for (const c of clients) await c.close().catch(() => {});
      await p.stop();
      for (const b of Object.values(backends)) await b.stop();
    },
  };
}

/** A `slow` step: sleeps `ms` on backend `backend` (default alpha), in one progress step. */
export function slowStep(id: string, ms: number, dependsOn: string[] = [], backend = "alpha") {
  return {
    id,
    tool: `${backend}_slow`,
    arguments: { ms, steps: 1 },
    ...(dependsOn.length ? { dependsOn } : {}),
  };
}

/** The text of a result's first content item. */
export function textOf(result: unknown): string {
  const content = (result as { content?: unknown } | undefined)?.content;
  const first = (content as { type: string; text?: string }[] | undefined)?.[0];
  return first?.type === "text" ? first.text ?? "" : "";
}

/**
 * A `meet` tool for proving schedules without timing: a call with `{ key, wait }` marks `key`
 * as started, then returns only once every key in `wait` (comma-separated) has been marked.
 * Steps that wait for each other can only all finish if they were all in flight at once; a
 * schedule that runs them one after the other deadlocks (and hits the workflow timeout).
 * Honours cancellation. `started()` lists the marked keys in order.
 */
export function meetTool(): TestTool & { started(): string[] } {
  const marked: string[] = [];
  const waiters = new Set<() => void>();
  return {
    name: "meet",
    description: "Marks `key`, then waits until every key in `wait` is marked",
    inputSchema: {
      type: "object",
      properties: { key: { type: "string" }, wait: { type: "string" } },
      required: ["key"],
    },
    started: () => [...marked],
    handler: async (args, { extra }) => {
      const key = String(args.key);
      const wait = String(args.wait ?? "").split(",").filter(Boolean);
      marked.push(key);
      for (const w of waiters) w();
      const signal = extra.signal;
      while (!wait.every((k) => marked.includes(k))) {
        await new Promise<void>((resolve, reject) => {
          if (signal.aborted) return reject(signal.reason);
          const wake = () => {
            waiters.delete(wake);
            signal.removeEventListener("abort", wake);
            if (signal.aborted) reject(signal.reason);
            else resolve();
          };
          waiters.add(wake);
          signal.addEventListener("abort", wake, { once: true });
        });
      }
      return text(`${key} met ${wait.join(",") || "nobody"}`, { key });
    },
  };
}

/** A `meet` step (see `meetTool`) on backend `backend` (default alpha). */
export function meetStep(
  id: string,
  wait: string[] = [],
  dependsOn: string[] = [],
  backend = "alpha",
) {
  return {
    id,
    tool: `${backend}_meet`,
    arguments: { key: id, wait: wait.join(",") },
    ...(dependsOn.length ? { dependsOn } : {}),
  };
}

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
import { type ServedBackend, serveHttpBackend, type ServeHttpOptions } from "../fixtures/mod.ts";
import { config, connect, type Connected, proxy } from "../proxy/helpers.ts";

export { config, connect, type Connected, waitFor } from "../proxy/helpers.ts";

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

/**
 * The optimizer a config asks for (`optimizer`, crds/optimizer.ts): built at start and again on
 * a reload that changes the block; absent without it (the default: clients see every tool).
 * @module
 */
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import { optimizerSettings } from "../../crds/optimizer.ts";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/log.ts";
import { OptimizerTools } from "./meta_tools.ts";
import { ToolSearch } from "./tool_search.ts";

export interface OptimizerDeps {
  log: Logger;
  clock?: Clock;
  /** @default Deno.env.get */
  env?: (name: string) => string | undefined;
}

/**
 * The optimizer of `config`: `previous` when its settings are the same, a new one when they
 * changed (the caller closes the previous one), undefined when off. Throws when
 * `embeddingApiKeyEnv` names an unset variable.
 */
export function optimizerFromConfig(
  config: VmcpConfig,
  previous: OptimizerTools | undefined,
  deps: OptimizerDeps,
): OptimizerTools | undefined {
  const o = config.optimizer;
  if (!o) return undefined;
  const settings = optimizerSettings(o);
  if (previous && JSON.stringify(previous.search.settings) === JSON.stringify(settings)) {
    return previous;
  }
  return new OptimizerTools(
    new ToolSearch(settings, {
      log: deps.log,
      ...(deps.clock ? { clock: deps.clock } : {}),
      ...(deps.env ? { env: deps.env } : {}),
    }),
  );
}

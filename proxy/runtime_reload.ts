/**
 * What a hot reload (`ProxyRuntime.applyConfig`) decides before it touches the backends: which
 * changed settings only take effect on restart (warned), whether the health settings changed,
 * and the tool search (`optimizer`) to use from now on.
 * @module
 */
import type { VmcpConfig } from "../crds/vmcp_config.ts";
import type { Clock } from "../core/clock.ts";
import type { Logger } from "../core/log.ts";
import { optimizerFromConfig } from "./optimizer/from_config.ts";
import type { OptimizerTools } from "./optimizer/meta_tools.ts";

/** Warns about changed settings the proxy keeps until restarted (inputRequired, telemetry). */
export function warnRestartOnlyChanges(log: Logger, prev: VmcpConfig, next: VmcpConfig): void {
  if (
    JSON.stringify(next.operational?.inputRequired) !==
      JSON.stringify(prev.operational?.inputRequired)
  ) {
    log.warn(
      "operational.inputRequired changed; the proxy keeps the settings it started with until restarted",
    );
  }
  if (JSON.stringify(next.telemetry) !== JSON.stringify(prev.telemetry)) {
    log.warn("telemetry changed; the proxy keeps the settings it started with until restarted");
  }
}

/** True when the backends' health settings (`operational.failureHandling`) changed. */
export function healthSettingsChanged(prev: VmcpConfig, next: VmcpConfig): boolean {
  return JSON.stringify(next.operational?.failureHandling) !==
    JSON.stringify(prev.operational?.failureHandling);
}

/**
 * The tool search `config` asks for: `current` when its settings did not change, or when the
 * new ones cannot be applied (logged; the previous ones stay).
 */
export function reloadedOptimizer(
  config: VmcpConfig,
  current: OptimizerTools | undefined,
  log: Logger,
  clock: Clock,
): OptimizerTools | undefined {
  try {
    return optimizerFromConfig(config, current, { log, clock });
  } catch (err) {
    log.error("optimizer settings not applied; the previous ones stay", {
      error: err instanceof Error ? err.message : String(err),
    });
    return current;
  }
}

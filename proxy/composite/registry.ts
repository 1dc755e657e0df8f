/**
 * Keeps the runtime's extra tools in step with the config's composite tools and the current
 * view: rebuilt on every view change (a step tool that appears or disappears with its backend
 * makes the composite tool appear or disappear), problems logged once per change. The view is
 * the FULL one, so a composite tool stays registered while a backend it calls is unhealthy;
 * the runtime leaves it out of `tools/list` then (its `ExtraTool.backends`, see `backends.ts`).
 *
 * Runtime hook (in `ProxyRuntime.recompute()`, after `fullView` is set, before the lists):
 * `this.composites.sync(this.config, this.fullView, this.extraTools);`
 * @module
 */
import type { AggregatedView } from "../../core/aggregation/mod.ts";
import type { Problem } from "../../core/config/problems.ts";
import type { Logger } from "../../core/log.ts";
import type { VmcpConfig } from "../../crds/vmcp_config.ts";
import type { ExtraTool } from "../router_state.ts";
import { buildCompositeTools } from "./tools.ts";

export class CompositeToolRegistry {
  readonly #log: Logger;
  /** Names this registry put into the target map. */
  #owned = new Set<string>();
  #reported = "[]";
  /** Problems of the last sync (empty: every composite tool is served). */
  problems: Problem[] = [];

  constructor(log: Logger) {
    this.#log = log;
  }

  /** Names of the composite tools currently served. */
  get served(): string[] {
    return [...this.#owned].sort();
  }

  /**
   * Rebuilds the composite tools for `config` against `view` and updates `target` in place:
   * adds or replaces the valid ones, removes the ones it added before that are gone now.
   * Entries it did not add are left alone (a composite tool never replaces them).
   * @returns true when the set of served names changed
   */
  sync(config: VmcpConfig, view: AggregatedView, target: Map<string, ExtraTool>): boolean {
    if (!config.compositeTools?.length && this.#owned.size === 0 && this.problems.length === 0) {
      return false;
    }
    const built = buildCompositeTools(config, view, this.#log);
    const problems = [...built.problems];
    for (const [name, tool] of [...built.tools]) {
      if (target.has(name) && !this.#owned.has(name)) {
        built.tools.delete(name);
        const i = (config.compositeTools ?? []).findIndex((d) => d.name === name);
        problems.push({
          path: `compositeTools[${i}].name`,
          message: `"${name}" is already served by the proxy itself; choose another name`,
          value: name,
        });
        continue;
      }
      target.set(name, tool);
    }
    let changed = false;
    for (const name of this.#owned) {
      if (!built.tools.has(name)) {
        target.delete(name);
        changed = true;
      }
    }
    const next = new Set(built.tools.keys());
    if (!changed) changed = [...next].some((n) => !this.#owned.has(n));
    this.#owned = next;
    this.#report(problems);
    return changed;
  }

  #report(problems: Problem[]): void {
    this.problems = problems;
    const signature = JSON.stringify(problems);
    if (signature === this.#reported) return;
    this.#reported = signature;
    for (const p of problems) {
      this.#log.warn("composite tool not served", { path: p.path, problem: p.message });
    }
    if (problems.length === 0) {
      this.#log.info("composite tools served", { tools: this.served });
    }
  }
}

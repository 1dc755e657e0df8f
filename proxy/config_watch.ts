/**
 * Config hot reload: watches the config file's DIRECTORY (so a Kubernetes ConfigMap mount's
 * `..data` symlink swap is seen as well as in-place edits), re-reads the file after a short
 * quiet period, and hands a valid new config to `apply`. An invalid file is logged with all
 * its problems and the running config is kept.
 * @module
 */
import { dirname, resolve } from "node:path";
import type { VmcpConfig } from "../crds/vmcp_config.ts";
import { parseConfig } from "../core/config/load.ts";
import { ConfigError } from "../core/config/problems.ts";
import type { Logger } from "../core/log.ts";
import { describeError } from "./backends/errors.ts";

export interface WatchOptions {
  path: string;
  log: Logger;
  apply(config: VmcpConfig): Promise<void>;
  /** Post-process a parsed config (e.g. the demo's working directory). */
  transform?: (config: VmcpConfig) => VmcpConfig;
  /** Quiet period before re-reading. @default 150 */
  debounceMs?: number;
  /** Called after each reload attempt (tests). */
  onReload?: (outcome: "applied" | "unchanged" | "invalid" | "error") => void;
}

/** Starts watching; `close()` stops. */
export function watchConfig(opts: WatchOptions, initialText?: string): { close(): void } {
  const file = resolve(opts.path);
  const watcher = Deno.watchFs(dirname(file), { recursive: false });
  let last = initialText;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = Promise.resolve();

  const reload = async () => {
    let text: string;
    try {
      text = await Deno.readTextFile(file);
    } catch (err) {
      opts.log.warn("config reload: cannot read the file; keeping the running config", {
        path: file,
        error: describeError(err),
      });
      return opts.onReload?.("error");
    }
    if (text === last) return opts.onReload?.("unchanged");
    let config: VmcpConfig;
    try {
      config = parseConfig(text, { source: file });
    } catch (err) {
      last = text;
      const problems = err instanceof ConfigError
        ? err.problems
        : [{ path: "(file)", message: describeError(err) }];
      opts.log.error("config reload: the new config is invalid; keeping the running config", {
        path: file,
        problems,
      });
      return opts.onReload?.("invalid");
    }
    last = text;
    try {
      await opts.apply(opts.transform ? opts.transform(config) : config);
      opts.log.info("config reloaded", {
        path: file,
        backends: config.backends.map((b) => b.name),
      });
      opts.onReload?.("applied");
    } catch (err) {
      opts.log.error("config reload failed", { path: file, error: describeError(err) });
      opts.onReload?.("error");
    }
  };

  (async () => {
    try {
      for await (const _event of watcher) {
        clearTimeout(timer);
        timer = setTimeout(() => {
          running = running.then(reload);
        }, opts.debounceMs ?? 150);
      }
    } catch {
      // closed
    }
  })();

  return {
    close() {
      clearTimeout(timer);
      try {
        watcher.close();
      } catch {
        // already closed
      }
    },
  };
}

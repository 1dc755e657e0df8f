/**
 * `vmcp --mode=proxy`: loads the config (or the demo), serves it, reloads it on change, and
 * shuts down gracefully when `signal` aborts. `--stdio-bridge -- cmd args` serves one stdio MCP
 * server over Streamable HTTP instead (how Kubernetes runs stdio images behind this binary).
 * @module
 */
import type { VmcpConfig } from "../crds/vmcp_config.ts";
import { VmcpConfigSchema } from "../crds/vmcp_config.ts";
import { parseConfig } from "../core/config/load.ts";
import { ConfigError } from "../core/config/problems.ts";
import type { Logger, LogLevel } from "../core/log.ts";
import { createProxyAuth, type ProxyAuth } from "./auth_wiring.ts";
import { describeError } from "./backends/errors.ts";
import { watchConfig } from "./config_watch.ts";
import { levelledLogger } from "./log_level.ts";
import { type RunningProxy, startProxy } from "./serve.ts";
import { allowedHostsFromEnv } from "./server/host.ts";
import { isLoopbackHost } from "./server/origin.ts";
import { startStatusReporterFromEnv } from "./status_reporter.ts";

export interface ProxyOptions {
  config?: string;
  demo: boolean;
  host?: string;
  port?: string;
  stdioBridge: boolean;
  bridgeCommand: string[];
  env: (name: string) => string | undefined;
  /**
   * Base logger. The proxy filters it to `logLevel`, else to the config's
   * `operational.logLevel` (default info, follows hot reload): give it the lowest level wanted.
   */
  logger: Logger;
  /** The level from `--log-level` / `VMCP_LOG_LEVEL`, when given: wins over the config. */
  logLevel?: LogLevel;
}

/** Repository root (for `--demo`). */
const REPO_ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
export const DEMO_CONFIG = `${REPO_ROOT}/examples/demo/vmcp.yaml`;

/** Demo backends run from the repository root whatever the current directory. */
function demoTransform(config: VmcpConfig): VmcpConfig {
  return {
    ...config,
    backends: config.backends.map((b) =>
      b.cwd || b.transport !== "stdio" ? b : { ...b, cwd: REPO_ROOT }
    ),
  };
}

/** The one-backend config of `--stdio-bridge`: tool names unchanged, full environment. */
export function bridgeConfig(command: string[], env: Record<string, string>): VmcpConfig {
  return VmcpConfigSchema.parse({
    name: "stdio-bridge",
    groupRef: { name: "stdio-bridge" },
    incomingAuth: { type: "anonymous" },
    aggregation: {
      conflictResolution: "priority",
      conflictResolutionConfig: { priorityOrder: ["server"] },
    },
    operational: { failureHandling: { partialFailureMode: "best_effort" } },
    backends: [{
      name: "server",
      transport: "stdio",
      command: command[0],
      args: command.slice(1),
      env,
    }],
  });
}

function parsePort(text: string | undefined): number | undefined | Error {
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    return new Error(`--port: "${text}" is not a port number (an integer from 0 to 65535)`);
  }
  return n;
}

/** Runs the proxy until `signal` aborts; resolves to the exit code (2: bad config or flags). */
export async function runProxy(opts: ProxyOptions, signal: AbortSignal): Promise<number> {
  const log = levelledLogger(opts.logger, opts.logLevel ?? "info");
  const levelFrom = (c: VmcpConfig): LogLevel => opts.logLevel ?? c.operational?.logLevel ?? "info";
  const port = parsePort(opts.port);
  if (port instanceof Error) {
    log.error(port.message);
    return 2;
  }
  const inCluster = opts.env("VMCP_NAMESPACE") !== undefined;
  let config: VmcpConfig;
  let path: string | undefined;
  let text: string | undefined;
  if (opts.stdioBridge) {
    if (opts.bridgeCommand.length === 0) {
      log.error(
        "--stdio-bridge needs the command after --, e.g. vmcp --stdio-bridge -- npx -y @scope/server",
      );
      return 2;
    }
    config = bridgeConfig(opts.bridgeCommand, Deno.env.toObject());
  } else {
    path = opts.demo ? DEMO_CONFIG : opts.config;
    if (!path) {
      log.error("--config FILE (or VMCP_CONFIG) is required; or use --demo");
      return 2;
    }
    try {
      text = await Deno.readTextFile(path);
      config = parseConfig(text, { source: path });
    } catch (err) {
      if (err instanceof ConfigError) {
        log.error(`invalid config ${path}`, { problems: err.problems });
        Deno.stderr.writeSync(new TextEncoder().encode(`${err.message}\n`));
      } else log.error(`cannot read config ${path}`, { error: describeError(err) });
      return 2;
    }
    if (opts.demo) config = demoTransform(config);
  }
  log.setLevel(levelFrom(config));

  let auth: ProxyAuth;
  try {
    auth = createProxyAuth(config, log);
  } catch (err) {
    log.error("incoming auth cannot be configured", { error: describeError(err) });
    return 2;
  }
  const host = opts.host ?? (inCluster ? "0.0.0.0" : config.server?.host ?? "127.0.0.1");
  // Host header allow-list extras (server/host.ts). An in-cluster stdio bridge is reached by its
  // Service's cluster DNS name, which only cluster DNS resolves (no rebinding page can use it).
  const allowedHosts = allowedHostsFromEnv(opts.env("VMCP_ALLOWED_HOSTS"));
  if (opts.stdioBridge && !isLoopbackHost(host)) allowedHosts.push(".svc", ".svc.cluster.local");
  let proxy: RunningProxy;
  try {
    proxy = await startProxy({
      config,
      host,
      port: port ?? config.server?.port ?? 4483,
      log,
      allowedHosts,
      ...auth.startOptions,
    });
  } catch (err) {
    log.error("cannot start the proxy", { host, port: port ?? 4483, error: describeError(err) });
    await auth.close();
    return 1;
  }
  log.info("vmcp proxy listening", {
    url: proxy.url,
    backends: config.backends.map((b) => `${b.name} (${b.transport})`),
    connect: `npx @modelcontextprotocol/inspector --transport http --server-url ${proxy.url}`,
    status: proxy.url.replace(/\/mcp$/, "/status"),
  });
  void proxy.ready.then(() =>
    log.info("first discovery finished", { tools: proxy.runtime.lists.tools.length })
  );
  // In-cluster (VMCP_NAME + VMCP_NAMESPACE): backend health → status.discoveredBackends.
  const reporter = startStatusReporterFromEnv(proxy.runtime, opts.env, log);

  const watcher = path && !opts.stdioBridge
    ? watchConfig({
      path,
      log,
      apply: (next) => {
        const level = levelFrom(next);
        if (level !== log.level) {
          const from = log.level;
          log.setLevel(level);
          log.info("log level changed (operational.logLevel)", { from, to: level });
        }
        return proxy.reload(next);
      },
      ...(opts.demo ? { transform: demoTransform } : {}),
    }, text)
    : undefined;

  await new Promise<void>((resolve) => {
    if (signal.aborted) return resolve();
    signal.addEventListener("abort", () => resolve(), { once: true });
  });
  log.info("shutting down", { reason: describeError(signal.reason) });
  watcher?.close();
  await reporter?.stop();
  await proxy.stop();
  await auth.close();
  log.info("stopped");
  return 0;
}

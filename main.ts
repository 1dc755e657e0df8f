/**
 * vmcp: one binary, two modes.
 *
 *   vmcp --mode=proxy --config FILE     aggregating MCP proxy (data plane)
 *   vmcp --mode=controller              leader-elected Kubernetes controller
 *   vmcp validate --config FILE         validate a proxy config (exit 2 listing all problems)
 *   vmcp crds                           print the CRD YAML
 *
 * Each mode's dependencies are loaded lazily, so the proxy never loads the Kubernetes client
 * unless it talks to the API server.
 * @module
 */
import { parseArgs } from "node:util";
import { createLogger } from "./core/log.ts";

export const HELP = `vmcp — Virtual MCP Server: aggregating MCP proxy and Kubernetes controller

Usage:
  vmcp --mode=proxy [--config FILE | --demo] [--host H] [--port P]
  vmcp --mode=proxy --stdio-bridge [--host H] [--port P] -- CMD [ARGS...]
  vmcp --mode=controller [--kubeconfig FILE] [--namespace NS] [--proxy-image IMAGE]
  vmcp validate --config FILE   Validate a proxy config (exit 2 listing every problem)
  vmcp crds                     Print the CRD YAML
  vmcp copy-binary DEST         Copy this executable to DEST (init container of stdio backends)
  vmcp --help

Common flags:
  --mode=proxy|controller   Mode to run (env VMCP_MODE; default proxy)
  --log-level LEVEL         debug|info|warn|error (env VMCP_LOG_LEVEL; default info; the proxy
                            otherwise follows the config's operational.logLevel)
  -h, --help                Show this help

Proxy flags (--mode=proxy):
  --config FILE             Proxy config (YAML/JSON; env VMCP_CONFIG). Reloaded on change
  --demo                    Serve the embedded demo (examples/demo/vmcp.yaml)
  --host HOST               Listen address (env VMCP_HOST; default the config's server.host, else
                            127.0.0.1; 0.0.0.0 when VMCP_NAMESPACE is set)
  --port PORT               Listen port (env VMCP_PORT; default the config's server.port, else 4483)
  --stdio-bridge            Serve one stdio MCP server (command after --, full environment) over
                            Streamable HTTP at /mcp

Proxy environment:
  VMCP_NAME, VMCP_NAMESPACE Report backend health into that VirtualMCPServer's
                            status.discoveredBackends (both set: in-cluster)
  VMCP_ALLOWED_HOSTS        Host header values allowed besides server.allowedHosts (comma-
                            separated; DNS-rebinding defence, e.g. an Ingress host in a cluster)
  VMCP_KUBE_API_URL         API server for status reporting (default in-cluster
                            https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT)
  VMCP_KUBE_TOKEN_FILE      Bearer token file, re-read per write (default the service-account token)
  VMCP_KUBE_CA_FILE         CA bundle of the API server (default the service-account ca.crt)
  KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT
                            In-cluster API server (status reporting, kubernetes incoming auth)
  HTTP_PROXY, HTTPS_PROXY, NO_PROXY (also ALL_PROXY and lower-case forms)
                            Outbound proxies for backend and auth requests (Deno fetch)
  PATH, HOME, DENO_DIR, XDG_CACHE_HOME, SSL_CERT_FILE, SSL_CERT_DIR, NODE_EXTRA_CA_CERTS,
  DENO_CERT, HTTP(S)_PROXY, NO_PROXY
                            The only variables passed on to stdio backends (plus their own env)
  Config *Env fields        valueEnv, clientSecretEnv, passwordEnv, encryptionKeyEnv name the
                            variables holding secrets; in-cluster the controller fills them
                            from Secrets (VMCP_SECRET_*, VMCP_OIDC_CLIENT_SECRET,
                            VMCP_TOKEN_CACHE_REDIS_PASSWORD, VMCP_TOKEN_CACHE_ENCRYPTION_KEY,
                            VMCP_SESSION_REDIS_PASSWORD)

Controller flags (--mode=controller):
  --kubeconfig FILE         Kubeconfig (env KUBECONFIG; default in-cluster when
                            KUBERNETES_SERVICE_HOST is set, else ~/.kube/config)
  --namespace NS            Watch only this namespace (env VMCP_WATCH_NAMESPACE; default all)
  --proxy-image IMAGE       Image of the proxy Deployments and of the stdio bridge (env VMCP_IMAGE;
                            default ghcr.io/vmcp/vmcp:latest; a VirtualMCPServer's spec.image wins)
  --metrics-port PORT       /healthz, /readyz, /metrics port (env VMCP_METRICS_PORT; default 8081)
  --leader-elect=BOOL       Use a Lease for leader election (default true; only "false" disables)
  --lease-namespace NS      Namespace of the Lease vmcp-controller-leader (env POD_NAMESPACE;
                            default vmcp-system)
  --lease-duration SECONDS  Lease duration (default 15)
  --renew-deadline SECONDS  Renew deadline (default 10)
  --retry-period SECONDS    Retry period (default 2)
  --id IDENTITY             Leader-election identity (env POD_NAME; default hostname+random)
`;

export interface MainOptions {
  args: string[];
  env: (name: string) => string | undefined;
}

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/**
 * `vmcp validate`: the proxy's own start-up loader (`parseConfig`, core/config/load.ts) on
 * `file`. Exit code 0 with `FILE: valid`, or 2 with every problem (path, message, value).
 */
export async function validateFile(file: string): Promise<{ code: 0 | 2; text: string }> {
  const { loadConfigFile } = await import("./core/config/load.ts");
  try {
    await loadConfigFile(file);
    return { code: 0, text: `${file}: valid\n` };
  } catch (e) {
    return { code: 2, text: `${(e as Error).message}\n` };
  }
}

/** Runs the CLI; resolves to the process exit code. */
export async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      mode: { type: "string" },
      help: { type: "boolean", short: "h" },
      "log-level": { type: "string" },
      config: { type: "string" },
      demo: { type: "boolean" },
      host: { type: "string" },
      port: { type: "string" },
      "stdio-bridge": { type: "boolean" },
      kubeconfig: { type: "string" },
      namespace: { type: "string" },
      "proxy-image": { type: "string" },
      "metrics-port": { type: "string" },
      "leader-elect": { type: "string" },
      "lease-namespace": { type: "string" },
      "lease-duration": { type: "string" },
      "renew-deadline": { type: "string" },
      "retry-period": { type: "string" },
      id: { type: "string" },
    },
  });
  const out = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s));
  if (values.help) {
    out(HELP);
    return 0;
  }
  const level = (values["log-level"] ?? env("VMCP_LOG_LEVEL") ?? "info") as
    | "debug"
    | "info"
    | "warn"
    | "error";
  if (!["debug", "info", "warn", "error"].includes(level)) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(`--log-level: "${level}" is not one of debug, info, warn, error\n`),
    );
    return 2;
  }
  const command = values["stdio-bridge"] ? undefined : positionals[0];
  if (command === "crds") {
    const { renderAllCrds } = await import("./crds/generate.ts");
    out(renderAllCrds());
    return 0;
  }
  if (command === "copy-binary") {
    const dest = positionals[1];
    if (!dest) {
      Deno.stderr.writeSync(new TextEncoder().encode("copy-binary: DEST is required\n"));
      return 2;
    }
    await Deno.copyFile(Deno.execPath(), dest);
    await Deno.chmod(dest, 0o755);
    return 0;
  }
  if (command === "validate") {
    const file = values.config ?? positionals[1];
    if (!file) {
      Deno.stderr.writeSync(new TextEncoder().encode("validate: --config FILE is required\n"));
      return 2;
    }
    const r = await validateFile(file);
    if (r.code === 0) out(r.text);
    else Deno.stderr.writeSync(new TextEncoder().encode(r.text));
    return r.code;
  }
  if (command !== undefined && command !== "--") {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `Unknown command "${command}"; allowed: validate, crds, copy-binary\n${HELP}`,
      ),
    );
    return 2;
  }
  const mode = values.mode ?? env("VMCP_MODE") ?? "proxy";
  const logger = createLogger({ level, fields: { mode } });
  if (mode === "proxy") {
    const { runProxy } = await import("./proxy/main.ts");
    return await runProxy({
      config: values.config ?? env("VMCP_CONFIG"),
      demo: values.demo ?? false,
      host: values.host ?? env("VMCP_HOST"),
      port: values.port ?? env("VMCP_PORT"),
      stdioBridge: values["stdio-bridge"] ?? false,
      bridgeCommand: positionals.slice(command === "--" ? 1 : 0),
      env,
      // The proxy filters by level itself: the CLI/env level when given, else the config's
      // operational.logLevel (which follows hot reload).
      logger: createLogger({ level: "debug", fields: { mode } }),
      ...(values["log-level"] ?? env("VMCP_LOG_LEVEL") ? { logLevel: level } : {}),
    }, signal);
  }
  if (mode === "controller") {
    const { runController } = await import("./controller/main.ts");
    return await runController({
      kubeconfig: values.kubeconfig ?? env("KUBECONFIG"),
      namespace: values.namespace ?? env("VMCP_WATCH_NAMESPACE"),
      proxyImage: values["proxy-image"] ?? env("VMCP_IMAGE"),
      metricsPort: values["metrics-port"] ?? env("VMCP_METRICS_PORT"),
      leaderElect: (values["leader-elect"] ?? "true") !== "false",
      leaseNamespace: values["lease-namespace"] ?? env("POD_NAMESPACE"),
      leaseDuration: values["lease-duration"],
      renewDeadline: values["renew-deadline"],
      retryPeriod: values["retry-period"],
      identity: values.id ?? env("POD_NAME"),
      env,
      logger,
    }, signal);
  }
  Deno.stderr.writeSync(
    new TextEncoder().encode(`--mode: "${mode}" is not one of proxy, controller\n`),
  );
  return 2;
}

if (import.meta.main) {
  const controller = new AbortController();
  const stop = () => controller.abort(new Error("Received a termination signal"));
  Deno.addSignalListener("SIGTERM", stop);
  Deno.addSignalListener("SIGINT", stop);
  let code: number;
  try {
    code = await main(Deno.args, controller.signal);
  } catch (e) {
    Deno.stderr.writeSync(new TextEncoder().encode(`${(e as Error).message}\n`));
    code = 2;
  }
  Deno.exit(code);
}

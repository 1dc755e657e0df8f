/**
 * `deno task test [deno test args…]`: starts one shared kube-apiserver + etcd and one
 * redis-server, runs `deno test -A` over the repo (or over the given args) with the
 * VMCP_TEST_* env vars pointing at them, stops the services, and prints as its last line
 * `N passed, M failed` (`, K skipped` when tests were ignored). Exits with deno test's code.
 *
 * Already-set VMCP_TEST_KUBECONFIG / VMCP_TEST_REDIS_URL are used as they are.
 */
import { ensureClusterBins, type KubeCluster, startKubeCluster } from "./harness/kube.ts";
import { ensureRedisServer, startRedis, type TestRedis } from "./harness/redis.ts";

const enc = new TextEncoder();
const say = (msg: string) => Deno.stderr.writeSync(enc.encode(`[tests/run] ${msg}\n`));

export interface TestSummary {
  passed: number;
  failed: number;
  ignored: number;
}

// deno-lint-ignore no-control-regex
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Parses Deno's closing line, e.g. `ok | 6 passed (2 steps) | 0 failed | 1 ignored (13s)` or
 * `FAILED | 5 passed | 1 failed (2s)`; returns undefined for any other line.
 */
export function parseDenoSummary(line: string): TestSummary | undefined {
  const m = line.replace(ANSI, "").trim().match(
    /^(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed(?: \(\d+ steps?\))?(.*)$/,
  );
  if (!m) return undefined;
  const ignored = m[3]?.match(/\| (\d+) ignored/);
  return { passed: Number(m[1]), failed: Number(m[2]), ignored: ignored ? Number(ignored[1]) : 0 };
}

/** The plain closing line CI reads. */
export function formatSummary(s: TestSummary): string {
  return `${s.passed} passed, ${s.failed} failed` + (s.ignored ? `, ${s.ignored} skipped` : "");
}

async function startServices(env: Record<string, string>) {
  const stops: Array<() => Promise<void>> = [];
  if (!Deno.env.get("VMCP_TEST_KUBECONFIG")) {
    let t = Date.now();
    const binDir = await ensureClusterBins();
    say(`cluster binaries: ${binDir} (${Date.now() - t} ms)`);
    t = Date.now();
    const cluster: KubeCluster = await startKubeCluster({ binDir });
    stops.push(() => cluster.stop());
    const caFile = cluster.kubeconfigPath.replace(/[^/]+$/, "ca.crt");
    await Deno.writeTextFile(caFile, cluster.caPem);
    Object.assign(env, {
      VMCP_TEST_KUBECONFIG: cluster.kubeconfigPath,
      VMCP_TEST_KUBE_URL: cluster.url,
      VMCP_TEST_KUBE_TOKEN: cluster.token,
      VMCP_TEST_KUBE_CA_FILE: caFile,
      VMCP_TEST_KUBE_BIN_DIR: binDir,
    });
    say(`kube-apiserver ready at ${cluster.url} (${Date.now() - t} ms)`);
  }
  if (!Deno.env.get("VMCP_TEST_REDIS_URL")) {
    await ensureRedisServer();
    const redis: TestRedis = await startRedis();
    stops.push(() => redis.stop());
    env.VMCP_TEST_REDIS_URL = redis.url;
    say(`redis-server ready at ${redis.url}`);
  }
  return async () => {
    for (const stop of stops.reverse()) await stop().catch((e) => say(`stop failed: ${e}`));
  };
}

/** Copies the child's stdout to ours and remembers the last summary line seen. */
async function pump(stream: ReadableStream<Uint8Array>): Promise<TestSummary | undefined> {
  let summary: TestSummary | undefined;
  let pending = "";
  const decoder = new TextDecoder();
  for await (const chunk of stream) {
    await Deno.stdout.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) summary = parseDenoSummary(line) ?? summary;
  }
  return parseDenoSummary(pending) ?? summary;
}

async function main(args: string[]): Promise<number> {
  const noProxy = [Deno.env.get("NO_PROXY"), "127.0.0.1", "localhost"].filter(Boolean).join(",");
  const env: Record<string, string> = { NO_PROXY: noProxy, no_proxy: noProxy };
  let stopServices: () => Promise<void> = () => Promise.resolve();
  let child: Deno.ChildProcess | undefined;
  const onSignal = (sig: Deno.Signal) => () => {
    say(`${sig}: stopping`);
    try {
      child?.kill(sig);
    } catch {
      // already gone
    }
    stopServices().finally(() => Deno.exit(130));
  };
  const sigint = onSignal("SIGINT");
  const sigterm = onSignal("SIGTERM");
  Deno.addSignalListener("SIGINT", sigint);
  Deno.addSignalListener("SIGTERM", sigterm);
  try {
    stopServices = await startServices(env);
    child = new Deno.Command(Deno.execPath(), {
      args: ["test", "-A", ...args],
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const summary = await pump(child.stdout);
    const status = await child.status;
    await stopServices();
    let line: string;
    if (summary && summary.failed === 0 && !status.success) {
      // Every test passed but the run failed (e.g. an uncaught error after the last test):
      // the closing line must not read as green.
      say(`deno test exited with code ${status.code} after all tests passed; counted as a failure`);
      line = formatSummary({ ...summary, failed: 1 });
    } else if (summary) {
      line = formatSummary(summary);
    } else {
      say(`deno test printed no summary line (exit code ${status.code})`);
      line = formatSummary({ passed: 0, failed: status.success ? 0 : 1, ignored: 0 });
    }
    Deno.stdout.writeSync(enc.encode(`${line}\n`));
    return status.code;
  } catch (err) {
    say(`error: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    await stopServices();
    Deno.stdout.writeSync(enc.encode("0 passed, 1 failed\n"));
    return 1;
  } finally {
    Deno.removeSignalListener("SIGINT", sigint);
    Deno.removeSignalListener("SIGTERM", sigterm);
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}

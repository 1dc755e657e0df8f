/**
 * Soak run with chaos (issue #20), by hand, not in CI: N client sessions call a tool through two
 * vmcp replicas (Redis session storage) behind the round-robin balancer for S seconds while a
 * scripted timeline kills and restarts the backend, Redis and one replica. Prints a markdown
 * report: calls ok/failed, failures by message and by chaos event, recovery time after each
 * event, and, from the backend's execution log, lost, duplicated and misrouted calls.
 *
 *   deno run -A bench/soak.ts [--sessions 20] [--seconds 40] [--think-ms 50] [--work-ms 5]
 *     [--chaos backend@8+5,redis@18+3,replica@28+5] [--json-response] [--out report.md]
 *     [--interval 30s]
 *
 * `--chaos` is a list of `target@start+down` in seconds from the start of the load (targets:
 * backend, redis, replica); the default puts backend, redis and replica at 20%, 45% and 70% of
 * the run, down 5 s, 3 s and 5 s. `--interval` is the backends' healthCheckInterval (default
 * the product default, 30s). The lead's full run: `--sessions 200 --seconds 180`.
 * @module
 */
import { parseArgs } from "node:util";
import type { VmcpConfigInput } from "../crds/vmcp_config.ts";
import { Client, StreamableHTTPClientTransport } from "../core/sdk.ts";
import { createBackendFetch } from "../core/http_client.ts";
import { startBalancer } from "../tests/fixtures/balancer.ts";
import { startRedis } from "../tests/harness/redis.ts";
import {
  killReplica,
  type Replica,
  startReplica,
  writeConfig,
} from "../tests/scaleout/replicas.ts";
import { startGate } from "../tests/scaleout/tcp_gate.ts";
import { readExecutions, startBackendProc } from "../tests/recovery/backend_proc.ts";
import { type CallRecord, parseChaos, report } from "./soak_report.ts";

const say = (line: string) => Deno.stderr.writeSync(new TextEncoder().encode(`[soak] ${line}\n`));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Session {
  client: Client;
  transport: StreamableHTTPClientTransport;
}

async function openSession(url: string): Promise<Session> {
  const client = new Client({ name: "soak", version: "1" }, {});
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    fetch: createBackendFetch(),
  });
  await client.connect(transport);
  return { client, transport };
}

async function closeSession(s: Session): Promise<void> {
  await s.transport.terminateSession().catch(() => {});
  await s.client.close().catch(() => {});
}

/** One client: calls `b_work` with its own (client, seq) until `stop`, reopening a lost session. */
async function clientLoop(
  id: string,
  url: string,
  t0: number,
  opts: { thinkMs: number; stop: () => boolean; calls: CallRecord[]; reopened: () => void },
): Promise<void> {
  let s: Session | undefined;
  let seq = 0;
  while (!opts.stop()) {
    if (!s) {
      try {
        s = await openSession(url);
      } catch {
        await sleep(200);
        continue;
      }
    }
    const n = seq++;
    const start = performance.now();
    const rec: CallRecord = { client: id, seq: n, start: start - t0, end: 0, ok: false };
    try {
      const r = await s.client.callTool(
        { name: "b_work", arguments: { client: id, seq: n } },
        undefined,
        { timeout: 45_000 },
      );
      const sc = r.structuredContent as { client?: string; seq?: number } | undefined;
      rec.ok = r.isError !== true;
      rec.misrouted = sc?.client !== id || sc?.seq !== n;
      if (r.isError) rec.message = JSON.stringify(r.content).slice(0, 200);
    } catch (e) {
      const err = e as { code?: unknown; message?: string; data?: { outcome?: string } };
      rec.code = typeof err.code === "number" ? err.code : undefined;
      rec.message = String(err.message ?? e).replace(/^MCP error -?\d+: /, "");
      rec.outcome = err.data?.outcome;
      // The proxy forgot the session (HTTP 404) or the transport broke: open a new one.
      if (rec.code === 404 || /Session not found|session.*(unknown|expired)/i.test(rec.message)) {
        opts.reopened();
        void closeSession(s);
        s = undefined;
      }
    }
    rec.end = performance.now() - t0;
    opts.calls.push(rec);
    if (opts.thinkMs > 0) await sleep(opts.thinkMs);
  }
  if (s) await closeSession(s);
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sessions: { type: "string", default: "20" },
      seconds: { type: "string", default: "40" },
      "think-ms": { type: "string", default: "50" },
      "work-ms": { type: "string", default: "5" },
      chaos: { type: "string" },
      interval: { type: "string", default: "30s" },
      "json-response": { type: "boolean", default: false },
      out: { type: "string" },
    },
  });
  const sessions = Number(values.sessions);
  const seconds = Number(values.seconds);
  const events = parseChaos(values.chaos, seconds);
  const dir = await Deno.makeTempDir({ prefix: "vmcp-soak-" });
  const execLog = `${dir}/executions.jsonl`;
  say(`${sessions} sessions × ${seconds} s; chaos ${values.chaos ?? "(default)"}; logs in ${dir}`);

  const redis = await startRedis();
  const gate = await startGate(redis.port);
  const backend = await startBackendProc({
    name: "b",
    execLog,
    jsonResponse: values["json-response"],
    workMs: Number(values["work-ms"]),
    logPath: `${dir}/backend.log`,
  });
  const path = await writeConfig({
    name: "soak",
    groupRef: { name: "g" },
    incomingAuth: { type: "anonymous" },
    sessionStorage: {
      provider: "redis",
      address: `127.0.0.1:${gate.port}`,
      keyPrefix: `vmcp:soak:${crypto.randomUUID().slice(0, 8)}:`,
    },
    operational: {
      failureHandling: { healthCheckInterval: values.interval!, partialFailureMode: "best_effort" },
    },
    backends: [{ name: "b", transport: "streamable-http", url: backend.url }],
  } as VmcpConfigInput);
  const replicas: Replica[] = await Promise.all([
    startReplica("a", path),
    startReplica("b", path),
  ]);
  const balancer = await startBalancer(replicas.map((r) => r.origin));
  const calls: CallRecord[] = [];
  let reopened = 0;
  let stopping = false;
  const t0 = performance.now();
  const now = () => performance.now() - t0;
  try {
    const loops = Array.from(
      { length: sessions },
      (_, i) =>
        clientLoop(`c${i}`, `${balancer.url}/mcp`, t0, {
          thinkMs: Number(values["think-ms"]),
          stop: () => stopping,
          calls,
          reopened: () => void reopened++,
        }),
    );
    const chaos = (async () => {
      for (const ev of events) {
        await sleep(Math.max(0, ev.at * 1000 - now()));
        ev.downAt = now();
        say(`${(ev.downAt / 1000).toFixed(1)} s: ${ev.target} down for ${ev.down} s`);
        if (ev.target === "backend") await backend.kill();
        else if (ev.target === "redis") await gate.pause();
        else if (ev.target === "replica") await killReplica(replicas[0]!);
        await sleep(ev.down * 1000);
        if (ev.target === "backend") await backend.restart();
        else if (ev.target === "redis") {
          await redis.restart(); // comes back empty
          gate.resume();
        } else if (ev.target === "replica") {
          replicas[0] = await startReplica(`a${Math.round(now())}`, path);
          balancer.setTargets(replicas.map((r) => r.origin));
        }
        ev.upAt = now();
        say(`${(ev.upAt / 1000).toFixed(1)} s: ${ev.target} back`);
      }
    })();
    await sleep(seconds * 1000);
    stopping = true;
    await chaos;
    await Promise.all(loops);
    await sleep(500); // the last executions reach the log
    const md = report({
      sessions,
      seconds,
      calls,
      events,
      executions: await readExecutions(execLog),
      reopened,
      config: { interval: values.interval!, jsonResponse: values["json-response"]! },
    });
    Deno.stdout.writeSync(new TextEncoder().encode(md + "\n"));
    if (values.out) await Deno.writeTextFile(values.out, md);
    await Deno.writeTextFile(`${dir}/calls.jsonl`, calls.map((c) => JSON.stringify(c)).join("\n"));
    say(`call records: ${dir}/calls.jsonl; executions: ${execLog}`);
  } finally {
    stopping = true;
    await balancer.stop();
    await Promise.all(replicas.map((r) => r.proc.stop(2000)));
    await backend.stop();
    await gate.stop();
    await redis.stop();
  }
}

/**
 * Messages a stdio backend sends on its own (sampling, elicitation, log messages) reach only the
 * client session whose request caused them, and never a guessed one. The real
 * @modelcontextprotocol/server-everything over stdio behind the proxy, two real SDK clients
 * that answer sampling and elicitation with their own names: A runs a long operation while B
 * triggers sampling and elicitation.
 */
import assert from "node:assert/strict";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
} from "../../core/sdk.ts";
import { createLogger } from "../../core/log.ts";
import { validateConfig } from "../../core/config/load.ts";
import { everythingServerCommand } from "../fixtures/everything.ts";
import { config, connect, type Connected, proxy, waitFor } from "../proxy/helpers.ts";

interface User {
  c: Connected;
  /** Server-initiated requests this client was asked to answer. */
  asked: string[];
  /** Data of the log messages this client received. */
  logs: string[];
}

/** A client answering sampling with `sampled-by-<name>` and elicitation with `elicited-by-<name>`. */
async function user(url: string, name: string): Promise<User> {
  const c = await connect(url, { capabilities: { sampling: {}, elicitation: {} } });
  const u: User = { c, asked: [], logs: [] };
  c.client.setRequestHandler(CreateMessageRequestSchema, () => {
    u.asked.push("sampling");
    return {
      model: `model-of-${name}`,
      role: "assistant",
      content: { type: "text", text: `sampled-by-${name}` },
    };
  });
  c.client.setRequestHandler(ElicitRequestSchema, () => {
    u.asked.push("elicitation");
    return { action: "accept", content: { name: `elicited-by-${name}` } };
  });
  c.client.setNotificationHandler(
    LoggingMessageNotificationSchema,
    (n) => void u.logs.push(String(n.params.data)),
  );
  return u;
}

function everything(stdio?: { mode?: "shared" | "perSession"; maxProcesses?: number }) {
  const e = everythingServerCommand();
  return {
    name: "every",
    transport: "stdio" as const,
    command: e.command,
    args: e.args,
    env: e.env,
    cwd: e.cwd,
    ...(stdio ? { stdio } : {}),
  };
}

/** server-everything processes that are children of this test process (the proxy runs here). */
async function everythingChildren(): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-eo", "ppid=,args="], stdout: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((line) => {
    const [ppid, ...args] = line.trim().split(/\s+/);
    return Number(ppid) === Deno.pid && args.join(" ").includes("server-everything");
  }).length;
}

const text = (r: Record<string, unknown>) => JSON.stringify(r.content ?? "");

/**
 * A starts `trigger-long-running-operation`; once it is under way (first progress), B calls
 * `trigger-sampling-request` and `trigger-elicitation-request`. Returns B's two results.
 */
async function bTriggersWhileABusy(a: User, b: User) {
  const progress: number[] = [];
  let aDone = false;
  const long = a.c.client.callTool(
    { name: "every_trigger-long-running-operation", arguments: { duration: 6, steps: 6 } },
    undefined,
    { onprogress: (p) => void progress.push(p.progress), timeout: 120_000 },
  ).finally(() => aDone = true);
  await waitFor(() => progress.length > 0, 60_000, "A's long operation to be under way");
  const sampled = await b.c.client.callTool(
    { name: "every_trigger-sampling-request", arguments: { prompt: "for B" } },
    undefined,
    { timeout: 120_000 },
  );
  const elicited = await b.c.client.callTool(
    { name: "every_trigger-elicitation-request", arguments: {} },
    undefined,
    { timeout: 120_000 },
  );
  assert.equal(aDone, false, "precondition: A's call was still in flight during B's calls");
  const longResult = await long;
  assert.match(text(longResult), /Long running operation completed/);
  return { sampled, elicited };
}

const OPERATIONAL = { timeouts: { default: "60s" } };

Deno.test("shared stdio process: B's sampling and elicitation are never shown to A, B never gets A's answers, and no log message goes to a guessed session", async () => {
  const lines: string[] = [];
  const p = await proxy(
    config({ operational: OPERATIONAL, backends: [everything({ mode: "shared" })] }),
    { log: createLogger({ level: "warn", sink: (l) => void lines.push(l) }) },
  );
  const a = await user(p.url, "alice");
  const b = await user(p.url, "bob");
  try {
    // Background logging on the shared process: one message now, then one every 5 s.
    await a.c.client.callTool({ name: "every_toggle-simulated-logging", arguments: {} });
    const { sampled, elicited } = await bTriggersWhileABusy(a, b);

    assert.deepEqual(a.asked, [], "A was asked to answer for B");
    for (const [what, r] of [["sampling", sampled], ["elicitation", elicited]] as const) {
      assert.doesNotMatch(text(r), /alice/, `B's ${what} result carries A's answer`);
      if (r.isError) {
        // The backend's tool failed with the error vmcp answered it.
        assert.match(text(r), /vmcp/, `B's ${what} error: ${text(r)}`);
      } else {
        assert.match(text(r), /by-bob/, `B's ${what} result: ${text(r)}`);
      }
    }
    // On a shared process nothing says which session a log message is for: dropped.
    assert.deepEqual(b.logs, [], "B received a log message from the shared process");
    assert.deepEqual(a.logs, [], "A received a log message from the shared process");
    assert.equal(await everythingChildren(), 1, "one shared process");
    // The refusals are logged as warnings, without the request's content.
    const refused = lines.filter((l) => l.includes("backend request refused"));
    assert.ok(refused.some((l) => l.includes("sampling/createMessage")), lines.join("\n"));
    assert.ok(refused.some((l) => l.includes("elicitation/create")), lines.join("\n"));
    assert.ok(lines.some((l) => l.includes("backend log messages dropped")), lines.join("\n"));
    assert.ok(!lines.some((l) => l.includes("for B")), "a prompt was logged");
  } finally {
    await a.c.close();
    await b.c.close();
    await p.stop();
  }
});

Deno.test("perSession stdio processes: B's sampling and elicitation reach only B, log messages only their owner, a session's process ends with it, and the process bound answers a clear error", async () => {
  const p = await proxy(config({
    operational: OPERATIONAL,
    backends: [everything({ mode: "perSession", maxProcesses: 2 })],
  }));
  const a = await user(p.url, "alice");
  const b = await user(p.url, "bob");
  let c: Connected | undefined;
  try {
    // Logging in A's own process: one message now, then one every 5 s.
    await a.c.client.callTool({ name: "every_toggle-simulated-logging", arguments: {} });
    const { sampled, elicited } = await bTriggersWhileABusy(a, b);

    assert.deepEqual(a.asked, [], "A was asked to answer for B");
    assert.deepEqual(b.asked, ["sampling", "elicitation"]);
    assert.match(text(sampled), /sampled-by-bob/);
    assert.match(text(elicited), /elicited-by-bob/);
    assert.doesNotMatch(text(sampled) + text(elicited), /alice/);
    assert.equal(await everythingChildren(), 3, "vmcp's own process plus one each for A and B");

    // A third session finds both per-session processes in use.
    c = await connect(p.url);
    const refused = await c.client.callTool({ name: "every_echo", arguments: { message: "hi" } })
      .then((r) => assert.fail(`expected a JSON-RPC error, got ${text(r)}`), (err) => err);
    assert.equal(refused.code, -32005, String(refused));
    assert.match(refused.message, /Backend "every".*stdio\.maxProcesses/, refused.message);
    assert.equal(p.runtime.backends.get("every")!.connectionCount, 3, "no process started for C");

    // B ends its session (DELETE): its process exits and C can have one.
    await b.c.close();
    await waitFor(async () => (await everythingChildren()) === 2, 30_000, "B's process to exit");
    const echoed = await c.client.callTool({ name: "every_echo", arguments: { message: "hi" } });
    assert.match(text(echoed), /hi/);

    // A's process logs to A only, also between calls (the third message comes ~10 s in).
    await waitFor(() => a.logs.length >= 3, 60_000, "A's simulated log messages");
    assert.deepEqual(b.logs, [], "B received A's log messages");
  } finally {
    await c?.close();
    await a.c.close();
    await b.c.close();
    await p.stop();
  }
  await waitFor(async () => (await everythingChildren()) === 0, 30_000, "every process to exit");
});

Deno.test("stdio settings are validated with the field named", () => {
  const e = everything();
  const problems = (backend: Record<string, unknown>) =>
    validateConfig({ name: "v", groupRef: { name: "g" }, backends: [backend] }).problems;
  assert.deepEqual(problems({ ...e, stdio: { mode: "perSession", maxProcesses: 4 } }), []);
  assert.deepEqual(problems({ ...e, stdio: {} }), []);
  const paths = (ps: { path: string }[]) => ps.map((x) => x.path);
  assert.deepEqual(paths(problems({ ...e, stdio: { mode: "private" } })), [
    "backends[0].stdio.mode",
  ]);
  assert.deepEqual(paths(problems({ ...e, stdio: { maxProcesses: 0 } })), [
    "backends[0].stdio.maxProcesses",
  ]);
  assert.deepEqual(paths(problems({ ...e, stdio: { maxProcesse: 3 } })), [
    "backends[0].stdio.maxProcesse",
  ]);
  const http = problems({ name: "web", url: "http://127.0.0.1:1/mcp", stdio: { mode: "shared" } });
  assert.deepEqual(paths(http), ["backends[0].stdio"]);
  assert.match(http[0]!.message, /Only allowed for transport "stdio"/);
});

import assert from "node:assert/strict";
import { Registry } from "prom-client";
import { silentLogger } from "../../core/log.ts";
import { type AuditConfigInput, AuditConfigSchema } from "../../crds/audit.ts";
import { AT } from "./auditor.ts";
import { AuditTrail } from "./trail.ts";

const cfg = (input: AuditConfigInput) => AuditConfigSchema.parse(input);

function event(subject: string) {
  return { type: "mcp_tool_call" as const, outcome: "success" as const, [AT]: Date.now(), subject };
}

Deno.test("AuditTrail follows config reloads: same settings keep the auditor, new ones switch files without losing events, off closes", async () => {
  const dir = await Deno.makeTempDir();
  const registry = new Registry();
  const trail = new AuditTrail(registry, silentLogger);
  try {
    assert.equal(await trail.apply(undefined), undefined, "absent: off");
    assert.equal(await trail.apply(cfg({})), undefined, "enabled defaults to false");
    const first = await trail.apply(cfg({ enabled: true, output: "file", filePath: `${dir}/a` }));
    assert.ok(first);
    first.emit(event("before-reload"));
    const same = await trail.apply(cfg({ enabled: true, output: "file", filePath: `${dir}/a` }));
    assert.equal(same, first, "unchanged settings: the same auditor");
    const second = await trail.apply(cfg({ enabled: true, output: "file", filePath: `${dir}/b` }));
    assert.ok(second && second !== first);
    second.emit(event("after-reload"));
    // A file that cannot be opened: refused naming the field, the running auditor stays.
    await assert.rejects(
      () => trail.apply(cfg({ enabled: true, output: "file", filePath: `${dir}/no/such/c` })),
      /audit\.filePath/,
    );
    assert.equal(trail.current, second);
    assert.equal(await trail.apply(cfg({ enabled: false })), undefined);
    const a = await Deno.readTextFile(`${dir}/a`);
    const b = await Deno.readTextFile(`${dir}/b`);
    assert.equal(JSON.parse(a).subject, "before-reload", "the old output was flushed on switch");
    assert.equal(JSON.parse(b).subject, "after-reload", "the new output was flushed on off");
    assert.equal((await Deno.stat(`${dir}/b`)).mode! & 0o777, 0o600);
    const metrics = await registry.metrics();
    assert.match(metrics, /^vmcp_audit_events_dropped_total 0$/m);
  } finally {
    await trail.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AuditTrail: a request that began before a reload records its event in the new output", async () => {
  const dir = await Deno.makeTempDir();
  const registry = new Registry();
  const trail = new AuditTrail(registry, silentLogger);
  try {
    const first =
      (await trail.apply(cfg({ enabled: true, output: "file", filePath: `${dir}/a` })))!;
    let finish!: () => void;
    const running = first.timed(
      () => event("in-flight"),
      true,
      () => new Promise((resolve) => (finish = () => resolve({ content: [] }))),
    );
    const second = (await trail.apply(cfg({
      enabled: true,
      output: "file",
      filePath: `${dir}/b`,
      maxDataSize: 64,
    })))!;
    finish();
    await running;
    await second.flush();
    const b = (await Deno.readTextFile(`${dir}/b`)).trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(b.map((e) => [e.subject, e.outcome]), [["in-flight", "success"]]);
    assert.equal(await Deno.readTextFile(`${dir}/a`), "", "nothing was buffered at the switch");
    assert.match(await registry.metrics(), /^vmcp_audit_events_dropped_total 0$/m);
  } finally {
    await trail.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Auditor writes only the configured event types; excludeEventTypes wins", async () => {
  const dir = await Deno.makeTempDir();
  const trail = new AuditTrail(new Registry(), silentLogger);
  try {
    const auditor = (await trail.apply(cfg({
      enabled: true,
      output: "file",
      filePath: `${dir}/a`,
      eventTypes: ["mcp_tool_call", "session_opened"],
      excludeEventTypes: ["session_opened"],
    })))!;
    auditor.emit(event("kept"));
    auditor.emit({ ...event("dropped"), type: "session_opened" });
    auditor.emit({ ...event("dropped"), type: "auth_failed" });
    await auditor.flush();
    const lines = (await Deno.readTextFile(`${dir}/a`)).trimEnd().split("\n");
    assert.deepEqual(lines.map((l) => JSON.parse(l).subject), ["kept"]);
    const line = JSON.parse(lines[0]!);
    assert.deepEqual(Object.keys(line).slice(0, 5), [
      "audit",
      "auditId",
      "loggedAt",
      "type",
      "outcome",
    ]);
  } finally {
    await trail.close();
    await Deno.remove(dir, { recursive: true });
  }
});

import assert from "node:assert/strict";
import { createLogger } from "../../core/log.ts";
import { type AuditSink, AuditWriter, fileSink } from "./writer.ts";

function capture() {
  const lines: string[] = [];
  return { lines, log: createLogger({ level: "debug", sink: (l) => lines.push(l) }) };
}

Deno.test("AuditWriter appends one line per event to a real file, in order, across batches", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/audit.log`;
  try {
    await Deno.writeTextFile(path, '{"earlier":true}\n');
    const { log } = capture();
    const w = new AuditWriter<{ n: number }>({
      sink: await fileSink(path),
      maxBuffered: 1000,
      serialize: (e) => JSON.stringify(e),
      log,
    });
    for (let n = 0; n < 10; n++) w.push({ n });
    await w.flush();
    for (let n = 10; n < 20; n++) w.push({ n });
    await w.close();
    const lines = (await Deno.readTextFile(path)).trimEnd().split("\n");
    assert.equal(lines[0], '{"earlier":true}', "appends, never truncates");
    assert.deepEqual(lines.slice(1).map((l) => JSON.parse(l).n), [...Array(20).keys()]);
    assert.equal(w.written, 20);
    assert.equal(w.dropped, 0);
    const mode = (await Deno.stat(path)).mode! & 0o777;
    assert.ok(mode === 0o644 || mode === 0o600, "the existing file keeps its mode");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AuditWriter drops events past maxBuffered while the sink is stuck, counts them and warns once", async () => {
  let release!: () => void;
  const stuck = new Promise<void>((r) => (release = r));
  let entered!: () => void;
  const writing = new Promise<void>((r) => (entered = r));
  const written: string[] = [];
  const sink: AuditSink = {
    name: "stuck",
    write: async (bytes) => {
      entered();
      await stuck;
      written.push(new TextDecoder().decode(bytes));
    },
    close: () => Promise.resolve(),
  };
  const { lines, log } = capture();
  const dropped: number[] = [];
  const w = new AuditWriter<number>({
    sink,
    maxBuffered: 5,
    serialize: String,
    log,
    onDrop: (n) => dropped.push(n),
  });
  w.push(0);
  // The drain takes event 0 and waits on the sink; five more fit in the buffer.
  await writing;
  for (let i = 1; i <= 20; i++) w.push(i);
  assert.equal(w.dropped, 15);
  assert.equal(dropped.reduce((a, b) => a + b, 0), 15);
  const warnings = lines.filter((l) => JSON.parse(l).level === "warn");
  assert.equal(warnings.length, 1, "one warning, the rest at debug");
  assert.match(warnings[0]!, /audit events dropped/);
  release();
  await w.close();
  assert.equal(written.join(""), "0\n1\n2\n3\n4\n5\n");
});

Deno.test("AuditWriter counts a failed write as dropped and keeps going", async () => {
  let fail = true;
  const written: string[] = [];
  const sink: AuditSink = {
    name: "flaky",
    write: (bytes) => {
      if (fail) return Promise.reject(new Error("disk full"));
      written.push(new TextDecoder().decode(bytes));
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  };
  const { lines, log } = capture();
  const w = new AuditWriter<string>({ sink, maxBuffered: 10, serialize: (s) => s, log });
  w.push("a");
  w.push("b");
  await w.flush();
  assert.equal(w.dropped, 2);
  assert.match(lines.join("\n"), /write failed: disk full/);
  fail = false;
  w.push("c");
  await w.close();
  assert.deepEqual(written, ["c\n"]);
  w.push("d");
  assert.equal(w.dropped, 3, "after close events are dropped");
});

Deno.test("fileSink() names audit.filePath when the file cannot be opened", async () => {
  await assert.rejects(
    () => fileSink("/nonexistent-dir-vmcp/audit.log"),
    /audit\.filePath "\/nonexistent-dir-vmcp\/audit\.log" cannot be opened for appending/,
  );
});

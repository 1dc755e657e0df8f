/** In `stdio.mode: shared`, one stdio process per backend however many sessions come and go; none after shutdown. */
import assert from "node:assert/strict";
import { stdioBackendCommand } from "../fixtures/stdio_backend.ts";
import { config, connect, PATIENCE_MS, proxy, waitFor } from "./helpers.ts";

async function countProcesses(marker: string): Promise<number> {
  const out = await new Deno.Command("ps", { args: ["-eo", "args"], stdout: "piped" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) =>
    l.includes(marker) && !l.startsWith("ps ")
  ).length;
}

Deno.test("in shared mode, N sessions opening and closing leave exactly one process per stdio backend, and none after shutdown", async () => {
  const marker = `lifecycle-${crypto.randomUUID().slice(0, 8)}`;
  const s = stdioBackendCommand({ name: marker });
  const p = await proxy(config({
    backends: [{
      name: "local",
      transport: "stdio",
      command: s.command,
      args: s.args,
      env: s.env,
      stdio: { mode: "shared" },
    }],
  }));
  try {
    assert.equal(await countProcesses(marker), 1);
    for (let round = 0; round < 3; round++) {
      const clients = await Promise.all(Array.from({ length: 5 }, () => connect(p.url)));
      await Promise.all(
        clients.map((c) => c.client.callTool({ name: "local_counter", arguments: {} })),
      );
      assert.equal(await countProcesses(marker), 1);
      await Promise.all(clients.map((c) => c.close()));
    }
    await waitFor(() => p.runtime.sessions.size === 0, PATIENCE_MS, "sessions to close");
    assert.equal(await countProcesses(marker), 1);
  } finally {
    await p.stop();
  }
  await waitFor(
    async () => (await countProcesses(marker)) === 0,
    PATIENCE_MS,
    "the stdio child to exit",
  );
});

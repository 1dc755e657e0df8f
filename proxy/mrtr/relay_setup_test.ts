import assert from "node:assert/strict";
import { VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import { silentLogger } from "../../core/log.ts";
import { createParkRelay, relayRedisOptions, relayWaitMs } from "./relay_setup.ts";
import { createInputRequired } from "./setup.ts";

const base = { name: "v", groupRef: { name: "g" }, backends: [] };

Deno.test("the relay uses the session store's Redis (address, db, prefix, password from passwordEnv)", () => {
  const config = VmcpConfigSchema.parse({
    ...base,
    sessionStorage: {
      provider: "redis",
      address: "redis:6380",
      db: 2,
      keyPrefix: "t:",
      passwordEnv: "PW",
    },
  });
  assert.deepEqual(relayRedisOptions(config.sessionStorage, (n) => n === "PW" ? "s3" : undefined), {
    address: "redis:6380",
    db: 2,
    keyPrefix: "t:",
    password: "s3",
  });
  const defaults = VmcpConfigSchema.parse({
    ...base,
    sessionStorage: { provider: "redis", address: "redis:6379" },
  });
  assert.deepEqual(relayRedisOptions(defaults.sessionStorage), {
    address: "redis:6379",
    db: 0,
    keyPrefix: "vmcp:session:",
  });
});

Deno.test("with the memory store (or none) there is no relay", async () => {
  assert.equal(relayRedisOptions(undefined), undefined);
  const config = VmcpConfigSchema.parse({ ...base, sessionStorage: { provider: "memory" } });
  assert.equal(relayRedisOptions(config.sessionStorage), undefined);
  const relay = createParkRelay(
    config,
    createInputRequired(undefined, silentLogger, { env: () => undefined }),
    silentLogger,
  );
  assert.equal(relay.channel, undefined);
  await relay.start();
  assert.equal(relay.ready, false);
  await relay.stop();
});

Deno.test("a relayed wait is bounded by the longest backend timeout", () => {
  assert.equal(relayWaitMs({}), 30_000);
  const config = VmcpConfigSchema.parse({
    ...base,
    operational: { timeouts: { default: "20s", perWorkload: { slow: "2m", fast: "5s" } } },
  });
  assert.equal(relayWaitMs(config), 120_000);
});

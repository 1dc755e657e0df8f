import assert from "node:assert/strict";
import { canonicalIp, connectionKey, parseCloseWait, readCloseWait } from "./tcp_close_wait.ts";

const HEADER =
  "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode";

Deno.test("canonicalIp() writes IPv4, IPv4-mapped and abbreviated IPv6 one way", () => {
  assert.equal(canonicalIp("127.0.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("::ffff:127.0.0.1"), "127.0.0.1");
  assert.equal(canonicalIp("::FFFF:7f00:1"), "127.0.0.1");
  assert.equal(canonicalIp("::1"), "0:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("[::1]"), "0:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("fe80::1%eth0"), "fe80:0:0:0:0:0:0:1");
  assert.equal(canonicalIp("2001:db8:0:0:0:0:2:1"), "2001:db8:0:0:0:0:2:1");
  assert.equal(canonicalIp("2001:db8::2:1"), "2001:db8:0:0:0:0:2:1");
});

Deno.test("parseCloseWait() lists only CLOSE_WAIT rows, IPv4 and IPv6 (IPv4-mapped as IPv4)", () => {
  const tcp = [
    HEADER,
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000  0 1 1",
    "   1: 0100007F:1F90 0100007F:D2B4 08 00000000:00000000 00:00000000 00000000  1000  0 2 1",
    "   2: 0100007F:1F90 0100007F:D2B5 01 00000000:00000000 00:00000000 00000000  1000  0 3 1",
    "",
  ].join("\n");
  assert.deepEqual([...parseCloseWait(tcp)], ["127.0.0.1:8080|127.0.0.1:53940"]);
  const tcp6 = [
    HEADER,
    // ::1 port 8080 <- ::1 port 40000, and ::ffff:127.0.0.1 port 8080 <- ::ffff:10.0.0.2:40001
    "   0: 00000000000000000000000001000000:1F90 00000000000000000000000001000000:9C40 08 0 0 0",
    "   1: 0000000000000000FFFF00000100007F:1F90 0000000000000000FFFF00000200000A:9C41 08 0 0 0",
  ].join("\n");
  assert.deepEqual([...parseCloseWait(tcp6)], [
    "0:0:0:0:0:0:0:1:8080|0:0:0:0:0:0:0:1:40000",
    "127.0.0.1:8080|10.0.0.2:40001",
  ]);
  const key = connectionKey(
    { transport: "tcp", hostname: "::ffff:127.0.0.1", port: 8080 },
    { transport: "tcp", hostname: "::ffff:10.0.0.2", port: 40001 },
  );
  assert.ok(parseCloseWait(tcp6).has(key));
});

Deno.test("readCloseWait() sees a real connection whose peer closed it", async () => {
  if (Deno.build.os !== "linux") return;
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const server = await listener.accept();
  try {
    const key = connectionKey(server.localAddr as Deno.NetAddr, server.remoteAddr as Deno.NetAddr);
    assert.equal((await readCloseWait())?.has(key), false);
    client.close();
    const deadline = Date.now() + 30_000;
    while (!(await readCloseWait())?.has(key)) {
      assert.ok(Date.now() < deadline, "the closed connection never showed as CLOSE_WAIT");
      await new Promise((r) => setTimeout(r, 20));
    }
  } finally {
    server.close();
    listener.close();
  }
});

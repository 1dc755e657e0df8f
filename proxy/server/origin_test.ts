import assert from "node:assert/strict";
import { checkOrigin, isLoopbackHost, originAllowed } from "./origin.ts";

Deno.test("localhost origins are allowed only while the proxy listens on a loopback address", () => {
  assert.ok(originAllowed("http://localhost:6274", { listenHost: "127.0.0.1" }));
  assert.ok(originAllowed("http://[::1]:1", { listenHost: "::1" }));
  assert.ok(!originAllowed("http://localhost:6274", { listenHost: "0.0.0.0" }));
  assert.ok(!originAllowed("http://127.0.0.1:80", { listenHost: "10.0.0.5" }));
});

Deno.test("on any listener the publicUrl host, listed origins and * are allowed; null and look-alikes are not", () => {
  const policy = {
    listenHost: "0.0.0.0",
    publicUrl: "https://mcp.example.com/base",
    allowedOrigins: ["https://app.example.org/"],
  };
  assert.ok(originAllowed("https://mcp.example.com", policy));
  assert.ok(originAllowed("https://app.example.org", policy));
  assert.ok(!originAllowed("https://app.example.org:444", policy));
  assert.ok(!originAllowed("https://mcp.example.com.evil.test", policy));
  assert.ok(!originAllowed("null", policy));
  assert.ok(!originAllowed("not a url", policy));
  assert.ok(originAllowed("null", { listenHost: "0.0.0.0", allowedOrigins: ["*"] }));
  assert.ok(isLoopbackHost("127.8.0.1") && !isLoopbackHost("127.0.0.1.nip.io"));
});

Deno.test("a request without Origin passes; a refused one gets a 403 JSON-RPC error naming it", async () => {
  const policy = { listenHost: "0.0.0.0" };
  assert.equal(checkOrigin(new Request("http://x/mcp"), policy), undefined);
  const res = checkOrigin(
    new Request("http://x/mcp", { headers: { origin: "https://evil.test" } }),
    policy,
  );
  assert.equal(res?.status, 403);
  const body = await res!.json();
  assert.equal(body.jsonrpc, "2.0");
  assert.match(body.error.message, /Origin "https:\/\/evil\.test" is not allowed/);
  assert.doesNotMatch(body.error.message, /localhost/);
});

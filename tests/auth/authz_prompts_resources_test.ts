/**
 * Cedar authorization of prompts and resources through a real proxy with OIDC incoming auth
 * (a real JWKS issuer) and a real SDK backend: `prompts/list` and `resources/list` show each
 * caller what it may get or read, and a refused `prompts/get` or `resources/read` (also of a
 * templated URI) is answered exactly as one of a name or URI that does not exist.
 */
import assert from "node:assert/strict";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, oidcIncoming } from "./helpers.ts";

const POLICIES = [
  'permit(principal == Client::"alice", action == Action::"get_prompt", resource == Prompt::"web_greet");',
  'permit(principal == Client::"alice", action == Action::"read_resource", resource) when { resource.uri like "*readme*" && resource.backend == "web" };',
  'permit(principal == Client::"carol", action == Action::"read_resource", resource);',
];

const failure = (p: Promise<unknown>) =>
  p.then(() => undefined, (err) => err as { code: number; message: string });

Deno.test("authz: prompts and resources are listed and served per caller", async () => {
  const idp = await startOidcIssuer();
  const web = await serveHttpBackend({ name: "web" });
  const p = await authProxy(config({
    incomingAuth: {
      ...oidcIncoming(idp.issuer),
      authzConfig: { type: "inline", inline: { policies: POLICIES } },
    },
    backends: [{ name: "web", url: web.url }],
  }));
  const a = await connectWithToken(p.url, await idp.sign({ sub: "alice" }));
  const b = await connectWithToken(p.url, await idp.sign({ sub: "bob" }));
  try {
    assert.deepEqual((await a.client.listPrompts()).prompts.map((x) => x.name), ["web_greet"]);
    assert.deepEqual((await b.client.listPrompts()).prompts, []);
    const readme = (await a.client.listResources()).resources.map((r) => r.uri);
    assert.equal(readme.length, 1);
    assert.match(readme[0]!, /readme/);
    assert.deepEqual((await b.client.listResources()).resources, []);

    const greeting = await a.client.getPrompt({ name: "web_greet", arguments: { name: "Ada" } });
    assert.equal(greeting.messages.length, 1);
    const text = await a.client.readResource({ uri: readme[0]! });
    assert.match(JSON.stringify(text.contents), /Test backend readme/);

    const refusedPrompt = await failure(
      b.client.getPrompt({ name: "web_greet", arguments: { name: "x" } }),
    );
    const unknownPrompt = await failure(b.client.getPrompt({ name: "web_nope" }));
    assert.equal(refusedPrompt?.code, unknownPrompt?.code);
    assert.match(refusedPrompt!.message, /Unknown prompt "web_greet"/);
    assert.equal(refusedPrompt!.message, unknownPrompt!.message.replace("web_nope", "web_greet"));

    const refusedRead = await failure(b.client.readResource({ uri: readme[0]! }));
    assert.equal(refusedRead?.code, -32602);
    assert.match(refusedRead!.message, /Unknown resource/);
    // A templated URI carol may read and alice may not: refused to alice as unknown.
    const item = readme[0]!.replace(/readme.*$/, "items/7");
    const c = await connectWithToken(p.url, await idp.sign({ sub: "carol" }));
    try {
      assert.match(JSON.stringify((await c.client.readResource({ uri: item })).contents), /item 7/);
    } finally {
      await c.close();
    }
    const refusedItem = await failure(a.client.readResource({ uri: item }));
    assert.equal(refusedItem?.code, -32602);
    assert.match(refusedItem!.message, /Unknown resource/);
  } finally {
    await Promise.all([a.close(), b.close()]);
    await p.stop();
    await web.stop();
    await idp.stop();
  }
});

/**
 * ToolHive's rule "an explicit outgoingAuth.backends entry wins in every mode", through the
 * real proxy: with the default source (discovered), a backend with an entry gets the entry's
 * credentials instead of its own (discovered) strategy; backends without one keep theirs.
 */
import assert from "node:assert/strict";
import { serveHttpBackend } from "../fixtures/serve_http.ts";
import { authProxy, config, connectWithToken, echo } from "./helpers.ts";
import { startOidcIssuer } from "../fixtures/oidc_issuer.ts";

const ENV: Record<string, string> = { OWN_KEY: "own-key-1", ENTRY_KEY: "entry-key-2" };

async function recordingBackend(name: string) {
  const requests: Headers[] = [];
  const served = await serveHttpBackend({
    name,
    onRequest: (req) => void requests.push(new Headers(req.headers)),
  });
  return Object.assign(served, {
    seen: (h: string) => [...new Set(requests.map((r) => r.get(h)))],
  });
}

const own = {
  type: "headerInjection" as const,
  headerInjection: { headerName: "X-Own-Key", valueEnv: "OWN_KEY" },
};
const entry = {
  type: "headerInjection" as const,
  headerInjection: { headerName: "X-Entry-Key", valueEnv: "ENTRY_KEY" },
};

for (const source of [undefined, "discovered", "mixed"] as const) {
  Deno.test(`source ${source ?? "(default)"}: an outgoingAuth.backends entry wins over the backend's discovered strategy; other backends keep their own`, async () => {
    const idp = await startOidcIssuer();
    const overridden = await recordingBackend("overridden");
    const kept = await recordingBackend("kept");
    const p = await authProxy(
      config({
        incomingAuth: {
          type: "oidc",
          oidcConfig: { type: "inline", inline: { issuer: idp.issuer, audience: "vmcp" } },
        },
        outgoingAuth: { ...(source ? { source } : {}), backends: { overridden: entry } },
        backends: [
          { name: "overridden", url: overridden.url, auth: own },
          { name: "kept", url: kept.url, auth: own },
        ],
      }),
      { deps: { env: (n) => ENV[n] } },
    );
    try {
      const c = await connectWithToken(p.url, await idp.sign({ sub: "alice" }));
      assert.equal((await echo(c, "overridden_echo")).backend, "overridden");
      assert.equal((await echo(c, "kept_echo")).backend, "kept");
      await c.close();
      assert.deepEqual(overridden.seen("x-entry-key"), ["entry-key-2"]);
      assert.deepEqual(overridden.seen("x-own-key"), [null]);
      assert.deepEqual(kept.seen("x-own-key"), ["own-key-1"]);
      assert.deepEqual(kept.seen("x-entry-key"), [null]);
    } finally {
      await p.stop();
      await Promise.all([overridden.stop(), kept.stop(), idp.stop()]);
    }
  });
}

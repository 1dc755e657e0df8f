/**
 * Child process of the bench: serves test MCP backends over Streamable HTTP on 127.0.0.1, so
 * their CPU and memory are apart from the load generator's and the proxy's.
 *
 *   deno run -A bench/backend_child.ts '<BackendSpec[] as JSON>' OUT_FILE [--json-response]
 *
 * Writes `{ "<name>": "<url>", … }` to OUT_FILE once all listen, then serves until killed.
 * A spec with `hung: true` accepts connections but never answers any request.
 * @module
 */

import { serveHttpBackend } from "../tests/fixtures/mod.ts";
import type { BackendSpec } from "./targets.ts";

if (import.meta.main) {
  const [specJson, outFile, ...flags] = Deno.args;
  if (!specJson || !outFile) {
    throw new Error("usage: backend_child.ts '<BackendSpec[] JSON>' OUT_FILE [--json-response]");
  }
  const specs = JSON.parse(specJson) as BackendSpec[];
  const jsonResponse = flags.includes("--json-response");
  const urls: Record<string, string> = {};
  for (const spec of specs) {
    const served = await serveHttpBackend({
      name: spec.name,
      tools: spec.tools ?? 0,
      builtins: spec.builtins ?? true,
      latencyMs: spec.latencyMs ?? 0,
      jsonResponse,
      ...(spec.hung ? { onRequest: () => new Promise<Response>(() => {}) } : {}),
    });
    // The fixture records every call; a bench makes millions, so do not keep them.
    served.state.calls.push = () => 0;
    urls[spec.name] = served.url;
  }
  await Deno.writeTextFile(outFile + ".tmp", JSON.stringify(urls));
  await Deno.rename(outFile + ".tmp", outFile);
  // Serve until killed (the listeners keep the process alive).
}

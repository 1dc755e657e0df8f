/**
 * A 2026-07-28 client through vmcp to a legacy backend that asks several things at once (the
 * conformance fixture's 2025-11-25 leg: the v2 SDK sends its elicitation, sampling and roots
 * requests together, `Promise.all`): the client gets them in one `input_required` round.
 */
import assert from "node:assert/strict";
import { serveConformanceBackend } from "../fixtures/conformance_backend.ts";
import { config, proxy } from "./helpers.ts";
import { inputRequired, modernCall } from "./mrtr_helpers.ts";

Deno.test("a legacy backend's requests sent together reach a 2026-07-28 client in one round; one retry completes the call", async () => {
  const backend = await serveConformanceBackend();
  const p = await proxy(config({
    aggregation: { conflictResolution: "priority" }, // names unchanged
    operational: { timeouts: { default: "60s" } },
    backends: [{ name: "conformance", url: backend.url, protocol: "legacy" }],
  }));
  try {
    const call = { name: "test_input_required_result_multiple_inputs", arguments: {} };
    const caps = { elicitation: {}, sampling: {}, roots: {} };
    const round = inputRequired(await modernCall(p.url, "tools/call", call, { caps }));
    const byMethod = Object.fromEntries(
      Object.entries(round.inputRequests).map(([key, req]) => [req.method, { key, req }]),
    );
    assert.deepEqual(
      Object.keys(byMethod).sort(),
      ["elicitation/create", "roots/list", "sampling/createMessage"],
      JSON.stringify(round.inputRequests),
    );
    const elicit = byMethod["elicitation/create"]!;
    assert.equal(elicit.req.params.message, "What is your name?");
    // The backend's progress token for its own request is not relayed.
    assert.equal(
      (elicit.req.params._meta as { progressToken?: unknown })?.progressToken,
      undefined,
    );

    const done = await modernCall(p.url, "tools/call", {
      ...call,
      requestState: round.requestState,
      inputResponses: {
        [elicit.key]: { action: "accept", content: { name: "Alice" } },
        [byMethod["sampling/createMessage"]!.key]: {
          role: "assistant",
          content: { type: "text", text: "Hello!" },
          model: "m",
        },
        [byMethod["roots/list"]!.key]: { roots: [{ uri: "file:///r", name: "r" }] },
      },
    }, { caps });
    assert.deepEqual(done.result?.content, [{
      type: "text",
      text: "name=Alice; greeting=Hello!; roots=1",
    }], JSON.stringify(done));
  } finally {
    await p.stop();
    await backend.stop();
  }
});

import assert from "node:assert/strict";
import { SubscriptionsListenRequestSchemaV2 } from "../../core/sdk.ts";
import { honoredFilter, MAX_URI_CHARS, parseFilter } from "./listen_filter.ts";

const request = (notifications: unknown) => ({
  method: "subscriptions/listen",
  params: notifications === undefined ? {} : { notifications },
});

Deno.test("parseFilter accepts and refuses the filters the v2 SDK's schema does", () => {
  const corpus: unknown[] = [
    {},
    { toolsListChanged: true },
    { toolsListChanged: false, promptsListChanged: true, resourcesListChanged: true },
    { resourceSubscriptions: [] },
    { resourceSubscriptions: ["file:///a", "mem://b"] },
    { toolsListChanged: true, somethingNew: 1 },
    undefined,
    null,
    "tools",
    [],
    { toolsListChanged: "yes" },
    { promptsListChanged: 1 },
    { resourcesListChanged: null },
    { resourceSubscriptions: "file:///a" },
    { resourceSubscriptions: [1] },
  ];
  for (const filter of corpus) {
    const sdk = SubscriptionsListenRequestSchemaV2.safeParse(request(filter)).success;
    const ours = parseFilter(filter === undefined ? {} : { notifications: filter });
    assert.equal(typeof ours !== "string", sdk, `${JSON.stringify(filter)}: ${ours}`);
  }
});

Deno.test("parseFilter drops unknown fields and repeated URIs, and bounds each URI", () => {
  assert.deepEqual(
    parseFilter({
      notifications: { toolsListChanged: true, x: 1, resourceSubscriptions: ["a", "a"] },
    }),
    { toolsListChanged: true, resourceSubscriptions: ["a"] },
  );
  assert.match(
    parseFilter({
      notifications: { resourceSubscriptions: ["x".repeat(MAX_URI_CHARS + 1)] },
    }) as string,
    new RegExp(
      `resourceSubscriptions\\[0\\] must be a non-empty string of at most ${MAX_URI_CHARS}`,
    ),
  );
  assert.match(
    parseFilter({ notifications: { resourceSubscriptions: [""] } }) as string,
    /resourceSubscriptions\[0\] must be a non-empty string.*got ""/,
  );
});

Deno.test("honoredFilter keeps only opted-in kinds that the capabilities allow", () => {
  const all = {
    tools: { listChanged: true },
    prompts: { listChanged: true },
    resources: { listChanged: true, subscribe: true },
  };
  const asked = {
    toolsListChanged: true,
    promptsListChanged: false,
    resourcesListChanged: true,
    resourceSubscriptions: ["a"],
  };
  assert.deepEqual(honoredFilter(asked, all, true), {
    toolsListChanged: true,
    resourcesListChanged: true,
    resourceSubscriptions: ["a"],
  });
  assert.deepEqual(honoredFilter(asked, all, false), {
    toolsListChanged: true,
    resourcesListChanged: true,
  });
  assert.deepEqual(honoredFilter(asked, { tools: {}, resources: { subscribe: true } }, true), {
    resourceSubscriptions: ["a"],
  });
  assert.deepEqual(honoredFilter({ resourceSubscriptions: [] }, all, true), {});
});

import assert from "node:assert/strict";
import { seconds } from "./main.ts";

Deno.test("seconds() turns lease flags into milliseconds, defaults included", () => {
  assert.equal(seconds(undefined, "--lease-duration", 15), 15_000);
  assert.equal(seconds("10", "--renew-deadline", 10), 10_000);
  assert.equal(seconds("0.5", "--retry-period", 2), 500);
  assert.throws(
    () => seconds("soon", "--retry-period", 2),
    /--retry-period: "soon" is not a positive number of seconds/,
  );
});

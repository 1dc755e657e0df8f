import assert from "node:assert/strict";
import { requiredEnv } from "./required_env.ts";

Deno.test("requiredEnv() reads the variable and names field and variable when it is unset", () => {
  const env = (n: string) => ({ SET: "v", EMPTY: "" } as Record<string, string>)[n];
  assert.equal(requiredEnv("a.keyEnv", "SET", env), "v");
  assert.equal(requiredEnv("a.keyEnv", "EMPTY", env), "");
  assert.throws(
    () => requiredEnv("a.keyEnv", "NOPE", env),
    new TypeError('Invalid a.keyEnv "NOPE": the environment variable is not set'),
  );
});

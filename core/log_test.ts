import assert from "node:assert/strict";
import { createLogger, warnAtMostEvery } from "./log.ts";

Deno.test("warnAtMostEvery warns once per interval, logs the rest at debug and counts them in the next warning", () => {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger({ level: "debug", sink: (l) => void lines.push(JSON.parse(l)) });
  let t = 0;
  const warn = warnAtMostEvery(log, 60_000, () => t);
  warn("refused", { n: 1 });
  t = 1000;
  warn("refused", { n: 2 });
  warn("refused", { n: 3 });
  t = 61_000;
  warn("refused", { n: 4 });
  assert.deepEqual(lines.map((l) => [l.level, l.n, l.sinceLastWarning]), [
    ["warn", 1, undefined],
    ["debug", 2, undefined],
    ["debug", 3, undefined],
    ["warn", 4, 2],
  ]);
});

/**
 * A logger whose level can change while the proxy runs (`operational.logLevel` on hot reload).
 * It filters the lines of a base logger; children made with `with()` follow the same level.
 * The base decides what finally gets written, so give it the lowest level that may be wanted.
 * @module
 */
import type { Logger, LogLevel } from "../core/log.ts";

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface LevelledLogger extends Logger {
  readonly level: LogLevel;
  setLevel(level: LogLevel): void;
}

/** Wraps `base`, passing only lines at or above `level` (changeable with `setLevel`). */
export function levelledLogger(base: Logger, level: LogLevel): LevelledLogger {
  const state = { level, min: RANK[level] };
  const wrap = (inner: Logger): Logger => ({
    debug(m, f) {
      if (state.min <= RANK.debug) inner.debug(m, f);
    },
    info(m, f) {
      if (state.min <= RANK.info) inner.info(m, f);
    },
    warn(m, f) {
      if (state.min <= RANK.warn) inner.warn(m, f);
    },
    error: (m, f) => inner.error(m, f),
    with: (fields) => wrap(inner.with(fields)),
  });
  const root = wrap(base);
  return {
    ...root,
    get level() {
      return state.level;
    },
    setLevel(next: LogLevel) {
      state.level = next;
      state.min = RANK[next];
    },
  };
}

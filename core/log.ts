/**
 * Structured JSON logging: one JSON object per line on stderr.
 *
 * Secrets never reach the log: values under keys that look like credentials are
 * replaced by `[redacted]` before the line is written. Strings longer than
 * `MAX_LOG_STRING_CHARS` (4 KiB) are cut with a marker `…(N bytes truncated)`.
 * @module
 */
import { MAX_LOG_STRING_CHARS, truncateText } from "./truncate.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
const SECRET_KEY = /pass(word)?|secret|token|authorization|cookie|api[-_]?key|credential/i;

/** A sink receives each finished log line; tests inject one to read what was logged. */
export type LogSink = (line: string) => void;

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger that adds `fields` to every line. */
  with(fields: Record<string, unknown>): Logger;
}

export interface LoggerOptions {
  /** @default "info" (or `VMCP_LOG_LEVEL`) */
  level?: LogLevel;
  /** @default a writer to stderr */
  sink?: LogSink;
  /** Fields added to every line. */
  fields?: Record<string, unknown>;
}

const encoder = new TextEncoder();
function stderrSink(line: string): void {
  Deno.stderr.writeSync(encoder.encode(line + "\n"));
}

/**
 * Replaces credential-looking values (recursively, bounded depth), serialises errors and cuts
 * long strings.
 */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === "string") return truncateText(value, MAX_LOG_STRING_CHARS);
  if (value instanceof Error) {
    return { name: value.name, message: truncateText(value.message, MAX_LOG_STRING_CHARS) };
  }
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      SECRET_KEY.test(k) && v !== undefined && typeof v !== "boolean" && typeof v !== "number"
        ? "[redacted]"
        : redact(v, depth + 1);
  }
  return out;
}

function envLevel(): LogLevel | undefined {
  try {
    const v = Deno.env.get("VMCP_LOG_LEVEL");
    return v && v in LEVELS ? v as LogLevel : undefined;
  } catch {
    return undefined;
  }
}

/** Creates a structured JSON logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = LEVELS[options.level ?? envLevel() ?? "info"];
  const sink = options.sink ?? stderrSink;
  const base = options.fields ?? {};
  function write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (LEVELS[level] < min) return;
    const line = { time: new Date().toISOString(), level, msg, ...base, ...fields };
    sink(JSON.stringify(redact(line)));
  }
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    with: (fields) =>
      createLogger({
        level: options.level ?? envLevel() ?? "info",
        sink,
        fields: { ...base, ...fields },
      }),
  };
}

/** A logger that drops everything (tests that do not read logs). */
export const silentLogger: Logger = createLogger({ sink: () => {} });

/**
 * A warning a client can trigger at will (a refused Host, a session limit): at most one line at
 * warn per `everyMs`, the rest at debug, each warn line counting what was logged at debug since
 * the last one, so a flood of refused requests cannot flood the log.
 */
export function warnAtMostEvery(
  log: Logger,
  everyMs: number,
  now: () => number = Date.now,
): (msg: string, fields?: Record<string, unknown>) => void {
  let warnedAt = -Infinity;
  let quiet = 0;
  return (msg, fields) => {
    const t = now();
    if (t - warnedAt < everyMs) {
      quiet++;
      log.debug(msg, fields);
      return;
    }
    warnedAt = t;
    log.warn(msg, quiet ? { ...fields, sinceLastWarning: quiet } : fields);
    quiet = 0;
  };
}

/**
 * Loads and strictly validates a proxy configuration (standalone file or rendered ConfigMap).
 * All problems are collected and reported together, each with its field path and value.
 * @module
 */
import YAML from "yaml";
import { type VmcpConfig, VmcpConfigSchema } from "../../crds/vmcp_config.ts";
import { ConfigError, type Problem, problemsFromZod } from "./problems.ts";
import { checkSemantics, type SemanticInput } from "./semantics.ts";
import { validateCompositeTools } from "./composite.ts";

export interface ParseOptions {
  /** Standalone configs may not reference Kubernetes Secrets. @default true */
  standalone?: boolean;
  /** Name used in error messages. @default "configuration" */
  source?: string;
}

/** Validates an already-parsed object; returns the config or all problems. */
export function validateConfig(
  input: unknown,
  options: ParseOptions = {},
): { config?: VmcpConfig; problems: Problem[] } {
  const standalone = options.standalone ?? true;
  const parsed = VmcpConfigSchema.safeParse(input);
  if (!parsed.success) {
    // Report the backend, cross-field and workflow rules too, on the sections that parse, so
    // one run lists everything.
    const raw = (input as { backends?: unknown })?.backends;
    const backends = Array.isArray(raw)
      ? raw.filter((b) => b && typeof b === "object") as RawBackend[]
      : [];
    const zodProblems = problemsFromZod(parsed.error, input, [], VmcpConfigSchema);
    const names = backends.map((b) => b.name).filter((n): n is string => typeof n === "string");
    const extra = [
      ...backendProblems(backends),
      ...checkSemantics(parsedSections(input), { standalone, backendNames: names }),
      // Unknown fields are already reported, each under its own path.
      ...validateCompositeTools((input as { compositeTools?: unknown })?.compositeTools)
        .filter((p) => !/Unrecognized key/.test(p.message)),
    ].filter((p) => !zodProblems.some((z) => z.path === p.path));
    return { problems: [...zodProblems, ...extra] };
  }
  const config = parsed.data;
  const problems: Problem[] = backendProblems(config.backends);
  const names = config.backends.map((b) => b.name);
  problems.push(
    ...checkSemantics(config, { standalone, backendNames: names }),
    // Tool-independent workflow checks (cycles, templates, step ids); tools need discovery.
    ...validateCompositeTools((input as { compositeTools?: unknown }).compositeTools),
  );
  return problems.length ? { problems } : { config, problems };
}

/** The top-level sections of `input` that parse on their own (for the cross-field rules). */
function parsedSections(input: unknown): SemanticInput {
  const out: Record<string, unknown> = {};
  if (!input || typeof input !== "object") return out;
  const shape = VmcpConfigSchema.shape;
  for (const key of Object.keys(shape) as (keyof typeof shape)[]) {
    if (key === "backends" || key === "compositeTools") continue;
    const r = shape[key].safeParse((input as Record<string, unknown>)[key]);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out as SemanticInput;
}

interface RawBackend {
  name?: unknown;
  transport?: unknown;
  url?: unknown;
  command?: unknown;
}

function backendProblems(backends: RawBackend[]): Problem[] {
  const problems: Problem[] = [];
  const names = backends.map((b) => b.name);
  backends.forEach((raw, i) => {
    const b = { ...raw, transport: raw.transport ?? "streamable-http" };
    if (names.indexOf(b.name) !== i) {
      problems.push({
        path: `backends[${i}].name`,
        message: "Duplicate backend name",
        value: b.name,
      });
    }
    if (b.transport === "stdio" && !b.command) {
      problems.push({ path: `backends[${i}].command`, message: 'Required for transport "stdio"' });
    }
    if (b.transport !== "stdio" && !b.url) {
      problems.push({
        path: `backends[${i}].url`,
        message: `Required for transport "${b.transport}"`,
      });
    }
    if (b.transport !== "stdio" && b.command) {
      problems.push({
        path: `backends[${i}].command`,
        message: `Only allowed for transport "stdio"`,
        value: b.command,
      });
    }
  });
  return problems;
}

/** Parses YAML or JSON text; throws `ConfigError` listing every problem. */
export function parseConfig(text: string, options: ParseOptions = {}): VmcpConfig {
  let input: unknown;
  try {
    input = YAML.parse(text, { version: "1.1" });
  } catch (e) {
    throw new ConfigError(
      [{ path: "(file)", message: `Not valid YAML: ${(e as Error).message}` }],
      options.source,
    );
  }
  const { config, problems } = validateConfig(input, options);
  if (!config) throw new ConfigError(problems, options.source);
  return config;
}

/** Reads and parses a config file. */
export async function loadConfigFile(
  path: string,
  options: ParseOptions = {},
): Promise<VmcpConfig> {
  const text = await Deno.readTextFile(path);
  return parseConfig(text, { source: path, ...options });
}

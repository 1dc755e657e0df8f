/**
 * A client's capability set as backends can see it: the normalized key of the capabilities a
 * client declared, under which vmcp keeps what backends offer to such a client
 * (capability_views.ts, docs/adr/0012-lists-per-client-capability-set.md).
 *
 * Normalization keeps the shape of the capabilities a server may branch on and nothing else:
 * - top-level `elicitation`, `extensions`, `roots`, `sampling` and `tasks` (`experimental` and
 *   unknown members are dropped);
 * - inside them, nested objects by member name (at most `MAX_MEMBERS` per object, the first in
 *   sorted order; names up to `MAX_NAME_CHARS`; `MAX_DEPTH` levels) and `true` flags
 *   (`roots.listChanged`); every other value is dropped.
 *
 * The key is the JSON of the normalized object with members in sorted order, so two clients that
 * declare the same set get the same key whatever their member order or extra values, and the key
 * stays short whatever a client sends. The normalized object is what vmcp declares when it asks a
 * backend on such a client's behalf (`capabilities`).
 * @module
 */
import type { ClientCapabilities } from "../core/sdk.ts";

type AnyObject = Record<string, unknown>;

/** Top-level capabilities that can change what a backend offers, sorted. */
export const CAPABILITY_MEMBERS = ["elicitation", "extensions", "roots", "sampling", "tasks"];
/** Members kept per object at most. */
export const MAX_MEMBERS = 16;
/** Longest member name kept. */
export const MAX_NAME_CHARS = 128;
/** Nesting kept below a top-level capability. */
export const MAX_DEPTH = 4;

/** One normalized capability set. */
export interface CapabilitySet {
  /** Canonical JSON of `capabilities`: equal sets, equal keys. */
  readonly key: string;
  /** The normalized capabilities (what vmcp declares when it asks for this set). */
  readonly capabilities: ClientCapabilities;
}

function shape(value: unknown, depth: number): unknown {
  if (value === true) return true;
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const out: AnyObject = {};
  if (depth >= MAX_DEPTH) return out;
  const names = Object.keys(value).filter((k) => k.length <= MAX_NAME_CHARS).sort();
  let kept = 0;
  for (const name of names) {
    if (kept >= MAX_MEMBERS) break;
    const s = shape((value as AnyObject)[name], depth + 1);
    if (s === undefined) continue;
    out[name] = s;
    kept++;
  }
  return out;
}

/** The normalized capability set of `caps` (see the module doc). */
export function normalizeCapabilities(caps: unknown): CapabilitySet {
  const out: AnyObject = {};
  if (caps !== null && typeof caps === "object" && !Array.isArray(caps)) {
    for (const name of CAPABILITY_MEMBERS) {
      const s = shape((caps as AnyObject)[name], 0);
      if (s !== undefined) out[name] = s;
    }
  }
  // Members were added in sorted order at every level: JSON.stringify is canonical.
  return { key: JSON.stringify(out), capabilities: out as ClientCapabilities };
}

/**
 * Where a capabilities object carries its set: a symbol (JSON never serializes it), set by plain
 * assignment (a tenth of `Object.defineProperty`'s cost on a request's new object).
 */
const SET = Symbol("vmcp.capabilitySet");
/** Sets per capabilities JSON text (2026-07-28 requests parse a new object each time). */
const byText = new Map<string, CapabilitySet>();
/** Texts kept as memo keys at most, and the longest kept. */
const MAX_TEXTS = 4096;
const MAX_TEXT_CHARS = 4096;

function remember(caps: object, set: CapabilitySet): CapabilitySet {
  if (Object.isExtensible(caps)) (caps as { [SET]?: CapabilitySet })[SET] = set;
  return set;
}

const NONE = normalizeCapabilities(undefined);

/** `normalizeCapabilities(caps)`, remembered on the capabilities object. */
export function capabilitySetOf(caps: ClientCapabilities | undefined): CapabilitySet {
  if (!caps || typeof caps !== "object") return NONE;
  return (caps as { [SET]?: CapabilitySet })[SET] ?? remember(caps, normalizeCapabilities(caps));
}

/**
 * `capabilitySetOf(caps)` for an object parsed from `text` (its JSON), remembered per text too:
 * a request's new object costs a lookup, not a normalization.
 */
export function capabilitySetOfText(text: string, caps: ClientCapabilities): CapabilitySet {
  const known = (caps as { [SET]?: CapabilitySet })[SET];
  if (known) return known;
  let set = byText.get(text);
  if (!set) {
    set = normalizeCapabilities(caps);
    if (text.length <= MAX_TEXT_CHARS) {
      if (byText.size >= MAX_TEXTS) byText.clear();
      byText.set(text, set);
    }
  }
  return remember(caps, set);
}

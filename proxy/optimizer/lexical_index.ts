/**
 * The keyword side of tool search: a BM25F index (bm25.ts) over each tool's name, title,
 * description, and parameter names and descriptions, terms as tokenize.ts makes them. `sync`
 * follows the catalogue incrementally: only tools whose definition changed are re-indexed (a
 * definition's text is compared, tools are matched by name).
 * @module
 */
import type { Tool } from "../../core/sdk.ts";
import { Bm25Index } from "./bm25.ts";
import { analyze } from "./tokenize.ts";

/** What is indexed of one tool. */
interface Doc {
  id: number;
  name: string;
  title: string;
  description: string;
  params: string;
}

/** A keyword match: the tool's advertised name and its BM25 score. */
export interface LexicalHit {
  name: string;
  score: number;
}

/** Weights of the fields in the BM25 score. */
const BOOST = { name: 3, title: 2, description: 1, params: 0.6 };
/** Text of a field indexed at most (a description longer than this adds little). */
const MAX_FIELD_CHARS = 4000;

/** Parameter names and descriptions of a JSON Schema (nested properties included, bounded). */
export function paramText(schema: unknown, depth = 0, out: string[] = []): string[] {
  if (!schema || typeof schema !== "object" || depth > 3 || out.length > 200) return out;
  const props = (schema as { properties?: unknown }).properties;
  if (props && typeof props === "object") {
    for (const [key, value] of Object.entries(props)) {
      out.push(key);
      const d = (value as { description?: unknown } | null)?.description;
      if (typeof d === "string") out.push(d);
      paramText(value, depth + 1, out);
    }
  }
  const items = (schema as { items?: unknown }).items;
  if (items) paramText(items, depth + 1, out);
  return out;
}

/**
 * `paramText(schema).join(" ")`, remembered per schema object (recomputes copy tools but keep
 * their `inputSchema` objects, so a re-sync of unchanged tools does not walk them again).
 */
const paramsCache = new WeakMap<object, string>();
export function paramsOf(schema: unknown): string {
  if (!schema || typeof schema !== "object") return "";
  let text = paramsCache.get(schema);
  if (text === undefined) paramsCache.set(schema, text = paramText(schema).join(" "));
  return text;
}

function clip(text: string): string {
  return text.length > MAX_FIELD_CHARS ? text.slice(0, MAX_FIELD_CHARS) : text;
}

function docOf(id: number, tool: Tool): Doc {
  return {
    id,
    name: tool.name,
    title: clip(tool.title ?? (tool.annotations?.title as string | undefined) ?? ""),
    description: clip(tool.description ?? ""),
    params: clip(paramsOf(tool.inputSchema)),
  };
}

function sameDoc(a: Doc, b: Doc): boolean {
  return a.title === b.title && a.description === b.description && a.params === b.params;
}

export interface SyncCounts {
  added: number;
  changed: number;
  removed: number;
}

/** One tool to (re-)index, analyzed. */
interface Upsert {
  doc: Doc;
  isNew: boolean;
  fields: [string[], number][];
}

/** What `apply` does to the index: made by `plan` (the costly part) off the index. */
export interface SyncPlan {
  readonly version: number;
  readonly upserts: readonly Upsert[];
  readonly removals: readonly string[];
}

/** How `plan` shares the event loop. */
export interface PlanSlicing {
  /** Milliseconds of work between pauses. */
  ms: number;
  now(): number;
  /** Gives the event loop back (e.g. `setTimeout(0)`). */
  pause(): Promise<void>;
  /** True when the plan is no longer wanted (checked after each pause). */
  superseded(): boolean;
}

export interface LexicalIndexOptions {
  /** Index concept terms beside words (tokenize.ts). @default true */
  concepts?: boolean;
}

/** Runs `steps` to the end in one go. */
function drain<T>(steps: Generator<void, T>): T {
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * Runs `steps` to the end, `slice.pause()` after each `slice.ms` of work; undefined when
 * `stop()` is true after a pause.
 */
async function inSlices<T>(
  steps: Generator<void, T>,
  slice: PlanSlicing,
  stop: () => boolean,
): Promise<T | undefined> {
  let start = slice.now();
  for (let r = steps.next();; r = steps.next()) {
    if (r.done) return r.value;
    if (slice.now() - start < slice.ms) continue;
    await slice.pause();
    if (stop()) return undefined;
    start = slice.now();
  }
}

export class LexicalIndex {
  readonly #index = new Bm25Index();
  readonly #concepts: boolean;
  /** Indexed docs by tool name. */
  readonly #docs = new Map<string, Doc>();
  readonly #names = new Map<number, string>();
  /** Ids of removed docs, reused (the score array stays as large as the catalogue). */
  readonly #free: number[] = [];
  #nextId = 0;
  /** Changes applied so far (a plan is valid only for the version it was made at). */
  #version = 0;

  constructor(opts: LexicalIndexOptions = {}) {
    this.#concepts = opts.concepts ?? true;
  }

  /** Tools indexed now. */
  get size(): number {
    return this.#docs.size;
  }

  /**
   * Makes the index hold exactly `tools` (matched by name; a changed definition is
   * re-indexed), in one go. Returns how many were added, changed and removed.
   */
  sync(tools: readonly Tool[]): SyncCounts {
    return this.apply(drain(this.#plan(tools)));
  }

  /**
   * The work of `sync(tools)` without touching the index: tools are compared and analyzed a
   * slice at a time, `slice.pause()` between slices (after `slice.ms` of work by `slice.now`),
   * so the event loop is not held. Undefined when `slice.superseded()` turns true at a pause
   * (a newer catalogue came). `apply` the plan before any other sync.
   */
  plan(tools: readonly Tool[], slice: PlanSlicing): Promise<SyncPlan | undefined> {
    return inSlices(this.#plan(tools), slice, slice.superseded);
  }

  /** Compares and analyzes `tools` against the index, yielding after each tool. */
  *#plan(tools: readonly Tool[]): Generator<void, SyncPlan> {
    const seen = new Set<string>();
    const upserts: Upsert[] = [];
    const c = this.#concepts;
    for (const tool of tools) {
      if (seen.has(tool.name)) continue;
      seen.add(tool.name);
      const old = this.#docs.get(tool.name);
      const doc = docOf(old?.id ?? -1, tool);
      if (old && sameDoc(old, doc)) continue;
      upserts.push({
        doc,
        isNew: !old,
        fields: [
          [analyze(doc.name, c), BOOST.name],
          [analyze(doc.title, c), BOOST.title],
          [analyze(doc.description, c), BOOST.description],
          [analyze(doc.params, c), BOOST.params],
        ],
      });
      yield;
    }
    const removals: string[] = [];
    for (const name of this.#docs.keys()) if (!seen.has(name)) removals.push(name);
    return { version: this.#version, upserts, removals };
  }

  /** Applies a plan made by `plan`, in one go. */
  apply(plan: SyncPlan): SyncCounts {
    return drain(this.#apply(plan));
  }

  /**
   * Applies a plan made by `plan` a slice at a time (`slice.superseded` is not asked: an apply
   * is never left half done). Searches in between see a partly updated index.
   */
  async applyInSlices(plan: SyncPlan, slice: PlanSlicing): Promise<SyncCounts> {
    return (await inSlices(this.#apply(plan), slice, () => false))!;
  }

  *#apply(plan: SyncPlan): Generator<void, SyncCounts> {
    if (plan.version !== this.#version) {
      throw new Error("LexicalIndex: a plan was applied after another change to the index");
    }
    this.#version++;
    let added = 0, changed = 0;
    for (const { doc, isNew, fields } of plan.upserts) {
      if (isNew) {
        doc.id = this.#free.pop() ?? this.#nextId++;
        added++;
      } else changed++;
      this.#docs.set(doc.name, doc);
      this.#names.set(doc.id, doc.name);
      this.#index.add(doc.id, fields);
      yield;
    }
    for (const name of plan.removals) {
      this.#discard(this.#docs.get(name)!);
      this.#docs.delete(name);
      yield;
    }
    return { added, changed, removed: plan.removals.length };
  }

  #discard(doc: Doc): void {
    this.#index.remove(doc.id);
    this.#names.delete(doc.id);
    this.#free.push(doc.id);
  }

  /**
   * Tools matching `query`, best first (every match; `keep` drops names the caller may not
   * see before they count towards `limit`).
   */
  search(query: string, limit: number, keep?: (name: string) => boolean): LexicalHit[] {
    const names = this.#names;
    const hits = this.#index.search(
      analyze(query, this.#concepts),
      limit,
      keep && ((id) => keep(names.get(id)!)),
    );
    return hits.map((h) => ({ name: names.get(h.id)!, score: h.score }));
  }
}

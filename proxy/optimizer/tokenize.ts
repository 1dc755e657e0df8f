/**
 * How tool text and search queries become terms for the BM25 index (lexical_index.ts):
 *
 * - `splitWords` splits on anything not a letter or digit and inside identifiers: `snake_case`,
 *   `kebab-case`, `camelCase`, `PascalCase`, `HTTPServer` → `http server`, `list2Files` →
 *   `list 2 files`;
 * - `termsOf` lower-cases, drops stop words (English function words and words every tool
 *   description has, like "tool"), reduces a word to a crude stem (plural, -ing, -ed, -e: "files"
 *   and "file", "creating" and "create" meet) and adds the concept a common verb or noun belongs
 *   to (`~delete` for delete, remove, erase…), so a query that says "remove" finds a tool that
 *   says "delete" (an exact word still scores higher: it matches both terms).
 * @module
 */

const STOP_WORDS = new Set(
  ("a an the to of in on at by for from with without into onto about as is are was were be been " +
    "being it its this that these those there here i me my we our you your he she they them " +
    "their can could would should will shall may might must do does did done have has had " +
    "and or not no nor but if then than so such very just also too any some all each every " +
    "which what who whom whose when where why how please want wants need needs like " +
    "tool tools using use used via e.g eg etc").split(" "),
);

/**
 * Words meaning about the same thing in tool descriptions and requests, by concept. Kept
 * small and generic (verbs of CRUD, search and I/O): a concept term is indexed beside the word.
 */
const CONCEPTS: Record<string, string[]> = {
  get: ["get", "fetch", "retrieve", "obtain", "read", "load", "show", "view", "display", "open"],
  create: ["create", "make", "add", "new", "insert", "generate", "build", "register"],
  delete: ["delete", "remove", "erase", "drop", "destroy", "purge", "unlink", "trash"],
  update: ["update", "edit", "modify", "change", "alter", "patch", "amend", "replace"],
  list: ["list", "enumerate", "listing", "index", "catalog", "browse"],
  search: ["search", "find", "lookup", "look", "query", "locate", "discover", "grep", "seek"],
  run: ["run", "execute", "exec", "invoke", "launch", "start", "trigger", "perform"],
  write: ["write", "save", "store", "persist", "record", "put"],
  send: ["send", "post", "publish", "message", "notify", "reply", "dm"],
  move: ["move", "rename", "relocate", "mv"],
  copy: ["copy", "duplicate", "clone"],
  stop: ["stop", "kill", "terminate", "halt", "cancel", "abort", "close"],
  directory: ["directory", "folder", "dir", "directories", "folders"],
  file: ["file", "files", "document", "doc"],
  picture: ["image", "picture", "photo", "screenshot", "png", "jpeg", "jpg"],
  web: ["web", "url", "website", "webpage", "page", "site", "http", "link"],
  repository: ["repository", "repo", "project"],
  time: ["time", "clock", "date", "timezone", "timestamp"],
  wait: ["wait", "sleep", "delay", "pause"],
  user: ["user", "member", "person", "people", "profile", "account"],
  log: ["log", "logs", "logging", "output"],
  database: ["database", "db", "sql", "table", "tables", "schema"],
  info: ["info", "information", "metadata", "stat", "stats", "details", "properties", "describe"],
  error: ["error", "fail", "failure", "exception"],
  docs: ["docs", "documentation", "manual", "reference", "library", "api"],
};

const CONCEPT_OF = new Map<string, string[]>();
for (const [concept, words] of Object.entries(CONCEPTS)) {
  for (const w of [...words, ...words.map(stem)]) {
    const list = CONCEPT_OF.get(w) ?? [];
    if (!list.includes(`~${concept}`)) list.push(`~${concept}`);
    CONCEPT_OF.set(w, list);
  }
}

const IDENTIFIER_BREAKS = [
  /([a-z0-9])([A-Z])/g, // camelCase → camel Case
  /([A-Z]+)([A-Z][a-z])/g, // HTTPServer → HTTP Server
  /([a-zA-Z])([0-9])/g, // list2 → list 2
  /([0-9])([a-zA-Z])/g,
];
const NON_WORD = /[^\p{L}\p{N}]+/u;

/** Splits text and identifiers into words (case kept). */
export function splitWords(text: string): string[] {
  let s = text;
  for (const re of IDENTIFIER_BREAKS) s = s.replace(re, "$1 $2");
  return s.split(NON_WORD).filter((w) => w.length > 0);
}

/** A crude, consistent stem: "files"→"file", "creating"/"created"/"create"→"creat". */
export function stem(word: string): string {
  let w = word;
  if (w.length <= 3) return w;
  if (w.endsWith("ies") && w.length > 4) w = w.slice(0, -3) + "y";
  else if (w.endsWith("sses")) w = w.slice(0, -2);
  else if (w.endsWith("s") && !w.endsWith("ss") && !w.endsWith("us") && !w.endsWith("is")) {
    w = w.slice(0, -1);
  }
  if (w.endsWith("ing") && w.length > 5) w = w.slice(0, -3);
  else if (w.endsWith("ed") && w.length > 4) w = w.slice(0, -2);
  if (w.endsWith("e") && w.length > 3) w = w.slice(0, -1);
  return w;
}

/**
 * The index terms of one word: nothing for a stop word, else its stem plus the concepts it
 * belongs to.
 */
export function termsOf(word: string, concepts = true): string[] | null {
  const w = word.toLowerCase();
  if (STOP_WORDS.has(w)) return null;
  const s = stem(w);
  if (!concepts) return [s];
  const found = CONCEPT_OF.get(w) ?? CONCEPT_OF.get(s);
  return found ? [s, ...found] : [s];
}

/** Every index term of `text`, in order (what BM25 counts); `concepts: false` for words only. */
export function analyze(text: string, concepts = true): string[] {
  const out: string[] = [];
  for (const w of splitWords(text)) {
    const t = termsOf(w, concepts);
    if (t) out.push(...t);
  }
  return out;
}

import assert from "node:assert/strict";
import {
  evaluateTemplate,
  parseTemplate,
  renderTemplate,
  rootFieldPaths,
  TemplateExecError,
  TemplateSyntaxError,
} from "./template.ts";

const data = {
  params: { name: "Ada", count: 3, ratio: 0.5, on: true, off: false, empty: "", tags: ["a", "b"] },
  steps: {
    fetch: {
      status: "completed",
      output: { items: [{ id: 1 }, { id: 2 }], meta: { "x-y": "hy" }, text: '{"k":"v"}' },
    },
    "my-step": { status: "skipped", output: { v: 1 } },
  },
  workflow: { id: "wf-1" },
};
const r = (src: string, d: unknown = data) => renderTemplate(parseTemplate(src), d);
const ev = (src: string, d: unknown = data) => evaluateTemplate(parseTemplate(src), d);

function syntaxError(src: string): TemplateSyntaxError {
  try {
    parseTemplate(src);
  } catch (e) {
    assert.ok(e instanceof TemplateSyntaxError, `expected TemplateSyntaxError, got ${e}`);
    return e;
  }
  throw new Error(`template ${JSON.stringify(src)} parsed without error`);
}

Deno.test("renders plain text and nested fields", () => {
  assert.equal(r("hello"), "hello");
  assert.equal(r("Hi {{.params.name}}, {{.params.count}} items"), "Hi Ada, 3 items");
  assert.equal(r("{{.steps.fetch.status}}"), "completed");
  assert.equal(r("{{.workflow.id}}"), "wf-1");
});

Deno.test("missing fields render as <no value> and evaluate to undefined", () => {
  assert.equal(r("{{.params.nope}}"), "<no value>");
  assert.equal(r("{{.params.nope.deeper}}"), "<no value>");
  assert.equal(ev("{{.params.nope}}"), undefined);
});

Deno.test("a single action keeps the value's type", () => {
  assert.equal(ev("{{.params.count}}"), 3);
  assert.equal(ev("{{.params.on}}"), true);
  assert.deepEqual(ev("{{.steps.fetch.output.items}}"), [{ id: 1 }, { id: 2 }]);
  assert.equal(ev(" {{.params.count}}"), " 3");
  assert.equal(ev("{{.params.count}}{{.params.count}}"), "33");
  assert.equal(ev('{{eq .params.name "Ada"}}'), true);
});

Deno.test("objects and arrays render as JSON", () => {
  assert.equal(r("{{.params.tags}}"), '["a","b"]');
  assert.equal(r("{{.steps.fetch.output.items}}"), '[{"id":1},{"id":2}]');
});

Deno.test("field names may contain hyphens and index reaches any key", () => {
  assert.equal(r("{{.steps.my-step.output.v}}"), "1");
  assert.equal(r('{{index .steps "my-step" "status"}}'), "skipped");
  assert.equal(r('{{index .steps.fetch.output.meta "x-y"}}'), "hy");
});

Deno.test("index works on arrays and maps and rejects out-of-range array indexes", () => {
  assert.equal(r("{{index .params.tags 1}}"), "b");
  assert.equal(r("{{(index .steps.fetch.output.items 0).id}}"), "1");
  assert.equal(r('{{index .params "missing"}}'), "<no value>");
  assert.throws(() => r("{{index .params.tags 5}}"), /1:3: index: index out of range: 5/);
});

Deno.test("if, else if and else choose the right branch", () => {
  const t = parseTemplate(
    "{{if gt .n 10}}big{{else if gt .n 5}}medium{{else}}small{{end}}",
  );
  assert.equal(renderTemplate(t, { n: 11 }), "big");
  assert.equal(renderTemplate(t, { n: 6 }), "medium");
  assert.equal(renderTemplate(t, { n: 1 }), "small");
  assert.equal(r("{{if .params.empty}}x{{else}}empty{{end}}"), "empty");
  assert.equal(r("{{if .params.tags}}has tags{{end}}"), "has tags");
  assert.equal(r("{{if .params.missing}}x{{end}}"), "");
});

Deno.test("comparison functions work on numbers and strings", () => {
  assert.equal(r("{{eq .params.count 3}}"), "true");
  assert.equal(r("{{eq .params.count 3.0}}"), "true");
  assert.equal(r('{{eq .params.name "Bob" "Ada"}}'), "true");
  assert.equal(r('{{ne .params.name "Ada"}}'), "false");
  assert.equal(r("{{lt 1 2}} {{le 2 2}} {{gt 1 2}} {{ge 2 3}}"), "true true false false");
  assert.equal(r('{{lt "a" "b"}}'), "true");
  assert.throws(() => r('{{lt 1 "b"}}'), /incompatible types for comparison: number and string/);
});

Deno.test("and, or and not follow Go truthiness and short-circuit", () => {
  assert.equal(r("{{and .params.on .params.off}}"), "false");
  assert.equal(r("{{and .params.on .params.name}}"), "Ada");
  assert.equal(r("{{or .params.empty .params.name}}"), "Ada");
  assert.equal(r("{{not .params.off}}"), "true");
  assert.equal(r("{{or .params.on (index .params.tags 99)}}"), "true");
  assert.equal(r("{{and (eq .params.count 3) (not .params.off)}}"), "true");
});

Deno.test("len counts strings, arrays and maps", () => {
  assert.equal(r("{{len .params.name}} {{len .params.tags}} {{len .params}}"), "3 2 7");
  assert.throws(() => r("{{len .params.count}}"), /len of type number/);
});

Deno.test("printf supports the basic verbs", () => {
  assert.equal(r('{{printf "%s has %d items" .params.name .params.count}}'), "Ada has 3 items");
  assert.equal(
    r('{{printf "%v|%q|%t|%.2f|%5d|%-3s|%%" .params.tags "x" true 1.5 42 "a"}}'),
    '["a","b"]|"x"|true|1.50|   42|a  |%',
  );
  assert.equal(r('{{printf "%d"}}'), "%!d(MISSING)");
  assert.equal(r('{{printf "%d" 1.5}}'), "%!d(number=1.5)");
});

Deno.test("json, quote and fromJson round-trip values", () => {
  assert.equal(r("{{json .params.tags}}"), '["a","b"]');
  assert.equal(r("{{json .params.missing}}"), "null");
  assert.equal(r('{{quote "say \\"hi\\""}}'), '"say \\"hi\\""');
  assert.equal(r("{{(fromJson .steps.fetch.output.text).k}}"), "v");
  assert.deepEqual(ev("{{fromJson .steps.fetch.output.text}}"), { k: "v" });
  assert.throws(() => r('{{fromJson "{nope"}}'), /fromJson: invalid JSON/);
});

Deno.test("pipelines pass the value as the last argument", () => {
  assert.equal(r("{{.params.tags | len}}"), "2");
  assert.equal(r('{{.params.name | printf "<%s>"}}'), "<Ada>");
  assert.equal(r("{{.params.tags | json | quote}}"), '"[\\"a\\",\\"b\\"]"');
});

Deno.test("literals: strings, raw strings, numbers, booleans, nil", () => {
  assert.equal(ev('{{"a\\tb"}}'), "a\tb");
  assert.equal(ev("{{`raw\\n`}}"), "raw\\n");
  assert.equal(ev("{{-1.5e2}}"), -150);
  assert.equal(ev("{{0x1F}}"), 31);
  assert.equal(ev("{{true}}"), true);
  assert.equal(r("{{eq .params.missing nil}}"), "true");
});

Deno.test("range and with iterate and rebind the dot", () => {
  assert.equal(r("{{range .params.tags}}[{{.}}]{{end}}"), "[a][b]");
  assert.equal(r("{{range $i, $t := .params.tags}}{{$i}}={{$t}} {{end}}"), "0=a 1=b ");
  assert.equal(r("{{range .params.none}}x{{else}}none{{end}}"), "none");
  assert.equal(r("{{with .steps.fetch.output}}{{len .items}}{{end}}"), "2");
  assert.equal(r("{{range .params.tags}}{{$.params.name}}{{end}}"), "AdaAda");
  assert.equal(r("{{$n := .params.count}}{{$n}}"), "3");
});

Deno.test("trim markers and comments remove whitespace and text", () => {
  assert.equal(r("a  {{- .params.name -}}  b"), "aAdab");
  assert.equal(r("a {{/* comment */}}b"), "a b");
  assert.equal(r("a {{- /* c */ -}} b"), "ab");
});

Deno.test("field access on a scalar is an execution error with position", () => {
  const err = assert.throws(() => r("x {{.params.name.first}}"), TemplateExecError);
  void err;
  assert.throws(
    () => r("x {{.params.name.first}}"),
    /1:5: can't evaluate field first in type string/,
  );
});

Deno.test("syntax errors carry line and column", () => {
  const e1 = syntaxError("{{.params.x");
  assert.match(e1.message, /unclosed action/);
  assert.deepEqual([e1.position.line, e1.position.column], [1, 3]);
  const e2 = syntaxError("line1\n  {{if .x}}no end");
  assert.match(e2.message, /^template: 2:5: .*has no matching \{\{end\}\}/);
  const e3 = syntaxError("{{.steps.confirm.action == 'accept'}}");
  assert.match(e3.message, /single quotes|unexpected/);
  const e4 = syntaxError("{{nosuch .x}}");
  assert.match(e4.message, /1:3: function "nosuch" not defined/);
  const e5 = syntaxError("{{eq .x}}");
  assert.match(e5.message, /wrong number of args for eq: want at least 2 got 1/);
  assert.match(syntaxError("{{end}}").message, /unexpected \{\{end\}\}/);
  assert.match(syntaxError("{{$x}}").message, /undefined variable "\$x"/);
  assert.match(syntaxError("{{.a .b}}").message, /can't give argument to non-function \.a/);
  assert.match(syntaxError("{{}}").message, /missing value/);
  assert.match(syntaxError('{{"abc}}').message, /unterminated quoted string/);
  assert.match(syntaxError("{{not eq 1 2}}").message, /needs parentheses/);
  assert.match(syntaxError("{{.x | .y}}").message, /can't pipe into non-function/);
});

Deno.test("single quotes are rejected with a hint to use double quotes", () => {
  const e = syntaxError("{{eq .steps.c.output.action 'accept'}}");
  assert.match(e.message, /1:29: single quotes .* use double quotes instead of 'accept'/);
});

Deno.test("rootFieldPaths lists root references, including $ and index with literals", () => {
  const t = parseTemplate(
    '{{.steps.a.output.x}}{{range .steps.b.output.items}}{{.id}}{{$.steps.c.status}}{{end}}{{index .steps "d-e" "output"}}',
  );
  assert.deepEqual(rootFieldPaths(t), [
    ["steps", "a", "output", "x"],
    ["steps", "b", "output", "items"],
    ["steps", "c", "status"],
    ["steps", "d-e", "output"],
  ]);
});

Deno.test("prototype properties are not reachable", () => {
  assert.equal(r("{{.params.constructor}}"), "<no value>");
  assert.equal(r('{{index .params "__proto__"}}'), "<no value>");
});

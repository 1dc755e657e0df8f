import assert from "node:assert/strict";
import { Http1ProtocolError } from "../../core/http1_wire.ts";
import {
  BackendTimeoutError,
  BackendUnavailableError,
  describeError,
  failureReason,
  refusal,
  requestOutcome,
  ResponseStreamEnded,
} from "./errors.ts";

const connectFailed = () =>
  new TypeError("http://127.0.0.1:1: connect failed (Connection refused (os error 111))", {
    cause: new Deno.errors.ConnectionRefused("Connection refused (os error 111)"),
  });

Deno.test("wrapping an unavailable error, or a health message built from one, never repeats its text", () => {
  const inner = new BackendUnavailableError("web", describeError(new Http1ProtocolError("boom")));
  const again = new BackendUnavailableError("web", describeError(inner));
  assert.equal(again.message, inner.message);
  assert.equal(new BackendUnavailableError("web", inner.message).message, inner.message);
  const refused = refusal("web", `${failureReason(inner)} (failures: 3)`);
  assert.equal((refused.message.match(/is unavailable/g) ?? []).length, 1, refused.message);
  assert.doesNotMatch(refused.message, /unavailable: unavailable/);
  const timeout = refusal("web", describeError(new BackendTimeoutError("web", 400, "ping")));
  assert.equal((timeout.message.match(/Backend "web"/g) ?? []).length, 1, timeout.message);
});

Deno.test("a request that never reached the backend says not sent; one sent and unanswered says the outcome is unknown", () => {
  assert.equal(requestOutcome(connectFailed()), "not-sent");
  const notSent = new BackendUnavailableError("b", describeError(connectFailed()));
  assert.match(notSent.message, /^Backend "b" is unavailable: the request was not sent \(/);
  assert.deepEqual((notSent.data as { outcome: string }).outcome, "not-sent");

  for (
    const err of [
      new Http1ProtocolError(
        "the connection closed before a response; a written POST is not resent",
      ),
      new Deno.errors.ConnectionReset("Connection reset by peer (os error 104)"),
      new ResponseStreamEnded(),
    ]
  ) {
    assert.equal(requestOutcome(err), "unknown", err.name);
    const e = new BackendUnavailableError("b", describeError(err));
    assert.match(e.message, /the backend closed the connection after the request was sent/);
    assert.equal(e.outcome, "unknown");
    // The health message keeps the cause without the per-request wording.
    assert.doesNotMatch(failureReason(e), /outcome is unknown|not sent/);
  }
  assert.equal(requestOutcome(new Error("something else")), undefined);
  assert.equal(refusal("b", "x").outcome, "not-sent");
});

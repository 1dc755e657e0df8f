/**
 * `rateLimiting`: token-bucket limits on `tools/call`, in ToolHive's shape (`global`, `perUser`,
 * `tools[{name, global, perUser}]`, each bucket `{maxTokens, refillPeriod}`; `shared` is
 * ToolHive's older name of `global`). Shared by the CRD spec and the standalone file.
 * @module
 */
import { z } from "zod";
import { duration } from "./common.ts";

/** Largest `maxTokens` accepted (ToolHive's field is an int32). */
export const MAX_BUCKET_TOKENS = 2_147_483_647;
const TOKENS_ALLOWED = "must be a whole number of tokens; allowed: 1 to 2147483647";

export const RateLimitBucketSchema = z.strictObject({
  maxTokens: z.number().int(TOKENS_ALLOWED).min(1, TOKENS_ALLOWED).max(
    MAX_BUCKET_TOKENS,
    TOKENS_ALLOWED,
  ).describe(
    "Bucket capacity: calls allowed in a burst. Allowed: 1 to 2147483647.",
  ),
  refillPeriod: duration(
    "Time to refill the whole bucket from empty (tokens come back evenly: maxTokens per refillPeriod), e.g. 1m.",
    { min: "1ms", max: "8760h" },
  ),
}).describe(
  "A token bucket: at most maxTokens calls at once, refilled at maxTokens per refillPeriod.",
);
export type RateLimitBucket = z.infer<typeof RateLimitBucketSchema>;

const bucketPair = {
  global: RateLimitBucketSchema.optional(),
  shared: RateLimitBucketSchema.optional(),
  perUser: RateLimitBucketSchema.optional(),
};

/** `shared` is an alias of `global`; both at once is refused. */
function refineAlias(
  v: { global?: unknown; shared?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (v.global && v.shared) {
    ctx.addIssue({
      code: "custom",
      path: ["shared"],
      message: 'Deprecated alias of "global"; set only one of global and shared',
    });
  }
}

export const RateLimitToolSchema = z.strictObject({
  name: z.string().min(1).describe(
    'The tool name as clients call it (the advertised name, e.g. with its backend prefix), or a composite tool\'s name. With tool search (optimizer), "find_tool" limits searches (which never count against the server-wide global/perUser); a call through call_tool counts as a call of the tool it names.',
  ),
  global: bucketPair.global.describe("One bucket for every caller of this tool."),
  shared: bucketPair.shared.describe('Deprecated alias of "global" (ToolHive\'s older name).'),
  perUser: bucketPair.perUser.describe(
    "One bucket per authenticated identity (issuer + subject) for this tool.",
  ),
}).superRefine((t, ctx) => {
  refineAlias(t, ctx);
  if (!t.global && !t.shared && !t.perUser) {
    ctx.addIssue({
      code: "custom",
      path: [],
      message: `Tool "${t.name}" sets no limit; allowed: global, perUser (or both)`,
    });
  }
}).describe("Limits of one tool, on top of the server-wide ones.");

export const RateLimitingSchema = z.strictObject({
  global: bucketPair.global.describe(
    "One bucket for every tools/call of every caller (the whole server; with redis session storage, every replica together).",
  ),
  shared: bucketPair.shared.describe('Deprecated alias of "global" (ToolHive\'s older name).'),
  perUser: bucketPair.perUser.describe(
    "One bucket per authenticated identity (issuer + subject) for all its tools/call requests; needs incomingAuth oidc or kubernetes.",
  ),
  tools: z.array(RateLimitToolSchema).optional().describe(
    "Per-tool limits. A composite tool's steps count against the per-tool limits of the tools they call (not against global/perUser again).",
  ),
}).superRefine((r, ctx) => {
  refineAlias(r, ctx);
  const seen = new Set<string>();
  (r.tools ?? []).forEach((t, i) => {
    if (seen.has(t.name)) {
      ctx.addIssue({
        code: "custom",
        path: ["tools", i, "name"],
        message: `Duplicate tool "${t.name}": one entry per tool`,
        input: t.name,
      });
    }
    seen.add(t.name);
  });
}).describe(
  "Token-bucket rate limits on tools/call (off when absent). In memory per replica, shared through Redis when sessionStorage.provider is redis. A refused call gets JSON-RPC error -32029 with data.retryAfterSeconds and counts in vmcp_rate_limited_total.",
);
export type RateLimiting = z.infer<typeof RateLimitingSchema>;

/**
 * `audit`: the audit trail of security-relevant actions (ToolHive's `audit` block, plus where
 * events go). Off by default. The proxy side is proxy/audit/.
 * @module
 */
import { z } from "zod";

/** Every audit event type, in the order the README lists them. */
export const AUDIT_EVENT_TYPES = [
  "session_opened",
  "session_closed",
  "session_refused",
  "mcp_tool_call",
  "mcp_tool_search",
  "mcp_prompt_get",
  "mcp_resource_read",
  "auth_failed",
  "workflow_started",
  "workflow_completed",
  "workflow_failed",
  "workflow_timed_out",
  "workflow_step_started",
  "workflow_step_completed",
  "workflow_step_failed",
  "workflow_step_skipped",
  "workflow_step_retrying",
  "workflow_step_timed_out",
] as const;
export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

const eventType = z.enum(AUDIT_EVENT_TYPES);

export const AuditConfigSchema = z.strictObject({
  enabled: z.boolean().default(false).describe(
    "Write one JSON event per security-relevant action (sessions, tools/call, prompts/get, resources/read, authorization denials, authentication failures, composite workflows and their steps).",
  ),
  eventTypes: z.array(eventType).optional().describe(
    `Only these event types are written (absent or empty: all). Allowed: ${
      AUDIT_EVENT_TYPES.join(", ")
    }.`,
  ),
  excludeEventTypes: z.array(eventType).optional().describe(
    "Event types never written; wins over eventTypes.",
  ),
  includeRequestData: z.boolean().default(false).describe(
    "Add the call's arguments (tools/call, prompts/get, a composite workflow's parameters) to its event as data.request, with credential-looking keys and values (password, token, secret, authorization, api key, bearer values, JWTs) replaced by [redacted] and cut to maxDataSize.",
  ),
  maxDataSize: z.number().int().min(16).max(1_048_576).default(1024).describe(
    "Bytes of request data an event keeps (JSON text); longer data is cut and marked truncated.",
  ),
  output: z.enum(["stderr", "file"]).default("stderr").describe(
    "Where events go: stderr (beside the operational log, told apart by the audit: true key) or file (appended to filePath).",
  ),
  filePath: z.string().min(1).optional().describe(
    "The file events are appended to (created with mode 0600 when missing); required with output file, refused otherwise. The proxy does not start when it cannot open it. In a cluster it must be a path the container can write (a mounted volume); stderr is what kubectl logs and log collectors read.",
  ),
  maxBufferedEvents: z.number().int().min(100).max(1_000_000).default(10_000).describe(
    "Events waiting to be written. Events are written in the background in batches; while the output cannot keep up and this many wait, new events are dropped and counted in vmcp_audit_events_dropped_total.",
  ),
}).superRefine((a, ctx) => {
  if (a.output === "file" && a.filePath === undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["filePath"],
      message: 'Required with output "file": the file events are appended to',
    });
  }
  if (a.output !== "file" && a.filePath !== undefined) {
    ctx.addIssue({
      code: "custom",
      path: ["filePath"],
      message:
        `Only used with output "file" (output is "${a.output}"); set output: file or remove it`,
      input: a.filePath,
    });
  }
}).describe(
  "Audit trail (off by default): one JSON line per security-relevant action, marked audit: true, written in the background without slowing calls. Secrets never appear in events.",
);
export type AuditConfig = z.infer<typeof AuditConfigSchema>;
export type AuditConfigInput = z.input<typeof AuditConfigSchema>;

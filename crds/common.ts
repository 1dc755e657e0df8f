/**
 * Building blocks shared by every vmcp CRD schema: durations, references, conditions.
 * Every field carries a description; it becomes the CRD's and the docs' field text.
 * @module
 */
import { z } from "zod";
import {
  checkDuration,
  describeBounds,
  DURATION_PATTERN,
  type DurationBounds,
} from "../core/duration.ts";

export const API_GROUP = "toolhive.stacklok.dev";
export const API_VERSION = "v1alpha1";
export const GROUP_VERSION = `${API_GROUP}/${API_VERSION}`;

/** Server-side-apply field managers: each status field has exactly one writer. */
export const CONTROLLER_FIELD_MANAGER = "vmcp-controller";
/** The proxy writes only `status.discoveredBackends` of its VirtualMCPServer. */
export const PROXY_FIELD_MANAGER = "vmcp-proxy";

/**
 * A Go-style duration string such as `30s`, `5m` or `1h30m`. With `bounds`, values outside
 * the range are rejected (message names the range) and the description states the range.
 */
export function duration(description: string, bounds?: DurationBounds) {
  const pattern = new RegExp(DURATION_PATTERN);
  const s = z.string().regex(
    pattern,
    'must be a Go duration such as "30s", "5m", "1h30m" or "500ms"',
  );
  if (!bounds) return s.describe(description);
  return s.superRefine((value, ctx) => {
    if (!pattern.test(value)) return; // reported by the pattern
    const message = checkDuration(value, bounds);
    if (message) ctx.addIssue({ code: "custom", message, input: value });
  }).describe(`${description} Allowed: ${describeBounds(bounds)}.`);
}

export const LocalObjectRefSchema = z.strictObject({
  name: z.string().min(1).describe("Name of the referenced object in the same namespace."),
}).describe("Reference to an object in the same namespace.");

export const SecretKeyRefSchema = z.strictObject({
  name: z.string().min(1).describe("Name of the Secret in the same namespace."),
  key: z.string().min(1).describe("Key within the Secret."),
}).describe("Reference to one key of a Secret in the same namespace.");

export const ConditionSchema = z.object({
  type: z.string().describe("Type of the condition, PascalCase (e.g. Ready)."),
  status: z.enum(["True", "False", "Unknown"]).describe("Status of the condition."),
  reason: z.string().describe("One-word CamelCase reason for the last transition."),
  message: z.string().optional().describe("Human-readable detail about the last transition."),
  lastTransitionTime: z.string().describe("When the status last changed (RFC 3339)."),
  observedGeneration: z.number().int().optional().describe(
    "The metadata.generation the condition was computed from.",
  ),
}).describe("A standard metav1.Condition.");
export type Condition = z.infer<typeof ConditionSchema>;

export const ConditionsSchema = z.array(ConditionSchema).describe(
  "Latest observations of the object's state, keyed by type.",
).meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] });

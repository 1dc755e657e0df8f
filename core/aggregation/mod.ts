/**
 * Aggregation core: merges backend capabilities into one deterministic view and routes back.
 * @module
 */
export { aggregate } from "./aggregate.ts";
export { matchResource, resolveToolRef } from "./resolve.ts";
export { InvalidCursorError, type Page, paginate } from "./paginate.ts";
export {
  type AggregationSettings,
  DEFAULT_PREFIX_FORMAT,
  normalizeAggregation,
  type WorkloadTools,
} from "./settings.ts";
export type {
  AggregatedView,
  BackendCapabilities,
  PromptRoute,
  TemplateRoute,
  ToolRoute,
} from "./types.ts";

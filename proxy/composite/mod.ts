/**
 * Composite tools served by the proxy (see `tools.ts` and the runtime hook in `registry.ts`).
 * @module
 */
export { buildCompositeTools, type CompositeTools, runComposite, workflowDeps } from "./tools.ts";
export { CompositeToolRegistry } from "./registry.ts";
export { callRefFor, type RoutedToolInfo, viewCatalogue } from "./catalogue.ts";
export { compositeAnnotations, derivedHints } from "./annotations.ts";
export { compositeBackends } from "./backends.ts";

/**
 * `optimizer` as the proxy reads it: the embeddings API key's Secret reference becomes the
 * environment variable the proxy reads it from (VMCP_OPTIMIZER_EMBEDDING_API_KEY).
 * @module
 */
import type { Optimizer } from "../../crds/optimizer.ts";
import type { SecretEnvCollector } from "./secret_env.ts";

/** The environment variable the rendered config names for `embeddingApiKeyRef`. */
export const EMBEDDING_API_KEY_ENV = "VMCP_OPTIMIZER_EMBEDDING_API_KEY";

/** Renders `optimizer` (a copy; the Secret reference replaced by its variable). */
export function renderOptimizer(o: Optimizer, env: SecretEnvCollector): Record<string, unknown> {
  const { embeddingApiKeyRef, ...rest } = structuredClone(o);
  const out: Record<string, unknown> = rest;
  if (embeddingApiKeyRef) {
    out.embeddingApiKeyEnv = env.add([], embeddingApiKeyRef, EMBEDDING_API_KEY_ENV);
  }
  return out;
}

/**
 * Truth-table cases of `optimizer` (crds/optimizer.ts, tool search): ToolHive's fields with
 * their defaults, its string decimals range-checked, embeddings settings that need each other,
 * and the API key as a Secret in a cluster but an environment variable in a standalone file.
 */
import assert from "node:assert/strict";
import type { TruthCase } from "./truth_table_cases.ts";

const embeddings = { embeddingService: "http://emb.example.test/v1", embeddingModel: "m" };

export const OPTIMIZER_CASES: TruthCase[] = [
  {
    name: "optimizer block without fields (on, ToolHive's defaults)",
    config: { optimizer: {} },
    check: (c) =>
      assert.deepEqual(c.optimizer, {
        maxToolsToReturn: 8,
        hybridSearchSemanticRatio: "0.5",
        semanticDistanceThreshold: "1.0",
        embeddingProvider: "openai",
        embeddingServiceTimeout: "30s",
      }),
    inCluster: {
      valid: true,
      check: (r) =>
        assert.equal((r.optimizer as { maxToolsToReturn?: number }).maxToolsToReturn, 8),
    },
  },
  {
    name: "optimizer.maxToolsToReturn 51",
    config: { optimizer: { maxToolsToReturn: 51 } },
    path: "optimizer.maxToolsToReturn",
    value: 51,
  },
  {
    name: "optimizer.hybridSearchSemanticRatio 1.5",
    config: { optimizer: { hybridSearchSemanticRatio: "1.5" } },
    path: "optimizer.hybridSearchSemanticRatio",
    value: "1.5",
    message: /between 0 and 1/,
  },
  {
    name: "optimizer.semanticDistanceThreshold not a decimal",
    config: { optimizer: { semanticDistanceThreshold: "near" } },
    path: "optimizer.semanticDistanceThreshold",
    value: "near",
    message: /decimal number in quotes/,
  },
  {
    name: "optimizer.embeddingService without embeddingModel",
    config: { optimizer: { embeddingService: "http://emb.example.test/v1" } },
    path: "optimizer.embeddingModel",
    message: /Required with embeddingService/,
  },
  {
    name: "optimizer.embeddingModel without embeddingService",
    config: { optimizer: { embeddingModel: "m" } },
    path: "optimizer.embeddingModel",
    value: "m",
    message: /Needs embeddingService/,
  },
  {
    name: "optimizer.embeddingProvider tei (served through its OpenAI-compatible route)",
    config: { optimizer: { ...embeddings, embeddingProvider: "tei" } },
    path: "optimizer.embeddingProvider",
    value: "tei",
    message: /openai/,
  },
  {
    name: "optimizer.embeddingApiKeyRef in a standalone file, as a Secret in a cluster",
    config: { optimizer: { ...embeddings, embeddingApiKeyRef: { name: "cache", key: "k" } } },
    path: "optimizer.embeddingApiKeyRef",
    message: /use embeddingApiKeyEnv in a standalone config/,
    inCluster: {
      valid: true,
      check: (r) => {
        const o = r.optimizer as Record<string, unknown>;
        assert.equal(o.embeddingApiKeyEnv, "VMCP_OPTIMIZER_EMBEDDING_API_KEY");
        assert.equal(o.embeddingApiKeyRef, undefined);
      },
    },
  },
  {
    name: "optimizer with embeddings and the key from the environment",
    config: {
      optimizer: { ...embeddings, embeddingApiKeyEnv: "EMB_KEY", embeddingDimensions: 256 },
    },
    spec: { optimizer: { ...embeddings, embeddingApiKeyRef: { name: "cache", key: "k" } } },
    check: (c) => {
      assert.equal(c.optimizer?.embeddingApiKeyEnv, "EMB_KEY");
      assert.equal(c.optimizer?.embeddingDimensions, 256);
    },
  },
];

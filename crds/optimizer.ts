/**
 * `optimizer`: tool search (ToolHive's optimizer, issue #19). With the block present clients see
 * two tools, `find_tool` and `call_tool`, instead of the whole aggregated catalogue. Field names
 * are ToolHive's (`pkg/vmcp/config` `OptimizerConfig`) where they exist.
 * @module
 */
import { z } from "zod";
import { duration, SecretKeyRefSchema } from "./common.ts";

const DECIMAL = /^([0-9]*[.])?[0-9]+$/;

/** A decimal in a string (ToolHive's form: CRDs carry no portable floats) within [min, max]. */
function decimal(description: string, min: number, max: number, fallback: string) {
  return z.string().regex(DECIMAL, `must be a decimal number in quotes, e.g. "${fallback}"`)
    .superRefine((value, ctx) => {
      if (!DECIMAL.test(value)) return;
      const n = Number(value);
      if (n < min || n > max) {
        ctx.addIssue({
          code: "custom",
          message: `must be between ${min} and ${max}, not "${value}"`,
          input: value,
        });
      }
    }).default(fallback).describe(`${description} Allowed: "${min}" to "${max}".`);
}

export const OptimizerSchema = z.strictObject({
  maxToolsToReturn: z.number().int().min(1).max(50).default(8).describe(
    "Most tools one find_tool answer returns (also the largest `limit` a caller may ask for). Allowed: 1 to 50.",
  ),
  hybridSearchSemanticRatio: decimal(
    "Weight of the semantic (embedding) score in the blended score when embeddingService is set: 0 = keyword (BM25) only, 1 = semantic only. Both scores are normalized to the best match of the query first.",
    0,
    1,
    "0.5",
  ),
  semanticDistanceThreshold: decimal(
    "Largest cosine distance (1 - cosine similarity; 0 = identical, 2 = opposite) at which a tool still gets a semantic score; farther tools are ranked by their keyword score alone.",
    0,
    2,
    "1.0",
  ),
  embeddingService: z.string().url().optional().describe(
    'Base URL of an OpenAI-compatible embeddings API (vmcp POSTs to <embeddingService>/embeddings), e.g. "https://api.openai.com/v1" or a Hugging Face TEI server\'s "http://tei:8080/v1". Unset: keyword search only. When the service fails, search falls back to keywords (with a warning at most once a minute).',
  ),
  embeddingProvider: z.enum(["openai"], {
    error:
      'Only "openai" (an OpenAI-compatible /embeddings API) is supported; for Hugging Face TEI use its OpenAI-compatible route: embeddingService "http://<tei>/v1"',
  }).default("openai").describe(
    "Wire protocol of embeddingService. Only openai (ToolHive's default, tei, is served by TEI's OpenAI-compatible /v1 route).",
  ),
  embeddingModel: z.string().min(1).optional().describe(
    'Model asked of embeddingService, e.g. "text-embedding-3-small". Required with embeddingService.',
  ),
  embeddingDimensions: z.number().int().min(1).max(8192).optional().describe(
    "Vector size asked of the model (OpenAI `dimensions`); unset: the model's own. Allowed: 1 to 8192.",
  ),
  embeddingServiceTimeout: duration("Time one embeddings request may take.", {
    min: "100ms",
    max: "5m",
  }).default("30s"),
  embeddingApiKeyRef: SecretKeyRefSchema.optional().describe(
    "Secret holding the API key sent as `Authorization: Bearer` to embeddingService (rendered as the environment variable VMCP_OPTIMIZER_EMBEDDING_API_KEY).",
  ),
  embeddingApiKeyEnv: z.string().min(1).optional().describe(
    "Environment variable holding the API key sent to embeddingService (standalone configs; the proxy refuses to start when it is not set). Neither this nor embeddingApiKeyRef: no Authorization header.",
  ),
}).superRefine((o, ctx) => {
  if (o.embeddingService && !o.embeddingModel) {
    ctx.addIssue({
      code: "custom",
      path: ["embeddingModel"],
      message: "Required with embeddingService (the model the embeddings API is asked for)",
    });
  }
  if (!o.embeddingService) {
    for (
      const key of [
        "embeddingModel",
        "embeddingDimensions",
        "embeddingApiKeyRef",
        "embeddingApiKeyEnv",
      ] as const
    ) {
      if (o[key] === undefined) continue;
      ctx.addIssue({
        code: "custom",
        path: [key],
        message: "Needs embeddingService (the embeddings API it configures)",
        input: o[key],
      });
    }
  }
  if (o.embeddingApiKeyRef && o.embeddingApiKeyEnv) {
    ctx.addIssue({
      code: "custom",
      path: ["embeddingApiKeyEnv"],
      message: "Set embeddingApiKeyRef or embeddingApiKeyEnv, not both",
    });
  }
}).describe(
  "Tool search (ToolHive's optimizer). Present: clients see only find_tool (a natural-language search of every tool they may call, with full definitions) and call_tool (calls one of them by name, authorized and routed as a plain tools/call). Absent (the default): the full tool list.",
);
export type Optimizer = z.infer<typeof OptimizerSchema>;

/** The proxy's form of `optimizer`: numbers parsed, the key as an environment variable. */
export interface OptimizerSettings {
  maxToolsToReturn: number;
  hybridSearchSemanticRatio: number;
  semanticDistanceThreshold: number;
  embeddings?: {
    url: string;
    model: string;
    dimensions?: number | undefined;
    timeout: string;
    apiKeyEnv?: string | undefined;
  } | undefined;
}

/** `optimizer` with its decimals parsed (the schema has checked them). */
export function optimizerSettings(o: Optimizer): OptimizerSettings {
  const out: OptimizerSettings = {
    maxToolsToReturn: o.maxToolsToReturn,
    hybridSearchSemanticRatio: Number(o.hybridSearchSemanticRatio),
    semanticDistanceThreshold: Number(o.semanticDistanceThreshold),
  };
  if (o.embeddingService && o.embeddingModel) {
    out.embeddings = {
      url: o.embeddingService,
      model: o.embeddingModel,
      dimensions: o.embeddingDimensions,
      timeout: o.embeddingServiceTimeout,
      apiKeyEnv: o.embeddingApiKeyEnv,
    };
  }
  return out;
}

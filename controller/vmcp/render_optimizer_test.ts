import assert from "node:assert/strict";
import { OptimizerSchema } from "../../crds/optimizer.ts";
import { EMBEDDING_API_KEY_ENV, renderOptimizer } from "./render_optimizer.ts";
import { SecretEnvCollector } from "./secret_env.ts";

Deno.test("renderOptimizer() turns the API key Secret into an env var and keeps every other field", () => {
  const spec = OptimizerSchema.parse({
    maxToolsToReturn: 5,
    embeddingService: "http://emb/v1",
    embeddingModel: "m",
    embeddingApiKeyRef: { name: "emb", key: "k" },
  });
  const env = new SecretEnvCollector();
  const out = renderOptimizer(spec, env);
  assert.equal(out.embeddingApiKeyRef, undefined);
  assert.equal(out.embeddingApiKeyEnv, EMBEDDING_API_KEY_ENV);
  assert.equal(out.maxToolsToReturn, 5);
  assert.equal(out.hybridSearchSemanticRatio, "0.5");
  assert.deepEqual(env.vars, [{
    name: EMBEDDING_API_KEY_ENV,
    secretRef: { name: "emb", key: "k" },
  }]);
  // Without a key: nothing to collect.
  const none = new SecretEnvCollector();
  assert.equal(renderOptimizer(OptimizerSchema.parse({}), none).embeddingApiKeyEnv, undefined);
  assert.deepEqual(none.vars, []);
});

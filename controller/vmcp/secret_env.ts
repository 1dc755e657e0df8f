/**
 * Secret references in a VirtualMCPServer never reach the ConfigMap: each becomes an
 * environment variable name in the rendered config, and the Deployment fills that variable
 * from a `secretKeyRef`.
 * @module
 */

export interface SecretRef {
  name: string;
  key: string;
}

/** One environment variable of the proxy container, populated from a Secret key. */
export interface SecretEnvVar {
  name: string;
  secretRef: SecretRef;
}

/** `github-mcp` → `GITHUB_MCP`; anything not a letter or digit becomes `_`. */
export function envToken(text: string): string {
  return text.toUpperCase().replace(/[^A-Z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

/**
 * Collects Secret references and hands out stable environment variable names. The same
 * reference asked for under the same name gets the same variable; a different reference
 * that would collide gets a numbered suffix (`_2`, `_3`, …).
 */
export class SecretEnvCollector {
  #vars: SecretEnvVar[] = [];

  /** Registers `ref` under `VMCP_SECRET_<parts…>` (or `fixedName`) and returns the name. */
  add(parts: string[], ref: SecretRef, fixedName?: string): string {
    const base = fixedName ?? ["VMCP_SECRET", ...parts.map(envToken)].join("_");
    let name = base;
    for (let i = 2;; i++) {
      const existing = this.#vars.find((v) => v.name === name);
      if (!existing) break;
      if (existing.secretRef.name === ref.name && existing.secretRef.key === ref.key) return name;
      name = `${base}_${i}`;
    }
    this.#vars.push({ name, secretRef: { name: ref.name, key: ref.key } });
    return name;
  }

  /** The variables in the order they were first added. */
  get vars(): SecretEnvVar[] {
    return this.#vars.map((v) => ({ name: v.name, secretRef: { ...v.secretRef } }));
  }
}

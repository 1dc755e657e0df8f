/**
 * Reads one key of a ConfigMap a VirtualMCPServer spec names (`…configMap: {name, key}`), for the
 * settings that may live in a ConfigMap (OIDC, Cedar policies). Problems name the field, the
 * ConfigMap and, for a missing key, the keys it has.
 * @module
 */
import type { Problem } from "../../core/config/problems.ts";
import type { KubeObject } from "../runtime/kube.ts";
import { TYPES, type View } from "../view.ts";

/** The key's text, or the problems that say why there is none. */
export type ConfigMapKey = { text: string; where: string } | { problems: Problem[] };

/** Reads `ref.key` of ConfigMap `ref.name` in `namespace`; `at` is the spec path of `ref`. */
export async function readConfigMapKey(
  view: View,
  namespace: string,
  ref: { name: string; key: string },
  at: string,
): Promise<ConfigMapKey> {
  const { name, key } = ref;
  const cm = await view.get<KubeObject & { data?: Record<string, string> }>(
    TYPES.configMap,
    namespace,
    name,
  );
  if (!cm) {
    return {
      problems: [{ path: `${at}.name`, message: `ConfigMap "${name}" not found`, value: name }],
    };
  }
  const text = cm.data?.[key];
  if (text === undefined) {
    return {
      problems: [{
        path: `${at}.key`,
        message: `ConfigMap "${name}" has no key "${key}"; its keys: ${
          Object.keys(cm.data ?? {}).join(", ") || "(none)"
        }`,
        value: key,
      }],
    };
  }
  return { text, where: `ConfigMap ${name} key ${key}` };
}

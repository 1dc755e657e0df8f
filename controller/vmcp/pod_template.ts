/**
 * `spec.podTemplateSpec`: checked, then strategically merged over the generated pod
 * template (lists of named things are merged by their key, as `kubectl` does).
 * @module
 */
import type { Problem } from "../../core/config/problems.ts";

type Json = Record<string, unknown>;

const FIELD = "spec.podTemplateSpec";

/** List fields merged element by element, and the key that matches elements. */
const MERGE_KEYS: Record<string, string> = {
  containers: "name",
  initContainers: "name",
  ephemeralContainers: "name",
  volumes: "name",
  env: "name",
  volumeMounts: "mountPath",
  volumeDevices: "devicePath",
  ports: "containerPort",
  imagePullSecrets: "name",
  hostAliases: "ip",
  topologySpreadConstraints: "topologyKey",
};

function isObject(v: unknown): v is Json {
  return !!v && typeof v === "object" && !Array.isArray(v);
}

/** Checks a podTemplateSpec; each problem names the field. Empty means usable. */
export function checkPodTemplateSpec(pts: unknown): Problem[] {
  if (pts === undefined) return [];
  const out: Problem[] = [];
  if (!isObject(pts)) {
    return [{ path: FIELD, message: "Must be an object (a PodTemplateSpec)", value: pts }];
  }
  for (const k of Object.keys(pts)) {
    if (k !== "metadata" && k !== "spec") {
      out.push({
        path: `${FIELD}.${k}`,
        message: 'Unknown field; allowed: "metadata", "spec"',
        value: k,
      });
    }
  }
  const m = pts.metadata;
  if (m !== undefined) {
    if (!isObject(m)) {
      out.push({ path: `${FIELD}.metadata`, message: "Must be an object", value: m });
    } else {
      for (const f of ["labels", "annotations"]) {
        const map = m[f];
        if (map === undefined) continue;
        if (!isObject(map) || Object.values(map).some((v) => typeof v !== "string")) {
          out.push({
            path: `${FIELD}.metadata.${f}`,
            message: "Must map strings to strings",
            value: map,
          });
        }
      }
    }
  }
  const spec = pts.spec;
  if (spec === undefined) return out;
  if (!isObject(spec)) {
    return [...out, {
      path: `${FIELD}.spec`,
      message: "Must be an object (a PodSpec)",
      value: spec,
    }];
  }
  checkPatchDirectives(spec, `${FIELD}.spec`, out);
  const containers = spec.containers;
  if (containers !== undefined) {
    if (!Array.isArray(containers)) {
      out.push({ path: `${FIELD}.spec.containers`, message: "Must be a list", value: containers });
    } else {
      containers.forEach((c, i) => {
        const path = `${FIELD}.spec.containers[${i}]`;
        if (!isObject(c)) out.push({ path, message: "Must be an object (a Container)", value: c });
        else if (c.name !== "vmcp") {
          out.push({
            path: `${path}.name`,
            message: 'Must be "vmcp": the podTemplateSpec can only adjust the proxy container',
            value: c.name,
          });
        }
      });
    }
  }
  for (const [list, key] of Object.entries(MERGE_KEYS)) {
    const v = spec[list];
    if (list === "containers" || v === undefined) continue;
    if (!Array.isArray(v)) {
      out.push({ path: `${FIELD}.spec.${list}`, message: "Must be a list", value: v });
    } else if (v.some((e) => !isObject(e) || e[key] === undefined)) {
      out.push({ path: `${FIELD}.spec.${list}`, message: `Every entry needs "${key}"`, value: v });
    }
  }
  return out;
}

function checkPatchDirectives(v: unknown, path: string, out: Problem[]): void {
  if (Array.isArray(v)) v.forEach((e, i) => checkPatchDirectives(e, `${path}[${i}]`, out));
  else if (isObject(v)) {
    for (const [k, x] of Object.entries(v)) {
      if (k.startsWith("$")) {
        out.push({
          path: `${path}.${k}`,
          message: "Strategic-merge directives are not supported",
          value: x,
        });
      } else checkPatchDirectives(x, `${path}.${k}`, out);
    }
  }
}

function mergeList(base: unknown[], patch: unknown[], key: string): unknown[] {
  const out = base.map((e) => structuredClone(e));
  for (const p of patch) {
    const k = (p as Json)[key];
    const i = out.findIndex((e) => isObject(e) && e[key] === k);
    if (i >= 0) out[i] = merge(out[i], p);
    else out.push(structuredClone(p));
  }
  return out;
}

/** Strategic merge of `patch` over `base`: objects deep-merge, keyed lists merge by key, the rest replaces. */
export function merge(base: unknown, patch: unknown, field?: string): unknown {
  if (patch === undefined) return structuredClone(base);
  if (patch === null) return undefined;
  if (isObject(base) && isObject(patch)) {
    const out: Json = structuredClone(base);
    for (const [k, v] of Object.entries(patch)) {
      const m = merge(base[k], v, k);
      if (m === undefined) delete out[k];
      else out[k] = m;
    }
    return out;
  }
  if (Array.isArray(base) && Array.isArray(patch) && field && MERGE_KEYS[field]) {
    return mergeList(base, patch, MERGE_KEYS[field]);
  }
  return structuredClone(patch);
}

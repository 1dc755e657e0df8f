/**
 * zod schema → Kubernetes structural `openAPIV3Schema`, and the CustomResourceDefinition
 * around it. The post-processor fixes what zod's JSON Schema emits but the API server
 * rejects (see docs/adr/0001-zod-as-the-single-schema-source.md).
 * @module
 */
import { z } from "zod";
import { API_GROUP, API_VERSION } from "./common.ts";

type Json = Record<string, unknown>;

const DROP_KEYS = new Set(["$schema", "propertyNames", "id", "$id", "$defs", "definitions"]);

/** Makes a JSON Schema node structural (recursively). Exported for its tests. */
export function structural(node: unknown): Json {
  if (node === true || node === undefined || node === null) {
    return { "x-kubernetes-preserve-unknown-fields": true };
  }
  const src = { ...(node as Json) };
  for (const k of DROP_KEYS) delete src[k];
  // Unions: int-or-string, nullable single branch, or opaque.
  for (const key of ["anyOf", "oneOf"] as const) {
    const branches = src[key] as Json[] | undefined;
    if (!branches) continue;
    delete src[key];
    const types = new Set(branches.map((b) => b.type as string | undefined));
    const nonNull = branches.filter((b) =>
      b.type !== "null" && !(b.nullable === true && Object.keys(b).length === 1)
    );
    if (types.size === 2 && types.has("string") && (types.has("integer") || types.has("number"))) {
      return { ...pickDocs(src), "x-kubernetes-int-or-string": true };
    }
    if (nonNull.length === 1) {
      return structural({ ...nonNull[0], ...pickDocs(src), nullable: true });
    }
    if (branches.every((b) => b.type === "string" && Array.isArray(b.enum))) {
      return {
        ...pickDocs(src),
        type: "string",
        enum: branches.flatMap((b) => b.enum as unknown[]),
      };
    }
    return { ...pickDocs(src), "x-kubernetes-preserve-unknown-fields": true };
  }
  if (src.allOf) {
    const parts = src.allOf as Json[];
    delete src.allOf;
    return structural(Object.assign({}, ...parts, src));
  }
  if ("const" in src) {
    src.enum = [src.const];
    delete src.const;
  }
  if (
    src.type === undefined && !src.enum && !src["x-kubernetes-preserve-unknown-fields"] &&
    !src["x-kubernetes-int-or-string"]
  ) {
    return { ...pickDocs(src), "x-kubernetes-preserve-unknown-fields": true };
  }
  if (src.type === "object") {
    const props = src.properties as Record<string, unknown> | undefined;
    const ap = src.additionalProperties;
    if (ap === false) delete src.additionalProperties;
    if (props) {
      src.properties = Object.fromEntries(
        Object.entries(props).map(([k, v]) => [k, structural(v)]),
      );
      if (ap !== undefined && ap !== false) delete src.additionalProperties;
      if (Array.isArray(src.required) && src.required.length === 0) delete src.required;
    } else if (ap === true || (ap && typeof ap === "object" && Object.keys(ap).length === 0)) {
      delete src.additionalProperties;
      src["x-kubernetes-preserve-unknown-fields"] = true;
    } else if (ap && typeof ap === "object") {
      src.additionalProperties = structural(ap);
    } else if (!src["x-kubernetes-preserve-unknown-fields"]) {
      src["x-kubernetes-preserve-unknown-fields"] = true;
    }
  }
  if (src.type === "array") {
    src.items = structural(src.items);
    if (src.uniqueItems) {
      delete src.uniqueItems;
      src["x-kubernetes-list-type"] ??= "set";
    }
  }
  return src;
}

function pickDocs(src: Json): Json {
  const out: Json = {};
  for (const k of ["description", "default", "x-kubernetes-validations"]) {
    if (k in src) out[k] = src[k];
  }
  return out;
}

/** The structural schema of one zod schema. */
export function toStructural(schema: z.ZodType): Json {
  const js = z.toJSONSchema(schema, {
    target: "openapi-3.0",
    io: "input",
    reused: "inline",
    unrepresentable: "any",
  });
  return structural(js);
}

export interface KindDefinition {
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  description: string;
  spec: z.ZodType;
  status: z.ZodType;
  specRequired?: boolean;
  printerColumns?: { name: string; type: string; jsonPath: string; description?: string }[];
}

/** The CustomResourceDefinition object for a kind. */
export function crdFor(def: KindDefinition): Json {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${API_GROUP}` },
    spec: {
      group: API_GROUP,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        ...(def.shortNames ? { shortNames: def.shortNames } : {}),
        categories: ["toolhive", "vmcp"],
      },
      scope: "Namespaced",
      versions: [{
        name: API_VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        ...(def.printerColumns ? { additionalPrinterColumns: def.printerColumns } : {}),
        schema: {
          openAPIV3Schema: {
            type: "object",
            description: def.description,
            properties: {
              apiVersion: { type: "string", description: "APIVersion of this object." },
              kind: { type: "string", description: "Kind of this object." },
              metadata: { type: "object" },
              spec: toStructural(def.spec),
              status: toStructural(def.status),
            },
            ...(def.specRequired === false ? {} : { required: ["spec"] }),
          },
        },
      }],
    },
  };
}

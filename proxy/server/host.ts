/**
 * DNS-rebinding defence by `Host`: a page on an attacker's domain that re-resolves to this proxy
 * makes the browser send `Host: attacker.example`; such requests get 403 on every path (a
 * JSON-RPC error body on `/mcp`, plain text elsewhere).
 *
 * Allowed: no `Host` header (not a browser); an IP-literal host (`10.1.2.3:4483`, `[::1]` — a
 * rebinding page never has one; kubelet probes and Prometheus scrapes address pods by IP);
 * localhost names; the `server.publicUrl` host; the listen address when it is a name; on a
 * non-loopback listener the machine's hostname; and `server.allowedHosts` entries: `name` (any
 * port), `name:port` (that port), `.example.com` (that domain and its subdomains) or `*` (any).
 * The proxy adds `VMCP_ALLOWED_HOSTS` (comma-separated, same forms) from its environment.
 * @module
 */
import { isLoopbackHost } from "./origin.ts";

export interface HostPolicy {
  /** The address the proxy listens on. */
  listenHost: string;
  publicUrl?: string | undefined;
  /** `server.allowedHosts` plus `VMCP_ALLOWED_HOSTS`. */
  allowedHosts?: readonly string[] | undefined;
  /** Allowed on a non-loopback listener. @default Deno.hostname() when permitted */
  machineHostname?: string | undefined;
}

/** Splits a Host header value into lower-case name (no trailing dot) and port ("" if none). */
export function splitHost(value: string): { name: string; port: string } | undefined {
  const v = value.trim().toLowerCase();
  let name: string;
  let port = "";
  if (v.startsWith("[")) {
    const end = v.indexOf("]");
    if (end < 0) return undefined;
    name = v.slice(0, end + 1);
    const rest = v.slice(end + 1);
    if (rest) {
      if (!rest.startsWith(":")) return undefined;
      port = rest.slice(1);
    }
  } else {
    const colon = v.lastIndexOf(":");
    name = colon >= 0 ? v.slice(0, colon) : v;
    port = colon >= 0 ? v.slice(colon + 1) : "";
  }
  if (port && !/^\d{1,5}$/.test(port)) return undefined;
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (!name || !/^(\[[0-9a-f:.%]+\]|[a-z0-9_.-]+)$/.test(name)) return undefined;
  return { name, port };
}

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/** True for an IPv4 dotted quad or a bracketed IPv6 literal. */
export function isIpLiteral(name: string): boolean {
  return IPV4.test(name) || (name.startsWith("[") && name.endsWith("]"));
}

function machineHostname(): string | undefined {
  try {
    return Deno.hostname().toLowerCase();
  } catch {
    return undefined;
  }
}

/** A compiled Host check: `allowed(hostHeader)`; answers are cached per header value. */
export class HostCheck {
  readonly #any: boolean;
  readonly #names = new Set<string>();
  readonly #exact = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #cache = new Map<string, boolean>();

  constructor(policy: HostPolicy) {
    const entries = policy.allowedHosts ?? [];
    this.#any = entries.some((e) => e.trim() === "*");
    for (const raw of entries) {
      const e = raw.trim().toLowerCase();
      if (!e || e === "*") continue;
      if (e.startsWith(".")) {
        this.#suffixes.push(e.replace(/\.$/, ""));
        continue;
      }
      const h = splitHost(e);
      if (!h) continue;
      if (h.port) this.#exact.add(`${h.name}:${h.port}`);
      else this.#names.add(h.name);
    }
    if (policy.publicUrl) {
      try {
        this.#names.add(new URL(policy.publicUrl).hostname.toLowerCase());
      } catch { /* validated by the schema */ }
    }
    const listen = splitHost(policy.listenHost);
    if (listen && !isIpLiteral(listen.name) && listen.name !== "0.0.0.0") {
      this.#names.add(listen.name);
    }
    if (!isLoopbackHost(policy.listenHost)) {
      const me = policy.machineHostname ?? machineHostname();
      if (me) this.#names.add(me);
    }
  }

  /** Whether a request with this `Host` header value (null: none) may be served. */
  allowed(host: string | null): boolean {
    if (host === null || this.#any) return true;
    const cached = this.#cache.get(host);
    if (cached !== undefined) return cached;
    const answer = this.#decide(host);
    if (this.#cache.size >= 256) this.#cache.clear(); // bounded: a client can send anything
    this.#cache.set(host, answer);
    return answer;
  }

  #decide(value: string): boolean {
    const h = splitHost(value);
    if (!h) return false;
    if (isIpLiteral(h.name) || isLoopbackHost(h.name)) return true;
    if (this.#names.has(h.name)) return true;
    if (h.port && this.#exact.has(`${h.name}:${h.port}`)) return true;
    return this.#suffixes.some((s) => h.name.endsWith(s) || h.name === s.slice(1));
  }
}

/** Allowed hosts from `VMCP_ALLOWED_HOSTS` (comma- or space-separated). */
export function allowedHostsFromEnv(value: string | undefined): string[] {
  return (value ?? "").split(/[\s,]+/).filter((s) => s.length > 0);
}

/** The 403 answer for a refused Host: a JSON-RPC error on the MCP path, plain text elsewhere. */
export function hostRefused(host: string, mcp: boolean): Response {
  const shown = JSON.stringify(host.slice(0, 200));
  const message =
    `Forbidden: Host ${shown} is not allowed (DNS-rebinding defence); allowed are IP addresses, localhost, the server.publicUrl host and server.allowedHosts`;
  if (mcp) {
    return Response.json(
      { jsonrpc: "2.0", error: { code: -32000, message }, id: null },
      { status: 403 },
    );
  }
  return new Response(`${message}\n`, {
    status: 403,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

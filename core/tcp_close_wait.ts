/**
 * Which TCP connections of this process's network namespace the peer has closed while we still
 * hold them open (state `CLOSE_WAIT`), from Linux's `/proc/net/tcp` and `/proc/net/tcp6`.
 *
 * Deno's HTTP/1 engine notices a client that closed its connection only while it reads from
 * it. When a request's body arrived after its head (separate segments: common for `fetch`), the
 * engine stops reading once the body is consumed, so a client that goes away while the handler
 * runs goes unnoticed: `request.signal` does not abort until the response is written (see
 * core/http_server.ts, which uses this to close such connections itself).
 *
 * Keys are `"<local ip>:<local port>|<remote ip>:<remote port>"` with canonical addresses
 * ({@link canonicalIp}); IPv4-mapped IPv6 addresses are written as IPv4.
 * @module
 */

/** `CLOSE_WAIT` in `/proc/net/tcp`'s `st` column. */
const CLOSE_WAIT = "08";

/**
 * A canonical text form of an IP address: dotted IPv4 (also for `::ffff:a.b.c.d`), else the
 * eight lowercase, unpadded IPv6 groups joined by `:`; other text is returned lowercased.
 */
export function canonicalIp(text: string): string {
  const host = text.startsWith("[") && text.endsWith("]") ? text.slice(1, -1) : text;
  if (!host.includes(":")) return host;
  const groups = expandIpv6(host.toLowerCase().split("%")[0]!);
  if (!groups) return host.toLowerCase();
  return fromGroups(groups);
}

function fromGroups(groups: number[]): string {
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [hi, lo] = [groups[6]!, groups[7]!];
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return groups.map((g) => g.toString(16)).join(":");
}

/** The eight 16-bit groups of an IPv6 address text, or undefined when it is not one. */
function expandIpv6(text: string): number[] | undefined {
  let tail: number[] = [];
  let body = text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (v4) {
    const b = v4.slice(1).map(Number);
    tail = [(b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!];
    body = text.slice(0, v4.index).replace(/:$/, "");
    if (body.endsWith(":")) body += ":"; // "::" directly before the IPv4 part
  }
  const parse = (s: string) => s === "" ? [] : s.split(":").map((g) => parseInt(g, 16));
  const halves = body.split("::");
  if (halves.length > 2) return undefined;
  const head = parse(halves[0]!);
  const rest = halves.length === 2 ? parse(halves[1]!) : [];
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 && known !== 8) return undefined;
  const zeros = halves.length === 2 ? new Array(8 - known).fill(0) : [];
  const groups = [...head, ...zeros, ...rest, ...tail];
  return groups.length === 8 && groups.every((g) => g >= 0 && g <= 0xffff) ? groups : undefined;
}

/** The key of a connection (see the module doc). */
export function connectionKey(local: Deno.NetAddr, remote: Deno.NetAddr): string {
  return `${canonicalIp(local.hostname)}:${local.port}|${
    canonicalIp(remote.hostname)
  }:${remote.port}`;
}

/** `/proc/net/tcp{,6}` address text (`0100007F:1F90`) as `ip:port` (little-endian hosts). */
function procAddress(text: string): string | undefined {
  const [hex, portHex] = text.split(":");
  if (!hex || !portHex) return undefined;
  const port = parseInt(portHex, 16);
  const words = hex.match(/.{8}/g);
  if (!words || (words.length !== 1 && words.length !== 4)) return undefined;
  // Each 32-bit word is printed as the host reads it: bytes reversed on little-endian hosts.
  const bytes = words.flatMap((w) => [6, 4, 2, 0].map((i) => parseInt(w.slice(i, i + 2), 16)));
  if (bytes.length === 4) return `${bytes.join(".")}:${port}`;
  const groups = Array.from({ length: 8 }, (_, i) => (bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  return `${fromGroups(groups)}:${port}`;
}

/** Keys of the `CLOSE_WAIT` connections listed in a `/proc/net/tcp` or `tcp6` text. */
export function parseCloseWait(text: string): Set<string> {
  const keys = new Set<string>();
  for (const line of text.split("\n")) {
    if (!line.includes(` ${CLOSE_WAIT} `)) continue; // cheap pre-filter: most rows are not
    const cols = line.trim().split(/\s+/);
    if (cols[3] !== CLOSE_WAIT) continue;
    const local = procAddress(cols[1] ?? "");
    const remote = procAddress(cols[2] ?? "");
    if (local && remote) keys.add(`${local}|${remote}`);
  }
  return keys;
}

/**
 * Reads the `CLOSE_WAIT` connections of this network namespace; undefined where there is no
 * such table (not Linux) or it cannot be read (no permission).
 */
export async function readCloseWait(): Promise<Set<string> | undefined> {
  const keys = new Set<string>();
  let found = false;
  for (const path of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = await Deno.readTextFile(path);
    } catch {
      continue;
    }
    found = true;
    for (const k of parseCloseWait(text)) keys.add(k);
  }
  return found ? keys : undefined;
}

/** A connection the scanner may close: its key and whether a request still runs on it. */
export interface WatchedConnection {
  readonly key: string | undefined;
  readonly busy: boolean;
}

/**
 * Looks up busy connections in the kernel's table at most once per `everyMs` and closes those
 * the peer closed; switches itself off where there is no table (not Linux, no permission).
 */
export class PeerCloseScanner<C extends WatchedConnection> {
  #off = false;
  #scanning = false;
  #last = -Infinity;

  constructor(readonly everyMs: number, readonly read = readCloseWait) {}

  /** Scans `candidates()` (when due) and calls `close` for each one listed as `CLOSE_WAIT`. */
  scan(now: number, candidates: () => C[], close: (c: C) => void): void {
    if (this.#off || this.#scanning || now - this.#last < this.everyMs) return;
    const list = candidates().filter((c) => c.key !== undefined);
    if (!list.length) return;
    this.#last = now;
    this.#scanning = true;
    void this.read().then((closed) => {
      if (!closed) this.#off = true;
      else for (const c of list) if (c.busy && closed.has(c.key!)) close(c);
    }, () => {}).finally(() => this.#scanning = false);
  }
}

/**
 * A Python interpreter with the official MCP SDK (PyPI `mcp`, pinned) for tests that need a
 * client nobody here wrote.
 *
 * `provisionPythonMcp()` builds a venv once per machine under
 * `$VMCP_CACHE/python/mcp-<version>` (default `~/.cache/vmcp`), outside the repository, and
 * returns its interpreter. The build runs in a scratch folder next to the cache entry and is
 * moved into place with one rename, under an exclusive `flock`, so two test processes that
 * call it at once build it once and never see a half-installed venv; an interrupted build
 * leaves only a scratch folder that the next build removes.
 *
 * When `python3`, its `venv` module or pip (or the network) is unavailable it resolves to
 * `{ ok: false, reason }` instead of throwing, so a test can be registered with
 * `ignore: !py.ok` and the reason in its name.
 * @module
 */

/** The exact PyPI release every Python test uses. */
export const PYTHON_MCP_VERSION = "2.3.0";

export type PythonMcp =
  | { ok: true; python: string; venv: string; version: string }
  | { ok: false; reason: string };

export interface ProvisionOptions {
  /** Cache root. @default `$VMCP_CACHE`, else `$HOME/.cache/vmcp` */
  cacheRoot?: string;
  /** Base interpreter that creates the venv. @default `$VMCP_PYTHON3`, else `python3` */
  basePython?: string;
  /** Abort for the whole build (pip included). @default 10 minutes */
  signal?: AbortSignal;
}

/** The default cache root, honouring `VMCP_CACHE` like scripts/build-cluster-bins.sh. */
export function vmcpCacheRoot(): string {
  const explicit = Deno.env.get("VMCP_CACHE");
  if (explicit) return explicit;
  const home = Deno.env.get("HOME");
  if (!home) throw new Error("vmcpCacheRoot: neither VMCP_CACHE nor HOME is set");
  return `${home}/.cache/vmcp`;
}

const memo = new Map<string, Promise<PythonMcp>>();

/**
 * Returns the venv's interpreter, building the venv on first use. Calls in one process share
 * one build; calls from several processes are serialized by a file lock.
 */
export function provisionPythonMcp(opts: ProvisionOptions = {}): Promise<PythonMcp> {
  let root: string;
  try {
    root = opts.cacheRoot ?? vmcpCacheRoot();
  } catch (err) {
    return Promise.resolve({ ok: false, reason: String(err) });
  }
  const base = opts.basePython ?? Deno.env.get("VMCP_PYTHON3") ?? "python3";
  const key = `${root}\0${base}`;
  let p = memo.get(key);
  if (!p) {
    p = provision(root, base, opts.signal ?? AbortSignal.timeout(10 * 60_000));
    memo.set(key, p);
  }
  return p;
}

async function run(
  bin: string,
  args: string[],
  signal: AbortSignal,
): Promise<{ ok: boolean; out: string }> {
  try {
    const out = await new Deno.Command(bin, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal,
    }).output();
    const dec = new TextDecoder();
    const text = (dec.decode(out.stdout) + dec.decode(out.stderr)).trim();
    return { ok: out.success, out: text.length > 2000 ? "…" + text.slice(-2000) : text };
  } catch (err) {
    return { ok: false, out: err instanceof Error ? err.message : String(err) };
  }
}

/** The installed `mcp` version seen by `python`, or undefined if it cannot import it. */
async function installedVersion(python: string, signal: AbortSignal): Promise<string | undefined> {
  const r = await run(python, [
    "-c",
    "import importlib.metadata as m, mcp; print(m.version('mcp'))",
  ], signal);
  return r.ok ? r.out.split("\n").pop()?.trim() : undefined;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function provision(root: string, base: string, signal: AbortSignal): Promise<PythonMcp> {
  const parent = `${root}/python`;
  const venv = `${parent}/mcp-${PYTHON_MCP_VERSION}`;
  const python = `${venv}/bin/python`;
  const ready = async (): Promise<PythonMcp | undefined> => {
    if (!(await exists(python))) return undefined;
    const version = await installedVersion(python, signal);
    return version === PYTHON_MCP_VERSION ? { ok: true, python, venv, version } : undefined;
  };

  const cached = await ready();
  if (cached) return cached;

  const probe = await run(base, ["-c", "import venv, ensurepip; print('ok')"], signal);
  if (!probe.ok) {
    return {
      ok: false,
      reason: `"${base}" with the venv and ensurepip modules is unavailable: ${probe.out}`,
    };
  }

  await Deno.mkdir(parent, { recursive: true });
  const lock = await Deno.open(`${venv}.lock`, { create: true, write: true });
  try {
    await lock.lock(true);
    // Another process may have finished the build while this one waited for the lock.
    const built = await ready();
    if (built) return built;
    // A stale or broken venv (not importable, wrong version) is replaced.
    await Deno.remove(venv, { recursive: true }).catch(() => {});
    for await (const e of Deno.readDir(parent)) {
      if (e.name.startsWith(`mcp-${PYTHON_MCP_VERSION}.build-`)) {
        await Deno.remove(`${parent}/${e.name}`, { recursive: true }).catch(() => {});
      }
    }
    const scratch = `${venv}.build-${crypto.randomUUID().slice(0, 8)}`;
    const mk = await run(base, ["-m", "venv", scratch], signal);
    if (!mk.ok) {
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
      return { ok: false, reason: `"${base} -m venv" failed: ${mk.out}` };
    }
    const pip = await run(`${scratch}/bin/python`, [
      "-m",
      "pip",
      "install",
      "--disable-pip-version-check",
      "--no-input",
      "--quiet",
      `mcp==${PYTHON_MCP_VERSION}`,
    ], signal);
    if (!pip.ok) {
      await Deno.remove(scratch, { recursive: true }).catch(() => {});
      return { ok: false, reason: `pip install mcp==${PYTHON_MCP_VERSION} failed: ${pip.out}` };
    }
    // The venv is entered by running its bin/python, which finds pyvenv.cfg next to itself, so
    // the folder works after the rename (only activate scripts and console-script shebangs keep
    // the scratch path, and nothing here uses them).
    await Deno.rename(scratch, venv);
    const done = await ready();
    return done ?? {
      ok: false,
      reason: `the venv at ${venv} was built but does not import mcp ${PYTHON_MCP_VERSION}`,
    };
  } finally {
    lock.close();
  }
}

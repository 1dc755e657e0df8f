/**
 * A loopback TCP forwarder in front of the test kube-apiserver that holds every connection
 * until `open()`: lets a test observe the controller before its informers can sync.
 */

export interface ApiGate extends AsyncDisposable {
  /** A kubeconfig whose server is the gate (same CA and token). */
  kubeconfigPath: string;
  /** Starts forwarding (held connections included). */
  open(): void;
  /** Closes the listener and every forwarded connection. */
  close(): Promise<void>;
}

/** Starts a gate in front of `apiUrl` (https://127.0.0.1:<port>), closed. */
export async function startApiGate(apiUrl: string, kubeconfigPath: string): Promise<ApiGate> {
  const target = Number(new URL(apiUrl).port);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const gateUrl = `https://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  const dir = await Deno.makeTempDir({ prefix: "vmcp-gate-" });
  const path = `${dir}/kubeconfig`;
  const text = await Deno.readTextFile(kubeconfigPath);
  if (!text.includes(apiUrl)) throw new Error(`kubeconfig ${kubeconfigPath} has no ${apiUrl}`);
  await Deno.writeTextFile(path, text.replaceAll(apiUrl, gateUrl), { mode: 0o600 });
  let release!: () => void;
  const opened = new Promise<void>((r) => (release = r));
  const conns = new Set<Deno.Conn>();
  const pipes: Promise<unknown>[] = [];
  const forward = async (down: Deno.Conn) => {
    conns.add(down);
    await opened;
    let up: Deno.Conn;
    try {
      up = await Deno.connect({ hostname: "127.0.0.1", port: target });
    } catch {
      down.close();
      return;
    }
    conns.add(up);
    const pipe = (a: Deno.Conn, b: Deno.Conn) =>
      a.readable.pipeTo(b.writable).catch(() => {}).finally(() => {
        for (const c of [a, b]) {
          try {
            c.close();
          } catch {
            // already closed
          }
        }
      });
    await Promise.all([pipe(down, up), pipe(up, down)]);
  };
  const accepting = (async () => {
    try {
      for await (const c of listener) pipes.push(forward(c));
    } catch {
      // listener closed
    }
  })();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    release();
    listener.close();
    await accepting;
    for (const c of conns) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
    await Promise.allSettled(pipes);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return { kubeconfigPath: path, open: release, close, [Symbol.asyncDispose]: close };
}

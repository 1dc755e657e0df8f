/**
 * A cuttable TCP forwarder for outage tests: clients connect to `gate.port`; `pause()` makes the
 * target look down (connections dropped, new ones refused), `resume()` brings it back.
 * @module
 */

/**
 * A TCP forwarder (127.0.0.1) to `targetPort` that a test can cut — open connections are closed
 * and new ones refused, as when the server is down — and restore on the same port.
 */
export async function startGate(targetPort: number) {
  let listener: Deno.Listener | undefined = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const conns = new Set<Deno.Conn>();
  const pipes = new Set<Promise<unknown>>();
  let loop: Promise<void> = Promise.resolve();
  const accept = (l: Deno.Listener) =>
    (async () => {
      try {
        for await (const down of l) {
          let up: Deno.Conn;
          try {
            up = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
          } catch {
            down.close();
            continue;
          }
          conns.add(down).add(up);
          const p = Promise.allSettled([
            down.readable.pipeTo(up.writable),
            up.readable.pipeTo(down.writable),
          ]).finally(() => {
            for (const c of [down, up]) {
              conns.delete(c);
              try {
                c.close();
              } catch { /* closed */ }
            }
            pipes.delete(p);
          });
          pipes.add(p);
        }
      } catch { /* listener closed */ }
    })();
  loop = accept(listener);
  await Promise.resolve();
  return {
    port,
    async pause() {
      listener?.close();
      listener = undefined;
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.allSettled([...pipes]);
    },
    resume() {
      listener = Deno.listen({ hostname: "127.0.0.1", port });
      loop = accept(listener);
    },
    async stop() {
      await this.pause();
    },
  };
}

/**
 * Step dependency graph helpers.
 * @module
 */

/**
 * Finds dependency cycles. `deps` maps each node to the nodes it depends on (unknown
 * nodes are ignored). Each cycle is returned once, as the node list starting and ending
 * at the same node, e.g. `["a", "b", "a"]`.
 */
export function findCycles(deps: ReadonlyMap<string, readonly string[]>): string[][] {
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const visit = (n: string) => {
    state.set(n, "visiting");
    stack.push(n);
    for (const d of deps.get(n) ?? []) {
      if (!deps.has(d)) continue;
      const s = state.get(d);
      if (s === "visiting") {
        const cycle = [...stack.slice(stack.indexOf(d)), d];
        const key = [...new Set(cycle)].sort().join("\u0000");
        if (!seen.has(key)) {
          seen.add(key);
          cycles.push(cycle);
        }
      } else if (s === undefined) visit(d);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of deps.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

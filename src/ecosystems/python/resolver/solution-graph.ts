/**
 * The solved graph, read back for the lock: why each package is there (`via`, one shortest chain per parent)
 * and which packages the deploy target needs (everything reachable from a requirement for `deploy`).
 */
import type { Dependency } from './pubgrub.js';
import { ROOT, splitId, type EdgeMeta } from './package-ids.js';

/** `via` chains by project name, and the package IDs in the deploy closure. */
export function explainSolution(
  decisions: ReadonlyMap<string, number>,
  edges: ReadonlyMap<string, Dependency[]>,
): { via: Map<string, Set<string>>; deploy: Set<string> } {
  // Graph of the solution: node → children (with the root's edges labelled by source file).
  const children = new Map<string, { id: string; meta: EdgeMeta }[]>();
  for (const [pkg, v] of decisions) {
    const deps = edges.get(`${pkg}@${v}`) ?? [];
    children.set(
      pkg,
      deps.filter((d) => decisions.has(d.pkg)).map((d) => ({ id: d.pkg, meta: d.meta as EdgeMeta })),
    );
  }
  // Shortest chain to every node, breadth first; ties broken by the chain text so the output is stable.
  const chain = new Map<string, string>();
  for (const edge of children.get(ROOT) ?? []) {
    const text = `${edge.meta.source ?? 'requirements'} > ${edge.id}`;
    if (!chain.has(edge.id) || text < chain.get(edge.id)!) chain.set(edge.id, text);
  }
  let frontier = [...chain.keys()];
  while (frontier.length > 0) {
    const next = new Map<string, string>();
    for (const node of frontier) {
      for (const edge of children.get(node) ?? []) {
        if (chain.has(edge.id)) continue;
        const text = `${chain.get(node)!} > ${edge.id}`;
        if (!next.has(edge.id) || text < next.get(edge.id)!) next.set(edge.id, text);
      }
    }
    for (const [id, text] of next) chain.set(id, text);
    frontier = [...next.keys()];
  }
  // Why each package is here: one chain per parent. `name[extra] → name` is how an extra brings its own
  // package, so that edge is shown as the chain to `name[extra]` itself.
  const via = new Map<string, Set<string>>();
  const addVia = (name: string, text: string) => {
    const set = via.get(name) ?? new Set<string>();
    set.add(text);
    via.set(name, set);
  };
  for (const [parent, edges] of children) {
    for (const edge of edges) {
      const { name, extra } = splitId(edge.id);
      if (extra !== undefined) continue;
      const parentSplit = splitId(parent);
      if (parent === ROOT) addVia(name, `${edge.meta.source ?? 'requirements'} > ${name}`);
      else if (parentSplit.extra !== undefined && parentSplit.name === name) addVia(name, chain.get(parent) ?? parent);
      else addVia(name, `${chain.get(parent) ?? parent} > ${name}`);
    }
  }
  // Deploy closure: everything reachable from a requirement for `deploy`.
  const deploy = new Set<string>();
  const stack = (children.get(ROOT) ?? []).filter((e) => e.meta.deploy).map((e) => e.id);
  while (stack.length > 0) {
    const id = stack.pop()!;
    if (deploy.has(id)) continue;
    deploy.add(id);
    for (const e of children.get(id) ?? []) stack.push(e.id);
  }

  return { via, deploy };
}

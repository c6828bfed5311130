/**
 * Stacks merged into a tree (root "all"): the shape both flame renderers draw.
 * Children are ordered by name, as FlameGraph does, so equal inputs draw equally.
 */
import type { FlameProfile, FrameKind } from './profile.js';

export interface FlameNode {
  name: string;
  kind: FrameKind | 'root';
  /** Samples in this frame and below. */
  value: number;
  /** Samples that ended here. */
  self: number;
  children: FlameNode[];
}

export function buildTree(p: FlameProfile): FlameNode {
  const root: FlameNode = { name: 'all', kind: 'root', value: 0, self: 0, children: [] };
  const index = new Map<FlameNode, Map<string, FlameNode>>();
  const childOf = (parent: FlameNode, name: string, kind: FrameKind): FlameNode => {
    let byName = index.get(parent);
    if (!byName) index.set(parent, (byName = new Map()));
    const key = `${kind}:${name}`;
    let node = byName.get(key);
    if (!node) {
      node = { name, kind, value: 0, self: 0, children: [] };
      byName.set(key, node);
      parent.children.push(node);
    }
    return node;
  };
  for (const s of p.stacks) {
    let node = root;
    root.value += s.count;
    for (const f of s.frames) {
      node = childOf(node, f.name, f.kind);
      node.value += s.count;
    }
    node.self += s.count;
  }
  const sort = (n: FlameNode): void => {
    n.children.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : a.kind < b.kind ? -1 : 1));
    n.children.forEach(sort);
  };
  sort(root);
  return root;
}

export function treeDepth(n: FlameNode): number {
  return 1 + n.children.reduce((d, c) => Math.max(d, treeDepth(c)), 0);
}

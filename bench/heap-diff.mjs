#!/usr/bin/env node
// What grew between two V8 heap snapshots (v8.writeHeapSnapshot; bench/run-memory.mjs --heap-snapshots
// writes them at given VM counts): per node type and constructor, the count, self size and retained
// size in each (retained as DevTools' summary gives it: what would be freed with the instances that
// no other instance of the same constructor dominates; dominators by Cooper, Harvey and Kennedy's
// iterative algorithm over the strong edges), the largest growth first; then, for the top growers,
// who holds the new instances: the chain of their dominators (by constructor and the edge followed)
// up to an object of a named class, with the self size held along each chain.
//
//   node --max-old-space-size=4096 bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top 25] [--owners 6]
import { readFileSync } from 'node:fs';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const [fileA, fileB] = process.argv.slice(2).filter((a) => !a.startsWith('--') && !/^\d+$/.test(a));
if (!fileA || !fileB) throw new Error('usage: node bench/heap-diff.mjs BEFORE.heapsnapshot AFTER.heapsnapshot [--top 25] [--owners 6]');
const TOP = arg('top', 25);
const OWNERS = arg('owners', 6);

/** Generic holders: a chain of these is followed up to something with a name of its own. */
const GENERIC = new Set(['Object', 'Array', 'Map', 'Set', '(object properties)', '(object elements)', 'system / Context', '(system)', 'system', 'Float64Array', 'Int32Array', 'Uint32Array', 'Uint8Array', 'ArrayBuffer', '(array)', 'hidden']);

function load(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'));
  const m = snap.snapshot.meta;
  const NF = m.node_fields.length;
  const EF = m.edge_fields.length;
  const nodeTypes = m.node_types[m.node_fields.indexOf('type')];
  const edgeTypes = m.edge_types[m.edge_fields.indexOf('type')];
  const [nType, nName, nSize, nEdges] = ['type', 'name', 'self_size', 'edge_count'].map((f) => m.node_fields.indexOf(f));
  const [eType, eName, eTo] = ['type', 'name_or_index', 'to_node'].map((f) => m.edge_fields.indexOf(f));
  const N = snap.nodes.length / NF;
  const firstEdge = new Int32Array(N + 1);
  for (let n = 0, e = 0; n < N; n++) {
    firstEdge[n] = e;
    e += snap.nodes[n * NF + nEdges];
    firstEdge[n + 1] = e;
  }
  const weak = edgeTypes.indexOf('weak');
  const shortcut = edgeTypes.indexOf('shortcut');
  const strong = (e) => {
    const t = snap.edges[e * EF + eType];
    return t !== weak && t !== shortcut;
  };
  const to = (e) => snap.edges[e * EF + eTo] / NF;
  const edgeName = (e) => {
    const t = edgeTypes[snap.edges[e * EF + eType]];
    const x = snap.edges[e * EF + eName];
    return t === 'element' || t === 'hidden' ? `[${x}]` : snap.strings[x];
  };
  const type = (n) => nodeTypes[snap.nodes[n * NF + nType]];
  const key = (n) => {
    const t = type(n);
    const name = t === 'object' || t === 'native' || t === 'closure' || t === 'hidden' ? snap.strings[snap.nodes[n * NF + nName]] : '';
    return `${t}${name ? ` ${name.slice(0, 60)}` : ''}`;
  };
  const self = (n) => snap.nodes[n * NF + nSize];

  // reverse postorder from the root (node 0) over strong edges
  const order = new Int32Array(N).fill(-1);
  const post = [];
  const stack = [0];
  const next = new Int32Array(N);
  const visited = new Uint8Array(N);
  visited[0] = 1;
  for (let n = 0; n < N; n++) next[n] = firstEdge[n];
  while (stack.length) {
    const n = stack[stack.length - 1];
    let pushed = false;
    while (next[n] < firstEdge[n + 1]) {
      const e = next[n]++;
      if (!strong(e)) continue;
      const c = to(e);
      if (visited[c]) continue;
      visited[c] = 1;
      stack.push(c);
      pushed = true;
      break;
    }
    if (!pushed) {
      stack.pop();
      post.push(n);
    }
  }
  for (let i = 0; i < post.length; i++) order[post[i]] = i; // postorder number
  // predecessors (strong edges between reachable nodes)
  const predCount = new Int32Array(N + 1);
  for (let n = 0; n < N; n++) if (visited[n]) for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) if (strong(e)) predCount[to(e) + 1]++;
  for (let n = 0; n < N; n++) predCount[n + 1] += predCount[n];
  const preds = new Int32Array(predCount[N]);
  const fill = predCount.slice();
  for (let n = 0; n < N; n++) if (visited[n]) for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) if (strong(e)) preds[fill[to(e)]++] = n;
  const idom = new Int32Array(N).fill(-1);
  idom[0] = 0;
  const intersect = (a, b) => {
    while (a !== b) {
      while (order[a] < order[b]) a = idom[a];
      while (order[b] < order[a]) b = idom[b];
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = post.length - 1; i >= 0; i--) {
      const n = post[i];
      if (n === 0) continue;
      let d = -1;
      for (let p = predCount[n]; p < predCount[n + 1]; p++) {
        const q = preds[p];
        if (idom[q] === -1) continue;
        d = d === -1 ? q : intersect(q, d);
      }
      if (d !== -1 && idom[n] !== d) {
        idom[n] = d;
        changed = true;
      }
    }
  }
  // retained sizes: children before their dominators (postorder)
  const retained = new Float64Array(N);
  for (const n of post) retained[n] += self(n);
  for (const n of post) if (n !== 0 && idom[n] >= 0) retained[idom[n]] += retained[n];
  // the edge by which a node's dominator (or its nearest holder) reaches it: its first strong retainer's edge
  const viaEdge = new Int32Array(N).fill(-1);
  for (let n = 0; n < N; n++) if (visited[n]) for (let e = firstEdge[n]; e < firstEdge[n + 1]; e++) if (strong(e) && viaEdge[to(e)] === -1) viaEdge[to(e)] = e;

  const groups = new Map();
  for (let n = 0; n < N; n++) {
    const k = key(n);
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { count: 0, self: 0, retained: 0 }));
    g.count++;
    g.self += self(n);
    if (!visited[n]) continue;
    // retained of the group: instances with no same-group instance above them
    let top = true;
    for (let d = idom[n], hops = 0; d > 0 && hops < 64; d = idom[d], hops++) {
      if (key(d) === k) {
        top = false;
        break;
      }
    }
    if (top) g.retained += retained[n];
  }
  /** Who holds n: its dominators' constructors and the edges up to a named class (or 6 steps). */
  const owner = (n) => {
    const parts = [];
    let c = n;
    for (let hops = 0; hops < 6; hops++) {
      const d = idom[c];
      if (d <= 0) break;
      const e = viaEdge[c];
      parts.push(`${key(d)}${e >= 0 ? `.${edgeName(e)}` : ''}`.replace(/^object /, ''));
      const name = key(d).replace(/^object /, '');
      if (type(d) === 'object' && !GENERIC.has(name)) break;
      c = d;
    }
    return parts.join(' <- ');
  };
  return { N, groups, key, self, owner, visited, total: post.reduce((a, n) => a + self(n), 0) };
}

const mib = (b) => (b / 2 ** 20).toFixed(2);
const kib = (b) => (b / 1024).toFixed(1);
const A = load(fileA);
const B = load(fileB);
process.stdout.write(`${fileA}: ${mib(A.total)} MiB reachable in ${A.N} nodes\n${fileB}: ${mib(B.total)} MiB reachable in ${B.N} nodes\n\n`);
const rows = [...new Set([...A.groups.keys(), ...B.groups.keys()])].map((k) => {
  const a = A.groups.get(k) ?? { count: 0, self: 0, retained: 0 };
  const b = B.groups.get(k) ?? { count: 0, self: 0, retained: 0 };
  return { k, a, b, dSelf: b.self - a.self, dCount: b.count - a.count };
});
rows.sort((x, y) => y.dSelf - x.dSelf);
process.stdout.write(`${'self KiB (before -> after)'.padEnd(30)}${'+self KiB'.padStart(10)}${'count before -> after'.padStart(24)}${'retained KiB before -> after'.padStart(32)}  type constructor\n`);
for (const r of rows.slice(0, TOP)) process.stdout.write(`${`${kib(r.a.self)} -> ${kib(r.b.self)}`.padEnd(30)}${kib(r.dSelf).padStart(10)}${`${r.a.count} -> ${r.b.count}`.padStart(24)}${`${kib(r.a.retained)} -> ${kib(r.b.retained)}`.padStart(32)}  ${r.k}\n`);

// the named classes whose retained size grew most (the model, the collector's parts, the writer...)
process.stdout.write(`\nnamed classes by growth of retained size:\n`);
const named = rows.filter((r) => r.k.startsWith('object ') && !GENERIC.has(r.k.slice(7))).map((r) => ({ ...r, dRetained: r.b.retained - r.a.retained }));
named.sort((x, y) => y.dRetained - x.dRetained);
for (const r of named.slice(0, Math.ceil(TOP / 2))) process.stdout.write(`${`${kib(r.a.retained)} -> ${kib(r.b.retained)}`.padEnd(30)}${kib(r.dRetained).padStart(10)} KiB retained  ${`${r.a.count} -> ${r.b.count}`.padStart(16)}  ${r.k}\n`);

// who holds the growers, in the later snapshot
process.stdout.write(`\nholders of the ${OWNERS} largest growers in ${fileB} (self KiB held by each dominator chain):\n`);
const top = new Set(rows.slice(0, OWNERS).filter((r) => r.dSelf > 0).map((r) => r.k));
const by = new Map();
for (let n = 0; n < B.N; n++) {
  if (!B.visited[n]) continue;
  const k = B.key(n);
  if (!top.has(k)) continue;
  const o = `${k}  <-  ${B.owner(n)}`;
  const e = by.get(o) ?? { size: 0, count: 0 };
  e.size += B.self(n);
  e.count++;
  by.set(o, e);
}
for (const [o, e] of [...by].sort((x, y) => y[1].size - x[1].size).slice(0, 3 * OWNERS)) process.stdout.write(`${kib(e.size).padStart(10)} KiB ${String(e.count).padStart(8)}  ${o}\n`);
